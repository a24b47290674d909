package mysql_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/halfpipe-io/halfpipe/plugins/mysql/mysql"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/conformance"
)

// maintainedTable creates name.m with rows 1..n and returns the checksum
// request over its key span that maintained checksums of every column
// serve.
func maintainedTable(t *testing.T, db *sql.DB, name string, n int) sdk.ChecksumRangesRequest {
	t.Helper()
	execAll(t, db, `CREATE TABLE `+name+`.m (id bigint PRIMARY KEY, name varchar(40), amount decimal(12,3), ts timestamp(6) NULL, day date)`,
		`INSERT INTO `+name+`.m SELECT seq, CONCAT('n', seq), seq * 1.5, TIMESTAMP'2024-01-01 00:00:00' + INTERVAL seq MINUTE, NULL FROM seq_1_to_`+strconv.Itoa(n))
	return sdk.ChecksumRangesRequest{Conn: sdk.Connection{DSN: testDSN()}, Table: sdk.ObjectRef{Schema: name, Name: "m"},
		Columns: []string{"id", "name", "amount", "ts", "day"}, Key: "id", Lower: -100, Upper: 5000, Width: 10}
}

func maintain(t *testing.T, c sdk.ChecksumMaintainer, ref sdk.ObjectRef, a sdk.ChecksumsAction, cols ...string) *sdk.MaintainChecksumsResult {
	t.Helper()
	return conformance.Maintain(t, c, sdk.Connection{DSN: testDSN()}, ref, a, cols...)
}

