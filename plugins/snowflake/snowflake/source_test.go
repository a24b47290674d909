package snowflake_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/halfpipe-io/halfpipe/plugins/snowflake/snowflake"
	"github.com/halfpipe-io/halfpipe/sdk"
	sfserver "github.com/halfpipe-io/halfpipe/testkit/snowflake"
)

// typesTable is a table of every type the source maps, with edge values:
// 38 digits, a negative integer, a TIMESTAMP_TZ at +05:30, and a row of
// NULLs.
var typesTable = []string{
	`CREATE TABLE "SRC"."TYPES" ("ID" NUMBER(38,0) NOT NULL, "BIG" NUMBER(38,0), "NEG" NUMBER(10,0), "AMT" NUMBER(12,2), "F" FLOAT,
		"S" VARCHAR, "B" BINARY, "OK" BOOLEAN, "D" DATE, "TM" TIME(9), "NTZ" TIMESTAMP_NTZ(9), "LTZ" TIMESTAMP_LTZ(6),
		"TZ" TIMESTAMP_TZ(9), "V" VARIANT, "O" OBJECT, "A" ARRAY, PRIMARY KEY ("ID"))`,
	`INSERT INTO "SRC"."TYPES" VALUES (1, 12345678901234567890123456789012345678, -9876543210, -1234567890.05, 1.5,
		'héllo', '00FF10', TRUE, '2024-02-29', '23:59:59.123456789', '2024-05-01 12:34:56.123456789',
		'2024-05-01 12:34:56.123456 +02:00', '2024-05-01 12:34:56.123456789 +05:30', '{"a": [1, 2]}', '{"k": "v"}', '[1, "x"]')`,
	`INSERT INTO "SRC"."TYPES" ("ID") VALUES (2)`,
	`INSERT INTO "SRC"."TYPES" ("ID", "BIG", "NEG", "NTZ", "TZ") VALUES (3, -99999999999999999999999999999999999999, 0,
		'1970-01-01 00:00:00', '2024-12-31 23:59:59.5 -08:00')`,
}

// rendered renders a batch's rows as name=value lists.
func rendered(rec arrow.RecordBatch) []string {
	var out []string
	for i := 0; i < int(rec.NumRows()); i++ {
		var cells []string
		for j, col := range rec.Columns() {
			cells = append(cells, rec.ColumnName(j)+"="+col.ValueStr(i))
		}
		out = append(out, strings.Join(cells, " "))
	}
	return out
}

func readAll(t *testing.T, c *snowflake.Connector, req sdk.ReadRequest) (*arrow.Schema, []string) {
	t.Helper()
	rr, err := c.Read(context.Background(), req)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	defer rr.Release()
	var rows []string
	for rr.Next() {
		rows = append(rows, rendered(rr.RecordBatch())...)
	}
	if err := rr.Err(); err != nil {
		t.Fatalf("Read: %v", err)
	}
	return rr.Schema(), rows
}

func obj(schema, name string) sdk.Source {
	return sdk.Source{Object: &sdk.ObjectRef{Schema: schema, Name: name}}
}

func TestSourceTypes(t *testing.T) {
	for _, f := range resultFormats {
		t.Run(f, func(t *testing.T) { testSourceTypes(t, f) })
	}
}

