package snowflake_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/halfpipe-io/halfpipe/plugins/snowflake/snowflake"
	"github.com/halfpipe-io/halfpipe/sdk"
)

var ordersSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

type row struct {
	id   int64
	name *string
}

func s(v string) *string { return &v }

func put(t *testing.T, e *env, key string, body []byte) string {
	t.Helper()
	_, err := e.s3.Client(t).PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("sf-lake"), Key: aws.String(key), Body: bytes.NewReader(body)})
	if err != nil {
		t.Fatal(err)
	}
	return "s3://sf-lake/" + key
}

func parquetFile(t *testing.T, rows []row) []byte {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, ordersSchema)
	defer b.Release()
	for _, r := range rows {
		b.Field(0).(*array.Int64Builder).Append(r.id)
		if r.name == nil {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.StringBuilder).Append(*r.name)
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	var buf bytes.Buffer
	tbl := array.NewTableFromRecords(ordersSchema, []arrow.RecordBatch{rec})
	defer tbl.Release()
	if err := pqarrow.WriteTable(tbl, &buf, 1024, nil, pqarrow.DefaultWriterProps()); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// run publishes a run's Parquet files and returns their URIs.
func run(t *testing.T, e *env, id string, files ...[]row) []string {
	t.Helper()
	var uris []string
	for i, f := range files {
		uris = append(uris, put(t, e, fmt.Sprintf("runs/orders/%s/part-%05d.parquet", id, i+1), parquetFile(t, f)))
	}
	return uris
}

func total(files ...[]row) string {
	n := 0
	for _, f := range files {
		n += len(f)
	}
	return strconv.Itoa(n)
}

func loadReq(e *env, mode sdk.WriteMode, uris []string, rows string, keys ...string) sdk.LoadRequest {
	return sdk.LoadRequest{
		Conn: sdk.Connection{DSN: e.dsn("etl", password, "")}, Table: sdk.ObjectRef{Schema: "PUBLIC", Name: "ORDERS"},
		Mode: mode, Keys: keys, URIs: uris, Format: "parquet", Schema: ordersSchema, CreateTable: true,
		FormatOptions: map[string]string{snowflake.OptStage: "LAKE", snowflake.OptRows: rows},
	}
}

// contents renders a table's rows sorted by the first column.
func contents(t *testing.T, e *env, table string) string {
	t.Helper()
	rows, ok := e.srv.Rows(table)
	if !ok {
		return "<no table>"
	}
	var out []string
	for _, r := range rows {
		var f []string
		for _, v := range r {
			if v == nil {
				f = append(f, "NULL")
			} else {
				f = append(f, *v)
			}
		}
		out = append(out, strings.Join(f, "|"))
	}
	sortStrings(out)
	return strings.Join(out, " ")
}

func sortStrings(a []string) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

var tmpName = regexp.MustCompile(`HP_LOAD_[0-9A-F]+`)

// statements returns the SQL the server received since the last call,
// temporary table names replaced by HP_LOAD_*.
func statements(e *env) []string {
	var out []string
	for _, st := range e.srv.Statements() {
		q := tmpName.ReplaceAllString(st.SQL, "HP_LOAD_*")
		if st.Err != "" {
			q += " -- error " + st.Err
		}
		out = append(out, q)
	}
	e.srv.ResetStatements()
	return out
}

func pin(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s: statements\n%s\nwant\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func load(t *testing.T, req sdk.LoadRequest) int64 {
	t.Helper()
	res, err := snowflake.New().Load(context.Background(), req)
	if err != nil {
		t.Fatalf("Load %s: %v", req.Mode, err)
	}
	return res.RowsLoaded
}

func TestLoadModes(t *testing.T) {
	e := newEnv(t, true)
	r1 := [][]row{{{1, s("one")}, {2, nil}}, {{3, s("three")}}}
	uris := run(t, e, "R1", r1...)
	if n := load(t, loadReq(e, sdk.Replace, uris, total(r1...))); n != 3 {
		t.Errorf("replace loaded %d rows, want 3", n)
	}
	copyR1 := `COPY INTO "PUBLIC"."ORDERS" FROM @LAKE/orders/R1/ FILES=('part-00001.parquet', 'part-00002.parquet') FILE_FORMAT=(TYPE=PARQUET) MATCH_BY_COLUMN_NAME=CASE_INSENSITIVE ON_ERROR=ABORT_STATEMENT`
	pin(t, "replace", statements(e),
		`DESC STAGE LAKE`,
		`CREATE TABLE "PUBLIC"."ORDERS" ("ID" NUMBER(19,0), "NAME" VARCHAR)`,
		`BEGIN`, `DELETE FROM "PUBLIC"."ORDERS"`, copyR1+` FORCE=TRUE`, `COMMIT`)
	if got, want := contents(t, e, "PUBLIC.ORDERS"), "1|one 2|NULL 3|three"; got != want {
		t.Errorf("after replace: %s, want %s", got, want)
	}
	// The same replace again: the table holds the run once.
	load(t, loadReq(e, sdk.Replace, uris, total(r1...)))
	pin(t, "replace again", statements(e),
		`DESC STAGE LAKE`,
		`CREATE TABLE "PUBLIC"."ORDERS" ("ID" NUMBER(19,0), "NAME" VARCHAR) -- error 002002`,
		`BEGIN`, `DELETE FROM "PUBLIC"."ORDERS"`, copyR1+` FORCE=TRUE`, `COMMIT`)
	if got, want := contents(t, e, "PUBLIC.ORDERS"), "1|one 2|NULL 3|three"; got != want {
		t.Errorf("after replace again: %s, want %s", got, want)
	}

	r2 := [][]row{{{4, s("four")}, {5, s("five")}}}
	uris2 := run(t, e, "R2", r2...)
	if n := load(t, loadReq(e, sdk.Append, uris2, total(r2...))); n != 2 {
		t.Errorf("append loaded %d rows, want 2", n)
	}
	copyR2 := `COPY INTO "PUBLIC"."ORDERS" FROM @LAKE/orders/R2/ FILES=('part-00001.parquet') FILE_FORMAT=(TYPE=PARQUET) MATCH_BY_COLUMN_NAME=CASE_INSENSITIVE ON_ERROR=ABORT_STATEMENT`
	pin(t, "append", statements(e),
		`DESC STAGE LAKE`,
		`CREATE TABLE "PUBLIC"."ORDERS" ("ID" NUMBER(19,0), "NAME" VARCHAR) -- error 002002`,
		`BEGIN`, copyR2, `COMMIT`)
	// A retried append: Snowflake's load history skips the files.
	if n := load(t, loadReq(e, sdk.Append, uris2, total(r2...))); n != 0 {
		t.Errorf("retried append loaded %d rows, want 0", n)
	}
	want := "1|one 2|NULL 3|three 4|four 5|five"
	if got := contents(t, e, "PUBLIC.ORDERS"); got != want {
		t.Errorf("after a retried append: %s, want %s", got, want)
	}
	statements(e)

	// Merge: key 2 twice in the run (the later file wins), 6 is new.
	r3 := [][]row{{{2, s("two-a")}, {6, s("six")}}, {{2, s("two-b")}}}
	uris3 := run(t, e, "R3", r3...)
	if n := load(t, loadReq(e, sdk.Merge, uris3, total(r3...), "id")); n != 3 {
		t.Errorf("merge loaded %d rows, want 3", n)
	}
	pin(t, "merge", statements(e),
		`DESC STAGE LAKE`,
		`CREATE TABLE "PUBLIC"."ORDERS" ("ID" NUMBER(19,0), "NAME" VARCHAR) -- error 002002`,
		`CREATE TEMPORARY TABLE "PUBLIC"."HP_LOAD_*" ("ID" NUMBER(19,0), "NAME" VARCHAR, "HP_FILE" VARCHAR, "HP_ROW" NUMBER(19,0))`,
		`BEGIN`,
		`COPY INTO "PUBLIC"."HP_LOAD_*" FROM @LAKE/orders/R3/ FILES=('part-00001.parquet', 'part-00002.parquet') FILE_FORMAT=(TYPE=PARQUET) MATCH_BY_COLUMN_NAME=CASE_INSENSITIVE INCLUDE_METADATA=("HP_FILE"=METADATA$FILENAME, "HP_ROW"=METADATA$FILE_ROW_NUMBER) ON_ERROR=ABORT_STATEMENT`,
		`MERGE INTO "PUBLIC"."ORDERS" AS T USING (SELECT * FROM "PUBLIC"."HP_LOAD_*" QUALIFY ROW_NUMBER() OVER (PARTITION BY "ID" ORDER BY "HP_FILE" DESC, "HP_ROW" DESC) = 1) AS S ON T."ID" = S."ID" WHEN MATCHED THEN UPDATE SET T."NAME" = S."NAME" WHEN NOT MATCHED THEN INSERT ("ID", "NAME") VALUES (S."ID", S."NAME")`,
		`COMMIT`,
		`DROP TABLE IF EXISTS "PUBLIC"."HP_LOAD_*"`)
	want = "1|one 2|two-b 3|three 4|four 5|five 6|six"
	if got := contents(t, e, "PUBLIC.ORDERS"); got != want {
		t.Errorf("after merge: %s, want %s", got, want)
	}
	// The merge again changes nothing.
	load(t, loadReq(e, sdk.Merge, uris3, total(r3...), "id"))
	if got := contents(t, e, "PUBLIC.ORDERS"); got != want {
		t.Errorf("after merge again: %s, want %s", got, want)
	}
}

func TestLoadFailuresChangeNothing(t *testing.T) {
	e := newEnv(t, true)
	r1 := [][]row{{{1, s("one")}, {2, s("two")}}}
	uris := run(t, e, "R1", r1...)
	load(t, loadReq(e, sdk.Replace, uris, total(r1...)))
	want := "1|one 2|two"
	r2 := [][]row{{{2, s("two-new")}, {3, s("three")}}, {{4, s("four")}}}
	uris2 := run(t, e, "R2", r2...)
	c := snowflake.New()
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		req  sdk.LoadRequest
		fail string // statement prefix the server fails
		msg  string // in the error
	}{
		{"replace, COPY fails after the DELETE", loadReq(e, sdk.Replace, uris2, "3"), "COPY", "injected"},
		{"merge, MERGE fails after the COPY", loadReq(e, sdk.Merge, uris2, "3", "id"), "MERGE", "injected"},
		{"append, COMMIT fails", loadReq(e, sdk.Append, uris2, "3"), "COMMIT", "injected"},
		{"replace, rows differ from the manifest", loadReq(e, sdk.Replace, uris2, "4"), "", "the manifest lists 4 rows"},
		{"append, a file is missing", loadReq(e, sdk.Append, append(uris2, "s3://sf-lake/runs/orders/R2/part-00003.parquet"), "3"), "", "part-00003.parquet"},
		{"file outside the stage", loadReq(e, sdk.Append, []string{"s3://other/x.parquet"}, "3"), "", "not under stage LAKE"},
	} {
		if tc.fail != "" {
			e.srv.FailNext(tc.fail, "000603", "injected failure")
		}
		_, err := c.Load(ctx, tc.req)
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: Load error = %v, want one with %q", tc.name, err, tc.msg)
		}
		if got := contents(t, e, "PUBLIC.ORDERS"); got != want {
			t.Errorf("%s: table now %s, want %s", tc.name, got, want)
		}
	}
	// A corrupt file fails the COPY (ON_ERROR=ABORT_STATEMENT), naming it.
	bad := put(t, e, "runs/orders/R4/part-00001.parquet", []byte("PAR1 not parquet"))
	_, err := c.Load(ctx, loadReq(e, sdk.Append, []string{bad}, "1"))
	if err == nil || !strings.Contains(err.Error(), "runs/orders/R4/part-00001.parquet") {
		t.Errorf("corrupt file: %v", err)
	}
	if got := contents(t, e, "PUBLIC.ORDERS"); got != want {
		t.Errorf("after a corrupt file: table now %s, want %s", got, want)
	}
	// After the failures the append loads the run once: the failed
	// attempts left nothing in the load history.
	if n := load(t, loadReq(e, sdk.Append, uris2, "3")); n != 3 {
		t.Errorf("append after failures loaded %d rows, want 3", n)
	}
	// A table the failed load created is dropped.
	req := loadReq(e, sdk.Replace, uris2, "3")
	req.Table.Name = "FRESH"
	e.srv.FailNext("COPY", "000603", "injected failure")
	if _, err := c.Load(ctx, req); err == nil {
		t.Fatal("Load into FRESH succeeded despite the injected failure")
	}
	if got := contents(t, e, "PUBLIC.FRESH"); got != "<no table>" {
		t.Errorf("FRESH after a failed load that created it: %s", got)
	}
	// When that drop fails too, the error says the table is left.
	e.srv.FailNext("COPY", "000603", "injected failure")
	e.srv.FailNext("DROP TABLE IF EXISTS \"PUBLIC\".\"FRESH\"", "003001", "injected drop failure")
	_, err = c.Load(ctx, req)
	if err == nil || !strings.Contains(err.Error(), "injected failure") || !strings.Contains(err.Error(), `"PUBLIC"."FRESH", created for this load, could not be dropped again`) {
		t.Errorf("a failed load whose created table could not be dropped: %v", err)
	}
	// A merge whose temporary table cannot be dropped after the commit
	// has loaded its rows: it must not report a failure.
	e.srv.FailNext("DROP TABLE IF EXISTS \"PUBLIC\".\"HP_LOAD_", "003001", "injected drop failure")
	r5 := [][]row{{{1, s("one-merged")}}}
	if n := load(t, loadReq(e, sdk.Merge, run(t, e, "R5", r5...), "1", "id")); n != 1 {
		t.Errorf("merge loaded %d rows, want 1", n)
	}
	if got := contents(t, e, "PUBLIC.ORDERS"); got != "1|one-merged 2|two 2|two-new 3|three 4|four" {
		t.Errorf("after the merge: table now %s", got)
	}
}

