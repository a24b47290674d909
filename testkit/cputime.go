//go:build unix

package testkit

import (
	"syscall"
	"testing"
	"time"
)

// CPUTime is the user and system time of this process so far: benchmarks
// report it beside wall time, which tells less on a machine shared with
// other work.
func CPUTime(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
