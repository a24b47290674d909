package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/plugins/postgres/postgres"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// readAll reads a table (or a query when table is "") and returns its
// rows, each rendered as a string per column by render.
func readAll(t *testing.T, req sdk.ReadRequest) (*arrow.Schema, [][]string, error) {
	t.Helper()
	req.Conn = sdk.Connection{DSN: testDSN()}
	rr, err := postgres.New().Read(context.Background(), req)
	if err != nil {
		return nil, nil, err
	}
	defer rr.Release()
	var rows [][]string
	for rr.Next() {
		rec := rr.RecordBatch()
		for i := 0; i < int(rec.NumRows()); i++ {
			row := make([]string, rec.NumCols())
			for c := range row {
				row[c] = render(rec.Column(c), i)
			}
			rows = append(rows, row)
		}
	}
	return rr.Schema(), rows, rr.Err()
}

func render(a arrow.Array, i int) string {
	if a.IsNull(i) {
		return "NULL"
	}
	switch x := a.(type) {
	case *array.List:
		start, end := x.ValueOffsets(i)
		parts := []string{}
		for j := start; j < end; j++ {
			parts = append(parts, render(x.ListValues(), int(j)))
		}
		return "[" + strings.Join(parts, ",") + "]"
	case *array.Timestamp:
		return x.Value(i).ToTime(arrow.Microsecond).Format("2006-01-02 15:04:05.999999")
	case *array.Date32:
		return x.Value(i).ToTime().Format("2006-01-02")
	case *array.Decimal128:
		return x.Value(i).ToString(x.DataType().(*arrow.Decimal128Type).Scale)
	case *array.String:
		return strconv.Quote(x.Value(i))
	case *array.MonthDayNanoInterval:
		v := x.Value(i)
		return fmt.Sprintf("%dm%dd%dns", v.Months, v.Days, v.Nanoseconds)
	}
	return a.ValueStr(i)
}

func tableReq(s, name string) sdk.ReadRequest {
	return sdk.ReadRequest{Source: sdk.Source{Object: &sdk.ObjectRef{Schema: s, Name: name}}, OrderBy: []sdk.OrderBy{{Column: "id"}}}
}

