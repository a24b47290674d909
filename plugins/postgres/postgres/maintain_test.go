package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/halfpipe-io/halfpipe/plugins/postgres/postgres"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/conformance"
)

// maintainedTable creates sc.m with rows 1..n and returns the checksum
// request over its key span that maintained checksums of every column
// serve.
func maintainedTable(t *testing.T, db *sql.DB, sc string, n int) sdk.ChecksumRangesRequest {
	t.Helper()
	if _, err := db.Exec(`CREATE TABLE ` + sc + `.m (id bigint PRIMARY KEY, name text, amount numeric(12,3), at timestamptz, day date)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO `+sc+`.m SELECT i, 'n' || i, i * 1.5, '2024-01-01 00:00:00+00'::timestamptz + i * interval '1 minute', NULL
		FROM generate_series(1, $1::int) i`, n); err != nil {
		t.Fatal(err)
	}
	return sdk.ChecksumRangesRequest{Conn: sdk.Connection{DSN: testDSN()}, Table: sdk.ObjectRef{Schema: sc, Name: "m"},
		Columns: []string{"id", "name", "amount", "at", "day"}, Key: "id", Lower: -100, Upper: 5000, Width: 10}
}

func maintain(t *testing.T, c sdk.ChecksumMaintainer, ref sdk.ObjectRef, a sdk.ChecksumsAction, cols ...string) *sdk.MaintainChecksumsResult {
	t.Helper()
	return conformance.Maintain(t, c, sdk.Connection{DSN: testDSN()}, ref, a, cols...)
}

