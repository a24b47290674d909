package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// TestSyncBatchPostgresToOracle: hp with the Oracle plugin on oraclefake's
// SQLite-backed store (statements translated and run in real
// transactions): cp meta --execute and cp snap make a copy diff finds
// equal; rows new, changed and deleted are found; a sync whose MERGE
// fails after its DELETE (a NULL for a NOT NULL column) changes nothing;
// the sync makes a second diff empty and a second sync finds nothing.
// The key is composite, its text of mixed case and accents read in byte
// order on both sides (NLSSORT BINARY in Oracle).
func TestSyncBatchPostgresToOracle(t *testing.T) {
	t.Parallel() // its own tables
	bin := testkit.Build(t, "postgres")
	plugins := fakeOracle(t)
	service := fmt.Sprintf("STORE%d", time.Now().UnixNano())
	t.Cleanup(func() {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			_ = os.Remove(filepath.Join("/tmp", "hp-oraclefake-"+service+".db"+suffix))
		}
	})
	const src = "hp_e2e_syncora_src"
	pgExec(t, `drop table if exists `+src+`;
		create table `+src+` (region text, id bigint, amount numeric(10,2), note text not null, primary key (region, id));
		insert into `+src+` select (array['a','A','b','B','e','é','É','z'])[g % 8 + 1], g, g * 1.25, 'n' || g from generate_series(1, 300) g`)
	t.Cleanup(func() { pgExec(t, "drop table if exists "+src) })
	env := []string{"HP_PLUGIN_DIR=" + plugins, "HP_PG_DSN=" + pgDSN, "HP_ORA_DSN=oracle://hp/pw@//db.example:1521/" + service}
	for _, args := range [][]string{{"cp", "meta", "pg.public." + src, "ora.HP.SYNCED", "--execute"}, {"cp", "snap", "pg.public." + src, "ora.HP.SYNCED"}} {
		if res := bin.Run(t, env, args...); res.Code != 0 {
			t.Fatalf("hp %v: exit %d\n%s%s", args, res.Code, res.Stdout, res.Stderr)
		}
	}
	p := syncPair{t: t, bin: bin, env: env, src: "pg.public." + src, tgt: "ora.HP.SYNCED", keys: "region,id"}
	p.diff(0)

	pgExec(t, `update `+src+` set amount = amount + 0.01 where id in (10, 200); update `+src+` set note = 'changed' where id = 11;
		insert into `+src+` values ('É', 5000, 1, 'new'), ('é', 5001, null, 'new');
		delete from `+src+` where id in (12, 13, 14)`)
	differences := p.diff(1)
	if countStatus(differences, "new") != 2 || countStatus(differences, "changed") != 3 || countStatus(differences, "deleted") != 3 {
		t.Fatalf("differences:\n%s", differences)
	}

	pgExec(t, `alter table `+src+` alter column note drop not null; update `+src+` set note = null where id = 20`)
	before := p.diff(1)
	_, res := p.sync(2)
	testkit.Contains(t, "the failed sync", res.Stderr, "ora.HP.SYNCED", "was not changed")
	if after := p.diff(1); after != before {
		t.Fatalf("a failed sync changed the target: differences before\n%s\nafter\n%s", before, after)
	}

	pgExec(t, `update `+src+` set note = 'back' where id = 20`)
	got, _ := p.sync(0)
	p.wantCounts("sync", got, 2, 4, 3, 0)
	if out := p.diff(0); out != "" {
		t.Fatalf("differences after the sync:\n%s", out)
	}
	got, _ = p.sync(0)
	p.wantCounts("a second sync", got, 0, 0, 0, 0)
}
