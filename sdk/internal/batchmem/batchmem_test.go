package batchmem

import (
	"testing"
	"unsafe"
)

func TestClasses(t *testing.T) {
	for n := minPooled + 1; n <= maxPooled; n += 4093 {
		c := class(n)
		size := classSize(c)
		if size < n || size > n+n/4+1 {
			t.Fatalf("%d bytes: class %d of %d bytes", n, c, size)
		}
		if class(size) != c {
			t.Fatalf("class %d's size %d is in class %d", c, size, class(size))
		}
	}
	if got := class(maxPooled); got != nClasses-1 {
		t.Fatalf("the largest class is %d of %d", got, nClasses)
	}
}

// A freed buffer is the next one of its class, cleared and 64-byte
// aligned; small, huge and foreign buffers are not kept.
func TestPoolReuses(t *testing.T) {
	p := NewPool()
	a := p.Allocate(100 << 10)
	if len(a) != 100<<10 || uintptr(unsafe.Pointer(unsafe.SliceData(a)))%64 != 0 {
		t.Fatalf("%d bytes at %p", len(a), a)
	}
	for i := range a {
		a[i] = 0xAB
	}
	p.Free(a[:10])
	b := p.Allocate(90 << 10) // a class below a's: a fits
	if unsafe.SliceData(b) != unsafe.SliceData(a) {
		t.Fatal("the freed buffer was not reused")
	}
	for i, x := range b[:cap(b)] {
		if x != 0 {
			t.Fatalf("byte %d of a reused buffer is %#x", i, x)
		}
	}
	if c := p.Allocate(100 << 10); unsafe.SliceData(c) == unsafe.SliceData(b) {
		t.Fatal("a buffer in use was handed out again")
	}
	p.Free(make([]byte, 100<<10)) // not a class size
	p.Free(make([]byte, 4<<10))
	p.Free(p.Allocate(maxPooled + 1))
	if p.held != 0 {
		t.Fatalf("%d bytes kept of buffers not the pool's", p.held)
	}
	for range 2 * maxHeld / (8 << 20) {
		p.Free(p.Allocate(8 << 20)[:0])
		p.Free(make([]byte, 8<<20))
	}
	if p.held > maxHeld {
		t.Fatalf("%d bytes held, more than %d", p.held, maxHeld)
	}
}

// The IPC reader's view of the pool skips the clearing, and shares the
// buffers.
func TestOverwrittenSharesThePool(t *testing.T) {
	p := NewPool()
	u := unzeroed{p}
	a := p.Allocate(1 << 20)
	a[0] = 7
	u.Free(a)
	if b := u.Allocate(1 << 20); unsafe.SliceData(b) != unsafe.SliceData(a) || b[0] != 7 {
		t.Fatal("the unzeroed view did not hand out the freed buffer as it was")
	}
}
