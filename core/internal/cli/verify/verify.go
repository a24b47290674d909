// Package verify implements `hp verify`: re-read the data files of
// published runs and check them against their manifests.
package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/spf13/cobra"

	"github.com/halfpipe-io/halfpipe/core/internal/cliutil"
	"github.com/halfpipe-io/halfpipe/core/internal/config"
	"github.com/halfpipe-io/halfpipe/core/internal/leftovers"
	"github.com/halfpipe-io/halfpipe/core/internal/manifest"
	"github.com/halfpipe-io/halfpipe/core/internal/store"
	check "github.com/halfpipe-io/halfpipe/core/internal/verify"
)

// Options are the inputs of `hp verify`.
type Options struct {
	IO       *cliutil.IOStreams
	Conns    *config.Store
	Target   string
	Output   string
	Parallel int
	S3       store.S3Options
}

// NewCmd returns the command.
func NewCmd(f *cliutil.Factory) *cobra.Command {
	o := &Options{IO: f.IO, Conns: &config.Store{Path: config.DefaultPath(f.Getenv), LookupEnv: f.LookupEnv}}
	cmd := &cobra.Command{
		Use:   "verify <conn>[.<prefix>[/<run_id>]]",
		Short: "Check published files against their manifests (size, SHA-256, rows)",
		Long: `Re-read every data file of the runs published under a prefix of a file or
S3 target (or of the one run named by a trailing /<run_id>; a bare
connection name means the whole store) and check it against its
manifest: the object exists, and its size, SHA-256 and row count are
those the manifest records, and a Parquet file's columns (names, order,
types) are the manifest's schema; then the run's totals, and that the
manifest's listed fields agree with its Arrow schema. A file in a
published run's directory (or of its halfpipe-layout name) that the
manifest does not list fails too. Runs that left files but no manifest
are noted on stderr: hp runs --orphans lists them (and unfinished
writes) and hp gc removes them.

Each object is read once, as a stream: rows are counted in the
decompressed text for CSV (quoted newlines understood; the header line
is not a row) and JSON Lines, and read from the footer for Parquet.

Exits 0 when everything matches, and 1 when a file or manifest does not,
or when no manifest is found at all.`,
		Example: `  hp verify out.extracts/orders
  hp verify out.extracts/orders/20260102T030405Z-1a2b3c4d
  hp verify out.extracts --output json`,
		Args: cliutil.ExactArgs(1, "one <conn>[.<prefix>[/<run_id>]]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Target = args[0]
			return Run(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Output, "output", "text", "Output format: text or json")
	fl.IntVar(&o.Parallel, "parallel", 4, "Files read at once")
	store.BindS3Flags(fl, &o.S3)
	return cmd
}

// Report is the outcome of `hp verify`, printed as JSON.
type Report struct {
	URL        string            `json:"url"`
	OK         bool              `json:"ok"`
	Runs       []check.RunResult `json:"runs"`
	Unreadable []Unreadable      `json:"unreadable_manifests,omitempty"`
	// Unlisted are objects in a published run's place that its manifest
	// does not name.
	Unlisted []UnlistedFile `json:"unlisted_files,omitempty"`
	// Unpublished counts runs that left files but no manifest, and
	// Pending unfinished writes: hp runs --orphans lists them, hp gc
	// removes them. Neither fails verify (a run may be in progress).
	Unpublished int   `json:"unpublished_runs,omitempty"`
	Pending     int   `json:"pending_writes,omitempty"`
	Files       int   `json:"files"`
	FailedFiles int   `json:"failed_files"`
	Rows        int64 `json:"rows"`
	Bytes       int64 `json:"bytes"`
}

// UnlistedFile is an object no manifest names, in a published run's place.
type UnlistedFile struct {
	URL         string `json:"url"`
	Bytes       int64  `json:"bytes"`
	ManifestURL string `json:"manifest_url"`
}

// Unreadable is a manifest that could not be parsed.
type Unreadable struct {
	ManifestURL string `json:"manifest_url"`
	Error       string `json:"error"`
}

// Run verifies the runs.
func Run(ctx context.Context, o *Options) error {
	if err := cliutil.CheckOutput(o.Output); err != nil {
		return err
	}
	if o.Parallel < 1 {
		return cliutil.UsageErrorf("--parallel must be at least 1, got %d", o.Parallel)
	}
	st, prefix, err := cliutil.OpenPrefix(ctx, o.Conns, o.Target, o.IO.Out, o.S3)
	if err != nil {
		return err
	}
	found, err := published(ctx, st, prefix)
	if err != nil {
		return err
	}
	rep := Report{URL: st.URL(prefix), Runs: []check.RunResult{}}
	if len(found) == 0 {
		msg := fmt.Sprintf("nothing to verify under %s: no manifest found", rep.URL)
		if lo, err := leftovers.Scan(ctx, st, prefix, false); err == nil && len(lo.Orphans) > 0 {
			msg += fmt.Sprintf("; %s left files but no manifest (hp runs --orphans lists them, hp gc removes them)", plural(len(lo.Orphans), "run"))
		}
		return errors.New(msg)
	}
	text := o.Output == "text"
	w := o.IO.Out
	for _, p := range found {
		if p.Err != nil {
			rep.Unreadable = append(rep.Unreadable, Unreadable{ManifestURL: p.URL, Error: p.Err.Error()})
			if text {
				fmt.Fprintf(w, "FAIL %s: manifest unreadable: %v\n", p.URL, p.Err)
			}
			continue
		}
		opts := check.Options{Parallel: o.Parallel}
		if text {
			opts.OnFile = func(r check.Result) { printFile(w, r) }
		}
		rr, err := check.Run(ctx, st, p.Manifest, opts)
		if err != nil {
			return fmt.Errorf("verifying run %s (%s): %w", p.Manifest.RunID, p.URL, err)
		}
		rr.ManifestURL = p.URL
		if problem := schemaProblem(p.Manifest.Schema); problem != "" {
			rr.Problems = append(rr.Problems, problem)
			rr.OK = false
		}
		rep.Runs = append(rep.Runs, rr)
		rep.Files += len(rr.Files)
		rep.FailedFiles += rr.FailedFiles
		rep.Rows += rr.Rows
		rep.Bytes += rr.Bytes
		if text {
			printRun(w, rr)
		}
	}
	lo, err := leftovers.Scan(ctx, st, prefix, false)
	if err != nil {
		return err
	}
	for _, u := range lo.Unlisted {
		f := UnlistedFile{URL: st.URL(u.Object.Key), Bytes: u.Object.Size, ManifestURL: st.URL(u.ManifestKey)}
		rep.Unlisted = append(rep.Unlisted, f)
		if text {
			fmt.Fprintf(w, "FAIL %s: not in the manifest %s\n", f.URL, f.ManifestURL)
		}
	}
	rep.Unpublished = len(lo.Orphans)
	if text && rep.Unpublished > 0 {
		fmt.Fprintf(o.IO.ErrOut, "hp: note: %s under %s left files but no manifest: hp runs --orphans lists them (and unfinished writes), hp gc removes them\n",
			plural(rep.Unpublished, "run"), rep.URL)
	}
	var failed []string
	for _, rr := range rep.Runs {
		if !rr.OK {
			failed = append(failed, fmt.Sprintf("%d of %d files in run %s%s", rr.FailedFiles, len(rr.Files), rr.RunID, failedPaths(rr)))
		}
	}
	if n := len(rep.Unlisted); n > 0 {
		failed = append(failed, plural(n, "file")+" no manifest names")
	}
	if n := len(rep.Unreadable); n > 0 {
		failed = append(failed, plural(n, "unreadable manifest"))
	}
	rep.OK = len(failed) == 0
	if text {
		summary := fmt.Sprintf("all %s ok", plural(rep.Files, "file"))
		if !rep.OK {
			summary = fmt.Sprintf("%d of %s failed", rep.FailedFiles, plural(rep.Files, "file"))
		}
		fmt.Fprintf(w, "verified %s under %s: %s, %d rows, %s\n", plural(len(rep.Runs), "run"), rep.URL, summary, rep.Rows, cliutil.HumanBytes(rep.Bytes))
	} else if err := cliutil.WriteJSON(w, rep); err != nil {
		return err
	}
	if !rep.OK {
		return fmt.Errorf("verification failed: %s", strings.Join(failed, ", "))
	}
	return nil
}

// published finds the manifests under prefix, or, when there are none and
// the last element of prefix is a run id, that run's manifest beside its
// siblings (the halfpipe layout has no directory per run).
func published(ctx context.Context, st store.Store, prefix string) ([]manifest.Published, error) {
	found, err := manifest.Find(ctx, st, prefix)
	if err != nil {
		return nil, fmt.Errorf("listing manifests under %s: %w", st.URL(prefix), err)
	}
	if len(found) > 0 || !strings.Contains(prefix, "/") {
		return found, nil
	}
	parent, runID := path.Split(prefix)
	siblings, err := manifest.Find(ctx, st, parent)
	if err != nil {
		return nil, fmt.Errorf("listing manifests under %s: %w", st.URL(parent), err)
	}
	for _, p := range siblings {
		if p.Manifest != nil && p.Manifest.RunID == runID {
			found = append(found, p)
		}
	}
	return found, nil
}

// schemaProblem says how a manifest's readable fields disagree with its
// exact Arrow schema ("" when they agree, or when it records no Arrow
// schema, as manifests converted from Halfpipe's may not).
func schemaProblem(s manifest.Schema) string {
	if s.ArrowIPC == "" {
		return ""
	}
	as, err := s.Arrow()
	if err != nil {
		return "schema: " + err.Error()
	}
	want, err := manifest.SchemaOf(as)
	if err != nil {
		return "schema: " + err.Error()
	}
	if len(want.Fields) != len(s.Fields) {
		return fmt.Sprintf("schema: %d fields listed, the Arrow schema has %d", len(s.Fields), len(want.Fields))
	}
	for i, f := range s.Fields {
		w := want.Fields[i]
		if f.Name != w.Name || f.Type != w.Type || f.Nullable != w.Nullable {
			return fmt.Sprintf("schema: field %d is listed as %s %s (nullable %t), the Arrow schema has %s %s (nullable %t)",
				i+1, f.Name, f.Type, f.Nullable, w.Name, w.Type, w.Nullable)
		}
	}
	return ""
}

func printFile(w io.Writer, r check.Result) {
	if r.OK {
		fmt.Fprintf(w, "ok %s rows=%d sha256 ok\n", r.URL, r.Rows)
		return
	}
	fmt.Fprintf(w, "FAIL %s: %s\n", r.URL, strings.Join(r.Problems, "; "))
}

func printRun(w io.Writer, rr check.RunResult) {
	if rr.OK {
		fmt.Fprintf(w, "run %s: ok, %s, %d rows, %s (%s)\n", rr.RunID, plural(len(rr.Files), "file"), rr.Rows, cliutil.HumanBytes(rr.Bytes), rr.ManifestURL)
		return
	}
	what := append([]string{fmt.Sprintf("%d of %s failed", rr.FailedFiles, plural(len(rr.Files), "file"))}, rr.Problems...)
	fmt.Fprintf(w, "run %s: FAILED: %s (%s)\n", rr.RunID, strings.Join(what, "; "), rr.ManifestURL)
}

// failedPaths names the first few failed files of a run, for the error.
func failedPaths(rr check.RunResult) string {
	var paths []string
	for _, r := range rr.Files {
		if !r.OK {
			paths = append(paths, r.Path)
		}
	}
	switch {
	case len(paths) == 0:
		return ""
	case len(paths) > 3:
		paths = append(paths[:3], "...")
	}
	return " (" + strings.Join(paths, ", ") + ")"
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
