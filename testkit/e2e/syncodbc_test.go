package e2e

import (
	"testing"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// TestSyncBatchPostgresToODBCMariaDB: sync batch into MariaDB through the
// odbc plugin and MariaDB's ODBC driver: a composite key of mixed case
// and accents (read in byte order through the ODBC flavor's dialect),
// rows new, changed and deleted, a value too long for the target's
// column fails the sync and changes nothing, the sync makes a second diff
// empty, a second sync finds nothing.
func TestSyncBatchPostgresToODBCMariaDB(t *testing.T) {
	t.Parallel() // its own tables
	mysqlOut(t, "SELECT 1")
	bin := testkit.Build(t, "postgres", "odbc")
	const src, tgt = "hp_e2e_syncodbc_src", "hp_e2e_syncodbc_tgt"
	pgExec(t, `drop table if exists `+src+`;
		create table `+src+` (region text, id int, amount numeric(10,2), note text, primary key (region, id));
		insert into `+src+` select (array['a','A','b','B','e','é','É','z'])[g % 8 + 1], g, g * 1.25, 'n' || g from generate_series(1, 500) g`)
	mysqlOut(t, "DROP TABLE IF EXISTS "+tgt+"; CREATE TABLE "+tgt+" (region VARCHAR(20) NOT NULL, id INT NOT NULL, amount DECIMAL(10,2), note VARCHAR(10), PRIMARY KEY (region, id))")
	t.Cleanup(func() {
		_ = mysqlOutQuiet("DROP TABLE IF EXISTS test." + tgt)
		pgExec(t, "drop table if exists "+src)
	})
	env := []string{"HP_PG_DSN=" + pgDSN, "HP_OD_DSN=odbc+mariadb://root@127.0.0.1:3306/test"}
	if res := bin.Run(t, env, "cp", "snap", "pg.public."+src, "od.test."+tgt, "--write-mode", "append"); res.Code != 0 {
		t.Fatalf("hp cp snap: exit %d\n%s", res.Code, res.Stderr)
	}
	p := syncPair{t: t, bin: bin, env: env, src: "pg.public." + src, tgt: "od.test." + tgt, keys: "region,id"}
	p.diff(0)
	dump := func() string {
		return mysqlOut(t, "SELECT region, id, amount, note FROM "+tgt+" ORDER BY CAST(region AS BINARY), id")
	}

	pgExec(t, `update `+src+` set amount = amount + 0.01 where id in (10, 200); update `+src+` set note = 'changed' where id = 11;
		insert into `+src+` values ('É', 5000, 1, 'new'), ('é', 5001, 2, 'new');
		delete from `+src+` where id in (12, 13);
		update `+src+` set note = repeat('x', 30) where id = 20`)
	before := dump()
	_, res := p.sync(2)
	testkit.Contains(t, "the failed sync", res.Stderr, "od.test."+tgt, "was not changed")
	if dump() != before {
		t.Fatalf("a failed sync changed the target")
	}

	pgExec(t, `update `+src+` set note = 'short' where id = 20`)
	got, _ := p.sync(0)
	p.wantCounts("sync", got, 2, 4, 2, 0)
	if out := p.diff(0); out != "" {
		t.Fatalf("differences after the sync:\n%s", out)
	}
	got, _ = p.sync(0)
	p.wantCounts("a second sync", got, 0, 0, 0, 0)
}
