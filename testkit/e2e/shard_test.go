package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// shardPlan is what the tests read of a plan.
type shardPlan struct {
	RunID  string `json:"run_id"`
	RunDir string `json:"run_dir"`
	Slices []struct {
		Index        int
		Lower, Upper string
	} `json:"slices"`
	Manifest string `json:"manifest"`
}

// makeShardTable creates table with n rows keyed 1..n and drops it when
// the test ends.
func makeShardTable(t *testing.T, table string, n int) {
	t.Helper()
	pgExec(t, "drop table if exists "+table+"; create table "+table+` (id bigint primary key, label text, amount numeric(12,2), at timestamptz);
		insert into `+table+fmt.Sprintf(` select g, case when g %% 7 = 0 then null else 'label ' || g end, g * 1.25, '2026-01-01'::timestamptz + g * interval '1 minute'
		from generate_series(1, %d) g`, n))
	pgCleanup(t, "drop table if exists "+table)
}

// planShards runs hp plan and returns the plan.
func planShards(t *testing.T, bin *testkit.Binaries, env []string, args ...string) shardPlan {
	t.Helper()
	res := bin.Run(t, env, append([]string{"plan"}, append(args, "--output", "json")...)...)
	if res.Code != 0 {
		t.Fatalf("hp plan: exit %d\n%s", res.Code, res.Stderr)
	}
	var p shardPlan
	if err := json.Unmarshal([]byte(res.Stdout), &p); err != nil {
		t.Fatalf("hp plan --output json: %v\n%s", err, res.Stdout)
	}
	return p
}

