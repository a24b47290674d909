package memlimit

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestLimit(t *testing.T) {
	for live, want := range map[uint64]int64{0: Floor, 50 << 20: Floor, 64 << 20: 96 << 20, 200 << 20: 300 << 20} {
		if got := Limit(live); got != want {
			t.Errorf("Limit(%d MiB) = %d MiB, want %d MiB", live>>20, got>>20, want>>20)
		}
	}
}

// TestStartFollowsTheLiveHeap: the limit starts at Floor and rises with a
// live heap larger than it, so a job of large values is not starved.
func TestStartFollowsTheLiveHeap(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	defer debug.SetMemoryLimit(math.MaxInt64)
	stop := Start()
	defer stop()
	if got := debug.SetMemoryLimit(-1); got != Floor {
		t.Fatalf("limit at start: %d, want %d", got, Floor)
	}
	live := make([][]byte, 0, 200)
	for range 200 {
		live = append(live, make([]byte, 1<<20))
	}
	runtime.GC()
	deadline := time.Now().Add(3 * time.Second)
	for debug.SetMemoryLimit(-1) < 280<<20 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := debug.SetMemoryLimit(-1); got < 280<<20 {
		t.Errorf("limit with 200 MiB live: %d MiB, want at least 280", got>>20)
	}
	runtime.KeepAlive(live)
}

func TestGOMEMLIMITWins(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "1GiB")
	before := debug.SetMemoryLimit(-1)
	Start()()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("limit changed to %d with GOMEMLIMIT set", got)
	}
}
