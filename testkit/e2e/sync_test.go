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
