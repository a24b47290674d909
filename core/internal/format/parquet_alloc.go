package format

import (
	"math/bits"
	"sync"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// pageAlloc is the Parquet writer's allocator: it reuses the buffers the
// writer frees. pqarrow allocates a scratch buffer for every column of
// every batch (decimals converted for their Parquet type, levels) and
// frees it right after, and the page buffers grow by doubling; from the
// Go allocator each is a fresh large object, zeroed, faulted in and
// scavenged again under hp's soft memory limit: a fifth of hp's CPU on
// the decimals benchmark table. Buffers are pooled by power-of-two size
// (sync.Pool: what the collector finds unused twice is dropped) and
// handed out zeroed, as the Go allocator's are.
type pageAlloc struct {
	pools [allocClasses]sync.Pool
}

const (
	// Buffers of allocMinShift bits or less come from the Go allocator
	// (small and cheap there); those over allocMaxShift are not kept.
	allocMinShift = 12
	allocMaxShift = 26
	allocClasses  = allocMaxShift - allocMinShift
)

var parquetAlloc = &pageAlloc{}

// class is the pool of buffers of 1<<(allocMinShift+1+class) bytes that
// holds size bytes, or -1.
func allocClass(size int) int {
	if size <= 1<<allocMinShift || size > 1<<allocMaxShift {
		return -1
	}
	return bits.Len(uint(size-1)) - allocMinShift - 1
}

func (a *pageAlloc) Allocate(size int) []byte {
	c := allocClass(size)
	if c < 0 {
		return memory.DefaultAllocator.Allocate(size)
	}
	if p, ok := a.pools[c].Get().(*[]byte); ok {
		b := (*p)[:size]
		clear(b)
		return b
	}
	// A power of two of 8 KiB or more is page-aligned in Go's heap, so
	// past arrow's 64-byte alignment.
	return make([]byte, size, 1<<(allocMinShift+1+c))
}

func (a *pageAlloc) Reallocate(size int, b []byte) []byte {
	if size <= cap(b) {
		old := len(b)
		b = b[:size]
		if size > old {
			clear(b[old:])
		}
		return b
	}
	nb := a.Allocate(size)
	copy(nb, b)
	a.Free(b)
	return nb
}

func (a *pageAlloc) Free(b []byte) {
	n := cap(b)
	c := allocClass(n)
	// Only this allocator's own buffers, whole: a power of two's capacity.
	if c < 0 || n != 1<<(allocMinShift+1+c) {
		return
	}
	b = b[:0]
	a.pools[c].Put(&b)
}

var _ memory.Allocator = (*pageAlloc)(nil)