func TestLoadCSV(t *testing.T) {
	e := newEnv(t, true)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	// hp's CSV: a header, NULL as an empty field, the empty string quoted.
	_, _ = zw.Write([]byte("id,name\n1,one\n2,\n3,\"\"\n4,\"a,\"\"b\"\"\"\n"))
	_ = zw.Close()
	uri := put(t, e, "runs/orders/C1/part-00001.csv.gz", gz.Bytes())
	req := loadReq(e, sdk.Replace, []string{uri}, "4")
	req.Format = "csv"
	req.FormatOptions[snowflake.OptCompression] = "gzip"
	if n := load(t, req); n != 4 {
		t.Errorf("loaded %d rows, want 4", n)
	}
	got := statements(e)
	pin(t, "csv", got[len(got)-2:len(got)-1],
		`COPY INTO "PUBLIC"."ORDERS" FROM @LAKE/orders/C1/ FILES=('part-00001.csv.gz') FILE_FORMAT=(TYPE=CSV PARSE_HEADER=TRUE FIELD_DELIMITER=',' FIELD_OPTIONALLY_ENCLOSED_BY='"' EMPTY_FIELD_AS_NULL=TRUE NULL_IF=() BINARY_FORMAT=BASE64 COMPRESSION=GZIP) MATCH_BY_COLUMN_NAME=CASE_INSENSITIVE ON_ERROR=ABORT_STATEMENT FORCE=TRUE`)
	if got, want := contents(t, e, "PUBLIC.ORDERS"), `1|one 2|NULL 3| 4|a,"b"`; got != want {
		t.Errorf("table %s, want %s", got, want)
	}
}

