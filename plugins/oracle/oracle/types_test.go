package oracle

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/godror/godror"

	"github.com/halfpipe-io/halfpipe/plugins/oracle/internal/oraclefake"
	"github.com/halfpipe-io/halfpipe/sdk"
)

var conn = sdk.Connection{DSN: "oracle://hp/s3cr3t@//db.example:1521/FREEPDB1"}

// expected T_ALL read as text (arrow's ValueStr), row by row.
var allWant = [][]string{
	{"1", "-1234567890123456789012345678.0123456789", "123456789012345678901234567890123456789", "-9999900", "NaN", "-Inf",
		"2024-02-29T23:59:59", "0001-01-01T00:00:00", "2262-04-11T23:47:16.854775807",
		"2024-06-01 12:00:00.123456 -0330 UTC-03:30", "2024-06-01T10:00:00Z",
		`{"months":-14,"days":0,"nanoseconds":0}`, `{"months":0,"days":3,"nanoseconds":14706000007000}`,
		"héllo", "(200 kB)", "[0 1 2]", "(150 kB)", "AAAR3sAAEAAAACXAAA", "<a>1</a>", `{"a":1}`, "true", "0.1"},
	{"2", "(null)", "(null)", "(null)", "+Inf", "NaN", "(null)", "9999-12-31T23:59:59.999999", "(null)", "(null)", "(null)",
		`{"months":14,"days":0,"nanoseconds":0}`, `{"months":0,"days":0,"nanoseconds":-1000000000}`,
		"(null)", "(null)", "(null)", "(null)", "(null)", "(null)", "(null)", "false", "(null)"},
}

const allSelect = `SELECT "ID", "AMOUNT", "BIG", "NEGS", "F", "D", "DT", "TS", "TS9", "TSTZ", "TSLTZ", "YM", "DS", "NAME", "NOTE", "RAWV", "BLOBV", "RID", ` +
	`XMLSERIALIZE(CONTENT "DOC" AS CLOB) AS "DOC", JSON_SERIALIZE("J" RETURNING CLOB) AS "J", "FLAG", "FL" FROM "HP"."T_ALL"`

// show renders one value for the comparison: big values by size.
func show(a arrow.Array, i int) string {
	if a.IsNull(i) {
		return "(null)"
	}
	switch x := a.(type) {
	case *array.String:
		if v := x.Value(i); len(v) > 1000 {
			return fmt.Sprintf("(%d kB)", len(v)/1000)
		}
	case *array.Binary:
		if v := x.Value(i); len(v) > 1000 {
			return fmt.Sprintf("(%d kB)", len(v)/1000)
		}
		return fmt.Sprint(x.Value(i))
	}
	return a.ValueStr(i)
}

// readAll reads a source to its batches' values as text.
func readAll(t *testing.T, c *Connector, req sdk.ReadRequest) (*arrow.Schema, [][]string, error) {
	t.Helper()
	if req.Conn.DSN == "" {
		req.Conn = conn
	}
	rr, err := c.Read(context.Background(), req)
	if err != nil {
		return nil, nil, err
	}
	defer rr.Release()
	var rows [][]string
	for rr.Next() {
		rec := rr.RecordBatch()
		for r := 0; r < int(rec.NumRows()); r++ {
			row := make([]string, rec.NumCols())
			for c := range row {
				row[c] = show(rec.Column(c), r)
			}
			rows = append(rows, row)
		}
	}
	return rr.Schema(), rows, rr.Err()
}

// TestReadAllTypes reads every mapped type from the values godror returns
// and pins the SELECT, its read-only transaction and the fetch options.
func TestReadAllTypes(t *testing.T) {
	f := &oraclefake.DB{}
	f.Handle = catalog([]*oraclefake.Table{oraclefake.AllTypes()}, nil, func(q string, args []any) (*oraclefake.Result, error) {
		if q == allSelect {
			return &oraclefake.Result{Cols: oraclefake.AllTypes().Names(), Rows: oraclefake.AllRows()}, nil
		}
		return nil, fmt.Errorf("fake: unexpected %s", q)
	})
	schema, rows, err := readAll(t, newConnector(open(f)), sdk.ReadRequest{Source: sdk.Source{Object: &sdk.ObjectRef{Schema: "hp", Name: "t_all"}}})
	if err != nil {
		t.Fatal(err)
	}
	wantTypes := []string{"decimal(10, 0)", "decimal(38, 10)", "utf8", "decimal(7, 0)", "float32", "float64", "timestamp[s]", "timestamp[us]", "timestamp[ns]",
		"extension<arrow.timestamp_with_offset>", "timestamp[us, tz=UTC]", "month_day_nano_interval", "month_day_nano_interval", "utf8", "utf8", "binary", "binary",
		"utf8", "utf8", "utf8", "bool", "utf8"}
	for i, f := range schema.Fields() {
		if got := f.Type.String(); i >= len(wantTypes) || !strings.HasPrefix(got, wantTypes[i]) {
			t.Errorf("column %s is %s, want %s", f.Name, got, wantTypes[min(i, len(wantTypes)-1)])
		}
	}
	if schema.Field(0).Nullable || !schema.Field(1).Nullable {
		t.Errorf("nullability not from the catalog: %v", schema)
	}
	if len(rows) != len(allWant) {
		t.Fatalf("%d rows, want %d", len(rows), len(allWant))
	}
	for r := range rows {
		for c := range rows[r] {
			if rows[r][c] != allWant[r][c] {
				t.Errorf("row %d %s = %s, want %s", r+1, schema.Field(c).Name, rows[r][c], allWant[r][c])
			}
		}
	}
	st := f.Statements()
	read := st[len(st)-3:]
	if read[0] != "SET TRANSACTION READ ONLY" || read[1] != allSelect || read[2] != "ROLLBACK" {
		t.Errorf("the read ran as %q, want the SELECT in a read-only transaction", read)
	}
	if f.Options() != 2 {
		t.Errorf("%d godror options reached the statement, want 2 (prefetch rows, fetch array size)", f.Options())
	}
}

