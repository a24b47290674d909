package oracle

import (
	"fmt"
	"testing"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// TestRealServerPartitionsAtOneSCN: the first of three slices starts (the
// group's SCN is read), a writer then inserts, updates and deletes and
// commits, and the other slices start: every slice reads the rows as of
// the SCN, each once. Needs SELECT on V$DATABASE (the test's own table
// needs no FLASHBACK grant).
func TestRealServerPartitionsAtOneSCN(t *testing.T) {
	conn, db := realServer(t)
	ref := realTable(t, db, "SLICES", "ID NUMBER(10) PRIMARY KEY, PAYLOAD VARCHAR2(40) NOT NULL")
	realExec(t, db, "INSERT INTO "+ref.Name+" SELECT LEVEL, 'row ' || LEVEL FROM DUAL CONNECT BY LEVEL <= 3000")
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
		"INSERT INTO " + ref.Name + " VALUES (5000, 'new')",
		"UPDATE " + ref.Name + " SET PAYLOAD = 'changed' WHERE MOD(ID, 10) = 0",
		"DELETE FROM " + ref.Name + " WHERE MOD(ID, 10) = 1",
	} {
		realExec(t, db, q) // database/sql autocommits each
	}
	read(1)
	read(2)
	if len(got) != 3000 || fmt.Sprint(counts) != "[1000 1000 1000]" {
		t.Fatalf("slices read %d rows (%v), want the 3000 before the writer, 1000 each", len(got), counts)
	}
	for id := 1; id <= 3000; id++ {
		if v := got[fmt.Sprint(id)]; v != fmt.Sprintf("row %d", id) {
			t.Fatalf("id %d: %q, want the row before the writer", id, v)
		}
	}
}
