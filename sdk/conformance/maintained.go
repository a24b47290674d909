package conformance

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// CheckMaintained fails t unless the checksums of req's table over
// [req.Lower, req.Upper] (req.Columns those its maintained checksums hash)
// are summed from the maintained hashes and equal the ones computed from
// the rows (asked for with a where that keeps every row), at several
// widths, with and without spans.
func CheckMaintained(t *testing.T, c sdk.RangeChecksummer, req sdk.ChecksumRangesRequest) {
	t.Helper()
	ctx := context.Background()
	spans := [][]sdk.KeySpan{nil}
	if req.Upper-req.Lower >= 6 {
		spans = append(spans, []sdk.KeySpan{{Lower: req.Lower, Upper: req.Lower + 2}, {Lower: req.Lower + 5, Upper: req.Upper}})
	}
	for _, w := range []int64{1, 3, math.MaxInt64} {
		for _, s := range spans {
			r := req
			r.Width, r.Spans, r.Where = w, s, ""
			got, err := c.ChecksumRanges(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			r.Where = "1 = 1"
			want, err := c.ChecksumRanges(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Maintained || want.Maintained || want.Note == "" {
				t.Fatalf("width %d, spans %v: maintained %v (note %q), with a where %v (note %q): want maintained, then computed with a note", w, s, got.Maintained, got.Note, want.Maintained, want.Note)
			}
			if fmt.Sprint(got.Ranges) != fmt.Sprint(want.Ranges) {
				t.Fatalf("width %d, spans %v: maintained checksums\n%v\ncomputed\n%v", w, s, got.Ranges, want.Ranges)
			}
		}
	}
}
