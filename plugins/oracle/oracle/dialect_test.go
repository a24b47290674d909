package oracle

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/godror/godror"

	"github.com/halfpipe-io/halfpipe/plugins/oracle/internal/oraclefake"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// events is HP.EVENTS, whose columns drive deltas.
func events() *oraclefake.Table {
	i := func(n int64) any { return n }
	return &oraclefake.Table{Owner: "HP", Name: "EVENTS", Key: []string{"ID"}, Cols: []oraclefake.Column{
		{Name: "ID", Type: "NUMBER", Precision: i(19), Scale: i(0), Nullable: "N"},
		{Name: "UPDATED", Type: "DATE", Nullable: "Y"},
		{Name: "TS", Type: "TIMESTAMP(6)", Scale: i(6), Nullable: "Y"},
		{Name: "TZ", Type: "TIMESTAMP(6) WITH TIME ZONE", Scale: i(6), Nullable: "Y"},
		{Name: "N", Type: "NUMBER", Nullable: "Y"},
		{Name: "AMOUNT", Type: "NUMBER", Precision: i(12), Scale: i(2), Nullable: "Y"},
		{Name: "NOTE", Type: "VARCHAR2", Nullable: "Y"},
	}}
}

// lowercase is HP."events": a quoted lower-case name beside EVENTS.
func lowercase() *oraclefake.Table {
	return &oraclefake.Table{Owner: "HP", Name: "events", Cols: []oraclefake.Column{{Name: "x", Type: "VARCHAR2", Nullable: "Y"}}}
}

func TestResolveNames(t *testing.T) {
	syn := map[[2]string][2]string{
		{"HP", "EV"}:         {"HP", "EVENTS"},
		{"PUBLIC", "ALL_EV"}: {"HP", "EV"}, // a chain
		{"HP", "GONE"}:       {"HP", "DROPPED"},
		{"OTHER", "EVENTS"}:  {"HP", "EVENTS"},
	}
	f := &oraclefake.DB{}
	f.Handle = catalog([]*oraclefake.Table{events(), lowercase()}, syn, func(q string, _ []any) (*oraclefake.Result, error) {
		return nil, fmt.Errorf("fake: unexpected %s", q)
	})
	db, _ := open(f)(conn)
	cases := []struct {
		in   sdk.ObjectRef
		want string
	}{
		{sdk.ObjectRef{Name: "EVENTS"}, "HP.EVENTS"},
		{sdk.ObjectRef{Schema: "hp", Name: "Events"}, "HP.EVENTS"}, // unquoted: folded
		{sdk.ObjectRef{Name: "events"}, "HP.events"},               // as typed first
		{sdk.ObjectRef{Name: "ev"}, "HP.EVENTS"},                   // a private synonym
		{sdk.ObjectRef{Name: "all_ev"}, "HP.EVENTS"},               // PUBLIC, through a chain
		{sdk.ObjectRef{Schema: "other", Name: "events"}, "HP.EVENTS"},
	}
	for _, c := range cases {
		got, err := resolve(context.Background(), db, c.in)
		if err != nil || got.String() != c.want {
			t.Errorf("resolve(%s) = %s, %v; want %s", c.in, got, err, c.want)
		}
	}
	for _, bad := range []sdk.ObjectRef{{Name: "nope"}, {Schema: "hp", Name: "gone"}, {Schema: "nobody", Name: "events"}} {
		if _, err := resolve(context.Background(), db, bad); !errors.Is(err, sdk.ErrNotFound) {
			t.Errorf("resolve(%s): %v, want not found", bad, err)
		}
	}
}

