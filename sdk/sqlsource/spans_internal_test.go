package sqlsource

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// TestRangesSQLJoinSpans: with JoinSpans the spans, clipped to the
// request's bounds, are joined and the bounds are no condition (given
// both, PostgreSQL scans the bounds whole); spans outside the bounds keep
// the condition, which selects nothing.
func TestRangesSQLJoinSpans(t *testing.T) {
	d := &Dialect{Checksum: &ChecksumSQL{JoinSpans: true, Bucket: func(key string, lower, width int64, _ bool) string {
		return fmt.Sprintf("(%s - %d) / %d", key, lower, width)
	}}}
	req := sdk.ChecksumRangesRequest{Lower: 3, Upper: 15, Width: 4, Spans: []sdk.KeySpan{{Lower: 0, Upper: 5}, {Lower: 10, Upper: 20}}}
	q := rangesSQL(d, req, `"k"`, `"h"`, `"t"`)
	want := `FROM (SELECT hp_t.* FROM "t" AS hp_t JOIN (VALUES (CAST(3 AS BIGINT), CAST(5 AS BIGINT)), (10, 15)) AS hp_spans (hp_lo, hp_hi) ON hp_t."k" BETWEEN hp_spans.hp_lo AND hp_spans.hp_hi OFFSET 0) AS hp_rows GROUP BY 1`
	if !strings.Contains(q, want) {
		t.Fatalf("query %s\nwant %s", q, want)
	}
	req.Spans = []sdk.KeySpan{{Lower: 20, Upper: 30}}
	if q := rangesSQL(d, req, `"k"`, `"h"`, `"t"`); !strings.Contains(q, `WHERE "k" >= 3 AND "k" <= 15 AND ("k" BETWEEN 20 AND 30)`) {
		t.Fatalf("spans outside the bounds: %s", q)
	}
}

// TestRangeSpans: a range filter's spans within its bounds, exclusive
// ones too; none when a bound is no int64 or excludes every key.
func TestRangeSpans(t *testing.T) {
	spans := []sdk.KeySpan{{Lower: math.MinInt64, Upper: 2}, {Lower: 5, Upper: 9}, {Lower: 12, Upper: math.MaxInt64}}
	for _, c := range []struct {
		r    *sdk.RangeFilter
		want []sdk.KeySpan
	}{
		{nil, nil},
		{&sdk.RangeFilter{Spans: spans}, spans},
		{&sdk.RangeFilter{Lower: sdk.Int64Value(2), Upper: sdk.Int64Value(12), Spans: spans}, []sdk.KeySpan{{Lower: 5, Upper: 9}}},
		{&sdk.RangeFilter{Lower: sdk.Int64Value(2), LowerInclusive: true, Upper: sdk.Int64Value(12), UpperInclusive: true, Spans: spans}, []sdk.KeySpan{{Lower: 2, Upper: 2}, {Lower: 5, Upper: 9}, {Lower: 12, Upper: 12}}},
		{&sdk.RangeFilter{Lower: sdk.Int64Value(6), LowerInclusive: true, Upper: sdk.Int64Value(8), UpperInclusive: true, Spans: spans}, []sdk.KeySpan{{Lower: 6, Upper: 8}}},
		{&sdk.RangeFilter{Lower: sdk.Int64Value(math.MaxInt64), Spans: spans}, nil},
		{&sdk.RangeFilter{Upper: sdk.Int64Value(math.MinInt64), Spans: spans}, nil},
		{&sdk.RangeFilter{Lower: sdk.StringValue("a"), Spans: spans}, nil},
	} {
		if got := RangeSpans(c.r); !slices.Equal(got, c.want) {
			t.Errorf("%+v: %v, want %v", c.r, got, c.want)
		}
	}
}
