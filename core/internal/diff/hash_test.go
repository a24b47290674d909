package diff

import (
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/halfpipe-io/halfpipe/sdk"
)

func TestRangeWidth(t *testing.T) {
	for _, c := range []struct{ lo, hi, rows, per, want int64 }{
		{1, 1000, 1000, 100, 100},
		{1, 1000, 10, 100, 10000}, // sparse keys: wide ranges
		{0, 9, 1000, 100, 1},      // never below 1
		{5, 5, 1, 100, 100},
		{math.MinInt64, math.MaxInt64, 1, 1, math.MaxInt64},
		{1, 10, 0, 100, 1},
	} {
		if got := RangeWidth(c.lo, c.hi, c.rows, c.per); got != c.want {
			t.Errorf("RangeWidth(%d, %d, %d, %d) = %d, want %d", c.lo, c.hi, c.rows, c.per, got, c.want)
		}
	}
}

// TestChunksCoverEveryKeyOnce: chunks span the keys without a gap or an
// overlap, start on a range edge (so the ranges are the same however many
// chunks), hold at most MaxRanges ranges and number at least parts when
// there are that many ranges.
func TestChunksCoverEveryKeyOnce(t *testing.T) {
	for _, c := range []struct{ lo, hi, w int64 }{
		{1, 1_000_000, 10}, {-5, 5, 1}, {1, 7, 3}, {5, 5, 1}, {math.MaxInt64 - 3*MaxRanges, math.MaxInt64, 2},
		{math.MinInt64, math.MaxInt64, math.MaxInt64}, {math.MinInt64, math.MaxInt64, 1 << 40}, {-1000, 1_000_003, 7},
	} {
		ranges := uint64(c.hi-c.lo)/uint64(c.w) + 1
		for _, parts := range []int{0, 1, 2, 3, 4, 16} {
			chunks := Chunks(c.lo, c.hi, c.w, parts)
			if chunks[0].Lower != c.lo || chunks[len(chunks)-1].Upper != c.hi {
				t.Fatalf("Chunks(%d, %d, %d, %d) = %v: does not span the keys", c.lo, c.hi, c.w, parts, chunks)
			}
			for i, ch := range chunks {
				if ch.Upper < ch.Lower {
					t.Fatalf("Chunks(%d, %d, %d, %d): chunk %v is empty", c.lo, c.hi, c.w, parts, ch)
				}
				if i > 0 && chunks[i-1].Upper+1 != ch.Lower {
					t.Fatalf("Chunks(%d, %d, %d, %d): %v then %v: a gap or overlap", c.lo, c.hi, c.w, parts, chunks[i-1], ch)
				}
				if uint64(ch.Lower-c.lo)%uint64(c.w) != 0 {
					t.Fatalf("Chunks(%d, %d, %d, %d): chunk %v starts inside a range", c.lo, c.hi, c.w, parts, ch)
				}
				if n := uint64(ch.Upper-ch.Lower)/uint64(c.w) + 1; n > MaxRanges {
					t.Fatalf("Chunks(%d, %d, %d, %d): chunk %v holds %d ranges", c.lo, c.hi, c.w, parts, ch, n)
				}
			}
			if want := min(uint64(max(parts, 1)), ranges); uint64(len(chunks)) < want {
				t.Fatalf("Chunks(%d, %d, %d, %d): %d chunks of %d ranges, want at least %d", c.lo, c.hi, c.w, parts, len(chunks), ranges, want)
			}
		}
	}
	if n := len(Chunks(1, 1_000_000, 10, 1)); n != 2 {
		t.Errorf("1M keys in ranges of 10: %d chunks, want 2", n)
	}
	if n := len(Chunks(1, 1_000_000, 10, 4)); n != 4 {
		t.Errorf("1M keys in ranges of 10, 4 parts: %d chunks, want 4", n)
	}
}

