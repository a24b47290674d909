package diff

import (
	"cmp"
	"context"
	"math"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"golang.org/x/sync/errgroup"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// MaxRanges is the most ranges one checksum request asks for, so that
// its answer stays far below gRPC's message limit.
const MaxRanges = 1 << 16

// RangeWidth returns the width of key ranges over [lo, hi] that hold
// about perRange of rows rows each (at least 1).
func RangeWidth(lo, hi, rows, perRange int64) int64 {
	if rows < 1 || perRange < 1 {
		return 1
	}
	span := float64(hi) - float64(lo) + 1
	w := math.Ceil(span * float64(perRange) / float64(rows))
	if w >= math.MaxInt64 {
		return math.MaxInt64
	}
	return max(1, int64(w))
}

// Span is a run of key ranges, [Lower, Upper] inclusive.
type Span struct{ Lower, Upper int64 }

// Chunks cuts [lo, hi] into spans of whole ranges of width w (range i
// starts at lo + i*w), at most MaxRanges ranges each, one checksum
// request each: at least parts of them when there are that many ranges,
// of about as many ranges each, so that parts requests can run at once.
func Chunks(lo, hi, w int64, parts int) []Span {
	per := int64(MaxRanges)
	// last is the index of the last range; unsigned, as hi - lo may
	// exceed int64.
	if last := uint64(hi-lo) / uint64(w); parts > 1 && last/uint64(parts) < MaxRanges {
		per = int64(last/uint64(parts)) + 1
	}
	var out []Span
	for start := lo; ; {
		end, ok := add(start, w, per)
		if !ok || end-1 >= hi {
			return append(out, Span{start, hi})
		}
		out = append(out, Span{start, end - 1})
		start = end
	}
}

// add is start + w*n (w, n >= 0), false when that overflows.
func add(start, w, n int64) (int64, bool) {
	// MaxInt64 - start is in [0, 2^64): exact in unsigned arithmetic.
	room := uint64(math.MaxInt64) - uint64(start)
	if n > 0 && uint64(w) > room/uint64(n) {
		return 0, false
	}
	return start + w*n, true
}

// Mismatch is a range whose row count or checksum differs; Rows is the
// larger of its two row counts.
type Mismatch struct{ Index, Rows int64 }

// Differing returns the ranges whose row count or checksum differ between
// the two sides, a range absent on one side included, in ascending
// index. Both lists are in ascending index.
func Differing(src, tgt []sdk.RangeChecksum) []Mismatch {
	var out []Mismatch
	i, j := 0, 0
	for i < len(src) || j < len(tgt) {
		switch {
		case j == len(tgt) || i < len(src) && src[i].Index < tgt[j].Index:
			out = append(out, Mismatch{src[i].Index, src[i].Rows})
			i++
		case i == len(src) || tgt[j].Index < src[i].Index:
			out = append(out, Mismatch{tgt[j].Index, tgt[j].Rows})
			j++
		default:
			if src[i].Rows != tgt[j].Rows || src[i].Checksum != tgt[j].Checksum {
				out = append(out, Mismatch{src[i].Index, max(src[i].Rows, tgt[j].Rows)})
			}
			i++
			j++
		}
	}
	return out
}

// Range returns the key span of range i of width w over [lo, hi].
func Range(lo, hi, w, i int64) Span {
	s := Span{Lower: lo + w*i, Upper: hi}
	if end, ok := add(lo, w, i+1); ok && end-1 < hi {
		s.Upper = end - 1
	}
	return s
}

// AppendSpan appends s to spans (ascending), merged with the last span
// when adjacent.
func AppendSpan(spans []Span, s Span) []Span {
	if n := len(spans); n > 0 && spans[n-1].Upper < math.MaxInt64 && spans[n-1].Upper+1 == s.Lower {
		spans[n-1].Upper = s.Upper
		return spans
	}
	return append(spans, s)
}

// Concat reads the readers open returns for 0..n-1 one after the other as
// one reader. Up to depth of them are opened ahead, concurrently, so that
// many small reads do not wait for each other's start. All must have
// schema's columns.
func Concat(schema *arrow.Schema, n, depth int, open func(i int) (array.RecordReader, error)) array.RecordReader {
	c := &concat{schema: schema, opened: make([]chan opened, n), slots: make(chan struct{}, max(depth, 1)), stop: make(chan struct{})}
	for i := range c.opened {
		c.opened[i] = make(chan opened, 1)
	}
	stop := c.stop
	go func() {
		for i := range n {
			select {
			case c.slots <- struct{}{}:
			case <-stop:
				for ; i < n; i++ {
					c.opened[i] <- opened{}
				}
				return
			}
			go func() {
				r, err := open(i)
				c.opened[i] <- opened{r, err}
			}()
		}
	}()
	return c
}

type opened struct {
	r   array.RecordReader
	err error
}

type concat struct {
	schema *arrow.Schema
	opened []chan opened
	slots  chan struct{}
	stop   chan struct{}
	closed bool
	i      int
	cur    array.RecordReader
	err    error
}

func (c *concat) Retain()                        {}
func (c *concat) Schema() *arrow.Schema          { return c.schema }
func (c *concat) RecordBatch() arrow.RecordBatch { return c.cur.RecordBatch() }
func (c *concat) Record() arrow.RecordBatch      { return c.cur.RecordBatch() }
func (c *concat) Err() error                     { return c.err }

func (c *concat) Next() bool {
	for c.err == nil {
		if c.cur != nil {
			if c.cur.Next() {
				return true
			}
			c.err = c.cur.Err()
			c.cur.Release()
			c.cur = nil
			<-c.slots
			continue
		}
		if c.i == len(c.opened) {
			return false
		}
		o := <-c.opened[c.i]
		c.i++
		c.cur, c.err = o.r, o.err
		if c.err != nil {
			<-c.slots
		}
	}
	return false
}

// Release ends the reads opened ahead too.
func (c *concat) Release() {
	if c.closed {
		return
	}
	c.closed = true
	close(c.stop)
	if c.cur != nil {
		c.cur.Release()
		c.cur = nil
		<-c.slots
	}
	for ; c.i < len(c.opened); c.i++ {
		if o := <-c.opened[c.i]; o.r != nil {
			o.r.Release()
			<-c.slots
		} else if o.err != nil {
			<-c.slots
		}
	}
}

// Plan says how Search narrows the ranges that differ.
type Plan struct {
	// TopRows is about the rows of a range at the first level, whose
	// checksums cover the whole key span (hp diff --hash-rows).
	TopRows int64
	// LeafRows: a differing range of at most this many rows (on the
	// larger side) is read rather than split.
	LeafRows int64
	// Split divides the width of the ranges at each level below the first.
	Split int64
	// MaxSpans is the most spans one checksum request or read carries.
	MaxSpans int
	// Parallel is the checksum requests in flight at once (each to both
	// sides); the first level is cut into at least this many (hp diff
	// --hash-parallel). A database runs each query on one core (MariaDB)
	// or a few (PostgreSQL's workers), so this is what uses a big
	// server's cores.
	Parallel int
	// Align, a power of two when set, is the key width of the blocks a
	// side sums (maintained checksums): the key span is widened to whole
	// blocks and every level's width is a multiple of Align while it is
	// wider, so that those levels are answered a row per block; the
	// ranges that differ at such a level are split however many differ.
	Align int64
}

// DefaultPlan is hp diff --hash's plan but for TopRows.
var DefaultPlan = Plan{TopRows: 100, LeafRows: 16, Split: 16, MaxSpans: 64, Parallel: 2}

// Query asks both sides for the checksums of the ranges of Width over
// [Lower, Upper] (range i starts at Lower + i*Width), of the rows whose
// key also lies in one of Spans when Spans is not nil.
type Query struct {
	Lower, Upper, Width int64
	Spans               []Span
}

// Checksums answers a Query for the source and for the target.
type Checksums func(ctx context.Context, q Query) (src, tgt []sdk.RangeChecksum, err error)

// SearchStats says what Search compared.
type SearchStats struct {
	// Ranges counts the checksums compared, both sides; Queries the
	// checksum requests (each sent to both sides); Levels the widths
	// used.
	Ranges, Queries, Levels int
	// SourceRows and TargetRows are the rows of the first level: each
	// side's rows in [lo, hi].
	SourceRows, TargetRows int64
}

// Search finds the key spans whose rows may differ between the sides of
// [lo, hi] (rows is about the larger side's row count). The first level
// checksums the whole span in ranges of about TopRows rows (grouping is
// cheap in the database, hashing every row is not, so the first level
// is as fine as is useful); each following level checksums only the
// ranges that differed, in one request per MaxSpans of them, at 1/Split
// of the width, until a differing range holds at most LeafRows rows or a
// single key value. Splitting stops early when most of a level's rows
// are in ranges that differ: hashing them again would cost as much as
// reading them. Each level's requests run Parallel at once; the first
// level is cut into at least Parallel requests of whole ranges, so the
// ranges and the result are those of one request at a time. Every key
// whose rows differ lies in a returned span; the spans are ascending and
// disjoint, adjacent ones merged.
func Search(ctx context.Context, lo, hi, rows int64, p Plan, sum Checksums) ([]Span, SearchStats, error) {
	var st SearchStats
	var leaves, split []Span
	if p.Align > 1 {
		lo, hi = lo&^(p.Align-1), hi|(p.Align-1)
	}
	w := alignUp(RangeWidth(lo, hi, rows, p.TopRows), p.Align)
	// check runs the level's queries and sorts the differing ranges into
	// leaves and ranges to split.
	check := func(qs []Query, top bool) error {
		type found struct {
			span Span
			rows int64
		}
		var diff []found
		// Each side's rows are summed over all queries before the larger
		// is taken: a max per query would count more when the first level
		// is cut into more parts, and the choice below would depend on
		// Parallel.
		var srcRows, tgtRows, differing int64
		res, err := answerAll(ctx, qs, p.Parallel, sum)
		if err != nil {
			return err
		}
		for i, q := range qs {
			src, tgt := res[i].src, res[i].tgt
			st.Queries++
			st.Ranges += len(src) + len(tgt)
			if top {
				for _, r := range src {
					st.SourceRows += r.Rows
				}
				for _, r := range tgt {
					st.TargetRows += r.Rows
				}
			}
			srcRows += total(src)
			tgtRows += total(tgt)
			for _, m := range Differing(src, tgt) {
				differing += m.Rows
				r := Range(q.Lower, q.Upper, q.Width, m.Index)
				for _, part := range clip(r, q.Spans) {
					diff = append(diff, found{part, m.Rows})
				}
			}
		}
		st.Levels++
		// Most rows differ: reading them costs no more than hashing them
		// again; unless this level was of blocks, whose rows' hashes are
		// stored: summing them costs much less than reading the rows.
		deep := differing*2 <= max(srcRows, tgtRows) || p.Align > 1 && w >= p.Align
		for _, f := range diff {
			if deep && f.rows > p.LeafRows && w > 1 {
				split = AppendSpan(split, f.span)
			} else {
				leaves = append(leaves, f.span)
			}
		}
		return nil
	}
	var top []Query
	for _, c := range Chunks(lo, hi, w, p.Parallel) {
		top = append(top, Query{Lower: c.Lower, Upper: c.Upper, Width: w})
	}
	if err := check(top, true); err != nil {
		return nil, st, err
	}
	for len(split) > 0 {
		if w = max(1, w/p.Split+min(1, w%p.Split)); w > p.Align {
			w = alignUp(w, p.Align)
		}
		var qs []Query
		for rest := split; len(rest) > 0; {
			n := min(len(rest), max(1, p.MaxSpans), int(MaxRanges/(p.Split+2)))
			b := rest[:n:n]
			qs = append(qs, Query{Lower: b[0].Lower, Upper: b[n-1].Upper, Width: w, Spans: b})
			rest = rest[n:]
		}
		split = nil
		if err := check(qs, false); err != nil {
			return nil, st, err
		}
	}
	slices.SortFunc(leaves, func(a, b Span) int { return cmp.Compare(a.Lower, b.Lower) })
	var out []Span
	for _, s := range leaves {
		out = AppendSpan(out, s)
	}
	return out, st, nil
}

// alignUp is w rounded up to a multiple of a (a power of two, or 0 or 1
// for w itself); MaxInt64, one range, when that overflows.
func alignUp(w, a int64) int64 {
	if a <= 1 {
		return w
	}
	if w > math.MaxInt64-a {
		return math.MaxInt64
	}
	return (w + a - 1) &^ (a - 1)
}

type answer struct{ src, tgt []sdk.RangeChecksum }

// answerAll answers the queries, up to parallel of them at once, in the order
// of qs; the first error cancels the others.
func answerAll(ctx context.Context, qs []Query, parallel int, sum Checksums) ([]answer, error) {
	out := make([]answer, len(qs))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(max(parallel, 1))
	for i, q := range qs {
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err // another request failed: send no more
			}
			var err error
			out[i].src, out[i].tgt, err = sum(ctx, q)
			return err
		})
	}
	return out, g.Wait()
}

func total(rs []sdk.RangeChecksum) int64 {
	var n int64
	for _, r := range rs {
		n += r.Rows
	}
	return n
}

// clip returns the parts of r within spans (ascending, disjoint); all of
// r when spans is nil.
func clip(r Span, spans []Span) []Span {
	if spans == nil {
		return []Span{r}
	}
	var out []Span
	i, _ := slices.BinarySearchFunc(spans, r.Lower, func(s Span, k int64) int { return cmp.Compare(s.Upper, k) })
	for ; i < len(spans) && spans[i].Lower <= r.Upper; i++ {
		out = append(out, Span{max(r.Lower, spans[i].Lower), min(r.Upper, spans[i].Upper)})
	}
	return out
}

// Batches cuts spans into runs of at most n, one read each.
func Batches(spans []Span, n int) [][]Span {
	var out [][]Span
	for len(spans) > 0 {
		k := min(len(spans), max(n, 1))
		out = append(out, spans[:k:k])
		spans = spans[k:]
	}
	return out
}
