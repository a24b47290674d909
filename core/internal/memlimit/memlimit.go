// Package memlimit keeps hp's heap near what it needs. Go lets the heap
// grow to twice the live data between collections (GOGC=100); for the
// Parquet writer, whose live data is some 60 MB, that headroom was most of
// hp's peak. A soft limit of Floor caps it, and is raised to one and a
// half times the live heap when a job needs more (tables of large values),
// so that the collector never runs without room to work.
package memlimit

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Floor is the soft memory limit while the live heap is small.
const Floor = 80 << 20

// Limit is the soft limit for a live heap of the given size.
func Limit(live uint64) int64 {
	return max(Floor, int64(live+live/2))
}

// Start applies the limit now and follows the live heap (read every 100
// ms) until stop is called. A GOMEMLIMIT in the environment wins: then
// Start does nothing.
func Start() (stop func()) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	debug.SetMemoryLimit(Floor)
	done := make(chan struct{})
	go func() {
		s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			metrics.Read(s)
			if s[0].Value.Kind() == metrics.KindUint64 {
				debug.SetMemoryLimit(Limit(s[0].Value.Uint64()))
			}
		}
	}()
	return func() { close(done) }
}
