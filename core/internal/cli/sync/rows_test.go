package sync

import (
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/halfpipe-io/halfpipe/sdk/plugintest"
)

// Rows spread thinly over a side keep at most maxRuns of its batches
// alive, and come out in order with the chosen columns. Each batch is
// released (its memory poisoned once free) after its rows are added, as
// the comparison moves on.
func TestRowsHoldFewBatches(t *testing.T) {
	mem := memory.NewCheckedAllocator(plugintest.NewPoison(t))
	defer mem.AssertSize(t, 0)
	side := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "pad", Type: arrow.BinaryTypes.String},
		{Name: "v", Type: arrow.BinaryTypes.String},
	}, nil)
	r := &rows{schema: arrow.NewSchema([]arrow.Field{
		{Name: "V", Type: arrow.BinaryTypes.String}, {Name: "ID", Type: arrow.PrimitiveTypes.Int64},
	}, nil), idx: []int{2, 0}}
	const batches, perBatch = 200, 100
	var batchBytes int
	for b := 0; b < batches; b++ {
		rb := array.NewRecordBuilder(mem, side)
		for i := 0; i < perBatch; i++ {
			id := int64(b*perBatch + i)
			rb.Field(0).(*array.Int64Builder).Append(id)
			rb.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("%0512d", id))
			rb.Field(2).(*array.StringBuilder).Append(fmt.Sprint("v", id))
		}
		rec := rb.NewRecordBatch()
		rb.Release()
		if b == 0 {
			batchBytes = mem.CurrentAlloc()
		}
		// One row of each batch, and two in a row of every tenth.
		if _, err := r.add(rec, b%perBatch); err != nil {
			t.Fatal(err)
		}
		if b%10 == 0 {
			if _, err := r.add(rec, b%perBatch+1); err != nil {
				t.Fatal(err)
			}
		}
		rec.Release()
		if len(r.runs) > maxRuns {
			t.Fatalf("after %d batches rows holds %d runs, want at most %d", b+1, len(r.runs), maxRuns)
		}
		if held := mem.CurrentAlloc(); held > (maxRuns+2)*batchBytes {
			t.Fatalf("after %d batches %d bytes are held, more than %d batches'", b+1, held, maxRuns+2)
		}
	}
	want := batches + batches/10
	if r.n != want {
		t.Fatalf("%d rows gathered, want %d", r.n, want)
	}
	rec, err := r.flush()
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	if rec.NumRows() != int64(want) || !rec.Schema().Equal(r.schema) {
		t.Fatalf("flushed %d rows of %s", rec.NumRows(), rec.Schema())
	}
	ids, vs := rec.Column(1).(*array.Int64), rec.Column(0).(*array.String)
	k := 0
	for b := 0; b < batches; b++ {
		for i := 0; i < 1+btoi(b%10 == 0); i++ {
			id := int64(b*perBatch + b%perBatch + i)
			if ids.Value(k) != id || vs.Value(k) != fmt.Sprint("v", id) {
				t.Fatalf("row %d: %d %q, want %d v%d", k, ids.Value(k), vs.Value(k), id, id)
			}
			k++
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
