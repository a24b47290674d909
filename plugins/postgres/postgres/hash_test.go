package postgres_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/plugins/postgres/postgres"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// hashRows is the checksum sdk.RangeChecksummer specifies, of rows given
// as canonical texts (nil for NULL): the Go reference both databases'
// SQL must match. plugins/mysql has the same rows and the same reference.
func hashRows(rows ...[]*string) string {
	sum := new(big.Int)
	for _, r := range rows {
		parts := make([]string, len(r))
		for i, v := range r {
			switch {
			case v == nil:
				parts[i] = "N"
			case textColumns[i]:
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

func s(v string) *string { return &v }

// textColumns are the columns of checksumRows that are text, whose
// canonical text has its length in front.
var textColumns = map[int]bool{2: true}

// checksumRows are the canonical texts of the rows both plugins' tests
// insert: id, amount (a decimal whose trailing zeros go), name, at (UTC
// microseconds), day, n, bin (hex).
var checksumRows = [][]*string{
	{s("1"), s("1.5"), s("héllo"), s("2024-01-02 03:04:05.123456"), s("2024-02-29"), s("7"), s("00ff")},
	{s("2"), s("-0.25"), s("a,b:c"), s("1999-12-31 23:59:59.000000"), nil, s("-3"), nil},
	{s("3"), s("100"), nil, nil, s("2000-01-01"), nil, s("")},
	{s("4"), s("0"), s(""), s("2024-06-01 00:00:00.000001"), s("2024-06-01"), s("0"), s("616263")},
	{s("5"), nil, s("N"), s("2024-06-01 00:00:00.000000"), nil, s("-9223372036854775808"), nil},
}

// TestChecksumRanges: the checksums PostgreSQL computes equal the Go
// reference of the canonical row text (plugins/mysql checks MariaDB
// against the same reference and rows), per range of the key; a
// timestamptz is taken in UTC whatever the session's zone; a float column
// is refused by name.
func TestChecksumRanges(t *testing.T) {
	db, sc := schemaFor(t)
	if _, err := db.Exec(`CREATE TABLE ` + sc + `.h (id bigint PRIMARY KEY, amount numeric(12,3), name varchar(20),
		at timestamptz, day date, n bigint, bin bytea, ratio float8, pad char(3));
		INSERT INTO ` + sc + `.h VALUES
		(1, 1.500, 'héllo', '2024-01-02 08:34:05.123456+05:30', '2024-02-29', 7, '\x00ff', 0.1, 'a'),
		(2, -0.250, 'a,b:c', '1999-12-31 23:59:59+00', NULL, -3, NULL, NULL, NULL),
		(3, 100.000, NULL, NULL, '2000-01-01', NULL, '', NULL, NULL),
		(4, 0.000, '', '2024-06-01 00:00:00.000001+00', '2024-06-01', 0, 'abc', NULL, NULL),
		(5, NULL, 'N', '2024-06-01 00:00:00+00', NULL, -9223372036854775808, NULL, NULL, NULL)`); err != nil {
		t.Fatal(err)
	}
	c := postgres.New()
	req := sdk.ChecksumRangesRequest{Conn: sdk.Connection{DSN: testDSN()}, Table: sdk.ObjectRef{Schema: sc, Name: "h"},
		Columns: []string{"id", "amount", "name", "at", "day", "n", "bin"}, Key: "id", Lower: 1, Upper: 5, Width: 2}
	got, err := c.ChecksumRanges(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	want := []sdk.RangeChecksum{
		{Index: 0, Rows: 2, Checksum: hashRows(checksumRows[0:2]...)},
		{Index: 1, Rows: 2, Checksum: hashRows(checksumRows[2:4]...)},
		{Index: 2, Rows: 1, Checksum: hashRows(checksumRows[4])},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("checksums\n got %v\nwant %v", got, want)
	}
	// A sub-range and a filter.
	// The whole int64 span: key - lower exceeds int64.
	wide := req
	wide.Lower, wide.Upper, wide.Width = math.MinInt64, math.MaxInt64, math.MaxInt64
	got, err = c.ChecksumRanges(context.Background(), wide)
	if err != nil {
		t.Fatal(err)
	}
	if want := []sdk.RangeChecksum{{Index: 1, Rows: 5, Checksum: hashRows(checksumRows...)}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("checksums over the whole int64 span\n got %v\nwant %v", got, want)
	}
	req.Lower, req.Upper, req.Width, req.Where = 2, 5, 10, "n <> 0"
	got, err = c.ChecksumRanges(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if want := []sdk.RangeChecksum{{Index: 0, Rows: 2, Checksum: hashRows(checksumRows[1], checksumRows[4])}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("checksums of ids 2..5 where n <> 0\n got %v\nwant %v", got, want)
	}
	// Spans: the rows of ids 1 and 3..4 alone, hashed in one request and
	// read in one read (hp diff --hash's finer levels and its reads).
	spanned := req
	spanned.Lower, spanned.Upper, spanned.Width, spanned.Where = 1, 5, 10, ""
	spanned.Spans = []sdk.KeySpan{{Lower: 1, Upper: 1}, {Lower: 3, Upper: 4}}
	got, err = c.ChecksumRanges(context.Background(), spanned)
	if err != nil {
		t.Fatal(err)
	}
	if want := []sdk.RangeChecksum{{Index: 0, Rows: 3, Checksum: hashRows(checksumRows[0], checksumRows[2], checksumRows[3])}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("checksums of the spans 1, 3..4\n got %v\nwant %v", got, want)
	}
	rr, err := c.Read(context.Background(), sdk.ReadRequest{Conn: req.Conn, Source: sdk.Source{Object: &req.Table}, Columns: []string{"id", "name"},
		Range:   &sdk.RangeFilter{Column: "id", Lower: sdk.Int64Value(1), LowerInclusive: true, Upper: sdk.Int64Value(5), UpperInclusive: true, Spans: spanned.Spans},
		OrderBy: []sdk.OrderBy{{Column: "id"}}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for rr.Next() {
		ids = append(ids, rr.RecordBatch().Column(0).(*array.Int64).Int64Values()...)
	}
	rr.Release()
	if err := rr.Err(); err != nil || fmt.Sprint(ids) != "[1 3 4]" {
		t.Fatalf("read of the spans 1, 3..4: ids %v, %v", ids, err)
	}
	for _, col := range []string{"ratio", "pad"} {
		req.Columns = []string{"id", col}
		_, err = c.ChecksumRanges(context.Background(), req)
		if !errors.Is(err, sdk.ErrUnsupportedType) || !strings.Contains(err.Error(), `column "`+col+`"`) {
			t.Fatalf("checksum of column %s: %v, want an unsupported type naming it", col, err)
		}
	}
}
