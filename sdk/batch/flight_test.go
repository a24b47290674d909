package batch

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/util"
)

func stringBatch(t *testing.T, mem memory.Allocator, values ...string) arrow.RecordBatch {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String}}, nil)
	b := NewBuilder(schema, WithAllocator(mem))
	defer b.Release()
	for _, v := range values {
		b.Field(0).(*array.StringBuilder).Append(v)
		b.EndRow()
	}
	return b.NewBatch()
}

// A producer that hands batches larger than the budget through a channel
// to a slow consumer (which, like gRPC, keeps a reference while it sends)
// starts each next batch only once the one before is released: a huge
// value is never held by more than one batch at a time.
func TestFlightHoldsHugeBatchesOneAtATime(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	huge := strings.Repeat("v", 1<<20)
	f := NewFlight(256 << 10)
	out := make(chan arrow.RecordBatch, 1)
	go func() {
		defer close(out)
		for i := 0; i < 5; i++ {
			if err := f.Wait(context.Background(), int64(len(huge))); err != nil {
				t.Error(err)
				return
			}
			if n := f.InFlight(); n != 0 {
				t.Errorf("batch %d starts with %d bytes in flight, want 0", i, n)
			}
			out <- f.Track(stringBatch(t, mem, huge))
		}
	}()
	got := 0
	for rec := range out {
		time.Sleep(20 * time.Millisecond) // sending it
		if rec.Column(0).(*array.String).Value(0) != huge {
			t.Fatal("a batch lost its value")
		}
		f.Done(rec)
		rec.Release()
		got++
	}
	if got != 5 || f.InFlight() != 0 {
		t.Fatalf("%d batches, %d bytes left in flight; want 5 and 0", got, f.InFlight())
	}
}

// Batches within the budget do not wait: two may be held downstream while
// the producer builds a third, which waits for the first to be released.
func TestFlightLetsSmallBatchesOverlap(t *testing.T) {
	a, b, c := stringBatch(t, memory.DefaultAllocator, "aaaa"), stringBatch(t, memory.DefaultAllocator, "bbbb"), stringBatch(t, memory.DefaultAllocator, "cccc")
	defer c.Release()
	one := int(util.TotalRecordSize(a))
	f := NewFlight(int64(2 * one))
	ctx := context.Background()
	ta := f.Track(a)
	if err := f.Wait(ctx, int64(one)); err != nil {
		t.Fatal(err)
	}
	tb := f.Track(b)
	if f.InFlight() != int64(2*one) {
		t.Fatalf("%d bytes in flight, want %d", f.InFlight(), 2*one)
	}
	waited := make(chan error, 1)
	go func() { waited <- f.Wait(ctx, int64(one)) }()
	select {
	case err := <-waited:
		t.Fatalf("a third batch did not wait for the budget (err %v)", err)
	case <-time.After(50 * time.Millisecond):
	}
	ta.Release()
	if err := <-waited; err != nil {
		t.Fatal(err)
	}
	tb.Release()
	if f.InFlight() != 0 {
		t.Fatalf("%d bytes left in flight", f.InFlight())
	}

	// A cancelled wait returns the context's error.
	td := f.Track(stringBatch(t, memory.DefaultAllocator, strings.Repeat("d", 4*one)))
	defer td.Release()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := f.Wait(cctx, int64(one)); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait after cancel: %v, want context.Canceled", err)
	}
}

// A consumer that keeps every batch it reads does not stall the producer:
// batches leave the flight when the reader moves past them.
func TestFlightLetsConsumersKeepBatches(t *testing.T) {
	huge := strings.Repeat("k", 1<<20)
	f := NewFlight(256 << 10)
	out := make(chan arrow.RecordBatch, 1)
	go func() {
		defer close(out)
		for i := 0; i < 5; i++ {
			if err := f.Wait(context.Background(), int64(len(huge))); err != nil {
				t.Error(err)
				return
			}
			out <- f.Track(stringBatch(t, memory.DefaultAllocator, huge))
		}
	}()
	var kept []arrow.RecordBatch
	for rec := range out {
		rec.Retain()
		kept = append(kept, rec)
		f.Done(rec)
		rec.Release()
	}
	if len(kept) != 5 || f.InFlight() != 0 {
		t.Fatalf("%d batches kept, %d bytes in flight; want 5 and 0", len(kept), f.InFlight())
	}
	for _, rec := range kept {
		if rec.Column(0).(*array.String).Value(0) != huge {
			t.Fatal("a kept batch lost its value")
		}
		rec.Release()
	}
	if f.InFlight() != 0 {
		t.Fatalf("%d bytes in flight after the releases", f.InFlight())
	}
}
