package mssql

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

func columnOf(name, typ string) sqlsource.ColumnMeta {
	return sqlsource.ColumnMeta{Name: name, NativeType: typ, Nullable: true}
}

// TestRealServer runs against the SQL Server named by HP_TEST_MSSQL_DSN
// (no SQL Server runs on this project's machines, so it usually skips).
func TestRealServer(t *testing.T) {
	dsn := os.Getenv("HP_TEST_MSSQL_DSN")
	if dsn == "" {
		t.Skip("HP_TEST_MSSQL_DSN is not set")
	}
	conn := sdk.Connection{DSN: dsn}
	db, err := open(conn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	name := fmt.Sprintf("hp_test_%d", time.Now().UnixNano())
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec("CREATE TABLE dbo." + name + ` (id int NOT NULL PRIMARY KEY, d38 decimal(38,18), m money, nv nvarchar(max),
		vb varbinary(max), dt2 datetime2(7), dto datetimeoffset(7), g uniqueidentifier, tm time(7), rv rowversion, [na]]me] nvarchar(10))`)
	t.Cleanup(func() { _, _ = db.Exec("DROP TABLE dbo." + name) })
	exec("INSERT INTO dbo." + name + ` (id, d38, m, nv, vb, dt2, dto, g, tm, [na]]me) VALUES
		(1, -12345678901234567890.123456789012345678, 922337203685477.5807, N'héllo ✓', 0x0001FF,
		 '2024-02-29T23:59:58.1234567', '2023-12-31T22:15:01.9999999+05:30', '6F9619FF-8B86-D011-B42D-00C04FD430C8', '23:59:59.9999999', N'x'),
		(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`)
	c := New()
	ref := &sdk.ObjectRef{Schema: "dbo", Name: name}
	d, err := c.Describe(ctx, conn, sdk.Source{Object: ref})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.PrimaryKey) != 1 || d.PrimaryKey[0] != "id" || d.Schema.NumFields() != 11 {
		t.Fatalf("description = %+v", d)
	}
	rr, err := c.Read(ctx, sdk.ReadRequest{Conn: conn, Source: sdk.Source{Object: ref}, OrderBy: []sdk.OrderBy{{Column: "id"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	if !rr.Next() {
		t.Fatal(rr.Err())
	}
	rec := rr.RecordBatch()
	check := func(what string, got, want any) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	check("d38", rec.Column(1).(*array.Decimal128).Value(0).ToString(18), "-12345678901234567890.123456789012345678")
	check("money", rec.Column(2).(*array.Decimal128).Value(0).ToString(4), "922337203685477.5807")
	check("nvarchar", rec.Column(3).(*array.String).Value(0), "héllo ✓")
	check("dt2", rec.Column(5).(*array.Timestamp).Value(0), arrow.Timestamp(time.Date(2024, 2, 29, 23, 59, 58, 123456700, time.UTC).UnixNano()))
	check("dto", rec.Column(6).(*array.Timestamp).Value(0), arrow.Timestamp(time.Date(2023, 12, 31, 16, 45, 1, 999999900, time.UTC).UnixNano()))
	check("guid", rec.Column(7).(*array.String).Value(0), "6F9619FF-8B86-D011-B42D-00C04FD430C8")
	check("time", rec.Column(8).(*array.Time64).Value(0), arrow.Time64(86399_999_999_900))
	check("na]me", rec.Column(10).(*array.String).Value(0), "x")
	check("null row", rec.Column(1).IsNull(1), true)
	rv := rec.Column(9).(*array.Uint64)
	b, err := c.Bounds(ctx, sdk.BoundsRequest{Conn: conn, Source: sdk.Source{Object: ref}, Column: "rv"})
	if err != nil {
		t.Fatal(err)
	}
	if b.Count != 2 || b.Max == nil || b.Max.Uint != max(rv.Value(0), rv.Value(1)) {
		t.Fatalf("rowversion bounds = %+v", b)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM dbo."+name+" WHERE rv > @p1", arg(b.Min, columnOf("rv", "timestamp"))).Scan(&n); err != nil || n != 1 {
		t.Fatalf("rowversion range = %d, %v", n, err)
	}
}
