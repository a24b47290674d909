package e2e

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// TestLambdaSyncBatch runs hp sync batch in the packaged function under the
// Lambda runtime interface emulator (HP_COMMAND=sync HP_SUBCOMMAND=batch,
// flags as HP_ variables), PostgreSQL to PostgreSQL: a failing sync is a
// function error that leaves the target as it was, a dry run from the
// event counts without writing, a sync makes the target the source, and a
// sync too long for the invocation stops before its deadline, rolled back.
func TestLambdaSyncBatch(t *testing.T) {
	t.Parallel() // its own tables and emulator
	bootstrap, opt := lambdaTree(t)
	const src, tgt = "hp_e2e_lambdasync_src", "hp_e2e_lambdasync_tgt"
	pgExec(t, `drop table if exists `+src+`, `+tgt+`;
		create table `+src+` (id int primary key, v text); insert into `+src+` select g, 'v' || g from generate_series(1, 50) g;
		create table `+tgt+` (id int primary key, v varchar(5)); insert into `+tgt+` select g, 'old' from generate_series(1, 40) g where g % 4 <> 0;
		insert into `+tgt+` values (100, 'gone');
		update `+src+` set v = 'too long' where id = 45`)
	t.Cleanup(func() { pgExec(t, "drop table if exists "+src+", "+tgt) })
	before := pgExec(t, "select id || '=' || v from "+tgt+" order by id")
	env := []string{"HP_12FACTOR_MODE=1", "HP_COMMAND=sync", "HP_SUBCOMMAND=batch",
		"HP_SOURCE_DSN=" + pgDSN, "HP_SOURCE_OBJECT=public." + src, "HP_TARGET_DSN=" + pgDSN, "HP_TARGET_OBJECT=public." + tgt,
		"HP_PRIMARY_KEYS=id", "HP_PLUGIN_DIR=" + filepath.Join(opt, "hp", "plugins")}
	fn := testkit.StartLambda(t, bootstrap, env, 20*time.Second)

	body, failed := fn.Invoke(t, `{}`)
	if !failed || !strings.Contains(string(body), "sync batch failed (exit 2)") || !strings.Contains(string(body), "was not changed") {
		t.Fatalf("a value too long for the target: failed=%v %s", failed, body)
	}
	if after := pgExec(t, "select id || '=' || v from "+tgt+" order by id"); after != before {
		t.Fatalf("the failed sync changed the target:\n%s", after)
	}
	pgExec(t, `update `+src+` set v = 'fits' where id = 45`)

	var got syncSummary
	body, failed = fn.Invoke(t, `{"HP_DRY_RUN": true}`)
	if err := json.Unmarshal(body, &got); failed || err != nil || !got.DryRun || got.Inserted != 20 || got.Updated != 30 || got.Deleted != 1 {
		t.Fatalf("dry run: failed=%v %s (%v); want 20 inserted (every fourth of 1-40, 41-50), 30 updated, 1 deleted", failed, body, err)
	}
	if after := pgExec(t, "select id || '=' || v from "+tgt+" order by id"); after != before {
		t.Fatalf("the dry run changed the target:\n%s", after)
	}

	body, failed = fn.Invoke(t, `{}`)
	if err := json.Unmarshal(body, &got); failed || err != nil || got.DryRun || got.Inserted != 20 || got.Updated != 30 || got.Deleted != 1 {
		t.Fatalf("sync: failed=%v %s (%v)", failed, body, err)
	}
	if diff := pgExec(t, "(select id, v from "+src+" except select id, v from "+tgt+") union all (select id, v from "+tgt+" except select id, v from "+src+")"); diff != "" {
		t.Fatalf("the target differs from the source after the sync:\n%s", diff)
	}
	body, failed = fn.Invoke(t, `{"HP_NO_DELETE": "1"}`)
	if err := json.Unmarshal(body, &got); failed || err != nil || got.Inserted+got.Updated+got.Deleted+got.Kept != 0 {
		t.Fatalf("a second sync: failed=%v %s (%v)", failed, body, err)
	}
	if strings.Contains(fn.Output(), "postgres://postgres@") {
		t.Error("the function logged an unmasked DSN")
	}

	// A sync that cannot finish before the invocation's deadline (a 6 s
	// function keeps a 5 s margin: 1 s for comparing a million rows) stops
	// in time, a function error, the target as it was.
	const big, bigTgt = "hp_e2e_lambdasync_big", "hp_e2e_lambdasync_bigt"
	pgExec(t, `drop table if exists `+big+`, `+bigTgt+`;
		create table `+big+` (id int primary key, v text); insert into `+big+` select g, 'v' || g from generate_series(1, 1000000) g;
		create table `+bigTgt+` (id int primary key, v text); insert into `+bigTgt+` select id, v from `+big+` where id % 1000 <> 0`)
	t.Cleanup(func() { pgExec(t, "drop table if exists "+big+", "+bigTgt) })
	slow := testkit.StartLambda(t, bootstrap, env, 6*time.Second)
	start := time.Now()
	body, failed = slow.Invoke(t, `{"HP_SOURCE_OBJECT": "public.`+big+`", "HP_TARGET_OBJECT": "public.`+bigTgt+`"}`)
	if !failed || !strings.Contains(string(body), "before the invocation's deadline") || time.Since(start) > 6*time.Second {
		t.Fatalf("a sync past the deadline: failed=%v after %s: %s", failed, time.Since(start), body)
	}
	if n := pgExec(t, "select count(*) from "+bigTgt); n != "999000" {
		t.Fatalf("the sync stopped at the deadline left %s rows, want the 999000 before it", n)
	}
}
