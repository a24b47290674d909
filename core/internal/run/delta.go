package run

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/halfpipe-io/halfpipe/core/internal/delta"
	"github.com/halfpipe-io/halfpipe/core/internal/halfpipe"
	"github.com/halfpipe-io/halfpipe/core/internal/layout"
	"github.com/halfpipe-io/halfpipe/core/internal/manifest"
	"github.com/halfpipe-io/halfpipe/core/internal/registry"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/host"
)

// DeltaSummary is the result of a delta, printed as text or JSON.
type DeltaSummary struct {
	Mode          string    `json:"mode"`
	Source        string    `json:"source"`
	Target        string    `json:"target"`
	Runs          []Summary `json:"runs"`
	Rows          int64     `json:"rows"`
	Files         int       `json:"files"`
	Bytes         int64     `json:"bytes"`
	HighWaterMark string    `json:"high_water_mark,omitempty"`
	NullDriver    int64     `json:"null_driver_rows"`
	MoreToDo      bool      `json:"more_to_do"`
	Seconds       float64   `json:"duration_seconds"`
}

// lockTTL bounds how long a crashed run blocks the next.
const lockTTL = 6 * time.Hour

// Delta copies the rows of p's source whose driver lies above the
// target's high-water mark, range by range, each committed with its mark
// before the next starts.
func Delta(ctx context.Context, env Env, p *Plan) (*DeltaSummary, error) {
	started := time.Now()
	if p.SrcRun != nil {
		return deltaRuns(ctx, env, p, started)
	}
	d := p.Spec.Delta
	src, err := registry.Source(ctx, env.Host(), p.Src, p.Spec.SourceType)
	if err != nil {
		return nil, err
	}
	if !src.Info.Has(sdk.CapBounds) {
		return nil, fmt.Errorf("connection %q: the %s connector cannot report bounds, which delta needs: %w", p.Src.Name, src.Info.Name, sdk.ErrUnimplemented)
	}
	p.warnWhole(src, env.Logger)
	// A mistyped driver is reported as such, before any state is read.
	if err := checkDriver(ctx, src, p.ReadRequest(), d.Driver); err != nil {
		return nil, err
	}
	var tgt deltaTarget
	if p.TargetIsStore || p.Staged() {
		conn, typ := p.Tgt, p.Spec.TargetType
		var l *loader
		if p.Staged() {
			if l, err = loadTarget(ctx, env, p); err != nil {
				return nil, err
			}
			conn, typ = p.Pub, ""
		}
		st, err := registry.OpenStore(ctx, conn, typ, env.Out, p.Spec.S3)
		if err != nil {
			return nil, err
		}
		loc, err := delta.Locate(ctx, st, fmt.Sprintf("target %q", conn.Name), p.Vars.Prefix, p.Vars.Object, d.StateURL, p.Spec.S3)
		if err != nil {
			return nil, err
		}
		stateArgs := p.TargetName()
		if d.StateURL != "" {
			stateArgs += " --state " + sdk.MaskDSN(d.StateURL)
		}
		h, release, err := acquire(ctx, env, p, loc, stateArgs, d.Driver)
		if err != nil {
			return nil, err
		}
		defer release()
		tgt = &filesDelta{files: files{env: env, p: p, st: st}, h: h, load: l}
	} else {
		t, err := tableTarget(ctx, env, p, sdk.CapWrite)
		if err != nil {
			return nil, err
		}
		tgt = &tableDelta{table: t, p: p}
	}
	return extract(ctx, env, p, src, tgt, started)
}

// deltaTarget is where a delta goes: files with a state object beside
// them, or a table whose own rows hold the high-water mark.
type deltaTarget interface {
	// mark is the high-water mark (nil when none) and the driver type
	// recorded with it ("" when unknown); driverType is the source's.
	mark(ctx context.Context, driverType string) (*sdk.Value, string, error)
	// deliver extracts one range and commits it, mark included.
	deliver(ctx context.Context, src *host.Instance, req sdk.ReadRequest, r delta.Range, d *manifest.Delta) (Summary, error)
	// where names the target in messages.
	where() string
}

