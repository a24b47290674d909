package e2e

import (
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/testkit"
	"github.com/halfpipe-io/halfpipe/testkit/tds"
)

// TestSyncBatchPostgresToODBCFreeTDS: sync batch into SQL Server through
// the odbc plugin and FreeTDS (odbc+sqlserver://, the TDS test server with
// rows, running sqlsource's merge statements), on a server whose tempdb
// collation is not the database's: a composite key of mixed case and
// accents, a first sync fills the empty table, rows new, changed and
// deleted are applied, a sync failing after its DELETE (a NULL for a NOT
// NULL column) leaves the target as it was, and a second diff is empty.
func TestSyncBatchPostgresToODBCFreeTDS(t *testing.T) {
	t.Parallel() // its own tables and TDS server
	bin := testkit.Build(t, "postgres", "odbc")
	const src, target = "hp_e2e_syncodtds_src", "[dbo].[odsync]"
	// Staged text keys in tempdb's collation would conflict (error 468).
	db := tds.Start(t, tds.WithLogin("etl", "pw"), tds.WithCollations("Latin1_General_100_CI_AS_SC_UTF8", tds.DefaultCollation))
	st := tds.NewStore(db, tds.StoreQueries{Columns: mssqlColumnsQuery, PrimaryKey: mssqlKeyQuery, Version: "SELECT @@VERSION"})
	pgExec(t, `drop table if exists `+src+`;
		create table `+src+` (region text not null, id bigint not null, note text, primary key (region, id));
		insert into `+src+` select (array['a','A','b','B','e','é','É','z'])[g % 8 + 1], g, 'n' || g from generate_series(1, 60) g`)
	t.Cleanup(func() { pgExec(t, "drop table if exists "+src) })
	st.Add(target, []tds.Column{{Name: "region", Type: tds.NVarChar, Length: 20, PrimaryKey: true}, {Name: "id", Type: tds.BigInt, PrimaryKey: true},
		{Name: "note", Type: tds.NVarChar, Length: 50}}, nil)
	env := []string{"HP_PG_DSN=" + pgDSN, "HP_OD_DSN=odbc+sqlserver://etl:pw@" + db.Addr + "/Sales?driver=FreeTDS"}
	p := syncPair{t: t, bin: bin, env: env, src: "pg.public." + src, tgt: "od.dbo.odsync", keys: "region,id"}
	defer func() {
		if t.Failed() {
			var qs []string
			for _, q := range db.Queries() {
				qs = append(qs, q.SQL)
			}
			t.Logf("the server received:\n%s", strings.Join(qs, "\n"))
		}
	}()
	got, _ := p.sync(0)
	p.wantCounts("the first sync", got, 60, 0, 0, 0)
	if out := p.diff(0); out != "" {
		t.Fatalf("differences after the first sync:\n%s", out)
	}
	pgExec(t, `update `+src+` set note = 'changed' where id in (10, 11);
		insert into `+src+` values ('É', 5000, 'new'), ('é', 5001, 'new');
		delete from `+src+` where id in (12, 13, 14)`)
	// The keys to delete go first, then the INSERT fails: nothing changes.
	pgExec(t, `update `+src+` set note = null where id = 30`)
	before := syncmsRows(st, target)
	_, res := p.sync(2)
	testkit.Contains(t, "the failed sync", res.Stderr, "od.dbo.odsync", "was not changed")
	if after := syncmsRows(st, target); after != before {
		t.Fatalf("a failed sync changed the target:\n%s", after)
	}
	pgExec(t, `update `+src+` set note = 'n30' where id = 30`)
	got, _ = p.sync(0)
	p.wantCounts("sync", got, 2, 2, 3, 0)
	if out := p.diff(0); out != "" {
		t.Fatalf("differences after the sync:\n%s", out)
	}
	if rows := syncmsRows(st, target); strings.Count(rows, "\n") != 58 || !strings.Contains(rows, "É|5000|new") {
		t.Fatalf("the target's rows:\n%s", rows)
	}
}
