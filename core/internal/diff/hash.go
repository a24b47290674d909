package diff

import (
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

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

// Chunks cuts [lo, hi] into spans of at most MaxRanges ranges of width w,
// one checksum request each.
func Chunks(lo, hi, w int64) []Span {
	var out []Span
	for start := lo; ; {
		end, ok := add(start, w, MaxRanges)
		if !ok || end-1 >= hi {
			return append(out, Span{start, hi})
		}
		out = append(out, Span{start, end - 1})
		start = end
	}
}

// add is start + w*n, false when that overflows.
func add(start, w, n int64) (int64, bool) {
	if n > 0 && w > (math.MaxInt64-max(start, 0))/n {
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