func testSourceTypes(t *testing.T, format string) {
	e := newEnvFormat(t, false, format)
	if err := e.srv.Exec(typesTable...); err != nil {
		t.Fatal(err)
	}
	c := snowflake.New()
	conn := sdk.Connection{DSN: e.dsn("etl", password, "")}
	ctx := context.Background()

	d, err := c.Describe(ctx, conn, obj("src", "types"))
	if err != nil {
		t.Fatal(err)
	}
	var types, natives []string
	for i, f := range d.Schema.Fields() {
		types = append(types, f.Name+" "+f.Type.String())
		natives = append(natives, d.Columns[i].NativeType)
	}
	wantTypes := []string{"ID decimal(38, 0)", "BIG decimal(38, 0)", "NEG decimal(10, 0)", "AMT decimal(12, 2)", "F float64", "S utf8", "B binary",
		"OK bool", "D date32", "TM time64[ns]", "NTZ timestamp[ns]", "LTZ timestamp[us, tz=UTC]",
		"TZ extension<arrow.timestamp_with_offset>", "V utf8", "O utf8", "A utf8"}
	if fmt.Sprint(types) != fmt.Sprint(wantTypes) {
		t.Errorf("schema:\n got %v\nwant %v", types, wantTypes)
	}
	if fmt.Sprint(natives) != "[NUMBER(38,0) NUMBER(38,0) NUMBER(10,0) NUMBER(12,2) FLOAT TEXT BINARY BOOLEAN DATE TIME(9) TIMESTAMP_NTZ(9) TIMESTAMP_LTZ(6) TIMESTAMP_TZ(9) VARIANT OBJECT ARRAY]" {
		t.Errorf("native types %v", natives)
	}
	if fmt.Sprint(d.PrimaryKey) != "[ID]" || d.Columns[0].Nullable || !d.Columns[1].Nullable || d.Schema.Field(0).Nullable {
		t.Errorf("key %v, nullability %+v", d.PrimaryKey, d.Columns[:2])
	}

	e.srv.ResetStatements()
	schema, rows := readAll(t, c, sdk.ReadRequest{Conn: conn, Source: obj("SRC", "TYPES"), OrderBy: []sdk.OrderBy{{Column: "id"}}})
	if !arrow.TypeEqual(schema.Field(12).Type, d.Schema.Field(12).Type) {
		t.Errorf("Read's TZ type %s, Describe's %s", schema.Field(12).Type, d.Schema.Field(12).Type)
	}
	// Arrow renders binary in base64: AP8Q is 00 FF 10.
	want := []string{
		`ID=1 BIG=12345678901234567890123456789012345678 NEG=-9876543210 AMT=-1234567890.05 F=1.5 S=héllo B=AP8Q OK=true D=2024-02-29 TM=23:59:59.123456789 ` +
			`NTZ=2024-05-01T12:34:56.123456789 LTZ=2024-05-01T10:34:56.123456Z TZ=2024-05-01 12:34:56.123456789 +0530 UTC+05:30 V={"a": [1, 2]} O={"k": "v"} A=[1, "x"]`,
		`ID=2 BIG=(null) NEG=(null) AMT=(null) F=(null) S=(null) B=(null) OK=(null) D=(null) TM=(null) NTZ=(null) LTZ=(null) TZ=(null) V=(null) O=(null) A=(null)`,
		`ID=3 BIG=-99999999999999999999999999999999999999 NEG=0 AMT=(null) F=(null) S=(null) B=(null) OK=(null) D=(null) TM=(null) ` +
			`NTZ=1970-01-01T00:00:00 LTZ=(null) TZ=2024-12-31 23:59:59.5 -0800 UTC-08:00 V=(null) O=(null) A=(null)`,
	}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
	// One statement reads the table: a consistent snapshot.
	var selects []string
	for _, st := range e.srv.Statements() {
		// JSON results: gosnowflake's Arrow path would turn NUMBER(12,2)
		// into text through a float64.
		if st.ResultFormat != "JSON" {
			t.Errorf("%s ran in a session that asked for %s results", st.SQL, st.ResultFormat)
		}
		if strings.HasPrefix(st.SQL, "SELECT") && st.Sent != format {
			t.Errorf("%s was answered in %s, want %s", st.SQL, st.Sent, format)
		}
		if strings.HasPrefix(st.SQL, "SELECT") && strings.Contains(st.SQL, `FROM "SRC"."TYPES"`) {
			selects = append(selects, st.SQL)
		}
	}
	if len(selects) != 1 || !strings.HasPrefix(selects[0], `SELECT "ID", "BIG", "NEG"`) || !strings.HasSuffix(selects[0], `ORDER BY "ID" NULLS FIRST`) {
		t.Errorf("statements reading the table: %q", selects)
	}
}

func TestSourceFilters(t *testing.T) {
	for _, f := range resultFormats {
		t.Run(f, func(t *testing.T) { testSourceFilters(t, f) })
	}
}