func TestLoadRefusesBadRequests(t *testing.T) {
	e := newEnv(t, false)
	c := snowflake.New()
	for _, tc := range []struct {
		name string
		edit func(*sdk.LoadRequest)
		msg  string
	}{
		{"no stage", func(r *sdk.LoadRequest) { delete(r.FormatOptions, snowflake.OptStage) }, "--stage"},
		{"bad stage name", func(r *sdk.LoadRequest) { r.FormatOptions[snowflake.OptStage] = "x; DROP" }, "stage name"},
		{"no row count", func(r *sdk.LoadRequest) { delete(r.FormatOptions, snowflake.OptRows) }, "row count"},
		{"jsonl", func(r *sdk.LoadRequest) { r.Format = "jsonl" }, "Parquet and CSV"},
		{"merge without keys", func(r *sdk.LoadRequest) { r.Mode = sdk.Merge }, "key columns"},
	} {
		req := loadReq(e, sdk.Append, []string{"s3://sf-lake/runs/x.parquet"}, "1")
		tc.edit(&req)
		_, err := c.Load(context.Background(), req)
		if !errors.Is(err, sdk.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want invalid argument with %q", tc.name, err, tc.msg)
		}
	}
	if got := e.srv.Statements(); len(got) != 0 {
		t.Errorf("bad requests reached the server: %v", got)
	}
}

