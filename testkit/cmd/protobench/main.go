// Command protobench measures the plugin boundary: it launches the gen
// plugin through the host, streams a table through gRPC and Arrow IPC, and
// discards the batches. It prints rows/s, MB/s (Arrow buffer bytes) and
// the peak RSS of itself and of the plugin.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/plugins/gen/gen"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/host"
	"github.com/halfpipe-io/halfpipe/testkit/measure"
)

func main() {
	dir := flag.String("plugins", "bin/plugins", "directory holding hp-plugin-gen")
	rows := flag.Int64("rows", 10_000_000, "rows to stream")
	table := flag.String("table", "narrow", "gen table")
	flag.Parse()
	if err := baseline(*rows, *table); err != nil {
		fmt.Fprintln(os.Stderr, "protobench:", err)
		os.Exit(1)
	}
	if err := run(*dir, *rows, *table); err != nil {
		fmt.Fprintln(os.Stderr, "protobench:", err)
		os.Exit(1)
	}
}

// baseline reads the same table from the connector in-process: the cost of
// generating the rows, without the plugin boundary.
func baseline(rows int64, table string) error {
	start := time.Now()
	rr, err := gen.New().Read(context.Background(), request(rows, table))
	if err != nil {
		return err
	}
	n, bytes, err := drain(rr)
	if err != nil {
		return err
	}
	report("baseline: gen in-process ("+table+")", n, bytes, time.Since(start), "")
	return nil
}

func request(rows int64, table string) sdk.ReadRequest {
	return sdk.ReadRequest{Conn: sdk.Connection{DSN: fmt.Sprintf("gen://?rows=%d", rows)}, Source: sdk.Source{Object: &sdk.ObjectRef{Name: table}}}
}

func drain(rr array.RecordReader) (n, bytes int64, err error) {
	defer rr.Release()
	for rr.Next() {
		rec := rr.RecordBatch()
		n += rec.NumRows()
		for _, c := range rec.Columns() {
			for _, b := range c.Data().Buffers() {
				if b != nil {
					bytes += int64(b.Len())
				}
			}
		}
	}
	return n, bytes, rr.Err()
}

func report(what string, n, bytes int64, elapsed time.Duration, rss string) {
	fmt.Printf("%-44s %11d rows %7.2fs %11s rows/s %8.1f MB/s  %s\n", what, n, elapsed.Seconds(),
		measure.Thousands(int64(float64(n)/elapsed.Seconds())), float64(bytes)/1e6/elapsed.Seconds(), rss)
}

func run(dir string, rows int64, table string) error {
	h := host.New([]host.Dir{{Path: dir}}, host.DiscoverOptions{}, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	defer h.Close()
	ctx := context.Background()
	inst, err := h.ByName(ctx, "gen")
	if err != nil {
		return err
	}
	start := time.Now()
	rr, err := inst.Read(ctx, request(rows, table))
	if err != nil {
		return err
	}
	n, bytes, err := drain(rr)
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	pluginRSS, _ := measure.PeakRSS(inst.Pid())
	selfRSS, _ := measure.PeakRSS(os.Getpid())
	report("gen plugin → gRPC → host ("+table+")", n, bytes, elapsed, "peak RSS host "+measure.MB(selfRSS)+", plugin "+measure.MB(pluginRSS))
	return nil
}