// extract plans the ranges and delivers them in order, each committed
// before the next starts.
func extract(ctx context.Context, env Env, p *Plan, src *host.Instance, tgt deltaTarget, started time.Time) (*DeltaSummary, error) {
	spec := p.Spec.Delta
	sum := &DeltaSummary{Mode: string(KindDelta), Source: p.SourceName(), Target: p.TargetName(), Runs: []Summary{}}
	req := p.ReadRequest()
	b, err := src.Bounds(ctx, sdk.BoundsRequest{Conn: req.Conn, Source: req.Source, Column: spec.Driver, Where: p.Spec.Where})
	if err != nil {
		return nil, fmt.Errorf("bounds of %s in %s: %w", spec.Driver, sum.Source, err)
	}
	sum.NullDriver = b.NullCount
	if b.NullCount > 0 {
		env.Logger.Warn("rows with a NULL delta driver are not extracted by delta runs", "driver", spec.Driver, "rows", b.NullCount)
	}
	driverType := ""
	if b.Max != nil {
		if driverType, err = delta.KindName(b.Max.Kind); err != nil {
			return nil, fmt.Errorf("--delta-driver %s: %w", spec.Driver, err)
		}
	}
	hwm, recorded, err := tgt.mark(ctx, driverType)
	if err != nil {
		return nil, err
	}
	switch {
	case driverType == "":
		driverType = recorded
	case recorded != "" && recorded != driverType:
		return nil, sdk.InvalidArgumentf("%s records driver %s as %s, the source now reports %s: hp state reset, or set the mark with hp state set", tgt.where(), spec.Driver, recorded, driverType)
	}
	steps := p.Steps
	if hwm == nil && driverType != "" {
		if steps.Start, err = startValue(spec, driverType); err != nil {
			return nil, err
		}
	}
	ranges, err := delta.Plan(hwm, b.Min, b.Max, steps)
	if err != nil {
		return nil, usagef("--delta-driver %s: %v", spec.Driver, err)
	}
	if hwm != nil {
		sum.HighWaterMark = delta.Format(hwm)
	}
	if len(ranges) == 0 {
		env.Logger.Info("nothing new above the high-water mark", "driver", spec.Driver, "high_water_mark", sum.HighWaterMark)
	}
	for i, r := range ranges {
		if i > 0 && spec.MaxDuration > 0 {
			elapsed := time.Since(started)
			if elapsed+elapsed/time.Duration(i) > spec.MaxDuration {
				sum.MoreToDo = true
				env.Logger.Info("stopping before --max-duration; the next run continues", "done_chunks", i, "left_chunks", len(ranges)-i)
				break
			}
		}
		d := &manifest.Delta{Driver: spec.Driver, DriverType: driverType, HighInclusive: true, High: delta.Format(r.High),
			LowInclusive: r.LowInclusive, PrimaryKeys: p.Keys, NullDriverRows: b.NullCount}
		if r.Low != nil {
			d.Low = delta.Format(r.Low)
		}
		rreq := req
		rreq.Range = r.Filter(spec.Driver)
		s, err := tgt.deliver(ctx, src, rreq, r, d)
		var pub *publishedError
		if errors.As(err, &pub) {
			return nil, fmt.Errorf("delta of %s to %s: run %s was published (%s) with %s, but the delta state was not advanced: "+
				"the high-water mark stays at %s, and the next run extracts the same range again as a new run. "+
				"To avoid the duplicate, record the mark now with `hp state set %s --high-water-mark %s` once the state is writable, "+
				"or let the next run repeat the range and keep one of the two runs (or dedupe on the primary keys): %w",
				sum.Source, tgt.where(), pub.runID, pub.manifestURL, DescribeRange(spec.Driver, r), orNone(sum.HighWaterMark),
				pub.stateArgs, d.High, pub.err)
		}
		if err != nil {
			return nil, fmt.Errorf("delta of %s to %s failed for %s; nothing of it was committed and the high-water mark stays at %s: %w",
				sum.Source, tgt.where(), DescribeRange(spec.Driver, r), orNone(sum.HighWaterMark), err)
		}
		sum.Runs = append(sum.Runs, s)
		sum.Rows += s.Rows
		sum.Files += s.Files
		sum.Bytes += s.Bytes
		sum.HighWaterMark = d.High
		env.event(Event{Range: DescribeRange(spec.Driver, r), Summary: &s})
	}
	sum.Seconds = time.Since(started).Seconds()
	return sum, nil
}

