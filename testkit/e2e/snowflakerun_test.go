package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/halfpipe-io/halfpipe/testkit"
	sfserver "github.com/halfpipe-io/halfpipe/testkit/snowflake"
)

// TestSnowflakeLoadsAnExistingRun: PostgreSQL → a run in S3 (under the
// stage's URL) → hp cp snap <run> sf.<table> --stage: the connector loads
// exactly the run's files, nothing is published again; replace and append
// (a retried append loads nothing twice), the statements pinned, the rows
// those of the manifest. A run with a missing file or a file of another
// size fails before Snowflake is asked anything, the table unchanged.
func TestSnowflakeLoadsAnExistingRun(t *testing.T) {
	t.Parallel()
	const schema = "sfrun_e2e"
	bin := testkit.Build(t, "postgres", "snowflake")
	s3srv, sf, env := sfRunSetup(t, schema)
	run := func(args ...string) testkit.Result {
		t.Helper()
		res := bin.Run(t, env, args...)
		if res.Code != 0 {
			t.Fatalf("hp %s: exit %d\n%s", strings.Join(args, " "), res.Code, res.Stderr)
		}
		return res
	}
	type summary struct {
		RunID       string `json:"run_id"`
		Rows        int64  `json:"rows"`
		Files       int    `json:"files"`
		Target      string `json:"target"`
		ManifestURL string `json:"manifest_url"`
	}
	summaryOf := func(res testkit.Result) summary {
		t.Helper()
		var s summary
		if err := json.Unmarshal([]byte(res.Stdout), &s); err != nil {
			t.Fatalf("summary %q: %v", res.Stdout, err)
		}
		return s
	}
	pq := summaryOf(run("cp", "snap", "pg."+schema+".orders", "s3.sfrun", "--format", "parquet", "--max-file-rows", "200", "--output", "json"))
	csv := summaryOf(run("cp", "snap", "pg."+schema+".orders", "s3.sfrun_csv", "--output", "json"))
	if pq.Rows != 500 || pq.Files != 3 || csv.Rows != 500 {
		t.Fatalf("runs: %+v %+v", pq, csv)
	}
	objectsBefore := len(s3srv.Objects(t, "lake", "raw/"))
	sfStatements(sf)
	base := want(500, func(id int) string {
		if id == 7 {
			return "7=NULL"
		}
		return fmt.Sprintf("%d=n%d", id, id)
	})
	cols := `("ID" NUMBER(19,0), "NAME" VARCHAR, "AMOUNT" NUMBER(12,2), "UPDATED_AT" TIMESTAMP_LTZ(6))`
	pqFiles := `FILES=('part-00001.parquet', 'part-00002.parquet', 'part-00003.parquet') FILE_FORMAT=(TYPE=PARQUET) MATCH_BY_COLUMN_NAME=CASE_INSENSITIVE ON_ERROR=ABORT_STATEMENT`

	// Replace: the latest run of sfrun, one transaction.
	s := summaryOf(run("cp", "snap", "s3.sfrun", "sf.PUBLIC.ORDERS_RUN", "--stage", "LAKE", "--output", "json"))
	if s.Rows != pq.Rows || s.RunID != pq.RunID || s.ManifestURL != pq.ManifestURL || s.Target != "sf.PUBLIC.ORDERS_RUN" {
		t.Fatalf("replace: summary %+v, the run %+v", s, pq)
	}
	if got := sfRows(t, sf, "PUBLIC.ORDERS_RUN"); fmt.Sprint(got) != fmt.Sprint(base) {
		t.Fatalf("after the replace: %d rows %v...", len(got), got[:min(5, len(got))])
	}
	st := sfStatements(sf)
	wantSt := []string{
		`DESC STAGE LAKE`,
		`CREATE TABLE "PUBLIC"."ORDERS_RUN" ` + cols,
		`BEGIN`,
		`DELETE FROM "PUBLIC"."ORDERS_RUN"`,
		`COPY INTO "PUBLIC"."ORDERS_RUN" FROM @LAKE/sfrun/<run>/ ` + pqFiles + ` FORCE=TRUE`,
		`COMMIT`,
	}
	sfPin(t, "replace", st, wantSt)

	// Append into another table, twice: the retry finds the files in the
	// load history and loads nothing.
	for i, wantRows := range []int64{500, 0} {
		s = summaryOf(run("cp", "snap", "s3.sfrun@"+pq.RunID, "sf.PUBLIC.ORDERS_APP", "--stage", "LAKE", "--write-mode", "append", "--output", "json"))
		if s.Rows != wantRows {
			t.Fatalf("append %d: %d rows loaded, want %d", i+1, s.Rows, wantRows)
		}
		if got := sfRows(t, sf, "PUBLIC.ORDERS_APP"); fmt.Sprint(got) != fmt.Sprint(base) {
			t.Fatalf("after append %d: %d rows", i+1, len(got))
		}
		st = sfStatements(sf)
		copyApp := `COPY INTO "PUBLIC"."ORDERS_APP" FROM @LAKE/sfrun/<run>/ ` + pqFiles
		create := `CREATE TABLE "PUBLIC"."ORDERS_APP" ` + cols
		if i > 0 {
			create += " -- error 002002" // it exists
		}
		sfPin(t, fmt.Sprintf("append %d", i+1), st, []string{`DESC STAGE LAKE`, create, `BEGIN`, copyApp, `COMMIT`})
	}
	// A CSV run: the manifest's CSV options go with it.
	s = summaryOf(run("cp", "snap", "s3.sfrun_csv", "sf.PUBLIC.ORDERS_CSV", "--stage", "LAKE", "--output", "json"))
	if s.Rows != csv.Rows {
		t.Fatalf("csv: %+v", s)
	}
	if got := sfRows(t, sf, "PUBLIC.ORDERS_CSV"); fmt.Sprint(got) != fmt.Sprint(base) {
		t.Fatalf("csv table: %d rows", len(got))
	}
	var csvCopy string
	for _, q := range sfStatements(sf) {
		if strings.HasPrefix(q, "COPY INTO") {
			csvCopy = q
		}
	}
	if !strings.Contains(csvCopy, `FROM @LAKE/sfrun_csv/<run>/ FILES=('part-00001.csv.gz') FILE_FORMAT=(TYPE=CSV PARSE_HEADER=TRUE FIELD_DELIMITER=','`) {
		t.Fatalf("csv COPY: %s", csvCopy)
	}
	if n := len(s3srv.Objects(t, "lake", "raw/")); n != objectsBefore {
		t.Fatalf("loading runs wrote to the lake: %d objects, %d before", n, objectsBefore)
	}

	// A file of another size, then a missing one: nothing reaches
	// Snowflake, the table keeps its rows.
	key := "raw/sfrun/" + pq.RunID + "/part-00002.parquet"
	body := s3srv.Objects(t, "lake", key)[key]
	put := func(b []byte) {
		t.Helper()
		if _, err := s3srv.Client(t).PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("lake"), Key: aws.String(key), Body: bytes.NewReader(b)}); err != nil {
			t.Fatal(err)
		}
	}
	put(body[:len(body)-1])
	res := bin.Run(t, env, "cp", "snap", "s3.sfrun", "sf.PUBLIC.ORDERS_RUN", "--stage", "LAKE")
	if res.Code == 0 || !strings.Contains(res.Stderr, "file s3://lake/"+key+" does not match the manifest: "+fmt.Sprint(len(body)-1)+" bytes") {
		t.Fatalf("a file of another size: exit %d\n%s", res.Code, res.Stderr)
	}
	if _, err := s3srv.Client(t).DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String("lake"), Key: aws.String(key)}); err != nil {
		t.Fatal(err)
	}
	res = bin.Run(t, env, "cp", "snap", "s3.sfrun", "sf.PUBLIC.ORDERS_RUN", "--stage", "LAKE", "--write-mode", "append")
	if res.Code == 0 || !strings.Contains(res.Stderr, "file s3://lake/"+key+" is missing") || strings.Contains(res.Stderr, "sf-pw-123") {
		t.Fatalf("a missing file: exit %d\n%s", res.Code, res.Stderr)
	}
	if st := sfStatements(sf); len(st) != 0 {
		t.Fatalf("a damaged run reached Snowflake:\n%s", strings.Join(st, "\n"))
	}
	if got := sfRows(t, sf, "PUBLIC.ORDERS_RUN"); fmt.Sprint(got) != fmt.Sprint(base) {
		t.Fatalf("after the failed loads: %d rows", len(got))
	}
	// --publish-to with a run is refused: it is published already.
	res = bin.Run(t, env, "cp", "snap", "s3.sfrun_csv", "sf.PUBLIC.ORDERS_CSV", "--stage", "LAKE", "--publish-to", "s3.again")
	if res.Code != 2 || !strings.Contains(res.Stderr, "published already") {
		t.Fatalf("--publish-to with a run: exit %d\n%s", res.Code, res.Stderr)
	}
}

