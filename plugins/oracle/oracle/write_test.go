package oracle

import (
	"context"
	"database/sql"
	"errors"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/godror/godror"

	"github.com/halfpipe-io/halfpipe/plugins/oracle/internal/oraclefake"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/plugintest"
)

var streamSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "updated", Type: &arrow.TimestampType{Unit: arrow.Second}, Nullable: true},
	{Name: "amount", Type: &arrow.Decimal128Type{Precision: 12, Scale: 2}, Nullable: true},
	{Name: "note", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

var day = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

func streamRows(t *testing.T) [][]any {
	return [][]any{{int64(1), day, "10.50", "a"}, {int64(2), nil, nil, nil}, {int64(1), day.Add(time.Hour), "-0.01", "b"}}
}

// brokenReader yields its batch, then fails like a stream cut off.
type brokenReader struct {
	array.RecordReader
	done bool
}

func (r *brokenReader) Next() bool {
	if r.done {
		return false
	}
	r.done = !r.RecordReader.Next()
	return !r.done
}
func (r *brokenReader) Err() error { return errors.New("stream cut") }

func reader(t *testing.T, rows [][]any, broken bool) array.RecordReader {
	rec := plugintest.Rows(t, streamSchema, rows)
	rr, err := array.NewRecordReader(streamSchema, []arrow.RecordBatch{rec})
	if err != nil {
		t.Fatal(err)
	}
	if broken {
		return &brokenReader{RecordReader: rr}
	}
	return rr
}

// stage is a merge's temporary table, named at random.
var stage = regexp.MustCompile(`HP_MERGE_[0-9A-F]{12}`)

// writeLog runs a write against HP.EVENTS (or a missing table) and
// returns its statements after the catalog look-ups, the stage named
// HP_MERGE_X, and the write's error.
func writeLog(t *testing.T, req sdk.WriteRequest, rr array.RecordReader, fail string) ([]string, []oraclefake.Call, error) {
	t.Helper()
	f := eventsDB(func(q string, _ []any) (*oraclefake.Result, error) {
		if fail != "" && strings.HasPrefix(q, fail) {
			return nil, &oraErr{1400, "cannot insert NULL"}
		}
		return nil, nil
	})
	req.Conn = conn
	req.Conn.Options = map[string]string{"array_size": "2"}
	_, err := newConnector(open(f)).Write(context.Background(), req, rr)
	var out []string
	var calls []oraclefake.Call
	for _, c := range f.Calls() {
		switch c.SQL {
		case CurrentSchemaQuery, ResolveQuery, ColumnsQuery:
			continue
		}
		c.SQL = stage.ReplaceAllString(c.SQL, "HP_MERGE_X")
		out = append(out, c.SQL)
		calls = append(calls, c)
	}
	return out, calls, err
}

const insertEvents = `INSERT INTO "HP"."EVENTS" ("ID", "UPDATED", "AMOUNT", "NOTE") VALUES (:1, :2, :3, :4)`

func TestWriteAppendArrays(t *testing.T) {
	st, calls, err := writeLog(t, sdk.WriteRequest{Table: sdk.ObjectRef{Name: "events"}, Mode: sdk.Append}, reader(t, streamRows(t), false), "")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"SET TRANSACTION READ WRITE", insertEvents, insertEvents, "COMMIT"}
	if !reflect.DeepEqual(st, want) {
		t.Fatalf("statements\n got %q\nwant %q", st, want)
	}
	// Rows 1-2, then 3 (array_size=2), as typed arrays with NULLs.
	first := []any{
		[]sql.NullInt64{{Int64: 1, Valid: true}, {Int64: 2, Valid: true}},
		[]sql.NullTime{{Time: day, Valid: true}, {}},
		[]godror.Number{"10.50", ""},
		[]string{"a", ""},
	}
	if !reflect.DeepEqual(calls[1].Args, first) {
		t.Errorf("first array\n got %#v\nwant %#v", calls[1].Args, first)
	}
	if got := calls[2].Args[2]; !reflect.DeepEqual(got, []godror.Number{"-0.01"}) {
		t.Errorf("second array's amounts: %#v", got)
	}
}

func TestWriteReplace(t *testing.T) {
	st, _, err := writeLog(t, sdk.WriteRequest{Table: sdk.ObjectRef{Schema: "hp", Name: "EVENTS"}, Mode: sdk.Replace}, reader(t, streamRows(t)[:1], false), "")
	want := []string{"SET TRANSACTION READ WRITE", `DELETE FROM "HP"."EVENTS"`, insertEvents, "COMMIT"}
	if err != nil || !reflect.DeepEqual(st, want) {
		t.Fatalf("statements %q, %v; want %q", st, err, want)
	}
}

