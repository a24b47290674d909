package diff

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/core/internal/cliutil"
	merge "github.com/halfpipe-io/halfpipe/core/internal/diff"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// HashStats says what --hash compared and fetched.
type HashStats struct {
	// Ranges counts the checksums compared (of ranges holding rows, both
	// sides); RangesDiffering the ranges read.
	Ranges          int   `json:"ranges"`
	RangesDiffering int   `json:"ranges_differing"`
	FetchedSource   int64 `json:"fetched_source_rows"`
	FetchedTarget   int64 `json:"fetched_target_rows"`
}

// compareHashed compares per-range checksums computed in each database
// and merges only the rows of the ranges that differ.
func compareHashed(ctx context.Context, o *Options, src, tgt tableSide, emit func(merge.Difference) error) (merge.Summary, *HashStats, error) {
	var sum merge.Summary
	for _, s := range []tableSide{src, tgt} {
		if !s.t.Inst.Info.Has(sdk.CapChecksumRanges) {
			return sum, nil, cliutil.UsageErrorf("%s: the %s connector computes no checksums: compare without --hash", s.t, s.t.Inst.Info.Name)
		}
		f, _ := field(s.schema, s.keys[0])
		if !arrow.IsInteger(f.Type.ID()) {
			// Ranges of text would have to be cut where both databases
			// order alike, and collations do not (MariaDB's default puts
			// a = A = á, PostgreSQL's and SQLite's order by bytes).
			return sum, nil, cliutil.UsageErrorf("--hash splits the table into ranges of an integer first key, and %q is %s in %s: ranges of text keys would depend on each database's collation, which need not agree: compare without --hash, or put an integer key column first with --primary-keys", s.keys[0], f.Type, s.t)
		}
	}
	lo, hi, rows, err := keyBounds(ctx, o.Where, src, tgt)
	if err != nil || rows == 0 {
		return sum, &HashStats{}, err
	}
	h := &hasher{o: o, src: src, tgt: tgt, stats: &HashStats{}}
	w := merge.RangeWidth(lo, hi, rows, o.HashRows)
	for _, c := range merge.Chunks(lo, hi, w) {
		if err := h.compare(ctx, c, w, true); err != nil {
			return sum, nil, err
		}
	}
	sum.SourceRows, sum.TargetRows = h.srcRows, h.tgtRows
	stats, spans := h.stats, h.spans
	ss, err := readSpans(ctx, src, o.Where, spans)
	if err != nil {
		return sum, nil, err
	}
	defer ss.Records.Release()
	ts, err := readSpans(ctx, tgt, o.Where, spans)
	if err != nil {
		return sum, nil, err
	}
	defer ts.Records.Release()
	fetched, err := merge.Compare(ss, ts, emit)
	if err != nil {
		return sum, nil, err
	}
	stats.FetchedSource, stats.FetchedTarget = fetched.SourceRows, fetched.TargetRows
	sum.New, sum.Changed, sum.Deleted = fetched.New, fetched.Changed, fetched.Deleted
	return sum, stats, nil
}

// hasher compares checksums of ranges, and again in narrower ranges
// within a range that differs and holds more than twice --hash-rows rows, so
// that sparse or skewed keys still narrow down to small reads.
type hasher struct {
	o                *Options
	src, tgt         tableSide
	stats            *HashStats
	spans            []merge.Span
	srcRows, tgtRows int64
}

// compare checks the ranges of width w over c; top: c is a chunk of the
// whole key range, whose rows are counted.
func (h *hasher) compare(ctx context.Context, c merge.Span, w int64, top bool) error {
	var sr, tr []sdk.RangeChecksum
	var serr, terr error
	var wg sync.WaitGroup
	wg.Go(func() { sr, serr = checksums(ctx, h.src, h.o.Where, c, w) })
	tr, terr = checksums(ctx, h.tgt, h.o.Where, c, w)
	wg.Wait()
	if err := errors.Join(serr, terr); err != nil {
		return err
	}
	if top {
		for _, r := range sr {
			h.srcRows += r.Rows
		}
		for _, r := range tr {
			h.tgtRows += r.Rows
		}
	}
	h.stats.Ranges += len(sr) + len(tr)
	for _, m := range merge.Differing(sr, tr) {
		r := merge.Range(c.Lower, c.Upper, w, m.Index)
		// Narrower only when that at least halves the rows read: each
		// level costs a query on both sides.
		if nw := merge.RangeWidth(r.Lower, r.Upper, m.Rows, h.o.HashRows); m.Rows > 2*h.o.HashRows && nw <= w/2 {
			if err := h.compare(ctx, r, nw, false); err != nil {
				return err
			}
			continue
		}
		h.stats.RangesDiffering++
		h.spans = merge.AppendSpan(h.spans, r)
	}
	return nil
}

