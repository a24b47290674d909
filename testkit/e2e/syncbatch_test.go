package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// syncSummary is hp sync batch --output json.
type syncSummary struct {
	DryRun   bool  `json:"dry_run"`
	Inserted int64 `json:"inserted"`
	Updated  int64 `json:"updated"`
	Deleted  int64 `json:"deleted"`
	Kept     int64 `json:"kept"`
	Chunks   int64 `json:"chunks"`
}

// syncPair runs hp sync batch and hp diff between two tables.
type syncPair struct {
	t        *testing.T
	bin      *testkit.Binaries
	env      []string
	src, tgt string
	keys     string
}

func (p syncPair) sync(want int, args ...string) (syncSummary, testkit.Result) {
	p.t.Helper()
	res := p.bin.Run(p.t, p.env, append([]string{"sync", "batch", p.src, p.tgt, "--primary-keys", p.keys, "--output", "json"}, args...)...)
	if res.Code != want {
		p.t.Fatalf("hp sync batch %v: exit %d, want %d\n%s%s", args, res.Code, want, res.Stdout, res.Stderr)
	}
	var s syncSummary
	if want == 0 {
		if err := json.Unmarshal([]byte(res.Stdout), &s); err != nil {
			p.t.Fatalf("hp sync batch %v: summary %q: %v", args, res.Stdout, err)
		}
	}
	return s, res
}

// diff returns hp diff's lines, checking its exit code.
func (p syncPair) diff(want int) string {
	p.t.Helper()
	res := p.bin.Run(p.t, p.env, "diff", p.src, p.tgt, "--primary-keys", p.keys)
	if res.Code != want {
		p.t.Fatalf("hp diff: exit %d, want %d\n%s%s", res.Code, want, res.Stdout, res.Stderr)
	}
	return res.Stdout
}

func (p syncPair) wantCounts(what string, got syncSummary, ins, upd, del, kept int64) {
	p.t.Helper()
	if got.Inserted != ins || got.Updated != upd || got.Deleted != del || got.Kept != kept {
		p.t.Fatalf("%s: %+v, want %d inserted, %d updated, %d deleted, %d kept", what, got, ins, upd, del, kept)
	}
}

