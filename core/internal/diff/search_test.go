package diff

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// table is one side of a fake database: key → the row's hash.
type table map[int64]uint64

// checksums computes what the SQL of ChecksumRanges computes, for the
// rows of t, in Go; queries counts the calls and hashed the rows hashed.
func (t table) checksums(q Query, hashed *int64) []sdk.RangeChecksum {
	type acc struct {
		rows int64
		sum  uint64
	}
	byIndex := map[int64]*acc{}
	for k, h := range t {
		if k < q.Lower || k > q.Upper {
			continue
		}
		if q.Spans != nil && !slices.ContainsFunc(q.Spans, func(s Span) bool { return s.Lower <= k && k <= s.Upper }) {
			continue
		}
		atomic.AddInt64(hashed, 1)
		i := (k - q.Lower) / q.Width
		a := byIndex[i]
		if a == nil {
			a = &acc{}
			byIndex[i] = a
		}
		a.rows++
		a.sum += h
	}
	var out []sdk.RangeChecksum
	for i, a := range byIndex {
		out = append(out, sdk.RangeChecksum{Index: i, Rows: a.rows, Checksum: strconv.FormatUint(a.sum, 10)})
	}
	slices.SortFunc(out, func(a, b sdk.RangeChecksum) int { return int(a.Index - b.Index) })
	return out
}

type searched struct {
	spans  []Span
	stats  SearchStats
	hashed int64
}

// search runs Search over the two tables as hp diff --hash does.
func search(t *testing.T, p Plan, src, tgt table) searched {
	t.Helper()
	return searchWith(t, p, src, tgt, func() func() { return func() {} })
}

