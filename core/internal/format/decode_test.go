package format

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal256"
	"github.com/apache/arrow-go/v18/arrow/extensions"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// moreTypes is a batch of the types testSchema lacks, NULLs in every
// column of row 2.
func moreTypes(t *testing.T) arrow.RecordBatch {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "i8", Type: arrow.PrimitiveTypes.Int8, Nullable: true},
		{Name: "i16", Type: arrow.PrimitiveTypes.Int16, Nullable: true},
		{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "f32", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
		{Name: "tm", Type: arrow.FixedWidthTypes.Time64us, Nullable: true},
		{Name: "tmns", Type: arrow.FixedWidthTypes.Time64ns, Nullable: true},
		{Name: "iv", Type: arrow.FixedWidthTypes.MonthDayNanoInterval, Nullable: true},
		{Name: "ivs", Type: arrow.ListOf(arrow.FixedWidthTypes.MonthDayNanoInterval), Nullable: true},
		{Name: "dur", Type: &arrow.DurationType{Unit: arrow.Microsecond}, Nullable: true},
		{Name: "d256", Type: &arrow.Decimal256Type{Precision: 60, Scale: 20}, Nullable: true},
		{Name: "u", Type: extensions.NewUUIDType(), Nullable: true},
		{Name: "tsns", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "old", Type: &arrow.TimestampType{Unit: arrow.Second}, Nullable: true},
		{Name: "strs", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
		{Name: "st", Type: arrow.StructOf(arrow.Field{Name: "a", Type: arrow.PrimitiveTypes.Int32, Nullable: true}, arrow.Field{Name: "b", Type: arrow.FixedWidthTypes.Date32, Nullable: true}), Nullable: true},
	}, nil)
	rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, schema, strings.NewReader(`[
		{"i8": -128, "i16": 32767, "i32": -2147483648, "f32": 1.5, "tm": 86399999999, "tmns": 1, "iv": {"months": 14, "days": -3, "nanoseconds": -1500},
		 "ivs": [{"months": 1, "days": 2, "nanoseconds": 3}, null], "dur": -1500001, "d256": "-12345678901234567890123456789012345678.12345678901234567890",
		 "u": "0102030405060708090a0b0c0d0e0f10", "tsns": "1677-09-21T00:12:43.145224192Z", "old": -63587476800,
		 "strs": ["a,b", "", null, "q\"uote\n"], "st": {"a": 1, "b": 19000}},
		{"i8": 127, "i16": -32768, "i32": 0, "f32": -0.0, "tm": 0, "tmns": 86399999999999, "iv": {"months": 0, "days": 0, "nanoseconds": 0},
		 "ivs": [], "dur": 0, "d256": "0", "u": "ffffffffffffffffffffffffffffffff", "tsns": "2262-04-11T23:47:16.854775807Z",
		 "old": 253402300799, "strs": [""], "st": {"a": null, "b": null}},
		{}
	]`))
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// textOf is the CSV text of rec: the exact form of every value.
func textOf(t *testing.T, rec arrow.RecordBatch) string {
	t.Helper()
	return string(encode(t, rec, WithFormat(CSV), WithCompression(None)))
}

