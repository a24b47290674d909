package e2e

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// TestShardDeltaPostgres: a delta planned as 3 shards (hp plan
// --delta-driver) publishes nothing until hp commit, which publishes one
// run and advances the mark; a commit with a shard missing publishes
// nothing and keeps the mark; the next plan reads only what changed; a
// plan with nothing new commits nothing; and a plan whose mark another
// run moved meanwhile is refused at the commit.
func TestShardDeltaPostgres(t *testing.T) {
	t.Parallel() // its own table and directories
	bin := testkit.Build(t, "postgres")
	const table = "public.hp_e2e_slices20_sdelta"
	deltaTable(t, table, 30000)
	out, plans := t.TempDir(), t.TempDir()
	env := []string{"HP_PG_DSN=" + pgDSN, "HP_OUT_DSN=" + out}
	args := []string{"pg." + table, "out.d", "--delta-driver", "updated_at", "--primary-keys", "id", "--shards", "3", "--compression", "none"}
	commit := func(plan string) (int, string) {
		res := bin.Run(t, env, "commit", "--plan", plan)
		return res.Code, res.Stderr
	}
	check := func(round string, manifests int) {
		t.Helper()
		if got := len(findManifests(t, out)); got != manifests {
			t.Fatalf("%s: %d manifests, want %d", round, got, manifests)
		}
		src, pub := sourceRows(t, table), published(t, out)
		if len(pub) != len(src) {
			t.Fatalf("%s: published %d ids, the table holds %d with a driver", round, len(pub), len(src))
		}
		for id, want := range src {
			if got := latest(pub[id]); got != want {
				t.Fatalf("%s: id %s: published %v, the table holds %q", round, id, pub[id], want)
			}
		}
	}

	p1 := filepath.Join(plans, "p1.json")
	plan := planShards(t, bin, env, append(args, "--plan", p1)...)
	if len(plan.Slices) != 3 || plan.Slices[0].Lower != "" || plan.Slices[2].Upper == "" {
		t.Fatalf("first plan's slices: %+v", plan.Slices)
	}
	runShards(t, bin, env, p1, 0, 1, 2)
	if ms := findManifests(t, out); len(ms) != 0 {
		t.Fatalf("the shards published %v before the commit", ms)
	}
	if code, stderr := commit(p1); code != 0 {
		t.Fatalf("first commit: exit %d\n%s", code, stderr)
	}
	check("first", 1)
	for id, v := range published(t, out) {
		if len(v) != 1 {
			t.Fatalf("first: id %s published %d times", id, len(v))
		}
	}

	// New and changed rows; one shard missing at the first commit.
	pgExec(t, "insert into "+table+" select g, 'v' || g, 1, now() from generate_series(30001, 30500) g;"+
		"update "+table+" set v = 'changed', updated_at = now() where id % 100 = 0")
	p2 := filepath.Join(plans, "p2.json")
	plan = planShards(t, bin, env, append(args, "--plan", p2)...)
	if plan.Slices[0].Lower == "" {
		t.Fatalf("second plan starts below the mark: %+v", plan.Slices)
	}
	runShards(t, bin, env, p2, 0, 2)
	if code, stderr := commit(p2); code == 0 {
		t.Fatal("a commit with shard 1 missing succeeded")
	} else {
		testkit.Contains(t, "stderr", stderr, "shard 1", "nothing was published")
	}
	if got := len(findManifests(t, out)); got != 1 {
		t.Fatalf("the refused commit left %d manifests", got)
	}
	runShards(t, bin, env, p2, 1)
	if code, stderr := commit(p2); code != 0 {
		t.Fatalf("second commit: exit %d\n%s", code, stderr)
	}
	check("second", 2)
	if code, stderr := commit(p2); code != 0 { // a retried commit
		t.Fatalf("second commit again: exit %d\n%s", code, stderr)
	}
	check("second again", 2)

	// Nothing new: the shards and the commit publish nothing.
	p3 := filepath.Join(plans, "p3.json")
	planShards(t, bin, env, append(args, "--plan", p3)...)
	runShards(t, bin, env, p3, 0, 1, 2)
	if code, stderr := commit(p3); code != 0 {
		t.Fatalf("idle commit: exit %d\n%s", code, stderr)
	}
	check("idle", 2)

	// A plan overtaken by a delta run is refused at its commit.
	pgExec(t, "update "+table+" set v = 'again', updated_at = now() where id % 1000 = 0")
	p4 := filepath.Join(plans, "p4.json")
	planShards(t, bin, env, append(args, "--plan", p4)...)
	runShards(t, bin, env, p4, 0, 1, 2)
	if s := runDelta(t, bin, env, "pg."+table, "out.d", "--delta-driver", "updated_at", "--primary-keys", "id"); s.Rows != 30 {
		t.Fatalf("the overtaking delta: %+v", s)
	}
	code, stderr := commit(p4)
	if code == 0 {
		t.Fatal("a commit of an overtaken plan succeeded")
	}
	testkit.Contains(t, "stderr", stderr, "another run moved the mark", "nothing was published")
	check("overtaken", 3)
}

// TestShardDeltaLambdaEmulator: the function's plan step plans a delta
// when HP_DELTA_DRIVER is set; its shard steps and commit publish the run
// to S3 and advance the mark there, so the next plan reads only the new
// rows.
func TestShardDeltaLambdaEmulator(t *testing.T) {
	t.Parallel() // its own table, S3 server and emulator
	const table = "public.hp_e2e_slices20_sdlambda"
	bootstrap, srv, env := shardLambdaSetup(t, table, 20000, "HP_DELTA_DRIVER=at", "HP_PRIMARY_KEYS=id")
	fn := testkit.StartLambda(t, bootstrap, env, 60*time.Second)
	plan := "s3://lake/plans/orders.json?endpoint=" + srv.Endpoint + "&region=" + srv.Region
	round := func(want int64) {
		t.Helper()
		if body, failed := fn.Invoke(t, `{"command": "plan", "plan": "`+plan+`", "shards": 3}`); failed {
			t.Fatalf("plan: %s", body)
		}
		var items []json.RawMessage
		if err := json.Unmarshal(srv.Objects(t, "lake", "plans/")["plans/orders.items.json"], &items); err != nil || len(items) != 3 {
			t.Fatalf("items: %v", err)
		}
		for _, it := range items {
			if body, failed := fn.Invoke(t, string(it)); failed {
				t.Fatalf("item %s: %s", it, body)
			}
		}
		body, failed := fn.Invoke(t, `{"command": "commit", "plan": "`+plan+`"}`)
		var s lambdaSummary
		if failed || json.Unmarshal(body, &s) != nil || s.Rows != want {
			t.Fatalf("commit: %s, want %d rows", body, want)
		}
	}
	round(20000)
	pgExec(t, "insert into "+table+" select g, 'new', 1, '2027-01-01'::timestamptz + g * interval '1 second' from generate_series(20001, 20250) g")
	round(250)
	state := srv.Objects(t, "lake", "raw/orders/")["raw/orders/_state.json"]
	if !strings.Contains(string(state), `"high_water_mark": "2027-01-01T05:37:30`) {
		t.Fatalf("state %s", state)
	}
	if out := fn.Output(); strings.Contains(out, "matches no flag") {
		t.Errorf("the function warned of its own variables:\n%s", out)
	}
}
