package mssql_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/plugins/mssql/mssql"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/testkit/tds"
)

var sliceCols = []catalogCol{
	{name: "id", typ: "bigint", maxLen: 8, prec: 19, wire: tds.Column{Type: tds.BigInt}},
	{name: "v", typ: "nvarchar", nullable: true, maxLen: 40, wire: tds.Column{Type: tds.NVarChar, Length: 20}},
}

// sliceTable serves [dbo].[p] with n rows, ids 3, 6, ..., 3n, and the
// statements of a partitioned read; snapshot is the database's
// snapshot_isolation_state.
func sliceTable(t *testing.T, n int, snapshot int64) (*tds.Server, sdk.Connection) {
	s, conn := start(t)
	table(s, "[dbo].[p]", sliceCols, "id")
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = []any{int64(3 * (i + 1)), fmt.Sprintf("row %d", 3*(i+1))}
	}
	s.ServeKeyTable("[dbo].[p]", wireColumns(sliceCols), rows)
	s.Handle(mssql.SnapshotQuery, tds.Response{Columns: []tds.Column{{Type: tds.Int, Nullable: true}}, Rows: [][]any{{snapshot}}})
	s.Handle("SET LOCK_TIMEOUT 60000", tds.Response{})
	s.Handle(mssql.PinSQL("[dbo].[p]"), tds.Response{Columns: []tds.Column{{Type: tds.BigInt}}, Rows: [][]any{{int64(1)}}})
	s.Handle(mssql.ResetIsolation, tds.Response{})
	return s, conn
}

func slicesOf(t *testing.T, conn sdk.Connection, name, group string, count int) []array.RecordReader {
	t.Helper()
	c := mssql.New()
	var out []array.RecordReader
	for i := range count {
		rr, err := c.Read(context.Background(), sdk.ReadRequest{Conn: conn, Source: sdk.Source{Object: &sdk.ObjectRef{Schema: "dbo", Name: name}},
			Partition: &sdk.Partition{Index: i, Count: count, Group: group}})
		if err != nil {
			t.Fatalf("slice %d: %v", i, err)
		}
		out = append(out, rr)
	}
	return out
}

// drainIDs adds a slice's ids to into, failing on an id read twice.
func drainIDs(t *testing.T, rr array.RecordReader, into map[int64]bool) int {
	t.Helper()
	defer rr.Release()
	n := 0
	for rr.Next() {
		ids := rr.RecordBatch().Column(0).(*array.Int64)
		for i := range ids.Len() {
			if into[ids.Value(i)] {
				t.Fatalf("id %d read by two slices", ids.Value(i))
			}
			into[ids.Value(i)] = true
			n++
		}
	}
	if err := rr.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// sessionOf is the session that sent sql first; 0 if none did.
func sessionOf(qs []tds.Query, sql string) uint64 {
	for _, q := range qs {
		if q.SQL == sql {
			return q.Session
		}
	}
	return 0
}

// TestPartitionsUnderSnapshot: three key-range slices read every row once;
// the plan reads the bounds under a shared table lock and holds it (its
// transaction stays open) until every slice has begun a SNAPSHOT
// transaction and read from the table, which fixes the slice's point in
// time; each slice's session gets read committed back afterwards.
func TestPartitionsUnderSnapshot(t *testing.T) {
	s, conn := sliceTable(t, 1000, 1)
	got := map[int64]bool{}
	var counts []int
	for _, rr := range slicesOf(t, conn, "p", "g1", 3) {
		counts = append(counts, drainIDs(t, rr, got))
	}
	if len(got) != 1000 || fmt.Sprint(counts) != "[333 333 334]" {
		t.Fatalf("slices read %d rows (%v), want 1000 as [333 333 334]", len(got), counts)
	}
	for i := 1; i <= 1000; i++ {
		if !got[int64(3*i)] {
			t.Fatalf("id %d not read", 3*i)
		}
	}
	var qs []tds.Query
	plan := uint64(0)
	ended := func() bool {
		qs = s.Queries()
		plan = sessionOf(qs, mssql.LockedBoundsSQL("[dbo].[p]", "[id]"))
		return slices.ContainsFunc(qs, func(q tds.Query) bool { return q.Session == plan && q.SQL == "ROLLBACK TRANSACTION" })
	}
	for deadline := time.Now().Add(10 * time.Second); !ended(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the plan's transaction (and its lock) never ended")
		}
	}
	if plan == 0 {
		t.Fatal("no bounds read under the table lock")
	}
	var planSteps []string
	pins, unlocked := 0, false
	begun := map[uint64]byte{}
	for _, q := range qs {
		switch {
		case q.Session == plan:
			planSteps = append(planSteps, q.SQL)
			if q.SQL == "ROLLBACK TRANSACTION" {
				unlocked = true
			}
		case q.SQL == "BEGIN TRANSACTION":
			begun[q.Session] = q.Isolation
		case q.SQL == mssql.PinSQL("[dbo].[p]"):
			if begun[q.Session] != 5 {
				t.Fatalf("slice session %d read its pin outside a SNAPSHOT transaction (isolation %d)", q.Session, begun[q.Session])
			}
			if unlocked {
				t.Fatal("a slice took its snapshot after the plan released the table lock")
			}
			pins++
		}
	}
	if pins != 3 {
		t.Fatalf("%d slices took a snapshot, want 3", pins)
	}
	want := []string{"SET LOCK_TIMEOUT 60000", "BEGIN TRANSACTION", mssql.LockedBoundsSQL("[dbo].[p]", "[id]"), "ROLLBACK TRANSACTION"}
	// Earlier catalog reads may have used the same pooled connection.
	if len(planSteps) < len(want) || fmt.Sprint(planSteps[len(planSteps)-len(want):]) != fmt.Sprint(want) {
		t.Fatalf("the plan's session sent %q, want %q", planSteps, want)
	}
	resets := 0
	for _, q := range qs {
		if q.SQL == mssql.ResetIsolation {
			resets++
		}
	}
	if resets != 3 {
		t.Fatalf("%d slice sessions reset their isolation level, want 3", resets)
	}
}