func decodeAll(t *testing.T, d Decoder) arrow.RecordBatch {
	t.Helper()
	defer d.Release()
	var recs []arrow.RecordBatch
	for {
		rec, err := d.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	if len(recs) != 1 {
		t.Fatalf("%d batches, want 1", len(recs))
	}
	return recs[0]
}

func TestDecodeReadsBackWhatTheEncoderWrote(t *testing.T) {
	for _, rec := range []arrow.RecordBatch{buildRecord(testRows(200)), moreTypes(t)} {
		want := textOf(t, rec)
		for _, tc := range []struct {
			name string
			opts []Option
			ro   CSVReadOptions
		}{
			{"csv gzip", []Option{WithFormat(CSV), WithCompression(Gzip)}, CSVReadOptions{Header: true}},
			{"csv zstd no header ;", []Option{WithFormat(CSV), WithCompression(Zstd), WithCSVHeader(false), WithCSVDelimiter(';')}, CSVReadOptions{Delimiter: ';'}},
			{"csv snappy NULL tab", []Option{WithFormat(CSV), WithCompression(Snappy), WithCSVNull("NULL"), WithCSVDelimiter('\t')}, CSVReadOptions{Header: true, Null: "NULL", Delimiter: '\t'}},
			{"csv none multibyte", []Option{WithFormat(CSV), WithCompression(None), WithCSVDelimiter('¦')}, CSVReadOptions{Header: true, Delimiter: '¦'}},
			{"jsonl gzip", []Option{WithFormat(JSONL), WithCompression(Gzip)}, CSVReadOptions{}},
			{"jsonl none", []Option{WithFormat(JSONL), WithCompression(None)}, CSVReadOptions{}},
			{"parquet zstd", []Option{WithFormat(Parquet), WithCompression(Zstd)}, CSVReadOptions{}},
			{"parquet snappy", []Option{WithFormat(Parquet), WithCompression(Snappy)}, CSVReadOptions{}},
			{"parquet gzip", []Option{WithFormat(Parquet), WithCompression(Gzip)}, CSVReadOptions{}},
			{"parquet none", []Option{WithFormat(Parquet), WithCompression(None)}, CSVReadOptions{}},
		} {
			t.Run(fmt.Sprintf("%d cols %s", rec.NumCols(), tc.name), func(t *testing.T) {
				data := encode(t, rec, tc.opts...)
				var d Decoder
				var err error
				if strings.HasPrefix(tc.name, "parquet") {
					d, err = NewParquetDecoder(context.Background(), bytes.NewReader(data), rec.Schema())
				} else {
					comp := Compression(strings.Fields(tc.name)[1])
					var r io.ReadCloser
					switch r, err = NewDecompressor(bytes.NewReader(data), comp); {
					case err != nil:
					case strings.HasPrefix(tc.name, "jsonl"):
						d, err = NewJSONLDecoder(r, rec.Schema())
					default:
						d, err = NewCSVDecoder(r, rec.Schema(), tc.ro)
					}
				}
				if err != nil {
					t.Fatal(err)
				}
				got := decodeAll(t, d)
				defer got.Release()
				if !got.Schema().Equal(rec.Schema()) {
					t.Fatalf("schema\n%s\nwant\n%s", got.Schema(), rec.Schema())
				}
				if text := textOf(t, got); text != want {
					t.Fatalf("values differ:\n%s\nwant\n%s", text, want)
				}
			})
		}
	}
}

func TestParseRefusesInexactText(t *testing.T) {
	for _, tc := range []struct {
		typ  arrow.DataType
		text string
	}{
		{&arrow.Decimal128Type{Precision: 5, Scale: 2}, "1.234"},
		{&arrow.Decimal128Type{Precision: 5, Scale: 2}, "1234.5"},
		{arrow.PrimitiveTypes.Int8, "128"},
		{arrow.FixedWidthTypes.Time64us, "12:00:00.1234567"},
		{&arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, "2024-01-01T00:00:00"},
		{&arrow.TimestampType{Unit: arrow.Microsecond}, "2024-01-01T00:00:00Z"},
		{arrow.FixedWidthTypes.Date32, "2024-13-01"},
		{arrow.FixedWidthTypes.Boolean, "yes"},
		{arrow.BinaryTypes.Binary, "not base64!"},
		{arrow.FixedWidthTypes.MonthDayNanoInterval, "1 day"},
	} {
		c, err := newColumn(memory.DefaultAllocator, tc.typ)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.put([]byte(tc.text)); err == nil {
			t.Errorf("%s %q accepted", tc.typ, tc.text)
		}
		c.release()
	}
}

func TestDaysFromCivilInvertsCivil(t *testing.T) {
	for _, days := range []int64{-1e6, -719468, -719469, -1, 0, 1, 59, 60, 10957, 2932896, 1e7} {
		y, m, d := civil(days)
		if got := daysFromCivil(y, m, d); got != days {
			t.Errorf("%d → %d-%d-%d → %d", days, y, m, d, got)
		}
	}
	b := appendDecimal256(nil, decimal256.FromI64(math.MinInt64), 0)
	if v, err := parseDecimal(b, 76, 0); err != nil || v.Int64() != math.MinInt64 {
		t.Errorf("%s → %v %v", b, v, err)
	}
}
