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
)

// Published runs as a source: hp cp snap/delta from a file or S3
// connection into PostgreSQL, stdout and another prefix.

// rsSetup creates the test's own schema runsrc_e2e_<tag>, so that the
// tests run in parallel, and returns its name.
func rsSetup(t *testing.T, tag string) string {
	t.Helper()
	t.Parallel()
	schema := "runsrc_e2e_" + tag
	pgExec(t, "drop schema if exists "+schema+" cascade; create schema "+schema)
	pgCleanup(t, "drop schema if exists "+schema+" cascade")
	return schema
}

// rsSameColumns fails naming every column of a whose values differ from
// b's, row by row on id (each value through its type's output function).
func rsSameColumns(t *testing.T, a, b string) {
	t.Helper()
	cols := strings.Split(pgExec(t, fmt.Sprintf(`select string_agg(attname, ',' order by attnum) from pg_attribute
		where attrelid = '%s'::regclass and attnum > 0 and not attisdropped`, a)), ",")
	var diffs []string
	for _, c := range cols {
		n := pgExec(t, fmt.Sprintf(`select count(*) from %[1]s x full join %[2]s y using (id)
			where x.id is null or y.id is null or row(x.%[3]s)::text is distinct from row(y.%[3]s)::text`, a, b, c))
		if n != "0" {
			diffs = append(diffs, c+": "+n+" rows")
		}
	}
	if len(diffs) > 0 {
		t.Fatalf("%s and %s differ in columns %s", a, b, strings.Join(diffs, "; "))
	}
}

func rsRunID(t *testing.T, res testkit.Result) string {
	t.Helper()
	var s struct {
		RunID string `json:"run_id"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &s); err != nil || s.RunID == "" {
		t.Fatalf("no run id in %q (exit %d): %v\n%s", res.Stdout, res.Code, err, res.Stderr)
	}
	return s.RunID
}

// TestRunSourceRoundTripPostgres: every PostgreSQL type hp maps goes table
// → run (CSV and Parquet, in S3) → table value-identical, column by column,
// into a table hp creates and into one of the source's own types; a run
// re-encoded CSV → Parquet reads back the same; stdout gets the rows.
func TestRunSourceRoundTripPostgres(t *testing.T) {
	bin := testkit.Build(t)
	rsSchema := rsSetup(t, "rt")
	src := rsSchema + ".src"
	pgwSource(t, src, 700)
	_, env := s3Target(t, "")
	env = append(env, "HP_PG_DSN="+pgDSN)
	run := func(args ...string) testkit.Result {
		t.Helper()
		res := bin.Run(t, env, args...)
		if res.Code != 0 {
			t.Fatalf("hp %s: exit %d\n%s", strings.Join(args, " "), res.Code, res.Stderr)
		}
		return res
	}
	for _, f := range []string{"csv", "parquet"} {
		run("cp", "snap", "pg."+src, "s3.rt_"+f, "--format", f, "--max-file-rows", "200")
		created := rsSchema + ".new_" + f
		res := run("cp", "snap", "s3.rt_"+f, "pg."+created)
		if !strings.Contains(res.Stderr, "700 rows into pg."+created) {
			t.Fatalf("%s: %s", f, res.Stderr)
		}
		rsSameColumns(t, src, created)
		pgwSame(t, src, created)
		like := rsSchema + ".like_" + f
		pgExec(t, fmt.Sprintf("create table %s (like %s including all)", like, src))
		run("cp", "snap", "s3.rt_"+f, "pg."+like)
		rsSameColumns(t, src, like)
		pgwSame(t, src, like)
	}
	// CSV run → Parquet run → table.
	res := run("cp", "snap", "s3.rt_csv", "s3.rt_reenc", "--format", "parquet", "--output", "json")
	var sum struct {
		Rows        int64  `json:"rows"`
		ManifestURL string `json:"manifest_url"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &sum); err != nil || sum.Rows != 700 || !strings.HasPrefix(sum.ManifestURL, "s3://lake/raw/rt_reenc/") {
		t.Fatalf("re-encode: %v %+v", err, sum)
	}
	run("cp", "snap", "s3.rt_reenc", "pg."+rsSchema+".reenc")
	rsSameColumns(t, src, rsSchema+".reenc")
	// stdout: the CSV of the run, a header and 700 rows of which some hold
	// newlines inside quotes: compare with a direct extract.
	direct := run("cp", "snap", "pg."+src, "stdout", "--compression", "none")
	viaRun := run("cp", "snap", "s3.rt_parquet", "stdout", "--compression", "none")
	if viaRun.Stdout != direct.Stdout || len(direct.Stdout) < 1000 {
		t.Fatalf("stdout from the run differs from the table's (%d and %d bytes)", len(viaRun.Stdout), len(direct.Stdout))
	}
}