// runShards runs hp shard for the indexes at once, as separate processes.
func runShards(t *testing.T, bin *testkit.Binaries, env []string, plan string, indexes ...int) {
	t.Helper()
	errs := make(chan error, len(indexes))
	for _, i := range indexes {
		go func() {
			res := bin.Run(t, env, "shard", "--plan", plan, "--index", fmt.Sprint(i))
			if res.Code != 0 {
				errs <- fmt.Errorf("shard %d: exit %d\n%s", i, res.Code, res.Stderr)
				return
			}
			errs <- nil
		}()
	}
	for range indexes {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// dataFiles lists the data files under dir (relative), neither manifests
// nor receipts.
func dataFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, p := range allFiles(t, dir) {
		rel, _ := filepath.Rel(dir, p)
		if !strings.Contains(rel, "/_shards/") && filepath.Base(rel) != "_manifest.json" {
			out = append(out, filepath.ToSlash(rel))
		}
	}
	sort.Strings(out)
	return out
}

// TestShardPostgresPlanShardCommit: a plan of 4 shards, run as 4
// concurrent processes and committed, publishes one manifest whose files
// are exactly the shards' files and whose rows are the table's (count and
// checksum against a whole snapshot); hp verify passes.
func TestShardPostgresPlanShardCommit(t *testing.T) {
	t.Parallel() // its own table and directories
	bin := testkit.Build(t, "postgres")
	const table = "public.hp_e2e_shard_commit"
	makeShardTable(t, table, 120000)
	out, whole, plans := t.TempDir(), t.TempDir(), t.TempDir()
	env := []string{"HP_PG_DSN=" + pgDSN, "HP_OUT_DSN=" + out, "HP_WHOLE_DSN=" + whole}
	plan := filepath.Join(plans, "orders.json")

	// --parallel 2: each shard reads its key range as two page ranges.
	p := planShards(t, bin, env, "pg."+table, "out.x", "--shards", "4", "--plan", plan, "--max-file-rows", "10000", "--parallel", "2")
	if len(p.Slices) != 4 || p.Slices[0].Lower != "" || p.Slices[3].Upper != "" || p.Slices[1].Lower == "" {
		t.Fatalf("plan slices: %+v", p.Slices)
	}
	if ms := findManifests(t, out); len(ms) != 0 {
		t.Fatalf("hp plan published %v", ms)
	}
	runShards(t, bin, env, plan, 0, 1, 2, 3)
	if ms := findManifests(t, out); len(ms) != 0 {
		t.Fatalf("the shards published %v before the commit", ms)
	}
	res := bin.Run(t, env, "commit", "--plan", plan)
	if res.Code != 0 {
		t.Fatalf("hp commit: exit %d\n%s", res.Code, res.Stderr)
	}
	m, _ := readManifest(t, out)
	if m.RunID != p.RunID {
		t.Errorf("manifest run %s, plan %s", m.RunID, p.RunID)
	}
	var listed []string
	for _, f := range m.Files {
		listed = append(listed, f.Path)
	}
	sort.Strings(listed)
	if got := dataFiles(t, out); strings.Join(got, ",") != strings.Join(listed, ",") || len(listed) < 12 {
		t.Fatalf("the manifest lists %v, the store holds %v", listed, got)
	}
	rows := runRows(t, out, "csv")
	if len(rows) != 120000 {
		t.Fatalf("%d rows, want 120000", len(rows))
	}
	if r := bin.Run(t, env, "cp", "snap", "pg."+table, "whole.x"); r.Code != 0 {
		t.Fatalf("whole snapshot: exit %d\n%s", r.Code, r.Stderr)
	}
	if a, b := digest(rows), digest(runRows(t, whole, "csv")); a != b {
		t.Fatalf("the shards' rows differ from a whole snapshot's")
	}
	if r := bin.Run(t, env, "verify", "out.x"); r.Code != 0 {
		t.Fatalf("hp verify: exit %d\n%s", r.Code, r.Stderr)
	}
	// A commit repeated (a retry) changes nothing; a shard of a committed
	// run is refused.
	if r := bin.Run(t, env, "commit", "--plan", plan); r.Code != 0 {
		t.Fatalf("second commit: exit %d\n%s", r.Code, r.Stderr)
	}
	if r := bin.Run(t, env, "shard", "--plan", plan, "--index", "1"); r.Code == 0 {
		t.Fatalf("a shard of a committed run ran")
	}
	if again, _ := readManifest(t, out); len(again.Files) != len(m.Files) {
		t.Fatalf("the manifest changed")
	}
}

// TestShardPostgresRerunAndRefusals: commit refuses a missing receipt and
// a tampered file and publishes nothing; a shard killed mid-way and run
// again leaves no duplicate rows.
func TestShardPostgresRerunAndRefusals(t *testing.T) {
	t.Parallel() // its own table and directories
	bin := testkit.Build(t, "postgres")
	const table = "public.hp_e2e_shard_rerun"
	makeShardTable(t, table, 400000)
	out, plans := t.TempDir(), t.TempDir()
	env := []string{"HP_PG_DSN=" + pgDSN, "HP_OUT_DSN=" + out}
	plan := filepath.Join(plans, "p.json")
	p := planShards(t, bin, env, "pg."+table, "out.y", "--shards", "3", "--plan", plan, "--max-file-rows", "2000", "--compression", "none")
	runDir := filepath.Join(out, filepath.FromSlash(strings.TrimPrefix(p.RunDir, "/")))

	// Shard 0 killed once its first files are in the store.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := bin.Command(ctx, t, env, "shard", "--plan", plan, "--index", "0")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for {
		if files, _ := filepath.Glob(filepath.Join(runDir, "shard-00000-part-*")); len(files) >= 3 {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("shard 0 wrote no files")
		}
		time.Sleep(5 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	if err := cmd.Wait(); err == nil {
		t.Fatal("shard 0 finished before it was killed: the table is too small for this test")
	}
	left, _ := filepath.Glob(filepath.Join(runDir, "shard-00000-part-*"))
	if len(left) == 0 {
		t.Fatal("the killed shard left no files: nothing to replace")
	}

	runShards(t, bin, env, plan, 1, 2)
	res := bin.Run(t, env, "commit", "--plan", plan)
	if res.Code == 0 {
		t.Fatal("commit without shard 0's receipt published")
	}
	testkit.Contains(t, "commit", res.Stderr, "shard 0 has no receipt", "nothing was published")
	if ms := findManifests(t, out); len(ms) != 0 {
		t.Fatalf("a refused commit published %v", ms)
	}

	runShards(t, bin, env, plan, 0)
	// A file changed in place (same size) is refused.
	victim := filepath.Join(runDir, "shard-00001-part-00002.csv")
	orig, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), orig...)
	bad[len(bad)-2] ^= 1
	if err := os.WriteFile(victim, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	res = bin.Run(t, env, "commit", "--plan", plan)
	if res.Code == 0 {
		t.Fatal("commit of a tampered file published")
	}
	testkit.Contains(t, "commit", res.Stderr, "shard 1", "shard-00001-part-00002.csv", "hashes to", "nothing was published")
	if ms := findManifests(t, out); len(ms) != 0 {
		t.Fatalf("a refused commit published %v", ms)
	}
	if err := os.WriteFile(victim, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	if res = bin.Run(t, env, "commit", "--plan", plan); res.Code != 0 {
		t.Fatalf("commit: exit %d\n%s", res.Code, res.Stderr)
	}
	m, _ := readManifest(t, out)
	var listed []string
	for _, f := range m.Files {
		listed = append(listed, f.Path)
	}
	sort.Strings(listed)
	if got := dataFiles(t, out); strings.Join(got, ",") != strings.Join(listed, ",") {
		t.Fatalf("the manifest lists %d files, the store holds %d: %v (files of the killed attempt left?)", len(listed), len(got), got[:min(len(got), 3)])
	}
	rows := runRows(t, out, "csv")
	ids := map[string]bool{}
	for _, r := range rows {
		id := strings.SplitN(r, "\x1f", 2)[0]
		if ids[id] {
			t.Fatalf("id %s published twice", id)
		}
		ids[id] = true
	}
	if len(ids) != 400000 {
		t.Fatalf("%d distinct ids, want 400000", len(ids))
	}
}

// shardLambdaSetup makes table of rows rows, an S3 server with the bucket
// lake and the packaged function's environment copying table into
// s3://lake/raw/orders, with extra variables.
func shardLambdaSetup(t *testing.T, table string, rows int, extra ...string) (bootstrap string, srv *testkit.S3Server, env []string) {
	t.Helper()
	bootstrap, opt := lambdaTree(t)
	makeShardTable(t, table, rows)
	srv = testkit.StartS3(t)
	srv.CreateBucket(t, "lake")
	env = append(srv.Env(),
		"HP_12FACTOR_MODE=1", "HP_COMMAND=cp", "HP_SUBCOMMAND=snap",
		"HP_SOURCE_DSN="+pgDSN, "HP_SOURCE_OBJECT="+table,
		"HP_TARGET_DSN=s3://lake/raw?endpoint="+srv.Endpoint, "HP_TARGET_OBJECT=orders", "HP_TARGET_S3_REGION="+srv.Region,
		"HP_LOG_LEVEL=warn", "HP_PLUGIN_DIR="+filepath.Join(opt, "hp", "plugins"), "HP_COMPRESSION=none")
	return bootstrap, srv, append(env, extra...)
}

// TestShardLambdaEmulator: the packaged function under several emulator
// instances runs the state machine's steps as Step Functions would: the
// plan event, every item of the plan's items file (the Distributed Map's
// ItemReader input) spread over the instances at once, and the commit
// event; one manifest in S3 holds the table.
func TestShardLambdaEmulator(t *testing.T) {
	t.Parallel() // its own table, S3 server and emulators
	const table = "public.hp_e2e_shard_lambda"
	bootstrap, srv, env := shardLambdaSetup(t, table, 30000, "HP_MAX_FILE_ROWS=2000", "HP_REQUIRE_CHECKSUMS=true")
	fns := make([]*testkit.LambdaEmulator, 3)
	for i := range fns {
		fns[i] = testkit.StartLambda(t, bootstrap, env, 60*time.Second)
	}
	plan := "s3://lake/plans/orders.json?endpoint=" + srv.Endpoint + "&region=" + srv.Region

	body, failed := fns[0].Invoke(t, `{"command": "plan", "plan": "`+plan+`", "shards": 5}`)
	if failed {
		t.Fatalf("plan: %s", body)
	}
	var planned struct {
		RunID       string `json:"run_id"`
		Shards      int    `json:"shards"`
		ItemsBucket string `json:"items_bucket"`
		ItemsKey    string `json:"items_key"`
	}
	if err := json.Unmarshal(body, &planned); err != nil || planned.Shards != 5 || planned.ItemsBucket != "lake" || planned.ItemsKey != "plans/orders.items.json" {
		t.Fatalf("plan answer %s (%v)", body, err)
	}
	rawItems, ok := srv.Objects(t, "lake", "plans/")[planned.ItemsKey]
	if !ok {
		t.Fatalf("no items file at %s", planned.ItemsKey)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(rawItems, &items); err != nil || len(items) != 5 {
		t.Fatalf("items %s (%v)", rawItems, err)
	}
	errs := make(chan error, len(fns))
	for k, fn := range fns {
		go func() {
			for i := k; i < len(items); i += len(fns) {
				if body, failed := fn.Invoke(t, string(items[i])); failed {
					errs <- fmt.Errorf("item %s: %s", items[i], body)
					return
				}
			}
			errs <- nil
		}()
	}
	for range fns {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	body, failed = fns[1].Invoke(t, `{"command": "commit", "plan": "`+plan+`"}`)
	if failed {
		t.Fatalf("commit: %s", body)
	}
	var s lambdaSummary
	if err := json.Unmarshal(body, &s); err != nil || s.Rows != 30000 || !strings.HasPrefix(s.ManifestURL, "s3://lake/raw/orders/"+planned.RunID+"/") {
		t.Fatalf("commit answer %s (%v)", body, err)
	}
	dir := download(t, srv, "lake", "raw/orders/")
	m, _ := readManifest(t, dir)
	if got := dataFiles(t, dir); len(got) != len(m.Files) || len(got) < 15 {
		t.Fatalf("the manifest lists %d files, S3 holds %d data files", len(m.Files), len(got))
	}
	ids := map[string]bool{}
	for _, r := range runRows(t, dir, "csv") {
		ids[strings.SplitN(r, "\x1f", 2)[0]] = true
	}
	if len(ids) != 30000 {
		t.Fatalf("%d distinct ids, want 30000", len(ids))
	}
	for _, fn := range fns {
		if out := fn.Output(); strings.Contains(out, "postgres://postgres@") || strings.Contains(out, "matches no flag") {
			t.Errorf("the function logged an unmasked DSN or warned of the function's own variables:\n%s", out)
		}
	}
}

// TestShardStateMachineASL checks the state machine layer/terraform
// renders, structurally only (it has never run against AWS): rendered as
// stepfunctions.tf renders it, it is JSON; every state's Next names a
// state; Plan → Shards (a Distributed Map reading the plan's items from
// S3) → Commit; every Lambda task invokes the Terraform function and
// retries throttling with backoff.
func TestShardStateMachineASL(t *testing.T) {
	t.Parallel() // reads files only
	dir := filepath.Join(testkit.RepoRoot(t), "layer", "terraform")
	raw, err := os.ReadFile(filepath.Join(dir, "sharded.asl.json"))
	if err != nil {
		t.Fatal(err)
	}
	tf, err := os.ReadFile(filepath.Join(dir, "stepfunctions.tf"))
	if err != nil {
		t.Fatal(err)
	}
	// The template's variables are exactly those stepfunctions.tf passes,
	// and the function is the one main.tf creates.
	vars := map[string]string{"function_arn": "arn:aws:lambda:eu-west-1:123456789012:function:hp-orders",
		"plan_prefix": "s3://lake/raw/_plans", "shards": "16", "max_concurrency": "10"}
	testkit.Contains(t, "stepfunctions.tf", string(tf), `templatefile("${path.module}/sharded.asl.json"`, "function_arn    = aws_lambda_function.hp.arn",
		"shards          = var.shards", "max_concurrency = var.shard_max_concurrency")
	text := string(raw)
	for k, v := range vars {
		if !strings.Contains(text, "${"+k+"}") {
			t.Errorf("the template does not use ${%s}", k)
		}
		text = strings.ReplaceAll(text, "${"+k+"}", v)
	}
	if strings.Contains(text, "${") {
		t.Fatalf("the template uses a variable stepfunctions.tf does not pass: %s", text[strings.Index(text, "${"):][:40])
	}
	type state struct {
		Type       string
		Resource   string
		Next       string
		End        bool
		Parameters map[string]any
		Retry      []struct {
			ErrorEquals []string
			BackoffRate float64
			MaxAttempts int
		}
		MaxConcurrency int
		ItemReader     *struct {
			Resource     string
			ReaderConfig struct{ InputType string }
			Parameters   map[string]string
		}
		ItemProcessor *struct {
			ProcessorConfig struct{ Mode string }
			StartAt         string
			States          map[string]json.RawMessage
		}
	}
	var sm struct {
		StartAt string
		States  map[string]json.RawMessage
	}
	if err := json.Unmarshal([]byte(text), &sm); err != nil {
		t.Fatalf("the rendered state machine is not JSON: %v", err)
	}
	parse := func(states map[string]json.RawMessage) map[string]state {
		out := map[string]state{}
		for name, raw := range states {
			var s state
			if err := json.Unmarshal(raw, &s); err != nil {
				t.Fatalf("state %s: %v", name, err)
			}
			out[name] = s
		}
		return out
	}
	checkTask := func(name string, s state) {
		if s.Resource != "arn:aws:states:::lambda:invoke" || s.Parameters["FunctionName"] != vars["function_arn"] {
			t.Errorf("task %s invokes %s %v, not the function", name, s.Resource, s.Parameters["FunctionName"])
		}
		throttled := false
		for _, r := range s.Retry {
			for _, e := range r.ErrorEquals {
				throttled = throttled || (e == "Lambda.TooManyRequestsException" && r.BackoffRate > 1 && r.MaxAttempts > 1)
			}
		}
		if !throttled {
			t.Errorf("task %s does not retry Lambda.TooManyRequestsException with backoff", name)
		}
	}
	top := parse(sm.States)
	if sm.StartAt != "Plan" || top["Plan"].Next != "Shards" || top["Shards"].Next != "Commit" || !top["Commit"].End || len(top) != 3 {
		t.Fatalf("want Plan → Shards → Commit, got start %s, states %+v", sm.StartAt, top)
	}
	checkTask("Plan", top["Plan"])
	checkTask("Commit", top["Commit"])
	if p, _ := top["Plan"].Parameters["Payload"].(map[string]any); p["command"] != "plan" || p["shards"] != 16.0 {
		t.Errorf("Plan's payload: %v", top["Plan"].Parameters["Payload"])
	}
	if p, _ := top["Commit"].Parameters["Payload"].(map[string]any); p["command"] != "commit" || p["plan.$"] != "$.planned.plan" {
		t.Errorf("Commit's payload: %v", top["Commit"].Parameters["Payload"])
	}
	m := top["Shards"]
	if m.Type != "Map" || m.MaxConcurrency != 10 || m.ItemProcessor == nil || m.ItemProcessor.ProcessorConfig.Mode != "DISTRIBUTED" {
		t.Fatalf("Shards is not a Distributed Map of MaxConcurrency 10: %+v", m)
	}
	if r := m.ItemReader; r == nil || r.Resource != "arn:aws:states:::s3:getObject" || r.ReaderConfig.InputType != "JSON" ||
		r.Parameters["Bucket.$"] != "$.planned.items_bucket" || r.Parameters["Key.$"] != "$.planned.items_key" {
		t.Fatalf("Shards' ItemReader does not read the plan's items: %+v", m.ItemReader)
	}
	inner := parse(m.ItemProcessor.States)
	shard, ok := inner[m.ItemProcessor.StartAt]
	if !ok || !shard.End || len(inner) != 1 {
		t.Fatalf("the map runs %v from %s", inner, m.ItemProcessor.StartAt)
	}
	checkTask("Shard", shard)
	if shard.Parameters["Payload.$"] != "$" {
		t.Errorf("Shard passes %v, not the item (the shard event)", shard.Parameters["Payload.$"])
	}
}

// TestShardMariaDB: a MariaDB table with a sparse key (squares, and one
// negative) cut into key ranges is published whole, every row once.
func TestShardMariaDB(t *testing.T) {
	t.Parallel() // its own table and directories
	bin := testkit.Build(t, "mysql")
	const table = "hp_e2e_shard_maria"
	mysqlOut(t, "drop table if exists "+table+"; create table "+table+" (id bigint primary key, v varchar(20)); "+
		"insert into "+table+" select seq * seq, concat('v', seq) from seq_1_to_3000; insert into "+table+" values (-5, 'low')")
	t.Cleanup(func() { _ = mysqlOutQuiet("drop table if exists test." + table) })
	out, plans := t.TempDir(), t.TempDir()
	env := []string{"HP_MY_DSN=" + myDSN, "HP_OUT_DSN=" + out}
	plan := filepath.Join(plans, "p.json")
	p := planShards(t, bin, env, "my."+table, "out.m", "--shards", "6", "--plan", plan, "--compression", "none")
	if len(p.Slices) != 6 || p.Slices[0].Upper == "" {
		t.Fatalf("plan slices: %+v", p.Slices)
	}
	runShards(t, bin, env, plan, 0, 1, 2, 3, 4, 5)
	if res := bin.Run(t, env, "commit", "--plan", plan); res.Code != 0 {
		t.Fatalf("hp commit: exit %d\n%s", res.Code, res.Stderr)
	}
	ids := map[string]bool{}
	for _, r := range runRows(t, out, "csv") {
		id := strings.SplitN(r, "\x1f", 2)[0]
		if ids[id] {
			t.Fatalf("id %s published twice", id)
		}
		ids[id] = true
	}
	if len(ids) != 3001 || !ids["-5"] || !ids["9000000"] {
		t.Fatalf("%d distinct ids, want 3001 with -5 and 9000000", len(ids))
	}
}
