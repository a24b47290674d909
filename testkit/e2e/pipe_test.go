package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// pipeSummary is hp pipe's JSON summary, as a consumer reads it.
type pipeSummary struct {
	Jobs []struct {
		Name          string `json:"name"`
		Source        string `json:"source"`
		Status        string `json:"status"`
		Rows          int64  `json:"rows"`
		RunID         string `json:"run_id"`
		ManifestURL   string `json:"manifest_url"`
		HighWaterMark string `json:"high_water_mark"`
		Error         string `json:"error"`
	} `json:"jobs"`
	OK     int `json:"ok"`
	Failed int `json:"failed"`
	NotRun int `json:"not_run"`
}

func readPipeSummary(t *testing.T, data []byte) pipeSummary {
	t.Helper()
	var s pipeSummary
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("summary %q: %v", data, err)
	}
	return s
}

// pipeSchema creates schema with n tables t01..tNN, table i holding i*10
// rows; it is dropped when the test ends.
func pipeSchema(t *testing.T, schema string, n int) {
	t.Helper()
	var sql strings.Builder
	fmt.Fprintf(&sql, "drop schema if exists %[1]s cascade; create schema %[1]s;", schema)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&sql, "create table %s.t%02d as select g as id, 'row ' || g as v from generate_series(1, %d) g;", schema, i, i*10)
	}
	pgExec(t, sql.String())
	pgCleanup(t, "drop schema if exists "+schema+" cascade")
}