// TestRunSourceTamperedFileLoadsNothing: a file changed after publication
// (same size) fails the load naming it; the table keeps its rows, and a
// table that did not exist is not created. A named run loads that run.
func TestRunSourceTamperedFileLoadsNothing(t *testing.T) {
	bin := testkit.Build(t)
	rsSchema := rsSetup(t, "tamper")
	src := rsSchema + ".tsrc"
	deltaTable(t, src, 500)
	srv, env := s3Target(t, "")
	env = append(env, "HP_PG_DSN="+pgDSN)
	first := rsRunID(t, bin.Run(t, env, "cp", "snap", "pg."+src, "s3.orders", "--max-file-rows", "100", "--compression", "none", "--output", "json"))
	pgExec(t, "delete from "+src+" where id > 250")
	second := rsRunID(t, bin.Run(t, env, "cp", "snap", "pg."+src, "s3.orders", "--max-file-rows", "100", "--compression", "none", "--output", "json"))
	if first == second {
		t.Fatal("one run id for two runs")
	}
	kept := rsSchema + ".kept"
	if res := bin.Run(t, env, "cp", "snap", "s3.orders@"+first, "pg."+kept); res.Code != 0 || !strings.Contains(res.Stderr, "503 rows") {
		t.Fatalf("named run: exit %d\n%s", res.Code, res.Stderr)
	}
	if res := bin.Run(t, env, "cp", "snap", "s3.orders", "pg."+rsSchema+".latest"); res.Code != 0 || !strings.Contains(res.Stderr, "253 rows") {
		t.Fatalf("latest run: exit %d\n%s", res.Code, res.Stderr)
	}
	// Merge on keys and append, through the plugin's own write modes.
	latest := rsSchema + ".latest"
	if res := bin.Run(t, env, "cp", "snap", "s3.orders@"+first, "pg."+latest, "--write-mode", "merge", "--primary-keys", "id"); res.Code != 0 {
		t.Fatalf("merge: exit %d\n%s", res.Code, res.Stderr)
	}
	if n := pgExec(t, "select count(*) || '/' || count(distinct id) from "+latest); n != "503/503" {
		t.Fatalf("after the merge: %s rows/ids", n)
	}
	if res := bin.Run(t, env, "cp", "snap", "s3.orders", "pg."+latest, "--write-mode", "append"); res.Code != 0 {
		t.Fatalf("append: exit %d\n%s", res.Code, res.Stderr)
	}
	if n := pgExec(t, "select count(*) from "+latest); n != "756" {
		t.Fatalf("after the append: %s rows", n)
	}
	if res := bin.Run(t, env, "cp", "snap", "s3.orders", "pg."+latest, "--dry-run"); res.Code != 0 || !strings.Contains(res.Stdout, "runs:     orders") {
		t.Fatalf("dry run: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}

	// Change one digit of the third file of the first run.
	key := fmt.Sprintf("raw/orders/%s/part-00003.csv", first)
	objs := srv.Objects(t, "lake", key)
	body := objs[key]
	changed := bytes.Replace(body, []byte(",v2"), []byte(",v9"), 1)
	if bytes.Equal(body, changed) || len(body) != len(changed) {
		t.Fatalf("cannot tamper with %s", key)
	}
	if _, err := srv.Client(t).PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("lake"), Key: aws.String(key), Body: bytes.NewReader(changed)}); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{kept, rsSchema + ".never"} {
		res := bin.Run(t, env, "cp", "snap", "s3.orders@"+first, "pg."+target)
		if res.Code == 0 || !strings.Contains(res.Stderr, "s3://lake/raw/orders/"+first+"/part-00003.csv") || !strings.Contains(res.Stderr, "SHA-256") {
			t.Fatalf("tampered run into %s: exit %d\n%s", target, res.Code, res.Stderr)
		}
	}
	if n := pgExec(t, "select count(*) from "+kept); n != "503" {
		t.Fatalf("%s holds %s rows after the failed load, want its 503", kept, n)
	}
	if reg := pgExec(t, "select to_regclass('"+rsSchema+".never') is null"); reg != "t" {
		t.Fatalf("the failed load created %s.never", rsSchema)
	}
	// A run that does not exist, and a source option that does not apply.
	if res := bin.Run(t, env, "cp", "snap", "s3.orders@nope", "pg."+kept); res.Code == 0 || !strings.Contains(res.Stderr, second) {
		t.Fatalf("unknown run: exit %d\n%s", res.Code, res.Stderr)
	}
	if res := bin.Run(t, env, "cp", "snap", "s3.orders", "pg."+kept, "--where", "id > 1"); res.Code == 0 || !strings.Contains(res.Stderr, "read whole") {
		t.Fatalf("--where: exit %d\n%s", res.Code, res.Stderr)
	}
}

