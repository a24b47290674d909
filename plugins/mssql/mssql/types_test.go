package mssql_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/extensions"

	"github.com/halfpipe-io/halfpipe/plugins/mssql/mssql"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/testkit/tds"
)

// readAll reads a source to one record batch (or the read's error).
func readAll(t *testing.T, conn sdk.Connection, src sdk.Source) (arrow.RecordBatch, error) {
	t.Helper()
	rr, err := mssql.New().Read(context.Background(), sdk.ReadRequest{Conn: conn, Source: src})
	if err != nil {
		return nil, err
	}
	defer rr.Release()
	var rec arrow.RecordBatch
	for rr.Next() {
		if rec != nil {
			t.Fatal("more than one batch")
		}
		rec = rr.RecordBatch()
		rec.Retain()
	}
	if err := rr.Err(); err != nil {
		if rec != nil {
			rec.Release()
		}
		return nil, err
	}
	if rec == nil {
		t.Fatal("no batch")
	}
	t.Cleanup(rec.Release)
	return rec, nil
}

// TestDateTimeFullRange: datetime2(n) and datetimeoffset(n) with n ≤ 6 are
// microseconds and keep SQL Server's whole range (0001 .. 9999) exactly;
// n = 7 keeps 100 ns inside timestamp[ns]'s range and fails outside it
// with the row, column and value named, never a wrapped instant.
// datetimeoffset keeps each row's offset beside the instant.
func TestDateTimeFullRange(t *testing.T) {
	s, conn := start(t)
	cols := []catalogCol{
		{name: "id", typ: "int", maxLen: 4, prec: 10, wire: tds.Column{Type: tds.Int}},
		{name: "d6", typ: "datetime2", nullable: true, maxLen: 8, prec: 26, scl: 6, wire: tds.Column{Type: tds.DateTime2, Scale: 6}},
		{name: "d0", typ: "datetime2", nullable: true, maxLen: 6, prec: 19, scl: 0, wire: tds.Column{Type: tds.DateTime2, Scale: 0}},
		{name: "o3", typ: "datetimeoffset", nullable: true, maxLen: 9, prec: 30, scl: 3, wire: tds.Column{Type: tds.DateTimeOffset, Scale: 3}},
		{name: "d7", typ: "datetime2", nullable: true, maxLen: 8, prec: 27, scl: 7, wire: tds.Column{Type: tds.DateTime2, Scale: 7}},
		{name: "o7", typ: "datetimeoffset", nullable: true, maxLen: 10, prec: 34, scl: 7, wire: tds.Column{Type: tds.DateTimeOffset, Scale: 7}},
	}
	table(s, "[dbo].[ranges]", cols, "id")
	ref := sdk.Source{Object: &sdk.ObjectRef{Schema: "dbo", Name: "ranges"}}
	d, err := mssql.New().Describe(context.Background(), conn, ref)
	if err != nil {
		t.Fatal(err)
	}
	wantTypes := []arrow.DataType{arrow.PrimitiveTypes.Int32, mssql.TimestampUS, mssql.TimestampUS, mssql.TimestampOffsetUS, mssql.TimestampNS, mssql.TimestampOffsetNS}
	for i, w := range wantTypes {
		if got := d.Schema.Field(i).Type; !arrow.TypeEqual(got, w) {
			t.Errorf("column %s: %s, want %s", cols[i].name, got, w)
		}
	}

	west := time.FixedZone("", -(9*3600 + 30*60)) // a negative offset
	first := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	last6 := time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
	lastSec := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	// The last instant datetimeoffset holds, seen at -09:30.
	lastOff := time.Date(9999, 12, 31, 14, 29, 59, 999000000, west)
	firstOff := time.Date(1, 1, 1, 9, 30, 0, 0, time.FixedZone("", 9*3600+30*60)) // 0001-01-01T00:00Z
	inNS := time.Date(2262, 4, 11, 23, 47, 16, 854775800, time.UTC)
	negOff := time.Date(1677, 9, 20, 14, 43, 43, 100, west) // 1677-09-21T00:13:43.0000001Z
	const sel = "SELECT [id], [d6], [d0], [o3], [d7], [o7] FROM [dbo].[ranges]"
	s.Handle(sel, tds.Response{Columns: wireColumns(cols), Rows: [][]any{
		{1, first, first, firstOff, inNS, negOff},
		{2, last6, lastSec, lastOff, nil, nil},
	}})
	rec, err := readAll(t, conn, ref)
	if err != nil {
		t.Fatal(err)
	}
	ts := func(c, row int) arrow.Timestamp {
		if x, ok := rec.Column(c).(*extensions.TimestampWithOffsetArray); ok {
			return x.Storage().(*array.Struct).Field(0).(*array.Timestamp).Value(row)
		}
		return rec.Column(c).(*array.Timestamp).Value(row)
	}
	offset := func(c, row int) int16 {
		return rec.Column(c).(*extensions.TimestampWithOffsetArray).Storage().(*array.Struct).Field(1).(*array.Int16).Value(row)
	}
	for _, c := range []struct {
		name string
		got  arrow.Timestamp
		want int64
	}{
		{"d6 0001-01-01", ts(1, 0), first.UnixMicro()},
		{"d6 9999-12-31 .999999", ts(1, 1), last6.UnixMicro()},
		{"d0 0001-01-01", ts(2, 0), first.UnixMicro()},
		{"d0 9999-12-31", ts(2, 1), lastSec.UnixMicro()},
		{"o3 0001-01-01Z", ts(3, 0), first.UnixMicro()},
		{"o3 9999-12-31 .999Z at -09:30", ts(3, 1), time.Date(9999, 12, 31, 23, 59, 59, 999000000, time.UTC).UnixMicro()},
		{"d7 last 100 ns of timestamp[ns]", ts(4, 0), inNS.UnixNano()},
		{"o7 negative offset, 100 ns", ts(5, 0), time.Date(1677, 9, 21, 0, 13, 43, 100, time.UTC).UnixNano()},
	} {
		if int64(c.got) != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	for _, c := range []struct {
		name      string
		got, want int16
	}{
		{"o3 +09:30", offset(3, 0), 570},
		{"o3 -09:30", offset(3, 1), -570},
		{"o7 -09:30", offset(5, 0), -570},
	} {
		if c.got != c.want {
			t.Errorf("%s: offset_minutes = %d, want %d", c.name, c.got, c.want)
		}
	}
	o7 := rec.Column(5).(*extensions.TimestampWithOffsetArray)
	if got := o7.Value(0); !got.Equal(negOff) || got.Format("-07:00") != "-09:30" {
		t.Errorf("o7 Value(0) = %s, want %s", got, negOff)
	}
	if !o7.IsNull(1) || o7.NullN() != 1 {
		t.Errorf("o7 row 2 (NULL) is not null: %v", o7)
	}
	// The spec's fields are non-nullable: a NULL is the struct's, over zeros.
	if st := o7.Storage().(*array.Struct); st.Field(0).NullN() != 0 || st.Field(1).NullN() != 0 {
		t.Errorf("o7 fields hold nulls under the NULL row: %v %v", st.Field(0), st.Field(1))
	}

	// datetime2(7) and datetimeoffset(7) outside timestamp[ns]: an error
	// naming row, column and value.
	for _, c := range []struct {
		row   []any
		value string
		col   string
	}{
		{[]any{3, nil, nil, nil, time.Date(9999, 12, 31, 23, 59, 59, 999999900, time.UTC), nil}, "9999-12-31T23:59:59.9999999", `"d7" (datetime2(7))`},
		{[]any{3, nil, nil, nil, first, nil}, "0001-01-01T00:00:00", `"d7" (datetime2(7))`},
		{[]any{3, nil, nil, nil, nil, time.Date(1677, 9, 20, 14, 0, 0, 0, west)}, "1677-09-20T23:30:00Z", `"o7" (datetimeoffset(7))`},
	} {
		s.Handle(sel, tds.Response{Columns: wireColumns(cols), Rows: [][]any{{1, first, first, firstOff, inNS, negOff}, c.row}})
		_, err := readAll(t, conn, ref)
		if !errors.Is(err, sdk.ErrUnsupportedType) {
			t.Fatalf("%s: err = %v, want an unsupported-type error", c.value, err)
		}
		for _, part := range []string{"row 2", c.col, c.value, "datetime2(6)"} {
			if !strings.Contains(err.Error(), part) {
				t.Errorf("error %q does not name %q", err, part)
			}
		}
	}

	// A query's datetime2(6) (the driver reports the scale): microseconds,
	// so the year 9999 reads.
	const q = "SELECT CAST(d7 AS datetime2(6)) AS d FROM dbo.ranges"
	s.Handle(q, tds.Response{Columns: []tds.Column{{Name: "d", Type: tds.DateTime2, Scale: 6, Nullable: true}}, Rows: [][]any{{last6}}})
	rec, err = readAll(t, conn, sdk.Source{Query: q})
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.Schema().Field(0).Type; !arrow.TypeEqual(got, mssql.TimestampUS) {
		t.Fatalf("query datetime2(6) is %s", got)
	}
	if got := int64(rec.Column(0).(*array.Timestamp).Value(0)); got != last6.UnixMicro() {
		t.Fatalf("query datetime2(6) = %d, want %d", got, last6.UnixMicro())
	}
	// A query's datetimeoffset (the driver's DATETIMEOFFSET with its scale).
	const qo = "SELECT o3 FROM dbo.ranges"
	s.Handle(qo, tds.Response{Columns: []tds.Column{{Name: "o3", Type: tds.DateTimeOffset, Scale: 3, Nullable: true}}, Rows: [][]any{{lastOff}, {nil}}})
	rec, err = readAll(t, conn, sdk.Source{Query: qo})
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.Schema().Field(0).Type; !arrow.TypeEqual(got, mssql.TimestampOffsetUS) {
		t.Fatalf("query datetimeoffset(3) is %s", got)
	}
	if got := rec.Column(0).(*extensions.TimestampWithOffsetArray); !got.Value(0).Equal(lastOff) || offset(0, 0) != -570 || !got.IsNull(1) {
		t.Fatalf("query datetimeoffset(3) = %v, want [%s null]", got, lastOff)
	}
	// ... and an unqualified datetime2 of a query is datetime2(7).
	const q7 = "SELECT d7 FROM dbo.ranges"
	s.Handle(q7, tds.Response{Columns: []tds.Column{{Name: "d7", Type: tds.DateTime2, Scale: 7, Nullable: true}}, Rows: [][]any{{inNS}}})
	rec, err = readAll(t, conn, sdk.Source{Query: q7})
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.Schema().Field(0).Type; !arrow.TypeEqual(got, mssql.TimestampNS) || int64(rec.Column(0).(*array.Timestamp).Value(0)) != inNS.UnixNano() {
		t.Fatalf("query datetime2(7): %s %v", got, rec.Column(0))
	}
}