// TestLoadManyFiles copies a run of more files than one COPY may name in
// several COPY statements of one transaction.
func TestLoadManyFiles(t *testing.T) {
	defer snowflake.SetMaxCopyFiles(2)()
	e := newEnv(t, true)
	files := [][]row{{{1, s("a")}}, {{2, s("b")}}, {{3, s("c")}}, {{4, s("d")}}, {{5, s("e")}}}
	uris := run(t, e, "M1", files...)
	if n := load(t, loadReq(e, sdk.Append, uris, total(files...))); n != 5 {
		t.Errorf("loaded %d rows, want 5", n)
	}
	var copies []string
	for _, q := range statements(e) {
		if strings.HasPrefix(q, "COPY") {
			copies = append(copies, q[strings.Index(q, "FILES="):strings.Index(q, " FILE_FORMAT")])
		}
	}
	if want := "[FILES=('part-00001.parquet', 'part-00002.parquet') FILES=('part-00003.parquet', 'part-00004.parquet') FILES=('part-00005.parquet')]"; fmt.Sprint(copies) != want {
		t.Errorf("COPY statements: %v, want %s", copies, want)
	}
	// A failure in the last COPY rolls the first ones back.
	uris2 := run(t, e, "M2", files...)
	e.srv.FailNext("COPY INTO \"PUBLIC\".\"ORDERS\" FROM @LAKE/orders/M2/ FILES=('part-00005", "000603", "injected failure")
	if _, err := snowflake.New().Load(context.Background(), loadReq(e, sdk.Append, uris2, total(files...))); err == nil {
		t.Fatal("a load whose last COPY failed succeeded")
	}
	if got, want := contents(t, e, "PUBLIC.ORDERS"), "1|a 2|b 3|c 4|d 5|e"; got != want {
		t.Errorf("after the failure: %s, want %s", got, want)
	}
}

