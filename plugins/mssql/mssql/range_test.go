package mssql_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/plugins/mssql/mssql"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/testkit/tds"
)

// TestRangeBoundsOfTheColumnsType: a delta's range bounds reach SQL
// Server as values of the driver column's own type, so the server
// compares without converting the column (or the bound) to another type:
// integers as int/smallint/tinyint/bigint parameters, decimals as exact
// literals cast to the column's decimal(p,s), times as datetime2,
// datetimeoffset and date. Integers once went out as bigint and decimals
// as nvarchar text.
func TestRangeBoundsOfTheColumnsType(t *testing.T) {
	s, conn := start(t)
	cols := []catalogCol{
		{name: "id", typ: "int", maxLen: 4, prec: 10, wire: tds.Column{Type: tds.Int}},
		{name: "ti", typ: "tinyint", maxLen: 1, prec: 3, wire: tds.Column{Type: tds.TinyInt}},
		{name: "si", typ: "smallint", maxLen: 2, prec: 5, wire: tds.Column{Type: tds.SmallInt}},
		{name: "bi", typ: "bigint", maxLen: 8, prec: 19, wire: tds.Column{Type: tds.BigInt}},
		{name: "n", typ: "decimal", maxLen: 9, prec: 12, scl: 3, wire: tds.Column{Type: tds.Decimal, Precision: 12, Scale: 3}},
		{name: "dt2", typ: "datetime2", maxLen: 8, prec: 27, scl: 7, wire: tds.Column{Type: tds.DateTime2, Scale: 7}},
		{name: "dto", typ: "datetimeoffset", maxLen: 10, prec: 34, scl: 7, wire: tds.Column{Type: tds.DateTimeOffset, Scale: 7}},
		{name: "d", typ: "date", maxLen: 3, prec: 10, wire: tds.Column{Type: tds.Date}},
	}
	table(s, "[dbo].[marks]", cols, "id")
	at := func(h int) *sdk.Value {
		return sdk.TimestampValue(time.Date(2024, 3, 31, h, 30, 0, 123456700, time.UTC))
	}
	for _, c := range []struct {
		col      string
		lo, hi   *sdk.Value
		lit, typ string // the bounds as written into the SQL, or the parameters' type
	}{
		{col: "id", lo: sdk.Int64Value(5), hi: sdk.Int64Value(70000), typ: "int"},
		{col: "ti", lo: sdk.Int64Value(5), hi: sdk.Int64Value(250), typ: "tinyint"},
		{col: "si", lo: sdk.Int64Value(-5), hi: sdk.Int64Value(30000), typ: "smallint"},
		{col: "bi", lo: sdk.Int64Value(5), hi: sdk.Int64Value(1 << 40), typ: "bigint"},
		{col: "n", lo: sdk.DecimalValue("1.5"), hi: sdk.DecimalValue("-123456789.250"), lit: "[n] > CAST(1.5 AS decimal(12,3)) AND [n] <= CAST(-123456789.250 AS decimal(12,3))"},
		// More decimals than the column holds: the exact literal, uncast.
		{col: "n", lo: sdk.DecimalValue("1.50001"), hi: sdk.DecimalValue("2"), lit: "[n] > 1.50001 AND [n] <= CAST(2 AS decimal(12,3))"},
		{col: "dt2", lo: at(1), hi: at(3), typ: "datetime2"},
		{col: "dto", lo: at(1), hi: at(3), typ: "datetimeoffset"},
		{col: "d", lo: &sdk.Value{Kind: sdk.KindDate, Int: 19000}, hi: &sdk.Value{Kind: sdk.KindDate, Int: 19800}, typ: "date"},
	} {
		q := "SELECT [id] FROM [dbo].[marks] WHERE " + c.lit
		if c.lit == "" {
			q = "SELECT [id] FROM [dbo].[marks] WHERE [" + c.col + "] > @p1 AND [" + c.col + "] <= @p2"
		}
		s.Handle(q, tds.Response{Columns: wireColumns(cols[:1]), Rows: [][]any{{int32(7)}}})
		before := len(s.Queries())
		rr, err := mssql.New().Read(context.Background(), sdk.ReadRequest{Conn: conn, Source: sdk.Source{Object: &sdk.ObjectRef{Schema: "dbo", Name: "marks"}},
			Columns: []string{"id"}, Range: &sdk.RangeFilter{Column: c.col, Lower: c.lo, Upper: c.hi, UpperInclusive: true}})
		if err != nil {
			t.Fatalf("%s: %v", c.col, err)
		}
		n := int64(0)
		for rr.Next() {
			n += rr.RecordBatch().NumRows()
		}
		if err := rr.Err(); err != nil || n != 1 {
			t.Fatalf("%s: %d rows, %v (sent %+v)", c.col, n, err, s.Queries()[before:])
		}
		rr.Release()
		got := sentQuery(t, s, before, q)
		if c.lit != "" {
			if len(got.Args()) != 0 {
				t.Errorf("%s: decimal bounds sent as parameters %q", c.col, got.Decl)
			}
			continue
		}
		for i, decl := range strings.Split(got.Decl, ",") {
			typ := strings.TrimPrefix(strings.TrimSpace(decl), "@p"+string(rune('1'+i))+" ")
			if typ != c.typ && !strings.HasPrefix(typ, c.typ+"(") {
				t.Errorf("%s bound %d sent as %q, want %s", c.col, i+1, typ, c.typ)
			}
		}
	}
}

