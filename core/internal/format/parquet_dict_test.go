package format

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	pq "github.com/parquet-go/parquet-go"
)

// Each column gets the dictionary its first batch calls for: the writer's
// for repeating numbers, ours for strings of few values, none for values
// that seldom repeat. The file reads back as the types written, through
// arrow-go and parquet-go, and the statistics of a string column encoded
// here are exact for each row group, also when a value first appears in
// the middle of one (the writer then stores the rest of it plainly).
func TestParquetDictionaryChoice(t *testing.T) {
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "flag", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "mode", Type: arrow.BinaryTypes.LargeString},
		{Name: "comment", Type: arrow.BinaryTypes.String},
		{Name: "qty", Type: arrow.PrimitiveTypes.Int32},
		{Name: "key", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	const rows, batch, group = 16000, 2000, 5000
	flag := func(i int) *string {
		switch {
		case i%7 == 3:
			return nil
		case i >= 7000 && i < 7003: // new in row group 1, in its second batch
			return ptr("Z")
		}
		return ptr([]string{"A", "N", "R"}[i%3])
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer b.Release()
	for i := 0; i < rows; i++ {
		if f := flag(i); f != nil {
			b.Field(0).(*array.StringBuilder).Append(*f)
		} else {
			b.Field(0).AppendNull()
		}
		b.Field(1).(*array.LargeStringBuilder).Append(fmt.Sprintf("mode %d", i%5))
		b.Field(2).(*array.StringBuilder).Append(fmt.Sprintf("comment %d", i*7919%rows))
		b.Field(3).(*array.Int32Builder).Append(int32(i % 50))
		b.Field(4).(*array.Int64Builder).Append(int64(i))
	}
	rec := b.NewRecordBatch()
	defer rec.Release()

	var buf bytes.Buffer
	enc, err := NewEncoder(&buf, sch, WithFormat(Parquet), WithParquetRowGroupRows(group))
	if err != nil {
		t.Fatal(err)
	}
	for off := int64(0); off < rows; off += batch {
		part := rec.NewSlice(off, off+batch)
		if err := enc.Write(part); err != nil {
			t.Fatal(err)
		}
		part.Release()
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()

	pf, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if n := pf.NumRowGroups(); n != (rows+group-1)/group {
		t.Fatalf("row groups = %d, want %d", n, (rows+group-1)/group)
	}
	wantDict := map[string]bool{"flag": true, "mode": true, "comment": false, "qty": true, "key": false}
	for g := 0; g < pf.NumRowGroups(); g++ {
		rg := pf.MetaData().RowGroup(g)
		for c, f := range sch.Fields() {
			cc, err := rg.ColumnChunk(c)
			if err != nil {
				t.Fatal(err)
			}
			if (g != 1 || f.Name != "flag") && cc.HasDictionaryPage() != wantDict[f.Name] {
				t.Errorf("row group %d, %s: dictionary page %v, want %v", g, f.Name, cc.HasDictionaryPage(), wantDict[f.Name])
			}
		}
		// flag's min and max are those of the row group's own values.
		cc, _ := rg.ColumnChunk(0)
		st, err := cc.Statistics()
		if err != nil || st == nil || !st.HasMinMax() {
			t.Fatalf("row group %d: no statistics on flag: %v", g, err)
		}
		bs := st.(*metadata.ByteArrayStatistics)
		lo, hi, nulls := "", "", int64(0)
		for i := g * group; i < min(rows, (g+1)*group); i++ {
			f := flag(i)
			if f == nil {
				nulls++
				continue
			}
			if lo == "" || *f < lo {
				lo = *f
			}
			hi = max(hi, *f)
		}
		if string(bs.Min()) != lo || string(bs.Max()) != hi || bs.NullCount() != nulls {
			t.Errorf("row group %d: flag statistics min %q max %q nulls %d, want %q %q %d", g, bs.Min(), bs.Max(), bs.NullCount(), lo, hi, nulls)
		}
	}

	tbl := readTable(t, pf)
	for c, f := range sch.Fields() {
		col := tbl.Column(c).Data()
		if !arrow.TypeEqual(col.DataType(), f.Type) {
			t.Errorf("%s: arrow-go reads back %s, want %s", f.Name, col.DataType(), f.Type)
			continue
		}
		got, err := array.Concatenate(col.Chunks(), memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		if !array.Equal(got, rec.Column(c)) {
			t.Errorf("%s: arrow-go reads back other values", f.Name)
		}
		got.Release()
	}

	pf2, err := pq.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]pq.Row, rows)
	r := pq.NewReader(pf2)
	n := 0
	for n < rows {
		k, err := r.ReadRows(out[n:])
		n += k
		if err != nil || k == 0 {
			break
		}
	}
	if n != rows {
		t.Fatalf("parquet-go read %d rows, want %d", n, rows)
	}
	for i, row := range out {
		f := flag(i)
		if v := row[0]; (f == nil) != v.IsNull() || (f != nil && string(v.ByteArray()) != *f) {
			t.Fatalf("row %d: parquet-go reads flag %v, want %s", i, v, deref(f))
		}
		if v := row[1]; string(v.ByteArray()) != fmt.Sprintf("mode %d", i%5) {
			t.Fatalf("row %d: parquet-go reads mode %v", i, v)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return "NULL"
	}
	return *s
}

// The writer cuts no pages in a column given its dictionary, so row groups
// with such columns are cut at ownDictGroupRows, bounding the indices held.
func TestParquetOwnDictionaryBoundsRowGroups(t *testing.T) {
	sch := arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String}}, nil)
	b := array.NewStringBuilder(memory.DefaultAllocator)
	defer b.Release()
	const rows = ownDictGroupRows + 1000
	for i := 0; i < rows; i++ {
		b.Append([]string{"a", "b"}[i%2])
	}
	col := b.NewArray()
	defer col.Release()
	rec := array.NewRecordBatch(sch, []arrow.Array{col}, rows)
	defer rec.Release()
	pf, err := file.NewParquetReader(bytes.NewReader(encode(t, rec, WithFormat(Parquet))))
	if err != nil {
		t.Fatal(err)
	}
	if n := pf.NumRowGroups(); n != 2 || pf.MetaData().RowGroup(0).NumRows() != ownDictGroupRows {
		t.Fatalf("%d row groups, the first of %d rows; want 2, the first of %d", n, pf.MetaData().RowGroup(0).NumRows(), ownDictGroupRows)
	}
	if cc, _ := pf.MetaData().RowGroup(0).ColumnChunk(0); !cc.HasDictionaryPage() {
		t.Error("s: no dictionary")
	}
}

