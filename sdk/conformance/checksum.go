package conformance

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/sdk"
)

func text(v string) *string { return &v }

// ChecksumRows are the canonical texts ([sdk.RangeChecksummer]) of the
// five rows the table given to [RunChecksumSuite] must hold, nil for
// NULL, by column:
//
//	id      integer key, 1 to 5
//	amount  a decimal with three digits of scale: 1.500, -0.250, 100.000, 0.000, NULL
//	name    text: 'héllo', 'a,b:c', NULL, '', 'N'
//	at      a timestamp (microseconds) holding these UTC instants
//	day     a date
//	n       a bigint, its minimum included
//	bin     binary: 0x00ff, NULL, empty, 'abc', NULL
var ChecksumRows = [][]*string{
	{text("1"), text("1.5"), text("héllo"), text("2024-01-02 03:04:05.123456"), text("2024-02-29"), text("7"), text("00ff")},
	{text("2"), text("-0.25"), text("a,b:c"), text("1999-12-31 23:59:59.000000"), nil, text("-3"), nil},
	{text("3"), text("100"), nil, nil, text("2000-01-01"), nil, text("")},
	{text("4"), text("0"), text(""), text("2024-06-01 00:00:00.000001"), text("2024-06-01"), text("0"), text("616263")},
	{text("5"), nil, text("N"), text("2024-06-01 00:00:00.000000"), nil, text("-9223372036854775808"), nil},
}

// checksumText marks the columns of ChecksumRows that are text.
var checksumText = []bool{false, false, true, false, false, false, false}

// Checksum is the Go reference of the checksum [sdk.RangeChecksummer]
// specifies, of rows given as canonical texts (nil for NULL); text[i]
// says column i is text, whose canonical text has its length in front.
// A connector's checksum SQL must agree with it on every row.
func Checksum(text []bool, rows ...[]*string) string {
	sum := new(big.Int)
	for _, r := range rows {
		parts := make([]string, len(r))
		for i, v := range r {
			switch {
			case v == nil:
				parts[i] = "N"
			case text[i]:
				parts[i] = strconv.Itoa(utf8.RuneCountInString(*v)) + ":" + *v
			default:
				parts[i] = *v
			}
		}
		h := md5.Sum([]byte(strings.Join(parts, ",")))
		n, _ := new(big.Int).SetString(hex.EncodeToString(h[:])[:15], 16)
		sum.Add(sum, n)
	}
	return sum.String()
}

// RunChecksumSuite checks a connector's checksums of key ranges against
// [Checksum] on a table holding [ChecksumRows]. req names the table, its
// seven columns in the order of ChecksumRows (the key first) and the
// connection; its ranges are the suite's. nonZero is a predicate in the
// connector's dialect keeping the rows whose n is not 0 (e.g. "n <> 0").
// c must read too: the suite reads the rows of key spans, as hp diff
// --hash does.
//
// Subtests: ranges (three ranges of width 2), whole_span (the whole int64
// span, where key - lower exceeds int64), where (a sub-range and
// nonZero), spans (the rows of some spans alone) and span_read (a read
// restricted to the same spans).
func RunChecksumSuite(t *testing.T, c interface {
	sdk.Reader
	sdk.RangeChecksummer
}, req sdk.ChecksumRangesRequest, nonZero string) {
	t.Helper()
	ctx := context.Background()
	sum := func(rows ...[]*string) string { return Checksum(checksumText, rows...) }
	check := func(t *testing.T, req sdk.ChecksumRangesRequest, want ...sdk.RangeChecksum) {
		t.Helper()
		got, err := c.ChecksumRanges(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got.Ranges) != fmt.Sprint(want) {
			t.Fatalf("checksums of %d..%d by %d (where %q, spans %v)\n got %v\nwant %v", req.Lower, req.Upper, req.Width, req.Where, req.Spans, got.Ranges, want)
		}
	}
	req.Lower, req.Upper, req.Width, req.Where, req.Spans = 1, 5, 2, "", nil
	t.Run("ranges", func(t *testing.T) {
		check(t, req,
			sdk.RangeChecksum{Index: 0, Rows: 2, Checksum: sum(ChecksumRows[0:2]...)},
			sdk.RangeChecksum{Index: 1, Rows: 2, Checksum: sum(ChecksumRows[2:4]...)},
			sdk.RangeChecksum{Index: 2, Rows: 1, Checksum: sum(ChecksumRows[4])})
	})
	t.Run("whole_span", func(t *testing.T) {
		wide := req
		wide.Lower, wide.Upper, wide.Width = math.MinInt64, math.MaxInt64, math.MaxInt64
		check(t, wide, sdk.RangeChecksum{Index: 1, Rows: 5, Checksum: sum(ChecksumRows...)})
	})
	t.Run("where", func(t *testing.T) {
		sub := req
		sub.Lower, sub.Upper, sub.Width, sub.Where = 2, 5, 10, nonZero
		check(t, sub, sdk.RangeChecksum{Index: 0, Rows: 2, Checksum: sum(ChecksumRows[1], ChecksumRows[4])})
	})
	spanned := req
	spanned.Lower, spanned.Upper, spanned.Width = 1, 5, 10
	spanned.Spans = []sdk.KeySpan{{Lower: 1, Upper: 1}, {Lower: 3, Upper: 4}}
	t.Run("spans", func(t *testing.T) {
		check(t, spanned, sdk.RangeChecksum{Index: 0, Rows: 3, Checksum: sum(ChecksumRows[0], ChecksumRows[2], ChecksumRows[3])})
	})
	t.Run("span_read", func(t *testing.T) {
		rr, err := c.Read(ctx, sdk.ReadRequest{Conn: req.Conn, Source: sdk.Source{Object: &req.Table}, Columns: req.Columns[:1],
			Range:   &sdk.RangeFilter{Column: req.Key, Lower: sdk.Int64Value(1), LowerInclusive: true, Upper: sdk.Int64Value(5), UpperInclusive: true, Spans: spanned.Spans},
			OrderBy: []sdk.OrderBy{{Column: req.Key}}})
		if err != nil {
			t.Fatal(err)
		}
		defer rr.Release()
		var ids []int64
		for rr.Next() {
			ids = append(ids, rr.RecordBatch().Column(0).(*array.Int64).Int64Values()...)
		}
		if err := rr.Err(); err != nil || fmt.Sprint(ids) != "[1 3 4]" {
			t.Fatalf("read of the spans 1, 3..4: ids %v, %v", ids, err)
		}
	})
}