// searchWith is search calling enter at the start of each request and
// the function it returns at its end.
func searchWith(t *testing.T, p Plan, src, tgt table, enter func() func()) searched {
	t.Helper()
	var lo, hi, rows int64 = 1 << 62, -1 << 62, max(int64(len(src)), int64(len(tgt)))
	for _, side := range []table{src, tgt} {
		for k := range side {
			lo, hi = min(lo, k), max(hi, k)
		}
	}
	var r searched
	var err error
	r.spans, r.stats, err = Search(context.Background(), lo, hi, rows, p, func(_ context.Context, q Query) ([]sdk.RangeChecksum, []sdk.RangeChecksum, error) {
		if q.Spans != nil && len(q.Spans) > p.MaxSpans {
			return nil, nil, fmt.Errorf("%d spans in one query, more than %d", len(q.Spans), p.MaxSpans)
		}
		defer enter()()
		return src.checksums(q, &r.hashed), tgt.checksums(q, &r.hashed), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range r.spans {
		if s.Lower > s.Upper || i > 0 && r.spans[i-1].Upper+1 >= s.Lower {
			t.Fatalf("spans not ascending, disjoint and merged: %v", r.spans)
		}
	}
	return r
}

// differ returns the keys whose rows differ between the tables.
func differ(src, tgt table) []int64 {
	var out []int64
	for k, h := range src {
		if g, ok := tgt[k]; !ok || g != h {
			out = append(out, k)
		}
	}
	for k := range tgt {
		if _, ok := src[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// covered fails unless every key in keys lies in a span, and returns how
// many rows of the tables (keys of either) the spans hold.
func covered(t *testing.T, spans []Span, keys []int64, tables ...table) int64 {
	t.Helper()
	in := func(k int64) bool {
		return slices.ContainsFunc(spans, func(s Span) bool { return s.Lower <= k && k <= s.Upper })
	}
	for _, k := range keys {
		if !in(k) {
			t.Fatalf("key %d differs but lies in no span read: %v", k, spans)
		}
	}
	seen := map[int64]bool{}
	for _, tb := range tables {
		for k := range tb {
			if in(k) {
				seen[k] = true
			}
		}
	}
	return int64(len(seen))
}

func dense(n int64, step int64) table {
	t := table{}
	for k := int64(1); k <= n; k++ {
		t[k*step] = uint64(k*step) * 0x9E3779B97F4A7C15
	}
	return t
}

func clone(t table) table {
	out := make(table, len(t))
	for k, v := range t {
		out[k] = v
	}
	return out
}

// TestSearchNarrowsOneChange: one changed row in a table of big first
// ranges (10,000 rows each) is found and narrowed to at most LeafRows
// keys, wherever it is: the first row, the last, either side of a range
// edge, the middle; the levels below the first hash only the ranges that
// differed.
func TestSearchNarrowsOneChange(t *testing.T) {
	const n = 100_000
	p := Plan{TopRows: 10_000, LeafRows: 16, Split: 16, MaxSpans: 1000}
	src := dense(n, 1)
	for _, k := range []int64{1, n, 10_000, 10_001, 9_999, 50_000, 77_777} {
		tgt := clone(src)
		tgt[k]++
		r := search(t, p, src, tgt)
		if got := covered(t, r.spans, []int64{k}, src, tgt); got > p.LeafRows {
			t.Errorf("change at %d: %d rows read (%v), want at most %d", k, got, r.spans, p.LeafRows)
		}
		if r.hashed > 2*(n+p.TopRows+p.TopRows/8) {
			t.Errorf("change at %d: %d rows hashed, want the table and the differing ranges only", k, r.hashed)
		}
		if r.stats.Levels < 3 || r.stats.SourceRows != n || r.stats.TargetRows != n {
			t.Errorf("change at %d: stats %+v", k, r.stats)
		}
	}
}

// TestSearchEdges: rows deleted and new at the edges of the key span and
// of ranges, and new rows beyond either end, are found.
func TestSearchEdges(t *testing.T) {
	const n = 50_000
	p := Plan{TopRows: 1000, LeafRows: 8, Split: 16, MaxSpans: 1000}
	src := dense(n, 3)
	cases := map[string]func(tgt table){
		"first row deleted":        func(tgt table) { delete(tgt, 3) },
		"last row deleted":         func(tgt table) { delete(tgt, 3*n) },
		"new row before the first": func(tgt table) { tgt[1] = 7 },
		"new row after the last":   func(tgt table) { tgt[3*n+1] = 7 },
		"new rows far after":       func(tgt table) { tgt[1<<40] = 7; tgt[1<<41] = 8 },
		"range edge deleted":       func(tgt table) { delete(tgt, 3000); delete(tgt, 3003); delete(tgt, 2997) },
		"new row in a gap":         func(tgt table) { tgt[3001] = 1 },
		"first and last changed":   func(tgt table) { tgt[3]++; tgt[3*n]++ },
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			tgt := clone(src)
			change(tgt)
			want := differ(src, tgt)
			for _, sides := range [][2]table{{src, tgt}, {tgt, src}} {
				r := search(t, p, sides[0], sides[1])
				if got := covered(t, r.spans, want, src, tgt); got > int64(len(want))*3*p.LeafRows {
					t.Errorf("%d rows read for %d differing: %v", got, len(want), r.spans)
				}
			}
		})
	}
}

// TestSearchRandom: random updates, deletes and inserts over sparse,
// skewed keys are all covered by the spans read.
func TestSearchRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 30 {
		src := table{}
		for range 2000 + rng.IntN(5000) {
			k := rng.Int64N(1_000_000)
			if rng.IntN(3) == 0 {
				k = 500_000 + rng.Int64N(200) // a dense cluster
			}
			src[k] = rng.Uint64()
		}
		tgt := perturbed(rng, src, 200)
		p := Plan{TopRows: int64(1 + rng.IntN(300)), LeafRows: int64(1 + rng.IntN(20)), Split: int64(2 + rng.IntN(20)), MaxSpans: 1 + rng.IntN(50)}
		r := search(t, p, src, tgt)
		want := differ(src, tgt)
		covered(t, r.spans, want)
		if len(want) == 0 && len(r.spans) != 0 {
			t.Fatalf("round %d: nothing differs but %v is read", round, r.spans)
		}
	}
}

// TestSearchParallel: with several checksum requests in flight at once
// the spans found, the ranges compared and the rows hashed are those of
// one request at a time, over random tables and plans; the requests do
// overlap, never more than Parallel of them.
func TestSearchParallel(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	overlapped := map[int]bool{}
	for round := range 20 {
		src := table{}
		for range 3000 + rng.IntN(3000) {
			src[rng.Int64N(200_000)-50_000] = rng.Uint64()
		}
		tgt := perturbed(rng, src, 300)
		p := Plan{TopRows: int64(1 + rng.IntN(200)), LeafRows: int64(1 + rng.IntN(20)), Split: int64(2 + rng.IntN(20)), MaxSpans: 1 + rng.IntN(50), Parallel: 1}
		one := search(t, p, src, tgt)
		for _, par := range []int{2, 4, 7} {
			p.Parallel = par
			var inFlight, most atomic.Int64
			r := searchWith(t, p, src, tgt, func() func() {
				n := inFlight.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				time.Sleep(time.Millisecond) // let the requests overlap
				return func() { inFlight.Add(-1) }
			})
			if fmt.Sprint(r.spans) != fmt.Sprint(one.spans) {
				t.Fatalf("round %d, parallel %d: spans %v, one at a time %v", round, par, r.spans, one.spans)
			}
			if r.stats.Ranges != one.stats.Ranges || r.stats.Levels != one.stats.Levels || r.stats.SourceRows != one.stats.SourceRows ||
				r.stats.TargetRows != one.stats.TargetRows || r.hashed != one.hashed {
				t.Fatalf("round %d, parallel %d: %+v and %d rows hashed, one at a time %+v and %d", round, par, r.stats, r.hashed, one.stats, one.hashed)
			}
			if r.stats.Queries < one.stats.Queries {
				t.Fatalf("round %d, parallel %d: %d requests, fewer than one at a time (%d)", round, par, r.stats.Queries, one.stats.Queries)
			}
			if m := most.Load(); m > int64(par) {
				t.Fatalf("round %d, parallel %d: %d requests in flight", round, par, m)
			} else if m > 1 {
				overlapped[par] = true
			}
		}
	}
	// Scheduling on a loaded machine may keep a round's requests apart,
	// but not every round's.
	for _, par := range []int{2, 4, 7} {
		if !overlapped[par] {
			t.Errorf("parallel %d: requests never overlapped", par)
		}
	}
}

// TestSearchParallelError: a failed request fails the search and cancels
// the requests in flight.
func TestSearchParallelError(t *testing.T) {
	boom := errors.New("boom")
	var cancelled atomic.Int64
	_, _, err := Search(context.Background(), 1, 1_000_000, 1_000_000, Plan{TopRows: 100, LeafRows: 16, Split: 16, MaxSpans: 64, Parallel: 4},
		func(ctx context.Context, q Query) ([]sdk.RangeChecksum, []sdk.RangeChecksum, error) {
			if q.Lower == 1 {
				return nil, nil, boom
			}
			select {
			case <-ctx.Done():
				cancelled.Add(1)
				return nil, nil, ctx.Err()
			case <-time.After(10 * time.Second):
				return nil, nil, errors.New("not cancelled")
			}
		})
	if !errors.Is(err, boom) || cancelled.Load() == 0 {
		t.Fatalf("Search = %v with %d requests cancelled, want boom and the others cancelled", err, cancelled.Load())
	}
}

// TestSearchStopsWhenMostDiffers: when most rows are in ranges that
// differ, they are read rather than hashed again.
func TestSearchStopsWhenMostDiffers(t *testing.T) {
	src := dense(10_000, 1)
	tgt := clone(src)
	for k := int64(1); k <= 10_000; k += 50 {
		tgt[k]++
	}
	r := search(t, Plan{TopRows: 100, LeafRows: 8, Split: 16, MaxSpans: 1000}, src, tgt)
	covered(t, r.spans, differ(src, tgt))
	if r.stats.Levels != 1 || r.hashed != 20_000 {
		t.Fatalf("every range differs: %d levels, %d rows hashed; want one level and each row hashed once a side", r.stats.Levels, r.hashed)
	}
}

// TestClip: the parts of a range within spans.
func TestClip(t *testing.T) {
	spans := []Span{{1, 5}, {10, 20}, {30, 30}}
	for _, c := range []struct {
		r    Span
		want []Span
	}{
		{Span{0, 100}, spans},
		{Span{3, 12}, []Span{{3, 5}, {10, 12}}},
		{Span{6, 9}, nil},
		{Span{20, 30}, []Span{{20, 20}, {30, 30}}},
		{Span{31, 40}, nil},
	} {
		if got := clip(c.r, spans); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("clip(%v) = %v, want %v", c.r, got, c.want)
		}
	}
	if got := clip(Span{7, 9}, nil); fmt.Sprint(got) != "[{7 9}]" {
		t.Errorf("clip without spans = %v", got)
	}
}

// TestSearchStopsAtOneKey: a single first-key value holding many rows
// that differ (a composite key) is read, not split forever; key 7 holds
// more rows, equal, so that splitting is worth it.
func TestSearchStopsAtOneKey(t *testing.T) {
	calls := 0
	spans, _, err := Search(context.Background(), 5, 7, 1200, Plan{TopRows: 100, LeafRows: 16, Split: 16, MaxSpans: 64}, func(_ context.Context, q Query) ([]sdk.RangeChecksum, []sdk.RangeChecksum, error) {
		if calls++; calls > 10 {
			return nil, nil, fmt.Errorf("%d checksum queries for two key values", calls)
		}
		var src, tgt []sdk.RangeChecksum
		for i := int64(0); q.Lower+i*q.Width <= q.Upper; i++ {
			if q.Lower+i*q.Width == 7 {
				src = append(src, sdk.RangeChecksum{Index: i, Rows: 1000, Checksum: "3"})
				tgt = append(tgt, sdk.RangeChecksum{Index: i, Rows: 1000, Checksum: "3"})
				continue
			}
			src = append(src, sdk.RangeChecksum{Index: i, Rows: 100, Checksum: "1"})
			tgt = append(tgt, sdk.RangeChecksum{Index: i, Rows: 100, Checksum: "2"})
		}
		return src, tgt, nil
	})
	if err != nil || fmt.Sprint(spans) != "[{5 6}]" {
		t.Fatalf("spans %v, %v; want [{5 6}]", spans, err)
	}
}

// perturbed is a copy of src in which about one key in oneIn has its
// value changed, is deleted, or gets a new key after it.
func perturbed(rng *rand.Rand, src table, oneIn int) table {
	tgt := clone(src)
	for k := range src {
		switch rng.IntN(oneIn) {
		case 0:
			tgt[k]++
		case 1:
			delete(tgt, k)
		case 2:
			tgt[k+1] = rng.Uint64()
		}
	}
	return tgt
}

// TestSearchAligned: with Align every level as wide as a block asks for
// ranges and spans of whole blocks (which maintained checksums answer a
// row per block), the first level included, and the spans found still
// hold every key that differs, as without Align; over random tables with
// negative keys and random plans.
func TestSearchAligned(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 30 {
		src := table{}
		for range 2000 + rng.IntN(5000) {
			k := rng.Int64N(2_000_000) - 1_000_000
			if rng.IntN(3) == 0 {
				k = -300 + rng.Int64N(600) // a dense cluster across 0
			}
			src[k] = rng.Uint64()
		}
		tgt := perturbed(rng, src, 200)
		p := Plan{TopRows: int64(1 + rng.IntN(300)), LeafRows: int64(1 + rng.IntN(20)), Split: int64(2 + rng.IntN(20)), MaxSpans: 1 + rng.IntN(50)}
		want := differ(src, tgt)
		covered(t, search(t, p, src, tgt).spans, want)
		p.Align = int64(1) << (1 + rng.IntN(12))
		var lo, hi, rows int64 = 1 << 62, -1 << 62, max(int64(len(src)), int64(len(tgt)))
		for _, side := range []table{src, tgt} {
			for k := range side {
				lo, hi = min(lo, k), max(hi, k)
			}
		}
		var mu sync.Mutex
		var blockQueries, hashed int64
		spans, _, err := Search(context.Background(), lo, hi, rows, p, func(_ context.Context, q Query) ([]sdk.RangeChecksum, []sdk.RangeChecksum, error) {
			if q.Width >= p.Align {
				edge := func(l, u int64) bool { return l%p.Align == 0 && (u+1)%p.Align == 0 }
				ok := edge(q.Lower, q.Upper) && (q.Width%p.Align == 0 || q.Width > q.Upper-q.Lower)
				for _, s := range q.Spans {
					ok = ok && edge(s.Lower, s.Upper)
				}
				if !ok {
					return nil, nil, fmt.Errorf("align %d: query %+v is not of whole blocks", p.Align, q)
				}
				mu.Lock()
				blockQueries++
				mu.Unlock()
			}
			return src.checksums(q, &hashed), tgt.checksums(q, &hashed), nil
		})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if blockQueries == 0 {
			t.Fatalf("round %d: align %d: no query of whole blocks", round, p.Align)
		}
		covered(t, spans, want)
		if len(want) == 0 && len(spans) != 0 {
			t.Fatalf("round %d: nothing differs but %v is read", round, spans)
		}
	}
}

// TestSearchAlignedSplitsDenseChanges: when a change lies in every block,
// the ranges of blocks that differ are still split (their rows' hashes are
// stored, so splitting costs less than reading them): the spans read hold
// a small part of the rows.
func TestSearchAlignedSplitsDenseChanges(t *testing.T) {
	src := dense(20000, 1)
	tgt := clone(src)
	for k := int64(1); k <= 20000; k += 500 {
		tgt[k]++
	}
	p := Plan{TopRows: 100, LeafRows: 16, Split: 16, MaxSpans: 64, Align: 1024}
	r := search(t, p, src, tgt)
	if n := covered(t, r.spans, differ(src, tgt), src, tgt); n > 2000 {
		t.Fatalf("%d of 20000 rows read in %d levels: want the differing blocks split", n, r.stats.Levels)
	}
}