func TestListAndDescribe(t *testing.T) {
	f := &oraclefake.DB{}
	f.Handle = catalog([]*oraclefake.Table{events()}, nil, func(q string, args []any) (*oraclefake.Result, error) {
		if q == ObjectsQuery && reflect.DeepEqual(args, []any{"hp", "HP"}) {
			return &oraclefake.Result{Cols: []string{"OWNER", "OBJECT_NAME", "OBJECT_TYPE"}, Rows: [][]driver.Value{{"HP", "EVENTS", "TABLE"}, {"HP", "V_EVENTS", "VIEW"}}}, nil
		}
		return nil, fmt.Errorf("fake: unexpected %s %v", q, args)
	})
	c := newConnector(open(f))
	objs, err := c.ListObjects(context.Background(), conn, "hp")
	if err != nil || fmt.Sprint(objs) != "[{HP.EVENTS table} {HP.V_EVENTS view}]" {
		t.Fatalf("ListObjects: %v %v", objs, err)
	}
	d, err := c.Describe(context.Background(), conn, sdk.Source{Object: &sdk.ObjectRef{Name: "events"}})
	if err != nil {
		t.Fatal(err)
	}
	var native []string
	for _, col := range d.Columns {
		native = append(native, col.NativeType)
	}
	if fmt.Sprint(d.PrimaryKey) != "[ID]" || strings.Join(native, "|") != "NUMBER(19,0)|DATE|TIMESTAMP(6)|TIMESTAMP(6) WITH TIME ZONE|NUMBER|NUMBER(12,2)|VARCHAR2" {
		t.Fatalf("Describe: key %v, types %v", d.PrimaryKey, native)
	}
}

// eventsDB answers T_EVENTS reads and bounds with handle.
func eventsDB(handle func(q string, args []any) (*oraclefake.Result, error)) *oraclefake.DB {
	f := &oraclefake.DB{}
	f.Handle = catalog([]*oraclefake.Table{events()}, nil, handle)
	return f
}

// Bounds of each delta driver type: the SQL, the typed bound in it and
// the exact values that come back.
func TestBoundsAndRanges(t *testing.T) {
	at := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		col      string
		lower    *sdk.Value
		sql      string
		args     []any
		min, max driver.Value
		want     string
	}{
		{"updated", sdk.TimestampValue(at), `SELECT MIN("UPDATED"), MAX("UPDATED"), COUNT(*), COUNT("UPDATED") FROM "HP"."EVENTS" WHERE "UPDATED" > TO_DATE('2024-01-02 03:04:05', 'YYYY-MM-DD HH24:MI:SS')`, nil,
			time.Date(2024, 1, 3, 0, 0, 0, 0, session), time.Date(2024, 2, 1, 12, 0, 0, 0, session), "2024-01-03T00:00:00Z..2024-02-01T12:00:00Z"},
		{"TS", sdk.TimestampValue(at.Add(123456 * time.Microsecond)), `SELECT MIN("TS"), MAX("TS"), COUNT(*), COUNT("TS") FROM "HP"."EVENTS" WHERE "TS" > TIMESTAMP '2024-01-02 03:04:05.123456'`, nil,
			time.Date(2024, 1, 3, 0, 0, 0, 1000, session), time.Date(2024, 1, 3, 0, 0, 0, 2000, session), "2024-01-03T00:00:00.000001Z..2024-01-03T00:00:00.000002Z"},
		{"tz", sdk.TimestampValue(at), `SELECT MIN("TZ"), MAX("TZ"), COUNT(*), COUNT("TZ") FROM "HP"."EVENTS" WHERE "TZ" > TIMESTAMP '2024-01-02 03:04:05 +00:00'`, nil,
			time.Date(2024, 1, 3, 1, 0, 0, 0, time.FixedZone("", 3600)), time.Date(2024, 1, 3, 1, 0, 0, 0, time.FixedZone("", -3600)), "2024-01-03T00:00:00Z..2024-01-03T02:00:00Z"},
		{"id", sdk.DecimalValue("41"), `SELECT MIN("ID"), MAX("ID"), COUNT(*), COUNT("ID") FROM "HP"."EVENTS" WHERE "ID" > :1`, []any{godror.Number("41")},
			godror.Number("42"), godror.Number("9223372036854775807"), "42..9223372036854775807"},
		{"N", sdk.StringValue("1.5"), `SELECT MIN("N"), MAX("N"), COUNT(*), COUNT("N") FROM "HP"."EVENTS" WHERE "N" > :1`, []any{godror.Number("1.5")},
			godror.Number("1.75"), godror.Number("1E+125"), "1.75..1E+125"},
	}
	for _, c := range cases {
		f := eventsDB(func(q string, args []any) (*oraclefake.Result, error) {
			if q != c.sql {
				return nil, fmt.Errorf("fake: unexpected %s", q)
			}
			return &oraclefake.Result{Cols: []string{"A", "B", "C", "D"}, Rows: [][]driver.Value{{c.min, c.max, godror.Number("5"), godror.Number("4")}}}, nil
		})
		b, err := newConnector(open(f)).Bounds(context.Background(), sdk.BoundsRequest{Conn: conn, Source: sdk.Source{Object: &sdk.ObjectRef{Name: "events"}}, Column: c.col,
			Range: &sdk.RangeFilter{Column: c.col, Lower: c.lower}})
		if err != nil {
			t.Errorf("%s: %v", c.col, err)
			continue
		}
		if got := b.Min.String() + ".." + b.Max.String(); got != c.want || b.Count != 5 || b.NullCount != 1 {
			t.Errorf("%s: bounds %s count %d nulls %d, want %s 5 1", c.col, got, b.Count, b.NullCount, c.want)
		}
		last := f.Calls()[len(f.Calls())-2]
		if !reflect.DeepEqual(last.Args, c.args) && !(len(last.Args) == 0 && len(c.args) == 0) {
			t.Errorf("%s: bound with %#v, want %#v", c.col, last.Args, c.args)
		}
	}
}