// TestStringDictManyValues: a first batch may hold far more distinct values
// than the sample that chose the dictionary; the table grows for them (its
// size stays a power of two), and every index names its value, also for
// a batch sliced at an offset.
func TestStringDictManyValues(t *testing.T) {
	b := array.NewStringBuilder(memory.DefaultAllocator)
	defer b.Release()
	const n = 20000
	for i := range n {
		if i%11 == 0 {
			b.AppendNull()
		} else {
			b.Append(fmt.Sprintf("value %d", i%4099))
		}
	}
	full := b.NewArray()
	defer full.Release()
	for _, off := range []int{0, 37} {
		a := array.NewSlice(full, int64(off), n)
		d := newStringDict(arrow.BinaryTypes.String)
		enc := d.encode(a).(*array.Dictionary)
		dict, idx := enc.Dictionary().(*array.String), enc.Indices().(*array.Int32)
		want := a.(*array.String)
		for i := range want.Len() {
			if want.IsNull(i) != enc.IsNull(i) || !want.IsNull(i) && dict.Value(int(idx.Value(i))) != want.Value(i) {
				t.Fatalf("offset %d, row %d: %q encoded as index %d", off, i, want.Value(i), idx.Value(i))
			}
		}
		if len(d.slots)&(len(d.slots)-1) != 0 || 2*len(d.values) > len(d.slots) {
			t.Errorf("%d values in a table of %d slots", len(d.values), len(d.slots))
		}
		enc.Release()
		a.Release()
		d.release()
	}
}

// A string column whose first batch holds a value of longValue bytes or
// more gets no dictionary and no statistics (the writer would copy the
// value into both); a column of short strings beside it keeps them. The
// long values read back whole.
func TestParquetLongValuesSkipDictionaryAndStatistics(t *testing.T) {
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "body", Type: arrow.BinaryTypes.String},
		{Name: "tag", Type: arrow.BinaryTypes.String},
	}, nil)
	long := strings.Repeat("x", longValue)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer b.Release()
	for i := range 3 {
		body := "short"
		if i == 1 {
			body = long
		}
		b.Field(0).(*array.StringBuilder).Append(body)
		b.Field(1).(*array.StringBuilder).Append("t")
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	var buf bytes.Buffer
	enc, err := NewEncoder(&buf, sch, WithFormat(Parquet))
	if err != nil {
		t.Fatal(err)
	}
	if err := enc.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	pf, err := file.NewParquetReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	for c, want := range []bool{false, true} {
		cc, err := pf.MetaData().RowGroup(0).ColumnChunk(c)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := cc.Statistics()
		hasStats := st != nil && st.HasMinMax()
		if cc.HasDictionaryPage() != want || hasStats != want {
			t.Errorf("%s: dictionary %v, statistics %v; want both %v", sch.Field(c).Name, cc.HasDictionaryPage(), hasStats, want)
		}
	}
	got := readTable(t, pf).Column(0).Data().Chunk(0).(*array.String)
	if got.Value(1) != long || got.Value(0) != "short" {
		t.Errorf("body reads back %d and %q, want %d bytes and \"short\"", len(got.Value(1)), got.Value(0), len(long))
	}
}
