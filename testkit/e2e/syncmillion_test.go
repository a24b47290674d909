package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// millionRows is the size of TestSyncMillionRows's tables.
const millionRows = 1000000

// millionStatus is the difference TestSyncMillionRows makes at id, 1% of
// the rows in all: 4,000 changed, 3,000 only in the source, 3,000 only in
// the target.
func millionStatus(id int64) string {
	switch {
	case id > millionRows:
		return "deleted"
	case id%1000 == 11 || id%1000 == 22 || id%1000 == 33:
		return "new"
	case id%250 == 3:
		return "changed"
	}
	return ""
}

// TestSyncMillionRows: a 1,000,000-row PostgreSQL table and its MariaDB
// twin (each generated in its server) with 1% of the rows different. hp
// diff finds exactly those keys, with the right status and columns; sync
// batch applies them in one transaction, after which a diff finds
// nothing; then the other way, MariaDB into PostgreSQL.
func TestSyncMillionRows(t *testing.T) {
	t.Parallel() // its own tables
	bin := testkit.Build(t, "postgres", "mysql")
	const pgT, myT = "hp_e2e_sync21_m_pg", "hp_e2e_sync21_m_my"
	start := time.Now()
	// Both sides at once: MariaDB's million inserts take the longer.
	pgDone := make(chan error, 1)
	go func() {
		_, err := pgRun(context.Background(), fmt.Sprintf(`drop table if exists %[1]s;
			create table %[1]s (id bigint primary key, amount numeric(12,2), note varchar(40), at timestamptz);
			insert into %[1]s select g, g * 0.25 + case when g %% 250 = 3 then 0.01 else 0 end, 'n' || g,
				timestamptz '2024-01-01 00:00:00.5+00' + g * interval '1 second' from generate_series(1, %[2]d) g`, pgT, millionRows), "|")
		pgDone <- err
	}()
	mysqlOut(t, fmt.Sprintf("DROP TABLE IF EXISTS %[1]s; CREATE TABLE %[1]s (id BIGINT PRIMARY KEY, amount DECIMAL(12,2), note VARCHAR(40), at DATETIME(6));"+
		"INSERT INTO %[1]s SELECT seq, seq * 0.25, CONCAT('n', seq), TIMESTAMP'2024-01-01 00:00:00.5' + INTERVAL seq SECOND FROM seq_1_to_%[2]d WHERE seq %% 1000 NOT IN (11, 22, 33);"+
		"INSERT INTO %[1]s SELECT %[2]d + seq, 0, 'only here', NULL FROM seq_1_to_3000", myT, millionRows))
	if err := <-pgDone; err != nil {
		pgFailed(t, err, "generating "+pgT)
	}
	t.Cleanup(func() {
		_ = mysqlOutQuiet("DROP TABLE IF EXISTS test." + myT)
		pgExec(t, "drop table if exists "+pgT)
	})
	t.Logf("tables generated in %.1fs", time.Since(start).Seconds())
	env := []string{"HP_PG_DSN=" + pgDSN, "HP_MY_DSN=" + myDSN}
	p := syncPair{t: t, bin: bin, env: env, src: "pg.public." + pgT, tgt: "my." + myT, keys: "id"}

	start = time.Now()
	counts := map[string]int{}
	for _, line := range strings.Split(strings.TrimSuffix(p.diff(1), "\n"), "\n") {
		var d struct {
			Status  string           `json:"status"`
			Key     map[string]int64 `json:"key"`
			Columns []string         `json:"columns"`
		}
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		id := d.Key["id"]
		if want := millionStatus(id); d.Status != want || (want == "changed") != (fmt.Sprint(d.Columns) == "[amount]") {
			t.Fatalf("id %d: %s %v, want %q", id, d.Status, d.Columns, want)
		}
		counts[d.Status]++
	}
	if counts["changed"] != 4000 || counts["new"] != 3000 || counts["deleted"] != 3000 {
		t.Fatalf("differences %v, want 4000 changed, 3000 new, 3000 deleted", counts)
	}
	t.Logf("diff of 2 x ~1M rows in %.1fs", time.Since(start).Seconds())

	start = time.Now()
	got, _ := p.sync(0)
	p.wantCounts("PostgreSQL into MariaDB", got, 3000, 4000, 3000, 0)
	if out := p.diff(0); out != "" {
		t.Fatalf("differences after the sync:\n%.2000s", out)
	}
	t.Logf("sync and second diff in %.1fs", time.Since(start).Seconds())

	// The other way: 1% changed in MariaDB, synced into PostgreSQL.
	// By key through joins to sequences: scanning a million rows with
	// MariaDB's UPDATE and DELETE takes far longer.
	mysqlOut(t, "UPDATE "+myT+" JOIN seq_0_to_3999 s ON id = s.seq * 250 + 3 SET note = 'changed';"+
		" DELETE "+myT+" FROM "+myT+" JOIN seq_0_to_999 s ON id IN (s.seq * 1000 + 11, s.seq * 1000 + 22, s.seq * 1000 + 33);"+
		" INSERT INTO "+myT+" SELECT "+fmt.Sprint(millionRows)+" + seq, 1, 'new', NULL FROM seq_1_to_3000")
	start = time.Now()
	b := syncPair{t: t, bin: bin, env: env, src: p.tgt, tgt: p.src, keys: "id"}
	got, _ = b.sync(0)
	b.wantCounts("MariaDB into PostgreSQL", got, 3000, 4000, 3000, 0)
	if out := b.diff(0); out != "" {
		t.Fatalf("differences after the sync back:\n%.2000s", out)
	}
	if n := pgExec(t, "select count(*) filter (where note = 'changed'), count(*) filter (where note = 'new'), count(*) from "+pgT); n != "4000|3000|1000000" {
		t.Fatalf("PostgreSQL after the sync back: %s", n)
	}
	t.Logf("sync back and diff in %.1fs", time.Since(start).Seconds())
}
