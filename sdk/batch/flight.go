package batch

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/util"
)

// Flight bounds the bytes of the batches a producer has handed on and that
// are still held downstream: queued for the reader, or being sent to the
// host. A connector that decodes rows on a goroutine of its own (to overlap
// decoding with sending) hands each batch on through [Flight.Track] and
// calls [Flight.Wait] before it appends the first row of a new batch.
//
// Batches of a few MiB never reach the budget, so decoding overlaps with
// sending as before. A batch larger than the budget travels alone: the
// producer waits until it has been sent and released before it copies the
// next row out of the driver's buffer, so a huge value is held at most
// twice (the driver's buffer and the batch) instead of once more for each
// batch in flight.
type Flight struct {
	max   int64
	mu    sync.Mutex
	used  int64
	freed chan struct{} // closed, and replaced, when bytes are released
}

// NewFlight returns a Flight of maxBytes (0 or less: twice
// [DefaultMaxBytes], one batch queued and one being sent).
func NewFlight(maxBytes int64) *Flight {
	if maxBytes <= 0 {
		maxBytes = 2 * DefaultMaxBytes
	}
	return &Flight{max: maxBytes, freed: make(chan struct{})}
}

// InFlight is the bytes of the batches tracked and not yet released.
func (f *Flight) InFlight() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.used
}

// Track counts the bytes of rec's buffers as in flight until the batch it
// returns, which stands for rec and takes over the caller's reference, is
// released for the last time.
func (f *Flight) Track(rec arrow.RecordBatch) arrow.RecordBatch {
	n := util.TotalRecordSize(rec)
	f.mu.Lock()
	f.used += n
	f.mu.Unlock()
	t := &tracked{RecordBatch: rec, f: f, bytes: n}
	t.refs.Store(1)
	return t
}

// Wait blocks until next more bytes fit in the budget beside those in
// flight, or nothing is in flight, or ctx is done (its error is returned).
func (f *Flight) Wait(ctx context.Context, next int64) error {
	for {
		f.mu.Lock()
		if f.used == 0 || f.used+next <= f.max {
			f.mu.Unlock()
			return nil
		}
		freed := f.freed
		f.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// release returns n bytes to the budget. A batch larger than the budget
// starts a garbage collection: collected now, its memory serves the next
// huge batch instead of the heap growing by as much again before the
// collector's next cycle.
func (f *Flight) release(n int64) {
	f.mu.Lock()
	f.used -= n
	close(f.freed)
	f.freed = make(chan struct{})
	f.mu.Unlock()
	if n > f.max {
		go runtime.GC()
	}
}

// tracked is a batch whose bytes a Flight counts until its last release.
type tracked struct {
	arrow.RecordBatch
	f     *Flight
	bytes int64
	refs  atomic.Int64
}

func (t *tracked) Retain() { t.refs.Add(1) }

func (t *tracked) Release() {
	if t.refs.Add(-1) == 0 {
		t.RecordBatch.Release()
		t.f.release(t.bytes)
	}
}
