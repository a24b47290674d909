package format

import (
	"bytes"
	"runtime"
	"sync"
	"testing"
)

// Buffers come back zeroed, as the Go allocator's do (arrow-go relies
// on it: bitmaps and levels are written by setting bits), also where a
// reused buffer is grown within its capacity.
func TestPageAllocZeroesReusedBuffers(t *testing.T) {
	a := &pageAlloc{}
	zero := func(what string, b []byte) {
		t.Helper()
		if i := bytes.IndexFunc(b, func(r rune) bool { return r != 0 }); i >= 0 {
			t.Fatalf("%s: byte %d of %d is not zero", what, i, len(b))
		}
	}
	// Pools may drop what is put in them; a few tries see a reuse.
	reused := false
	for range 100 {
		b := a.Allocate(100_000)
		if len(b) != 100_000 || cap(b) != 128<<10 {
			t.Fatalf("len %d cap %d, want 100000 and 128 KiB", len(b), cap(b))
		}
		zero("allocated", b)
		for i := range b {
			b[i] = 0xff
		}
		p := &b[0]
		b = a.Reallocate(50_000, b)
		b = a.Reallocate(120_000, b)
		if &b[0] != p || len(b) != 120_000 {
			t.Fatal("growing within the capacity moved the buffer")
		}
		zero("grown again", b[50_000:])
		a.Free(b)
		c := a.Allocate(70_000)
		zero("reallocated", c)
		reused = reused || &c[0] == p
		a.Free(c)
		runtime.Gosched()
	}
	if !reused {
		t.Error("no buffer was ever reused")
	}
}

// Small and huge sizes are the Go allocator's; buffers that are not whole
// powers of two (not this allocator's) are not pooled.
func TestPageAllocClasses(t *testing.T) {
	for _, c := range []struct{ size, class int }{
		{1, -1}, {4096, -1}, {4097, 0}, {8192, 0}, {8193, 1}, {1 << 26, allocClasses - 1}, {1<<26 + 1, -1},
	} {
		if got := allocClass(c.size); got != c.class {
			t.Errorf("allocClass(%d) = %d, want %d", c.size, got, c.class)
		}
	}
	a := &pageAlloc{}
	b := make([]byte, 10_000, 10_000)
	a.Free(b) // not a power of two: dropped
	for range 20 {
		if c := a.Allocate(9000); cap(c) != 16<<10 {
			t.Fatalf("cap %d, want 16 KiB", cap(c))
		}
	}
}

// Encoders running at once share the allocator: files written in
// parallel read back as when written alone.
func TestParquetParallelWritersShareAllocator(t *testing.T) {
	batches := lineitemBatches(4, 20_000)
	var alone bytes.Buffer
	write := func(w *bytes.Buffer) error {
		enc, err := NewEncoder(w, lineitemSchema, WithFormat(Parquet))
		if err != nil {
			return err
		}
		for _, rec := range batches {
			if err := enc.Write(rec); err != nil {
				return err
			}
		}
		return enc.Close()
	}
	if err := write(&alone); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	outs := make([]bytes.Buffer, 4)
	errs := make([]error, len(outs))
	for i := range outs {
		wg.Go(func() { errs[i] = write(&outs[i]) })
	}
	wg.Wait()
	for i := range outs {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !bytes.Equal(outs[i].Bytes(), alone.Bytes()) {
			t.Errorf("writer %d: %d bytes, differ from the %d written alone", i, outs[i].Len(), alone.Len())
		}
	}
}
