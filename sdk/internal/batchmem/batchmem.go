// Package batchmem is the memory of the record batches that travel the
// protocol: a pool that hands the buffers of a released batch to the next
// one, on both sides of a stream (the plugin's builders, the host's IPC
// reader). A batch of a few MiB made afresh each time costs its zeroing,
// page faults once the collector has given the pages back, and collections
// paced by the garbage; reused, it costs a clear.
//
// Reuse is only safe because no consumer keeps a value (a string or slice
// aliasing a buffer, an array) past the batch's last Release: a buffer
// released is overwritten by a later batch. Tests check that with a
// poisoning allocator (sdk/plugintest) installed by [Set].
package batchmem

import (
	"math/bits"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

const (
	// minPooled: smaller buffers come from Go's small-object allocator,
	// which is cheap; larger ones are Go's large objects (page-aligned,
	// so 64-byte aligned as Arrow wants).
	minPooled = 32 << 10
	// maxPooled: larger buffers (a huge value) are not kept.
	maxPooled = 64 << 20
	// maxHeld bounds the bytes waiting in the pool: about the buffers of
	// the few batches in flight at once.
	maxHeld = 32 << 20
	// steps: each power of two is split in four classes, so a buffer
	// is at most a quarter larger than asked for.
	steps = 4
	// upClasses: a buffer this many classes larger is taken when a
	// class is empty (batch sizes drift by an eighth); more would let a
	// batch hold far more than it asked for.
	upClasses = 1
)

var nClasses = class(maxPooled) + 1

// class returns the class of size n (minPooled < n <= maxPooled).
func class(n int) int {
	e := bits.Len(uint(n - 1)) // 2^(e-1) < n <= 2^e
	step := 1 << (e - 3)
	k := (n - 1 - 1<<(e-1)) / step
	return (e-bits.Len(minPooled))*steps + k
}

// classSize is the size of the buffers of class c.
func classSize(c int) int {
	e := c/steps + bits.Len(minPooled)
	return 1<<(e-1) + (c%steps+1)*(1<<(e-3))
}

// Pool is a memory.Allocator that keeps freed buffers for reuse.
// Allocate returns zeroed memory, as Go's allocator does.
type Pool struct {
	mu   sync.Mutex
	free [][][]byte // by class
	held int
}

// NewPool returns an empty pool.
func NewPool() *Pool { return &Pool{free: make([][][]byte, nClasses)} }

// Allocate returns n zeroed bytes.
func (p *Pool) Allocate(n int) []byte { return p.get(n, true) }

func (p *Pool) get(n int, zero bool) []byte {
	if n <= minPooled || n > maxPooled {
		return memory.DefaultAllocator.Allocate(n)
	}
	c := class(n)
	p.mu.Lock()
	for u := c; u < min(c+upClasses+1, nClasses); u++ {
		if k := len(p.free[u]); k > 0 {
			b := p.free[u][k-1]
			p.free[u][k-1] = nil
			p.free[u] = p.free[u][:k-1]
			p.held -= cap(b)
			p.mu.Unlock()
			if zero {
				clear(b[:cap(b)])
			}
			return b[:n]
		}
	}
	p.mu.Unlock()
	return make([]byte, n, classSize(c))
}

// Reallocate grows or shrinks b to n bytes, as Go's allocator does: in
// place when its capacity allows.
func (p *Pool) Reallocate(n int, b []byte) []byte {
	if n <= cap(b) {
		return b[:n]
	}
	nb := p.Allocate(n)
	copy(nb, b)
	p.Free(b)
	return nb
}

// Free keeps b for reuse, unless the pool is full or b is not one of its
// buffers.
func (p *Pool) Free(b []byte) {
	n := cap(b)
	if n <= minPooled || n > maxPooled {
		return
	}
	c := class(n)
	if classSize(c) != n {
		return
	}
	p.mu.Lock()
	if p.held+n <= maxHeld {
		p.free[c] = append(p.free[c], b[:0])
		p.held += n
	}
	p.mu.Unlock()
}

var _ memory.Allocator = (*Pool)(nil)

// unzeroed is a Pool whose reused buffers keep their old bytes.
type unzeroed struct{ *Pool }

func (u unzeroed) Allocate(n int) []byte { return u.get(n, false) }

func (u unzeroed) Reallocate(n int, b []byte) []byte {
	if n <= cap(b) {
		return b[:n]
	}
	nb := u.Allocate(n)
	copy(nb, b)
	u.Free(b)
	return nb
}

type holder struct{ zeroed, unzeroed memory.Allocator }

var current atomic.Pointer[holder]

func init() {
	p := NewPool()
	current.Store(&holder{p, unzeroed{p}})
}

// Allocator returns the allocator for batches: the process's pool, or
// what a test [Set].
func Allocator() memory.Allocator { return current.Load().zeroed }

// Overwritten returns the allocator for memory its user writes before
// reading it (the host's IPC reader reads each message body whole into
// one buffer): the same pool, without clearing a reused buffer.
func Overwritten() memory.Allocator { return current.Load().unzeroed }

// Set makes zeroed and unzeroed the allocators for batches until restore
// is called (tests).
func Set(zeroed, unzeroed memory.Allocator) (restore func()) {
	old := current.Swap(&holder{zeroed, unzeroed})
	return func() { current.Store(old) }
}
