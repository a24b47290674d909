package format

import (
	"bytes"

	"github.com/apache/arrow-go/v18/parquet/file"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/extensions"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func TestTimestampWithOffsetText(t *testing.T) {
	for _, c := range []struct {
		unit arrow.TimeUnit
		t    time.Time
		want string
	}{
		{arrow.Microsecond, time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.FixedZone("", -(9*3600+30*60))), "2024-01-02T03:04:05.123456-09:30"},
		{arrow.Nanosecond, time.Date(2024, 12, 31, 23, 59, 59, 999999900, time.FixedZone("", 14*3600)), "2024-12-31T23:59:59.999999900+14:00"},
		{arrow.Microsecond, time.Date(1, 1, 1, 0, 0, 0, 0, time.FixedZone("", 5*3600+45*60)), "0001-01-01T00:00:00.000000+05:45"},
		{arrow.Microsecond, time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.FixedZone("", -12*3600)), "9999-12-31T23:59:59.999999-12:00"},
		{arrow.Second, time.Date(1969, 12, 31, 23, 0, 0, 0, time.UTC), "1969-12-31T23:00:00+00:00"},
	} {
		typ := extensions.NewTimestampWithOffsetType(c.unit)
		bld := typ.NewBuilder(memory.DefaultAllocator)
		bld.(*extensions.TimestampWithOffsetBuilder).Append(c.t)
		a := bld.NewArray()
		fn, ok := offsetRenderer(a.(array.ExtensionArray))
		if !ok {
			t.Fatalf("%s: not recognised", typ)
		}
		if got := string(fn(nil, 0)); got != c.want {
			t.Errorf("%v (%s): got %s, want %s", c.t, c.unit, got, c.want)
		}
		a.Release()
		bld.Release()
	}
}

// TestTimestampWithOffsetFiles: the extension type reaches every format:
// CSV prints the local time with its offset, Parquet keeps both fields.
func TestTimestampWithOffsetFiles(t *testing.T) {
	typ := extensions.NewTimestampWithOffsetType(arrow.Microsecond)
	schema := arrow.NewSchema([]arrow.Field{{Name: "at", Type: typ, Nullable: true}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	tb := b.Field(0).(*extensions.TimestampWithOffsetBuilder)
	tb.Append(time.Date(2024, 3, 31, 1, 30, 0, 250000000, time.FixedZone("", -570*60)))
	tb.AppendNull()
	rec := b.NewRecordBatch()
	defer rec.Release()

	if got, want := string(encode(t, rec, WithFormat(CSV), WithCompression(None))), "at\n2024-03-31T01:30:00.250000-09:30\n\n"; got != want {
		t.Errorf("CSV: %q, want %q", got, want)
	}
	pf, err := file.NewParquetReader(bytes.NewReader(encode(t, rec, WithFormat(Parquet))))
	if err != nil {
		t.Fatal(err)
	}
	tbl := readTable(t, pf)
	col := tbl.Column(0).Data().Chunk(0)
	var st *array.Struct
	switch x := col.(type) {
	case array.ExtensionArray:
		st, _ = x.Storage().(*array.Struct)
	case *array.Struct:
		st = x
	}
	if st == nil || st.Len() != 2 || !st.IsNull(1) {
		t.Fatalf("Parquet read back %s: %v", col.DataType(), col)
	}
	utc := st.Field(0).(*array.Timestamp).Value(0).ToTime(arrow.Microsecond)
	if off := st.Field(1).(*array.Int16).Value(0); off != -570 || !utc.Equal(time.Date(2024, 3, 31, 11, 0, 0, 250000000, time.UTC)) {
		t.Errorf("Parquet read back %v %d", utc, off)
	}
}
