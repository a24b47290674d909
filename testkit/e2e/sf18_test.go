package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/testkit"
	sfserver "github.com/halfpipe-io/halfpipe/testkit/snowflake"
)

// TestSF18MetaPostgresToSnowflake: hp cp meta prints the CREATE TABLE of
// a PostgreSQL table in Snowflake's types, --execute runs it, a widened
// and extended source gets the ALTERs, and rows load into the result.
func TestSF18MetaPostgresToSnowflake(t *testing.T) {
	t.Parallel()
	bin := testkit.Build(t, "postgres", "snowflake")
	pgExec(t, `drop schema if exists sf18_meta cascade; create schema sf18_meta;
		create table sf18_meta.orders (id bigint primary key, amount numeric(8,2), name varchar(20) not null, ok boolean, raw bytea,
			d date, tm time, ntz timestamp, ltz timestamptz, doc jsonb);
		insert into sf18_meta.orders values (1, 12.5, 'one', true, '\x00ff', '2024-02-29', '12:34:56.5', '2024-05-01 01:02:03.123456',
			'2024-05-01 01:02:03+02', '{"a": 1}')`)
	pgCleanup(t, "drop schema if exists sf18_meta cascade")
	sf, env := sfTarget(t)

	res := bin.Run(t, env, "cp", "meta", "pg.sf18_meta.orders", "sf.PUBLIC.SF18_ORDERS")
	create := `CREATE TABLE "PUBLIC"."SF18_ORDERS" ("ID" NUMBER(19,0) NOT NULL, "AMOUNT" NUMBER(8,2), "NAME" VARCHAR NOT NULL, "OK" BOOLEAN, ` +
		`"RAW" BINARY, "D" DATE, "TM" TIME(6), "NTZ" TIMESTAMP_NTZ(6), "LTZ" TIMESTAMP_LTZ(6), "DOC" VARCHAR, PRIMARY KEY ("ID"));`
	if res.Code != 0 || strings.TrimSpace(res.Stdout) != create {
		t.Fatalf("cp meta: exit %d\n%s\n%s\nwant %s", res.Code, res.Stdout, res.Stderr, create)
	}
	if _, ok := sf.Rows("PUBLIC.SF18_ORDERS"); ok {
		t.Fatal("cp meta without --execute created the table")
	}
	if res := bin.Run(t, env, "cp", "meta", "pg.sf18_meta.orders", "sf.PUBLIC.SF18_ORDERS", "--execute"); res.Code != 0 {
		t.Fatalf("cp meta --execute: exit %d\n%s", res.Code, res.Stderr)
	}
	if got := strings.Join(sf.Columns("PUBLIC.SF18_ORDERS"), ", "); !strings.HasPrefix(got, "ID NUMBER(19,0) NOT NULL, AMOUNT NUMBER(8,2), NAME VARCHAR NOT NULL") {
		t.Fatalf("created columns: %s", got)
	}
	res = bin.Run(t, env, "cp", "meta", "pg.sf18_meta.orders", "sf.PUBLIC.SF18_ORDERS")
	if res.Code != 0 || strings.TrimSpace(res.Stdout) != "" || !strings.Contains(res.Stderr, "already fits") {
		t.Fatalf("cp meta of a fitting table: exit %d\n%s\n%s", res.Code, res.Stdout, res.Stderr)
	}

	// The source grows: a wider numeric, a new column, a dropped one.
	pgExec(t, `alter table sf18_meta.orders alter column amount type numeric(14,2), add column note text, drop column ok`)
	res = bin.Run(t, env, "cp", "meta", "pg.sf18_meta.orders", "sf.PUBLIC.SF18_ORDERS")
	wantAlter := `ALTER TABLE "PUBLIC"."SF18_ORDERS" ALTER COLUMN "AMOUNT" SET DATA TYPE NUMBER(14,2);` + "\n" +
		`ALTER TABLE "PUBLIC"."SF18_ORDERS" ADD COLUMN "NOTE" VARCHAR;`
	if res.Code != 0 || strings.TrimSpace(res.Stdout) != wantAlter || !strings.Contains(res.Stderr, `column "OK" is not in the schema: kept`) {
		t.Fatalf("cp meta of a grown source: exit %d\n%s\n%s\nwant %s", res.Code, res.Stdout, res.Stderr, wantAlter)
	}
	res = bin.Run(t, env, "cp", "meta", "pg.sf18_meta.orders", "sf.PUBLIC.SF18_ORDERS", "--execute", "--allow-drop")
	if res.Code != 0 || !strings.Contains(res.Stdout, `ALTER TABLE "PUBLIC"."SF18_ORDERS" DROP COLUMN "OK";`) {
		t.Fatalf("cp meta --execute --allow-drop: exit %d\n%s\n%s", res.Code, res.Stdout, res.Stderr)
	}
	got := strings.Join(sf.Columns("PUBLIC.SF18_ORDERS"), ", ")
	if !strings.Contains(got, "AMOUNT NUMBER(14,2)") || !strings.HasSuffix(got, "NOTE VARCHAR") || strings.Contains(got, "OK ") {
		t.Fatalf("columns after the ALTERs: %s", got)
	}
	// Rows load into the table cp meta made (the Write path, appending).
	pgExec(t, `update sf18_meta.orders set amount = 123456789012.25, note = 'n'`)
	if res := bin.Run(t, env, "cp", "snap", "pg.sf18_meta.orders", "sf.PUBLIC.SF18_ORDERS", "--write-mode", "append"); res.Code != 0 {
		t.Fatalf("snap into the planned table: exit %d\n%s", res.Code, res.Stderr)
	}
	rows, _ := sf.Rows("PUBLIC.SF18_ORDERS")
	if len(rows) != 1 || *rows[0][0] != "1" || *rows[0][1] != "123456789012.25" || *rows[0][2] != "one" {
		t.Fatalf("rows: %d %v", len(rows), rows)
	}
}

