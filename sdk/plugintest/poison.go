package plugintest

import (
	"sync"
	"testing"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/halfpipe-io/halfpipe/sdk/internal/batchmem"
)

// PoisonByte fills every buffer a [Poison] allocator has freed.
const PoisonByte = 0xDB

// Poison is a memory.Allocator that catches a batch's memory used after
// its last Release, which the SDK's pooled allocator would have handed to
// the next batch: a freed buffer is overwritten with [PoisonByte] and
// never reused, so a string, slice or array kept past Release reads
// poison; freeing a buffer twice (one Release too many) or one it did not
// allocate fails the test.
type Poison struct {
	t    testing.TB
	mu   sync.Mutex
	live map[*byte]int // allocated and not freed, with their sizes
}

// NewPoison returns a Poison allocator that reports to t.
func NewPoison(t testing.TB) *Poison { return &Poison{t: t, live: map[*byte]int{}} }

// Allocate returns n zeroed bytes, 64-byte aligned.
func (p *Poison) Allocate(n int) []byte {
	b := memory.DefaultAllocator.Allocate(max(n, 1))[:n]
	p.mu.Lock()
	p.live[unsafe.SliceData(b)] = max(n, 1)
	p.mu.Unlock()
	return b
}

// Reallocate always moves b, poisoning the old bytes.
func (p *Poison) Reallocate(n int, b []byte) []byte {
	nb := p.Allocate(n)
	copy(nb, b)
	p.Free(b)
	return nb
}

// Free poisons b. Arrow frees a buffer never allocated (nil) too.
func (p *Poison) Free(b []byte) {
	if cap(b) == 0 {
		return
	}
	ptr := unsafe.SliceData(b)
	p.mu.Lock()
	n, ok := p.live[ptr]
	delete(p.live, ptr)
	p.mu.Unlock()
	if !ok {
		p.t.Errorf("plugintest.Poison: a buffer of %d bytes freed twice, or not allocated here (a Release too many)", cap(b))
		return
	}
	for i, s := 0, unsafe.Slice(ptr, n); i < len(s); i++ {
		s[i] = PoisonByte
	}
}

// Live is the number of buffers allocated and not freed.
func (p *Poison) Live() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.live)
}

var _ memory.Allocator = (*Poison)(nil)

// PoisonBatches makes a Poison allocator the memory of every record batch
// that crosses the protocol in this process (a plugin's batches as built,
// the host's as received) until the test ends; tests using it must not
// run in parallel with others. Memory asked for as overwritten (the
// host's IPC message bodies) comes poisoned too, so a byte read before it
// was written shows.
func PoisonBatches(t testing.TB) *Poison {
	p := NewPoison(t)
	t.Cleanup(batchmem.Set(p, poisonFresh{p}))
	return p
}

// poisonFresh is a Poison whose new buffers hold PoisonByte, not zeros.
type poisonFresh struct{ *Poison }

func (p poisonFresh) Allocate(n int) []byte {
	b := p.Poison.Allocate(n)
	for i := range b {
		b[i] = PoisonByte
	}
	return b
}

func (p poisonFresh) Reallocate(n int, b []byte) []byte {
	nb := p.Allocate(n)
	copy(nb, b)
	p.Free(b)
	return nb
}

// OneShot returns a RecordReader over recs that, like the host's reader of
// a stream, takes over their references and releases each batch when the
// next is asked for (and the last at the end or on Release): built by a
// [Poison] allocator, they show a consumer that keeps a value past Next.
func OneShot(schema *arrow.Schema, recs ...arrow.RecordBatch) array.RecordReader {
	return &oneShot{schema: schema, recs: recs}
}

type oneShot struct {
	schema *arrow.Schema
	recs   []arrow.RecordBatch
	cur    arrow.RecordBatch
}

func (r *oneShot) Schema() *arrow.Schema { return r.schema }
func (r *oneShot) Retain()               {}
func (r *oneShot) Err() error            { return nil }

func (r *oneShot) Next() bool {
	r.drop()
	if len(r.recs) == 0 {
		return false
	}
	r.cur, r.recs = r.recs[0], r.recs[1:]
	return true
}

func (r *oneShot) drop() {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
}

func (r *oneShot) RecordBatch() arrow.RecordBatch { return r.cur }

// Record is RecordBatch, for array.RecordReader.
//
// Deprecated: use RecordBatch.
func (r *oneShot) Record() arrow.RecordBatch { return r.cur }

func (r *oneShot) Release() {
	r.drop()
	for _, rec := range r.recs {
		rec.Release()
	}
	r.recs = nil
}
