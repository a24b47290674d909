// Package pipe implements `hp pipe`: run many table jobs from one
// pipeline file (core/internal/pipe), each as hp cp snap or hp cp delta.
package pipe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/halfpipe-io/halfpipe/core/internal/cliutil"
	"github.com/halfpipe-io/halfpipe/core/internal/config"
	"github.com/halfpipe-io/halfpipe/core/internal/pipe"
	"github.com/halfpipe-io/halfpipe/core/internal/run"
	"github.com/halfpipe-io/halfpipe/sdk/host"
)

// Options are the inputs of `hp pipe run` and `hp pipe validate`.
type Options struct {
	IO      *cliutil.IOStreams
	Host    func() *host.Host
	Conns   *config.Store
	Logger  func() *slog.Logger
	Version string
	Now     func() time.Time
	// Mask removes the secrets of the run's connections from an error.
	Mask func(error) error

	Pipe   pipe.Options
	DryRun bool
}

// NewCmd returns `hp pipe` with its subcommands.
func NewCmd(f *cliutil.Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "pipe", Short: "Run many table jobs from one pipeline file (snapshots and deltas, side by side)"}
	cmd.AddCommand(newRunCmd(f), newValidateCmd(f))
	return cmd
}

func newOptions(f *cliutil.Factory) *Options {
	return &Options{
		IO: f.IO, Host: f.Host, Conns: f.Conns(), Version: f.Version, Now: time.Now,
		Logger: func() *slog.Logger { return f.Logger },
		Mask:   func(err error) error { return cliutil.MaskRunSecrets(f, nil, err) },
	}
}

// fileArg takes FILE, which wins over --pipe (HP_PIPE).
func fileArg(cmd *cobra.Command, args []string) error {
	if len(args) > 1 {
		return cliutil.UsageErrorf("%s takes one FILE, got %d arguments", cmd.CommandPath(), len(args))
	}
	return nil
}

// runE runs o with FILE, if given, as the pipeline.
func runE(o *Options) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == 1 {
			o.Pipe.Pipe = args[0]
		}
		return Run(cmd.Context(), o)
	}
}

func newRunCmd(f *cliutil.Factory) *cobra.Command {
	o := newOptions(f)
	cmd := &cobra.Command{
		Use:   "run [FILE]",
		Short: "Run the jobs of a pipeline file, each its own run with its own manifest",
		Long: `Run the jobs of a pipeline file (YAML: defaults and a list of jobs, each
a snap or delta from a source table to a target, with hp cp's options by
their flag names; see docs/pipe.md). A source whose table name holds * or
is a /regex/ becomes one job per matching table, listed as hp ls lists
them. Every job is validated before any runs.

Jobs run --jobs at a time, each exactly as hp cp snap or hp cp delta would
run it, with its own run id and manifest; a failed job does not stop the
others. The JSON summary (per job: status, rows, run id, error) goes to
stdout or --summary; --failed-from that summary reruns the jobs that did
not succeed. An interrupt starts no more jobs and stops the running ones
(which publish nothing).

Exit codes: 0 every job succeeded, 1 a job failed or did not run, 2 the
pipeline file or the command line is wrong (nothing ran).`,
		Example: `  hp pipe run nightly.yaml
  hp pipe run nightly.yaml --jobs 8 --summary nightly-summary.json
  hp pipe run nightly.yaml --failed-from nightly-summary.json --summary rerun.json
  hp pipe run nightly.yaml --only pg.public.orders --dry-run
  HP_PIPE=s3://config/nightly.yaml hp pipe run`,
		Args: fileArg,
		RunE: runE(o),
	}
	pipe.BindFlags(cmd.Flags(), &o.Pipe)
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "Print the jobs the file expands to and exit without running them")
	return cmd
}