// keyBounds returns the first key's smallest and largest value on both
// sides and the larger row count; a NULL key fails as in a full diff.
func keyBounds(ctx context.Context, where string, sides ...tableSide) (lo, hi, rows int64, err error) {
	lo, hi = math.MaxInt64, math.MinInt64
	for _, s := range sides {
		b, err := s.t.Inst.Bounds(ctx, sdk.BoundsRequest{Conn: s.t.Conn.Wire(), Source: sdk.Source{Object: &s.t.Ref}, Column: s.keys[0], Where: where})
		if err != nil {
			return 0, 0, 0, fmt.Errorf("bounds of %q in %s: %w", s.keys[0], s.t, err)
		}
		if b.NullCount > 0 {
			return 0, 0, 0, fmt.Errorf("%w: key column %q is NULL in %d rows of %s: a row without a key cannot be matched", merge.ErrNullKey, s.keys[0], b.NullCount, s.t)
		}
		if b.Min == nil {
			continue
		}
		mn, err := int64Of(b.Min, s)
		if err != nil {
			return 0, 0, 0, err
		}
		mx, err := int64Of(b.Max, s)
		if err != nil {
			return 0, 0, 0, err
		}
		lo, hi, rows = min(lo, mn), max(hi, mx), max(rows, b.Count)
	}
	return lo, hi, rows, nil
}

func int64Of(v *sdk.Value, s tableSide) (int64, error) {
	switch {
	case v.Kind == sdk.KindInt64:
		return v.Int, nil
	case v.Kind == sdk.KindUint64 && v.Uint <= math.MaxInt64:
		return int64(v.Uint), nil
	}
	return 0, cliutil.UsageErrorf("--hash needs key %q of %s within the range of a signed 64-bit integer: compare without --hash", s.keys[0], s.t)
}

func checksums(ctx context.Context, s tableSide, where string, c merge.Span, w int64) ([]sdk.RangeChecksum, error) {
	r, err := s.t.Inst.ChecksumRanges(ctx, sdk.ChecksumRangesRequest{
		Conn: s.t.Conn.Wire(), Table: s.t.Ref, Columns: append(append([]string(nil), s.keys...), s.cols...),
		Where: where, Key: s.keys[0], Lower: c.Lower, Upper: c.Upper, Width: w,
	})
	if err != nil {
		return nil, fmt.Errorf("checksums of %s: %w", s.t, err)
	}
	return r, nil
}

// readSpans reads the side's rows of the spans, one span after the other.
func readSpans(ctx context.Context, s tableSide, where string, spans []merge.Span) (merge.Side, error) {
	open := func(i int) (array.RecordReader, error) {
		rf := &sdk.RangeFilter{Column: s.keys[0], Lower: sdk.Int64Value(spans[i].Lower), LowerInclusive: true, Upper: sdk.Int64Value(spans[i].Upper), UpperInclusive: true}
		side, err := read(ctx, s.t, s.schema, s.keys, s.cols, where, rf)
		return side.Records, err
	}
	var schema *arrow.Schema
	if len(spans) > 0 {
		first, err := open(0)
		if err != nil {
			return merge.Side{}, err
		}
		schema = first.Schema()
		opened := first
		return merge.Side{Name: s.t.String(), Keys: s.keys, Columns: s.cols, Records: merge.Concat(schema, len(spans), 8, func(i int) (array.RecordReader, error) {
			if i == 0 {
				return opened, nil
			}
			return open(i)
		})}, nil
	}
	// Nothing differs: an empty read, for the schema the merge checks.
	rf := &sdk.RangeFilter{Column: s.keys[0], Lower: sdk.Int64Value(1), Upper: sdk.Int64Value(0)}
	return read(ctx, s.t, s.schema, s.keys, s.cols, where, rf)
}
