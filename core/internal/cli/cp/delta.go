package cp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/spf13/cobra"

	"github.com/halfpipe-io/halfpipe/core/internal/cliutil"
	"github.com/halfpipe-io/halfpipe/core/internal/delta"
	"github.com/halfpipe-io/halfpipe/core/internal/job"
	"github.com/halfpipe-io/halfpipe/core/internal/layout"
	"github.com/halfpipe-io/halfpipe/core/internal/manifest"
	"github.com/halfpipe-io/halfpipe/core/internal/store"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/host"
)

// DeltaOptions are the inputs of `hp cp delta`: snap's, plus the driver.
type DeltaOptions struct {
	SnapOptions
	Driver        string
	StartDate     string
	StartSequence string
	DeltaSize     string
	Lookback      string
	Lag           string
	MaxDuration   time.Duration
	StateURL      string
}

func newDeltaCmd(f *cliutil.Factory) *cobra.Command {
	o := &DeltaOptions{SnapOptions: *newOptions(f)}
	cmd := &cobra.Command{
		Use:   "delta <conn>.[<schema>.]<table> <conn>.<object> --delta-driver COL",
		Short: "Copy the rows whose driver column moved past the last run's high-water mark",
		Long: `Copy the rows whose delta-driver column (a timestamp, date, integer or
decimal that grows with every insert and update) lies above the high-water
mark of the last run, into files with a manifest, as hp cp snap does.

The high-water mark is kept exactly in <prefix>/<object>/_state.json beside
the output and advanced only after the run's manifest is published, so a
failed run re-extracts the same range: no row is lost. A run reads up to
the driver's maximum at its start (minus --delta-lag); rows committed later
with an older driver value are caught by --lookback, which re-reads that
window (consumers deduplicate overlaps by --primary-keys, recorded in the
manifest). Rows whose driver is NULL are never extracted; they are counted
and reported. A run holds a lock in the state, so two runs never extract
at once.`,
		Example: `  hp cp delta pg.public.orders lake.orders --delta-driver updated_at --primary-keys id
  hp cp delta pg.public.orders lake.orders --delta-driver updated_at --lookback 10m --delta-lag 1m
  hp cp delta pg.public.events lake.events --delta-driver id --start-sequence 0 --delta-size 1000000 --max-duration 13m`,
		Args: cliutil.ExactArgs(2, "a source and a target (<conn>.<table> <conn>.<object>)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Source, o.Target = args[0], args[1]
			return RunDelta(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	bindFlags(fl, &o.SnapOptions)
	fl.StringVar(&o.Driver, "delta-driver", "", "Column whose growth marks new and changed rows (timestamp, date, integer or decimal)")
	fl.StringVar(&o.PrimaryKeys, "primary-keys", "", "Comma-separated key columns, recorded in the manifest for deduplication")
	fl.StringVar(&o.StartDate, "start-date", "", "Where a first run starts (inclusive), for a time driver: ISO 8601 or YYYYMMDDTHHMMSS")
	fl.StringVar(&o.StartSequence, "start-sequence", "", "Where a first run starts (inclusive), for a numeric driver")
	fl.StringVar(&o.DeltaSize, "delta-size", "", "Split the range into chunks of this width (6h, 1d, or a number), each published on its own")
	fl.StringVar(&o.Lookback, "lookback", "", "Re-read this far below the high-water mark (15m, 1d, or a number) to catch late commits")
	fl.StringVar(&o.Lag, "delta-lag", "", "Leave the newest values (the maximum minus this) for the next run")
	fl.StringVar(&o.StateURL, "state", "", "Keep the delta state here (file:///dir/state.json, s3://bucket/key.json) instead of <object>/_state.json beside the output")
	fl.DurationVar(&o.MaxDuration, "max-duration", 0, "Stop after the chunk in progress once this much time is near, reporting more to do (e.g. 13m)")
	return cmd
}

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

// RunDelta runs the delta.
func RunDelta(ctx context.Context, o *DeltaOptions) error {
	if o.Driver == "" {
		return cliutil.UsageErrorf("hp cp delta needs --delta-driver COL")
	}
	if o.StartDate != "" && o.StartSequence != "" {
		return cliutil.UsageErrorf("give --start-date or --start-sequence, not both")
	}
	var dopts delta.Options
	for _, s := range []struct {
		flag, text string
		to         *delta.Step
	}{{"--delta-size", o.DeltaSize, &dopts.Size}, {"--lookback", o.Lookback, &dopts.Lookback}, {"--delta-lag", o.Lag, &dopts.Lag}} {
		step, err := delta.ParseStep(s.text)
		if err != nil {
			return cliutil.UsageErrorf("%s: %v", s.flag, err)
		}
		*s.to = step
	}
	p, err := o.plan()
	if err != nil {
		return err
	}
	if p.tgt.Scheme == "stdout" {
		return cliutil.UsageErrorf("hp cp delta writes to file, S3 and database targets, not stdout: it keeps a high-water mark")
	}
	if o.DryRun {
		return o.printPlan(p)
	}
	started := time.Now()
	src, err := job.Source(ctx, o.Host(), p.src, o.SourceType)
	if err != nil {
		return err
	}
	if !src.Info.Has(sdk.CapBounds) {
		return fmt.Errorf("connection %q: the %s connector cannot report bounds, which delta needs: %w", p.src.Name, src.Info.Name, sdk.ErrUnimplemented)
	}
	// A mistyped driver is reported as such, before any state is read.
	if err := o.checkDriver(ctx, src, o.readRequest(p)); err != nil {
		return err
	}
	var tgt deltaTarget
	if p.targetIsStore {
		st, err := job.OpenStore(ctx, p.tgt, o.TargetType, o.IO.Out, o.S3)
		if err != nil {
			return err
		}
		stateStore, stateKey := store.Store(st), strings.TrimPrefix(p.vars.Prefix+"/"+p.vars.Object+"/"+delta.StateFile, "/")
		if o.StateURL != "" {
			if stateStore, stateKey, err = job.OpenStateURL(ctx, o.StateURL, o.S3); err != nil {
				return err
			}
		}
		vst, ok := stateStore.(store.Versioned)
		if !ok {
			return cliutil.UsageErrorf("target %q cannot keep delta state", p.tgt.Name)
		}
		stateURL := stateStore.URL(stateKey)
		stateArgs := p.tgt.Name + "." + p.tgtObject
		if o.StateURL != "" {
			stateArgs += " --state " + sdk.MaskDSN(o.StateURL)
		}
		h, err := delta.Acquire(ctx, vst, stateKey, stateURL, stateArgs, o.stateSource(p), o.Driver, p.runID, lockTTL, o.Now())
		if err != nil {
			return err
		}
		if l := h.TookOver; l != nil {
			fmt.Fprintf(o.IO.ErrOut, "hp: took over the delta state lock of run %s (pid %d on this host, no longer running) at %s\n", l.RunID, l.PID, stateURL)
		}
		defer func() {
			if rerr := h.Release(); rerr != nil {
				o.Logger().Error("could not release the delta state lock; it expires by itself", "state", stateURL, "error", rerr)
			}
		}()
		tgt = &storeTarget{o: o, p: p, st: st, h: h}
	} else {
		inst, ref, err := o.targetTable(ctx, p)
		if err != nil {
			return err
		}
		tgt = &tableTarget{o: o, p: p, inst: inst, ref: ref}
	}
	sum, err := o.extract(ctx, p, src, tgt, dopts, started)
	if err != nil {
		return err
	}
	return o.reportDelta(sum)
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
func (o *DeltaOptions) extract(ctx context.Context, p *plan, src *host.Instance, tgt deltaTarget, dopts delta.Options, started time.Time) (*DeltaSummary, error) {
	sum := &DeltaSummary{Mode: "delta", Source: sourceName(p, &o.SnapOptions), Target: p.tgt.Name + "." + p.tgtObject, Runs: []Summary{}}
	req := o.readRequest(p)
	b, err := src.Bounds(ctx, sdk.BoundsRequest{Conn: req.Conn, Source: req.Source, Column: o.Driver, Where: o.Where})
	if err != nil {
		return nil, fmt.Errorf("bounds of %s in %s: %w", o.Driver, sum.Source, err)
	}
	sum.NullDriver = b.NullCount
	if b.NullCount > 0 {
		o.Logger().Warn("rows with a NULL delta driver are not extracted by delta runs", "driver", o.Driver, "rows", b.NullCount)
	}
	driverType := ""
	if b.Max != nil {
		if driverType, err = delta.KindName(b.Max.Kind); err != nil {
			return nil, fmt.Errorf("--delta-driver %s: %w", o.Driver, err)
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
		return nil, sdk.InvalidArgumentf("%s records driver %s as %s, the source now reports %s: hp state reset, or set the mark with hp state set", tgt.where(), o.Driver, recorded, driverType)
	}
	if hwm == nil && driverType != "" {
		if dopts.Start, err = o.startValue(driverType); err != nil {
			return nil, err
		}
	}
	ranges, err := delta.Plan(hwm, b.Min, b.Max, dopts)
	if err != nil {
		return nil, cliutil.UsageErrorf("--delta-driver %s: %v", o.Driver, err)
	}
	if hwm != nil {
		sum.HighWaterMark = delta.Format(hwm)
	}
	if len(ranges) == 0 {
		o.Logger().Info("nothing new above the high-water mark", "driver", o.Driver, "high_water_mark", sum.HighWaterMark)
	}
	keys := p.keys
	for i, r := range ranges {
		if i > 0 && o.MaxDuration > 0 {
			elapsed := time.Since(started)
			if elapsed+elapsed/time.Duration(i) > o.MaxDuration {
				sum.MoreToDo = true
				o.Logger().Info("stopping before --max-duration; the next run continues", "done_chunks", i, "left_chunks", len(ranges)-i)
				break
			}
		}
		d := &manifest.Delta{Driver: o.Driver, DriverType: driverType, HighInclusive: true, High: delta.Format(r.High),
			LowInclusive: r.LowInclusive, PrimaryKeys: keys, NullDriverRows: b.NullCount}
		if r.Low != nil {
			d.Low = delta.Format(r.Low)
		}
		rreq := req
		rreq.Range = r.Filter(o.Driver)
		s, err := tgt.deliver(ctx, src, rreq, r, d)
		var pub *publishedError
		if errors.As(err, &pub) {
			return nil, fmt.Errorf("delta of %s to %s: run %s was published (%s) with %s, but the delta state was not advanced: "+
				"the high-water mark stays at %s, and the next run extracts the same range again as a new run. "+
				"To avoid the duplicate, record the mark now with `hp state set %s --high-water-mark %s` once the state is writable, "+
				"or let the next run repeat the range and keep one of the two runs (or dedupe on the primary keys): %w",
				sum.Source, tgt.where(), pub.runID, pub.manifestURL, describeRange(o.Driver, r), orNone(sum.HighWaterMark),
				pub.stateArgs, d.High, pub.err)
		}
		if err != nil {
			return nil, fmt.Errorf("delta of %s to %s failed for %s; nothing of it was committed and the high-water mark stays at %s: %w",
				sum.Source, tgt.where(), describeRange(o.Driver, r), orNone(sum.HighWaterMark), err)
		}
		sum.Runs = append(sum.Runs, s)
		sum.Rows += s.Rows
		sum.Files += s.Files
		sum.Bytes += s.Bytes
		sum.HighWaterMark = d.High
		if o.Output != "json" {
			fmt.Fprintf(o.IO.ErrOut, "delta %s: %d rows, %d files, %s → %s\n", describeRange(o.Driver, r), s.Rows, s.Files, cliutil.HumanBytes(s.Bytes), orNone(s.ManifestURL))
		}
	}
	sum.Seconds = time.Since(started).Seconds()
	return sum, nil
}

// storeTarget publishes files and a manifest per range and keeps the mark
// in a state object beside them.
type storeTarget struct {
	o  *DeltaOptions
	p  *plan
	st store.Store
	h  *delta.Handle
}

func (t *storeTarget) where() string { return t.st.URL(t.p.tgtObject) }

func (t *storeTarget) mark(ctx context.Context, driverType string) (*sdk.Value, string, error) {
	hwm, err := t.h.State.High()
	if err != nil {
		return nil, "", err
	}
	if !t.h.Found && t.p.layout.Name == "halfpipe" && driverType != "" {
		if hwm, err = t.o.halfpipeMark(ctx, t.p, t.st, driverType); err != nil {
			return nil, "", err
		}
	}
	return hwm, t.h.State.DriverType, nil
}

func (t *storeTarget) deliver(ctx context.Context, src *host.Instance, req sdk.ReadRequest, r delta.Range, d *manifest.Delta) (Summary, error) {
	o, p := t.o, t.p
	runStart := o.Now().UTC()
	cp := *p
	cp.start, cp.runID = runStart, layout.NewRunID(runStart)
	cp.vars.Start = runStart
	if p.layout.Name == "halfpipe" {
		cp.vars.DeltaFrom, cp.vars.DeltaTo = halfpipeBound(r.Low, d.DriverType), halfpipeBound(r.High, d.DriverType)
	}
	if err := t.h.Begin(ctx, cp.runID); err != nil {
		return Summary{}, err
	}
	m := o.newManifest(&cp, src.Info.Name, "delta")
	m.Delta = d
	res, err := o.publish(ctx, &cp, src, t.st, req, m, nil)
	if err != nil {
		return Summary{}, err
	}
	if err := t.h.Advance(ctx, o.Driver, d.DriverType, r.High, cp.runID, res.ManifestURL, o.Now()); err != nil {
		return Summary{}, &publishedError{runID: cp.runID, manifestURL: res.ManifestURL, stateURL: t.h.URL(), stateArgs: t.h.Args(), err: err}
	}
	return runSummary(res.Manifest, res.ManifestURL, sourceName(p, &o.SnapOptions), p.tgt.Name+"."+p.tgtObject), nil
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
func (o *DeltaOptions) stateSource(p *plan) delta.Source {
	conn := p.src.Name
	if conn == "" {
		conn = sdk.MaskDSN(p.src.DSN)
	}
	obj := p.srcRef.String()
	if o.Query != "" {
		obj = "(query)"
	}
	return delta.Source{Connection: conn, Object: obj}
}

// tableTarget merges each range into a table (on --primary-keys, else
// appends); as in Halfpipe, the mark is the table's own max(driver).
type tableTarget struct {
	o    *DeltaOptions
	p    *plan
	inst *host.Instance
	ref  sdk.ObjectRef
}

func (t *tableTarget) where() string { return t.p.tgt.Name + "." + t.ref.String() }

func (t *tableTarget) mark(ctx context.Context, _ string) (*sdk.Value, string, error) {
	if !t.inst.Info.Has(sdk.CapBounds) {
		return nil, "", fmt.Errorf("connection %q: the %s connector cannot report bounds, which a delta into a table needs: %w", t.p.tgt.Name, t.inst.Info.Name, sdk.ErrUnimplemented)
	}
	ref := t.ref
	b, err := t.inst.Bounds(ctx, sdk.BoundsRequest{Conn: t.p.tgt.Wire(), Source: sdk.Source{Object: &ref}, Column: t.o.Driver})
	if errors.Is(err, sdk.ErrNotFound) {
		return nil, "", nil // the table does not exist yet
	}
	if err != nil {
		return nil, "", fmt.Errorf("the high-water mark of %s (max of %s): %w", t.where(), t.o.Driver, err)
	}
	if b.Max == nil {
		return nil, "", nil
	}
	kind, err := delta.KindName(b.Max.Kind)
	return b.Max, kind, err
}

func (t *tableTarget) deliver(ctx context.Context, src *host.Instance, req sdk.ReadRequest, r delta.Range, d *manifest.Delta) (Summary, error) {
	records, err := src.Read(ctx, req)
	if err != nil {
		return Summary{}, fmt.Errorf("reading %s from %q: %w", req.Source, t.p.src.Name, err)
	}
	defer records.Release()
	w := sdk.WriteRequest{Conn: t.p.tgt.Wire(), Table: t.ref, Mode: sdk.Append, CreateTable: true}
	if len(d.PrimaryKeys) > 0 {
		w.Mode, w.Keys = sdk.Merge, d.PrimaryKeys
	}
	start := time.Now()
	res, err := t.inst.Write(ctx, w, records)
	if err != nil {
		return Summary{}, fmt.Errorf("writing %s: %w", t.where(), err)
	}
	return Summary{Mode: "delta", Source: sourceName(t.p, &t.o.SnapOptions), Target: t.where(), Rows: res.RowsWritten,
		Seconds: time.Since(start).Seconds()}, nil
}

// checkDriver finds the driver among the source's columns, where the
// source can describe itself: a missing column or a float (whose
// high-water mark would not be exact) is refused before anything is read.
func (o *DeltaOptions) checkDriver(ctx context.Context, src *host.Instance, req sdk.ReadRequest) error {
	if !src.Info.Has(sdk.CapDescribe) {
		return nil
	}
	d, err := src.Describe(ctx, req.Conn, req.Source)
	if err != nil {
		return fmt.Errorf("describing %s: %w", req.Source, err)
	}
	for _, f := range d.Schema.Fields() {
		if !strings.EqualFold(f.Name, o.Driver) {
			continue
		}
		switch f.Type.ID() {
		case arrow.FLOAT16, arrow.FLOAT32, arrow.FLOAT64:
			return sdk.InvalidArgumentf("--delta-driver %s is a %s column: floats are not exact, use a timestamp, date, integer or decimal", o.Driver, f.Type)
		}
		return nil
	}
	var names []string
	for _, f := range d.Schema.Fields() {
		names = append(names, f.Name)
	}
	return sdk.NotFoundf("--delta-driver %s is not a column of %s (columns: %s)", o.Driver, req.Source, strings.Join(names, ", "))
}

func (o *DeltaOptions) startValue(driverType string) (*sdk.Value, error) {
	switch {
	case o.StartDate != "":
		if driverType != "timestamp" && driverType != "date" {
			return nil, cliutil.UsageErrorf("--start-date is for time drivers; %s is %s (use --start-sequence)", o.Driver, driverType)
		}
		t, err := delta.ParseTime(o.StartDate)
		if err != nil {
			return nil, cliutil.UsageErrorf("--start-date: %v", err)
		}
		if driverType == "date" {
			return sdk.DateValue(int32(t.Truncate(24*time.Hour).Unix() / 86400)), nil
		}
		return sdk.TimestampValue(t), nil
	case o.StartSequence != "":
		if driverType == "timestamp" || driverType == "date" {
			return nil, cliutil.UsageErrorf("--start-sequence is for numeric drivers; %s is %s (use --start-date)", o.Driver, driverType)
		}
		v, err := delta.Parse(driverType, o.StartSequence)
		if err != nil {
			return nil, cliutil.UsageErrorf("--start-sequence: %v", err)
		}
		return v, nil
	}
	return nil, nil
}

// halfpipeMark derives the high-water mark of an object that the original
// Halfpipe extracted, from its .man names (<object>-<from>-<to>-<extract>
// _NNNNNN.man): the highest <to>. Halfpipe kept whole seconds, and read
// "driver > to" next, as this run does.
func (o *DeltaOptions) halfpipeMark(ctx context.Context, p *plan, st store.Store, driverType string) (*sdk.Value, error) {
	objs, err := st.List(ctx, strings.TrimPrefix(p.vars.Prefix+"/", "/"))
	if err != nil {
		return nil, fmt.Errorf("looking for Halfpipe manifests: %w", err)
	}
	re := layout.HalfpipeDeltaMan(p.vars.Object)
	var best *sdk.Value
	from := ""
	for _, obj := range objs {
		m := re.FindStringSubmatch(obj.Key)
		if m == nil {
			continue
		}
		v, err := delta.Parse(driverType, m[1])
		if err != nil {
			return nil, fmt.Errorf("Halfpipe manifest %s: its upper bound %q is not a %s: %w", st.URL(obj.Key), m[1], driverType, sdk.ErrInvalidArgument)
		}
		if best == nil || delta.Compare(v, best) > 0 {
			best, from = v, obj.Key
		}
	}
	if best != nil {
		o.Logger().Info("high-water mark taken from the original Halfpipe's manifests", "high_water_mark", delta.Format(best), "manifest", st.URL(from))
	}
	return best, nil
}

// halfpipeBound writes a range end as Halfpipe named files: whole seconds
// (YYYYMMDDTHHMMSS, UTC) for time drivers, the number itself otherwise.
func halfpipeBound(v *sdk.Value, driverType string) string {
	switch {
	case v == nil && (driverType == "timestamp" || driverType == "date"):
		return "19000101T000000"
	case v == nil:
		return "0"
	case v.Kind == sdk.KindTimestamp:
		return v.Time.UTC().Format("20060102T150405")
	case v.Kind == sdk.KindDate:
		return time.Unix(v.Int*86400, 0).UTC().Format("20060102T150405")
	}
	return delta.Format(v)
}

func describeRange(driver string, r delta.Range) string {
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

func (o *DeltaOptions) reportDelta(s *DeltaSummary) error {
	if o.Output == "json" {
		return cliutil.WriteJSON(o.IO.Out, s)
	}
	more := ""
	if s.MoreToDo {
		more = "; more to do: the next run continues"
	}
	fmt.Fprintf(o.IO.ErrOut, "delta: %d rows in %d runs, %d files, %s in %.1fs; high-water mark %s%s\n",
		s.Rows, len(s.Runs), s.Files, cliutil.HumanBytes(s.Bytes), s.Seconds, orNone(s.HighWaterMark), more)
	return nil
}
