package format

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/parquet/file"
)

// TestOptionOfAnotherFormatIsRefused gives each format every option of
// the other formats: NewEncoder fails naming the option and both formats,
// and writes nothing.
func TestOptionOfAnotherFormatIsRefused(t *testing.T) {
	rec := buildRecord(testRows(3))
	defer rec.Release()
	csvOpts := []CSVOption{WithCSVHeader(false), WithCSVDelimiter(';'), WithCSVNull(`\N`)}
	parquetOpts := []ParquetOption{WithParquetRowGroupRows(10), WithParquetRowGroupBytes(1 << 20)}
	type wrong struct {
		opt   Option
		name  string
		owner Format
	}
	var fromCSV, fromParquet []wrong
	for _, o := range csvOpts {
		fromCSV = append(fromCSV, wrong{o, o.String(), CSV})
	}
	for _, o := range parquetOpts {
		fromParquet = append(fromParquet, wrong{o, o.String(), Parquet})
	}
	for f, bad := range map[Format][]wrong{
		CSV:     fromParquet,
		Parquet: fromCSV,
		JSONL:   append(append([]wrong{}, fromCSV...), fromParquet...),
	} {
		if len(bad) == 0 {
			t.Fatalf("%s: no options to try", f)
		}
		for _, b := range bad {
			// Before and after WithFormat: the check waits for the format.
			for _, opts := range [][]Option{{WithFormat(f), b.opt}, {b.opt, WithFormat(f)}} {
				var buf bytes.Buffer
				enc, err := NewEncoder(&buf, rec.Schema(), opts...)
				if err == nil {
					enc.Close()
					t.Fatalf("format %s took %s", f, b.name)
				}
				if !errors.Is(err, ErrWrongFormat) {
					t.Errorf("format %s, %s: %v does not wrap ErrWrongFormat", f, b.name, err)
				}
				want := b.name + " (a " + string(b.owner) + " option) given with format " + string(f)
				if !strings.Contains(err.Error(), want) {
					t.Errorf("format %s: error %q does not say %q", f, err, want)
				}
				if buf.Len() != 0 {
					t.Errorf("format %s, %s: %d bytes written", f, b.name, buf.Len())
				}
			}
		}
	}
}

// TestOptionsOfTheFormatAreTaken checks each format takes its own options
// and the common ones, and that they take effect.
func TestOptionsOfTheFormatAreTaken(t *testing.T) {
	rec := buildRecord(testRows(3))
	defer rec.Release()
	common := []Option{WithCompression(None), WithCompressionLevel(0), WithConcurrency(2)}
	got := string(encode(t, rec, append(common, WithFormat(CSV), WithCSVHeader(false), WithCSVDelimiter(';'), WithCSVNull("NULL"))...))
	if strings.HasPrefix(got, "id") || !strings.Contains(strings.SplitN(got, "\n", 2)[0], ";") {
		t.Errorf("CSV options not applied:\n%s", got)
	}
	if got := string(encode(t, rec, append(common, WithFormat(JSONL))...)); !strings.HasPrefix(got, `{"id":`) {
		t.Errorf("not JSON Lines:\n%s", got)
	}
	data := encode(t, rec, append(common, WithFormat(Parquet), WithParquetRowGroupRows(1), WithParquetRowGroupBytes(1<<20))...)
	pf, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if n := pf.NumRowGroups(); n != 3 {
		t.Errorf("row groups = %d, want 3 (one row each)", n)
	}
}
