// Package gc implements `hp gc`: remove what killed runs left behind.
package gc

import (
	"context"
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/spf13/cobra"

	"github.com/halfpipe-io/halfpipe/core/internal/cliutil"
	"github.com/halfpipe-io/halfpipe/core/internal/config"
	"github.com/halfpipe-io/halfpipe/core/internal/layout"
	"github.com/halfpipe-io/halfpipe/core/internal/leftovers"
	"github.com/halfpipe-io/halfpipe/core/internal/store"
)

// Options are the inputs of `hp gc`.
type Options struct {
	IO        *cliutil.IOStreams
	Conns     *config.Store
	Target    string
	Output    string
	OlderThan time.Duration
	Delete    bool
	S3        store.S3Options
}

// Summary is the JSON of hp gc: what is (or would be) removed.
type Summary = leftovers.Summary

// NewCmd returns the command.
func NewCmd(f *cliutil.Factory) *cobra.Command {
	o := &Options{IO: f.IO, Conns: &config.Store{Path: config.DefaultPath(f.Getenv), LookupEnv: f.LookupEnv}}
	cmd := &cobra.Command{
		Use:   "gc <conn>[.<prefix>]",
		Short: "Remove unpublished runs and unfinished writes left by killed runs",
		Long: `Remove what runs left without publishing it, under a prefix of a file or
S3 target (a bare connection name means the whole store): the files of
runs that have no manifest, temporary files, empty run directories, and
unfinished S3 multipart uploads (which S3 bills for until aborted).

Only what was last written more than --older-than ago is touched, so that
a run in progress keeps its files; a published run (one with a manifest,
even an unreadable one) is never touched, nor are objects that do not
look like hp's (a run id directory, or a halfpipe-layout name).

Without --delete this is a dry run: it lists what it would remove and
changes nothing.`,
		Example: `  hp gc out.extracts
  hp gc out.extracts --delete
  hp gc lake --older-than 72h --delete --output json`,
		Args: cliutil.ExactArgs(1, "one <conn>[.<prefix>]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Target = args[0]
			return Run(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Output, "output", "text", "Output format: text or json")
	fl.DurationVar(&o.OlderThan, "older-than", 24*time.Hour, "Touch only leftovers last written longer ago than this")
	fl.BoolVar(&o.Delete, "delete", false, "Delete (without it, only list what would be deleted)")
	store.BindS3Flags(fl, &o.S3)
	return cmd
}

// Run lists, and with Delete removes, the leftovers older than OlderThan.
func Run(ctx context.Context, o *Options) error {
	if err := cliutil.CheckOutput(o.Output); err != nil {
		return err
	}
	if o.OlderThan < 0 {
		return cliutil.UsageErrorf("--older-than must not be negative, got %s", o.OlderThan)
	}
	st, prefix, err := cliutil.OpenPrefix(ctx, o.Conns, o.Target, o.IO.Out, o.S3)
	if err != nil {
		return err
	}
	rep, err := leftovers.Scan(ctx, st, prefix, true)
	if err != nil {
		return err
	}
	now := time.Now()
	cutoff := now.Add(-o.OlderThan)
	kept := 0
	old := &leftovers.Report{}
	for _, r := range rep.Orphans {
		if r.Newest.After(cutoff) {
			kept++
			continue
		}
		old.Orphans = append(old.Orphans, r)
	}
	for _, p := range rep.Pending {
		if p.Started.After(cutoff) {
			kept++
			continue
		}
		old.Pending = append(old.Pending, p)
	}
	sum := leftovers.Summarize(st, old, now)
	var errs []error
	if o.Delete {
		for i, r := range old.Orphans {
			if err := deleteRun(ctx, st, r); err != nil {
				errs = append(errs, err)
				continue
			}
			sum.Runs[i].Deleted = true
		}
		pl, _ := st.(store.PendingLister)
		for i, p := range old.Pending {
			if err := pl.AbortPending(ctx, p); err != nil {
				errs = append(errs, fmt.Errorf("discarding the unfinished write of %s: %w", st.URL(p.Key), err))
				continue
			}
			sum.Pending[i].Deleted = true
			if l, ok := st.(*store.Local); ok && layout.IsRunGroup(path.Dir(p.ID)) {
				if err := l.RemoveEmptyDirs(ctx, path.Dir(p.ID)); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	if o.Output == "json" {
		if err := cliutil.WriteJSON(o.IO.Out, sum); err != nil {
			return err
		}
	} else if err := leftovers.Print(o.IO.Out, sum); err != nil {
		return err
	}
	var bytes int64
	for _, r := range sum.Runs {
		bytes += r.Bytes
	}
	what := fmt.Sprintf("%s (%s) and %s older than %s under %s", plural(len(sum.Runs), "unpublished run"), cliutil.HumanBytes(bytes),
		plural(len(sum.Pending), "unfinished write"), o.OlderThan, st.URL(prefix))
	if o.Delete {
		fmt.Fprintf(o.IO.ErrOut, "deleted %s; kept %s younger\n", what, plural(kept, "leftover"))
	} else {
		fmt.Fprintf(o.IO.ErrOut, "dry run: would delete %s (kept: %s younger); run again with --delete to delete\n", what, plural(kept, "leftover"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("gc under %s: %w", st.URL(prefix), err)
	}
	return nil
}

// deleteRun removes an unpublished run's objects, unless a manifest has
// appeared in its place since the scan (the run was publishing).
func deleteRun(ctx context.Context, st store.Store, r leftovers.Orphan) error {
	now, err := st.List(ctx, r.Run)
	if err != nil {
		return fmt.Errorf("listing %s: %w", st.URL(r.Run), err)
	}
	for _, o := range now {
		if layout.RunGroup(o.Key) == r.Run && layout.IsManifest(o.Key, "") {
			return fmt.Errorf("not deleting %s: it was published while gc ran", st.URL(r.Run))
		}
	}
	for _, o := range r.Objects {
		if err := st.Delete(ctx, o.Key); err != nil {
			return fmt.Errorf("deleting %s: %w", st.URL(o.Key), err)
		}
	}
	if l, ok := st.(*store.Local); ok {
		return l.RemoveEmptyDirs(ctx, r.Run)
	}
	return nil
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