// TestMaintainedChecksums: after an install, every kind of write
// (multi-row insert, upsert, REPLACE, value and key updates, delete, LOAD
// DATA, a writer in another time zone) keeps the maintained checksums
// equal to the computed ones; TRUNCATE, which fires no trigger, makes them
// stale (then computed, with the reason), as do a dropped trigger and a
// changed column type; installing twice is idempotent; drop leaves
// nothing behind.
func TestMaintainedChecksums(t *testing.T) {
	db, name := database(t)
	req := maintainedTable(t, db, name, 200)
	c := mysql.New()
	st := conformance.Install(t, c, req, "LOCK IN SHARE MODE")
	if !st.Installed || st.Stale || st.Rows != 200 || strings.Join(st.Columns, ",") != "name,amount,ts,day" {
		t.Fatalf("after install: %+v", st)
	}
	conformance.CheckMaintained(t, c, req)
	m := name + ".m"
	for _, step := range []string{
		`INSERT INTO ` + m + ` VALUES (1000, 'a', 1, NULL, '2024-01-01'), (1001, NULL, NULL, NOW(6), NULL), (-5, '', 0, NULL, NULL)`,
		`UPDATE ` + m + ` SET name = 'changed' WHERE id BETWEEN 10 AND 20`,
		`UPDATE ` + m + ` SET id = id + 2000 WHERE id BETWEEN 30 AND 40`,
		`DELETE FROM ` + m + ` WHERE id = 121`,
		`UPDATE ` + m + ` SET id = id + 1 WHERE id BETWEEN 100 AND 120 ORDER BY id DESC`,
		`DELETE FROM ` + m + ` WHERE id % 7 = 0`,
		`INSERT INTO ` + m + ` VALUES (1, 'up', 2, NULL, NULL), (4999, 'new', 3, NULL, NULL) ON DUPLICATE KEY UPDATE name = VALUES(name)`,
		`REPLACE INTO ` + m + ` VALUES (2, 'replaced', 5, NULL, NULL), (4998, 'r', 6, NULL, NULL)`,
	} {
		execAll(t, db, step)
		conformance.CheckMaintained(t, c, req)
	}

	gomysql.RegisterReaderHandler("hp_ck", func() io.Reader { return strings.NewReader("4000\tloaded\n4001\t\\N\n3\tagain\n") })
	defer gomysql.DeregisterReaderHandler("hp_ck")
	execAll(t, db, `LOAD DATA LOCAL INFILE 'Reader::hp_ck' REPLACE INTO TABLE `+m+` (id, name)`)
	conformance.CheckMaintained(t, c, req)

	// A writer whose session is in another zone: TIMESTAMP values hash as
	// their UTC instants all the same.
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"SET time_zone = '+05:30'", "UPDATE " + m + " SET ts = '2024-03-01 12:00:00.5' WHERE id < 50", "INSERT INTO " + m + " (id, ts) VALUES (4500, NOW(6))"} {
		if _, err := conn.ExecContext(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var zone string
	if err := conn.QueryRowContext(context.Background(), "SELECT @@session.time_zone").Scan(&zone); err != nil || zone != "+05:30" {
		t.Fatalf("the writer's zone after its writes: %q, %v", zone, err)
	}
	conn.Close()
	conformance.CheckMaintained(t, c, req)

	stale := func(alter, note string) {
		t.Helper()
		execAll(t, db, alter)
		r, err := c.ChecksumRanges(context.Background(), req)
		if err != nil || r.Maintained || !strings.Contains(r.Note, note) {
			t.Fatalf("after %s: %+v, %v: want computed checksums, noted %q", alter, r, err, note)
		}
		if st := maintain(t, c, req.Table, sdk.ChecksumsStatus).State; !st.Stale || !strings.Contains(st.Note, note) {
			t.Fatalf("after %s: status %+v, want stale", alter, st)
		}
		maintain(t, c, req.Table, sdk.ChecksumsInstall)
		conformance.CheckMaintained(t, c, req)
	}
	stale(`TRUNCATE `+m, "truncated")
	execAll(t, db, `INSERT INTO `+m+` (id, name) VALUES (1, 'x'), (2, 'y')`)
	conformance.CheckMaintained(t, c, req)
	stale(`DROP TRIGGER `+name+`.hp_checksums_m_upd`, "hp_checksums_m_upd")
	stale(`ALTER TABLE `+m+` MODIFY amount decimal(14,4)`, `column "amount"`)

	// Installing twice in a row is the same as once.
	maintain(t, c, req.Table, sdk.ChecksumsInstall)
	conformance.CheckMaintained(t, c, req)

	dropped := maintain(t, c, req.Table, sdk.ChecksumsDrop)
	if dropped.State.Installed || len(dropped.Statements) == 0 {
		t.Fatalf("after drop: %+v", dropped)
	}
	var left int
	if err := db.QueryRow(`SELECT (SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME LIKE 'hp\_checksums\_%')
		+ (SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?)`, name, name).Scan(&left); err != nil || left != 0 {
		t.Fatalf("after drop: %d objects left, %v", left, err)
	}
	// The record goes; hp_checksums stays, empty: another table's install
	// may have created it and not yet written its record (each DDL
	// statement commits), which dropping it made fail.
	if err := db.QueryRow("SELECT COUNT(*) FROM `" + name + "`.hp_checksums").Scan(&left); err != nil || left != 0 {
		t.Fatalf("after drop of the only table: hp_checksums holds %d records, %v; want it kept, empty", left, err)
	}
	if r, err := c.ChecksumRanges(context.Background(), req); err != nil || r.Maintained || r.Note != "" {
		t.Fatalf("after drop: %+v, %v: want computed without a note", r, err)
	}
}

// TestMaintainedChecksumsRefuseCascade: the child of a cascading foreign
// key, whose rows change without triggers, is refused by name.
func TestMaintainedChecksumsRefuseCascade(t *testing.T) {
	db, name := database(t)
	execAll(t, db, `CREATE TABLE `+name+`.p (id bigint PRIMARY KEY)`,
		`CREATE TABLE `+name+`.ch (id bigint PRIMARY KEY, p bigint, CONSTRAINT ch_p FOREIGN KEY (p) REFERENCES `+name+`.p (id) ON DELETE CASCADE)`)
	_, err := mysql.New().MaintainChecksums(context.Background(), sdk.MaintainChecksumsRequest{Conn: sdk.Connection{DSN: testDSN()},
		Table: sdk.ObjectRef{Schema: name, Name: "ch"}, Key: "id", Action: sdk.ChecksumsInstall})
	if !errors.Is(err, sdk.ErrInvalidArgument) || !strings.Contains(err.Error(), "ch_p") || !strings.Contains(err.Error(), "CASCADE") {
		t.Fatalf("install on a cascading child: %v, want an invalid argument naming ch_p", err)
	}
	if st := maintain(t, mysql.New(), sdk.ObjectRef{Schema: name, Name: "ch"}, sdk.ChecksumsStatus).State; st.Installed {
		t.Fatalf("refused, yet %+v", st)
	}
}

// TestMaintainedChecksumsConcurrentInstall: writes running while the
// checksums are installed (triggers created, then the fill) are all in
// the shadow. The writes are text statements: a server-side prepared one
// racing CREATE TRIGGER may fail with error 1146 naming the shadow table
// (MariaDB 10.11 re-preparing it), a caveat docs/sync.md gives.
func TestMaintainedChecksumsConcurrentInstall(t *testing.T) {
	db, name := database(t)
	req := maintainedTable(t, db, name, 3000)
	c := mysql.New()
	var stop atomic.Bool
	var wg sync.WaitGroup
	var writes atomic.Int64
	for w := range 2 {
		wg.Go(func() {
			for i := int64(0); !stop.Load(); i++ {
				id := (i*7+int64(w)*1500)%3000 + 1
				if _, err := db.Exec(fmt.Sprintf(`UPDATE %s.m SET name = CONCAT(name, "x") WHERE id = %d`, name, id)); err != nil {
					t.Error(err)
					return
				}
				if _, err := db.Exec(fmt.Sprintf(`INSERT INTO %s.m (id, name) VALUES (%d, "w") ON DUPLICATE KEY UPDATE amount = amount + 1`, name, 3001+i%1000+int64(w))); err != nil {
					t.Error(err)
					return
				}
				if _, err := db.Exec(fmt.Sprintf(`DELETE FROM %s.m WHERE id = %d`, name, 2999-id)); err != nil {
					t.Error(err)
					return
				}
				writes.Add(3)
			}
		})
	}
	maintain(t, c, req.Table, sdk.ChecksumsInstall)
	n := writes.Load()
	for writes.Load() < n+30 && !t.Failed() {
	}
	stop.Store(true)
	wg.Wait()
	conformance.CheckMaintained(t, c, req)
}

// TestMaintainedChecksumsRefusePartitioned: a partitioned table, whose
// TRUNCATE PARTITION fires no trigger and keeps the table's id, is
// refused.
func TestMaintainedChecksumsRefusePartitioned(t *testing.T) {
	db, name := database(t)
	execAll(t, db, `CREATE TABLE `+name+`.pt (id bigint PRIMARY KEY, v text) PARTITION BY HASH (id) PARTITIONS 2`)
	_, err := mysql.New().MaintainChecksums(context.Background(), sdk.MaintainChecksumsRequest{Conn: sdk.Connection{DSN: testDSN()},
		Table: sdk.ObjectRef{Schema: name, Name: "pt"}, Key: "id", Action: sdk.ChecksumsInstall})
	if !errors.Is(err, sdk.ErrInvalidArgument) || !strings.Contains(err.Error(), "partitioned") {
		t.Fatalf("install on a partitioned table: %v, want an invalid argument", err)
	}
}

// TestMaintainedChecksumsWriterPrivileges: a user allowed only to read and
// write the table keeps writing after the install (triggers run as their
// definer), and the shadow follows its writes.
func TestMaintainedChecksumsWriterPrivileges(t *testing.T) {
	db, name := database(t)
	req := maintainedTable(t, db, name, 50)
	user := fmt.Sprintf("hp_ck2_w_%d", time.Now().UnixNano()%1e9)
	execAll(t, db, fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY 'pw'", user),
		fmt.Sprintf("GRANT SELECT, INSERT, UPDATE, DELETE ON %s.m TO '%s'@'%%'", name, user))
	t.Cleanup(func() { _, _ = db.Exec(fmt.Sprintf("DROP USER '%s'@'%%'", user)) })
	c := mysql.New()
	maintain(t, c, req.Table, sdk.ChecksumsInstall)
	w, err := sql.Open("mysql", fmt.Sprintf("%s:pw@tcp(127.0.0.1:3306)/%s", user, name))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, q := range []string{
		`INSERT INTO m VALUES (100, 'w', 1, NULL, NULL)`,
		`UPDATE m SET name = 'w2', id = id + 1000 WHERE id < 10`,
		`DELETE FROM m WHERE id BETWEEN 20 AND 25`,
	} {
		if _, err := w.Exec(q); err != nil {
			t.Fatalf("as %s, %s: %v", user, q, err)
		}
	}
	if _, err := w.Exec(`SELECT COUNT(*) FROM hp_checksums_m`); err == nil {
		t.Fatalf("%s reads the shadow: the test does not test a writer without privileges on it", user)
	}
	conformance.CheckMaintained(t, c, req)
}

// TestMaintainedChecksumsCompact: compactions running while writers
// insert, update and delete leave the blocks equal to the rows (no delta
// lost or counted twice), and a compaction alone leaves one row per block.
func TestMaintainedChecksumsCompact(t *testing.T) {
	db, name := database(t)
	req := maintainedTable(t, db, name, 2000)
	c := mysql.New()
	maintain(t, c, req.Table, sdk.ChecksumsInstall)
	conformance.CheckCompactWhileWriting(t, c, req, func(w, i int64) error {
		id := (i*13+w*1000)%2000 + 1
		for _, q := range []struct {
			sql string
			arg int64
		}{
			{`UPDATE ` + name + `.m SET name = CONCAT(name, 'x') WHERE id = ?`, id},
			{`INSERT INTO ` + name + `.m (id, name) VALUES (?, 'w') ON DUPLICATE KEY UPDATE amount = amount + 1`, 3000 + i%500 + w*500},
			{`DELETE FROM ` + name + `.m WHERE id = ?`, id + 7},
		} {
			if _, err := db.Exec(q.sql, q.arg); err != nil {
				return err
			}
		}
		return nil
	})
	var blocks, rows int64
	if err := db.QueryRow(`SELECT COUNT(DISTINCT b), COUNT(*) FROM `+name+`.hp_checksums_m_blk`).Scan(&blocks, &rows); err != nil || blocks != rows {
		t.Fatalf("after a compaction alone: %d rows for %d blocks, %v", rows, blocks, err)
	}
}
