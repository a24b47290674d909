package snowflake_test

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/extensions"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/halfpipe-io/halfpipe/plugins/snowflake/snowflake"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// The real-account suite runs against the Snowflake account named by
// HP_TEST_SNOWFLAKE_DSN, loading through the external stage
// HP_TEST_SNOWFLAKE_STAGE whose URL is HP_TEST_SNOWFLAKE_S3
// (s3://bucket/prefix/; the test uploads there with the default AWS
// credentials), e.g.
//
//	HP_TEST_SNOWFLAKE_DSN='snowflake://ETL@org-acct/TEST_DB/PUBLIC?warehouse=WH&private_key_file=/path/key.p8' \
//	HP_TEST_SNOWFLAKE_STAGE=HP_TEST_STAGE HP_TEST_SNOWFLAKE_S3=s3://bucket/hp-test/ \
//	go test -run TestRealAccount -v ./plugins/snowflake/...
//
// It creates and drops its own HP_TEST_* tables. No Snowflake account is
// reachable from this project's machines or CI, so there the suite reports
// itself as skipped, by name: it has never run here.

type realAccount struct {
	conn  sdk.Connection
	stage string
	s3    *s3.Client
	loc   *url.URL
}

func newRealAccount(t *testing.T) *realAccount {
	t.Helper()
	dsn, stage, loc := os.Getenv("HP_TEST_SNOWFLAKE_DSN"), os.Getenv("HP_TEST_SNOWFLAKE_STAGE"), os.Getenv("HP_TEST_SNOWFLAKE_S3")
	if dsn == "" || stage == "" || loc == "" {
		t.Skip("HP_TEST_SNOWFLAKE_DSN, HP_TEST_SNOWFLAKE_STAGE and HP_TEST_SNOWFLAKE_S3 are not all set: no Snowflake account to run the real-account suite against")
	}
	u, err := url.Parse(loc)
	if err != nil || u.Scheme != "s3" {
		t.Fatalf("HP_TEST_SNOWFLAKE_S3=%q is not s3://bucket/prefix/", loc)
	}
	cfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return &realAccount{conn: sdk.Connection{DSN: dsn}, stage: stage, s3: s3.NewFromConfig(cfg), loc: u}
}

// run uploads a run's Parquet files below the stage and returns their URIs.
func (a *realAccount) run(t *testing.T, dir string, files ...[]row) []string {
	t.Helper()
	var uris []string
	prefix := strings.TrimPrefix(strings.TrimSuffix(a.loc.Path, "/")+"/", "/")
	for i, f := range files {
		key := fmt.Sprintf("%s%s/part-%05d.parquet", prefix, dir, i+1)
		_, err := a.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(a.loc.Host), Key: aws.String(key), Body: bytes.NewReader(parquetFile(t, f))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_, _ = a.s3.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(a.loc.Host), Key: aws.String(key)})
		})
		uris = append(uris, "s3://"+a.loc.Host+"/"+key)
	}
	return uris
}

func (a *realAccount) rows(t *testing.T, table string) string {
	t.Helper()
	db := openDB(t, a.conn.DSN)
	rs, err := db.Query(`SELECT "ID", "NAME" FROM "` + table + `" ORDER BY "ID"`)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		var id int64
		var name *string
		if err := rs.Scan(&id, &name); err != nil {
			t.Fatal(err)
		}
		n := "NULL"
		if name != nil {
			n = *name
		}
		out = append(out, fmt.Sprintf("%d|%s", id, n))
	}
	return strings.Join(out, " ")
}

