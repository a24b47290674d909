package cp

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/halfpipe-io/halfpipe/core/internal/cliutil"
	"github.com/halfpipe-io/halfpipe/core/internal/config"
	"github.com/halfpipe-io/halfpipe/core/internal/engine"
	"github.com/halfpipe-io/halfpipe/core/internal/run"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/host"
)

// Options are the inputs of `hp cp snap` and `hp cp delta`: the run, and
// how to show it.
type Options struct {
	IO      *cliutil.IOStreams
	Host    func() *host.Host
	Conns   *config.Store
	Logger  func() *slog.Logger
	Version string
	Now     func() time.Time

	Spec   run.Spec
	Output string
	DryRun bool
	Stats  int
}

func newOptions(f *cliutil.Factory) *Options {
	return &Options{
		IO: f.IO, Host: f.Host, Version: f.Version, Now: time.Now,
		Logger: func() *slog.Logger { return f.Logger },
		Conns:  f.Conns(),
	}
}

func newSnapCmd(f *cliutil.Factory) *cobra.Command {
	o := newOptions(f)
	cmd := &cobra.Command{
		Use:   "snap <conn>.[<schema>.]<table> <conn>.<object>",
		Short: "Copy a whole table (or query result) into files or a table",
		Long: `Copy a whole table, or the result of --query, into CSV, Parquet or JSON
Lines files (local, S3, stdout) with a manifest, or into a table of another
database.

Files appear only when complete; the manifest (_manifest.json) is written
last and marks the run as published. A failed run leaves no manifest and
removes its files.

A file or S3 connection is a source too: <conn>.<object> reads the latest
run published under the object, <conn>.<object>@<run_id> a given one, with
the manifest's types, every file checked against the manifest (size,
SHA-256, rows) as it is read. --files 'GLOB' reads plain files instead
(CSV, TSV, JSON Lines, Parquet; --schema gives their types).`,
		Example: `  hp cp snap pg.public.orders out.extracts/orders --format parquet
  hp cp snap demo.sample_data out.sample --format csv --compression none --max-file-rows 100000
  hp cp snap pg.public.lineitem out.extracts/lineitem --format parquet --parallel 4
  hp cp snap pg.x out.y --query "select id, total from orders where total > 0"
  hp cp snap lake.orders pg.public.orders
  hp cp snap lake.orders@20261125T033000Z-1a2b3c4d lake.orders_parquet --format parquet
  hp cp snap lake pg.public.orders --files 'in/*.csv.gz' --schema 'id:int64,amount:decimal(18,2)'`,
		Args: cliutil.ExactArgs(2, "a source and a target (<conn>.<table> <conn>.<object>)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Spec.Source, o.Spec.Target = args[0], args[1]
			return RunSnap(cmd.Context(), o)
		},
	}
	bindFlags(cmd.Flags(), o, run.KindSnap)
	return cmd
}

// bindFlags binds the run's flags and the CLI's own.
func bindFlags(fl *pflag.FlagSet, o *Options, kind run.Kind) {
	run.BindFlags(fl, &o.Spec, kind)
	fl.StringVar(&o.Output, "output", "text", "Summary format: text (stderr) or json (stdout)")
	fl.BoolVar(&o.DryRun, "dry-run", false, "Print the plan and exit without reading anything")
	fl.IntVarP(&o.Stats, "stats", "L", 0, "Log a stats line every N seconds (0 = progress on a terminal only)")
}

// plan validates the options into a run.Plan.
func (o *Options) plan(kind run.Kind) (*run.Plan, error) {
	p, err := run.NewPlan(kind, o.Spec, o.Conns, o.Now())
	if err != nil {
		return nil, err
	}
	if err := cliutil.CheckOutput(o.Output); err != nil {
		return nil, err
	}
	return p, nil
}

