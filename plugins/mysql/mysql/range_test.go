package mysql_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/plugins/mysql/mysql"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// TestRangeOfEveryDriverType: a delta's marks come from Bounds and go back
// into a range read, which selects exactly the rows between them, for
// DATE, DATETIME, TIMESTAMP, INT and DECIMAL drivers. The session's zone
// is hp's (UTC): a DSN asking for another one, which shifted TIMESTAMP
// values and ranges, is refused.
func TestRangeOfEveryDriverType(t *testing.T) {
	db, d := database(t)
	execAll(t, db,
		"CREATE TABLE "+d+".r (id INT, d DATE, dt DATETIME(6), ts TIMESTAMP(6) NULL, n DECIMAL(12,3))",
		"SET time_zone = '+00:00'",
		"INSERT INTO "+d+".r SELECT seq, '2024-03-25' + INTERVAL seq DIV 20 DAY, '2024-03-30 20:00:00.000001' + INTERVAL seq * 17 MINUTE, "+
			"'2024-03-30 20:00:00.000001' + INTERVAL seq * 17 MINUTE, seq * 1.5 FROM seq_1_to_200",
	)
	c := mysql.New()
	ref := &sdk.ObjectRef{Schema: d, Name: "r"}
	_, err := c.Check(context.Background(), sdk.Connection{DSN: testDSN() + "?time_zone=%27%2B02%3A00%27"})
	if !errors.Is(err, sdk.ErrInvalidArgument) || !strings.Contains(err.Error(), "time_zone") {
		t.Fatalf("a DSN with another session zone: %v", err)
	}
	conn := sdk.Connection{DSN: testDSN()}
	bound := func(col string, upTo int) *sdk.Value {
		t.Helper()
		b, err := c.Bounds(context.Background(), sdk.BoundsRequest{Conn: conn, Source: sdk.Source{Object: ref}, Column: col, Where: fmt.Sprintf("id <= %d", upTo)})
		if err != nil {
			t.Fatalf("bounds of %s: %v", col, err)
		}
		return b.Max
	}
	for _, col := range []string{"d", "dt", "ts", "n", "id"} {
		want := "51..120"
		if col == "d" {
			want = "60..139"
		}
		rf := &sdk.RangeFilter{Column: col, Lower: bound(col, 50), Upper: bound(col, 120), UpperInclusive: true}
		for name, src := range map[string]sdk.Source{"table": {Object: ref}, "query": {Query: "SELECT * FROM " + d + ".r"}} {
			rr, err := c.Read(context.Background(), sdk.ReadRequest{Conn: conn, Source: src, Columns: []string{"id"}, Range: rf})
			if err != nil {
				t.Fatalf("%s read of %s: %v", name, col, err)
			}
			lo, hi, n := int32(1<<30), int32(0), 0
			for rr.Next() {
				ids := rr.RecordBatch().Column(0).(*array.Int32)
				for i := 0; i < ids.Len(); i++ {
					lo, hi, n = min(lo, ids.Value(i)), max(hi, ids.Value(i)), n+1
				}
			}
			if err := rr.Err(); err != nil {
				t.Fatal(err)
			}
			rr.Release()
			if got := fmt.Sprintf("%d..%d", lo, hi); got != want || int(hi-lo+1) != n {
				t.Errorf("%s read of %s in (%s, %s]: %d rows %s, want %s", name, col, rf.Lower, rf.Upper, n, got, want)
			}
		}
	}
}
