package format

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
)

// Binary values longer than the row buffer go out as base64 a piece at a
// time, the same text as rendered whole, and the row buffer stays its own
// size.
func TestCSVLongBinaryValues(t *testing.T) {
	for _, typ := range []arrow.DataType{arrow.BinaryTypes.Binary, arrow.BinaryTypes.LargeBinary} {
		sch := arrow.NewSchema([]arrow.Field{{Name: "body", Type: typ, Nullable: true}, {Name: "id", Type: arrow.PrimitiveTypes.Int64}}, nil)
		values := [][]byte{make([]byte, 3*flushAt+1), make([]byte, flushAt), {}, nil, []byte("short")}
		for i := range values[0] {
			values[0][i] = byte(i * 7)
		}
		for i := range values[1] {
			values[1][i] = byte(i * 13)
		}
		b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
		for i, v := range values {
			if v == nil {
				b.Field(0).AppendNull()
			} else {
				b.Field(0).(array.BinaryLikeBuilder).Append(v)
			}
			b.Field(1).(*array.Int64Builder).Append(int64(i))
		}
		rec := b.NewRecordBatch()
		b.Release()
		var out bytes.Buffer
		enc, err := NewEncoder(&out, sch, WithFormat(CSV), WithCompression(None), WithCSVHeader(false), WithCSVNull("NULL"))
		if err != nil {
			t.Fatal(err)
		}
		if err := enc.Write(rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
		if c := cap(enc.(*csvEncoder).buf); c > 2*flushAt {
			t.Errorf("%s: the row buffer grew to %d bytes", typ, c)
		}
		if err := enc.Close(); err != nil {
			t.Fatal(err)
		}
		got, err := csv.NewReader(&out).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(values) {
			t.Fatalf("%s: %d rows, want %d", typ, len(got), len(values))
		}
		for i, v := range values {
			want := base64.StdEncoding.EncodeToString(v)
			if v == nil {
				want = "NULL"
			}
			if got[i][0] != want || got[i][1] != string(rune('0'+i)) {
				t.Errorf("%s: row %d: %d bytes, id %s; want %d bytes", typ, i, len(got[i][0]), got[i][1], len(want))
			}
		}
	}
}

// A batch holding a value of hugeValue bytes or more is written as a row
// group of its own, between the buffered ones before and after it, and
// reads back whole; a batch as large of smaller values is not.
func TestParquetLargeBatchAlone(t *testing.T) {
	sch := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "v", Type: arrow.BinaryTypes.Binary}, {Name: "k", Type: arrow.BinaryTypes.String}}, nil)
	batch := func(first int64, sizes ...int) arrow.RecordBatch {
		b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
		defer b.Release()
		for i, n := range sizes {
			v := make([]byte, n)
			for j := range v {
				v[j] = byte(int(first) + i + j)
			}
			b.Field(0).(*array.Int64Builder).Append(first + int64(i))
			b.Field(1).(*array.BinaryBuilder).Append(v)
			b.Field(2).(*array.StringBuilder).Append("same")
		}
		return b.NewRecordBatch()
	}
	small := make([]int, 1000)
	for i := range small {
		small[i] = 10
	}
	ordinary := make([]int, 20)
	for i := range ordinary {
		ordinary[i] = hugeValue/8 + 1
	}
	batches := []arrow.RecordBatch{batch(0, small...), batch(1000, hugeValue+1, 5), batch(1002, hugeValue), batch(1003, small...), batch(2003, ordinary...)}
	var out bytes.Buffer
	enc, err := NewEncoder(&out, sch, WithFormat(Parquet), WithCompression(Zstd))
	if err != nil {
		t.Fatal(err)
	}
	var rows int64
	for _, rec := range batches {
		if err := enc.Write(rec); err != nil {
			t.Fatal(err)
		}
		rows += rec.NumRows()
		if enc.Buffered() < 0 {
			t.Fatal("negative buffered size")
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	pf, err := file.NewParquetReader(bytes.NewReader(out.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	var groups []int64
	for i := range pf.NumRowGroups() {
		groups = append(groups, pf.RowGroup(i).NumRows())
	}
	if want := []int64{1000, 2, 1, 1020}; !slices.Equal(groups, want) {
		t.Errorf("row groups of %v rows, want %v", groups, want)
	}
	tbl := readTable(t, pf)
	if tbl.NumRows() != rows {
		t.Fatalf("%d rows, want %d", tbl.NumRows(), rows)
	}
	r := 0
	for bi, rec := range batches {
		for i := range int(rec.NumRows()) {
			want := rec.Column(1).(*array.Binary).Value(i)
			got := valueAt(tbl.Column(1), r).([]byte)
			if !bytes.Equal(got, want) || valueAt(tbl.Column(0), r).(int64) != rec.Column(0).(*array.Int64).Value(i) {
				t.Fatalf("batch %d row %d differs (%d bytes, want %d)", bi, i, len(got), len(want))
			}
			r++
		}
		rec.Release()
	}
}

// valueAt is row r of a chunked column of int64 or binary.
func valueAt(c *arrow.Column, r int) any {
	for _, ch := range c.Data().Chunks() {
		if r < ch.Len() {
			switch a := ch.(type) {
			case *array.Int64:
				return a.Value(r)
			case *array.Binary:
				return a.Value(r)
			}
		}
		r -= ch.Len()
	}
	return nil
}

// String values longer than the row buffer are written past it, quoted as
// each value needs, whether or not the scan of their batch's column found
// a special byte: a clean column still quotes a long value for its ends.
func TestCSVLongStringValues(t *testing.T) {
	long := func(head, fill, tail string) string {
		return head + strings.Repeat(fill, flushAt) + tail
	}
	batches := [][]string{
		{long("", "a", ""), long(" ", "b", ""), long("", "c", "\t"), "short"},
		{long("", "d", ""), long("", "e", `"x"`), long(" ", "f", ""), "a,b"},
	}
	sch := arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String}}, nil)
	for k, values := range batches {
		b := array.NewStringBuilder(memory.DefaultAllocator)
		b.AppendValues(values, nil)
		col := b.NewArray()
		b.Release()
		rec := array.NewRecordBatch(sch, []arrow.Array{col}, int64(len(values)))
		col.Release()
		got := encode(t, rec, WithCompression(None), WithCSVHeader(false))
		rec.Release()
		e := &csvEncoder{delim: []byte{','}}
		for _, c := range []byte{'"', '\n', '\r', ','} {
			e.special[c] = true
		}
		var want []byte
		for _, v := range values {
			if needsQuotesBytewise(e, []byte(v)) {
				want = append(append(append(want, '"'), strings.ReplaceAll(v, `"`, `""`)...), '"')
			} else {
				want = append(want, v...)
			}
			want = append(want, '\n')
		}
		if !bytes.Equal(got, want) {
			t.Errorf("batch %d: the long values are not written as each needs", k+1)
		}
	}
}
