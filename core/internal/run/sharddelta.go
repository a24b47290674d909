package run

import (
	"context"
	"fmt"

	"github.com/halfpipe-io/halfpipe/core/internal/delta"
	"github.com/halfpipe-io/halfpipe/core/internal/registry"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// ShardedDelta is what a sharded delta (core/internal/shard) needs of a
// delta plan: where its state is and how to hold it, and its one range.
type ShardedDelta struct {
	p   *Plan
	loc *delta.Location
}

// NewShardedDelta locates the delta state of p, a delta into a store.
func NewShardedDelta(ctx context.Context, p *Plan) (*ShardedDelta, error) {
	st, err := registry.OpenStore(ctx, p.Tgt, p.Spec.TargetType, nil, p.Spec.S3)
	if err != nil {
		return nil, err
	}
	loc, err := delta.Locate(ctx, st, fmt.Sprintf("target %q", p.Tgt.Name), p.Vars.Prefix, p.Vars.Object, p.Spec.Delta.StateURL, p.Spec.S3)
	if err != nil {
		return nil, err
	}
	return &ShardedDelta{p: p, loc: loc}, nil
}

// Acquire takes the state's lock for runID, as a delta run does; release
// gives it back.
func (s *ShardedDelta) Acquire(ctx context.Context, env Env, runID string) (*delta.Handle, func(), error) {
	args := s.p.TargetName()
	if s.p.Spec.Delta.StateURL != "" {
		args += " --state " + sdk.MaskDSN(s.p.Spec.Delta.StateURL)
	}
	p := *s.p
	p.RunID = runID
	return acquire(ctx, env, &p, s.loc, args, s.p.Spec.Delta.Driver)
}

// Range is the one range a sharded delta reads: above the mark (hwm, the
// state's, nil when none) up to the source's maximum, with the run's
// --lookback, --delta-lag and start; none when nothing is new. A
// --delta-size or --max-duration is refused: the shards read one range.
func (s *ShardedDelta) Range(hwm, min, max *sdk.Value, driverType string) (*delta.Range, error) {
	spec := s.p.Spec.Delta
	if spec.DeltaSize != "" || spec.MaxDuration > 0 {
		return nil, sdk.InvalidArgumentf("a sharded delta reads one range: no --delta-size or --max-duration (the shards split the range)")
	}
	steps := s.p.Steps
	if hwm == nil && driverType != "" {
		var err error
		if steps.Start, err = startValue(spec, driverType); err != nil {
			return nil, err
		}
	}
	ranges, err := delta.Plan(hwm, min, max, steps)
	if err != nil {
		return nil, sdk.InvalidArgumentf("--delta-driver %s: %v", spec.Driver, err)
	}
	switch len(ranges) {
	case 0:
		return nil, nil
	case 1:
		return &ranges[0], nil
	}
	return nil, fmt.Errorf("a sharded delta planned %d ranges, want one", len(ranges))
}
