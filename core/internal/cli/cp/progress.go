package cp

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/halfpipe-io/halfpipe/core/internal/cliutil"
	"github.com/halfpipe-io/halfpipe/core/internal/engine"
)

// startProgress shows a live line on a terminal, or logs a stats line
// every interval seconds; the returned func stops it.
func startProgress(ctx context.Context, io *cliutil.IOStreams, log *slog.Logger, st *engine.Stats, interval int) func() {
	if interval <= 0 && !io.ErrTTY {
		return func() {}
	}
	period := time.Duration(interval) * time.Second
	if interval <= 0 {
		period = 250 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				if interval <= 0 {
					fmt.Fprint(io.ErrOut, "\r\033[K")
				}
				return
			case <-t.C:
				rows, bytes := st.Rows.Load(), st.Bytes.Load()
				rate := float64(rows) / time.Since(start).Seconds()
				if interval > 0 {
					log.Warn("stats", "rows", rows, "bytes", bytes, "files", st.Files.Load(), "rows_per_second", int64(rate))
				} else {
					fmt.Fprintf(io.ErrOut, "\r\033[K%d rows, %s, %.0f rows/s", rows, cliutil.HumanBytes(bytes), rate)
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}