// An object type is refused with a select-list fallback; the other
// columns still read.
func TestObjectTypeRefused(t *testing.T) {
	tbl := &oraclefake.Table{Owner: "HP", Name: "PEOPLE", Cols: []oraclefake.Column{
		{Name: "ID", Type: "NUMBER", Precision: int64(5), Scale: int64(0), Nullable: "N"},
		{Name: "ADDR", Type: "ADDRESS_T", Owner: "HP", Nullable: "Y"},
	}}
	f := &oraclefake.DB{}
	f.Handle = catalog([]*oraclefake.Table{tbl}, nil, func(q string, args []any) (*oraclefake.Result, error) {
		switch q {
		case `SELECT "ID" FROM "HP"."PEOPLE"`:
			return &oraclefake.Result{Cols: []string{"ID"}, Rows: [][]driver.Value{{int64(7)}}}, nil
		case `SELECT "ID", "ADDR" FROM "HP"."PEOPLE"`:
			return &oraclefake.Result{Cols: []string{"ID", "ADDR"}, Rows: [][]driver.Value{{int64(7), nil}}}, nil
		}
		return nil, fmt.Errorf("fake: unexpected %s", q)
	})
	c := newConnector(open(f))
	_, _, err := readAll(t, c, sdk.ReadRequest{Source: sdk.Source{Object: &sdk.ObjectRef{Name: "people"}}})
	if !errors.Is(err, sdk.ErrUnsupportedType) || !strings.Contains(err.Error(), `"ADDR"`) || !strings.Contains(err.Error(), "HP.ADDRESS_T") || !strings.Contains(err.Error(), "--query") {
		t.Fatalf("reading an object column: %v", err)
	}
	_, rows, err := readAll(t, c, sdk.ReadRequest{Source: sdk.Source{Object: &sdk.ObjectRef{Name: "people"}}, Columns: []string{"id"}})
	if err != nil || len(rows) != 1 || rows[0][0] != "7" {
		t.Fatalf("reading the other column: %v %v", rows, err)
	}
}

// Query columns are typed by godror's names, precision and scale.
func TestMapQueryColumns(t *testing.T) {
	cases := []struct {
		typ   string
		p, s  int64
		known bool
		want  string
	}{
		{"NUMBER", 12, 2, true, "decimal(12, 2)"},
		{"NUMBER", 0, -127, false, "utf8"},
		{"FLOAT", 0, 0, false, "float32"},
		{"DOUBLE", 0, 0, false, "float64"},
		{"BINARY_INTEGER", 0, 0, false, "int64"},
		{"TIMESTAMP", 0, 9, true, "timestamp[ns]"},
		{"TIMESTAMP", 0, 0, false, "timestamp[us]"},
		{"TIMESTAMP WITH TIME ZONE", 0, 3, true, "extension<arrow.timestamp_with_offset"},
		{"NCHAR", 0, 0, false, "utf8"},
		{"LONG RAW", 0, 0, false, "binary"},
	}
	for _, c := range cases {
		m, err := mapType(colMeta(c.typ, c.p, c.s, c.known))
		if err != nil || !strings.HasPrefix(m.Type.String(), c.want) {
			t.Errorf("%s(%d,%d): %v %v, want %s", c.typ, c.p, c.s, m.Type, err, c.want)
		}
	}
}

// Digits a timestamp type does not keep are an error, never dropped.
func TestTimestampDigitsKept(t *testing.T) {
	m, _ := mapType(colMeta("TIMESTAMP", 0, 0, false)) // microseconds
	b := array.NewBuilder(memPool, m.Type)
	defer b.Release()
	err := m.Decode(b, time.Date(2024, 1, 1, 0, 0, 0, 1, time.UTC))
	if !errors.Is(err, sdk.ErrUnsupportedType) {
		t.Fatalf("a nanosecond into timestamp[us]: %v", err)
	}
	m, _ = mapType(colMeta("TIMESTAMP(9)", 0, 0, false))
	b9 := array.NewBuilder(memPool, m.Type)
	defer b9.Release()
	if err := m.Decode(b9, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)); !errors.Is(err, sdk.ErrUnsupportedType) || !strings.Contains(err.Error(), "CAST(col AS TIMESTAMP(6))") {
		t.Fatalf("year 9999 into timestamp[ns]: %v", err)
	}
	m, _ = mapType(colMeta("NUMBER(5,2)", 0, 0, false))
	bd := array.NewBuilder(memPool, m.Type)
	defer bd.Release()
	if err := m.Decode(bd, float64(1.5)); err == nil {
		t.Fatal("a NUMBER arriving as a float was taken")
	}
	if err := m.Decode(bd, godror.Number("1.234")); err == nil {
		t.Fatal("1.234 was taken by NUMBER(5,2)")
	}
}