func testSourceFilters(t *testing.T, format string) {
	e := newEnvFormat(t, false, format)
	if err := e.srv.Exec(typesTable...); err != nil {
		t.Fatal(err)
	}
	c := snowflake.New()
	conn := sdk.Connection{DSN: e.dsn("etl", password, "")}
	ctx := context.Background()

	// --columns (folded like unquoted names) and --where.
	_, rows := readAll(t, c, sdk.ReadRequest{Conn: conn, Source: obj("SRC", "TYPES"), Columns: []string{"id", "neg"}, Where: `"NEG" <= 0 AND "BIG" IS NOT NULL`,
		OrderBy: []sdk.OrderBy{{Column: "ID", Descending: true}}})
	if fmt.Sprint(rows) != "[ID=3 NEG=0 ID=1 NEG=-9876543210]" {
		t.Errorf("--columns --where: %v", rows)
	}
	// Conditions of several kinds, and a table whose name was quoted in
	// lower case (found as typed once the folded name is not).
	_, rows = readAll(t, c, sdk.ReadRequest{Conn: conn, Source: obj("SRC", "TYPES"), Columns: []string{"ID"},
		Where: `("ID" IN (1, 2) AND NOT "OK") OR "TZ" >= '2024-12-31 23:59:59 -08:00'::TIMESTAMP_TZ(9) OR "S" = 'héllo'`, OrderBy: []sdk.OrderBy{{Column: "ID"}}})
	if fmt.Sprint(rows) != "[ID=1 ID=3]" {
		t.Errorf("--where with IN, NOT, OR and a typed literal: %v", rows)
	}
	if err := e.srv.Exec(`CREATE TABLE "src"."lower" ("id" NUMBER(38,0))`, `INSERT INTO "src"."lower" VALUES (7)`); err != nil {
		t.Fatal(err)
	}
	if _, rows = readAll(t, c, sdk.ReadRequest{Conn: conn, Source: obj("src", "lower"), Columns: []string{"id"}}); fmt.Sprint(rows) != "[id=7]" {
		t.Errorf("a lower-case table: %v", rows)
	}
	// A delta range on the TIMESTAMP_NTZ column: wall time.
	ntz := func(s string) *sdk.Value {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return sdk.TimestampValue(v)
	}
	_, rows = readAll(t, c, sdk.ReadRequest{Conn: conn, Source: obj("SRC", "TYPES"), Columns: []string{"ID"},
		Range: &sdk.RangeFilter{Column: "ntz", Lower: ntz("1970-01-01T00:00:00Z"), LowerInclusive: false, Upper: ntz("2024-05-01T12:34:56.123456789Z"), UpperInclusive: true}})
	if fmt.Sprint(rows) != "[ID=1]" {
		t.Errorf("range (1970-01-01, 2024-05-01 12:34:56.123456789]: %v", rows)
	}
	// Bounds of the NTZ column and the TZ column (an instant).
	b, err := c.Bounds(ctx, sdk.BoundsRequest{Conn: conn, Source: obj("SRC", "TYPES"), Column: "NTZ"})
	if err != nil {
		t.Fatal(err)
	}
	if b.Min.String() != "1970-01-01T00:00:00Z" || b.Max.String() != "2024-05-01T12:34:56.123456789Z" || b.Count != 3 || b.NullCount != 1 {
		t.Errorf("bounds of NTZ: %v %v %d %d", b.Min, b.Max, b.Count, b.NullCount)
	}
	b, err = c.Bounds(ctx, sdk.BoundsRequest{Conn: conn, Source: obj("SRC", "TYPES"), Column: "TZ", Where: `"ID" > 1`})
	if err != nil {
		t.Fatal(err)
	}
	if b.Min.String() != "2025-01-01T07:59:59.5Z" || b.Max.String() != "2025-01-01T07:59:59.5Z" || b.Count != 2 || b.NullCount != 1 {
		t.Errorf("bounds of TZ where ID > 1: %v %v %d %d", b.Min, b.Max, b.Count, b.NullCount)
	}
	// A query, typed by the result set's rowtype.
	schema, rows := readAll(t, c, sdk.ReadRequest{Conn: conn, Source: sdk.Source{Query: `SELECT "ID", "AMT", "TZ" FROM "SRC"."TYPES" WHERE "ID" = 1`}})
	if fmt.Sprint(rows) != "[ID=1 AMT=-1234567890.05 TZ=2024-05-01 12:34:56.123456789 +0530 UTC+05:30]" ||
		schema.Field(1).Type.String() != "decimal(12, 2)" {
		t.Errorf("query: %v %v", schema, rows)
	}
	// A query that writes is refused before it runs.
	_, err = c.Read(ctx, sdk.ReadRequest{Conn: conn, Source: sdk.Source{Query: `DELETE FROM "SRC"."TYPES"`}})
	if !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Errorf("a DELETE as --query: %v", err)
	}
	if rs, _ := e.srv.Rows("SRC.TYPES"); len(rs) != 3 {
		t.Errorf("the table holds %d rows after the refused query", len(rs))
	}
	// Unknown tables and columns, and types without a mapping.
	if _, err := c.Describe(ctx, conn, obj("SRC", "NOPE")); !errors.Is(err, sdk.ErrNotFound) || !strings.Contains(err.Error(), "SRC.NOPE") {
		t.Errorf("unknown table: %v", err)
	}
	if err := e.srv.Exec(`CREATE TABLE "SRC"."GEO" ("ID" NUMBER(38,0), "G" GEOGRAPHY)`); err != nil {
		t.Fatal(err)
	}
	_, err = c.Read(ctx, sdk.ReadRequest{Conn: conn, Source: obj("SRC", "GEO")})
	if !errors.Is(err, sdk.ErrUnsupportedType) || !strings.Contains(err.Error(), `"G"`) || !strings.Contains(err.Error(), "ST_ASWKB") {
		t.Errorf("GEOGRAPHY: %v", err)
	}
	if strings.Contains(fmt.Sprint(err), password) {
		t.Errorf("an error shows the password: %v", err)
	}
}