func TestInfiniteDatesAndTimestamps(t *testing.T) {
	db, s := schemaFor(t)
	for _, q := range []string{
		`CREATE TABLE ` + s + `.t (id int PRIMARY KEY, ts timestamp, tz timestamptz, d date, tsa timestamp[])`,
		`INSERT INTO ` + s + `.t VALUES
			(1, '4713-01-01 00:00:00 BC', '4713-01-01 00:00:00+00 BC', '4713-01-01 BC', '{"1999-12-31 23:59:59.999999", NULL}'),
			(2, '294246-12-31 23:59:59.999999', '294246-12-31 23:59:59.999999+00', '5874897-12-31', '{}'),
			(3, 'infinity', NULL, NULL, NULL),
			(4, '-infinity', NULL, NULL, NULL),
			(5, NULL, 'infinity', NULL, NULL),
			(6, NULL, '-infinity', NULL, NULL),
			(7, NULL, NULL, 'infinity', NULL),
			(8, NULL, NULL, '-infinity', NULL),
			(9, NULL, NULL, NULL, '{2020-01-01, infinity}'),
			(10, '294276-12-31 23:59:59.999999', NULL, NULL, NULL)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	req := tableReq(s, "t")
	req.Where = "id <= 2"
	_, rows, err := readAll(t, req)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"1", "-4712-01-01 00:00:00", "-4712-01-01 00:00:00", "-4712-01-01", "[1999-12-31 23:59:59.999999,NULL]"},
		{"2", "294246-12-31 23:59:59.999999", "294246-12-31 23:59:59.999999", "5874897-12-31", "[]"},
	}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Errorf("finite extremes:\n got %v\nwant %v", rows, want)
	}
	for id, col := range map[int]string{3: "ts", 4: "ts", 5: "tz", 6: "tz", 7: "d", 8: "d", 9: "tsa"} {
		val := "infinity"
		if id%2 == 0 && id != 9 {
			val = "-infinity"
		}
		req := tableReq(s, "t")
		req.Where = fmt.Sprintf("id = %d", id)
		_, _, err := readAll(t, req)
		if !errors.Is(err, sdk.ErrUnsupportedType) || !strings.Contains(err.Error(), fmt.Sprintf("column %q", col)) ||
			!strings.Contains(err.Error(), "value "+val+" cannot be represented") {
			t.Errorf("row %d (%s %s): %v", id, col, val, err)
		}
		// Query reads (database/sql) fail the same way.
		_, _, err = readAll(t, sdk.ReadRequest{Source: sdk.Source{Query: fmt.Sprintf("SELECT %s FROM %s.t WHERE id = %d", col, s, id)}})
		if col != "tsa" && (!errors.Is(err, sdk.ErrUnsupportedType) || !strings.Contains(err.Error(), val)) {
			t.Errorf("query row %d (%s %s): %v", id, col, val, err)
		}
	}
	req.Where = "id = 10"
	if _, _, err := readAll(t, req); !errors.Is(err, sdk.ErrUnsupportedType) || !strings.Contains(err.Error(), "294247") {
		t.Errorf("timestamp past Arrow's range: %v", err)
	}
}

func TestArraysAsLists(t *testing.T) {
	db, s := schemaFor(t)
	for _, q := range []string{
		`CREATE TYPE ` + s + `.mood AS ENUM ('sad', 'ok', 'happy')`,
		`CREATE TABLE ` + s + `.t (id int PRIMARY KEY, i2 int2[], i4 int4[], i8 int8[], f4 float4[], f8 float8[],
			n numeric[], n2 numeric(10,2)[], tx text[], vc varchar(5)[], b bool[], d date[], ts timestamp[], tz timestamptz[],
			u uuid[], m ` + s + `.mood[], grid int[][], iv interval[], ip inet[])`,
		`INSERT INTO ` + s + `.t VALUES
			(1, '{-32768,32767,NULL}', '{-2147483648,2147483647}', '{-9223372036854775808,9223372036854775807}',
			 '{1.5,-0,NaN,Infinity,-Infinity}', '{3.141592653589793,1e-300,NULL}', '{0.1,-123456789012345678901234567890.123,NaN}',
			 '{12345678.99,-0.01}', '{"",NULL,"NULL","a,b","quote \"","é漢🚀"}', '{abcde,x}', '{true,false,NULL}',
			 '{2000-01-01,1970-01-01,0001-01-01}', '{"2024-02-29 12:34:56.123456"}', '{"2024-02-29 12:34:56.5+02"}',
			 '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}', '{happy,NULL,sad}', '{{1,2},{3,NULL}}', '{"1 mon 2 days 00:00:01.5"}',
			 '{192.168.0.1/24,::1}'),
			(2, '{}', '[0:1]={7,8}', '{NULL}', NULL, NULL, NULL, NULL, '{}', NULL, NULL, NULL, NULL, NULL, NULL, '{}', '{}', NULL, NULL),
			(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
			(4, NULL, '{{1,2},{3,4}}', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	req := tableReq(s, "t")
	req.Where = "id <= 3"
	schema, rows, err := readAll(t, req)
	if err != nil {
		t.Fatal(err)
	}
	wantTypes := []string{"int32", "list<item: int16, nullable>", "list<item: int32, nullable>", "list<item: int64, nullable>",
		"list<item: float32, nullable>", "list<item: float64, nullable>", "list<item: utf8, nullable>",
		"list<item: decimal(10, 2), nullable>", "list<item: utf8, nullable>", "list<item: utf8, nullable>", "list<item: bool, nullable>",
		"list<item: date32, nullable>", "list<item: timestamp[us], nullable>", "list<item: timestamp[us, tz=UTC], nullable>",
		"list<item: utf8, nullable>", "list<item: utf8, nullable>", "utf8", "list<item: month_day_nano_interval, nullable>",
		"list<item: utf8, nullable>"}
	for i, f := range schema.Fields() {
		if f.Type.String() != wantTypes[i] {
			t.Errorf("column %s: type %s, want %s", f.Name, f.Type, wantTypes[i])
		}
	}
	want := [][]string{
		{"1", "[-32768,32767,NULL]", "[-2147483648,2147483647]", "[-9223372036854775808,9223372036854775807]",
			"[1.5,-0,NaN,+Inf,-Inf]", "[3.141592653589793,1e-300,NULL]", `["0.1","-123456789012345678901234567890.123","NaN"]`,
			"[12345678.99,-0.01]", `["",NULL,"NULL","a,b","quote \"","é漢🚀"]`, `["abcde","x"]`, "[true,false,NULL]",
			"[2000-01-01,1970-01-01,0001-01-01]", "[2024-02-29 12:34:56.123456]", "[2024-02-29 10:34:56.5]",
			`["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"]`, `["happy",NULL,"sad"]`, `"{{1,2},{3,NULL}}"`, "[1m2d1500000000ns]",
			`["192.168.0.1/24","::1"]`},
		{"2", "[]", "[7,8]", "[NULL]", "NULL", "NULL", "NULL", "NULL", "[]", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "[]", `"{}"`, "NULL", "NULL"},
		{"3", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL"},
	}
	for r := range want {
		for c := range want[r] {
			if r >= len(rows) || rows[r][c] != want[r][c] {
				got := "missing"
				if r < len(rows) {
					got = rows[r][c]
				}
				t.Errorf("row %d column %s: got %q, want %q", r+1, schema.Field(c).Name, got, want[r][c])
			}
		}
	}
	// A two-dimensional value in a column declared with one dimension.
	req.Where = "id = 4"
	if _, _, err := readAll(t, req); !errors.Is(err, sdk.ErrUnsupportedType) || !strings.Contains(err.Error(), `column "i4"`) ||
		!strings.Contains(err.Error(), "2 dimensions") {
		t.Errorf("2-D value in int4[]: %v", err)
	}
}

func TestNetworkTypesAsServerText(t *testing.T) {
	db, s := schemaFor(t)
	inets := []string{"192.168.0.1", "192.168.0.1/24", "0.0.0.0/0", "255.255.255.255", "::", "::1", "::ffff:1.2.3.4", "::ffff:0.0.0.0",
		"::1.2.3.4", "::0.1.0.0", "::102", "2001:db8::/32", "2001:db8:0:0:1:0:0:1", "fe80::1/64", "1::", "1:0:0:1:0:0:0:1",
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", "2001:db8::1/127"}
	cidrs := []string{"10.0.0.0/8", "192.168.1.1/32", "0.0.0.0/0", "2001:db8::/32", "::/0", "::1/128", "::ffff:1.2.3.0/120"}
	macs := []string{"08:00:2b:01:02:03", "FF-FF-FF-FF-FF-FF", "0800.2b01.0203", "00:00:00:00:00:00"}
	mac8s := []string{"08:00:2b:01:02:03:04:05", "08:00:2b:01:02:03", "ff:ff:ff:ff:ff:ff:ff:ff"}
	if _, err := db.Exec(`CREATE TABLE ` + s + `.t (id int PRIMARY KEY, i inet, c cidr, m macaddr, m8 macaddr8)`); err != nil {
		t.Fatal(err)
	}
	n := max(len(inets), len(cidrs), len(macs), len(mac8s)) + 1 // the last row is all NULL
	at := func(v []string, i int) any {
		if i < len(v) {
			return v[i]
		}
		return nil
	}
	for i := 0; i < n; i++ {
		if _, err := db.Exec("INSERT INTO "+s+".t VALUES ($1, $2, $3, $4, $5)", i, at(inets, i), at(cidrs, i), at(macs, i), at(mac8s, i)); err != nil {
			t.Fatal(err)
		}
	}
	schema, rows, err := readAll(t, tableReq(s, "t"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range schema.Fields()[1:] {
		if f.Type.ID() != arrow.STRING {
			t.Errorf("%s is %s", f.Name, f.Type)
		}
	}
	// The server's own output function (format %s), not text(inet).
	srv, err := db.Query(`SELECT CASE WHEN i IS NULL THEN 'NULL' ELSE quote_ident(format('%s', i)) END,
		CASE WHEN c IS NULL THEN 'NULL' ELSE quote_ident(format('%s', c)) END,
		CASE WHEN m IS NULL THEN 'NULL' ELSE quote_ident(format('%s', m)) END,
		CASE WHEN m8 IS NULL THEN 'NULL' ELSE quote_ident(format('%s', m8)) END FROM ` + s + `.t ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	r := 0
	for ; srv.Next(); r++ {
		want := make([]string, 4)
		if err := srv.Scan(&want[0], &want[1], &want[2], &want[3]); err != nil {
			t.Fatal(err)
		}
		for c := range want {
			if w := strings.Trim(want[c], `"`); w != "NULL" {
				want[c] = strconv.Quote(w)
			}
			if rows[r][c+1] != want[c] {
				t.Errorf("row %d %s: got %s, server prints %s", r, schema.Field(c+1).Name, rows[r][c+1], want[c])
			}
		}
	}
	if r != n || len(rows) != n {
		t.Fatalf("%d rows read, %d from the server, %d inserted", len(rows), r, n)
	}
	if rows[2][1] != `"0.0.0.0/0"` || rows[0][1] != `"192.168.0.1"` || rows[1][2] != `"192.168.1.1/32"` || rows[1][3] != `"ff:ff:ff:ff:ff:ff"` ||
		rows[1][4] != `"08:00:2b:ff:fe:01:02:03"` {
		t.Errorf("spot checks: %v", rows[:3])
	}
}

func TestIntervalsAsMonthDayNano(t *testing.T) {
	db, s := schemaFor(t)
	if _, err := db.Exec(`CREATE TABLE ` + s + `.t (id int PRIMARY KEY, i interval, ym interval year to month, p interval(3))`); err != nil {
		t.Fatal(err)
	}
	values := []struct {
		in   string
		want string
	}{
		{"1 year 2 mons 3 days 04:05:06.789", "14m3d14706789000000ns"},
		{"-1 mons +2 days -00:00:00.000001", "-1m2d-1000ns"},
		{"0", "0m0d0ns"},
		{"1 day -1 second", "0m1d-1000000000ns"},
		{"P1Y2M3DT4H5M6.000007S", "14m3d14706000007000ns"},
		{"2562047 hours", "0m0d9223369200000000000ns"},
		{"-2562047 hours", "0m0d-9223369200000000000ns"},
		{"-178000000 years", "-2136000000m0d0ns"},
		{"2147483647 days", "0m2147483647d0ns"},
		{"40 days 25:00:00", "0m40d90000000000000ns"},
	}
	for k, v := range values {
		if _, err := db.Exec("INSERT INTO "+s+".t VALUES ($1, $2::interval, NULL, NULL)", k, v.in); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec("INSERT INTO " + s + ".t VALUES (100, NULL, '1 year 5 months 3 days', '1.23456 seconds'), (101, '2562048 hours', NULL, NULL)"); err != nil {
		t.Fatal(err)
	}
	req := tableReq(s, "t")
	req.Where = "id < 101"
	schema, rows, err := readAll(t, req)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range schema.Fields()[1:] {
		if f.Type.ID() != arrow.INTERVAL_MONTH_DAY_NANO {
			t.Errorf("%s is %s", f.Name, f.Type)
		}
	}
	for k, v := range values {
		if rows[k][1] != v.want || rows[k][2] != "NULL" {
			t.Errorf("%s: got %v, want %s", v.in, rows[k][1:], v.want)
		}
	}
	if last := rows[len(values)]; last[1] != "NULL" || last[2] != "17m0d0ns" || last[3] != "0m0d1235000000ns" {
		t.Errorf("typmods: %v", last)
	}
	req.Where = "id = 101"
	if _, _, err := readAll(t, req); !errors.Is(err, sdk.ErrUnsupportedType) || !strings.Contains(err.Error(), `column "i"`) {
		t.Errorf("interval past Arrow's nanoseconds: %v", err)
	}
	// Query reads keep PostgreSQL's text form.
	schema, rows, err = readAll(t, sdk.ReadRequest{Source: sdk.Source{Query: "SELECT i FROM " + s + ".t WHERE id = 0"}})
	if err != nil || schema.Field(0).Type.ID() != arrow.STRING || rows[0][0] != `"1 year 2 mons 3 days 04:05:06.789"` {
		t.Errorf("query read: %v %v %v", schema, rows, err)
	}
}

// TestNaNNumericWithPrecision: numeric(p,s) may hold NaN, which no decimal
// can: table and query reads fail as an unsupported type naming the value.
func TestNaNNumericWithPrecision(t *testing.T) {
	db, s := schemaFor(t)
	if _, err := db.Exec(`CREATE TABLE ` + s + `.n (id int, v numeric(10,2)); INSERT INTO ` + s + `.n VALUES (1, 1.5), (2, 'NaN')`); err != nil {
		t.Fatal(err)
	}
	for _, req := range []sdk.ReadRequest{tableReq(s, "n"), {Source: sdk.Source{Query: "SELECT v FROM " + s + ".n ORDER BY id"}}} {
		_, _, err := readAll(t, req)
		if !errors.Is(err, sdk.ErrUnsupportedType) || !strings.Contains(err.Error(), `"v"`) || !strings.Contains(err.Error(), "NaN") {
			t.Errorf("%v: %v", req.Source, err)
		}
	}
}
