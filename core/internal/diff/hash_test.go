package diff

import (
	"math"
	"slices"
	"testing"

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

func TestChunksCoverEveryKeyOnce(t *testing.T) {
	for _, c := range []struct{ lo, hi, w int64 }{
		{1, 1_000_000, 10}, {-5, 5, 1}, {math.MaxInt64 - 3*MaxRanges, math.MaxInt64, 2}, {math.MinInt64, math.MaxInt64, math.MaxInt64},
	} {
		chunks := Chunks(c.lo, c.hi, c.w)
		if chunks[0].Lower != c.lo || chunks[len(chunks)-1].Upper != c.hi {
			t.Fatalf("Chunks(%d, %d, %d) = %v: does not span the keys", c.lo, c.hi, c.w, chunks)
		}
		for i, ch := range chunks {
			if ch.Upper < ch.Lower {
				t.Fatalf("Chunks(%d, %d, %d): chunk %v is empty", c.lo, c.hi, c.w, ch)
			}
			if i > 0 && chunks[i-1].Upper+1 != ch.Lower {
				t.Fatalf("Chunks(%d, %d, %d): %v then %v: a gap or overlap", c.lo, c.hi, c.w, chunks[i-1], ch)
			}
			if n := uint64(ch.Upper-ch.Lower)/uint64(c.w) + 1; n > MaxRanges {
				t.Fatalf("Chunks(%d, %d, %d): chunk %v holds %d ranges", c.lo, c.hi, c.w, ch, n)
			}
		}
	}
	if n := len(Chunks(1, 1_000_000, 10)); n != 2 {
		t.Errorf("1M keys in ranges of 10: %d chunks, want 2", n)
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
