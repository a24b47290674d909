package pipe

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/halfpipe-io/halfpipe/core/internal/config"
	"github.com/halfpipe-io/halfpipe/core/internal/registry"
	"github.com/halfpipe-io/halfpipe/core/internal/run"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// The statuses of a job in the summary.
const (
	StatusOK     = "ok"
	StatusFailed = "failed"
	// StatusNotRun is a job never started: the pipe was cancelled, or its
	// deadline came, first.
	StatusNotRun = "not_run"
)

// Summary is the outcome of a pipe: one result per job, in file order.
type Summary struct {
	Jobs       []Result  `json:"jobs"`
	OK         int       `json:"ok"`
	Failed     int       `json:"failed"`
	NotRun     int       `json:"not_run"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
}

// Result is one job's outcome.
type Result struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Source string `json:"source"`
	Target string `json:"target"`
	Status string `json:"status"`
	Rows   int64  `json:"rows"`
	// RunID is the run published (a delta's last range); empty when none.
	RunID       string `json:"run_id,omitempty"`
	ManifestURL string `json:"manifest_url,omitempty"`
	// Runs is how many runs a delta published (one per range).
	Runs          int     `json:"runs"`
	HighWaterMark string  `json:"high_water_mark,omitempty"`
	MoreToDo      bool    `json:"more_to_do,omitempty"`
	Error         string  `json:"error,omitempty"`
	Seconds       float64 `json:"duration_seconds"`
}

// Runner runs tasks, each its own run through the run layer.
type Runner struct {
	// Env is what each run gets (Host, Logger, Version, Now; no
	// Progress: jobs run side by side).
	Env   run.Env
	Conns run.Resolver
	// Jobs is how many tasks run at once (at least 1).
	Jobs int
	// Deadline, when set, is when the pipe must have stopped: no task
	// starts after it, and a delta stops between ranges before it.
	Deadline time.Time
	// Mask removes the secrets of the connections from a failed job's
	// error (DSNs are masked in any case).
	Mask func(error) error
	// Done, when set, hears of each job as it ends, one at a time.
	Done func(Result)

	mu sync.Mutex
}

// FailedOnly is a Summary's jobs that did not succeed, by name.
func (s *Summary) FailedOnly() map[string]bool {
	out := map[string]bool{}
	for _, j := range s.Jobs {
		if j.Status != StatusOK {
			out[j.Name] = true
		}
	}
	return out
}

// Run runs the tasks, at most r.Jobs at once, in order. Cancelling ctx
// starts no more tasks and cancels the running ones; every task has a
// result.
func (r *Runner) Run(ctx context.Context, tasks []Task) *Summary {
	sum := &Summary{Jobs: make([]Result, len(tasks)), StartedAt: r.Env.Now().UTC()}
	r.startPlugins(ctx, tasks)
	slots := make(chan struct{}, max(1, r.Jobs))
	var wg sync.WaitGroup
	for i, t := range tasks {
		res := &sum.Jobs[i]
		*res = Result{Name: t.Name, Kind: string(t.Kind), Source: t.Spec.Source, Target: t.Spec.Target, Status: StatusNotRun}
		acquired := false
		select {
		case slots <- struct{}{}:
			acquired = true
		case <-ctx.Done():
		}
		if err := r.mayStart(ctx); err != nil {
			if acquired {
				<-slots
			}
			res.Error = err.Error()
			r.done(*res)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			r.runTask(ctx, t, res)
			r.done(*res)
		}()
	}
	wg.Wait()
	for _, j := range sum.Jobs {
		switch j.Status {
		case StatusOK:
			sum.OK++
		case StatusFailed:
			sum.Failed++
		default:
			sum.NotRun++
		}
	}
	sum.FinishedAt = r.Env.Now().UTC()
	return sum
}

// mayStart says why no more tasks start, if so.
func (r *Runner) mayStart(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("not started: the pipe was stopped (%w)", err)
	}
	if !r.Deadline.IsZero() && !r.Env.Now().Before(r.Deadline) {
		return errors.New("not started: the pipe's time was up")
	}
	return nil
}

func (r *Runner) done(res Result) {
	if r.Done != nil {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.Done(res)
	}
}

// runTask plans the task afresh (its run id and start are when it
// starts) and runs it as hp cp would.
func (r *Runner) runTask(ctx context.Context, t Task, res *Result) {
	start := r.Env.Now()
	err := func() error {
		spec := t.Spec
		if t.Kind == run.KindDelta && !r.Deadline.IsZero() {
			left := r.Deadline.Sub(start)
			if d := spec.Delta.MaxDuration; d <= 0 || d > left {
				spec.Delta.MaxDuration = left
			}
		}
		p, err := run.NewPlan(t.Kind, spec, r.Conns, start)
		if err != nil {
			return err
		}
		env := r.Env
		env.Logger = env.Logger.With("job", t.Name)
		env.Events = func(ev run.Event) {
			if l := ev.TookOver; l != nil {
				env.Logger.Warn("took over the delta state lock of a run no longer running", "run_id", l.RunID, "pid", l.PID, "state", l.StateURL)
			}
		}
		if t.Kind == run.KindSnap {
			s, err := run.Snapshot(ctx, env, p)
			if err != nil {
				return err
			}
			res.Rows, res.RunID, res.ManifestURL, res.Runs = s.Rows, s.RunID, s.ManifestURL, 1
			return nil
		}
		s, err := run.Delta(ctx, env, p)
		if err != nil {
			return err
		}
		res.Rows, res.Runs, res.HighWaterMark, res.MoreToDo = s.Rows, len(s.Runs), s.HighWaterMark, s.MoreToDo
		if n := len(s.Runs); n > 0 {
			res.RunID, res.ManifestURL = s.Runs[n-1].RunID, s.Runs[n-1].ManifestURL
		}
		return nil
	}()
	res.Seconds = r.Env.Now().Sub(start).Seconds()
	if err != nil {
		if r.Mask != nil {
			err = r.Mask(err)
		}
		res.Status, res.Error = StatusFailed, sdk.MaskDSN(err.Error())
		return
	}
	res.Status = StatusOK
}

// startPlugins starts the connector of every database the tasks use, one
// after the other, before tasks run side by side: each is then shared,
// not started twice at once. A connector that fails to start is left for
// its tasks to report.
func (r *Runner) startPlugins(ctx context.Context, tasks []Task) {
	if r.mayStart(ctx) != nil {
		return
	}
	seen := map[string]bool{}
	for _, t := range tasks {
		p, err := run.NewPlan(t.Kind, t.Spec, r.Conns, r.Env.Now())
		if err != nil {
			continue
		}
		for _, c := range []config.Connection{p.Src, p.Tgt} {
			if registry.IsStore(c) || seen[c.Scheme] {
				continue
			}
			seen[c.Scheme] = true
			_, _ = r.Env.Host().ForScheme(ctx, c.Scheme)
		}
	}
}
