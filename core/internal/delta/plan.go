package delta

import (
	"github.com/halfpipe-io/halfpipe/sdk"
)

// Range is one extraction of the driver: above Low (or from it, when
// LowInclusive; no lower bound when Low is nil) up to High, inclusive.
type Range struct {
	Low          *sdk.Value
	LowInclusive bool
	High         *sdk.Value
}

// Filter is the range as a read filter on column.
func (r Range) Filter(column string) *sdk.RangeFilter {
	return &sdk.RangeFilter{Column: column, Lower: r.Low, LowerInclusive: r.LowInclusive, Upper: r.High, UpperInclusive: true}
}

// Options shape the ranges of a run.
type Options struct {
	// Start is where a first run (no high-water mark) begins, inclusive;
	// nil = from the smallest value.
	Start *sdk.Value
	// Lookback re-reads this far below the high-water mark, for rows
	// committed late with an older driver value.
	Lookback Step
	// Lag leaves the newest values (max - Lag) for the next run, clear of
	// transactions still in flight.
	Lag Step
	// Size splits the range into chunks of this width, each published on
	// its own.
	Size Step
}

// Plan returns the ranges a run extracts, in order. hwm is the state's
// high-water mark (nil on a first run); min and max are the source's
// bounds of the driver at the start of the run (nil when it has no
// non-NULL value). No ranges means nothing new.
func Plan(hwm, min, max *sdk.Value, o Options) ([]Range, error) {
	if max == nil {
		return nil, nil
	}
	high, err := Move(max, o.Lag, -1)
	if err != nil {
		return nil, err
	}
	r := Range{High: high}
	switch {
	case hwm != nil:
		if r.Low, err = Move(hwm, o.Lookback, -1); err != nil {
			return nil, err
		}
	case o.Start != nil:
		r.Low, r.LowInclusive = o.Start, true
	case !o.Size.IsZero():
		r.Low, r.LowInclusive = min, true
	}
	if r.Low != nil {
		if c := Compare(r.Low, high); c > 0 || (c == 0 && !r.LowInclusive) {
			return nil, nil
		}
	}
	if o.Size.IsZero() {
		return []Range{r}, nil
	}
	var out []Range
	for cur := r; ; {
		next, err := Move(cur.Low, o.Size, +1)
		if err != nil {
			return nil, err
		}
		if Compare(next, high) >= 0 {
			cur.High = high
			return append(out, cur), nil
		}
		cur.High = next
		out = append(out, cur)
		cur = Range{Low: next, High: high}
	}
}