// TestMaintainedChecksums: after an install, every kind of write (multi-row
// insert, upsert, value and key updates, delete, COPY, TRUNCATE, a
// replica's apply) keeps the maintained checksums equal to the computed
// ones; a disabled trigger or a changed column type makes them stale (then
// computed, with the reason); installing twice is idempotent; drop leaves
// nothing behind.
func TestMaintainedChecksums(t *testing.T) {
	db, sc := schemaFor(t)
	req := maintainedTable(t, db, sc, 200)
	c := postgres.New()
	st := conformance.Install(t, c, req, "ENABLE ALWAYS TRIGGER")
	if !st.Installed || st.Stale || st.Rows != 200 || strings.Join(st.Columns, ",") != "name,amount,at,day" {
		t.Fatalf("after install: %+v", st)
	}
	conformance.CheckMaintained(t, c, req)
	m := sc + ".m"
	for _, step := range []string{
		`INSERT INTO ` + m + ` VALUES (1000, 'a', 1, NULL, '2024-01-01'), (1001, NULL, NULL, now(), NULL), (-5, '', 0, NULL, NULL)`,
		`UPDATE ` + m + ` SET name = 'changed' WHERE id BETWEEN 10 AND 20`,
		`UPDATE ` + m + ` SET id = id + 2000 WHERE id BETWEEN 30 AND 40`,
		`UPDATE ` + m + ` SET id = -id, name = name || id WHERE id BETWEEN 50 AND 70`,
		`DELETE FROM ` + m + ` WHERE id % 7 = 0`,
		`INSERT INTO ` + m + ` VALUES (1, 'up', 2, NULL, NULL), (4999, 'new', 3, NULL, NULL) ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name`,
		`WITH d AS (DELETE FROM ` + m + ` WHERE id > 190 AND id < 200 RETURNING *) INSERT INTO ` + m + ` SELECT id + 3000, name, amount, at, day FROM d`,
	} {
		if _, err := db.Exec(step); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		conformance.CheckMaintained(t, c, req)
	}
	copyRows(t, db, sc, [][]any{{int64(4000), "copied"}, {int64(4001), nil}})
	conformance.CheckMaintained(t, c, req)

	// A logical replica applies with session_replication_role = replica,
	// which fires only ALWAYS triggers.
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"SET session_replication_role = replica", "UPDATE " + m + " SET amount = 7 WHERE id < 100", "RESET session_replication_role"} {
		if _, err := conn.ExecContext(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	conn.Close()
	conformance.CheckMaintained(t, c, req)

	if _, err := db.Exec(`TRUNCATE ` + m); err != nil {
		t.Fatal(err)
	}
	if st := maintain(t, c, req.Table, sdk.ChecksumsStatus).State; st.Rows != 0 || st.Stale {
		t.Fatalf("after truncate: %+v, want an empty shadow", st)
	}
	if _, err := db.Exec(`INSERT INTO ` + m + ` VALUES (1, 'x', 1, NULL, NULL), (2, 'y', 2, NULL, NULL)`); err != nil {
		t.Fatal(err)
	}
	conformance.CheckMaintained(t, c, req)

	stale := func(alter, restore, note string) {
		t.Helper()
		if _, err := db.Exec(alter); err != nil {
			t.Fatal(err)
		}
		r, err := c.ChecksumRanges(context.Background(), sdk.ChecksumRangesRequest{Conn: req.Conn, Table: req.Table, Columns: req.Columns, Key: "id", Lower: 0, Upper: 10, Width: 5})
		if err != nil || r.Maintained || !strings.Contains(r.Note, note) {
			t.Fatalf("after %s: %+v, %v: want computed checksums, noted %q", alter, r, err, note)
		}
		if st := maintain(t, c, req.Table, sdk.ChecksumsStatus).State; !st.Stale || !strings.Contains(st.Note, note) {
			t.Fatalf("after %s: status %+v, want stale", alter, st)
		}
		if b, err := c.Bounds(context.Background(), sdk.BoundsRequest{Conn: req.Conn, Source: sdk.Source{Object: &req.Table}, Column: "id", ChecksumColumns: req.Columns}); err != nil || b.Maintained {
			t.Fatalf("after %s: bounds %+v, %v: want them read from the table", alter, b, err)
		}
		if _, err := db.Exec(restore); err != nil {
			t.Fatal(err)
		}
	}
	stale(`ALTER TABLE `+m+` DISABLE TRIGGER hp_checksums_m_upd`, `ALTER TABLE `+m+` ENABLE ALWAYS TRIGGER hp_checksums_m_upd`, "hp_checksums_m_upd")
	stale(`ALTER TABLE `+m+` ENABLE TRIGGER hp_checksums_m_del`, `ALTER TABLE `+m+` ENABLE ALWAYS TRIGGER hp_checksums_m_del`, "hp_checksums_m_del")
	conformance.CheckMaintained(t, c, req)
	stale(`ALTER TABLE `+m+` ALTER COLUMN amount TYPE numeric(14,4)`, `SELECT 1`, `column "amount"`)

	// Installing again (here over a stale installation) starts afresh.
	if st := maintain(t, c, req.Table, sdk.ChecksumsInstall).State; !st.Installed || st.Stale || st.Rows != 2 {
		t.Fatalf("installed again: %+v", st)
	}
	conformance.CheckMaintained(t, c, req)
	maintain(t, c, req.Table, sdk.ChecksumsInstall)
	conformance.CheckMaintained(t, c, req)

	// Other columns than those hashed: computed, saying why.
	other := req
	other.Columns = []string{"id", "name"}
	if r, err := c.ChecksumRanges(context.Background(), other); err != nil || r.Maintained || !strings.Contains(r.Note, "not the compared") {
		t.Fatalf("other columns: %+v, %v", r, err)
	}

	dropped := maintain(t, c, req.Table, sdk.ChecksumsDrop)
	if dropped.State.Installed || len(dropped.Statements) == 0 {
		t.Fatalf("after drop: %+v", dropped)
	}
	var left int
	if err := db.QueryRow(`SELECT (SELECT count(*) FROM pg_class WHERE relnamespace = $1::regnamespace AND relname LIKE 'hp_checksums%' AND relname NOT IN ('hp_checksums', 'hp_checksums_pkey'))
		+ (SELECT count(*) FROM pg_proc WHERE pronamespace = $1::regnamespace)
		+ (SELECT count(*) FROM pg_trigger WHERE tgrelid = $2::regclass)`, sc, m).Scan(&left); err != nil || left != 0 {
		t.Fatalf("after drop: %d objects left, %v", left, err)
	}
	// The record goes; hp_checksums stays, empty: another table's install
	// may have created it and not yet written its record.
	if err := db.QueryRow(`SELECT count(*) FROM ` + sc + `.hp_checksums`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("after drop of the only table: hp_checksums holds %d records, %v; want it kept, empty", left, err)
	}
	if r, err := c.ChecksumRanges(context.Background(), req); err != nil || r.Maintained || r.Note != "" {
		t.Fatalf("after drop: %+v, %v: want computed without a note", r, err)
	}
}

func copyRows(t *testing.T, db *sql.DB, sc string, rows [][]any) {
	t.Helper()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Raw(func(dc any) error {
		_, err := dc.(*stdlib.Conn).Conn().CopyFrom(context.Background(), pgx.Identifier{sc, "m"}, []string{"id", "name"}, pgx.CopyFromRows(rows))
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// TestMaintainedChecksumsConcurrentInstall: writes running while the
// checksums are installed are all in the shadow.
func TestMaintainedChecksumsConcurrentInstall(t *testing.T) {
	db, sc := schemaFor(t)
	req := maintainedTable(t, db, sc, 3000)
	c := postgres.New()
	var stop atomic.Bool
	var wg sync.WaitGroup
	var writes atomic.Int64
	for w := range 2 {
		wg.Go(func() {
			for i := int64(0); !stop.Load(); i++ {
				id := (i*7+int64(w)*1500)%3000 + 1
				if _, err := db.Exec(`UPDATE `+sc+`.m SET name = name || 'x', id = CASE WHEN id < 0 THEN -id ELSE id END WHERE id = $1`, id); err != nil {
					t.Error(err)
					return
				}
				if _, err := db.Exec(`INSERT INTO `+sc+`.m (id, name) VALUES ($1, 'w') ON CONFLICT (id) DO UPDATE SET amount = 1`, 3000+i%1000+int64(w)); err != nil {
					t.Error(err)
					return
				}
				writes.Add(2)
			}
		})
	}
	maintain(t, c, req.Table, sdk.ChecksumsInstall)
	n := writes.Load()
	for writes.Load() < n+20 && !t.Failed() {
	}
	stop.Store(true)
	wg.Wait()
	conformance.CheckMaintained(t, c, req)
}

// TestMaintainedChecksumsFirstInstallsAtOnce: an install while another
// session is creating hp_checksums in the same schema (another table's
// first install) waits for it and succeeds; creating it inside its own
// transaction, it failed once the other committed (duplicate key in
// pg_type).
func TestMaintainedChecksumsFirstInstallsAtOnce(t *testing.T) {
	db, sc := schemaFor(t)
	req := maintainedTable(t, db, sc, 100)
	other, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = other.Rollback() }()
	if _, err := other.Exec(`CREATE TABLE IF NOT EXISTS ` + sc + `.hp_checksums (table_name VARCHAR(255) PRIMARY KEY, key_column VARCHAR(255) NOT NULL,
		hashed_columns TEXT NOT NULL, signature TEXT NOT NULL, stamp VARCHAR(255) NOT NULL, block_width BIGINT NOT NULL DEFAULT 0)`); err != nil {
		t.Fatal(err)
	}
	done := make(chan *sdk.MaintainChecksumsResult)
	go func() {
		r, err := postgres.New().MaintainChecksums(context.Background(), sdk.MaintainChecksumsRequest{Conn: sdk.Connection{DSN: testDSN()}, Table: req.Table, Key: "id", Action: sdk.ChecksumsInstall})
		if err != nil {
			t.Errorf("install beside another session creating hp_checksums: %v", err)
		}
		done <- r
	}()
	// The install waits on the other session's uncommitted table.
	select {
	case <-done:
		t.Fatal("the install did not wait for the other session's hp_checksums")
	case <-time.After(time.Second):
	}
	if err := other.Commit(); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r != nil && !r.State.Installed {
		t.Fatalf("after the install: %+v", r.State)
	}
	conformance.CheckMaintained(t, postgres.New(), req)
}

// TestMaintainedChecksumsLongName: the longest table name whose trigger
// names fit PostgreSQL's 63 bytes installs; one byte more is refused by
// name rather than truncated into another table's names.
func TestMaintainedChecksumsLongName(t *testing.T) {
	db, sc := schemaFor(t)
	c := postgres.New()
	for _, n := range []int{44, 45} {
		name := strings.Repeat("t", n)
		if _, err := db.Exec(`CREATE TABLE ` + sc + `.` + name + ` (id bigint PRIMARY KEY, v text)`); err != nil {
			t.Fatal(err)
		}
		_, err := c.MaintainChecksums(context.Background(), sdk.MaintainChecksumsRequest{Conn: sdk.Connection{DSN: testDSN()},
			Table: sdk.ObjectRef{Schema: sc, Name: name}, Key: "id", Action: sdk.ChecksumsInstall})
		if n == 44 && err != nil {
			t.Fatalf("a %d-byte name: %v", n, err)
		}
		if n == 45 && (!errors.Is(err, sdk.ErrInvalidArgument) || !strings.Contains(err.Error(), "too long")) {
			t.Fatalf("a %d-byte name: %v, want an invalid argument", n, err)
		}
	}
}

// TestMaintainedChecksumsRefuseInherited: a partitioned table, or one with
// inheritance children, is refused by name (a write addressed to a child
// fires none of its triggers); a child added after the install makes the
// checksums stale.
func TestMaintainedChecksumsRefuseInherited(t *testing.T) {
	db, sc := schemaFor(t)
	for _, q := range []string{
		`CREATE TABLE ` + sc + `.pt (id bigint PRIMARY KEY, v text) PARTITION BY RANGE (id)`,
		`CREATE TABLE ` + sc + `.pt_1 PARTITION OF ` + sc + `.pt FOR VALUES FROM (0) TO (100)`,
		`CREATE TABLE ` + sc + `.parent (id bigint PRIMARY KEY, v text)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	c := postgres.New()
	_, err := c.MaintainChecksums(context.Background(), sdk.MaintainChecksumsRequest{Conn: sdk.Connection{DSN: testDSN()},
		Table: sdk.ObjectRef{Schema: sc, Name: "pt"}, Key: "id", Action: sdk.ChecksumsInstall})
	if !errors.Is(err, sdk.ErrInvalidArgument) || !strings.Contains(err.Error(), "pt_1") {
		t.Fatalf("install on a partitioned table: %v, want an invalid argument naming pt_1", err)
	}
	parent := sdk.ObjectRef{Schema: sc, Name: "parent"}
	maintain(t, c, parent, sdk.ChecksumsInstall)
	if _, err := db.Exec(`CREATE TABLE ` + sc + `.child () INHERITS (` + sc + `.parent)`); err != nil {
		t.Fatal(err)
	}
	if st := maintain(t, c, parent, sdk.ChecksumsStatus).State; !st.Stale || !strings.Contains(st.Note, "child") {
		t.Fatalf("a child added after the install: %+v, want stale naming it", st)
	}
}

// TestMaintainedChecksumsWriterPrivileges: a role allowed only to read and
// write the table keeps writing after the install (the trigger functions
// run as their owner), and the shadow follows its writes.
func TestMaintainedChecksumsWriterPrivileges(t *testing.T) {
	db, sc := schemaFor(t)
	req := maintainedTable(t, db, sc, 50)
	role := fmt.Sprintf("hp_ck2_writer_%d", time.Now().UnixNano())
	for _, q := range []string{"CREATE ROLE " + role + " LOGIN", "GRANT USAGE ON SCHEMA " + sc + " TO " + role,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON " + sc + ".m TO " + role} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() { _, _ = db.Exec("DROP OWNED BY " + role + "; DROP ROLE " + role) })
	c := postgres.New()
	maintain(t, c, req.Table, sdk.ChecksumsInstall)
	cfg, err := pgx.ParseConfig(testDSN())
	if err != nil {
		t.Fatal(err)
	}
	cfg.User = role
	w := stdlib.OpenDB(*cfg)
	defer w.Close()
	m := sc + ".m"
	for _, q := range []string{
		`INSERT INTO ` + m + ` VALUES (100, 'w', 1, NULL, NULL)`,
		`UPDATE ` + m + ` SET name = 'w2', id = id + 1000 WHERE id < 10`,
		`DELETE FROM ` + m + ` WHERE id BETWEEN 20 AND 25`,
	} {
		if _, err := w.Exec(q); err != nil {
			t.Fatalf("as %s, %s: %v", role, q, err)
		}
	}
	if _, err := w.Exec(`SELECT count(*) FROM ` + sc + `.hp_checksums_m`); err == nil {
		t.Fatalf("%s reads the shadow: the test does not test a writer without privileges on it", role)
	}
	conformance.CheckMaintained(t, c, req)
	// Run as their owner, the functions search pg_temp last: a writer's
	// temporary table cannot stand in for the shadow.
	var conf string
	if err := db.QueryRow(`SELECT proconfig::text FROM pg_proc WHERE oid = $1::regproc`, sc+".hp_checksums_m_ins").Scan(&conf); err != nil || !strings.HasSuffix(conf, `, pg_temp"}`) {
		t.Fatalf("search_path of the trigger function: %s, %v: want pg_temp last", conf, err)
	}
}

// TestMaintainedChecksumsCompact: compactions running while writers
// insert, update and delete leave the blocks equal to the rows (no delta
// lost or counted twice), and a compaction alone leaves one row per block.
func TestMaintainedChecksumsCompact(t *testing.T) {
	db, sc := schemaFor(t)
	req := maintainedTable(t, db, sc, 2000)
	c := postgres.New()
	maintain(t, c, req.Table, sdk.ChecksumsInstall)
	conformance.CheckCompactWhileWriting(t, c, req, func(w, i int64) error {
		id := (i*13+w*1000)%2000 + 1
		if _, err := db.Exec(`UPDATE `+sc+`.m SET name = name || 'x' WHERE id = $1`, id); err != nil {
			return err
		}
		if _, err := db.Exec(`INSERT INTO `+sc+`.m (id, name) VALUES ($1, 'w') ON CONFLICT (id) DO UPDATE SET amount = m.amount + 1`, 3000+i%500+w*500); err != nil {
			return err
		}
		_, err := db.Exec(`DELETE FROM `+sc+`.m WHERE id = $1`, id+7)
		return err
	})
	var blocks, rows int64
	if err := db.QueryRow(`SELECT count(DISTINCT b), count(*) FROM `+sc+`.hp_checksums_m_blk`).Scan(&blocks, &rows); err != nil || blocks != rows {
		t.Fatalf("after a compaction alone: %d rows for %d blocks, %v", rows, blocks, err)
	}
}
