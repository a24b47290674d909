package e2e

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// sqliteFile is a SQLite database of the test's own; exec runs statements
// in it, query returns rows as psql -At would ('|' between columns).
type sqliteFile struct {
	t    *testing.T
	path string
}

func newSQLiteFile(t *testing.T) sqliteFile {
	return sqliteFile{t: t, path: filepath.Join(t.TempDir(), "sync.db")}
}

func (f sqliteFile) dsn() string { return "sqlite://" + f.path + "?mode=rwc" }

func (f sqliteFile) open() *sql.DB {
	f.t.Helper()
	db, err := sql.Open("sqlite", "file:"+f.path)
	if err != nil {
		f.t.Fatal(err)
	}
	return db
}

func (f sqliteFile) exec(stmts string) {
	f.t.Helper()
	db := f.open()
	defer db.Close()
	if _, err := db.Exec(stmts); err != nil {
		f.t.Fatalf("SQLite: %v\n%s", err, stmts)
	}
}

func (f sqliteFile) query(q string) string {
	f.t.Helper()
	db := f.open()
	defer db.Close()
	rows, err := db.Query(q)
	if err != nil {
		f.t.Fatalf("SQLite: %v\n%s", err, q)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var lines []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			f.t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			if v != nil {
				parts[i] = fmt.Sprint(v)
			}
		}
		lines = append(lines, strings.Join(parts, "|"))
	}
	if err := rows.Err(); err != nil {
		f.t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// TestSyncBatchPostgresSQLite: PostgreSQL to a SQLite table cp meta made,
// and back. A composite key of mixed case and accents (SQLite's BINARY
// collation and PostgreSQL's COLLATE "C" agree on byte order), rows new,
// changed and deleted on either side; a sync that fails after its deletes
// (a trigger refusing a row) leaves the SQLite file exactly as before, and
// in chunks at the last chunk committed, a rerun completing it; a sync
// makes a second diff empty. A NULL key, which SQLite allows in a
// composite primary key, is refused by diff and sync alike.
func TestSyncBatchPostgresSQLite(t *testing.T) {
	t.Parallel() // its own tables and file
	bin := testkit.Build(t, "postgres", "sqlite")
	const src, back = "hp_e2e_sync21_ps_src", "hp_e2e_sync21_ps_back"
	pgExec(t, `drop table if exists `+src+`, `+back+`;
		create table `+src+` (region text, id int, amount numeric(10,2), note text, at timestamptz, primary key (region, id));
		insert into `+src+` select (array['a','A','b','B','e','é','É','z'])[g % 8 + 1], g, g * 1.25, 'n' || g,
			timestamptz '2024-03-31 01:00:00.123456+00' + g * interval '1 minute' from generate_series(1, 2000) g`)
	t.Cleanup(func() { pgExec(t, "drop table if exists "+src+", "+back) })
	lite := newSQLiteFile(t)
	env := []string{"HP_PG_DSN=" + pgDSN, "HP_LITE_DSN=" + lite.dsn()}
	for _, args := range [][]string{{"cp", "meta", "pg.public." + src, "lite.items", "--execute"}, {"cp", "snap", "pg.public." + src, "lite.items"}} {
		if res := bin.Run(t, env, args...); res.Code != 0 {
			t.Fatalf("hp %v: exit %d\n%s", args, res.Code, res.Stderr)
		}
	}
	p := syncPair{t: t, bin: bin, env: env, src: "pg.public." + src, tgt: "lite.items", keys: "region,id"}
	if out := p.diff(0); out != "" {
		t.Fatalf("differences after cp meta and cp snap:\n%s", out)
	}
	dump := func() string { return lite.query(`SELECT region, id, amount, note, at FROM items ORDER BY region, id`) }

	pgExec(t, `update `+src+` set amount = amount + 0.01 where id in (10, 1000); update `+src+` set note = 'changed' where id = 11;
		insert into `+src+` values ('É', 5000, 1, 'new', now()), ('é', 5001, 2, 'new', now()), ('e', 5002, 3, 'new', now()), ('A', 5003, 4, 'new', now())`)
	lite.exec(`DELETE FROM items WHERE id = 12; INSERT INTO items (region, id, amount, note) VALUES ('Ä', 6000, 1, 'only here'), ('a', 6001, 1, 'only here')`)
	// In byte order: A < B < a < b < e < Ä < É < é.
	want := `{"status":"new","key":{"region":"A","id":5003},"columns":[]}
{"status":"changed","key":{"region":"B","id":11},"columns":["note"]}
{"status":"changed","key":{"region":"a","id":1000},"columns":["amount"]}
{"status":"deleted","key":{"region":"a","id":6001},"columns":[]}
{"status":"changed","key":{"region":"b","id":10},"columns":["amount"]}
{"status":"new","key":{"region":"e","id":12},"columns":[]}
{"status":"new","key":{"region":"e","id":5002},"columns":[]}
{"status":"deleted","key":{"region":"Ä","id":6000},"columns":[]}
{"status":"new","key":{"region":"É","id":5000},"columns":[]}
{"status":"new","key":{"region":"é","id":5001},"columns":[]}
`
	if got := p.diff(1); got != want {
		t.Fatalf("differences:\n%s\nwant\n%s", got, want)
	}
	got, _ := p.sync(0, "--dry-run")
	p.wantCounts("--dry-run", got, 5, 3, 2, 0)

	// A sync that fails after the target-only rows were deleted: a trigger
	// refuses one of the upserted rows. Nothing of it stays.
	lite.exec(`CREATE TRIGGER refuse BEFORE INSERT ON items WHEN NEW.note = 'boom' BEGIN SELECT RAISE(ABORT, 'boom refused'); END`)
	pgExec(t, `update `+src+` set note = 'boom' where id = 1500`)
	before := dump()
	_, res := p.sync(2)
	testkit.Contains(t, "the failed sync", res.Stderr, "lite.items", "was not changed", "boom refused")
	if dump() != before {
		t.Fatalf("a failed sync changed the SQLite table")
	}
	// In chunks of 3 differences the refused row ('e', 1500) is the 7th
	// in key order: the first two chunks stay committed, the rest as it
	// was, and a rerun applies the rest.
	_, res = p.sync(2, "--chunk-rows", "3")
	testkit.Contains(t, "the failed chunk", res.Stderr, "syncing chunk 3 into lite.items", "holds the 2 chunks committed before it", "boom refused")
	if got := lite.query(`SELECT region || id || '=' || note FROM items WHERE (region, id) IN (('A', 5003), ('B', 11), ('e', 12), ('e', 1500), ('e', 5002)) ORDER BY region, id`); got != "A5003=new\nB11=changed\ne12=n12\ne1500=n1500" {
		t.Fatalf("after the failed chunk the SQLite table holds\n%s", got)
	}
	if got := lite.query(`SELECT COUNT(*) FROM items WHERE id IN (6000, 6001)`); got != "1" {
		t.Fatalf("after the failed chunk %s of the 2 target-only rows are left, want 1 (a/6001 deleted in chunk 2, Ä/6000 in chunk 3)", got)
	}
	lite.exec(`DROP TRIGGER refuse`)
	got, _ = p.sync(0, "--chunk-rows", "3")
	p.wantCounts("the rerun", got, 3, 1, 1, 0)
	if got.Chunks != 2 {
		t.Fatalf("the rerun: %+v, want 2 chunks", got)
	}
	if out := p.diff(0); out != "" {
		t.Fatalf("differences after the sync:\n%s", out)
	}
	got, _ = p.sync(0)
	p.wantCounts("a second sync", got, 0, 0, 0, 0)

	// Back: SQLite to a PostgreSQL table cp meta made.
	env = append(env, "HP_BACK_DSN="+pgDSN)
	for _, args := range [][]string{{"cp", "meta", "lite.items", "back.public." + back, "--execute"}, {"cp", "snap", "lite.items", "back.public." + back}} {
		if res := bin.Run(t, env, args...); res.Code != 0 {
			t.Fatalf("hp %v: exit %d\n%s", args, res.Code, res.Stderr)
		}
	}
	b := syncPair{t: t, bin: bin, env: env, src: "lite.items", tgt: "back.public." + back, keys: "region,id"}
	b.diff(0)
	lite.exec(`UPDATE items SET note = 'again' WHERE id IN (1, 2, 3); DELETE FROM items WHERE id = 4; INSERT INTO items (region, id) VALUES ('Z', 1)`)
	got, _ = b.sync(0)
	b.wantCounts("SQLite to PostgreSQL", got, 1, 3, 1, 0)
	if out := b.diff(0); out != "" {
		t.Fatalf("differences after syncing SQLite into PostgreSQL:\n%s", out)
	}

	// A NULL key: refused by diff and by sync, the target unchanged.
	// SQLite allows it in a composite primary key not declared NOT NULL.
	lite.exec(`CREATE TABLE nk (region TEXT, id INTEGER, note TEXT, PRIMARY KEY (region, id));
		INSERT INTO nk SELECT region, id, note FROM items; INSERT INTO nk VALUES (NULL, 7, 'null key')`)
	backBefore := pgExec(t, "select count(*), sum(id) from "+back)
	for _, args := range [][]string{{"diff", "lite.nk", "back.public." + back}, {"sync", "batch", "lite.nk", "back.public." + back}} {
		res := bin.Run(t, env, args...)
		if res.Code != 2 || !strings.Contains(res.Stderr, "region") || !strings.Contains(strings.ToLower(res.Stderr), "null") {
			t.Fatalf("hp %v with a NULL key: exit %d\n%s%s", args, res.Code, res.Stdout, res.Stderr)
		}
	}
	if after := pgExec(t, "select count(*), sum(id) from "+back); after != backBefore {
		t.Fatalf("a sync refused for a NULL key changed the target: %s, was %s", after, backBefore)
	}
}

// TestSyncBatchMariaDBSQLite: MariaDB to a SQLite table cp meta made, and
// SQLite to MariaDB. MariaDB's case-insensitive default collation orders
// the mixed-case key otherwise than SQLite's bytes: diff reads both in
// byte order, and a sync into MariaDB replaces a target key 'A' by the
// source's 'a' (one key to its collation). A sync into SQLite that fails
// after its deletes leaves the file as before.
func TestSyncBatchMariaDBSQLite(t *testing.T) {
	t.Parallel() // its own tables and file
	bin := testkit.Build(t, "mysql", "sqlite")
	const src, back = "hp_e2e_sync21_ms_src", "hp_e2e_sync21_ms_back"
	mysqlOut(t, "DROP TABLE IF EXISTS "+src+", "+back+"; CREATE TABLE "+src+" (code VARCHAR(20), n INT, price DECIMAL(12,3), label TEXT, PRIMARY KEY (code, n));"+
		"INSERT INTO "+src+" SELECT ELT(seq % 6 + 1, 'a', 'B', 'c', 'D', 'é', 'Zz'), seq, seq / 8, CONCAT('l', seq) FROM seq_1_to_2000")
	t.Cleanup(func() { _ = mysqlOutQuiet("DROP TABLE IF EXISTS test." + src + ", test." + back) })
	lite := newSQLiteFile(t)
	env := []string{"HP_MY_DSN=" + myDSN, "HP_LITE_DSN=" + lite.dsn()}
	for _, args := range [][]string{{"cp", "meta", "my." + src, "lite.items", "--execute"}, {"cp", "snap", "my." + src, "lite.items"}} {
		if res := bin.Run(t, env, args...); res.Code != 0 {
			t.Fatalf("hp %v: exit %d\n%s", args, res.Code, res.Stderr)
		}
	}
	p := syncPair{t: t, bin: bin, env: env, src: "my." + src, tgt: "lite.items", keys: "code,n"}
	p.diff(0)
	dump := func() string { return lite.query(`SELECT code, n, price, label FROM items ORDER BY code, n`) }

	mysqlOut(t, "UPDATE "+src+" SET price = price + 1 WHERE n IN (5, 6); DELETE FROM "+src+" WHERE n IN (7, 8, 9);"+
		"INSERT INTO "+src+" VALUES ('b', 3000, 1, 'new'), ('A', 3000, 1, 'new')")
	lite.exec(`INSERT INTO items VALUES ('Zz', 9000, 1, 'only here')`)
	// In byte order: A < B < D < Zz < a < b < c.
	want := `{"status":"new","key":{"code":"A","n":3000},"columns":[]}
{"status":"deleted","key":{"code":"B","n":7},"columns":[]}
{"status":"deleted","key":{"code":"D","n":9},"columns":[]}
{"status":"changed","key":{"code":"Zz","n":5},"columns":["price"]}
{"status":"deleted","key":{"code":"Zz","n":9000},"columns":[]}
{"status":"changed","key":{"code":"a","n":6},"columns":["price"]}
{"status":"new","key":{"code":"b","n":3000},"columns":[]}
{"status":"deleted","key":{"code":"c","n":8},"columns":[]}
`
	if got := p.diff(1); got != want {
		t.Fatalf("differences:\n%s\nwant\n%s", got, want)
	}

	lite.exec(`CREATE TRIGGER refuse BEFORE INSERT ON items WHEN NEW.label = 'boom' BEGIN SELECT RAISE(ABORT, 'boom refused'); END`)
	mysqlOut(t, "UPDATE "+src+" SET label = 'boom' WHERE n = 1999")
	before := dump()
	_, res := p.sync(2)
	testkit.Contains(t, "the failed sync", res.Stderr, "lite.items", "was not changed", "boom refused")
	if dump() != before {
		t.Fatalf("a failed sync changed the SQLite table")
	}
	lite.exec(`DROP TRIGGER refuse`)
	got, _ := p.sync(0)
	p.wantCounts("sync", got, 2, 3, 4, 0)
	if out := p.diff(0); out != "" {
		t.Fatalf("differences after the sync:\n%s", out)
	}

	// SQLite to MariaDB, whose collation holds 'a' and 'A' as one key.
	env = append(env, "HP_BACK_DSN="+myDSN)
	for _, args := range [][]string{{"cp", "meta", "lite.items", "back." + back, "--execute"}, {"cp", "snap", "lite.items", "back." + back}} {
		if res := bin.Run(t, env, args...); res.Code != 0 {
			t.Fatalf("hp %v: exit %d\n%s", args, res.Code, res.Stderr)
		}
	}
	b := syncPair{t: t, bin: bin, env: env, src: "lite.items", tgt: "back." + back, keys: "code,n"}
	b.diff(0)
	mysqlOut(t, "UPDATE "+back+" SET code = 'A' WHERE code = 'a' AND n = 12")
	lite.exec(`UPDATE items SET label = 'again' WHERE n IN (1, 2); DELETE FROM items WHERE n = 3; INSERT INTO items VALUES ('é', 1, 2, 'new')`)
	got, _ = b.sync(0)
	b.wantCounts("SQLite to MariaDB", got, 2, 2, 2, 0) // new: ('a', 12), ('é', 1); deleted: ('A', 12), n = 3
	if out := b.diff(0); out != "" {
		t.Fatalf("differences after syncing SQLite into MariaDB:\n%s", out)
	}
	if got := mysqlOut(t, "SELECT CAST(code AS BINARY), label FROM "+back+" WHERE n = 12"); got != "a\tl12\n" {
		t.Fatalf("MariaDB holds for n = 12: %q, want the source's a", got)
	}
}
