//go:build unix

package testkit

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// BenchRead reads req through c b.N times, failing unless each read
// yields want rows, and reports rows/s and the CPU seconds of a read:
// CPU time tells more than wall time on a machine shared with other work.
func BenchRead(b *testing.B, c sdk.Reader, req sdk.ReadRequest, want int64) {
	b.Helper()
	cpu0 := cpuTime(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rr, err := c.Read(context.Background(), req)
		if err != nil {
			b.Fatal(err)
		}
		var rows int64
		for rr.Next() {
			rows += rr.RecordBatch().NumRows()
		}
		err = rr.Err()
		rr.Release()
		if err != nil {
			b.Fatal(err)
		}
		if rows != want {
			b.Fatalf("read %d rows of %d", rows, want)
		}
	}
	b.ReportMetric(float64(want*int64(b.N))/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric((cpuTime(b)-cpu0).Seconds()/float64(b.N), "cpu-s/op")
}

// cpuTime is the user and system time of this process so far.
func cpuTime(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