func TestDifferingFindsEveryMismatch(t *testing.T) {
	r := func(i, rows int64, sum string) sdk.RangeChecksum {
		return sdk.RangeChecksum{Index: i, Rows: rows, Checksum: sum}
	}
	src := []sdk.RangeChecksum{r(0, 10, "1"), r(1, 10, "2"), r(2, 10, "3"), r(4, 10, "5"), r(7, 1, "9")}
	tgt := []sdk.RangeChecksum{r(0, 10, "1"), r(1, 10, "20"), r(2, 9, "3"), r(3, 1, "4"), r(4, 10, "5")}
	// 1: checksum, 2: count, 3: only in the target, 7: only in the source.
	if got, want := Differing(src, tgt), []Mismatch{{1, 10}, {2, 10}, {3, 1}, {7, 1}}; !slices.Equal(got, want) {
		t.Fatalf("Differing = %v, want %v", got, want)
	}
	if got := Differing(src, src); got != nil {
		t.Fatalf("Differing of equal sides = %v, want none", got)
	}
}

func TestRangesAndSpans(t *testing.T) {
	var got []Span
	for _, i := range []int64{0, 1, 5, 90} {
		got = AppendSpan(got, Range(100, 1000, 10, i))
	}
	want := []Span{{100, 119}, {150, 159}, {1000, 1000}}
	if !slices.Equal(got, want) {
		t.Fatalf("spans = %v, want %v", got, want)
	}
	// The next chunk continues the last span.
	got = AppendSpan(got, Range(1001, 2000, 10, 0))
	if want := []Span{{100, 119}, {150, 159}, {1000, 1010}}; !slices.Equal(got, want) {
		t.Fatalf("spans across chunks = %v, want %v", got, want)
	}
	if top := Range(math.MaxInt64-15, math.MaxInt64, 10, 1); top != (Span{math.MaxInt64 - 5, math.MaxInt64}) {
		t.Fatalf("range at the top of int64 = %v", top)
	}
	if got := AppendSpan([]Span{{0, math.MaxInt64}}, Span{math.MinInt64, 0}); len(got) != 2 {
		t.Fatalf("a span after one ending at the top of int64 merged: %v", got)
	}
}

// TestConcatInOrderAhead: Concat yields the readers' batches in order,
// opens no more than depth ahead, and Release ends every read it opened.
func TestConcatInOrderAhead(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}}, nil)
	var mu sync.Mutex
	live, most, opened := 0, 0, 0
	open := func(i int) (array.RecordReader, error) {
		mu.Lock()
		live++
		opened++
		most = max(most, live)
		mu.Unlock()
		b := array.NewInt64Builder(memory.DefaultAllocator)
		b.AppendValues([]int64{int64(2 * i), int64(2*i + 1)}, nil)
		rec := array.NewRecordBatch(schema, []arrow.Array{b.NewArray()}, 2)
		rr, err := array.NewRecordReader(schema, []arrow.RecordBatch{rec})
		return &counted{RecordReader: rr, done: func() { mu.Lock(); live--; mu.Unlock() }}, err
	}
	c := Concat(schema, 20, 3, open)
	var got []int64
	for c.Next() {
		got = append(got, c.RecordBatch().Column(0).(*array.Int64).Int64Values()...)
	}
	c.Release()
	if c.Err() != nil || len(got) != 40 || !slices.IsSorted(got) || got[39] != 39 {
		t.Fatalf("read %v (%v)", got, c.Err())
	}
	if most > 3 || live != 0 {
		t.Fatalf("%d reads open at once (depth 3), %d left open", most, live)
	}
	c = Concat(schema, 20, 3, open)
	if !c.Next() {
		t.Fatal(c.Err())
	}
	c.Release()
	if live != 0 || opened > 20+3+1 {
		t.Fatalf("released after one batch: %d reads left open", live)
	}
}

type counted struct {
	array.RecordReader
	done func()
}

func (c *counted) Release() { c.RecordReader.Release(); c.done() }