// TestRunSourceDeltaIntoPostgres: hp cp delta from published delta runs
// into a table appends each run exactly once: a second delta loads
// nothing, a damaged run stops the delta after the runs before it with the
// table holding them, and the next delta loads the rest.
func TestRunSourceDeltaIntoPostgres(t *testing.T) {
	bin := testkit.Build(t)
	rsSchema := rsSetup(t, "delta")
	src, tgt := rsSchema+".dsrc", rsSchema+".dtgt"
	deltaTable(t, src, 300)
	srv, env := s3Target(t, "")
	env = append(env, "HP_PG_DSN="+pgDSN)
	extract := func() string {
		t.Helper()
		res := bin.Run(t, env, "cp", "delta", "pg."+src, "s3.dl", "--delta-driver", "updated_at", "--output", "json")
		var s struct {
			Runs []struct {
				RunID string `json:"run_id"`
			} `json:"runs"`
		}
		if err := json.Unmarshal([]byte(res.Stdout), &s); err != nil || len(s.Runs) != 1 {
			t.Fatalf("extract: exit %d, %v\n%s\n%s", res.Code, err, res.Stdout, res.Stderr)
		}
		return s.Runs[0].RunID
	}
	load := func(wantRuns int) testkit.Result {
		t.Helper()
		res := bin.Run(t, env, "cp", "delta", "s3.dl", "pg."+tgt)
		if res.Code != 0 || !strings.Contains(res.Stderr, fmt.Sprintf("in %d runs", wantRuns)) {
			t.Fatalf("load: exit %d, want %d runs\n%s", res.Code, wantRuns, res.Stderr)
		}
		return res
	}
	rows := func() string {
		t.Helper()
		return pgExec(t, "select count(*) || '/' || count(distinct id) from "+tgt)
	}
	extract()
	load(1)
	if got := rows(); got != "300/300" {
		t.Fatalf("after the first load: %s rows/ids", got)
	}
	load(0)
	if got := rows(); got != "300/300" {
		t.Fatalf("after a second load: %s rows/ids", got)
	}
	for _, from := range []int{301, 401} {
		pgExec(t, fmt.Sprintf(`insert into %s select g, 'v' || g, g / 7.0, timestamptz '2024-03-30 22:00:00.000001+00' + g * interval '1 minute 0.000001 second'
			from generate_series(%d, %d) g`, src, from, from+99))
	}
	extract()
	pgExec(t, fmt.Sprintf(`insert into %s select g, 'v' || g, 0, timestamptz '2025-01-01 00:00:00+00' + g * interval '1 second' from generate_series(501, 550) g`, src))
	third := extract()

	key := "raw/dl/" + third + "/part-00001.csv.gz"
	good := srv.Objects(t, "lake", key)[key]
	bad := bytes.Clone(good)
	bad[len(bad)/2] ^= 0x55
	put := func(body []byte) {
		t.Helper()
		if _, err := srv.Client(t).PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("lake"), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	put(bad)
	res := bin.Run(t, env, "cp", "delta", "s3.dl", "pg."+tgt)
	if res.Code == 0 || !strings.Contains(res.Stderr, "s3://lake/"+key) || !strings.Contains(res.Stderr, "manifest") {
		t.Fatalf("damaged run: exit %d\n%s", res.Code, res.Stderr)
	}
	if got := rows(); got != "500/500" {
		t.Fatalf("after the failed load: %s rows/ids, want the 500 of the runs before the damaged one", got)
	}
	put(good)
	load(1)
	load(0)
	if got := rows(); got != "550/550" {
		t.Fatalf("after the repair: %s rows/ids", got)
	}
}