// TestSyncBatchPostgresToMariaDB: a composite key of mixed case and
// accents (MariaDB's collation would order it otherwise), rows new,
// changed and deleted. --dry-run counts and changes nothing, --no-delete
// keeps the target's own rows, a sync makes a second diff empty, and a
// sync that fails part-way (a value too long for the target's column)
// leaves the target exactly as before. A target that cannot sync is
// refused.
func TestSyncBatchPostgresToMariaDB(t *testing.T) {
	t.Parallel() // its own tables
	bin := testkit.Build(t, "postgres", "mysql", "gen")
	const src, tgt = "hp_e2e_syncbatch_pm_src", "hp_e2e_syncbatch_pm_tgt"
	pgExec(t, `drop table if exists `+src+`;
		create table `+src+` (region text, id int, amount numeric(10,2), note text, primary key (region, id));
		insert into `+src+` select (array['a','A','b','B','e','é','É','z'])[g % 8 + 1], g, g * 1.25, 'n' || g from generate_series(1, 3000) g`)
	mysqlOut(t, "DROP TABLE IF EXISTS "+tgt)
	t.Cleanup(func() {
		_ = mysqlOutQuiet("DROP TABLE IF EXISTS test." + tgt)
		pgExec(t, "drop table if exists "+src)
	})
	env := []string{"HP_PG_DSN=" + pgDSN, "HP_MY_DSN=" + myDSN, "HP_GEN_DSN=gen://"}
	for _, args := range [][]string{{"cp", "meta", "pg.public." + src, "my." + tgt, "--execute"}, {"cp", "snap", "pg.public." + src, "my." + tgt}} {
		if res := bin.Run(t, env, args...); res.Code != 0 {
			t.Fatalf("hp %v: exit %d\n%s", args, res.Code, res.Stderr)
		}
	}
	p := syncPair{t: t, bin: bin, env: env, src: "pg.public." + src, tgt: "my." + tgt, keys: "region,id"}
	dump := func() string {
		return mysqlOut(t, "SELECT region, id, amount, note FROM "+tgt+" ORDER BY CAST(region AS BINARY), id")
	}

	pgExec(t, `update `+src+` set amount = amount + 0.01 where id in (10, 2000); update `+src+` set note = 'changed' where id = 11;
		insert into `+src+` values ('É', 5000, 1, 'new'), ('é', 5001, 2, 'new'), ('e', 5002, 3, 'new'), ('A', 5003, 4, 'new')`)
	mysqlOut(t, "DELETE FROM "+tgt+" WHERE id = 12; INSERT INTO "+tgt+" VALUES ('Ä', 6000, 1, 'only here'), ('a', 6001, 1, 'only here')")
	before, differences := dump(), p.diff(1)

	got, _ := p.sync(0, "--dry-run")
	p.wantCounts("--dry-run", got, 5, 3, 2, 0)
	if !got.DryRun || dump() != before || p.diff(1) != differences {
		t.Fatalf("--dry-run changed the target")
	}

	got, _ = p.sync(0, "--no-delete")
	p.wantCounts("--no-delete", got, 5, 3, 0, 2)
	left := p.diff(1)
	if want := `{"status":"deleted","key":{"region":"a","id":6001},"columns":[]}` + "\n" +
		`{"status":"deleted","key":{"region":"Ä","id":6000},"columns":[]}` + "\n"; left != want {
		t.Fatalf("after --no-delete the differences are\n%s\nwant\n%s", left, want)
	}

	// A changed row whose value the target's column cannot hold, beside
	// rows that fit and a row to delete: nothing is applied. Row 24's key
	// becomes 'A' in the target: for the diff the source's 'a' is new and
	// the target's 'A' deleted, one key to MariaDB's collation.
	mysqlOut(t, "ALTER TABLE "+tgt+" MODIFY note VARCHAR(20); UPDATE "+tgt+" SET region = 'A' WHERE region = 'a' AND id = 24")
	pgExec(t, `update `+src+` set note = 'fits' where id = 20; update `+src+` set note = repeat('x', 30) where id = 21;
		insert into `+src+` values ('z', 7000, 1, 'new')`)
	before, differences = dump(), p.diff(1)
	_, res := p.sync(2)
	testkit.Contains(t, "the failed sync", res.Stderr, "my."+tgt, "was not changed", "too long")
	if dump() != before || p.diff(1) != differences {
		t.Fatalf("a failed sync changed the target")
	}

	pgExec(t, `update `+src+` set note = 'short' where id = 21`)
	got, _ = p.sync(0)
	p.wantCounts("sync", got, 2, 2, 3, 0)
	if out := p.diff(0); out != "" {
		t.Fatalf("differences after the sync:\n%s", out)
	}
	got, _ = p.sync(0)
	p.wantCounts("a second sync", got, 0, 0, 0, 0)

	// A target whose connector cannot sync, and a text summary.
	res = bin.Run(t, env, "sync", "batch", "pg.public."+src, "gen.narrow", "--primary-keys", "id")
	if res.Code != 2 || !strings.Contains(res.Stderr, "target gen.narrow cannot sync") {
		t.Fatalf("sync into gen: exit %d\n%s", res.Code, res.Stderr)
	}
	res = bin.Run(t, env, "sync", "batch", "pg.public."+src, "my."+tgt, "--dry-run")
	if res.Code != 0 || !strings.Contains(res.Stdout, "sync batch pg.public."+src+" my."+tgt+": 0 inserted, 0 updated, 0 deleted, 0 kept (dry run: nothing written)") {
		t.Fatalf("text summary: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
}

// TestSyncBatchMariaDBToPostgres: the other way, a composite key of
// mixed-case text (ordered otherwise by MariaDB's collation than by
// bytes) and an integer; the target is a PostgreSQL table cp meta made.
func TestSyncBatchMariaDBToPostgres(t *testing.T) {
	t.Parallel() // its own tables
	bin := testkit.Build(t, "postgres", "mysql")
	const src, tgt = "hp_e2e_syncbatch_mp_src", "hp_e2e_syncbatch_mp_tgt"
	mysqlOut(t, "DROP TABLE IF EXISTS "+src+"; CREATE TABLE "+src+" (code VARCHAR(20), n INT, price DECIMAL(12,3), label TEXT, PRIMARY KEY (code, n));"+
		"INSERT INTO "+src+" SELECT ELT(seq % 6 + 1, 'a', 'B', 'c', 'D', 'é', 'Zz'), seq, seq / 8, CONCAT('l', seq) FROM seq_1_to_2000")
	pgExec(t, "drop table if exists "+tgt)
	t.Cleanup(func() {
		_ = mysqlOutQuiet("DROP TABLE IF EXISTS test." + src)
		pgExec(t, "drop table if exists "+tgt)
	})
	env := []string{"HP_PG_DSN=" + pgDSN, "HP_MY_DSN=" + myDSN}
	for _, args := range [][]string{{"cp", "meta", "my." + src, "pg.public." + tgt, "--execute"}, {"cp", "snap", "my." + src, "pg.public." + tgt}} {
		if res := bin.Run(t, env, args...); res.Code != 0 {
			t.Fatalf("hp %v: exit %d\n%s", args, res.Code, res.Stderr)
		}
	}
	p := syncPair{t: t, bin: bin, env: env, src: "my." + src, tgt: "pg.public." + tgt, keys: "code,n"}
	dump := func() string {
		return pgExec(t, `select code, n, price, label from `+tgt+` order by code collate "C", n`)
	}
	p.diff(0)

	mysqlOut(t, "UPDATE "+src+" SET price = price + 1 WHERE n IN (5, 6); DELETE FROM "+src+" WHERE n IN (7, 8, 9);"+
		"INSERT INTO "+src+" VALUES ('b', 3000, 1, 'new'), ('A', 3000, 1, 'new')")
	pgExec(t, `insert into `+tgt+` values ('Zz', 9000, 1, 'only here')`)

	got, _ := p.sync(0, "--dry-run")
	p.wantCounts("--dry-run", got, 2, 2, 4, 0)

	// An injected failure: a new value too long for the target's column.
	pgExec(t, `alter table `+tgt+` alter column label type varchar(10)`)
	mysqlOut(t, "UPDATE "+src+" SET label = REPEAT('y', 11) WHERE n = 100")
	before, differences := dump(), p.diff(1)
	_, res := p.sync(2)
	testkit.Contains(t, "the failed sync", res.Stderr, "pg.public."+tgt, "was not changed", "too long")
	if dump() != before || p.diff(1) != differences {
		t.Fatalf("a failed sync changed the target")
	}
	mysqlOut(t, "UPDATE "+src+" SET label = 'ten chars!' WHERE n = 100")

	got, _ = p.sync(0)
	p.wantCounts("sync", got, 2, 3, 4, 0)
	if out := p.diff(0); out != "" {
		t.Fatalf("differences after the sync:\n%s", out)
	}
}

// TestSyncBatchTwelveFactor: hp sync batch from the environment alone
// (HP_COMMAND=sync HP_SUBCOMMAND=batch, flags as HP_<FLAG>), PostgreSQL to
// PostgreSQL.
func TestSyncBatchTwelveFactor(t *testing.T) {
	t.Parallel() // its own tables
	bin := testkit.Build(t, "postgres")
	const src, tgt = "hp_e2e_syncbatch_12f_src", "hp_e2e_syncbatch_12f_tgt"
	pgExec(t, `drop table if exists `+src+`, `+tgt+`;
		create table `+src+` (id int primary key, v text); insert into `+src+` values (1, 'a'), (2, 'b'), (3, 'c');
		create table `+tgt+` (id int primary key, v text); insert into `+tgt+` values (1, 'a'), (2, 'old'), (4, 'only here')`)
	t.Cleanup(func() { pgExec(t, "drop table if exists "+src+", "+tgt) })
	env := []string{"HP_12FACTOR_MODE=1", "HP_COMMAND=sync", "HP_SUBCOMMAND=batch", "HP_SOURCE_DSN=" + pgDSN, "HP_SOURCE_OBJECT=public." + src,
		"HP_TARGET_DSN=" + pgDSN, "HP_TARGET_OBJECT=public." + tgt, "HP_PRIMARY_KEYS=id", "HP_NO_DELETE=true", "HP_OUTPUT=json"}
	res := bin.Run(t, env)
	var got syncSummary
	if err := json.Unmarshal([]byte(res.Stdout), &got); res.Code != 0 || err != nil || got.Inserted != 1 || got.Updated != 1 || got.Deleted != 0 || got.Kept != 1 {
		t.Fatalf("12-factor sync batch: exit %d, %+v (%v)\n%s%s", res.Code, got, err, res.Stdout, res.Stderr)
	}
	if rows := pgExec(t, "select id || '=' || v from "+tgt+" order by id"); rows != "1=a\n2=b\n3=c\n4=only here" {
		t.Fatalf("the target holds\n%s", rows)
	}
}

// TestSyncBatchChunks: --chunk-rows commits every N differences in key
// order; a failure in a later chunk leaves the chunks before it committed
// and the rest as it was, and a rerun applies the rest.
func TestSyncBatchChunks(t *testing.T) {
	t.Parallel() // its own tables
	bin := testkit.Build(t, "postgres")
	const src, tgt = "hp_e2e_syncbatch_chunk_src", "hp_e2e_syncbatch_chunk_tgt"
	pgExec(t, `drop table if exists `+src+`, `+tgt+`;
		create table `+src+` (id int primary key, v text); insert into `+src+` select g, 'v' || g from generate_series(1, 100) g;
		create table `+tgt+` (id int primary key, v varchar(5));
		insert into `+tgt+` select g, 'old' from generate_series(1, 100) g where g % 10 <> 0;
		insert into `+tgt+` values (1000, 'gone'), (1001, 'gone')`)
	t.Cleanup(func() { pgExec(t, "drop table if exists "+src+", "+tgt) })
	// 102 differences in key order: ids 1-100 (90 changed, every tenth
	// new), then 1000 and 1001 deleted. Row 75's value does not fit, so
	// the fourth chunk (ids 61-80) fails.
	pgExec(t, `update `+src+` set v = 'toolong' where id = 75`)
	env := []string{"HP_PG_DSN=" + pgDSN}
	p := syncPair{t: t, bin: bin, env: env, src: "pg.public." + src, tgt: "pg.public." + tgt, keys: "id"}
	_, res := p.sync(2, "--chunk-rows", "20")
	testkit.Contains(t, "the failed chunk", res.Stderr, "syncing chunk 4 into pg.public."+tgt, "holds the 3 chunks committed before it", "too long")
	// Chunks 1-3 hold the first 60 differences: ids 1 to 60.
	if rows := pgExec(t, "select count(*) filter (where id <= 60 and v = 'v' || id), count(*) filter (where id > 60 and id < 1000 and v = 'old'), count(*) filter (where id >= 1000) from "+tgt); rows != "60|36|2" {
		t.Fatalf("after the failed chunk the target holds (synced up to 60, old after, deleted): %s", rows)
	}
	pgExec(t, `update `+src+` set v = 'fits' where id = 75`)
	got, _ := p.sync(0, "--chunk-rows", "20")
	if got.Inserted != 4 || got.Updated != 36 || got.Deleted != 2 || got.Chunks != 3 {
		t.Fatalf("the rerun: %+v, want 4 inserted (70, 80, 90, 100), 36 updated, 2 deleted in 3 chunks", got)
	}
	if out := p.diff(0); out != "" {
		t.Fatalf("differences after the rerun:\n%s", out)
	}
}
