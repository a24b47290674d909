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
// widths, with and without spans; and that the table's key bounds, when
// c is a Bounder, come from the maintained hashes and equal those read
// from the table.
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
	b, ok := c.(sdk.Bounder)
	if !ok {
		return
	}
	breq := sdk.BoundsRequest{Conn: req.Conn, Source: sdk.Source{Object: &req.Table}, Column: req.Key, ChecksumColumns: req.Columns}
	got, err := b.Bounds(ctx, breq)
	if err != nil {
		t.Fatal(err)
	}
	breq.ChecksumColumns = nil
	want, err := b.Bounds(ctx, breq)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Maintained || want.Maintained {
		t.Fatalf("bounds maintained %v, without checksum columns %v: want maintained, then read from the table", got.Maintained, want.Maintained)
	}
	got.Maintained = false
	if fmt.Sprint(*got) != fmt.Sprint(*want) {
		t.Fatalf("bounds from the maintained hashes %+v, from the table %+v", *got, *want)
	}
}