const mergeEvents = `MERGE INTO "HP"."EVENTS" t USING (SELECT "ID", "UPDATED", "AMOUNT", "NOTE" FROM "HP_MERGE_X" WHERE "HP_SEQ" IN ` +
	`(SELECT MAX("HP_SEQ") FROM "HP_MERGE_X" GROUP BY "ID")) s ON (t."ID" = s."ID") ` +
	`WHEN MATCHED THEN UPDATE SET t."UPDATED" = s."UPDATED", t."AMOUNT" = s."AMOUNT", t."NOTE" = s."NOTE" ` +
	`WHEN NOT MATCHED THEN INSERT ("ID", "UPDATED", "AMOUNT", "NOTE") VALUES (s."ID", s."UPDATED", s."AMOUNT", s."NOTE")`

func TestWriteMerge(t *testing.T) {
	st, calls, err := writeLog(t, sdk.WriteRequest{Table: sdk.ObjectRef{Name: "events"}, Mode: sdk.Merge, Keys: []string{"id"}}, reader(t, streamRows(t), false), "")
	if err != nil {
		t.Fatal(err)
	}
	stageInsert := `INSERT INTO "HP_MERGE_X" ("ID", "UPDATED", "AMOUNT", "NOTE", "HP_SEQ") VALUES (:1, :2, :3, :4, :5)`
	want := []string{
		`CREATE GLOBAL TEMPORARY TABLE "HP_MERGE_X" ("ID" NUMBER(19), "UPDATED" DATE, "AMOUNT" NUMBER(12,2), "NOTE" CLOB, "HP_SEQ" NUMBER(19) NOT NULL) ON COMMIT DELETE ROWS`,
		"SET TRANSACTION READ WRITE", stageInsert, stageInsert, mergeEvents, "COMMIT", `DROP TABLE "HP_MERGE_X" PURGE`,
	}
	if !reflect.DeepEqual(st, want) {
		t.Fatalf("statements\n got %q\nwant %q", st, want)
	}
	// The rows' sequence numbers run on across arrays: the last row of key 1 wins.
	if a, b := calls[2].Args[4], calls[3].Args[4]; !reflect.DeepEqual(a, []int64{0, 1}) || !reflect.DeepEqual(b, []int64{2}) {
		t.Errorf("sequence numbers %v %v", a, b)
	}
}

// A missing table is created (DDL commits, so before the transaction)
// keyed by the merge keys, and dropped again when the write fails.
func TestWriteCreateAndFail(t *testing.T) {
	const create = `CREATE TABLE "HP"."NEW_T" ("id" NUMBER(19) NOT NULL, "updated" DATE, "amount" NUMBER(12,2), "note" VARCHAR2(4000 CHAR) NOT NULL, PRIMARY KEY ("id", "note"))`
	req := sdk.WriteRequest{Table: sdk.ObjectRef{Schema: "HP", Name: "NEW_T"}, Mode: sdk.Merge, Keys: []string{"id", "note"}, CreateTable: true}
	rows := [][]any{{int64(1), day, "1.00", "x"}}
	st, _, err := writeLog(t, req, reader(t, rows, true), "")
	if err == nil || !strings.Contains(err.Error(), "stream cut") {
		t.Fatalf("a broken stream: %v", err)
	}
	want := []string{create, `CREATE GLOBAL TEMPORARY TABLE "HP_MERGE_X" ("id" NUMBER(19), "updated" DATE, "amount" NUMBER(12,2), "note" VARCHAR2(4000 CHAR), "HP_SEQ" NUMBER(19) NOT NULL) ON COMMIT DELETE ROWS`,
		"SET TRANSACTION READ WRITE", `INSERT INTO "HP_MERGE_X" ("id", "updated", "amount", "note", "HP_SEQ") VALUES (:1, :2, :3, :4, :5)`, "ROLLBACK",
		`DROP TABLE "HP"."NEW_T" PURGE`, `DROP TABLE "HP_MERGE_X" PURGE`}
	if !reflect.DeepEqual(st, want) {
		t.Fatalf("statements\n got %q\nwant %q", st, want)
	}
	// The created table cannot be dropped again: the error says what is
	// left, after the write's own failure.
	_, _, err = writeLog(t, req, reader(t, rows, true), `DROP TABLE "HP"."NEW_T"`)
	if err == nil || !strings.Contains(err.Error(), "stream cut") || !strings.Contains(err.Error(), `then DROP TABLE "HP"."NEW_T" PURGE failed (ORA-01400`) {
		t.Fatalf("a failed write whose created table could not be dropped: %v", err)
	}
	// A committed merge whose temporary table cannot be dropped has
	// written its rows: no error, which would have them written again.
	merge := sdk.WriteRequest{Table: sdk.ObjectRef{Name: "EVENTS"}, Mode: sdk.Merge, Keys: []string{"id"}}
	if st, _, err := writeLog(t, merge, reader(t, streamRows(t), false), `DROP TABLE "HP_MERGE_`); err != nil || !slices.Contains(st, "COMMIT") {
		t.Fatalf("a committed merge whose temporary table was not dropped: %v\n%q", err, st)
	}
	// Not allowed to create: nothing runs.
	req.CreateTable = false
	if st, _, err := writeLog(t, req, reader(t, rows, false), ""); !errors.Is(err, sdk.ErrNotFound) || len(st) != 0 {
		t.Fatalf("a missing table without create: %q %v", st, err)
	}
}

