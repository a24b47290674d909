package oracle

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// TestRealServerPartitionsAtOneSCN: the first of three slices starts (the
// group's SCN is read), a writer then inserts, updates and deletes and
// commits, and the other slices start: every slice reads the rows as of
// the SCN, each once. Needs SELECT on V$DATABASE (the test's own table
// needs no FLASHBACK grant). With SELECT_CATALOG_ROLE the slices are ROWID
// ranges (TestRealServerPartitionsByRowid), with SELECT on V$DATABASE
// alone ranges of ID (1000 rows each); either reads every row once.
func TestRealServerPartitionsAtOneSCN(t *testing.T) {
	conn, db := realServer(t)
	ref := realTable(t, db, "SLICES", "ID NUMBER(10) PRIMARY KEY, PAYLOAD VARCHAR2(40) NOT NULL")
	realExec(t, db, "INSERT INTO "+ref.Name+" SELECT LEVEL, 'row ' || LEVEL FROM DUAL CONNECT BY LEVEL <= 3000")
	got, counts := readSlicesAroundWriter(t, conn, db, ref, "VALUES (5000, 'new')")
	if len(got) != 3000 {
		t.Fatalf("slices read %d rows (%v), want the 3000 before the writer", len(got), counts)
	}
	for id := 1; id <= 3000; id++ {
		if v := got[fmt.Sprint(id)]; v != fmt.Sprintf("row %d", id) {
			t.Fatalf("id %d: %q, want the row before the writer", id, v)
		}
	}
}

// TestRealServerPartitionsByRowid: tables without a primary key, one plain
// and one range-partitioned (two segments), of 20,000 rows in many
// extents, are split into three ROWID ranges (the plan's predicates are
// checked: ROWID BETWEEN, one data object per partition) and read at one
// SCN while a writer inserts, updates and deletes between the slices:
// every row as of the first slice's start, each once. Needs
// SELECT_CATALOG_ROLE (V$DATABASE, DBA_EXTENTS, DBA_TABLESPACES); a user
// without it fails here, naming the grant.
func TestRealServerPartitionsByRowid(t *testing.T) {
	conn, db := realServer(t)
	for _, c := range []struct{ name, ddl string }{
		{"plain", ""},
		{"partitioned", " PARTITION BY RANGE (ID) (PARTITION P1 VALUES LESS THAN (7000), PARTITION P2 VALUES LESS THAN (MAXVALUE))"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ref := sdk.ObjectRef{Name: fmt.Sprintf("HP_TEST_ROWID_%d", time.Now().UnixNano()%1e9)}
			realExec(t, db, "CREATE TABLE "+ref.Name+" (ID NUMBER(10) NOT NULL, PAYLOAD VARCHAR2(200) NOT NULL)"+c.ddl)
			t.Cleanup(func() { _, _ = db.Exec("DROP TABLE " + ref.Name + " PURGE") })
			realExec(t, db, "INSERT INTO "+ref.Name+" SELECT LEVEL, RPAD('row ' || LEVEL, 150, '.') FROM DUAL CONNECT BY LEVEL <= 20000")
			ctx := context.Background()
			resolved, err := resolve(ctx, db, ref)
			if err != nil {
				t.Fatal(err)
			}
			var n int
			if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM DBA_EXTENTS WHERE ROWNUM = 1").Scan(&n); err != nil {
				t.Fatalf("the test user cannot read DBA_EXTENTS (GRANT SELECT_CATALOG_ROLE TO <user>): %v", err)
			}
			plan, err := splitTable(ctx, db, resolved, 3)
			if err != nil {
				t.Fatal(err)
			}
			objects := map[string]bool{}
			for _, w := range plan.Where {
				if !strings.HasPrefix(w, "(ROWID BETWEEN DBMS_ROWID.ROWID_CREATE(1, ") || !strings.HasPrefix(plan.AsOf, "AS OF SCN ") {
					t.Fatalf("not split by ROWID ranges at an SCN: %q %q", plan.AsOf, plan.Where)
				}
				for _, part := range strings.Split(w, "ROWID_CREATE(1, ")[1:] {
					obj, _, _ := strings.Cut(part, ",")
					objects[obj] = true
				}
			}
			if want := map[string]int{"plain": 1, "partitioned": 2}[c.name]; len(objects) != want {
				t.Fatalf("ranges over data objects %v, want %d", objects, want)
			}
			got, counts := readSlicesAroundWriter(t, conn, db, ref, "SELECT 20000 + LEVEL, 'new' FROM DUAL CONNECT BY LEVEL <= 5000")
			// Slices are equal in allocated blocks, not rows (space above
			// the high-water mark counts): one may read none.
			if len(got) != 20000 {
				t.Fatalf("slices read %d rows (%v), want the 20000 before the writer", len(got), counts)
			}
			for id := 1; id <= 20000; id++ {
				if v := got[fmt.Sprint(id)]; !strings.HasPrefix(v, fmt.Sprintf("row %d.", id)) {
					t.Fatalf("id %d: %q, want the row before the writer", id, v)
				}
			}
		})
	}
}

// readSlicesAroundWriter reads three partitions of ref: the first, then a
// writer inserts (INSERT INTO ref <insert>), updates every tenth row and
// deletes others, each committed, then the other two. It returns the
// rows read by ID (each read once, or the test fails) and the slices'
// row counts.
func readSlicesAroundWriter(t *testing.T, conn sdk.Connection, db *sql.DB, ref sdk.ObjectRef, insert string) (map[string]string, []int) {
	t.Helper()
	c := New()
	got := map[string]string{}
	var counts []int
	read := func(i int) {
		_, rows, err := readAll(t, c, sdk.ReadRequest{Conn: conn, Source: sdk.Source{Object: &ref},
			Partition: &sdk.Partition{Index: i, Count: 3, Group: ref.Name}})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if _, dup := got[r[0]]; dup {
				t.Fatalf("id %s read by two slices", r[0])
			}
			got[r[0]] = r[1]
		}
		counts = append(counts, len(rows))
	}
	read(0)
	for _, q := range []string{
		"INSERT INTO " + ref.Name + " " + insert,
		"UPDATE " + ref.Name + " SET PAYLOAD = 'changed' WHERE MOD(ID, 10) = 0",
		"DELETE FROM " + ref.Name + " WHERE MOD(ID, 10) = 1",
	} {
		realExec(t, db, q) // database/sql autocommits each
	}
	read(1)
	read(2)
	return got, counts
}