// TestPipeTwentyTables: a pipe of 20 PostgreSQL tables (one glob job and
// one job of its own) into a directory, the lone job failing on a bad
// predicate: exit 1, a summary of 19 ok and 1 failed, nothing published
// for it; after the fix, --failed-from reruns only that job, and every
// table then has exactly one manifest with all its rows.
func TestPipeTwentyTables(t *testing.T) {
	t.Parallel() // its own schema and directory
	bin := testkit.Build(t, "postgres")
	const schema = "hp_e2e_pipe20"
	pipeSchema(t, schema, 20)
	out, work := t.TempDir(), t.TempDir()
	env := []string{"HP_PG_DSN=" + pgDSN, "HP_LAKE_DSN=" + out}
	file := filepath.Join(work, "pipe.yaml")
	pipeline := func(where string) {
		text := fmt.Sprintf(`# 19 tables by a regex, one by name
defaults:
  kind: snap
  compression: none
  target: lake.tables/{table}
jobs:
  - name: "{table}"
    source: pg.%[1]s./^t(0[1-9]|1[0-9])$/
  - name: t20
    source: pg.%[1]s.t20
    where: %[2]s
`, schema, where)
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pipeline("no_such_column > 0")

	res := bin.Run(t, env, "pipe", "run", file, "--dry-run")
	if res.Code != 0 || strings.Count(res.Stdout, "\n") != 21 || !strings.Contains(res.Stdout, "lake.tables/t07") {
		t.Fatalf("dry run: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	if ms := findManifests(t, out); len(ms) != 0 {
		t.Fatalf("a dry run published %v", ms)
	}

	summary := filepath.Join(work, "summary.json")
	res = bin.Run(t, env, "pipe", "run", file, "--jobs", "4", "--summary", summary)
	if res.Code != 1 || res.Stdout != "" {
		t.Fatalf("first run: exit %d, stdout %q, want 1\n%s", res.Code, res.Stdout, res.Stderr)
	}
	raw, err := os.ReadFile(summary)
	if err != nil {
		t.Fatal(err)
	}
	s := readPipeSummary(t, raw)
	if s.OK != 19 || s.Failed != 1 || s.NotRun != 0 || len(s.Jobs) != 20 {
		t.Fatalf("summary: %s", raw)
	}
	runIDs := map[string]string{}
	for i, j := range s.Jobs {
		name := fmt.Sprintf("t%02d", i+1)
		if j.Name != name || j.Source != fmt.Sprintf("pg.%s.%s", schema, name) {
			t.Errorf("job %d is %s (%s), want %s in file order", i, j.Name, j.Source, name)
		}
		if name == "t20" {
			if j.Status != "failed" || !strings.Contains(j.Error, "no_such_column") || j.RunID != "" || j.Rows != 0 {
				t.Errorf("the failing job: %+v", j)
			}
			continue
		}
		if j.Status != "ok" || j.Rows != int64((i+1)*10) || j.RunID == "" || !strings.Contains(j.ManifestURL, "/tables/"+name+"/") {
			t.Errorf("job %s: %+v", name, j)
		}
		runIDs[name] = j.RunID
	}
	testkit.Contains(t, "the log", res.Stderr, "pipe: failed  t20", "19 ok, 1 failed", "1 of 20 jobs failed")
	if _, err := os.Stat(filepath.Join(out, "tables", "t20")); !os.IsNotExist(err) {
		t.Errorf("the failed job left files: %v", allFiles(t, filepath.Join(out, "tables", "t20")))
	}

	// Fixed, the failed job alone runs again.
	pipeline("id > 0")
	res = bin.Run(t, env, "pipe", "run", file, "--failed-from", summary)
	if res.Code != 0 {
		t.Fatalf("rerun: exit %d\n%s", res.Code, res.Stderr)
	}
	s = readPipeSummary(t, []byte(res.Stdout))
	if s.OK != 1 || len(s.Jobs) != 1 || s.Jobs[0].Name != "t20" || s.Jobs[0].Rows != 200 {
		t.Fatalf("rerun summary: %s", res.Stdout)
	}
	runIDs["t20"] = s.Jobs[0].RunID

	// Every table: one manifest, the run of its job, all its rows; hp
	// verify re-reads every file against its manifest.
	if ms := findManifests(t, out); len(ms) != 20 {
		t.Fatalf("%d manifests, want 20: %v", len(ms), ms)
	}
	for i := 1; i <= 20; i++ {
		name := fmt.Sprintf("t%02d", i)
		ms := findManifests(t, filepath.Join(out, "tables", name))
		if len(ms) != 1 {
			t.Errorf("%s: manifests %v, want one", name, ms)
			continue
		}
		raw, _ := os.ReadFile(ms[0])
		var m manifestDoc
		if err := json.Unmarshal(raw, &m); err != nil || m.TotalRows != int64(i*10) || m.RunID != runIDs[name] {
			t.Errorf("%s: manifest of run %s with %d rows, want run %s with %d (%v)", name, m.RunID, m.TotalRows, runIDs[name], i*10, err)
		}
	}
	if res := bin.Run(t, env, "verify", "lake.tables"); res.Code != 0 {
		t.Errorf("hp verify: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
}

// TestPipeDelta: a delta job of a pipe keeps and advances its state as
// hp cp delta does: the second run publishes only the rows changed since.
func TestPipeDelta(t *testing.T) {
	t.Parallel() // its own table and directory
	bin := testkit.Build(t, "postgres")
	const table = "hp_e2e_pipe_delta"
	deltaTable(t, table, 100)
	out := t.TempDir()
	env := []string{"HP_PG_DSN=" + pgDSN, "HP_LAKE_DSN=" + out, "HP_PIPE=" + `jobs:
  - name: changes
    kind: delta
    source: pg.public.` + table + `
    target: lake.changes
    delta-driver: updated_at
    primary-keys: id
    compression: none
`}
	run := func() pipeSummary {
		t.Helper()
		res := bin.Run(t, env, "pipe", "run")
		if res.Code != 0 {
			t.Fatalf("exit %d\n%s", res.Code, res.Stderr)
		}
		return readPipeSummary(t, []byte(res.Stdout))
	}
	first := run().Jobs[0]
	if first.Status != "ok" || first.Rows != 100 || first.HighWaterMark == "" {
		t.Fatalf("first run: %+v", first)
	}
	state, err := os.ReadFile(filepath.Join(out, "changes", "_state.json"))
	if err != nil || !strings.Contains(string(state), first.RunID) {
		t.Fatalf("state after the first run (%v):\n%s", err, state)
	}
	pgExec(t, fmt.Sprintf(`update %s set v = 'changed', updated_at = updated_at + interval '1 day' where id in (3, 4, 5)`, table))
	second := run().Jobs[0]
	if second.Status != "ok" || second.Rows != 3 || second.HighWaterMark <= first.HighWaterMark || second.RunID == first.RunID {
		t.Fatalf("second run: %+v (first %+v)", second, first)
	}
	checkUnion(t, filepath.Join(out), table, true)
}

// TestPipeLambda runs a pipe under the Lambda runtime interface emulator,
// the pipeline inline in HP_PIPE: PostgreSQL tables selected by a glob
// into S3, one manifest per table.
func TestPipeLambda(t *testing.T) {
	t.Parallel() // its own schema, S3 server and emulator
	bootstrap, opt := lambdaTree(t)
	const schema = "hp_e2e_pipe_lambda"
	pipeSchema(t, schema, 3)
	srv := testkit.StartS3(t)
	srv.CreateBucket(t, "lake")
	env := append(srv.Env(),
		"HP_COMMAND=pipe", "HP_PG_DSN="+pgDSN,
		"HP_LAKE_DSN=s3://lake/raw?endpoint="+srv.Endpoint, "HP_LAKE_S3_REGION="+srv.Region,
		"HP_PLUGIN_DIR="+filepath.Join(opt, "hp", "plugins"), "HP_REQUIRE_CHECKSUMS=true", "HP_LOG_LEVEL=warn",
		"HP_PIPE=defaults:\n  kind: snap\n  format: jsonl\n  target: lake.{schema}/{table}\njobs:\n  - source: pg."+schema+".t*\n")
	fn := testkit.StartLambda(t, bootstrap, env, 60*time.Second)
	body, failed := fn.Invoke(t, `{}`)
	if failed {
		t.Fatalf("function error: %s", body)
	}
	s := readPipeSummary(t, body)
	if s.OK != 3 || len(s.Jobs) != 3 {
		t.Fatalf("summary: %s", body)
	}
	for i, j := range s.Jobs {
		name := fmt.Sprintf("t%02d", i+1)
		if j.Rows != int64((i+1)*10) || !strings.HasPrefix(j.ManifestURL, "s3://lake/raw/"+schema+"/"+name+"/") {
			t.Errorf("job %+v", j)
		}
		m, _ := readManifest(t, download(t, srv, "lake", "raw/"+schema+"/"+name+"/"))
		if m.TotalRows != int64((i+1)*10) || m.RunID != j.RunID || !strings.HasSuffix(m.Files[0].Path, ".jsonl.gz") {
			t.Errorf("%s: manifest %+v", name, m)
		}
	}

	// An event may override the pipeline, here with the S3 URL of a file;
	// a failed job fails the invocation, naming it, and the summary
	// written to S3 says so.
	yaml := "jobs:\n  - {kind: snap, source: pg." + schema + ".t01, target: lake.bad, where: nope > 1}\n  - {kind: snap, source: pg." + schema + ".t02, target: lake.good}\n"
	if _, err := srv.Client(t).PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("lake"), Key: aws.String("config/pipe.yaml"), Body: strings.NewReader(yaml)}); err != nil {
		t.Fatal(err)
	}
	query := "?endpoint=" + srv.Endpoint + "&region=" + srv.Region
	ev, _ := json.Marshal(map[string]string{"HP_PIPE": "s3://lake/config/pipe.yaml" + query, "HP_SUMMARY": "s3://lake/summaries/s.json" + query})
	body, failed = fn.Invoke(t, string(ev))
	if !failed || !strings.Contains(string(body), "pg."+schema+".t01 (failed)") || !strings.Contains(string(body), "nope") || strings.Contains(string(body), "t02 (") {
		t.Fatalf("failing pipe: failed=%v %s", failed, body)
	}
	if objs := srv.Objects(t, "lake", "raw/bad/"); len(objs) != 0 {
		t.Errorf("a failed job published %v", keys(objs))
	}
	if objs := srv.Objects(t, "lake", "raw/good/"); len(objs) != 2 {
		t.Errorf("the job beside the failed one published %v", keys(objs))
	}
	sum := readPipeSummary(t, srv.Objects(t, "lake", "summaries/")["summaries/s.json"])
	if sum.OK != 1 || sum.Failed != 1 || sum.Jobs[0].Status != "failed" || sum.Jobs[1].Rows != 20 {
		t.Errorf("summary in S3: %+v", sum)
	}
}

// TestPipeInterrupt: SIGINT while two jobs run cancels them and starts
// no more: exit 1, the running jobs failed and the others not_run in the
// summary, nothing published.
func TestPipeInterrupt(t *testing.T) {
	t.Parallel() // its own schema and directory
	bin := testkit.Build(t, "postgres")
	const schema = "hp_e2e_pipe_int"
	pipeSchema(t, schema, 4)
	out, work := t.TempDir(), t.TempDir()
	summary := filepath.Join(work, "summary.json")
	env := []string{"HP_PG_DSN=" + pgDSN, "HP_LAKE_DSN=" + out,
		"HP_PIPE={defaults: {kind: snap, where: pg_sleep(1) is not null}, jobs: [{source: pg." + schema + ".t*, target: \"lake.{table}\"}]}"}
	r := startHP(t, bin, env, 2*time.Minute, "pipe", "run", "--jobs", "2", "--summary", summary)
	r.until(t, "started two jobs", func() string {
		n := pgExec(t, "select count(*) from pg_stat_activity where query like '%pg_sleep(1)%' and query like '%"+schema+"%' and pid <> pg_backend_pid()")
		if n == "2" {
			return n
		}
		return ""
	})
	if err := r.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	code, took := r.wait(t)
	if code != 1 || took > 20*time.Second {
		t.Fatalf("exit %d after %s, want 1 at once\n%s", code, took, r.stderr.String())
	}
	raw, err := os.ReadFile(summary)
	if err != nil {
		t.Fatal(err)
	}
	s := readPipeSummary(t, raw)
	if s.OK != 0 || s.Failed != 2 || s.NotRun != 2 || len(s.Jobs) != 4 {
		t.Fatalf("summary: %s", raw)
	}
	for i, j := range s.Jobs {
		want := "failed"
		if i >= 2 {
			want = "not_run"
		}
		if j.Status != want || j.Error == "" || j.RunID != "" {
			t.Errorf("job %d: %+v, want %s", i, j, want)
		}
	}
	testkit.Contains(t, "hp's message", r.stderr.String(), "stopped before the job finished")
	assertNothingPublished(t, out)
}