// filesDelta publishes files and a manifest per range and keeps the mark
// in a state object.
type filesDelta struct {
	files
	h *delta.Handle
	// load, for a staged delta, loads each run before its mark advances.
	load *loader
}

func (t *filesDelta) where() string { return t.st.URL(t.p.TgtObject) }

func (t *filesDelta) mark(ctx context.Context, driverType string) (*sdk.Value, string, error) {
	hwm, err := t.h.State.High()
	if err != nil {
		return nil, "", err
	}
	if !t.h.Found && t.p.Layout.Name == "halfpipe" && driverType != "" {
		if hwm, err = halfpipe.Mark(ctx, t.env.Logger, t.st, t.p.Vars.Prefix, t.p.Vars.Object, driverType); err != nil {
			return nil, "", err
		}
	}
	return hwm, t.h.State.DriverType, nil
}

func (t *filesDelta) deliver(ctx context.Context, src *host.Instance, req sdk.ReadRequest, r delta.Range, d *manifest.Delta) (Summary, error) {
	p, env := t.p, t.env
	start := env.Now().UTC()
	runID := layout.NewRunID(start)
	vars := p.Vars
	vars.Start = start
	if p.Layout.Name == "halfpipe" {
		vars.DeltaFrom, vars.DeltaTo = halfpipe.Bound(r.Low, d.DriverType), halfpipe.Bound(r.High, d.DriverType)
	}
	if err := t.h.Begin(ctx, runID); err != nil {
		return Summary{}, err
	}
	m := t.newManifest(start, runID, src.Info.Name, KindDelta)
	m.Delta = d
	f := t.files
	if t.load != nil {
		mode, keys := deltaMode(d)
		f.check = func(ctx context.Context, s *arrow.Schema) error { return t.load.check(ctx, s, mode, keys) }
	}
	res, err := f.publish(ctx, src, req, m, vars, nil)
	if err != nil {
		return Summary{}, err
	}
	if t.load != nil {
		if err := t.load.loadDelta(ctx, res); err != nil {
			return Summary{}, err
		}
	}
	if err := t.h.Advance(ctx, d.Driver, d.DriverType, r.High, runID, res.ManifestURL, env.Now()); err != nil {
		return Summary{}, &publishedError{runID: runID, manifestURL: res.ManifestURL, stateURL: t.h.URL(), stateArgs: t.h.Args(), err: err}
	}
	return summarize(res.Manifest, res.ManifestURL, p.SourceName(), p.TargetName()), nil
}

// acquire takes the delta state at loc for p, telling of a lock taken
// over; release gives the lock back.
func acquire(ctx context.Context, env Env, p *Plan, loc *delta.Location, stateArgs, driver string) (h *delta.Handle, release func(), err error) {
	h, err = delta.Acquire(ctx, loc.Store, loc.Key, loc.URL, stateArgs, stateSource(p), driver, p.RunID, lockTTL, env.Now())
	if err != nil {
		return nil, nil, err
	}
	if l := h.TookOver; l != nil {
		env.event(Event{TookOver: &LockInfo{RunID: l.RunID, PID: l.PID, StateURL: loc.URL}})
	}
	return h, func() {
		if rerr := h.Release(); rerr != nil {
			env.Logger.Error("could not release the delta state lock; it expires by itself", "state", loc.URL, "error", rerr)
		}
	}, nil
}

// publishedError is a run that was published but whose high-water mark
// could not be saved.
type publishedError struct {
	runID, manifestURL, stateURL, stateArgs string
	err                                     error
}

func (e *publishedError) Error() string {
	return fmt.Sprintf("run %s was published (%s) but the delta state %s was not advanced: %v", e.runID, e.manifestURL, e.stateURL, e.err)
}

func (e *publishedError) Unwrap() error { return e.err }

// stateSource names the source in the delta state: the connection's name,
// or its masked DSN when given inline, and the object or query.
func stateSource(p *Plan) delta.Source {
	conn := p.Src.Name
	if conn == "" {
		conn = sdk.MaskDSN(p.Src.DSN)
	}
	obj := p.SrcRef.String()
	switch {
	case p.SrcRun != nil:
		obj = p.SrcRun.Object
	case p.Spec.Query != "":
		obj = "(query)"
	}
	return delta.Source{Connection: conn, Object: obj}
}