// TestLoadCSVBinary loads hp's CSV, whose binary is base64, and reads the
// bytes back through the source.
func TestLoadCSVBinary(t *testing.T) {
	e := newEnv(t, true)
	uri := put(t, e, "runs/bins/B1/part-00001.csv", []byte("ID,BIN\n1,AP8Q\n2,\n3,\"\"\n"))
	req := loadReq(e, sdk.Replace, []string{uri}, "3")
	req.Table.Name, req.Format = "BINS", "csv"
	req.Schema = arrow.NewSchema([]arrow.Field{{Name: "ID", Type: arrow.PrimitiveTypes.Int64}, {Name: "BIN", Type: arrow.BinaryTypes.Binary, Nullable: true}}, nil)
	if n := load(t, req); n != 3 {
		t.Errorf("loaded %d rows, want 3", n)
	}
	if got, want := contents(t, e, "PUBLIC.BINS"), "1|00FF10 2|NULL 3|"; got != want {
		t.Errorf("table %s, want %s", got, want)
	}
	_, rows := readAll(t, snowflake.New(), sdk.ReadRequest{Conn: req.Conn, Source: obj("PUBLIC", "BINS"), OrderBy: []sdk.OrderBy{{Column: "ID"}}})
	if fmt.Sprint(rows) != "[ID=1 BIN=AP8Q ID=2 BIN=(null) ID=3 BIN=]" {
		t.Errorf("read back: %v", rows)
	}
}