// TestSourceChunks reads a result that comes in chunks: the rows of the
// response, then three chunks the driver downloads.
func TestSourceChunks(t *testing.T) {
	for _, f := range resultFormats {
		t.Run(f, func(t *testing.T) { testSourceChunks(t, f) })
	}
}

func testSourceChunks(t *testing.T, format string) {
	srv := sfserver.Start(t, sfserver.Config{Account: account, Users: []sfserver.User{{Name: "ETL", Password: password}}, ChunkRows: 7, ResultFormat: format})
	var rows []string
	for i := 1; i <= 30; i++ {
		rows = append(rows, fmt.Sprintf("(%d, 'r%d')", i, i))
	}
	if err := srv.Exec(`CREATE TABLE "PUBLIC"."C" ("ID" NUMBER(9,0), "V" VARCHAR)`, `INSERT INTO "PUBLIC"."C" VALUES `+strings.Join(rows, ", ")); err != nil {
		t.Fatal(err)
	}
	dsn := fmt.Sprintf("snowflake://etl:%s@%s/TEST_DB/PUBLIC?protocol=http&host=%s&port=%d", password, account, srv.Host, srv.Port)
	_, got := readAll(t, snowflake.New(), sdk.ReadRequest{Conn: sdk.Connection{DSN: dsn}, Source: obj("PUBLIC", "C"), OrderBy: []sdk.OrderBy{{Column: "ID"}}, BatchMaxRows: 4})
	var want []string
	for i := 1; i <= 30; i++ {
		want = append(want, fmt.Sprintf("ID=%d V=r%d", i, i))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("rows: %v", got)
	}
	if n := srv.ChunksServed(); n != 4 {
		t.Errorf("%d chunks downloaded, want 4 (7 rows each, 2 in the last)", n)
	}
}

// TestSourceExact reads values that a float64 cannot hold and timestamps
// at the ends of the range at every scale, in both result formats: the
// Arrow format sends NUMBER(p,s) as scaled integers (int8..int64 or
// decimal128) and timestamps as scaled integers or structs.
func TestSourceExact(t *testing.T) {
	for _, f := range resultFormats {
		t.Run(f, func(t *testing.T) { testSourceExact(t, f) })
	}
}