// sfPin fails unless the statements are want, in order.
func sfPin(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%s: statements\n%s\nwant\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// sfRunSetup creates schema.orders in PostgreSQL (as sfOrders) and starts
// sfTarget's servers, keeping the S3 server to tamper with.
func sfRunSetup(t *testing.T, schema string) (*testkit.S3Server, *sfserver.Server, []string) {
	t.Helper()
	pgExec(t, `drop schema if exists `+schema+` cascade; create schema `+schema+`;
		create table `+schema+`.orders (id bigint primary key, name text, amount numeric(12,2), updated_at timestamptz(6));
		insert into `+schema+`.orders select g, 'n' || g, g / 4.0, timestamptz '2024-05-01 00:00:00+00' + g * interval '1 minute' from generate_series(1, 500) g;
		update `+schema+`.orders set name = null where id = 7`)
	pgCleanup(t, "drop schema if exists "+schema+" cascade")
	s3srv, env := s3Target(t, "")
	sf := sfserver.Start(t, sfserver.Config{Account: "hptest", Users: []sfserver.User{{Name: "ETL", Password: "sf-pw-123"}}, S3: s3srv.Client(t)})
	sf.AddStage("LAKE", "s3://lake/raw/")
	return s3srv, sf, append(env, "HP_PG_DSN="+pgDSN,
		fmt.Sprintf("HP_SF_DSN=snowflake://etl:sf-pw-123@hptest/TEST_DB/PUBLIC?protocol=http&host=%s&port=%d", sf.Host, sf.Port))
}

// TestSnowflakeDeltaOfRuns: hp cp delta of published delta runs into
// Snowflake through the stage merges each run once, on the keys its
// manifest records, from the run's own files; a second delta loads none.
func TestSnowflakeDeltaOfRuns(t *testing.T) {
	t.Parallel()
	const schema = "sfrund_e2e"
	bin := testkit.Build(t, "postgres", "snowflake")
	_, sf, env := sfRunSetup(t, schema)
	extract := func() int64 {
		t.Helper()
		s := runDelta(t, bin, env, "pg."+schema+".orders", "s3.dl", "--delta-driver", "updated_at", "--primary-keys", "id")
		if len(s.Runs) != 1 {
			t.Fatalf("extract: %+v", s)
		}
		return s.Rows
	}
	load := func(wantRuns int, wantRows int64) {
		t.Helper()
		res := bin.Run(t, env, "cp", "delta", "s3.dl", "sf.PUBLIC.ORDERS_DL", "--stage", "LAKE", "--output", "json")
		var s deltaSummary
		if err := json.Unmarshal([]byte(res.Stdout), &s); res.Code != 0 || err != nil || len(s.Runs) != wantRuns || s.Rows != wantRows {
			t.Fatalf("load: exit %d, want %d runs of %d rows: %+v %v\n%s", res.Code, wantRuns, wantRows, s, err, res.Stderr)
		}
	}
	first := extract()
	second := func() int64 {
		pgExec(t, `update `+schema+`.orders set name = 'changed', updated_at = timestamptz '2024-06-01 00:00:00+00' + id * interval '1 second' where id <= 10;
			insert into `+schema+`.orders values (501, 'new', 1, timestamptz '2024-06-02 00:00:00+00')`)
		return extract()
	}()
	if first != 500 || second != 11 {
		t.Fatalf("extracts of %d and %d rows", first, second)
	}
	sfStatements(sf)
	load(2, 511)
	expect := want(501, func(id int) string {
		switch {
		case id <= 10:
			return fmt.Sprintf("%d=changed", id)
		case id == 501:
			return "501=new"
		}
		return fmt.Sprintf("%d=n%d", id, id)
	})
	if got := sfRows(t, sf, "PUBLIC.ORDERS_DL"); fmt.Sprint(got) != fmt.Sprint(expect) {
		t.Fatalf("after the delta: %d rows %v...", len(got), got[:min(12, len(got))])
	}
	var merges, copies int
	for _, q := range sfStatements(sf) {
		if strings.HasPrefix(q, `MERGE INTO "PUBLIC"."ORDERS_DL" AS T`) {
			merges++
		}
		if strings.HasPrefix(q, `COPY INTO "PUBLIC"."HP_LOAD_*" FROM @LAKE/dl/<run>/ FILES=('part-00001.csv')`) {
			copies++
		}
	}
	if merges != 2 || copies != 2 {
		t.Fatalf("%d MERGE and %d COPY from the runs' files, want 2 each", merges, copies)
	}
	load(0, 0)
	if st := sfStatements(sf); len(st) != 0 {
		t.Fatalf("a delta with no new run sent:\n%s", strings.Join(st, "\n"))
	}
}
