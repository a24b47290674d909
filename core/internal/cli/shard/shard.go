// Package shard implements `hp plan`, `hp shard` and `hp commit`: one
// snapshot run as many processes (Step Functions Distributed Map,
// Kubernetes Indexed Jobs, AWS Batch array jobs) that publish one
// manifest.
package shard

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/halfpipe-io/halfpipe/core/internal/cliutil"
	"github.com/halfpipe-io/halfpipe/core/internal/config"
	"github.com/halfpipe-io/halfpipe/core/internal/run"
	"github.com/halfpipe-io/halfpipe/core/internal/shard"
	"github.com/halfpipe-io/halfpipe/sdk/host"
)

// Options are the inputs of the three commands.
type Options struct {
	IO      *cliutil.IOStreams
	Host    func() *host.Host
	Conns   *config.Store
	Logger  func() *slog.Logger
	Version string
	Now     func() time.Time

	Plan   string
	Output string
	// plan
	Spec    run.Spec
	Shards  int
	ShardBy string
	// shard
	Index int
}

func newOptions(f *cliutil.Factory) *Options {
	return &Options{IO: f.IO, Host: f.Host, Version: f.Version, Now: time.Now,
		Logger: func() *slog.Logger { return f.Logger }, Conns: f.Conns()}
}

func (o *Options) env() run.Env {
	return run.Env{Host: o.Host, Out: o.IO.Out, Logger: o.Logger(), Version: o.Version, Now: o.Now}
}

func (o *Options) bind(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&o.Plan, "plan", "", "The shard plan: a path, file:// or s3:// URL (?endpoint=&region= as in a DSN)")
	fl.StringVar(&o.Output, "output", "text", "Summary format: text (stderr) or json (stdout)")
}

// NewCmds returns plan, shard and commit.
func NewCmds(f *cliutil.Factory) []*cobra.Command {
	return []*cobra.Command{newPlanCmd(f), newShardCmd(f), newCommitCmd(f)}
}

func newPlanCmd(f *cliutil.Factory) *cobra.Command {
	o := newOptions(f)
	cmd := &cobra.Command{
		Use:   "plan <conn>.[<schema>.]<table> <conn>.<object> --shards N --plan URL",
		Short: "Plan a snapshot as N shards that separate processes read (hp shard), then publish (hp commit)",
		Long: `Write a shard plan: the run id, the cp snap options, and N slices of the
table as ranges of one key column (--shard-by, default the first primary
key column: an integer, decimal, date or timestamp), cut between the column's
minimum and maximum (the connector's bounds; no rows are read). The first
slice is open below and the last above.

Each slice is read by hp shard --plan URL --index i, in any process that
resolves the same connections; hp commit --plan URL publishes the one
manifest once every shard's receipt and files check out. Each shard reads
in a transaction of its own: the shards are not one point in time.

With --delta-driver the plan is a delta's: its one range above the delta
state's high-water mark (with --lookback, --delta-lag, --start-date or
--start-sequence as hp cp delta takes them), cut into N slices of the
driver (an integer, decimal, date or timestamp). hp commit publishes the run and
advances the mark to the range's high, under the state's lock, only if
the mark is still where the plan found it (else nothing is published:
plan again). With nothing new, the shards finish at once and the commit
publishes nothing.`,
		Example: `  hp plan pg.public.orders lake.orders --format parquet --shards 16 --plan s3://lake/plans/orders.json
  hp shard --plan s3://lake/plans/orders.json --index 3
  hp commit --plan s3://lake/plans/orders.json
  hp plan pg.public.orders lake.orders --delta-driver updated_at --primary-keys id --shards 8 --plan s3://lake/plans/orders-delta.json`,
		Args: cliutil.ExactArgs(2, "a source and a target (<conn>.<table> <conn>.<object>)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Spec.Source, o.Spec.Target = args[0], args[1]
			return RunPlan(cmd.Context(), o)
		},
	}
	run.BindFlags(cmd.Flags(), &o.Spec, run.KindSnap)
	run.BindDeltaFlags(cmd.Flags(), &o.Spec.Delta, false)
	o.bind(cmd)
	cmd.Flags().IntVar(&o.Shards, "shards", 0, "How many slices to cut the table into (1 to 10000)")
	cmd.Flags().StringVar(&o.ShardBy, "shard-by", "", "The NOT NULL integer, decimal, date or timestamp column the slices bound (default the first primary key column)")
	return cmd
}