func TestRealAccountLoad(t *testing.T) {
	a := newRealAccount(t)
	c := snowflake.New()
	ctx := context.Background()
	if _, err := c.Check(ctx, a.conn); err != nil {
		t.Fatal(err)
	}
	table := fmt.Sprintf("HP_TEST_ORDERS_%d", time.Now().UnixNano())
	t.Cleanup(func() { _, _ = c.Exec(ctx, a.conn, []string{`DROP TABLE IF EXISTS "` + table + `"`}) })
	req := func(mode sdk.WriteMode, uris []string, rows string, keys ...string) sdk.LoadRequest {
		return sdk.LoadRequest{Conn: a.conn, Table: sdk.ObjectRef{Name: table}, Mode: mode, Keys: keys, URIs: uris, Format: "parquet",
			Schema: ordersSchema, CreateTable: true, FormatOptions: map[string]string{snowflake.OptStage: a.stage, snowflake.OptRows: rows}}
	}
	do := func(r sdk.LoadRequest) int64 {
		t.Helper()
		res, err := c.Load(ctx, r)
		if err != nil {
			t.Fatalf("%s: %v", r.Mode, err)
		}
		return res.RowsLoaded
	}
	r1 := a.run(t, table+"/R1", []row{{1, s("one")}, {2, nil}}, []row{{3, s("three")}})
	do(req(sdk.Replace, r1, "3"))
	do(req(sdk.Replace, r1, "3"))
	if got, want := a.rows(t, table), "1|one 2|NULL 3|three"; got != want {
		t.Errorf("after replace twice: %s, want %s", got, want)
	}
	r2 := a.run(t, table+"/R2", []row{{4, s("four")}})
	do(req(sdk.Append, r2, "1"))
	if n := do(req(sdk.Append, r2, "1")); n != 0 {
		t.Errorf("a retried append loaded %d rows: the load history did not skip the file", n)
	}
	r3 := a.run(t, table+"/R3", []row{{2, s("two-a")}, {5, s("five")}}, []row{{2, s("two-b")}})
	do(req(sdk.Merge, r3, "3", "id"))
	if got, want := a.rows(t, table), "1|one 2|two-b 3|three 4|four 5|five"; got != want {
		t.Errorf("after append and merge: %s, want %s", got, want)
	}
	if _, err := c.Load(ctx, req(sdk.Replace, r3, "4")); err == nil {
		t.Error("a load whose rows differ from the manifest succeeded")
	}
	if got, want := a.rows(t, table), "1|one 2|two-b 3|three 4|four 5|five"; got != want {
		t.Errorf("after a failed replace: %s, want %s", got, want)
	}
}

// TestRealAccountRead reads a table of edge values back from the account
// named by HP_TEST_SNOWFLAKE_DSN (no stage needed); NUMBER(18,2) holds a
// value a float64 cannot, so Arrow results would fail it. It has never run
// here.
func TestRealAccountRead(t *testing.T) {
	dsn := os.Getenv("HP_TEST_SNOWFLAKE_DSN")
	if dsn == "" {
		t.Skip("HP_TEST_SNOWFLAKE_DSN is not set: no Snowflake account to read from")
	}
	c := snowflake.New()
	ctx := context.Background()
	conn := sdk.Connection{DSN: dsn}
	table := fmt.Sprintf("HP_TEST_SRC_%d", time.Now().UnixNano())
	t.Cleanup(func() { _, _ = c.Exec(ctx, conn, []string{`DROP TABLE IF EXISTS "` + table + `"`}) })
	if _, err := c.Exec(ctx, conn, []string{
		`CREATE TABLE "` + table + `" ("ID" NUMBER(38,0) NOT NULL PRIMARY KEY, "BIG" NUMBER(38,0), "AMT" NUMBER(18,2), "NTZ" TIMESTAMP_NTZ(9), "TZ" TIMESTAMP_TZ(9), "V" VARIANT)`,
		`INSERT INTO "` + table + `" SELECT 1, 12345678901234567890123456789012345678, -1234567890123456.78, '2024-05-01 12:34:56.123456789'::TIMESTAMP_NTZ(9), ` +
			`'2024-05-01 12:34:56.123456789 +05:30'::TIMESTAMP_TZ(9), PARSE_JSON('{"a": 1}') UNION ALL SELECT 2, -42, NULL, NULL, NULL, NULL`,
	}); err != nil {
		t.Fatal(err)
	}
	d, err := c.Describe(ctx, conn, sdk.Source{Object: &sdk.ObjectRef{Name: strings.ToLower(table)}})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(d.PrimaryKey) != "[ID]" || d.Columns[4].NativeType != "TIMESTAMP_TZ(9)" {
		t.Errorf("Describe: key %v, columns %+v", d.PrimaryKey, d.Columns)
	}
	_, rows := readAll(t, c, sdk.ReadRequest{Conn: conn, Source: sdk.Source{Object: &sdk.ObjectRef{Name: table}}, OrderBy: []sdk.OrderBy{{Column: "ID"}}})
	if len(rows) != 2 || !strings.HasPrefix(rows[0], "ID=1 BIG=12345678901234567890123456789012345678 AMT=-1234567890123456.78 NTZ=2024-05-01T12:34:56.123456789 TZ=2024-05-01 12:34:56.123456789 +0530") ||
		!strings.Contains(rows[0], `"a": 1`) || !strings.HasPrefix(rows[1], "ID=2 BIG=-42 AMT=(null) NTZ=(null) TZ=(null) V=(null)") {
		t.Errorf("rows:\n%s", strings.Join(rows, "\n"))
	}
	b, err := c.Bounds(ctx, sdk.BoundsRequest{Conn: conn, Source: sdk.Source{Object: &sdk.ObjectRef{Name: table}}, Column: "NTZ"})
	if err != nil || b.Max.String() != "2024-05-01T12:34:56.123456789Z" || b.Count != 2 || b.NullCount != 1 {
		t.Errorf("bounds of NTZ: %+v, %v", b, err)
	}
}