// A read with --columns, --where, a range and an order names the columns
// as Oracle folds them, and keeps NULLs first ascending.
func TestReadSelection(t *testing.T) {
	const want = `SELECT "ID", "UPDATED" FROM "HP"."EVENTS" WHERE (updated > sysdate - 1) AND "ID" >= :1 AND "ID" < :2 ORDER BY "UPDATED" NULLS FIRST, "ID" DESC NULLS LAST`
	f := eventsDB(func(q string, args []any) (*oraclefake.Result, error) {
		if q != want {
			return nil, fmt.Errorf("fake: unexpected %s", q)
		}
		return &oraclefake.Result{Cols: []string{"ID", "UPDATED"}, Rows: [][]driver.Value{{int64(1), nil}, {godror.Number("2"), time.Date(2024, 1, 1, 0, 0, 0, 0, session)}}}, nil
	})
	_, rows, err := readAll(t, newConnector(open(f)), sdk.ReadRequest{
		Source: sdk.Source{Object: &sdk.ObjectRef{Schema: "HP", Name: "events"}}, Columns: []string{"id", "updated"}, Where: "updated > sysdate - 1",
		Range:   &sdk.RangeFilter{Column: "id", Lower: sdk.DecimalValue("1"), LowerInclusive: true, Upper: sdk.DecimalValue("3")},
		OrderBy: []sdk.OrderBy{{Column: "updated"}, {Column: "ID", Descending: true}},
	})
	if err != nil || fmt.Sprint(rows) != "[[1 (null)] [2 2024-01-01T00:00:00]]" {
		t.Fatalf("rows %v, %v", rows, err)
	}
	if got := f.Calls()[len(f.Calls())-2].Args; !reflect.DeepEqual(got, []any{godror.Number("1"), godror.Number("3")}) {
		t.Errorf("bounds bound as %#v", got)
	}
	// A filter that is not one predicate never reaches the server.
	_, _, err = readAll(t, newConnector(open(f)), sdk.ReadRequest{Source: sdk.Source{Object: &sdk.ObjectRef{Name: "events"}}, Where: "1=1; DROP TABLE events"})
	if !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Fatalf("a second statement in --where: %v", err)
	}
}