func testSourceExact(t *testing.T, format string) {
	e := newEnvFormat(t, false, format)
	var cols, vals []string
	for s := 0; s <= 9; s++ {
		cols = append(cols, fmt.Sprintf(`"NTZ%d" TIMESTAMP_NTZ(%d), "LTZ%d" TIMESTAMP_LTZ(%d), "TZ%d" TIMESTAMP_TZ(%d), "TM%d" TIME(%d)`, s, s, s, s, s, s, s, s))
	}
	row := func(id int, n18, n38, n37, small, ts, tm string) string {
		vals := []string{fmt.Sprint(id), n18, n38, n37, small}
		for s := 0; s <= 9; s++ {
			vals = append(vals, ts, ts, ts, tm)
		}
		return "(" + strings.Join(vals, ", ") + ")"
	}
	vals = append(vals,
		row(1, "99999999999999.9999", "1234567890123456789012345678.9012345678", "9.9999999999999999999999999999999999999", "-1.5",
			"'9999-12-31 23:59:59.999999999 +14:00'", "'23:59:59.999999999'"),
		row(2, "-12345678901234.5678", "-9999999999999999999999999999.9999999999", "-0.0000000000000000000000000000000000001", "0.01",
			"'0001-01-01 00:00:00 -12:00'", "'00:00:00'"),
		row(3, "0.0001", "0.0000000001", "0", "127",
			"'1969-12-31 23:59:59.5 +05:45'", "'12:00:00.000000001'"),
		row(4, "NULL", "NULL", "NULL", "NULL", "NULL", "NULL"))
	if err := e.srv.Exec(`CREATE TABLE "SRC"."EXACT" ("ID" NUMBER(38,0), "N18" NUMBER(18,4), "N38" NUMBER(38,10), "N37" NUMBER(38,37), "SMALL" NUMBER(5,2), `+
		strings.Join(cols, ", ")+`)`, `INSERT INTO "SRC"."EXACT" VALUES `+strings.Join(vals, ", ")); err != nil {
		t.Fatal(err)
	}
	c := snowflake.New()
	conn := sdk.Connection{DSN: e.dsn("etl", password, "")}
	_, rows := readAll(t, c, sdk.ReadRequest{Conn: conn, Source: obj("SRC", "EXACT"), Columns: []string{"ID", "N18", "N38", "N37", "SMALL"}, OrderBy: []sdk.OrderBy{{Column: "ID"}}})
	want := []string{
		"ID=1 N18=99999999999999.9999 N38=1234567890123456789012345678.9012345678 N37=9.9999999999999999999999999999999999999 SMALL=-1.5",
		"ID=2 N18=-12345678901234.5678 N38=-9999999999999999999999999999.9999999999 N37=-1e-37 SMALL=0.01",
		"ID=3 N18=0.0001 N38=1e-10 N37=0 SMALL=127",
		"ID=4 N18=(null) N38=(null) N37=(null) SMALL=(null)",
	}
	for _, st := range e.srv.Statements() {
		if strings.Contains(st.SQL, `"EXACT"`) && st.Sent != format {
			t.Errorf("%s was answered in %q, want %s", st.SQL, st.Sent, format)
		}
	}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("numbers:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
	// Bounds (a delta's MIN/MAX) are exact too.
	for col, want := range map[string]string{"N18": "-12345678901234.5678 99999999999999.9999", "N38": "-9999999999999999999999999999.9999999999 1234567890123456789012345678.9012345678"} {
		b, err := c.Bounds(context.Background(), sdk.BoundsRequest{Conn: conn, Source: obj("SRC", "EXACT"), Column: col})
		if err != nil {
			t.Fatalf("bounds of %s: %v", col, err)
		}
		if got := b.Min.String() + " " + b.Max.String(); got != want {
			t.Errorf("bounds of %s: %s, want %s", col, got, want)
		}
	}
	// Timestamps at scales 0..6 are read in microseconds, which hold
	// years 1..9999; 7..9 in nanoseconds, which do not: those read only
	// the 1969 row.
	for s := 0; s <= 9; s++ {
		where := ""
		if s > 6 {
			where = `"ID" = 3`
		}
		_, rows := readAll(t, c, sdk.ReadRequest{Conn: conn, Source: obj("SRC", "EXACT"), Where: where,
			Columns: []string{fmt.Sprintf("NTZ%d", s), fmt.Sprintf("LTZ%d", s), fmt.Sprintf("TZ%d", s), fmt.Sprintf("TM%d", s)}, OrderBy: []sdk.OrderBy{{Column: "ID"}}})
		frac := func(digits string) string {
			if s == 0 {
				return ""
			}
			return "." + digits[:s]
		}
		trim := func(v string) string { return strings.TrimRight(strings.TrimRight(v, "0"), ".") }
		// TIME renders all the digits of its unit (6 or 9).
		tm := func(digits string) string {
			n := 6
			if s > 6 {
				n = 9
			}
			return "." + (digits[:s] + "000000000")[:n]
		}
		want := []string{
			fmt.Sprintf("NTZ%[1]d=9999-12-31T23:59:59%[2]s LTZ%[1]d=9999-12-31T09:59:59%[2]sZ TZ%[1]d=9999-12-31 23:59:59%[2]s +1400 UTC+14:00 TM%[1]d=23:59:59%[3]s",
				s, trim(frac("999999999")), tm("999999999")),
			fmt.Sprintf("NTZ%[1]d=0001-01-01T00:00:00 LTZ%[1]d=0001-01-01T12:00:00Z TZ%[1]d=0001-01-01 00:00:00 -1200 UTC-12:00 TM%[1]d=00:00:00%[2]s", s, tm("000000000")),
			fmt.Sprintf("NTZ%[1]d=1969-12-31T23:59:59%[2]s LTZ%[1]d=1969-12-31T18:14:59%[2]sZ TZ%[1]d=1969-12-31 23:59:59%[2]s +0545 UTC+05:45 TM%[1]d=12:00:00%[3]s",
				s, trim(frac("500000000")), tm("000000001")),
			fmt.Sprintf("NTZ%[1]d=(null) LTZ%[1]d=(null) TZ%[1]d=(null) TM%[1]d=(null)", s),
		}
		if s > 6 {
			want = want[2:3]
		}
		if strings.Join(rows, "\n") != strings.Join(want, "\n") {
			t.Errorf("scale %d:\n%s\nwant:\n%s", s, strings.Join(rows, "\n"), strings.Join(want, "\n"))
		}
	}
}