// TestRealAccountPlanAndTransform checks against the account named by
// HP_TEST_SNOWFLAKE_DSN (no stage needed) what the test server can only
// imitate: that the catalog reads back the table cp meta creates as
// fitting, that Snowflake runs the widening ALTERs hp plans, and that the
// Write path's COPY transformation parses JSON into VARIANT and keeps
// TIMESTAMP_TZ offsets. It has never run here.
func TestRealAccountPlanAndTransform(t *testing.T) {
	dsn := os.Getenv("HP_TEST_SNOWFLAKE_DSN")
	if dsn == "" {
		t.Skip("HP_TEST_SNOWFLAKE_DSN is not set: no Snowflake account to plan and load in")
	}
	c := snowflake.New()
	ctx := context.Background()
	conn := sdk.Connection{DSN: dsn}
	table := fmt.Sprintf("HP_TEST_PLAN_%d", time.Now().UnixNano())
	t.Cleanup(func() { _, _ = c.Exec(ctx, conn, []string{`DROP TABLE IF EXISTS "` + table + `"`}) })
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "doc", Type: jsonType(t), Nullable: true},
		{Name: "tz", Type: extensions.NewTimestampWithOffsetType(arrow.Microsecond), Nullable: true},
	}, nil)
	ref := sdk.ObjectRef{Name: table}
	plan, err := c.PlanTable(ctx, sdk.PlanTableRequest{Conn: conn, Table: ref, Schema: schema, PrimaryKey: []string{"id"}})
	if err != nil || plan.Exists {
		t.Fatalf("plan: %+v, %v", plan, err)
	}
	if _, err := c.Exec(ctx, conn, plan.Statements); err != nil {
		t.Fatal(err)
	}
	if plan, err = c.PlanTable(ctx, sdk.PlanTableRequest{Conn: conn, Table: ref, Schema: schema}); err != nil || len(plan.Statements) != 0 || len(plan.Notes) != 0 {
		t.Errorf("plan of the created table: %+v, %v", plan, err)
	}
	wider := arrow.NewSchema(append(schema.Fields(), arrow.Field{Name: "amount", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}, Nullable: true}), nil)
	if _, err := c.Exec(ctx, conn, []string{`ALTER TABLE "` + table + `" ADD COLUMN "AMOUNT" NUMBER(6,2)`}); err != nil {
		t.Fatal(err)
	}
	if plan, err = c.PlanTable(ctx, sdk.PlanTableRequest{Conn: conn, Table: ref, Schema: wider}); err != nil || len(plan.Statements) != 1 {
		t.Fatalf("plan of a narrower NUMBER: %+v, %v", plan, err)
	}
	if _, err := c.Exec(ctx, conn, plan.Statements); err != nil {
		t.Fatalf("Snowflake refused %v: %v", plan.Statements, err)
	}
	rec := docs(t, schema)
	rr, err := array.NewRecordReader(schema, []arrow.RecordBatch{rec})
	if err != nil {
		t.Fatal(err)
	}
	rec.Release()
	if _, err := c.Write(ctx, sdk.WriteRequest{Conn: conn, Table: ref, Mode: sdk.Append}, rr); err != nil {
		t.Fatal(err)
	}
	db := openDB(t, dsn)
	var typ, c1, tz string
	err = db.QueryRow(`SELECT TYPEOF("DOC"), "DOC":b:c::VARCHAR, TO_VARCHAR("TZ", 'YYYY-MM-DD HH24:MI:SS.FF6 TZH:TZM') FROM "`+table+`" WHERE "ID" = 1`).Scan(&typ, &c1, &tz)
	if err != nil || typ != "OBJECT" || c1 != "x" || tz != "2024-05-01 12:34:56.123456 +05:30" {
		t.Errorf("row 1: TYPEOF(DOC)=%q DOC:b:c=%q TZ=%q, %v", typ, c1, tz, err)
	}
}
