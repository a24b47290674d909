package conformance

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/batch"
)

// TargetFixture tells the target suite where it may create tables.
type TargetFixture struct {
	Conn sdk.Connection
	// NewTable returns a fresh table name that does not exist yet; the
	// suite creates it with WriteRequest.CreateTable.
	NewTable func(t *testing.T) sdk.ObjectRef
	// ReadBack returns the rows of a table, for connectors that cannot
	// Read; nil uses the connector's own Reader.
	ReadBack func(t *testing.T, table sdk.ObjectRef) arrow.RecordBatch
}

// TargetSchema is the schema the target suite writes: a key, a nullable
// string and a nullable double.
var TargetSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "score", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
}, nil)

// row is one row of TargetSchema; a nil name or score is NULL.
type row struct {
	id    int64
	name  *string
	score *float64
}

func rows(from, to int64, tag string) []row {
	var out []row
	for id := from; id <= to; id++ {
		r := row{id: id}
		if id%4 != 0 {
			s := fmt.Sprintf("%s-%d é \"q\"", tag, id)
			if id%5 == 0 {
				s = ""
			}
			r.name = &s
		}
		if id%3 != 0 {
			f := float64(id) / 8
			r.score = &f
		}
		out = append(out, r)
	}
	return out
}

// recordsOf builds a reader over rows in batches of 3, so writes span
// several batches.
func recordsOf(rs []row, failAfter int) array.RecordReader {
	i := 0
	fill := func(b *batch.Builder) (bool, error) {
		if failAfter >= 0 && i >= failAfter {
			return false, errors.New("conformance: the source failed mid-stream")
		}
		for ; i < len(rs); i++ {
			r := rs[i]
			b.Field(0).(*array.Int64Builder).Append(r.id)
			if r.name == nil {
				b.Field(1).AppendNull()
			} else {
				b.Field(1).(*array.StringBuilder).Append(*r.name)
			}
			if r.score == nil {
				b.Field(2).AppendNull()
			} else {
				b.Field(2).(*array.Float64Builder).Append(*r.score)
			}
			if b.EndRow() {
				i++
				return i < len(rs) || failAfter >= 0, nil
			}
		}
		return failAfter >= 0, nil
	}
	return batch.NewReader(TargetSchema, fill, nil, batch.WithMaxRows(3))
}

