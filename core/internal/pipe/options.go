package pipe

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/halfpipe-io/halfpipe/core/internal/run"
	"github.com/halfpipe-io/halfpipe/core/internal/suggest"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// DefaultJobs is --jobs' default.
const DefaultJobs = 4

// Options are the inputs of a pipe beside its file, the same for the
// command line (flags) and Lambda (HP_<FLAG>).
type Options struct {
	// Pipe is the pipeline: a file path, file:// or s3:// URL, or the
	// YAML itself (HP_PIPE).
	Pipe       string
	Jobs       int
	Only       string
	FailedFrom string
	Summary    string
}

// BindFlags binds o to the flags of hp pipe run.
func BindFlags(fl *pflag.FlagSet, o *Options) {
	fl.StringVar(&o.Pipe, "pipe", "", "The pipeline when no FILE is given: a file path, an s3:// or file:// URL, or the YAML itself (HP_PIPE in 12-factor mode and Lambda)")
	fl.IntVar(&o.Jobs, "jobs", DefaultJobs, "How many jobs run at once")
	fl.StringVar(&o.Only, "only", "", "Run only these jobs (comma-separated names, as --dry-run lists them)")
	fl.StringVar(&o.FailedFrom, "failed-from", "", "Run only the jobs that did not succeed in this summary (a file path or s3:// URL written by --summary)")
	fl.StringVar(&o.Summary, "summary", "", "Write the JSON summary to this file path or s3:// URL instead of stdout")
}

// Prepare reads the pipeline, expands and validates every job (run.NewPlan),
// and keeps the jobs --only or --failed-from select. Its errors are the
// user's to fix; nothing has run.
func Prepare(ctx context.Context, o *Options, list Lister, conns run.Resolver, now time.Time) ([]Task, error) {
	if o.Pipe == "" {
		return nil, sdk.InvalidArgumentf("no pipeline: give FILE, or --pipe (HP_PIPE) with a path, URL or the YAML itself")
	}
	if o.Jobs < 1 {
		return nil, sdk.InvalidArgumentf("--jobs %d: at least 1", o.Jobs)
	}
	if o.Only != "" && o.FailedFrom != "" {
		return nil, sdk.InvalidArgumentf("give --only or --failed-from, not both")
	}
	data, err := Read(ctx, o.Pipe)
	if err != nil {
		return nil, err
	}
	f, err := Decode(data)
	if err != nil {
		return nil, err
	}
	tasks, err := f.Expand(ctx, list, conns, now)
	if err != nil {
		return nil, err
	}
	var want map[string]bool
	what := "--only"
	switch {
	case o.Only != "":
		want = map[string]bool{}
		for _, n := range strings.Split(o.Only, ",") {
			if n = strings.TrimSpace(n); n != "" {
				want[n] = true
			}
		}
	case o.FailedFrom != "":
		s, err := ReadSummary(ctx, o.FailedFrom)
		if err != nil {
			return nil, err
		}
		want, what = s.FailedOnly(), "the summary "+sdk.MaskDSN(o.FailedFrom)
	default:
		return tasks, nil
	}
	return pick(tasks, want, what)
}

// pick keeps the tasks named in want, each of which must exist.
func pick(tasks []Task, want map[string]bool, what string) ([]Task, error) {
	names := make([]string, len(tasks))
	var out []Task
	found := map[string]bool{}
	for i, t := range tasks {
		names[i] = t.Name
		if want[t.Name] {
			out = append(out, t)
			found[t.Name] = true
		}
	}
	for _, n := range slices.Sorted(maps.Keys(want)) {
		if !found[n] {
			msg := fmt.Sprintf("%s names job %q, which the pipeline has not", what, n)
			if s := suggest.Likely(n, names); s != "" {
				msg += fmt.Sprintf(": did you mean %q?", s)
			}
			return nil, sdk.InvalidArgumentf("%s", msg)
		}
	}
	return out, nil
}