// Every failure rolls back, and nothing is committed.
func TestWriteFailuresRollBack(t *testing.T) {
	cases := []struct {
		name string
		req  sdk.WriteRequest
		rows [][]any
		fail string
		want []string
		kind error
	}{
		{"server refuses a row", sdk.WriteRequest{Mode: sdk.Replace}, streamRows(t), "INSERT",
			[]string{"SET TRANSACTION READ WRITE", `DELETE FROM "HP"."EVENTS"`, insertEvents, "ROLLBACK"}, nil},
		{"NULL merge key", sdk.WriteRequest{Mode: sdk.Merge, Keys: []string{"note"}}, streamRows(t), "",
			[]string{"CREATE GLOBAL TEMPORARY TABLE", "SET TRANSACTION READ WRITE", "ROLLBACK", `DROP TABLE "HP_MERGE_X" PURGE`}, sdk.ErrInvalidArgument},
		{"merge fails", sdk.WriteRequest{Mode: sdk.Merge, Keys: []string{"id"}}, streamRows(t), "MERGE",
			[]string{"CREATE GLOBAL TEMPORARY TABLE", "SET TRANSACTION READ WRITE", `INSERT INTO "HP_MERGE_X"`, `INSERT INTO "HP_MERGE_X"`, "MERGE", "ROLLBACK", `DROP TABLE "HP_MERGE_X" PURGE`}, nil},
	}
	for _, c := range cases {
		c.req.Table = sdk.ObjectRef{Name: "EVENTS"}
		st, _, err := writeLog(t, c.req, reader(t, c.rows, false), c.fail)
		if err == nil || (c.kind != nil && !errors.Is(err, c.kind)) {
			t.Errorf("%s: %v", c.name, err)
		}
		ok := len(st) == len(c.want)
		for i := 0; ok && i < len(st); i++ {
			ok = strings.HasPrefix(st[i], c.want[i])
		}
		if !ok {
			t.Errorf("%s: statements\n got %q\nwant %q", c.name, st, c.want)
		}
	}
}

// A stream column Oracle cannot hold is refused before any statement.
func TestWriteUnsupportedType(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "d", Type: arrow.FixedWidthTypes.Duration_s}}, nil)
	rr, _ := array.NewRecordReader(schema, nil)
	f := eventsDB(func(q string, _ []any) (*oraclefake.Result, error) { return nil, nil })
	_, err := newConnector(open(f)).Write(context.Background(), sdk.WriteRequest{Conn: conn, Table: sdk.ObjectRef{Name: "events"}, Mode: sdk.Append, CreateTable: true}, rr)
	if !errors.Is(err, sdk.ErrUnsupportedType) || !strings.Contains(err.Error(), `column "d"`) || len(f.Calls()) != 0 {
		t.Fatalf("%v after %d statements", err, len(f.Calls()))
	}
}

func TestDDLTypes(t *testing.T) {
	for typ, want := range map[arrow.DataType]string{
		arrow.FixedWidthTypes.Boolean:                                 "NUMBER(1)",
		arrow.PrimitiveTypes.Uint64:                                   "NUMBER(20)",
		arrow.PrimitiveTypes.Float32:                                  "BINARY_FLOAT",
		&arrow.Decimal256Type{Precision: 38, Scale: 4}:                "NUMBER(38,4)",
		arrow.FixedWidthTypes.Date32:                                  "DATE",
		&arrow.TimestampType{Unit: arrow.Millisecond}:                 "TIMESTAMP(3)",
		&arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}: "TIMESTAMP(9) WITH TIME ZONE",
		offsetUS:                      "TIMESTAMP(6) WITH TIME ZONE",
		arrow.BinaryTypes.LargeString: "CLOB",
	} {
		if got, err := ddlType(typ); got != want || err != nil {
			t.Errorf("%s: %s %v, want %s", typ, got, err, want)
		}
	}
	if _, err := ddlType(&arrow.Decimal256Type{Precision: 40}); !errors.Is(err, sdk.ErrUnsupportedType) {
		t.Errorf("decimal(40): %v", err)
	}
}
