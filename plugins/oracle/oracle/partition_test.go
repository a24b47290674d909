package oracle

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/godror/godror"

	"github.com/halfpipe-io/halfpipe/plugins/oracle/internal/oraclefake"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// sliceFake serves HP.EVENTS (ID NUMBER(10) key) with rows 1..n to a
// user without SELECT on DBA_EXTENTS; the SCN query fails with scnErr
// when set.
func sliceFake(n int, scnErr error) *oraclefake.DB {
	f := &oraclefake.DB{}
	f.Handle = catalog([]*oraclefake.Table{oraclefake.Events(), oraclefake.AllTypes()}, nil, func(q string, args []any) (*oraclefake.Result, error) {
		if q == SCNQuery {
			if scnErr != nil {
				return nil, scnErr
			}
			return &oraclefake.Result{Cols: []string{"CURRENT_SCN"}, Rows: [][]driver.Value{{godror.Number("987654321")}}}, nil
		}
		if q == ExtentsQuery {
			return nil, errors.New("ORA-00942: table or view does not exist")
		}
		if r, ok, err := oraclefake.AnswerEvents(n, q, args); ok {
			return r, err
		}
		return nil, fmt.Errorf("fake: unexpected %s", q)
	})
	return f
}

// readSlices reads count slices of HP.EVENTS's ID, returning the ids each
// slice read.
func readSlices(t *testing.T, c *Connector, name string, count int) [][]string {
	t.Helper()
	var out [][]string
	for i := range count {
		rr, err := c.Read(context.Background(), sdk.ReadRequest{Conn: conn, Source: sdk.Source{Object: &sdk.ObjectRef{Schema: "hp", Name: name}},
			Columns: []string{"ID"}, Partition: &sdk.Partition{Index: i, Count: count, Group: "g-" + name}})
		if err != nil {
			t.Fatalf("slice %d: %v", i, err)
		}
		var ids []string
		for rr.Next() {
			col := rr.RecordBatch().Column(0)
			for j := range col.Len() {
				ids = append(ids, col.ValueStr(j))
			}
		}
		if err := rr.Err(); err != nil {
			t.Fatal(err)
		}
		rr.Release()
		out = append(out, ids)
	}
	return out
}

// TestPartitionsAsOfOneSCN: without SELECT on DBA_EXTENTS (no ROWID
// ranges, a warning says why) the SCN is read once; the bounds and every
// slice read HP.EVENTS AS OF SCN it, in disjoint key ranges that read
// every row once. The statements are pinned.
func TestPartitionsAsOfOneSCN(t *testing.T) {
	f := sliceFake(10, nil)
	log := captureLog(t)
	got := readSlices(t, NewWithDB(open(f)), "events", 3)
	if fmt.Sprint(got) != "[[1 2 3] [4 5 6] [7 8 9 10]]" {
		t.Fatalf("slices read %v", got)
	}
	if w := log.String(); !strings.Contains(w, "ranges of its integer key") || !strings.Contains(w, "no SELECT on DBA_EXTENTS") || !strings.Contains(w, "SELECT_CATALOG_ROLE") {
		t.Fatalf("the fallback to key ranges was not logged with why:\n%s", w)
	}
	var scns, reads []string
	for _, q := range f.Statements() {
		switch {
		case q == SCNQuery:
			scns = append(scns, q)
		case strings.HasPrefix(q, "SELECT MIN(") || strings.HasPrefix(q, `SELECT "ID" FROM`):
			reads = append(reads, q)
		}
	}
	if len(scns) != 1 {
		t.Fatalf("the SCN was read %d times, want once", len(scns))
	}
	want := []string{
		`SELECT MIN("ID"), MAX("ID") FROM "HP"."EVENTS" AS OF SCN 987654321`,
		`SELECT "ID" FROM "HP"."EVENTS" AS OF SCN 987654321 WHERE ("ID" < 4 OR "ID" IS NULL)`,
		`SELECT "ID" FROM "HP"."EVENTS" AS OF SCN 987654321 WHERE ("ID" >= 4 AND "ID" < 7)`,
		`SELECT "ID" FROM "HP"."EVENTS" AS OF SCN 987654321 WHERE ("ID" >= 7)`,
	}
	if !slices.Equal(reads, want) {
		t.Fatalf("statements:\n%s\nwant:\n%s", strings.Join(reads, "\n"), strings.Join(want, "\n"))
	}
}

// TestPartitionsWithoutSCN: without access to V$DATABASE the slices still
// split the table, each in its own read-only transaction, with no AS OF.
func TestPartitionsWithoutSCN(t *testing.T) {
	f := sliceFake(10, errors.New("ORA-00942: table or view does not exist"))
	got := readSlices(t, NewWithDB(open(f)), "events", 2)
	if fmt.Sprint(got) != "[[1 2 3 4 5] [6 7 8 9 10]]" {
		t.Fatalf("slices read %v", got)
	}
	for _, q := range f.Statements() {
		if strings.Contains(q, "AS OF") {
			t.Fatalf("sent %q without an SCN", q)
		}
	}
}

// TestPartitionsWithoutAnIntegerKey: a table without ROWID ranges (no
// SELECT on DBA_EXTENTS) whose first key column is not an integer NUMBER
// (here a DATE) is read whole by the first slice, in its own read-only
// transaction (not AS OF the SCN), and a warning says so.
func TestPartitionsWithoutAnIntegerKey(t *testing.T) {
	tbl := &oraclefake.Table{Owner: "HP", Name: "EVENTS", Key: []string{"UPDATED"}, Cols: oraclefake.Events().Cols}
	f := &oraclefake.DB{}
	f.Handle = catalog([]*oraclefake.Table{tbl}, nil, func(q string, args []any) (*oraclefake.Result, error) {
		switch q {
		case SCNQuery:
			return &oraclefake.Result{Cols: []string{"CURRENT_SCN"}, Rows: [][]driver.Value{{godror.Number("77")}}}, nil
		case ExtentsQuery:
			return nil, errors.New("ORA-00942: table or view does not exist")
		}
		if r, ok, err := oraclefake.AnswerEvents(4, q, args); ok {
			return r, err
		}
		return nil, fmt.Errorf("fake: unexpected %s", q)
	})
	log := captureLog(t)
	got := readSlices(t, NewWithDB(open(f)), "events", 3)
	if fmt.Sprint(got) != "[[1 2 3 4] [] []]" {
		t.Fatalf("slices read %v", got)
	}
	for _, q := range f.Statements() {
		if strings.Contains(q, "AS OF") {
			t.Fatalf("a whole read sent %q", q)
		}
	}
	if w := log.String(); !strings.Contains(w, "reads it whole") || !strings.Contains(w, "DBA_EXTENTS") {
		t.Fatalf("the whole read was not logged with why:\n%s", w)
	}
}