// --where takes Oracle's q-quoted literals, whose ';', comment marker or
// parenthesis stays text, and sends the filter as written; an
// unterminated one never reaches the server.
func TestWhereQQuote(t *testing.T) {
	const where = `note = q'[it's; -- a ) note]' OR note = q'{x}'`
	const want = `SELECT "ID" FROM "HP"."EVENTS" WHERE (` + where + `)`
	f := eventsDB(func(q string, args []any) (*oraclefake.Result, error) {
		if q != want {
			return nil, fmt.Errorf("fake: unexpected %s", q)
		}
		return &oraclefake.Result{Cols: []string{"ID"}, Rows: [][]driver.Value{{godror.Number("7")}}}, nil
	})
	req := sdk.ReadRequest{Source: sdk.Source{Object: &sdk.ObjectRef{Name: "events"}}, Columns: []string{"id"}, Where: where}
	if _, rows, err := readAll(t, newConnector(open(f)), req); err != nil || fmt.Sprint(rows) != "[[7]]" {
		t.Fatalf("rows %v, %v", rows, err)
	}
	sent := len(f.Calls())
	req.Where = `note = q'[it's; DROP TABLE events --`
	if _, _, err := readAll(t, newConnector(open(f)), req); !errors.Is(err, sdk.ErrInvalidArgument) || !strings.Contains(err.Error(), "unterminated quote q'[") {
		t.Fatalf("an unterminated q-quote in --where: %v", err)
	}
	for _, c := range f.Calls()[sent:] {
		if strings.Contains(c.SQL, "DROP") {
			t.Fatalf("the refused filter reached the server: %s", c.SQL)
		}
	}
}

// A query is typed from godror's column types and runs as written, in a
// read-only transaction.
func TestReadQuery(t *testing.T) {
	const q = "SELECT id, amount, created FROM orders"
	f := eventsDB(func(got string, _ []any) (*oraclefake.Result, error) {
		if got != q {
			return nil, fmt.Errorf("fake: unexpected %s", got)
		}
		return &oraclefake.Result{Cols: []string{"ID", "AMOUNT", "CREATED"}, Types: []string{"NUMBER", "NUMBER", "DATE"}, Prec: [][2]int64{{10, 0}, {0, 0}, {0, 0}},
			Rows: [][]driver.Value{{int64(1), godror.Number("0.30000000000000000000000000001"), time.Date(2024, 1, 1, 8, 0, 0, 0, session)}}}, nil
	})
	schema, rows, err := readAll(t, newConnector(open(f)), sdk.ReadRequest{Source: sdk.Source{Query: q}})
	if err != nil || fmt.Sprint(rows) != "[[1 0.30000000000000000000000000001 2024-01-01T08:00:00]]" {
		t.Fatalf("rows %v, %v", rows, err)
	}
	if got := fmt.Sprint(schema.Field(0).Type, schema.Field(1).Type, schema.Field(2).Type); got != "decimal(10, 0) utf8 timestamp[s]" {
		t.Errorf("query types %s", got)
	}
	st := f.Statements()
	if strings.Join(st, "|") != "SET TRANSACTION READ ONLY|"+q+"|ROLLBACK" {
		t.Errorf("statements %q", st)
	}
}

// Driver errors reach hp classified and masked.
func TestErrorsMasked(t *testing.T) {
	f := &oraclefake.DB{Handle: func(q string, _ []any) (*oraclefake.Result, error) {
		return nil, &oraErr{1017, "invalid credential for s3cr3t"}
	}}
	_, err := newConnector(open(f)).Check(context.Background(), conn)
	if !errors.Is(err, sdk.ErrUnauthenticated) || strings.Contains(err.Error(), "s3cr3t") || !strings.Contains(err.Error(), "oracle://hp/xxxxx@//db.example:1521/FREEPDB1") {
		t.Fatalf("Check: %v", err)
	}
	f.Handle = func(q string, _ []any) (*oraclefake.Result, error) {
		if q == CurrentSchemaQuery {
			return &oraclefake.Result{Cols: []string{"S"}, Rows: [][]driver.Value{{"HP"}}}, nil
		}
		return nil, &oraErr{942, "table or view does not exist"}
	}
	if _, _, err := readAll(t, newConnector(open(f)), sdk.ReadRequest{Source: sdk.Source{Query: "SELECT * FROM nope"}}); !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("a query of a missing table: %v", err)
	}
}