func newShardCmd(f *cliutil.Factory) *cobra.Command {
	o := newOptions(f)
	cmd := &cobra.Command{
		Use:   "shard --plan URL --index I",
		Short: "Read one slice of a shard plan into its files and a receipt",
		Long: `Read slice --index of the plan into files under the run's directory
(shard-<index>-part-<n>.<ext>) and write the shard's receipt
(_shards/<index>.json: files, rows, bytes, SHA-256). Running an index again
first removes the receipt and files of its earlier attempt, so a failed or
killed shard is simply rerun. A committed run's shards cannot change.`,
		Example: `  hp shard --plan s3://lake/plans/orders.json --index 3
  hp shard --plan s3://lake/plans/orders.json --index "$JOB_COMPLETION_INDEX"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return RunShard(cmd.Context(), o) },
	}
	o.bind(cmd)
	cmd.Flags().IntVar(&o.Index, "index", -1, "The slice to read (0-based)")
	return cmd
}

func newCommitCmd(f *cliutil.Factory) *cobra.Command {
	o := newOptions(f)
	cmd := &cobra.Command{
		Use:   "commit --plan URL",
		Short: "Publish a sharded run's manifest once every shard's receipt and files check out",
		Long: `Check that every slice of the plan has a receipt and that every file a
receipt names is in the store with its size and SHA-256, then publish the
run's one manifest listing exactly those files. A missing receipt, a
missing or changed file publishes nothing and exits non-zero. Committing
a committed run again succeeds if its files are the same.`,
		Example: `  hp commit --plan s3://lake/plans/orders.json`,
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return RunCommit(cmd.Context(), o) },
	}
	o.bind(cmd)
	return cmd
}

func (o *Options) check() error {
	if o.Plan == "" {
		return cliutil.UsageErrorf("--plan URL is required")
	}
	return cliutil.CheckOutput(o.Output)
}

// RunPlan writes the plan.
func RunPlan(ctx context.Context, o *Options) error {
	if err := o.check(); err != nil {
		return err
	}
	p, err := shard.Make(ctx, o.env(), o.Conns, o.Spec, o.Shards, o.ShardBy, o.Now())
	if err != nil {
		return err
	}
	if err := shard.Write(ctx, o.Plan, p); err != nil {
		return err
	}
	if o.Output == "json" {
		return cliutil.WriteJSON(o.IO.Out, p)
	}
	fmt.Fprintf(o.IO.ErrOut, "plan: run %s, %d shards by %s → %s (manifest %s)\n", p.RunID, len(p.Slices), p.ShardBy, o.Plan, p.Manifest)
	return nil
}

// RunShard reads one slice.
func RunShard(ctx context.Context, o *Options) error {
	if err := o.check(); err != nil {
		return err
	}
	r, err := shard.Run(ctx, o.env(), o.Conns, o.Plan, o.Index)
	if err != nil {
		return err
	}
	if o.Output == "json" {
		return cliutil.WriteJSON(o.IO.Out, r)
	}
	fmt.Fprintf(o.IO.ErrOut, "shard %d of run %s: %d rows, %d files, %s\n", r.Index, r.RunID, r.Rows, len(r.Manifest.Files), cliutil.HumanBytes(r.Bytes))
	return nil
}

// RunCommit publishes the manifest.
func RunCommit(ctx context.Context, o *Options) error {
	if err := o.check(); err != nil {
		return err
	}
	s, err := shard.Commit(ctx, o.env(), o.Conns, o.Plan)
	if err != nil {
		return err
	}
	if o.Output == "json" {
		return cliutil.WriteJSON(o.IO.Out, s)
	}
	fmt.Fprintf(o.IO.ErrOut, "commit: %d rows, %d files, %s → %s\n", s.Rows, s.Files, cliutil.HumanBytes(s.Bytes), s.ManifestURL)
	return nil
}
