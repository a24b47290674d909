package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// TestCpMetaPostgresToMariaDB: hp cp meta prints the MariaDB CREATE TABLE
// of a PostgreSQL table (composite key, exact decimal, instants) and
// --execute runs it; a snap then fills the table it created. Drift in the
// source (a new column, a wider decimal) gives the ALTER statements; a
// column only the target has is kept, and dropped only with --allow-drop.
func TestCpMetaPostgresToMariaDB(t *testing.T) {
	t.Parallel() // its own tables
	bin := testkit.Build(t, "postgres", "mysql", "gen")
	const src, tgt = "hp_e2e_sync_meta_src", "hp_e2e_sync_meta_tgt"
	pgExec(t, `drop table if exists `+src+`; create table `+src+` (id bigint, region text, amount numeric(12,2), note varchar(20),
		created timestamptz not null, primary key (id, region));
		insert into `+src+` select g, 'r' || g % 3, g * 1.5, 'n' || g, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 hour'
		from generate_series(1, 50) g`)
	mysqlOut(t, "DROP TABLE IF EXISTS "+tgt)
	t.Cleanup(func() {
		_ = mysqlOutQuiet("DROP TABLE IF EXISTS " + tgt)
		pgExec(t, "drop table if exists "+src)
	})
	env := []string{"HP_PG_DSN=" + pgDSN, "HP_MY_DSN=" + myDSN}
	meta := func(want int, args ...string) testkit.Result {
		t.Helper()
		res := bin.Run(t, env, append([]string{"cp", "meta", "pg.public." + src, "my." + tgt}, args...)...)
		if res.Code != want {
			t.Fatalf("hp cp meta %v: exit %d, want %d\n%s%s", args, res.Code, want, res.Stdout, res.Stderr)
		}
		return res
	}
	create := "CREATE TABLE `" + tgt + "` (`id` BIGINT NOT NULL, `region` VARCHAR(384) NOT NULL, `amount` DECIMAL(12,2), " +
		"`note` LONGTEXT, `created` DATETIME(6) NOT NULL, PRIMARY KEY (`id`, `region`));\n"
	if res := meta(0); res.Stdout != create {
		t.Fatalf("printed DDL:\n%s\nwant\n%s", res.Stdout, create)
	}
	if n := mysqlOut(t, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'test' AND table_name = '"+tgt+"'"); strings.TrimSpace(n) != "0" {
		t.Fatal("printing the DDL created the table")
	}
	if res := meta(0, "--execute"); res.Stdout != create || !strings.Contains(res.Stderr, "ran 1 statement(s) on my."+tgt) {
		t.Fatalf("--execute: %s%s", res.Stdout, res.Stderr)
	}
	if res := meta(0); res.Stdout != "" || !strings.Contains(res.Stderr, "already fits") {
		t.Fatalf("meta of a table that fits: %q %q", res.Stdout, res.Stderr)
	}
	if res := bin.Run(t, env, "cp", "snap", "pg.public."+src, "my."+tgt); res.Code != 0 {
		t.Fatalf("snap into the created table: exit %d\n%s", res.Code, res.Stderr)
	}
	if got := strings.TrimSpace(mysqlOut(t, "SELECT COUNT(*), SUM(amount), MIN(created) FROM "+tgt)); got != "50\t1912.50\t2024-01-01 01:00:00.000000" {
		t.Fatalf("the created table after a snap: %q", got)
	}

	// Drift: the source gains a column and a wider decimal; the target has
	// a column of its own.
	pgExec(t, "alter table "+src+" add column extra int; alter table "+src+" alter column amount type numeric(14,2)")
	mysqlOut(t, "ALTER TABLE "+tgt+" ADD legacy INT")
	alter := "ALTER TABLE `" + tgt + "` MODIFY COLUMN `amount` DECIMAL(14,2);\nALTER TABLE `" + tgt + "` ADD `extra` INT;\n"
	res := meta(0)
	if res.Stdout != alter || !strings.Contains(res.Stderr, `cp meta: note: column "legacy" is not in the schema: kept`) {
		t.Fatalf("drift:\n%s%s\nwant\n%s", res.Stdout, res.Stderr, alter)
	}
	res = meta(0, "--allow-drop", "--execute", "--output", "json")
	var out struct {
		Exists     bool     `json:"exists"`
		Statements []string `json:"statements"`
		Notes      []string `json:"notes"`
		Executed   bool     `json:"executed"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &out); err != nil {
		t.Fatalf("--output json: %v\n%s", err, res.Stdout)
	}
	if !out.Exists || !out.Executed || len(out.Notes) != 0 || len(out.Statements) != 3 || out.Statements[2] != "ALTER TABLE `"+tgt+"` DROP COLUMN `legacy`" {
		t.Fatalf("--allow-drop --execute --output json: %+v", out)
	}
	cols := mysqlOut(t, "SELECT GROUP_CONCAT(CONCAT(column_name, ' ', column_type) ORDER BY ordinal_position) FROM information_schema.columns WHERE table_schema = 'test' AND table_name = '"+tgt+"'")
	if strings.TrimSpace(cols) != "id bigint(20),region varchar(384),amount decimal(14,2),note longtext,created datetime(6),extra int(11)" {
		t.Fatalf("columns after the drift DDL ran: %s", cols)
	}
	if res := meta(0); res.Stdout != "" {
		t.Fatalf("after the drift DDL ran, meta still plans: %s", res.Stdout)
	}
	// A connector that cannot plan tables: the error names it.
	res = bin.Run(t, append(env, "HP_GEN_DSN=gen://?rows=1"), "cp", "meta", "pg.public."+src, "gen.x")
	if res.Code != 2 || !strings.Contains(res.Stderr, `connection "gen": the gen connector cannot plan tables`) {
		t.Fatalf("meta into the gen connector: exit %d\n%s", res.Code, res.Stderr)
	}
}

// TestDiffPostgresMariaDB: hp diff between a PostgreSQL table and its
// MariaDB copy (made by hp cp meta --execute and hp cp snap) whose
// composite key mixes case and accents, which MariaDB's default collation
// orders (and equates) differently from byte order: both sides are read
// in byte order, so the merge finds exactly the rows changed on either
// side; decimals of another scale and instants stored without a zone are
// equal. A NULL key fails the diff.
func TestDiffPostgresMariaDB(t *testing.T) {
	t.Parallel() // its own tables
	bin := testkit.Build(t, "postgres", "mysql", "gen")
	const src, tgt, nullk = "hp_e2e_sync_diff_src", "hp_e2e_sync_diff_tgt", "hp_e2e_sync_diff_nullk"
	pgExec(t, `drop table if exists `+src+`, `+nullk+`;
		create table `+src+` (region text, id int, amount numeric(10,2), note text, at timestamptz, primary key (region, id));
		insert into `+src+` select (array['a','A','b','B','e','é','É','z'])[g % 8 + 1], g, g * 1.25, 'n' || g,
			timestamptz '2024-01-01 00:00:00.123456+00' + g * interval '1 hour' from generate_series(1, 2000) g;
		create table `+nullk+` (k text, v int); insert into `+nullk+` values ('a', 1), (null, 2)`)
	mysqlOut(t, "DROP TABLE IF EXISTS "+tgt)
	t.Cleanup(func() {
		_ = mysqlOutQuiet("DROP TABLE IF EXISTS " + tgt)
		pgExec(t, "drop table if exists "+src+", "+nullk)
	})
	env := []string{"HP_PG_DSN=" + pgDSN, "HP_MY_DSN=" + myDSN}
	for _, args := range [][]string{{"cp", "meta", "pg.public." + src, "my." + tgt, "--execute"}, {"cp", "snap", "pg.public." + src, "my." + tgt}} {
		if res := bin.Run(t, env, args...); res.Code != 0 {
			t.Fatalf("hp %v: exit %d\n%s", args, res.Code, res.Stderr)
		}
	}
	diff := func(want int, args ...string) testkit.Result {
		t.Helper()
		res := bin.Run(t, env, append([]string{"diff", "pg.public." + src, "my." + tgt}, args...)...)
		if res.Code != want {
			t.Fatalf("hp diff %v: exit %d, want %d\n%s%s", args, res.Code, want, res.Stdout, res.Stderr)
		}
		return res
	}
	res := diff(0)
	if res.Stdout != "" || !strings.Contains(res.Stderr, "2000 source rows, 2000 target rows: 0 new, 0 changed, 0 deleted") {
		t.Fatalf("diff of a fresh copy: %q\n%s", res.Stdout, res.Stderr)
	}
	// A wider decimal in the target: 1.2500 equals 1.25.
	mysqlOut(t, "ALTER TABLE "+tgt+" MODIFY amount DECIMAL(14,4)")
	diff(0)

	pgExec(t, `update `+src+` set amount = amount + 0.01 where id = 10; update `+src+` set note = 'changed' where id = 11;
		insert into `+src+` values ('É', 5000, 1, 'new', now())`)
	mysqlOut(t, "DELETE FROM "+tgt+" WHERE id = 12; UPDATE "+tgt+" SET at = at + INTERVAL 1 SECOND WHERE id = 13;"+
		"INSERT INTO "+tgt+" VALUES ('Ä', 6000, 1, 'only here', NULL)")
	lines := func(l ...string) string { return strings.Join(l, "\n") + "\n" }
	changedNote := `{"status":"changed","key":{"region":"B","id":11},"columns":["note"]}`
	changedAmount := `{"status":"changed","key":{"region":"b","id":10},"columns":["amount"]}`
	newE := `{"status":"new","key":{"region":"e","id":12},"columns":[]}`
	deleted := `{"status":"deleted","key":{"region":"Ä","id":6000},"columns":[]}`
	newÉ := `{"status":"new","key":{"region":"É","id":5000},"columns":[]}`
	changedAt := `{"status":"changed","key":{"region":"é","id":13},"columns":["at"]}`
	res = diff(1)
	if want := lines(changedNote, changedAmount, newE, deleted, newÉ, changedAt); res.Stdout != want {
		t.Fatalf("differences:\n%s\nwant\n%s", res.Stdout, want)
	}
	testkit.Contains(t, "the summary", res.Stderr, "2001 source rows, 2000 target rows: 2 new, 3 changed, 1 deleted",
		"differ: 2 new, 3 changed, 1 deleted")
	if res = diff(1, "--columns", "amount"); res.Stdout != lines(changedAmount, newE, deleted, newÉ) {
		t.Fatalf("--columns amount:\n%s", res.Stdout)
	}
	if res = diff(1, "--where", "id <= 12", "--primary-keys", "region,id", "--output", "json"); res.Stdout != lines(changedNote, changedAmount, newE) {
		t.Fatalf("--where:\n%s", res.Stdout)
	}
	var sum struct {
		SourceRows int64 `json:"source_rows"`
		New        int64 `json:"new"`
		Changed    int64 `json:"changed"`
	}
	if err := json.Unmarshal([]byte(res.Stderr[:strings.LastIndex(res.Stderr, "}")+1]), &sum); err != nil || sum.SourceRows != 12 || sum.New != 1 || sum.Changed != 2 {
		t.Fatalf("--output json summary (%v): %s", err, res.Stderr)
	}

	// A NULL key cannot be matched; a table without a primary key needs
	// --primary-keys.
	res = bin.Run(t, env, "diff", "pg.public."+nullk, "pg.public."+nullk, "--primary-keys", "k")
	if res.Code != 2 || !strings.Contains(res.Stderr, `key column "k" is NULL in row 1 of pg.public.`+nullk) {
		t.Fatalf("NULL key: exit %d\n%s", res.Code, res.Stderr)
	}
	res = bin.Run(t, env, "diff", "pg.public."+nullk, "pg.public."+nullk)
	if res.Code != 2 || !strings.Contains(res.Stderr, "has no primary key: name the key columns with --primary-keys") {
		t.Fatalf("no key: exit %d\n%s", res.Code, res.Stderr)
	}
}
