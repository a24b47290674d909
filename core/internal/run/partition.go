package run

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/host"
)

// MaxParallel bounds --parallel: each slice holds a database connection
// and a few batches.
const MaxParallel = 64

// checkParallel validates --parallel against the rest of the spec.
func checkParallel(s Spec, fromRun bool) error {
	switch {
	case s.Parallel < 0 || s.Parallel > MaxParallel:
		return usagef("--parallel must be between 1 and %d, not %d", MaxParallel, s.Parallel)
	case s.Parallel <= 1:
		return nil
	case s.Query != "":
		return usagef("--parallel %d cannot split a --query read (a query has no slices a database can cut); read it with --parallel 1", s.Parallel)
	case fromRun:
		return usagef("--parallel %d applies to database sources, not to a published run", s.Parallel)
	}
	return nil
}

// slices is how many slices a read of src is cut into: --parallel, or 1
// when the connector cannot split reads.
func (p *Plan) slices(src *host.Instance) int {
	if !src.Info.Has(sdk.CapReadPartitions) {
		return 1
	}
	return max(1, p.Spec.Parallel)
}

// warnWhole says once per run that --parallel has no effect on src.
func (p *Plan) warnWhole(src *host.Instance, log *slog.Logger) {
	if p.Spec.Parallel > 1 && p.slices(src) == 1 {
		log.Warn("the source's connector cannot split a read: reading it whole", "connector", src.Info.Name, "parallel", p.Spec.Parallel)
	}
}

// read starts reading req from src: whole, or with --parallel N as N
// slices read concurrently and merged into one stream.
func (p *Plan) read(ctx context.Context, src *host.Instance, req sdk.ReadRequest) (array.RecordReader, error) {
	if n := p.slices(src); n > 1 {
		return readSlices(ctx, src, req, n)
	}
	return src.Read(ctx, req)
}

// newGroup names one partitioned read, for the connector to share its
// split and snapshot among the slices.
func newGroup() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// readSlices starts the n slices of req together (a connector may hold a
// snapshot open until all have begun) and merges them.
func readSlices(ctx context.Context, src *host.Instance, req sdk.ReadRequest, n int) (array.RecordReader, error) {
	ctx, cancel := context.WithCancel(ctx)
	group := newGroup()
	readers := make([]array.RecordReader, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := req
			r.Partition = &sdk.Partition{Index: i, Count: n, Group: group}
			if readers[i], errs[i] = src.Read(ctx, r); errs[i] != nil {
				errs[i] = fmt.Errorf("slice %d of %d: %w", i+1, n, errs[i])
				cancel()
			}
		}()
	}
	wg.Wait()
	err := firstError(errs)
	if err == nil {
		for i, r := range readers[1:] {
			if !r.Schema().Equal(readers[0].Schema()) {
				err = fmt.Errorf("slice %d of %d has schema %s, slice 1 %s", i+2, n, r.Schema(), readers[0].Schema())
			}
		}
	}
	if err != nil {
		cancel()
		for _, r := range readers {
			if r != nil {
				r.Release()
			}
		}
		return nil, err
	}
	return merge(ctx, cancel, readers), nil
}

// firstError is the first error that is not a cancellation caused by
// another (the cause), else the first.
func firstError(errs []error) error {
	var first error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if !errors.Is(err, context.Canceled) {
			return err
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// fanIn merges the batches of several readers of one schema, in no
// particular order. Each reader runs on its own goroutine and holds at
// most one batch waiting, so memory grows linearly with the readers.
// The first reader to fail cancels the others and is the error.
type fanIn struct {
	schema *arrow.Schema
	cancel context.CancelFunc
	out    chan arrow.RecordBatch
	done   chan struct{}
	cur    arrow.RecordBatch
	ended  bool
	once   sync.Once

	mu  sync.Mutex
	err error
}

func merge(ctx context.Context, cancel context.CancelFunc, readers []array.RecordReader) *fanIn {
	f := &fanIn{schema: readers[0].Schema(), cancel: cancel, out: make(chan arrow.RecordBatch), done: make(chan struct{})}
	var wg sync.WaitGroup
	for i, r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.Release()
			for r.Next() {
				rec := r.RecordBatch()
				rec.Retain()
				select {
				case f.out <- rec:
				case <-ctx.Done():
					rec.Release()
					f.fail(ctx.Err())
					return
				}
			}
			if err := r.Err(); err != nil {
				f.fail(fmt.Errorf("slice %d of %d: %w", i+1, len(readers), err))
			}
		}()
	}
	go func() {
		wg.Wait()
		close(f.out)
		close(f.done)
	}()
	return f
}

func (f *fanIn) fail(err error) {
	f.mu.Lock()
	if f.err == nil || (errors.Is(f.err, context.Canceled) && !errors.Is(err, context.Canceled)) {
		f.err = err
	}
	f.mu.Unlock()
	f.cancel()
}

func (f *fanIn) Retain()                        {}
func (f *fanIn) Schema() *arrow.Schema          { return f.schema }
func (f *fanIn) RecordBatch() arrow.RecordBatch { return f.cur }
func (f *fanIn) Record() arrow.RecordBatch      { return f.cur }

func (f *fanIn) Next() bool {
	if f.cur != nil {
		f.cur.Release()
		f.cur = nil
	}
	rec, ok := <-f.out
	if !ok {
		f.ended = true
		return false
	}
	f.cur = rec
	return true
}

// Err is the first slice's error once the stream has ended.
func (f *fanIn) Err() error {
	if !f.ended {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// Release stops the slices still reading and waits for them.
func (f *fanIn) Release() {
	f.once.Do(func() {
		f.cancel()
		if f.cur != nil {
			f.cur.Release()
			f.cur = nil
		}
		for rec := range f.out {
			rec.Release()
		}
		<-f.done
	})
}