// tableDelta merges each range into a table (on --primary-keys, else
// appends); as in Halfpipe, the mark is the table's own max(driver).
type tableDelta struct {
	*table
	p *Plan
}

func (t *tableDelta) mark(ctx context.Context, _ string) (*sdk.Value, string, error) {
	if !t.inst.Info.Has(sdk.CapBounds) {
		return nil, "", fmt.Errorf("connection %q: the %s connector cannot report bounds, which a delta into a table needs: %w", t.conn.Name, t.inst.Info.Name, sdk.ErrUnimplemented)
	}
	ref := t.ref
	driver := t.p.Spec.Delta.Driver
	b, err := t.inst.Bounds(ctx, sdk.BoundsRequest{Conn: t.conn.Wire(), Source: sdk.Source{Object: &ref}, Column: driver})
	if errors.Is(err, sdk.ErrNotFound) {
		return nil, "", nil // the table does not exist yet
	}
	if err != nil {
		return nil, "", fmt.Errorf("the high-water mark of %s (max of %s): %w", t.where(), driver, err)
	}
	if b.Max == nil {
		return nil, "", nil
	}
	kind, err := delta.KindName(b.Max.Kind)
	return b.Max, kind, err
}

func (t *tableDelta) deliver(ctx context.Context, src *host.Instance, req sdk.ReadRequest, _ delta.Range, d *manifest.Delta) (Summary, error) {
	mode := sdk.Append
	if len(d.PrimaryKeys) > 0 {
		mode = sdk.Merge
	}
	s, err := t.write(ctx, src, t.p, req, mode, d.PrimaryKeys)
	if err != nil {
		return Summary{}, err
	}
	s.Mode = string(KindDelta)
	return *s, nil
}

// checkDriver finds the driver among the source's columns, where the
// source can describe itself: a missing column or a float (whose
// high-water mark would not be exact) is refused before anything is read.
func checkDriver(ctx context.Context, src *host.Instance, req sdk.ReadRequest, driver string) error {
	if !src.Info.Has(sdk.CapDescribe) {
		return nil
	}
	d, err := src.Describe(ctx, req.Conn, req.Source)
	if err != nil {
		return fmt.Errorf("describing %s: %w", req.Source, err)
	}
	for _, f := range d.Schema.Fields() {
		if !strings.EqualFold(f.Name, driver) {
			continue
		}
		switch f.Type.ID() {
		case arrow.FLOAT16, arrow.FLOAT32, arrow.FLOAT64:
			return sdk.InvalidArgumentf("--delta-driver %s is a %s column: floats are not exact, use a timestamp, date, integer or decimal", driver, f.Type)
		}
		return nil
	}
	var names []string
	for _, f := range d.Schema.Fields() {
		names = append(names, f.Name)
	}
	return sdk.NotFoundf("--delta-driver %s is not a column of %s (columns: %s)", driver, req.Source, strings.Join(names, ", "))
}

func startValue(d DeltaSpec, driverType string) (*sdk.Value, error) {
	switch {
	case d.StartDate != "":
		if driverType != "timestamp" && driverType != "date" {
			return nil, usagef("--start-date is for time drivers; %s is %s (use --start-sequence)", d.Driver, driverType)
		}
		t, err := delta.ParseTime(d.StartDate)
		if err != nil {
			return nil, usagef("--start-date: %v", err)
		}
		if driverType == "date" {
			return sdk.DateValue(int32(t.Truncate(24*time.Hour).Unix() / 86400)), nil
		}
		return sdk.TimestampValue(t), nil
	case d.StartSequence != "":
		if driverType == "timestamp" || driverType == "date" {
			return nil, usagef("--start-sequence is for numeric drivers; %s is %s (use --start-date)", d.Driver, driverType)
		}
		v, err := delta.Parse(driverType, d.StartSequence)
		if err != nil {
			return nil, usagef("--start-sequence: %v", err)
		}
		return v, nil
	}
	return nil, nil
}

// DescribeRange renders a delta range: driver in (low, high].
func DescribeRange(driver string, r delta.Range) string {
	low := "-∞"
	open := "("
	if r.Low != nil {
		low = delta.Format(r.Low)
	}
	if r.LowInclusive {
		open = "["
	}
	return fmt.Sprintf("%s in %s%s, %s]", driver, open, low, delta.Format(r.High))
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