func newValidateCmd(f *cliutil.Factory) *cobra.Command {
	o := newOptions(f)
	o.DryRun = true
	cmd := &cobra.Command{
		Use:   "validate [FILE]",
		Short: "Check a pipeline file and print the jobs it expands to, without running them",
		Long: `Check a pipeline file as hp pipe run does before it runs anything: the
YAML (strictly: an unknown key is an error naming its line), every job's
options, the table selections (listed from the sources), and every job's
plan. Prints the jobs; exits 2 naming every error.`,
		Example: `  hp pipe validate nightly.yaml`,
		Args:    fileArg,
		RunE:    runE(o),
	}
	cmd.Flags().StringVar(&o.Pipe.Pipe, "pipe", "", "The pipeline when no FILE is given: a file path, an s3:// or file:// URL, or the YAML itself")
	o.Pipe.Jobs = pipe.DefaultJobs
	return cmd
}

// Run validates the pipeline and runs its jobs (or, dry, prints them).
func Run(ctx context.Context, o *Options) error {
	list := pipe.HostLister(o.Host, o.Conns)
	tasks, err := pipe.Prepare(ctx, &o.Pipe, list, o.Conns, o.Now())
	if err != nil {
		return err
	}
	if o.DryRun {
		return printTasks(o, tasks)
	}
	r := &pipe.Runner{
		Env:   run.Env{Host: o.Host, Logger: o.Logger(), Version: o.Version, Now: o.Now},
		Conns: o.Conns, Jobs: o.Pipe.Jobs,
		Mask: o.Mask,
		Done: func(r pipe.Result) { printResult(o, r) },
	}
	s := r.Run(ctx, tasks)
	fmt.Fprintf(o.IO.ErrOut, "pipe: %d ok, %d failed, %d not run, in %.1fs\n", s.OK, s.Failed, s.NotRun, s.FinishedAt.Sub(s.StartedAt).Seconds())
	if o.Pipe.Summary != "" {
		// Written whatever the context: it is what --failed-from reruns.
		if err := pipe.WriteSummary(context.WithoutCancel(ctx), o.Pipe.Summary, s); err != nil {
			return fmt.Errorf("writing the summary: %w", err)
		}
	} else if err := cliutil.WriteJSON(o.IO.Out, s); err != nil {
		return err
	}
	if s.Failed+s.NotRun > 0 {
		msg := fmt.Sprintf("%d of %d jobs failed", s.Failed, len(s.Jobs))
		if s.NotRun > 0 {
			msg += fmt.Sprintf(", %d did not run", s.NotRun)
		}
		err := errors.New(msg)
		if ctx.Err() != nil {
			err = fmt.Errorf("%w: %w", err, ctx.Err())
		}
		return &failed{err}
	}
	return nil
}

// failed is a pipe in which a job failed: exit 1, whatever the jobs'
// errors were (a job's bad option is not the pipe's usage error).
type failed struct{ err error }

func (e *failed) Error() string { return e.err.Error() }

// Unwrap exposes only a cancellation (for hp's message on it).
func (e *failed) Unwrap() error {
	if errors.Is(e.err, context.Canceled) {
		return context.Canceled
	}
	return nil
}

func printResult(o *Options, r pipe.Result) {
	switch r.Status {
	case pipe.StatusOK:
		where := r.ManifestURL
		if where == "" {
			where = r.Target
		}
		fmt.Fprintf(o.IO.ErrOut, "pipe: ok      %s: %d rows in %.1fs → %s\n", r.Name, r.Rows, r.Seconds, where)
	default:
		fmt.Fprintf(o.IO.ErrOut, "pipe: %-7s %s: %s\n", r.Status, r.Name, r.Error)
	}
}

func printTasks(o *Options, tasks []pipe.Task) error {
	tw := tabwriter.NewWriter(o.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tSOURCE\tTARGET\tLINE")
	for _, t := range tasks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", t.Name, t.Kind, t.Spec.Source, t.Spec.Target, t.Line)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(o.IO.ErrOut, "pipe: %d jobs, all valid (nothing was run)\n", len(tasks))
	return err
}