// TestRangeOfAQueryIsTyped: a --query delta's driver is typed by the
// server (a read of no rows), so its bounds go out like a table column's:
// a datetime2 column's as datetime2, not datetimeoffset, and a decimal's
// as an exact literal of its decimal(p,s), not nvarchar text.
func TestRangeOfAQueryIsTyped(t *testing.T) {
	s, conn := start(t)
	const query = "SELECT id, n, dt2 FROM dbo.marks"
	cols := []tds.Column{{Name: "id", Type: tds.Int}, {Name: "n", Type: tds.Decimal, Precision: 12, Scale: 3, Nullable: true},
		{Name: "dt2", Type: tds.DateTime2, Scale: 7, Nullable: true}}
	at := func(h int) *sdk.Value { return sdk.TimestampValue(time.Date(2024, 3, 31, h, 30, 0, 100, time.UTC)) }
	for _, c := range []struct {
		col    string
		wire   tds.Column
		lo, hi *sdk.Value
		where  string
	}{
		{"n", cols[1], sdk.DecimalValue("1.5"), sdk.DecimalValue("20.125"), "[n] > CAST(1.5 AS decimal(12,3)) AND [n] <= CAST(20.125 AS decimal(12,3))"},
		{"dt2", cols[2], at(1), at(3), "[dt2] > @p1 AND [dt2] <= @p2"},
	} {
		s.Handle("SELECT ["+c.col+"] FROM ("+query+") hp_q WHERE 1=0", tds.Response{Columns: []tds.Column{c.wire}})
		q := "SELECT * FROM (" + query + ") hp_q WHERE " + c.where
		s.Handle(q, tds.Response{Columns: cols, Rows: [][]any{{int32(7), nil, nil}}})
		before := len(s.Queries())
		rr, err := mssql.New().Read(context.Background(), sdk.ReadRequest{Conn: conn, Source: sdk.Source{Query: query},
			Range: &sdk.RangeFilter{Column: c.col, Lower: c.lo, Upper: c.hi, UpperInclusive: true}})
		if err != nil {
			t.Fatalf("%s: %v", c.col, err)
		}
		n := int64(0)
		for rr.Next() {
			n += rr.RecordBatch().NumRows()
		}
		if err := rr.Err(); err != nil || n != 1 {
			t.Fatalf("%s: %d rows, %v (sent %+v)", c.col, n, err, s.Queries()[before:])
		}
		rr.Release()
		got := sentQuery(t, s, before, q)
		if c.col == "dt2" && (strings.Count(got.Decl, "datetime2") != 2 || strings.Contains(got.Decl, "offset")) {
			t.Errorf("datetime2 bounds declared %q", got.Decl)
		}
	}
}
