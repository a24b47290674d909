package cliutil

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/halfpipe-io/halfpipe/core/internal/engine"
)

// StartProgress shows a live line on a terminal (a bar once total reports
// the row count), or logs a stats line every interval seconds; the
// returned func stops it.
func StartProgress(ctx context.Context, io *IOStreams, log *slog.Logger, st *engine.Stats, interval int, total *atomic.Int64) func() {
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
					fmt.Fprint(io.ErrOut, "\r\033[K"+progressLine(rows, total.Load(), bytes, rate))
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

// progressLine renders the live line; with a known total it draws a bar.
func progressLine(rows, total, bytes int64, rate float64) string {
	line := fmt.Sprintf("%d rows, %s, %.0f rows/s", rows, HumanBytes(bytes), rate)
	if total <= 0 {
		return line
	}
	const width = 30
	done := min(width, int(rows*width/total))
	return fmt.Sprintf("[%s%s] %3d%% %s of %d", strings.Repeat("#", done), strings.Repeat("-", width-done), min(100, rows*100/total), line, total)
}