// TestPartitionsWithoutSnapshot: a database without snapshot isolation
// still splits into disjoint slices covering the table, read in default
// transactions without a table lock.
func TestPartitionsWithoutSnapshot(t *testing.T) {
	s, conn := sliceTable(t, 10, 0)
	got := map[int64]bool{}
	var counts []int
	for _, rr := range slicesOf(t, conn, "p", "g2", 4) {
		counts = append(counts, drainIDs(t, rr, got))
	}
	if len(got) != 10 || fmt.Sprint(counts) != "[3 2 2 3]" {
		t.Fatalf("slices read %d rows (%v), want 10 as [3 2 2 3]", len(got), counts)
	}
	for _, q := range s.Queries() {
		switch {
		case q.SQL == "SET LOCK_TIMEOUT 60000" || q.SQL == mssql.LockedBoundsSQL("[dbo].[p]", "[id]") || q.SQL == mssql.PinSQL("[dbo].[p]"):
			t.Fatalf("sent %q without snapshot isolation", q.SQL)
		case q.SQL == "BEGIN TRANSACTION" && q.Isolation != 0:
			t.Fatalf("a transaction asked for isolation %d", q.Isolation)
		}
	}
	if sessionOf(s.Queries(), mssql.BoundsUnlockedSQL("[dbo].[p]", "[id]")) == 0 {
		t.Fatal("no bounds read")
	}
}

// TestPartitionsWithoutAnIntegerKey: a table keyed by text, or without a
// key, is read whole by the first slice.
func TestPartitionsWithoutAnIntegerKey(t *testing.T) {
	s, conn := start(t)
	cols := []catalogCol{
		{name: "code", typ: "nvarchar", maxLen: 20, wire: tds.Column{Type: tds.NVarChar, Length: 10}},
		{name: "v", typ: "nvarchar", nullable: true, maxLen: 40, wire: tds.Column{Type: tds.NVarChar, Length: 20}},
	}
	for _, name := range []string{"k", "nokey"} {
		var key []string
		if name == "k" {
			key = []string{"code"}
		}
		table(s, "[dbo].["+name+"]", cols, key...)
		s.HandleMatch(func(q string) bool { return q == "SELECT [code], [v] FROM [dbo].["+name+"] WHERE (1=1)" }, func(tds.Query) tds.Response {
			return tds.Response{Columns: wireColumns(cols), Rows: [][]any{{"a", "x"}, {"b", "y"}}}
		})
		s.HandleMatch(func(q string) bool { return q == "SELECT [code], [v] FROM [dbo].["+name+"] WHERE (1=0)" }, func(tds.Query) tds.Response {
			return tds.Response{Columns: wireColumns(cols)}
		})
		var counts []int
		for _, rr := range slicesOf(t, conn, name, "g-"+name, 3) {
			n := 0
			for rr.Next() {
				n += int(rr.RecordBatch().NumRows())
			}
			if err := rr.Err(); err != nil {
				t.Fatal(err)
			}
			rr.Release()
			counts = append(counts, n)
		}
		if fmt.Sprint(counts) != "[2 0 0]" {
			t.Fatalf("%s: slice sizes %v, want [2 0 0]", name, counts)
		}
	}
}
