package e2e

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// TestSF18MetaPostgresToSnowflake: hp cp meta prints the CREATE TABLE of
// a PostgreSQL table in Snowflake's types, --execute runs it, a widened
// and extended source gets the ALTERs, and rows load into the result.
func TestSF18MetaPostgresToSnowflake(t *testing.T) {
	t.Parallel()
	bin := testkit.Build(t, "postgres", "snowflake")
	pgExec(t, `drop schema if exists sf18_meta cascade; create schema sf18_meta;
		create table sf18_meta.orders (id bigint primary key, amount numeric(8,2), name varchar(20) not null, ok boolean, raw bytea,
			d date, tm time, ntz timestamp, ltz timestamptz, doc jsonb);
		insert into sf18_meta.orders values (1, 12.5, 'one', true, '\x00ff', '2024-02-29', '12:34:56.5', '2024-05-01 01:02:03.123456',
			'2024-05-01 01:02:03+02', '{"a": 1}')`)
	t.Cleanup(func() { _ = exec.Command("psql", pgDSN, "-qc", "drop schema if exists sf18_meta cascade").Run() })
	sf, env := sfTarget(t)

	res := bin.Run(t, env, "cp", "meta", "pg.sf18_meta.orders", "sf.PUBLIC.SF18_ORDERS")
	create := `CREATE TABLE "PUBLIC"."SF18_ORDERS" ("ID" NUMBER(19,0) NOT NULL, "AMOUNT" NUMBER(8,2), "NAME" VARCHAR NOT NULL, "OK" BOOLEAN, ` +
		`"RAW" BINARY, "D" DATE, "TM" TIME(9), "NTZ" TIMESTAMP_NTZ(9), "LTZ" TIMESTAMP_LTZ(9), "DOC" VARCHAR, PRIMARY KEY ("ID"));`
	if res.Code != 0 || strings.TrimSpace(res.Stdout) != create {
		t.Fatalf("cp meta: exit %d\n%s\n%s\nwant %s", res.Code, res.Stdout, res.Stderr, create)
	}
	if _, ok := sf.Rows("PUBLIC.SF18_ORDERS"); ok {
		t.Fatal("cp meta without --execute created the table")
	}
	if res := bin.Run(t, env, "cp", "meta", "pg.sf18_meta.orders", "sf.PUBLIC.SF18_ORDERS", "--execute"); res.Code != 0 {
		t.Fatalf("cp meta --execute: exit %d\n%s", res.Code, res.Stderr)
	}
	if got := strings.Join(sf.Columns("PUBLIC.SF18_ORDERS"), ", "); !strings.HasPrefix(got, "ID NUMBER(19,0) NOT NULL, AMOUNT NUMBER(8,2), NAME VARCHAR NOT NULL") {
		t.Fatalf("created columns: %s", got)
	}
	res = bin.Run(t, env, "cp", "meta", "pg.sf18_meta.orders", "sf.PUBLIC.SF18_ORDERS")
	if res.Code != 0 || strings.TrimSpace(res.Stdout) != "" || !strings.Contains(res.Stderr, "already fits") {
		t.Fatalf("cp meta of a fitting table: exit %d\n%s\n%s", res.Code, res.Stdout, res.Stderr)
	}

	// The source grows: a wider numeric, a new column, a dropped one.
	pgExec(t, `alter table sf18_meta.orders alter column amount type numeric(14,2), add column note text, drop column ok`)
	res = bin.Run(t, env, "cp", "meta", "pg.sf18_meta.orders", "sf.PUBLIC.SF18_ORDERS")
	wantAlter := `ALTER TABLE "PUBLIC"."SF18_ORDERS" ALTER COLUMN "AMOUNT" SET DATA TYPE NUMBER(14,2);` + "\n" +
		`ALTER TABLE "PUBLIC"."SF18_ORDERS" ADD COLUMN "NOTE" VARCHAR;`
	if res.Code != 0 || strings.TrimSpace(res.Stdout) != wantAlter || !strings.Contains(res.Stderr, `column "OK" is not in the schema: kept`) {
		t.Fatalf("cp meta of a grown source: exit %d\n%s\n%s\nwant %s", res.Code, res.Stdout, res.Stderr, wantAlter)
	}
	res = bin.Run(t, env, "cp", "meta", "pg.sf18_meta.orders", "sf.PUBLIC.SF18_ORDERS", "--execute", "--allow-drop")
	if res.Code != 0 || !strings.Contains(res.Stdout, `ALTER TABLE "PUBLIC"."SF18_ORDERS" DROP COLUMN "OK";`) {
		t.Fatalf("cp meta --execute --allow-drop: exit %d\n%s\n%s", res.Code, res.Stdout, res.Stderr)
	}
	got := strings.Join(sf.Columns("PUBLIC.SF18_ORDERS"), ", ")
	if !strings.Contains(got, "AMOUNT NUMBER(14,2)") || !strings.HasSuffix(got, "NOTE VARCHAR") || strings.Contains(got, "OK ") {
		t.Fatalf("columns after the ALTERs: %s", got)
	}
	// Rows load into the table cp meta made (the Write path, appending).
	pgExec(t, `update sf18_meta.orders set amount = 123456789012.25, note = 'n'`)
	if res := bin.Run(t, env, "cp", "snap", "pg.sf18_meta.orders", "sf.PUBLIC.SF18_ORDERS", "--write-mode", "append"); res.Code != 0 {
		t.Fatalf("snap into the planned table: exit %d\n%s", res.Code, res.Stderr)
	}
	rows, _ := sf.Rows("PUBLIC.SF18_ORDERS")
	if len(rows) != 1 || *rows[0][0] != "1" || *rows[0][1] != "123456789012.25" || *rows[0][2] != "one" {
		t.Fatalf("rows: %d %v", len(rows), rows)
	}
}