// env is what the run needs, with progress and events shown as asked.
func (o *Options) env() run.Env {
	return run.Env{
		Host: o.Host, Out: o.IO.Out, Logger: o.Logger(), Version: o.Version, Now: o.Now,
		CountRows: o.IO.ErrTTY && o.Stats <= 0,
		Progress: func(ctx context.Context, st *engine.Stats, total *atomic.Int64) func() {
			return cliutil.StartProgress(ctx, o.IO, o.Logger(), st, o.Stats, total)
		},
		Events: func(ev run.Event) {
			switch {
			case ev.TookOver != nil:
				l := ev.TookOver
				fmt.Fprintf(o.IO.ErrOut, "hp: took over the delta state lock of run %s (pid %d on this host, no longer running) at %s\n", l.RunID, l.PID, l.StateURL)
			case ev.Summary != nil && o.Output != "json":
				s := ev.Summary
				fmt.Fprintf(o.IO.ErrOut, "delta %s: %d rows, %d files, %s → %s\n", ev.Range, s.Rows, s.Files, cliutil.HumanBytes(s.Bytes), orNone(s.ManifestURL))
			}
		},
	}
}

// RunSnap runs the snapshot.
func RunSnap(ctx context.Context, o *Options) error {
	p, err := o.plan(run.KindSnap)
	if err != nil {
		return err
	}
	if o.DryRun {
		return o.printPlan(p)
	}
	s, err := run.Snapshot(ctx, o.env(), p)
	if err != nil {
		return err
	}
	if !p.TargetIsStore && !p.Staged() {
		fmt.Fprintf(o.IO.ErrOut, "snap: %d rows into %s in %.1fs\n", s.Rows, s.Target, s.Seconds)
		return nil
	}
	if o.Output == "json" {
		return cliutil.WriteJSON(o.IO.Out, s)
	}
	where := s.ManifestURL
	if where == "" {
		where = p.Tgt.Name
	}
	fmt.Fprintf(o.IO.ErrOut, "%s: %d rows, %d files, %s in %.1fs (%.0f rows/s) → %s\n",
		s.Mode, s.Rows, s.Files, cliutil.HumanBytes(s.Bytes), s.Seconds, s.RowsPerSec, where)
	return nil
}

func (o *Options) printPlan(p *run.Plan) error {
	w := o.IO.Out
	fmt.Fprintf(w, "plan (dry run, nothing is read or written)\n")
	fmt.Fprintf(w, "  source:   %s = %s (%s)\n", p.Src.Name, sdk.MaskDSN(p.Src.DSN), p.Src.From)
	switch {
	case p.SrcRun != nil && p.SrcRun.Files != "":
		fmt.Fprintf(w, "  files:    %s (plain files, in name order)\n", p.SrcRun)
	case p.SrcRun != nil:
		fmt.Fprintf(w, "  runs:     %s (the latest run when no @<run_id> is given)\n", p.SrcRun)
	case p.Spec.Query != "":
		fmt.Fprintf(w, "  query:    %s\n", p.Spec.Query)
	default:
		fmt.Fprintf(w, "  table:    %s\n", p.SrcRef)
	}
	if len(p.Columns) > 0 {
		fmt.Fprintf(w, "  columns:  %s\n", strings.Join(p.Columns, ", "))
	}
	if p.Spec.Where != "" {
		fmt.Fprintf(w, "  where:    %s\n", p.Spec.Where)
	}
	if p.Spec.Parallel > 1 {
		fmt.Fprintf(w, "  slices:   %d at once, at one point in time (read whole if the connector cannot split reads)\n", p.Spec.Parallel)
	}
	fmt.Fprintf(w, "  target:   %s = %s (%s)\n", p.Tgt.Name, sdk.MaskDSN(p.Tgt.DSN), p.Tgt.From)
	if !p.TargetIsStore {
		mode := string(p.WriteMode)
		switch {
		case p.Kind == run.KindDelta:
			mode = "each range appended, or merged on the primary keys"
		case p.WriteMode == sdk.Merge:
			mode += " on " + strings.Join(p.Keys, ", ")
		}
		fmt.Fprintf(w, "  table:    %s (%s)\n", p.TgtObject, mode)
		return nil
	}
	fmt.Fprintf(w, "  format:   %s, compression %s\n", p.Format, p.Compression)
	fmt.Fprintf(w, "  files:    %s, ...\n", p.Layout.File(p.Vars, 1))
	fmt.Fprintf(w, "  manifest: %s\n", p.Layout.Manifest(p.Vars))
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
