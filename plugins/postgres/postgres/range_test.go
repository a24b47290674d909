package postgres

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// TestRangeUnderSessionTimeZones: a delta's marks come from Bounds and go
// back into a range read; under any session TimeZone the range selects
// exactly the rows between the marks, for every driver type, on table
// reads (COPY, literals) and query reads (parameters). A timestamp
// without time zone was once compared with a timestamptz literal, which
// shifted it by the session's offset and skipped rows.
func TestRangeUnderSessionTimeZones(t *testing.T) {
	db := openDB(t)
	table := scratchTable(t, db, "hp_range_tz", `create table %[1]s (id int, d date, ts timestamp(6), tz timestamptz(6), n numeric(12,3), free numeric, big bigint);
		insert into %[1]s select g, date '2024-03-25' + g / 20, timestamp '2024-03-30 20:00:00.000001' + g * interval '17 min',
			timestamptz '2024-03-30 20:00:00.000001+00' + g * interval '17 min', g * 1.5, g * 1.5, g * 1000000000000
		from generate_series(1, 200) g`)
	c := New()
	ref := &sdk.ObjectRef{Schema: "public", Name: table}
	for _, zone := range []string{"Europe/Berlin", "America/Los_Angeles", "Asia/Kathmandu"} {
		u, err := url.Parse(dsn())
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("timezone", zone)
		u.RawQuery = q.Encode()
		conn := sdk.Connection{DSN: u.String()}
		bound := func(col string, upTo int) *sdk.Value {
			t.Helper()
			b, err := c.Bounds(context.Background(), sdk.BoundsRequest{Conn: conn, Source: sdk.Source{Object: ref}, Column: col, Where: fmt.Sprintf("id <= %d", upTo)})
			if err != nil {
				t.Fatalf("%s: bounds of %s: %v", zone, col, err)
			}
			return b.Max
		}
		for _, col := range []string{"d", "ts", "tz", "n", "free", "big"} {
			// (row 50's value, row 120's value]; the date steps every 20 rows.
			want := "51..120"
			if col == "d" {
				want = "60..139"
			}
			rf := &sdk.RangeFilter{Column: col, Lower: bound(col, 50), Upper: bound(col, 120), UpperInclusive: true}
			for name, src := range map[string]sdk.Source{"table": {Object: ref}, "query": {Query: "select * from " + table}} {
				rr, err := c.Read(context.Background(), sdk.ReadRequest{Conn: conn, Source: src, Columns: []string{"id"}, Range: rf})
				if err != nil {
					t.Fatalf("%s: %s read of %s: %v", zone, name, col, err)
				}
				lo, hi, n := int32(1<<30), int32(0), 0
				for rr.Next() {
					rec := rr.RecordBatch()
					ids := rec.Column(0).(*array.Int32)
					for i := 0; i < ids.Len(); i++ {
						lo, hi, n = min(lo, ids.Value(i)), max(hi, ids.Value(i)), n+1
					}
				}
				if err := rr.Err(); err != nil {
					t.Fatal(err)
				}
				rr.Release()
				if got := fmt.Sprintf("%d..%d", lo, hi); got != want || int(hi-lo+1) != n {
					t.Errorf("%s: %s read of %s in (%s, %s]: %d rows %s, want %s", zone, name, col, rf.Lower, rf.Upper, n, got, want)
				}
			}
		}
	}
}

// TestLiteralIsOfTheColumnsType: the bounds of every driver type are
// values of the column's own kind (an unconstrained numeric's are exact
// decimals, not text or floats), and their literals select exactly the
// row holding the maximum under a non-UTC session zone.
func TestLiteralIsOfTheColumnsType(t *testing.T) {
	db := openDB(t)
	table := scratchTable(t, db, "hp_range_lit", `create table %[1]s (id int, d date, ts timestamp(6), tz timestamptz(6), n numeric(30,10), free numeric, big bigint);
		insert into %[1]s select g, date '2024-03-25' + g, timestamp '2024-03-31 01:30:00.123456' + g * interval '1 min',
			timestamptz '2024-03-31 01:30:00.123456+00' + g * interval '1 min', g + 0.0000000001, g + 0.123456789012345678901234567890123, g * 1000000000000
		from generate_series(1, 20) g`)
	u, err := url.Parse(dsn())
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("timezone", "Asia/Kathmandu")
	u.RawQuery = q.Encode()
	conn := sdk.Connection{DSN: u.String()}
	kinds := map[string]sdk.ValueKind{"d": sdk.KindDate, "ts": sdk.KindTimestamp, "tz": sdk.KindTimestamp,
		"n": sdk.KindDecimal, "free": sdk.KindDecimal, "big": sdk.KindInt64}
	for col, kind := range kinds {
		b, err := New().Bounds(context.Background(), sdk.BoundsRequest{Conn: conn, Source: sdk.Source{Object: &sdk.ObjectRef{Schema: "public", Name: table}}, Column: col})
		if err != nil {
			t.Fatalf("bounds of %s: %v", col, err)
		}
		if b.Max.Kind != kind {
			t.Errorf("max of %s is of kind %v (%s), want %v", col, b.Max.Kind, b.Max, kind)
		}
		lit, err := literal(b.Max)
		if err != nil {
			t.Fatalf("literal of %s: %v", col, err)
		}
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		var id int
		if _, err = tx.Exec("set local timezone = 'America/Los_Angeles'"); err == nil {
			err = tx.QueryRow("select id from " + table + " where " + col + " = " + lit).Scan(&id)
		}
		_ = tx.Rollback()
		if err != nil || id != 20 {
			t.Errorf("%s = %s: row %d, %v; want row 20", col, lit, id, err)
		}
	}
}

// TestNaNCannotBoundARange: NaN sorts above every number in PostgreSQL;
// as a mark it would end every later delta with nothing new. Bounds
// refuse it and say which column and what to do.
func TestNaNCannotBoundARange(t *testing.T) {
	db := openDB(t)
	table := scratchTable(t, db, "hp_range_nan", `create table %[1]s (id int, free numeric, n numeric(10,2));
		insert into %[1]s values (1, 1.5, 1.5), (2, 'NaN', 'NaN'), (3, 2.5, 2.5)`)
	for _, col := range []string{"free", "n"} {
		b, err := New().Bounds(context.Background(), sdk.BoundsRequest{Conn: sdk.Connection{DSN: dsn()}, Source: sdk.Source{Object: &sdk.ObjectRef{Schema: "public", Name: table}}, Column: col})
		if err == nil || !strings.Contains(err.Error(), "NaN") || !strings.Contains(err.Error(), col) {
			t.Errorf("bounds of %s with a NaN: %+v, %v; want an error naming NaN and the column", col, b, err)
		}
	}
	if _, err := literal(sdk.DecimalValue("NaN")); err == nil {
		t.Error("NaN became a range literal")
	}
}