var nsZeros = regexp.MustCompile(`(\.\d{6})000(\D|$)`)

// TestSF18RoundTripPostgresSnowflake: a table of every type the
// PostgreSQL connector maps goes into Snowflake by the Write path, comes
// back out with Snowflake as the source, and prints the same CSV as the
// PostgreSQL table does (the header aside: Snowflake folds names).
func TestSF18RoundTripPostgresSnowflake(t *testing.T) {
	t.Parallel()
	bin := testkit.Build(t, "postgres", "snowflake")
	pgExec(t, `drop schema if exists sf18_rt cascade; create schema sf18_rt;
		create table sf18_rt.types (id bigint primary key, i2 smallint, i4 integer, n numeric(20,6), big numeric(38,0), f8 double precision,
			t text, vc varchar(10), ok boolean, raw bytea, d date, tm time(6), ntz timestamp(6), ltz timestamptz(6), js jsonb, u uuid);
		insert into sf18_rt.types values
			(1, -32768, 2147483647, 12345678901234.123456, 99999999999999999999999999999999999999, 1.5e300,
			 'héllo, "quoted"', 'short', true, '\x00ff10', '2024-02-29', '23:59:59.123456', '1999-12-31 23:59:59.999999',
			 '2024-05-01 12:34:56.654321+05:30', '{"a": [1, 2]}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
			(2, 0, -1, -0.000001, -1, -0.25, '', '', false, '\x', '0001-01-01', '00:00:00', '0001-01-01 00:00:00', '9999-12-31 23:59:59.999999+00', '[]', null),
			(3, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null)`)
	pgCleanup(t, "drop schema if exists sf18_rt cascade")
	sf, env := sfTarget(t)
	csvOf := func(src string) []string {
		t.Helper()
		res := bin.Run(t, env, "cp", "snap", src, "stdout", "--format", "csv", "--compression", "none")
		if res.Code != 0 {
			t.Fatalf("%s to stdout: exit %d\n%s", src, res.Code, res.Stderr)
		}
		lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")
		lines[0] = strings.ToLower(lines[0])
		sort.Strings(lines[1:])
		return lines
	}
	want := csvOf("pg.sf18_rt.types")
	if res := bin.Run(t, env, "cp", "snap", "pg.sf18_rt.types", "sf.PUBLIC.SF18_TYPES"); res.Code != 0 {
		t.Fatalf("snap into Snowflake: exit %d\n%s", res.Code, res.Stderr)
	}
	if _, ok := sf.Rows("PUBLIC.SF18_TYPES"); !ok {
		t.Fatal("no table")
	}
	// The TIME and TIMESTAMP columns hp creates have the source unit's
	// digits, so microseconds come back as microseconds.
	got := csvOf("sf.PUBLIC.SF18_TYPES")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("CSV from Snowflake:\n%s\nfrom PostgreSQL:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestSF18OffsetsSurviveLoads: TIMESTAMP_TZ values keep their own offsets
// through hp into Snowflake: by the Write path (its Parquet files carry
// them as text, cast by the COPY transformation) and through S3 as a CSV
// run; a Parquet run, whose offsets are a struct COPY cannot load, is
// refused naming --format csv.
func TestSF18OffsetsSurviveLoads(t *testing.T) {
	t.Parallel()
	bin := testkit.Build(t, "snowflake")
	sf, env := sfTarget(t)
	if err := sf.Exec(`CREATE TABLE "PUBLIC"."SF18_TZSRC" ("ID" NUMBER(38,0) NOT NULL, "TZ" TIMESTAMP_TZ(6), "V" VARIANT, PRIMARY KEY ("ID"))`,
		`INSERT INTO "PUBLIC"."SF18_TZSRC" VALUES (1, '2024-05-01 12:34:56.123456 +05:30', '{"a":[1,2]}'), (2, '2024-12-31 23:59:59.5 -08:00', '"s"'), (3, NULL, NULL)`); err != nil {
		t.Fatal(err)
	}
	csvOf := func(src string) string {
		t.Helper()
		res := bin.Run(t, env, "cp", "snap", src, "stdout", "--format", "csv", "--compression", "none")
		if res.Code != 0 {
			t.Fatalf("%s to stdout: exit %d\n%s", src, res.Code, res.Stderr)
		}
		lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")
		sort.Strings(lines[1:])
		return nsZeros.ReplaceAllString(strings.Join(lines, "\n"), "$1$2")
	}
	want := csvOf("sf.PUBLIC.SF18_TZSRC")
	if !strings.Contains(want, "+05:30") || !strings.Contains(want, "-08:00") {
		t.Fatalf("the source's CSV lacks the offsets:\n%s", want)
	}
	sf.ResetStatements()
	if res := bin.Run(t, env, "cp", "snap", "sf.PUBLIC.SF18_TZSRC", "sf.PUBLIC.SF18_TZW"); res.Code != 0 {
		t.Fatalf("Write path: exit %d\n%s", res.Code, res.Stderr)
	}
	var copies []string
	for _, q := range sfStatements(sf) {
		if strings.HasPrefix(q, "COPY") {
			copies = append(copies, q)
		}
	}
	if len(copies) != 1 || !strings.Contains(copies[0], `("ID", "TZ", "V") FROM (SELECT $1:"ID"::NUMBER(38,0), $1:"TZ"::TIMESTAMP_TZ(6), $1:"V"::VARCHAR FROM @"PUBLIC".%"SF18_TZW"/`) {
		t.Errorf("COPY statements: %v", copies)
	}
	if got := csvOf("sf.PUBLIC.SF18_TZW"); got != want {
		t.Errorf("after the Write path:\n%s\nwant\n%s", got, want)
	}
	res := bin.Run(t, env, "cp", "snap", "sf.PUBLIC.SF18_TZSRC", "sf.PUBLIC.SF18_TZP", "--stage", "LAKE", "--publish-to", "s3.sf18_tzp", "--format", "parquet")
	if res.Code == 0 || !strings.Contains(res.Stderr, `column "TZ"`) || !strings.Contains(res.Stderr, "--format csv") {
		t.Errorf("Parquet run with offsets: exit %d\n%s", res.Code, res.Stderr)
	}
	if _, ok := sf.Rows("PUBLIC.SF18_TZP"); ok {
		t.Errorf("the refused load created its table")
	}
	if res := bin.Run(t, env, "cp", "snap", "sf.PUBLIC.SF18_TZSRC", "sf.PUBLIC.SF18_TZC", "--stage", "LAKE", "--publish-to", "s3.sf18_tzc", "--format", "csv"); res.Code != 0 {
		t.Fatalf("CSV run: exit %d\n%s", res.Code, res.Stderr)
	}
	if got := csvOf("sf.PUBLIC.SF18_TZC"); got != want {
		t.Errorf("after a CSV run:\n%s\nwant\n%s", got, want)
	}
}

// TestSF18FilesThroughStage: plain files (--files) go into Snowflake
// through a stage: published as a run under --publish-to, then loaded
// from the stage with exactly the run's files.
func TestSF18FilesThroughStage(t *testing.T) {
	t.Parallel()
	bin := testkit.Build(t, "snowflake")
	s3srv, env := s3Target(t, "")
	sf := sfserver.Start(t, sfserver.Config{Account: "hptest", Users: []sfserver.User{{Name: "ETL", Password: "sf-pw-123"}}, S3: s3srv.Client(t)})
	sf.AddStage("LAKE", "s3://lake/raw/")
	env = append(env, fmt.Sprintf("HP_SF_DSN=snowflake://etl:sf-pw-123@hptest/TEST_DB/PUBLIC?protocol=http&host=%s&port=%d", sf.Host, sf.Port))
	filesPut(t, s3srv, "raw/sf18_in/a.csv", []byte("id,name\n1,one\n2,\"two, too\"\n"))
	filesPut(t, s3srv, "raw/sf18_in/b.csv.gz", gzipped(t, "id,name\n3,three\n"))
	filesPut(t, s3srv, "raw/sf18_bad/x.csv", []byte("id,name\n1,one\nnot a number,two\n"))

	res := bin.Run(t, env, "cp", "snap", "s3", "sf.PUBLIC.SF18_FILES", "--files", "sf18_in/*.csv*", "--schema", "id:int64,name:utf8",
		"--stage", "LAKE", "--publish-to", "s3.sf18_files", "--output", "json")
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Stderr)
	}
	var sum struct {
		Rows        int64  `json:"rows"`
		ManifestURL string `json:"manifest_url"`
		Target      string `json:"target"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &sum); err != nil || sum.Rows != 3 || !strings.HasPrefix(sum.ManifestURL, "s3://lake/raw/sf18_files/") {
		t.Fatalf("summary %s (%v)", res.Stdout, err)
	}
	if got := sfRows(t, sf, "PUBLIC.SF18_FILES"); fmt.Sprint(got) != "[1=one 2=two, too 3=three]" {
		t.Errorf("rows: %v", got)
	}
	var copies []string
	for _, q := range sfStatements(sf) {
		if strings.HasPrefix(q, "COPY") {
			copies = append(copies, q)
		}
	}
	if len(copies) != 1 || !strings.Contains(copies[0], `FROM @LAKE/sf18_files/<run>/ FILES=('part-00001.parquet') FILE_FORMAT=(TYPE=PARQUET) MATCH_BY_COLUMN_NAME=CASE_INSENSITIVE`) {
		t.Errorf("COPY statements: %v", copies)
	}
	// A file that does not parse: nothing published, nothing loaded.
	res = bin.Run(t, env, "cp", "snap", "s3", "sf.PUBLIC.SF18_BAD", "--files", "sf18_bad/*.csv", "--schema", "id:int64,name:utf8",
		"--stage", "LAKE", "--publish-to", "s3.sf18_bad_run")
	if res.Code == 0 || !strings.Contains(res.Stderr, "x.csv") || !strings.Contains(res.Stderr, "nothing was published or loaded") {
		t.Errorf("bad file: exit %d\n%s", res.Code, res.Stderr)
	}
	if objs := s3srv.Objects(t, "lake", "raw/sf18_bad_run/"); len(objs) != 0 {
		t.Errorf("published after a failure: %v", objs)
	}
	if _, ok := sf.Rows("PUBLIC.SF18_BAD"); ok {
		t.Errorf("table created after a failure")
	}
	// --stage still needs the store to publish to.
	res = bin.Run(t, env, "cp", "snap", "s3", "sf.PUBLIC.SF18_FILES", "--files", "sf18_in/*.csv*", "--stage", "LAKE")
	if res.Code == 0 || !strings.Contains(res.Stderr, "--publish-to") {
		t.Errorf("--stage without --publish-to: exit %d\n%s", res.Code, res.Stderr)
	}
}
