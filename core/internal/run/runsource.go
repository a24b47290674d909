package run

import (
	"context"
	"fmt"
	"path"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/core/internal/delta"
	"github.com/halfpipe-io/halfpipe/core/internal/layout"
	"github.com/halfpipe-io/halfpipe/core/internal/manifest"
	"github.com/halfpipe-io/halfpipe/core/internal/registry"
	"github.com/halfpipe-io/halfpipe/core/internal/runread"
	"github.com/halfpipe-io/halfpipe/core/internal/store"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// RunRef names published runs as a source: <object>[@<run_id>], the
// object's latest run when no id is given; or, with Files (--files), the
// plain files that glob matches under the prefix Object.
type RunRef struct {
	Object, RunID string
	Files         string
}

func (r RunRef) String() string {
	if r.Files != "" {
		return path.Join(r.Object, r.Files)
	}
	if r.RunID == "" {
		return r.Object
	}
	return r.Object + "@" + r.RunID
}

// runsDriver is the driver a delta of runs records in its state: its
// progress is the id of the last run loaded, not a column's value.
const runsDriver = "run_id"

// runSource validates a file or S3 source: published runs, or plain files
// (--files), read whole.
func (p *Plan) runSource(obj string) error {
	s := p.Spec
	if p.Src.Scheme == "stdout" {
		return usagef("source: stdout is a target only")
	}
	if err := registry.CheckType(p.Src, s.SourceType, p.Src.Scheme, nil); err != nil {
		return err
	}
	if s.Query != "" || s.Where != "" || s.Columns != "" {
		return usagef("--query, --where and --columns read a database; a published run is read whole")
	}
	if s.Files.Glob != "" {
		if _, err := p.filesSource(obj); err != nil {
			return err
		}
		p.SrcRun = &RunRef{Object: strings.Trim(obj, "/"), Files: s.Files.Glob}
		p.SrcRef = sdk.ObjectRef{Name: filesName(p.Src.Name, obj, s.Files.Glob)}
		return nil
	}
	object, runID, _ := strings.Cut(obj, "@")
	object = strings.Trim(object, "/")
	if object == "" {
		return usagef("source %q names no object: <conn>.<object>[@<run_id>]", s.Source)
	}
	if p.Kind == KindDelta {
		d := s.Delta
		if runID != "" {
			return usagef("hp cp delta from published runs loads every run newer than the last one it loaded; name no run (drop @%s)", runID)
		}
		if d.Driver != "" || d.StartDate != "" || d.StartSequence != "" || d.DeltaSize != "" || d.Lookback != "" || d.Lag != "" {
			return usagef("--delta-driver, --start-*, --delta-size, --lookback and --delta-lag read a database; a delta of published runs loads whole runs")
		}
	}
	p.SrcRun = &RunRef{Object: object, RunID: runID}
	p.SrcRef = sdk.ObjectRef{Name: path.Base(object)}
	return nil
}

// snapshotRun copies one published run, or plain files, into the target.
func snapshotRun(ctx context.Context, env Env, p *Plan) (*Summary, error) {
	if p.SrcRun.Files != "" {
		return snapshotFiles(ctx, env, p)
	}
	src, err := registry.OpenStore(ctx, p.Src, p.Spec.SourceType, nil, p.Spec.S3)
	if err != nil {
		return nil, err
	}
	pub, err := runread.Find(ctx, src, p.SrcRun.Object, p.SrcRun.RunID)
	if err != nil {
		return nil, err
	}
	if p.Staged() {
		return loadRun(ctx, env, p, src, pub)
	}
	l, err := newRunLoader(ctx, env, p)
	if err != nil {
		return nil, err
	}
	s, err := l.load(ctx, src, pub, p.WriteMode, p.Keys)
	if err != nil {
		return nil, err
	}
	s.Mode = string(KindSnap)
	return s, nil
}

// runLoader loads published runs into the target: a table, through its
// writes or (--stage) its stage, or files and a manifest in a store.
type runLoader struct {
	env Env
	p   *Plan
	tbl *table
	// stg loads tbl from the stage, the runs' own files.
	stg *loader
	out *files
	// stateArgs name a delta's state to hp state.
	stateArgs string
}

func newRunLoader(ctx context.Context, env Env, p *Plan) (*runLoader, error) {
	l := &runLoader{env: env, p: p}
	if p.Staged() {
		stg, err := loadTarget(ctx, env, p)
		if err != nil {
			return nil, err
		}
		l.stg, l.tbl = stg, stg.table
		return l, nil
	}
	if !p.TargetIsStore {
		t, err := tableTarget(ctx, env, p, sdk.CapWrite)
		if err != nil {
			return nil, err
		}
		l.tbl = t
		return l, nil
	}
	st, err := registry.OpenStore(ctx, p.Tgt, p.Spec.TargetType, env.Out, p.Spec.S3)
	if err != nil {
		return nil, err
	}
	l.out = &files{env: env, p: p, st: st}
	return l, nil
}

func (l *runLoader) where() string {
	if l.tbl != nil {
		return l.tbl.where()
	}
	return l.out.st.URL(l.p.TgtObject)
}

// load copies the run pub of src into the target: all of it, or, on any
// error (a file that does not match the manifest included), nothing.
func (l *runLoader) load(ctx context.Context, src store.Store, pub *manifest.Published, mode sdk.WriteMode, keys []string) (*Summary, error) {
	p := l.p
	m := pub.Manifest
	ref := RunRef{Object: p.SrcRun.Object, RunID: m.RunID}
	if l.stg != nil {
		checked, err := checkedRun(ctx, src, pub, l.where())
		if err != nil {
			return nil, err
		}
		return l.stg.loadRun(ctx, checked, pub.URL, p.Src.Name+"."+ref.String(), mode, keys)
	}
	r, err := runread.Open(ctx, src, m)
	if err != nil {
		return nil, err
	}
	return l.copyRecords(ctx, r, copyFrom{what: fmt.Sprintf("run %s (%s)", m.RunID, pub.URL), name: p.Src.Name + "." + ref.String(),
		object: ref.String(), rows: m.TotalRows, delta: m.Delta}, mode, keys)
}

// copyFrom describes what copyRecords copies.
type copyFrom struct {
	// what names it in errors; name in the summary; object in a new run's
	// manifest (source.object).
	what, name, object string
	// rows is how many rows to expect (0: unknown); delta is the source
	// run's delta range, kept in a new run.
	rows  int64
	delta *manifest.Delta
}

// copyRecords writes r into the target: a table in one transaction, or
// files and a manifest (a new run), published only when complete.
func (l *runLoader) copyRecords(ctx context.Context, r array.RecordReader, from copyFrom, mode sdk.WriteMode, keys []string) (*Summary, error) {
	p := l.p
	if l.stg != nil {
		return l.publishAndLoad(ctx, r, from, mode, keys)
	}
	if l.tbl != nil {
		s, err := l.tbl.writeRecords(ctx, r, from.name, mode, keys)
		if err != nil {
			return nil, fmt.Errorf("loading %s into %s failed, nothing was written: %w", from.what, l.where(), err)
		}
		return s, nil
	}
	// Each run of a delta is published as a run of its own.
	start, runID := p.Start, p.RunID
	if p.Kind == KindDelta {
		start = l.env.Now().UTC()
		runID = layout.NewRunID(start)
	}
	out := l.out.newManifest(start, runID, p.Src.Scheme, p.Kind)
	out.Source.Object = from.object
	if from.delta != nil {
		out.Delta = from.delta
	}
	total := &atomic.Int64{}
	total.Store(from.rows)
	vars := p.Vars
	vars.Start = start
	res, err := l.out.publishRecords(ctx, r, out, vars, total)
	if err != nil {
		return nil, fmt.Errorf("copying %s to %s failed, nothing was published: %w", from.what, l.where(), err)
	}
	s := summarize(res.Manifest, res.ManifestURL, from.name, p.TargetName())
	return &s, nil
}

// publishAndLoad publishes records (plain files, --files) as a run to
// the --publish-to store, then has the warehouse load that run from its
// stage, as a staged snapshot of a database does.
func (l *runLoader) publishAndLoad(ctx context.Context, r array.RecordReader, from copyFrom, mode sdk.WriteMode, keys []string) (*Summary, error) {
	p := l.p
	st, err := registry.OpenStore(ctx, p.Pub, "", l.env.Out, p.Spec.S3)
	if err != nil {
		r.Release()
		return nil, err
	}
	f := files{env: l.env, p: p, st: st, check: func(ctx context.Context, s *arrow.Schema) error { return l.stg.check(ctx, s, mode, keys) }}
	m := f.newManifest(p.Start, p.RunID, p.Src.Scheme, p.Kind)
	m.Source.Object = from.object
	res, err := f.publishRecords(ctx, r, m, p.Vars, nil)
	if err != nil {
		return nil, fmt.Errorf("copying %s to %s failed, nothing was published or loaded: %w", from.what, st.URL(p.PubObject), err)
	}
	start := time.Now()
	if _, err := l.stg.load(ctx, res.Manifest, mode, keys); err != nil {
		return nil, fmt.Errorf("%w (the run stays published at %s)", err, res.ManifestURL)
	}
	s := summarize(res.Manifest, res.ManifestURL, from.name, l.where())
	s.Seconds += time.Since(start).Seconds()
	return &s, nil
}

// deltaRuns loads, in order, each published run of the source newer than
// the last one loaded into the target, each committed (the table's
// transaction, or the new run's manifest) before the state records its id.
func deltaRuns(ctx context.Context, env Env, p *Plan, started time.Time) (*DeltaSummary, error) {
	src, err := registry.OpenStore(ctx, p.Src, p.Spec.SourceType, nil, p.Spec.S3)
	if err != nil {
		return nil, err
	}
	l, err := newRunLoader(ctx, env, p)
	if err != nil {
		return nil, err
	}
	loc, err := l.stateLocation(ctx, src)
	if err != nil {
		return nil, err
	}
	l.stateArgs = p.TargetName()
	switch {
	case p.Spec.Delta.StateURL != "":
		l.stateArgs += " --state " + sdk.MaskDSN(p.Spec.Delta.StateURL)
	case l.tbl != nil:
		l.stateArgs += " --state " + loc.URL
	}
	h, release, err := acquire(ctx, env, p, loc, l.stateArgs, runsDriver)
	if err != nil {
		return nil, err
	}
	defer release()
	runs, err := runread.Runs(ctx, src, p.SrcRun.Object)
	if err != nil {
		return nil, err
	}
	todo := newerRuns(runs, h.State.LastRunID)
	sum := &DeltaSummary{Mode: string(KindDelta), Source: p.SourceName(), Target: p.TargetName(), Runs: []Summary{}, HighWaterMark: h.State.LastRunID}
	done, err := l.inDoubt(ctx, h, todo)
	if err != nil {
		return nil, err
	}
	if done {
		sum.HighWaterMark = todo[0].Manifest.RunID
		todo = todo[1:]
	}
	if len(todo) == 0 {
		env.Logger.Info("no published run newer than the last one loaded", "last_run_id", orNone(h.State.LastRunID))
	}
	for i := range todo {
		pub := &todo[i]
		m := pub.Manifest
		if spec := p.Spec.Delta; i > 0 && spec.MaxDuration > 0 {
			elapsed := time.Since(started)
			if elapsed+elapsed/time.Duration(i) > spec.MaxDuration {
				sum.MoreToDo = true
				env.Logger.Info("stopping before --max-duration; the next run continues", "done_runs", i, "left_runs", len(todo)-i)
				break
			}
		}
		if err := h.Begin(ctx, m.RunID); err != nil {
			return nil, err
		}
		keys := p.Keys
		if len(keys) == 0 && m.Delta != nil {
			keys = m.Delta.PrimaryKeys
		}
		mode := sdk.Append
		if len(keys) > 0 {
			mode = sdk.Merge
		}
		s, err := l.load(ctx, src, pub, mode, keys)
		if err != nil {
			return nil, fmt.Errorf("delta of %s to %s: the state stays at %s: %w", sum.Source, l.where(), orNone(sum.HighWaterMark), err)
		}
		if err := h.Advance(ctx, runsDriver, "", nil, m.RunID, pub.URL, env.Now()); err != nil {
			return nil, fmt.Errorf("delta of %s to %s: run %s was loaded, but the delta state %s was not advanced (it stays at %s): "+
				"the next delta finds the run in doubt and %s: %w", sum.Source, l.where(), m.RunID, h.URL(), orNone(sum.HighWaterMark), l.doubtAdvice(mode), err)
		}
		s.Mode = string(KindDelta)
		sum.Runs = append(sum.Runs, *s)
		sum.Rows += s.Rows
		sum.Files += s.Files
		sum.Bytes += s.Bytes
		sum.HighWaterMark = m.RunID
		env.event(Event{Range: "run " + m.RunID, Summary: s})
	}
	sum.Seconds = time.Since(started).Seconds()
	return sum, nil
}

// stateLocation is where a delta of runs keeps the id of the last run
// loaded: --state; beside a store target's files, as any delta; for a
// table, beside the runs, one state per target table.
func (l *runLoader) stateLocation(ctx context.Context, src store.Store) (*delta.Location, error) {
	p := l.p
	if l.out != nil {
		return delta.Locate(ctx, l.out.st, fmt.Sprintf("target %q", p.Tgt.Name), p.Vars.Prefix, p.Vars.Object, p.Spec.Delta.StateURL, p.Spec.S3)
	}
	if p.Tgt.Name == "" && p.Spec.Delta.StateURL == "" {
		return nil, usagef("a delta of published runs into a table keeps its state beside the runs, named by the target connection: name the connection, or give --state")
	}
	return delta.Locate(ctx, src, fmt.Sprintf("source %q", p.Src.Name), p.SrcRun.Object+"/_loads", p.TargetName(), p.Spec.Delta.StateURL, p.Spec.S3)
}

// newerRuns are the runs after the one named last (all when last is "").
// A last run no longer listed (removed since) is placed by its id, which
// starts with its start time.
func newerRuns(runs []manifest.Published, last string) []manifest.Published {
	if last == "" {
		return runs
	}
	for i, r := range runs {
		if r.Manifest.RunID == last {
			return runs[i+1:]
		}
	}
	var out []manifest.Published
	for _, r := range runs {
		if r.Manifest.RunID > last {
			out = append(out, r)
		}
	}
	return out
}

// inDoubt checks the run a crashed delta was loading (the lock it left
// names it): it may or may not have been committed. Into files, the
// target's runs tell, and done says it was (the state now records it);
// into a table, loading it again is harmless only when merged on keys, or
// appended from the stage (the warehouse's load history skips the files).
func (l *runLoader) inDoubt(ctx context.Context, h *delta.Handle, todo []manifest.Published) (done bool, err error) {
	lk := h.TookOver
	if lk == nil || len(todo) == 0 || lk.RunID != todo[0].Manifest.RunID {
		return false, nil
	}
	pub := todo[0]
	id := pub.Manifest.RunID
	if l.out != nil {
		if done, err = l.published(ctx, id); err != nil || !done {
			return false, err
		}
		if err := h.Begin(ctx, id); err != nil {
			return false, err
		}
		return true, h.Advance(ctx, runsDriver, "", nil, id, pub.URL, l.env.Now())
	}
	keys := l.p.Keys
	if len(keys) == 0 && pub.Manifest.Delta != nil {
		keys = pub.Manifest.Delta.PrimaryKeys
	}
	if len(keys) > 0 {
		l.env.Logger.Warn("the last delta stopped while loading a run; it is merged again on its keys", "run_id", id, "keys", strings.Join(keys, ","))
		return false, nil
	}
	if l.stg != nil {
		l.env.Logger.Warn("the last delta stopped while loading a run; it is loaded again, and the table's load history skips files it loaded", "run_id", id)
		return false, nil
	}
	return false, fmt.Errorf("%w: the last delta (pid %d on %s) stopped while loading run %s into %s, which it may or may not have committed; "+
		"appended again it could be there twice: %s", delta.ErrLocked, lk.PID, lk.Host, id, l.where(), l.doubtAdvice(sdk.Append))
}

// published reports whether the target holds a run copied from source run
// runID.
func (l *runLoader) published(ctx context.Context, runID string) (bool, error) {
	runs, err := runread.Runs(ctx, l.out.st, l.p.TgtObject)
	if err != nil {
		return false, err
	}
	want := RunRef{Object: l.p.SrcRun.Object, RunID: runID}.String()
	for _, r := range runs {
		if r.Manifest.Source.Object == want {
			return true, nil
		}
	}
	return false, nil
}

func (l *runLoader) doubtAdvice(mode sdk.WriteMode) string {
	switch {
	case l.out != nil:
		return "finds out from the target's manifests whether it was published"
	case mode == sdk.Merge:
		return "merges it again on its keys (harmless)"
	case l.stg != nil:
		return "loads it again (the table's load history skips files it loaded)"
	}
	return fmt.Sprintf("stops: check %s, then `hp state reset %s --yes` and load the runs still missing by name (hp cp snap %s.%s@<run_id> %s --write-mode append)",
		l.where(), l.stateArgs, l.p.Src.Name, l.p.SrcRun.Object, l.p.TargetName())
}
