package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// TestMaintainedChecksumsPostgresMariaDB: with hp checksums installed on
// a PostgreSQL table and its MariaDB copy, hp diff --hash sums the
// maintained hashes on both sides (and says so) and finds exactly what a
// plain diff finds; hp sync batch writes through the triggers, so the
// next diff --hash is empty, still maintained. A diff of other columns
// computes, with a warning saying why. --dry-run plans only; drop leaves
// the tables as they were.
func TestMaintainedChecksumsPostgresMariaDB(t *testing.T) {
	t.Parallel() // its own tables
	bin := testkit.Build(t, "postgres", "mysql")
	const src, tgt = "hp_ck_e2e_src", "hp_ck_e2e_tgt"
	pgExec(t, `drop table if exists `+src+`;
		create table `+src+` (id bigint primary key, amount numeric(12,2), note varchar(40), at timestamptz, day date, ratio float8);
		insert into `+src+` select g, g * 1.25, 'n' || g, timestamptz '2024-01-01 00:00:00.5+00' + g * interval '1 minute',
			date '2024-01-01' + g % 1000, g / 7.0 from generate_series(1, 20000) g`)
	mysqlOut(t, "DROP TABLE IF EXISTS "+tgt)
	t.Cleanup(func() {
		_ = mysqlOutQuiet("DROP TABLE IF EXISTS " + tgt + ", hp_checksums_" + tgt)
		pgExec(t, "drop table if exists "+src+"; drop table if exists hp_checksums_"+src+"; drop function if exists hp_checksums_"+src+"_ins, hp_checksums_"+src+"_upd, hp_checksums_"+src+"_del, hp_checksums_"+src+"_trunc cascade")
	})
	env := []string{"HP_PG_DSN=" + pgDSN, "HP_MY_DSN=" + myDSN}
	run := func(want int, args ...string) testkit.Result {
		t.Helper()
		res := bin.Run(t, env, args...)
		if res.Code != want {
			t.Fatalf("hp %v: exit %d, want %d\n%s%s", args, res.Code, want, res.Stdout, res.Stderr)
		}
		return res
	}
	run(0, "cp", "meta", "pg.public."+src, "my."+tgt, "--execute")
	run(0, "cp", "snap", "pg.public."+src, "my."+tgt)

	sides := []string{"pg.public." + src, "my." + tgt}
	cols := "amount,note,at,day"
	for _, s := range sides {
		// An earlier run cut short leaves its record in hp_checksums.
		run(0, "checksums", "drop", s)
	}
	for _, s := range sides {
		dry := run(0, "checksums", "install", s, "--columns", cols, "--dry-run")
		testkit.Contains(t, "install --dry-run of "+s, dry.Stdout, "CREATE TRIGGER", "hp_checksums_")
		testkit.Contains(t, "install --dry-run of "+s, dry.Stderr, "none run")
		testkit.Contains(t, "status after --dry-run", run(0, "checksums", "status", s).Stdout, "not installed")
		res := run(0, "checksums", "install", s, "--columns", cols)
		testkit.Contains(t, "install of "+s, res.Stderr, "key id, columns amount,note,at,day, 20000 rows, current")
	}
	var st struct {
		Table string `json:"table"`
		State struct {
			Installed bool  `json:"installed"`
			Rows      int64 `json:"rows"`
			Stale     bool  `json:"stale"`
		} `json:"state"`
	}
	if err := json.Unmarshal([]byte(run(0, "checksums", "status", sides[1], "--output", "json").Stdout), &st); err != nil || !st.State.Installed || st.State.Rows != 20000 || st.State.Stale {
		t.Fatalf("status --output json: %+v, %v", st, err)
	}

	type stats struct {
		Hash *struct {
			RangesDiffering  int  `json:"ranges_differing"`
			SourceMaintained bool `json:"source_maintained"`
			TargetMaintained bool `json:"target_maintained"`
		} `json:"hash"`
	}
	hashed := func(want int, columns string) (string, string, stats) {
		t.Helper()
		res := run(want, "diff", sides[0], sides[1], "--columns", columns, "--hash", "--output", "json")
		var s stats
		if err := json.Unmarshal([]byte(res.Stderr[strings.Index(res.Stderr, "{"):strings.LastIndex(res.Stderr, "}")+1]), &s); err != nil || s.Hash == nil {
			t.Fatalf("--hash --output json summary (%v): %s", err, res.Stderr)
		}
		return res.Stdout, res.Stderr, s
	}
	if out, _, s := hashed(0, cols); out != "" || !s.Hash.SourceMaintained || !s.Hash.TargetMaintained {
		t.Fatalf("a fresh copy: %q %+v", out, s.Hash)
	}

	// Changes on either side: values, keys, new and deleted rows.
	pgExec(t, `update `+src+` set amount = amount + 0.01 where id % 1000 = 7;
		update `+src+` set id = id + 100000 where id % 2000 = 1234;
		insert into `+src+` select 50000 + g, 1, 'new', null, null, 0 from generate_series(1, 5) g;
		delete from `+src+` where id % 3000 = 42`)
	mysqlOut(t, "UPDATE "+tgt+" SET day = NULL WHERE id % 2500 = 500; DELETE FROM "+tgt+" WHERE id % 4000 = 77;"+
		" INSERT INTO "+tgt+" SELECT id + 1000000, amount, note, at, day, ratio FROM "+tgt+" WHERE id <= 3")
	out, _, s := hashed(1, cols)
	if !s.Hash.SourceMaintained || !s.Hash.TargetMaintained {
		t.Fatalf("after changes: %+v, want maintained on both sides", s.Hash)
	}
	plain := run(1, "diff", sides[0], sides[1], "--columns", cols)
	if out != plain.Stdout {
		t.Fatalf("--hash over maintained checksums and plain diff differ:\n--hash:\n%s\nplain:\n%s", out, plain.Stdout)
	}
	// 20 changed amounts, 10 keys moved (10 new, 10 deleted), 5 new, 7
	// deleted in the source; 8 changed days, 5 deleted and 3 new rows in
	// the target.
	if n := strings.Count(out, "\n"); n != 20+20+5+7+8+5+3 {
		t.Fatalf("%d differences, want 68:\n%s", n, out)
	}
	testkit.Contains(t, "text summary", run(1, "diff", sides[0], sides[1], "--columns", cols, "--hash").Stderr, "checksums maintained on the source, maintained on the target")

	// Other columns: computed, with the reason.
	_, stderr, s := hashed(1, "amount,note")
	testkit.Contains(t, "--hash of other columns", stderr, "warning", "maintained checksums hash id,amount,note,at,day", "computed")
	if s.Hash.SourceMaintained || s.Hash.TargetMaintained {
		t.Fatalf("other columns: %+v, want computed", s.Hash)
	}

	run(0, "sync", "batch", sides[0], sides[1], "--primary-keys", "id")
	if out, _, s := hashed(0, cols); out != "" || !s.Hash.SourceMaintained || !s.Hash.TargetMaintained {
		t.Fatalf("after hp sync batch: %q %+v", out, s.Hash)
	}

	for _, side := range sides {
		testkit.Contains(t, "drop of "+side, run(0, "checksums", "drop", side).Stderr, "not installed")
		testkit.Contains(t, "status after drop", run(0, "checksums", "status", side).Stdout, "not installed")
	}
	if n := strings.TrimSpace(mysqlOut(t, "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_TABLE = '"+tgt+"'")); !strings.HasSuffix(n, "0") {
		t.Fatalf("triggers left on %s: %s", tgt, n)
	}
}
