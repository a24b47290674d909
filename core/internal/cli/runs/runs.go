// Package runs implements `hp runs`: list the runs published under a
// prefix of a file or S3 target, from their manifests.
package runs

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/halfpipe-io/halfpipe/core/internal/cliutil"
	"github.com/halfpipe-io/halfpipe/core/internal/config"
	"github.com/halfpipe-io/halfpipe/core/internal/leftovers"
	"github.com/halfpipe-io/halfpipe/core/internal/manifest"
	"github.com/halfpipe-io/halfpipe/core/internal/store"
)

// Options are the inputs of `hp runs`.
type Options struct {
	IO     *cliutil.IOStreams
	Conns  *config.Store
	Target string
	Output string
	S3     store.S3Options
	// Orphans lists what runs left unpublished instead.
	Orphans bool
}

// Orphans is the JSON of hp runs --orphans.
type Orphans = leftovers.Summary

// NewCmd returns the command.
func NewCmd(f *cliutil.Factory) *cobra.Command {
	o := &Options{IO: f.IO, Conns: &config.Store{Path: config.DefaultPath(f.Getenv), LookupEnv: f.LookupEnv}}
	cmd := &cobra.Command{
		Use:   "runs <conn>[.<prefix>]",
		Short: "List the runs published under a prefix of a file or S3 target",
		Long: `List the runs published under a prefix of a file or S3 target, oldest
first: every manifest below <prefix>/ (_manifest.json, and the
<object>-<date>T<time>.manifest.json of the halfpipe layout). A run without
a manifest was never published and is not listed. A manifest that cannot
be read is reported on stderr and skipped. A bare connection name lists
the whole store.

With --orphans, list instead what runs left without publishing it: runs
that wrote files but no manifest (killed, or still running), with the age
of their last file, and unfinished writes (temporary files, S3 multipart
uploads). hp gc removes those older than a threshold.`,
		Example: `  hp runs out.extracts/orders
  hp runs out.extracts --output json
  hp runs out --orphans`,
		Args: cliutil.ExactArgs(1, "one <conn>[.<prefix>]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Target = args[0]
			return Run(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Output, "output", "text", "Output format: text or json")
	fl.BoolVar(&o.Orphans, "orphans", false, "List unpublished runs and unfinished writes instead")
	store.BindS3Flags(fl, &o.S3)
	return cmd
}

// Entry is one published run.
type Entry struct {
	RunID        string    `json:"run_id"`
	Mode         string    `json:"mode"`
	StartedAt    time.Time `json:"started_at"`
	FinishedAt   time.Time `json:"finished_at"`
	Rows         int64     `json:"rows"`
	Files        int       `json:"files"`
	Bytes        int64     `json:"bytes"`
	Format       string    `json:"format"`
	ManifestURL  string    `json:"manifest_url"`
	SourceObject string    `json:"source_object,omitempty"`
	SourceQuery  string    `json:"source_query,omitempty"`
	TargetObject string    `json:"target_object"`
}

// Run lists the runs.
func Run(ctx context.Context, o *Options) error {
	if err := cliutil.CheckOutput(o.Output); err != nil {
		return err
	}
	st, prefix, err := cliutil.OpenPrefix(ctx, o.Conns, o.Target, o.IO.Out, o.S3)
	if err != nil {
		return err
	}
	if o.Orphans {
		return listOrphans(ctx, o, st, prefix)
	}
	found, err := manifest.Find(ctx, st, prefix)
	if err != nil {
		return fmt.Errorf("listing runs under %s: %w", st.URL(prefix), err)
	}
	entries := make([]Entry, 0, len(found))
	for _, p := range found {
		if p.Err != nil {
			fmt.Fprintf(o.IO.ErrOut, "hp: warning: skipping %s: %v\n", p.URL, p.Err)
			continue
		}
		m := p.Manifest
		entries = append(entries, Entry{
			RunID: m.RunID, Mode: m.Mode, StartedAt: m.StartedAt.UTC(), FinishedAt: m.FinishedAt.UTC(),
			Rows: m.TotalRows, Files: len(m.Files), Bytes: m.TotalBytes, Format: m.Format, ManifestURL: p.URL,
			SourceObject: m.Source.Object, SourceQuery: m.Source.Query, TargetObject: m.Target.Object,
		})
	}
	if o.Output == "json" {
		return cliutil.WriteJSON(o.IO.Out, entries)
	}
	if len(entries) == 0 {
		fmt.Fprintf(o.IO.ErrOut, "no runs under %s\n", st.URL(prefix))
		return nil
	}
	tw := tabwriter.NewWriter(o.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN ID\tSTARTED\tMODE\tFORMAT\tROWS\tFILES\tBYTES\tSOURCE\tMANIFEST")
	for _, e := range entries {
		source := e.SourceObject
		switch {
		case source != "":
		case e.SourceQuery != "":
			source = "(query)"
		default:
			source = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n", e.RunID, e.StartedAt.Format(time.RFC3339), e.Mode, e.Format,
			e.Rows, e.Files, cliutil.HumanBytes(e.Bytes), source, e.ManifestURL)
	}
	return tw.Flush()
}

func listOrphans(ctx context.Context, o *Options, st store.Store, prefix string) error {
	rep, err := leftovers.Scan(ctx, st, prefix, true)
	if err != nil {
		return err
	}
	sum := leftovers.Summarize(st, rep, time.Now())
	if o.Output == "json" {
		return cliutil.WriteJSON(o.IO.Out, sum)
	}
	if len(sum.Runs)+len(sum.Pending) == 0 {
		fmt.Fprintf(o.IO.ErrOut, "no unpublished runs or unfinished writes under %s\n", st.URL(prefix))
		return nil
	}
	return leftovers.Print(o.IO.Out, sum)
}
