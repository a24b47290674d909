package run

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/host"
)

var idSchema = arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}}, nil)

// failing is a reader that ends with err after its batches.
type failing struct {
	array.RecordReader
	err  error
	done bool
}

func (f *failing) Next() bool {
	if f.RecordReader.Next() {
		return true
	}
	f.done = true
	return false
}

func (f *failing) Err() error {
	if f.done {
		return f.err
	}
	return nil
}

// idReader makes a reader of n batches of ids from..from+n*size-1,
// ending with err after them.
func idReader(t *testing.T, from int64, n, size int, err error) array.RecordReader {
	t.Helper()
	var recs []arrow.RecordBatch
	for b := range n {
		bld := array.NewInt64Builder(memory.DefaultAllocator)
		for i := range size {
			bld.Append(from + int64(b*size+i))
		}
		col := bld.NewArray()
		recs = append(recs, array.NewRecordBatch(idSchema, []arrow.Array{col}, int64(size)))
		col.Release()
		bld.Release()
	}
	rr, e := array.NewRecordReader(idSchema, recs)
	if e != nil {
		t.Fatal(e)
	}
	for _, r := range recs {
		r.Release()
	}
	return &failing{RecordReader: rr, err: err}
}

func drain(f array.RecordReader) (map[int64]int, error) {
	seen := map[int64]int{}
	for f.Next() {
		ids := f.RecordBatch().Column(0).(*array.Int64)
		for i := range ids.Len() {
			seen[ids.Value(i)]++
		}
	}
	return seen, f.Err()
}

// TestMergeReadsEverySliceOnce: the fan-in yields each slice's batches
// once, whatever the interleaving.
func TestMergeReadsEverySliceOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	readers := []array.RecordReader{idReader(t, 0, 5, 100, nil), idReader(t, 500, 0, 0, nil), idReader(t, 500, 7, 100, nil)}
	f := merge(ctx, cancel, readers)
	defer f.Release()
	seen, err := drain(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1200 {
		t.Fatalf("%d distinct ids, want 1200", len(seen))
	}
	for id, n := range seen {
		if n != 1 || id < 0 || id >= 1200 {
			t.Fatalf("id %d seen %d times", id, n)
		}
	}
}

// TestMergeFailsWithTheSlice: a slice's error ends the stream with that
// error, naming the slice, and stops the others; Release mid-stream does
// not hang.
func TestMergeFailsWithTheSlice(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	boom := errors.New("connection killed")
	f := merge(ctx, cancel, []array.RecordReader{idReader(t, 0, 50, 10, nil), idReader(t, 1000, 2, 10, boom)})
	_, err := drain(f)
	f.Release()
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "slice 2 of 2") {
		t.Fatalf("err %v, want the second slice's", err)
	}
	if ctx.Err() == nil {
		t.Fatal("the other slices were not cancelled")
	}
	ctx, cancel = context.WithCancel(context.Background())
	f = merge(ctx, cancel, []array.RecordReader{idReader(t, 0, 50, 10, nil), idReader(t, 1000, 50, 10, nil)})
	if !f.Next() {
		t.Fatal("no first batch")
	}
	done := make(chan struct{})
	go func() { f.Release(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Release hung with slices still reading")
	}
}

func TestPlanRefusesParallelItCannotSplit(t *testing.T) {
	f := newFixture(t, "10")
	for _, c := range []struct {
		spec Spec
		want string
	}{
		{Spec{Source: "src.narrow", Target: "out.o", Parallel: -1}, "--parallel must be between 1 and 64, not -1"},
		{Spec{Source: "src.narrow", Target: "out.o", Parallel: 65}, "--parallel must be between 1 and 64"},
		{Spec{Source: "src.narrow", Target: "out.o", Parallel: 4, Query: "select 1"}, "cannot split a --query read"},
	} {
		_, err := NewPlan(KindSnap, withDefaults(c.spec), &f.conns, time.Now())
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Errorf("%+v: %v, want an invalid argument saying %q", c.spec, err, c.want)
		}
	}
	if _, err := NewPlan(KindSnap, withDefaults(Spec{Source: "src.narrow", Target: "out.o", Parallel: 1, Query: "select 1"}), &f.conns, time.Now()); err != nil {
		t.Fatalf("--parallel 1 with --query: %v", err)
	}
}

// TestParallelSnapshotOfGen: the gen connector splits reads into id
// ranges; --parallel 4 publishes as many rows as a whole read (the e2e
// tests compare checksums against real databases).
func TestParallelSnapshotOfGen(t *testing.T) {
	f := newFixture(t, "100000")
	var counts []int64
	for _, n := range []int{1, 4} {
		s, err := Snapshot(context.Background(), f.env, f.plan(t, KindSnap, Spec{Source: "src.narrow", Target: "out.p" + strconv.Itoa(n), Parallel: n}))
		if err != nil {
			t.Fatal(err)
		}
		counts = append(counts, s.Rows)
	}
	if counts[0] != 100000 || counts[1] != 100000 {
		t.Fatalf("rows %v, want 100000 both", counts)
	}
}

// TestParallelWarnsOnAConnectorThatCannotSplit: a connector without the
// partition capability is read whole, and the run says so once.
func TestParallelWarnsOnAConnectorThatCannotSplit(t *testing.T) {
	var log bytes.Buffer
	p := &Plan{Spec: Spec{Parallel: 4}}
	plain := &host.Instance{Info: sdk.Info{Name: "plain", Capabilities: []sdk.Capability{sdk.CapRead}}}
	split := &host.Instance{Info: sdk.Info{Name: "split", Capabilities: []sdk.Capability{sdk.CapRead, sdk.CapReadPartitions}}}
	if p.slices(plain) != 1 || p.slices(split) != 4 {
		t.Fatalf("slices: %d without the capability, %d with it", p.slices(plain), p.slices(split))
	}
	p.warnWhole(split, slog.New(slog.NewTextHandler(&log, nil)))
	p.warnWhole(plain, slog.New(slog.NewTextHandler(&log, nil)))
	if n := strings.Count(log.String(), "cannot split a read: reading it whole"); n != 1 || !strings.Contains(log.String(), "connector=plain") {
		t.Fatalf("%d warnings, want 1 naming plain:\n%s", n, log.String())
	}
}
