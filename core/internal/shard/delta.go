package shard

import (
	"context"
	"fmt"

	"github.com/halfpipe-io/halfpipe/core/internal/delta"
	"github.com/halfpipe-io/halfpipe/core/internal/manifest"
	"github.com/halfpipe-io/halfpipe/core/internal/run"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/host"
)

// DeltaRange is the one range of the driver a sharded delta reads, fixed
// when it is planned: above Low (from it when LowInclusive; unbounded when
// empty) up to High inclusive, High empty when nothing is new. Mark is the
// state's high-water mark the plan was made at: the commit advances the
// state to High only if it is still there.
type DeltaRange struct {
	Driver         string   `json:"driver"`
	DriverType     string   `json:"driver_type,omitempty"`
	Mark           string   `json:"mark,omitempty"`
	Low            string   `json:"low,omitempty"`
	LowInclusive   bool     `json:"low_inclusive,omitempty"`
	High           string   `json:"high,omitempty"`
	PrimaryKeys    []string `json:"primary_keys,omitempty"`
	NullDriverRows int64    `json:"null_driver_rows"`
}

// makeDelta plans the delta of p: its range above the state's mark, cut
// into n slices of the driver.
func makeDelta(ctx context.Context, env run.Env, p *run.Plan, src *host.Instance, plan *Plan, n int, by string) error {
	driver := p.Spec.Delta.Driver
	if by != "" && by != driver {
		return sdk.InvalidArgumentf("a sharded delta cuts its range of --delta-driver %s, not --shard-by %s", driver, by)
	}
	if !src.Info.Has(sdk.CapBounds) {
		return sdk.InvalidArgumentf("the %s connector cannot report a column's bounds, which a delta needs", src.Info.Name)
	}
	req := p.ReadRequest()
	b, err := src.Bounds(ctx, sdk.BoundsRequest{Conn: req.Conn, Source: req.Source, Column: driver, Where: p.Spec.Where})
	if err != nil {
		return fmt.Errorf("bounds of %s in %s: %w", driver, p.SourceName(), err)
	}
	if b.NullCount > 0 {
		env.Logger.Warn("rows with a NULL delta driver are not extracted by delta runs", "driver", driver, "rows", b.NullCount)
	}
	driverType := ""
	if b.Max != nil {
		if driverType, err = delta.KindName(b.Max.Kind); err != nil {
			return fmt.Errorf("--delta-driver %s: %w", driver, err)
		}
	}
	sd, err := run.NewShardedDelta(ctx, p)
	if err != nil {
		return err
	}
	// The lock, taken and given back, reads the state as a run would
	// (and fails while a run holds it).
	h, release, err := sd.Acquire(ctx, env, p.RunID)
	if err != nil {
		return err
	}
	defer release()
	hwm, err := h.State.High()
	if err != nil {
		return err
	}
	switch recorded := h.State.DriverType; {
	case driverType == "":
		driverType = recorded
	case recorded != "" && recorded != driverType:
		return sdk.InvalidArgumentf("%s records driver %s as %s, the source now reports %s", h.URL(), driver, recorded, driverType)
	}
	r, err := sd.Range(hwm, b.Min, b.Max, driverType)
	if err != nil {
		return err
	}
	plan.ShardBy, plan.KeyType = driver, driverType
	plan.Delta = &DeltaRange{Driver: driver, DriverType: driverType, Mark: h.State.HighWaterMark, PrimaryKeys: p.Keys, NullDriverRows: b.NullCount}
	if r == nil {
		// Nothing new: every shard finishes at once, the commit publishes
		// nothing.
		plan.Slices = make([]Slice, n)
		for i := range plan.Slices {
			plan.Slices[i] = Slice{Index: i, Empty: true}
		}
		return nil
	}
	d := plan.Delta
	d.High, d.LowInclusive = delta.Format(r.High), r.LowInclusive
	lo := b.Min
	if r.Low != nil {
		d.Low, lo = delta.Format(r.Low), r.Low
	}
	if _, plan.Slices, err = cut(lo, r.High, n); err != nil {
		return sdk.InvalidArgumentf("--delta-driver %s: %v", driver, err)
	}
	first, last := &plan.Slices[0], &plan.Slices[n-1]
	first.Lower, first.LowerExclusive = d.Low, d.Low != "" && !d.LowInclusive
	last.Upper, last.UpperInclusive = d.High, true
	return nil
}

// commitDelta publishes a sharded delta's manifest (m of files; nil when
// nothing was new) and advances the state's mark to the range's high,
// under the state's lock, only if the mark is still where the plan found
// it.
func (j *job) commitDelta(ctx context.Context, env run.Env, m *manifest.Manifest, files []manifest.File) (*run.Summary, error) {
	d := j.plan.Delta
	sd, err := run.NewShardedDelta(ctx, j.run)
	if err != nil {
		return nil, err
	}
	h, release, err := sd.Acquire(ctx, env, j.plan.RunID)
	if err != nil {
		return nil, err
	}
	defer release()
	again := d.High != "" && h.State.LastRunID == j.plan.RunID && h.State.HighWaterMark == d.High
	if !again && h.State.HighWaterMark != d.Mark {
		return nil, fmt.Errorf("the delta state %s is at %s, but run %s was planned at %s: another run moved the mark, nothing was published; plan again",
			h.URL(), orNone(h.State.HighWaterMark), j.plan.RunID, orNone(d.Mark))
	}
	if d.High == "" {
		env.Logger.Info("nothing new above the high-water mark", "driver", d.Driver, "high_water_mark", d.Mark)
		return &run.Summary{RunID: j.plan.RunID, Mode: string(run.KindDelta), Source: j.run.SourceName(), Target: j.run.TargetName()}, nil
	}
	m.Mode = string(run.KindDelta)
	m.Delta = &manifest.Delta{Driver: d.Driver, DriverType: d.DriverType, Low: d.Low, LowInclusive: d.LowInclusive, High: d.High, HighInclusive: true,
		PrimaryKeys: d.PrimaryKeys, NullDriverRows: d.NullDriverRows}
	if m, err = j.publish(ctx, env, m, files); err != nil {
		return nil, err
	}
	if !again {
		high, err := delta.Parse(d.DriverType, d.High)
		if err != nil {
			return nil, err
		}
		if err := h.Advance(ctx, d.Driver, d.DriverType, high, j.plan.RunID, j.plan.Manifest, env.Now()); err != nil {
			return nil, fmt.Errorf("run %s was published (%s) but the delta state %s was not advanced to %s: commit again once the state is writable: %w",
				j.plan.RunID, j.plan.Manifest, h.URL(), d.High, err)
		}
	}
	s := run.Summarize(m, j.plan.Manifest, j.run)
	return &s, nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