// RunTargetSuite runs the target conformance tests.
func RunTargetSuite(t *testing.T, c sdk.Connector, f TargetFixture) {
	t.Helper()
	w, ok := c.(sdk.Writer)
	if !ok || !has(c, sdk.CapWrite) {
		t.Skip("connector cannot write")
	}
	readBack := f.ReadBack
	if readBack == nil {
		r, ok := c.(sdk.Reader)
		if !ok || !has(c, sdk.CapRead) {
			t.Fatal("TargetFixture.ReadBack is needed for a connector that cannot read")
		}
		readBack = func(t *testing.T, table sdk.ObjectRef) arrow.RecordBatch {
			return readAll(t, r, sdk.ReadRequest{Conn: f.Conn, Source: obj(table)})
		}
	}
	write := func(t *testing.T, table sdk.ObjectRef, mode sdk.WriteMode, rs []row, keys []string) (*sdk.WriteResult, error) {
		return w.Write(context.Background(), sdk.WriteRequest{Conn: f.Conn, Table: table, Mode: mode, Keys: keys, CreateTable: true}, recordsOf(rs, -1))
	}
	expect := func(t *testing.T, table sdk.ObjectRef, want []row) {
		t.Helper()
		got := readBack(t, table)
		defer got.Release()
		compareRows(t, got, want)
	}

	t.Run("create_append", func(t *testing.T) {
		table := f.NewTable(t)
		first := rows(1, 10, "a")
		res, err := write(t, table, sdk.Append, first, nil)
		if err != nil {
			t.Fatalf("Write: %v", err)
		}
		if res.RowsWritten != 10 {
			t.Errorf("RowsWritten = %d, want 10", res.RowsWritten)
		}
		expect(t, table, first)
		if _, err := write(t, table, sdk.Append, rows(11, 15, "b"), nil); err != nil {
			t.Fatalf("second append: %v", err)
		}
		expect(t, table, append(first, rows(11, 15, "b")...))
	})
	t.Run("replace", func(t *testing.T) {
		table := f.NewTable(t)
		if _, err := write(t, table, sdk.Append, rows(1, 10, "a"), nil); err != nil {
			t.Fatal(err)
		}
		if _, err := write(t, table, sdk.Replace, rows(5, 7, "r"), nil); err != nil {
			t.Fatalf("replace: %v", err)
		}
		expect(t, table, rows(5, 7, "r"))
	})
	t.Run("merge", func(t *testing.T) {
		table := f.NewTable(t)
		if _, err := write(t, table, sdk.Append, rows(1, 10, "a"), nil); err != nil {
			t.Fatal(err)
		}
		if _, err := write(t, table, sdk.Merge, rows(8, 14, "m"), []string{"id"}); err != nil {
			t.Fatalf("merge: %v", err)
		}
		expect(t, table, append(rows(1, 7, "a"), rows(8, 14, "m")...))
		// Merging the same rows again changes nothing: reruns are idempotent.
		if _, err := write(t, table, sdk.Merge, rows(8, 14, "m"), []string{"id"}); err != nil {
			t.Fatalf("second merge: %v", err)
		}
		expect(t, table, append(rows(1, 7, "a"), rows(8, 14, "m")...))
	})
	t.Run("broken_stream", func(t *testing.T) {
		table := f.NewTable(t)
		base := rows(1, 4, "a")
		if _, err := write(t, table, sdk.Append, base, nil); err != nil {
			t.Fatal(err)
		}
		_, err := w.Write(context.Background(), sdk.WriteRequest{Conn: f.Conn, Table: table, Mode: sdk.Append, CreateTable: true}, recordsOf(rows(100, 120, "x"), 6))
		if err == nil {
			t.Fatal("Write with a source that failed mid-stream succeeded")
		}
		expect(t, table, base)
	})
}

func compareRows(t *testing.T, got arrow.RecordBatch, want []row) {
	t.Helper()
	if got.NumRows() != int64(len(want)) {
		t.Fatalf("table holds %d rows, want %d", got.NumRows(), len(want))
	}
	sorted := sortedBy(t, got, "id")
	defer sorted.Release()
	sort.Slice(want, func(a, b int) bool { return want[a].id < want[b].id })
	idx := func(name string) arrow.Array {
		i := sorted.Schema().FieldIndices(name)
		if len(i) != 1 {
			t.Fatalf("column %q missing from %v", name, sorted.Schema())
		}
		return sorted.Column(i[0])
	}
	ids, names, scores := int64Keys(t, idx("id")), idx("name"), idx("score")
	for i, w := range want {
		if ids[i] != w.id {
			t.Fatalf("row %d: id %d, want %d", i, ids[i], w.id)
		}
		gotName := "NULL"
		if !names.IsNull(i) {
			gotName = fmt.Sprintf("%q", names.ValueStr(i))
		}
		wantName := "NULL"
		if w.name != nil {
			wantName = fmt.Sprintf("%q", *w.name)
		}
		if gotName != wantName {
			t.Errorf("id %d: name %s, want %s", w.id, gotName, wantName)
		}
		switch {
		case scores.IsNull(i) != (w.score == nil):
			t.Errorf("id %d: score NULL=%v, want NULL=%v", w.id, scores.IsNull(i), w.score == nil)
		case w.score != nil:
			if g, err := strconv.ParseFloat(scores.ValueStr(i), 64); err != nil || g != *w.score {
				t.Errorf("id %d: score %s, want %v", w.id, scores.ValueStr(i), *w.score)
			}
		}
	}
}
