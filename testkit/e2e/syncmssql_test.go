package e2e

import (
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/testkit"
	"github.com/halfpipe-io/halfpipe/testkit/tds"
)

// syncmsStore is the TDS test server with rows (tds.Store) that hp's
// mssql plugin reads, writes and syncs.
func syncmsStore(t *testing.T) (*tds.Server, *tds.Store) {
	db := tds.Start(t, tds.WithLogin("etl", "pw"))
	return db, tds.NewStore(db, tds.StoreQueries{Columns: mssqlColumnsQuery, PrimaryKey: mssqlKeyQuery, Version: "SELECT @@VERSION"})
}

// syncmsRows prints a store table's rows in a stable order.
func syncmsRows(st *tds.Store, name string) string {
	var out []string
	for _, r := range st.Rows(name) {
		cells := make([]string, len(r))
		for i, v := range r {
			if x, ok := v.(*big.Rat); ok {
				v = x.FloatString(2)
			}
			cells[i] = fmt.Sprint(v)
		}
		out = append(out, strings.Join(cells, "|"))
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

func countStatus(diff, status string) int {
	return strings.Count(diff, `{"status":"`+status+`"`)
}

// TestSyncBatchPostgresToSQLServer: a table copied by cp meta and cp snap
// into SQL Server (the TDS test server with rows) has no differences
// (text keys of mixed case and accents ordered alike on both sides: bytes
// in PostgreSQL, a _BIN2 collation in SQL Server); rows new, changed and
// deleted in the source are found by diff, a sync whose MERGE fails
// (a NULL for a NOT NULL column) after its DELETE leaves the target as it
// was, a sync applies them, a second diff is empty and a second sync
// finds nothing.
func TestSyncBatchPostgresToSQLServer(t *testing.T) {
	t.Parallel() // its own tables
	bin := testkit.Build(t, "postgres", "mssql")
	const src, target = "hp_e2e_syncms_src", "[dbo].[synced]"
	db, st := syncmsStore(t)
	pgExec(t, `drop table if exists `+src+`;
		create table `+src+` (region text not null, id bigint not null, amount numeric(10,2), note text not null, primary key (region, id));
		insert into `+src+` select (array['a','A','b','B','e','é','É','z'])[g % 8 + 1], g, g * 1.25, 'n' || g from generate_series(1, 400) g`)
	t.Cleanup(func() { pgExec(t, "drop table if exists "+src) })
	env := []string{"HP_PG_DSN=" + pgDSN, "HP_MS_DSN=" + db.DSN("etl", "pw", "Sales")}
	for _, args := range [][]string{{"cp", "meta", "pg.public." + src, "ms.dbo.synced", "--execute"}, {"cp", "snap", "pg.public." + src, "ms.dbo.synced"}} {
		if res := bin.Run(t, env, args...); res.Code != 0 {
			t.Fatalf("hp %v: exit %d\n%s", args, res.Code, res.Stderr)
		}
	}
	if n := len(st.Rows(target)); n != 400 {
		t.Fatalf("cp snap put %d rows into %s, want 400", n, target)
	}
	p := syncPair{t: t, bin: bin, env: env, src: "pg.public." + src, tgt: "ms.dbo.synced", keys: "region,id"}
	p.diff(0)

	pgExec(t, `update `+src+` set amount = amount + 0.01 where id in (10, 200); update `+src+` set note = 'changed' where id = 11;
		insert into `+src+` values ('É', 5000, 1, 'new'), ('é', 5001, 2, 'new'), ('A', 5002, 3, 'new');
		delete from `+src+` where id in (12, 13)`)
	differences := p.diff(1)
	if countStatus(differences, "new") != 3 || countStatus(differences, "changed") != 3 || countStatus(differences, "deleted") != 2 {
		t.Fatalf("differences:\n%s", differences)
	}

	// The keys to delete are deleted first, then the MERGE fails: nothing
	// of it stays.
	pgExec(t, `alter table `+src+` alter column note drop not null; update `+src+` set note = null where id = 20`)
	before := syncmsRows(st, target)
	_, res := p.sync(2)
	testkit.Contains(t, "the failed sync", res.Stderr, "ms.dbo.synced", "was not changed", "Cannot insert the value NULL")
	if syncmsRows(st, target) != before {
		t.Fatalf("a failed sync changed the target")
	}
	stmts := strings.Join(mswStatements(db, 0), "\n")
	deleteThenMerge := regexp.MustCompile(`DELETE t FROM \[dbo\]\.\[synced\] AS t INNER JOIN \[#hp_delete_[0-9a-f]+\] AS s ON t\.\[region\] = s\.\[region\] AND t\.\[id\] = s\.\[id\]\nMERGE \[dbo\]\.\[synced\] `)
	if !deleteThenMerge.MatchString(stmts) ||
		!strings.Contains(stmts, "ROLLBACK TRANSACTION") {
		t.Fatalf("the failed sync's statements:\n%s", stmts)
	}

	pgExec(t, `update `+src+` set note = 'back' where id = 20`)
	got, _ := p.sync(0)
	p.wantCounts("sync", got, 3, 4, 2, 0)
	if out := p.diff(0); out != "" {
		t.Fatalf("differences after the sync:\n%s", out)
	}
	got, _ = p.sync(0)
	p.wantCounts("a second sync", got, 0, 0, 0, 0)
}

// TestSyncBatchSQLServerToPostgres: the other way, SQL Server (the TDS
// test server with rows) as the source read in key order with a _BIN2
// collation, into a PostgreSQL table with a composite key; a value too
// long for the target's column fails the sync and leaves the table as it
// was; then the sync makes a second diff empty.
func TestSyncBatchSQLServerToPostgres(t *testing.T) {
	t.Parallel() // its own tables
	bin := testkit.Build(t, "postgres", "mssql")
	const tgt, source = "hp_e2e_syncms_tgt", "[dbo].[origin]"
	db, st := syncmsStore(t)
	cols := []tds.Column{
		{Name: "region", Type: tds.NVarChar, Length: 100},
		{Name: "id", Type: tds.BigInt},
		{Name: "amount", Type: tds.Decimal, Precision: 10, Scale: 2, Nullable: true},
		{Name: "note", Type: tds.NVarChar, Length: 200, Nullable: true},
	}
	regions := []string{"a", "A", "b", "B", "e", "é", "É", "z"}
	var rows [][]any
	for g := int64(1); g <= 400; g++ {
		rows = append(rows, []any{regions[g%8], g, big.NewRat(g*125, 100), fmt.Sprintf("n%d", g)})
	}
	st.Add(source, cols, rows)
	pgExec(t, `drop table if exists `+tgt+`;
		create table `+tgt+` (region text, id bigint, amount numeric(10,2), note varchar(10), primary key (region, id))`)
	t.Cleanup(func() { pgExec(t, "drop table if exists "+tgt) })
	env := []string{"HP_PG_DSN=" + pgDSN, "HP_MS_DSN=" + db.DSN("etl", "pw", "Sales")}
	if res := bin.Run(t, env, "cp", "snap", "ms.dbo.origin", "pg.public."+tgt, "--write-mode", "append"); res.Code != 0 {
		t.Fatalf("hp cp snap: exit %d\n%s", res.Code, res.Stderr)
	}
	p := syncPair{t: t, bin: bin, env: env, src: "ms.dbo.origin", tgt: "pg.public." + tgt, keys: "region,id"}
	p.diff(0)
	dump := func() string {
		return pgExec(t, "select region, id, amount, note from "+tgt+` order by region collate "C", id`)
	}

	// In the source: two amounts and a note change, three rows are new,
	// two go; the target gains a row of its own.
	changed := slices.Clone(rows)
	changed[9] = []any{regions[10%8], int64(10), big.NewRat(1001, 100), "n10"}
	changed[199] = []any{regions[200%8], int64(200), nil, "n200"}
	changed[10] = []any{regions[11%8], int64(11), big.NewRat(11*125, 100), "changed"}
	changed = append(changed[:11], changed[13:]...) // 12 and 13 go
	changed = append(changed, []any{"É", int64(5000), big.NewRat(1, 1), "new"}, []any{"é", int64(5001), nil, nil}, []any{"A", int64(5002), big.NewRat(3, 1), "new"})
	pgExec(t, `insert into `+tgt+` values ('Ä', 6000, 1, 'only here')`)
	tooLong := slices.Clone(changed)
	tooLong[20] = []any{tooLong[20][0], tooLong[20][1], tooLong[20][2], strings.Repeat("x", 30)}
	st.Add(source, cols, tooLong)
	before := dump()
	_, res := p.sync(2)
	testkit.Contains(t, "the failed sync", res.Stderr, "pg.public."+tgt, "was not changed")
	if dump() != before {
		t.Fatalf("a failed sync changed the target")
	}

	st.Add(source, cols, changed)
	differences := p.diff(1)
	if countStatus(differences, "new") != 3 || countStatus(differences, "changed") != 3 || countStatus(differences, "deleted") != 3 {
		t.Fatalf("differences:\n%s", differences)
	}
	got, _ := p.sync(0)
	p.wantCounts("sync", got, 3, 3, 3, 0)
	if out := p.diff(0); out != "" {
		t.Fatalf("differences after the sync:\n%s", out)
	}
	got, _ = p.sync(0)
	p.wantCounts("a second sync", got, 0, 0, 0, 0)
}
