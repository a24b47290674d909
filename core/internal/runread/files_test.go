package runread

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"

	"github.com/halfpipe-io/halfpipe/core/internal/format"
	"github.com/halfpipe-io/halfpipe/core/internal/store"
	"github.com/halfpipe-io/halfpipe/sdk"
)

func writeFiles(t *testing.T, files map[string][]byte) (store.Store, string) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	st, err := store.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return st, dir
}

func gz(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, _ = w.Write([]byte(s))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func zst(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w, _ := zstd.NewWriter(&b)
	_, _ = w.Write([]byte(s))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func sz(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := s2.NewWriter(&b, s2.WriterSnappyCompat())
	_, _ = w.Write([]byte(s))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// readRows reads every batch of r, rendering each row as text.
func readRows(t *testing.T, r array.RecordReader) ([]string, error) {
	t.Helper()
	defer r.Release()
	var rows []string
	for r.Next() {
		rec := r.RecordBatch()
		for i := 0; i < int(rec.NumRows()); i++ {
			var vals []string
			for _, c := range rec.Columns() {
				vals = append(vals, c.ValueStr(i))
			}
			rows = append(rows, strings.Join(vals, "|"))
		}
	}
	return rows, r.Err()
}

func TestFileFormat(t *testing.T) {
	for name, want := range map[string]string{
		"a.csv": "csv none", "in/A.CSV.GZ": "csv gzip", "x.tsv.zst": "tsv zstd", "x.jsonl.sz": "jsonl snappy", "x.ndjson": "jsonl none",
		"x.parquet": "parquet none", "x.tab.zstd": "tsv zstd", "x.txt.gzip": "csv gzip",
	} {
		f, c, err := FileFormat(name, "")
		if got := string(f) + " " + string(c); err != nil || got != want {
			t.Errorf("%s: %s (%v), want %s", name, got, err, want)
		}
	}
	if f, c, err := FileFormat("data.gz", format.JSONL); err != nil || f != format.JSONL || c != format.Gzip {
		t.Errorf("given format: %s %s %v", f, c, err)
	}
	for _, name := range []string{"data.bin", "data.parquet.gz", "noext", "_manifest.json"} {
		if _, _, err := FileFormat(name, ""); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestFilesReaderCSV: files in name order across compressions, header
// names, NULL and empty string, a byte order mark; a schema types them.
func TestFilesReaderCSV(t *testing.T) {
	st, _ := writeFiles(t, map[string][]byte{
		"in/b.csv.gz":  gz(t, "id,name\n3,\"c\"\n4,\n"),
		"in/a.csv":     []byte("\xef\xbb\xbfid,name\r\n1,\"\"\r\n2,x\r\n"),
		"in/c.csv.zst": zst(t, "id,name\n5,\"e,f\"\n"),
		"in/skip.txt":  []byte("not matched"),
		"other/d.csv":  []byte("id,name\n9,z\n"),
	})
	ctx := context.Background()
	files, err := Match(ctx, st, "", "in/*.csv*")
	if err != nil {
		t.Fatal(err)
	}
	r, err := OpenFiles(ctx, st, files, FilesOptions{CSV: format.CSVReadOptions{Header: true}})
	if err != nil {
		t.Fatal(err)
	}
	if s := r.Schema(); s.NumFields() != 2 || s.Field(0).Name != "id" || s.Field(1).Type.ID() != arrow.STRING {
		t.Fatalf("schema %s", s)
	}
	rows, err := readRows(t, r)
	if want := `1||2|x|3|c|4|(null)|5|e,f`; err != nil || strings.Join(rows, "|") != want {
		t.Fatalf("rows %q (%v), want %s", rows, err, want)
	}

	typed, err := format.ParseSchema("id:int64,name:utf8")
	if err != nil {
		t.Fatal(err)
	}
	r, err = OpenFiles(ctx, st, files, FilesOptions{CSV: format.CSVReadOptions{Header: true}, Schema: typed})
	if err != nil {
		t.Fatal(err)
	}
	if rows, err := readRows(t, r); err != nil || len(rows) != 5 || r.Schema().Field(0).Type.ID() != arrow.INT64 {
		t.Fatalf("typed: %q %v", rows, err)
	}

	// TSV (a tab, quotes as in CSV) and Snappy framing.
	st2, _ := writeFiles(t, map[string][]byte{
		"a.tsv.sz": sz(t, "id\tname\n1\t\"x\ty\"\n2\t\\N\n"),
		"b.tsv":    []byte("id\tname\n3\tz\n"),
	})
	files2, err := Match(ctx, st2, "", "*.tsv*")
	if err != nil {
		t.Fatal(err)
	}
	r, err = OpenFiles(ctx, st2, files2, FilesOptions{CSV: format.CSVReadOptions{Header: true, Null: `\N`}})
	if err != nil {
		t.Fatal(err)
	}
	if rows, err := readRows(t, r); err != nil || strings.Join(rows, "|") != "1|x\ty|2|(null)|3|z" {
		t.Fatalf("tsv: %q %v", rows, err)
	}

	// A prefix: the glob is matched below it.
	files, err = Match(ctx, st, "other", "*.csv")
	if err != nil || len(files) != 1 || files[0].Key != "other/d.csv" {
		t.Fatalf("under a prefix: %v %v", files, err)
	}
}

// TestFilesReaderErrors: every error names the file, and the line and
// column where there is one.
func TestFilesReaderErrors(t *testing.T) {
	st, _ := writeFiles(t, map[string][]byte{
		"ok.csv":       []byte("id,amount\n1,1.50\n"),
		"bad.csv.gz":   gz(t, "id,amount\n1,2.00\n2,abc\n"),
		"ragged.csv":   []byte("id,amount\n1,2\n3\n"),
		"other.csv":    []byte("id,total\n1,2\n"),
		"rows.jsonl":   []byte(`{"id":1,"amount":"1.5"}` + "\n" + `{"id":"x"}` + "\n"),
		"noheader.tsv": []byte("1\t2\n"),
		"trunc.csv.gz": gz(t, "id,amount\n1,2\n")[:20],
	})
	ctx := context.Background()
	typed, err := format.ParseSchema("id:int64,amount:decimal(10,2)")
	if err != nil {
		t.Fatal(err)
	}
	read := func(glob string, o FilesOptions) error {
		t.Helper()
		files, err := Match(ctx, st, "", glob)
		if err != nil {
			return err
		}
		r, err := OpenFiles(ctx, st, files, o)
		if err != nil {
			return err
		}
		_, err = readRows(t, r)
		return err
	}
	hdr := format.CSVReadOptions{Header: true}
	url := func(name string) string { return "file " + st.URL(name) }
	for _, tc := range []struct {
		glob string
		o    FilesOptions
		want string
	}{
		{"bad.csv.gz", FilesOptions{CSV: hdr, Schema: typed}, url("bad.csv.gz") + `: line 3, column "amount": `},
		{"ragged.csv", FilesOptions{CSV: hdr}, url("ragged.csv") + ": line 3: 1 fields, the schema has 2 columns"},
		{"[or]*.csv", FilesOptions{CSV: hdr}, url("other.csv") + `: line 1: header field 2 is "total", the schema's column is "amount"`},
		{"rows.jsonl", FilesOptions{Schema: typed}, url("rows.jsonl") + `: line 2: column "id": `},
		{"rows.jsonl", FilesOptions{}, url("rows.jsonl") + `: line 2: "id" holds a utf8 after a int64; give --schema`},
		{"noheader.tsv", FilesOptions{}, url("noheader.tsv") + ": CSV files without a header"},
		{"trunc.csv.gz", FilesOptions{CSV: hdr}, url("trunc.csv.gz") + ": "},
		{"none*.csv", FilesOptions{CSV: hdr}, "no file under " + st.URL("") + ` matches "none*.csv"`},
	} {
		err := read(tc.glob, tc.o)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q...", tc.glob, err, tc.want)
		}
	}
	if err := read("none*.csv", FilesOptions{}); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("no match: %v is not a not-found error", err)
	}
}

// TestFilesReaderParquet: Parquet files with their own schema, in name
// order; a schema given converts them; a file of other columns fails
// naming it.
func TestFilesReaderParquet(t *testing.T) {
	pq := func(from, n int) []byte {
		t.Helper()
		rec := batch(t, from, n)
		defer rec.Release()
		var b bytes.Buffer
		enc, err := format.NewEncoder(&b, schema, format.WithFormat(format.Parquet), format.WithCompression(format.Zstd))
		if err == nil {
			err = enc.Write(rec)
		}
		if err == nil {
			err = enc.Close()
		}
		if err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	st, _ := writeFiles(t, map[string][]byte{"p/2.parquet": pq(3, 2), "p/1.parquet": pq(1, 2), "q/x.parquet": []byte("PAR1 not really")})
	ctx := context.Background()
	files, err := Match(ctx, st, "p", "*.parquet")
	if err != nil {
		t.Fatal(err)
	}
	r, err := OpenFiles(ctx, st, files, FilesOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Schema().Equal(schema) {
		t.Fatalf("schema %s", r.Schema())
	}
	rows, err := readRows(t, r)
	if err != nil || len(rows) != 4 || !strings.HasPrefix(rows[0], "1|") || !strings.HasPrefix(rows[3], "4|") {
		t.Fatalf("rows %q %v", rows, err)
	}
	text, err := format.ParseSchema("id:utf8,name:utf8,amount:utf8,at:utf8")
	if err != nil {
		t.Fatal(err)
	}
	r, err = OpenFiles(ctx, st, files, FilesOptions{Schema: text})
	if err != nil {
		t.Fatal(err)
	}
	if rows, err := readRows(t, r); err != nil || len(rows) != 4 || r.Schema().Field(2).Type.ID() != arrow.STRING || !strings.Contains(rows[0], "|-48.99|") {
		t.Fatalf("as text: %q %v", rows, err)
	}
	files, err = Match(ctx, st, "q", "*")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenFiles(ctx, st, files, FilesOptions{}); err == nil || !strings.HasPrefix(err.Error(), "file "+st.URL("q/x.parquet")+": parquet: ") {
		t.Fatalf("not Parquet: %v", err)
	}
}
