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
	// sides, at every level); RangesDiffering the key spans read at the
	// end; ChecksumQueries the checksum requests sent to each side; Reads
	// the reads of each side those spans took.
	Ranges          int   `json:"ranges"`
	RangesDiffering int   `json:"ranges_differing"`
	ChecksumQueries int   `json:"checksum_queries"`
	Levels          int   `json:"levels"`
	Reads           int   `json:"reads"`
	FetchedSource   int64 `json:"fetched_source_rows"`
	FetchedTarget   int64 `json:"fetched_target_rows"`
	// SourceMaintained and TargetMaintained: every checksum of that side
	// was summed from the hashes its database maintains (hp checksums),
	// and its key bounds were read from them.
	SourceMaintained bool `json:"source_maintained"`
	TargetMaintained bool `json:"target_maintained"`
}

// hashUse tallies how a side's checksums were obtained.
type hashUse struct {
	mu                  sync.Mutex
	queries, maintained int
	// note is why installed maintained checksums were not used.
	note string
}

func (u *hashUse) add(maintained bool, note string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.queries++
	if maintained {
		u.maintained++
	}
	if u.note == "" {
		u.note = note
	}
}

// sideUse is a side and how its checksums were obtained.
type sideUse struct {
	s tableSide
	u *hashUse
}

func (u *hashUse) all() bool { return u.queries > 0 && u.maintained == u.queries }

// compareHashed compares per-range checksums computed in each database,
// narrows the ranges that differ (merge.Search) and merges only their
// rows, read a batch of spans at a time.
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
	var su, tu hashUse
	sides := []sideUse{{src, &su}, {tgt, &tu}}
	lo, hi, rows, err := keyBounds(ctx, o.Where, sides)
	if err != nil || rows == 0 {
		return sum, &HashStats{}, err
	}
	plan := merge.DefaultPlan
	plan.TopRows, plan.Parallel = o.HashRows, o.HashParallel
	spans, st, err := merge.Search(ctx, lo, hi, rows, plan, func(ctx context.Context, q merge.Query) (sr, tr []sdk.RangeChecksum, _ error) {
		var serr, terr error
		var wg sync.WaitGroup
		wg.Go(func() { sr, serr = checksums(ctx, src, o.Where, q, &su) })
		tr, terr = checksums(ctx, tgt, o.Where, q, &tu)
		wg.Wait()
		return sr, tr, errors.Join(serr, terr)
	})
	if err != nil {
		return sum, nil, err
	}
	for _, u := range sides {
		if u.u.note != "" {
			fmt.Fprintf(o.IO.ErrOut, "diff --hash: warning: %s: %s\n", u.s.t, u.u.note)
		}
	}
	sum.SourceRows, sum.TargetRows = st.SourceRows, st.TargetRows
	batches := merge.Batches(spans, plan.MaxSpans)
	stats := &HashStats{Ranges: st.Ranges, RangesDiffering: len(spans), ChecksumQueries: st.Queries, Levels: st.Levels, Reads: len(batches),
		SourceMaintained: su.all(), TargetMaintained: tu.all()}
	ss, err := readSpans(ctx, src, o.Where, batches)
	if err != nil {
		return sum, nil, err
	}
	defer ss.Records.Release()
	ts, err := readSpans(ctx, tgt, o.Where, batches)
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

// keyBounds returns the first key's smallest and largest value on both
// sides and the larger row count; a NULL key fails as in a full diff.
// A side's maintained checksums, when they serve the comparison, answer
// without counting the table.
func keyBounds(ctx context.Context, where string, sides []sideUse) (lo, hi, rows int64, err error) {
	lo, hi = math.MaxInt64, math.MinInt64
	for _, su := range sides {
		s := su.s
		b, err := s.t.Inst.Bounds(ctx, sdk.BoundsRequest{Conn: s.t.Conn.Wire(), Source: sdk.Source{Object: &s.t.Ref}, Column: s.keys[0], Where: where,
			ChecksumColumns: checksumColumns(s)})
		if err != nil {
			return 0, 0, 0, fmt.Errorf("bounds of %q in %s: %w", s.keys[0], s.t, err)
		}
		su.u.add(b.Maintained, "")
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

func checksums(ctx context.Context, s tableSide, where string, q merge.Query, use *hashUse) ([]sdk.RangeChecksum, error) {
	r, err := s.t.Inst.ChecksumRanges(ctx, sdk.ChecksumRangesRequest{
		Conn: s.t.Conn.Wire(), Table: s.t.Ref, Columns: checksumColumns(s),
		Where: where, Key: s.keys[0], Lower: q.Lower, Upper: q.Upper, Width: q.Width, Spans: keySpans(q.Spans),
	})
	if err != nil {
		return nil, fmt.Errorf("checksums of %s: %w", s.t, err)
	}
	use.add(r.Maintained, r.Note)
	return r.Ranges, nil
}

// checksumColumns are the columns a side's checksums hash: the keys first.
func checksumColumns(s tableSide) []string {
	return append(append([]string(nil), s.keys...), s.cols...)
}

func keySpans(spans []merge.Span) []sdk.KeySpan {
	if len(spans) == 0 {
		return nil
	}
	out := make([]sdk.KeySpan, len(spans))
	for i, s := range spans {
		out[i] = sdk.KeySpan{Lower: s.Lower, Upper: s.Upper}
	}
	return out
}

// readSpans reads the side's rows of the spans, one read per batch, the
// batches one after the other (a few opened ahead).
func readSpans(ctx context.Context, s tableSide, where string, batches [][]merge.Span) (merge.Side, error) {
	open := func(i int) (array.RecordReader, error) {
		b := batches[i]
		rf := &sdk.RangeFilter{Column: s.keys[0], Lower: sdk.Int64Value(b[0].Lower), LowerInclusive: true, Upper: sdk.Int64Value(b[len(b)-1].Upper), UpperInclusive: true}
		if len(b) > 1 {
			rf.Spans = keySpans(b)
		}
		side, err := read(ctx, s.t, s.schema, s.keys, s.cols, where, rf)
		return side.Records, err
	}
	if len(batches) > 0 {
		first, err := open(0)
		if err != nil {
			return merge.Side{}, err
		}
		schema := first.Schema()
		return merge.Side{Name: s.t.String(), Keys: s.keys, Columns: s.cols, Records: merge.Concat(schema, len(batches), 4, func(i int) (array.RecordReader, error) {
			if i == 0 {
				return first, nil
			}
			return open(i)
		})}, nil
	}
	// Nothing differs: an empty read, for the schema the merge checks.
	rf := &sdk.RangeFilter{Column: s.keys[0], Lower: sdk.Int64Value(1), Upper: sdk.Int64Value(0)}
	return read(ctx, s.t, s.schema, s.keys, s.cols, where, rf)
}
