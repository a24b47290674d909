package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/plugins/postgres/postgres"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// sliceRows drains a started slice into id → payload.
func sliceRows(t *testing.T, rr array.RecordReader, into map[int64]string) int {
	t.Helper()
	defer rr.Release()
	n := 0
	for rr.Next() {
		rec := rr.RecordBatch()
		ids, pay := rec.Column(0).(*array.Int64), rec.Column(1).(*array.String)
		for i := range int(rec.NumRows()) {
			if _, dup := into[ids.Value(i)]; dup {
				t.Fatalf("id %d read by two slices", ids.Value(i))
			}
			into[ids.Value(i)] = strings.Clone(pay.Value(i)) // the batch's memory is reused after Next
			n++
		}
	}
	if err := rr.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

func partitioned(s, name, group string, index, count int) sdk.ReadRequest {
	return sdk.ReadRequest{Conn: sdk.Connection{DSN: testDSN()}, Source: sdk.Source{Object: &sdk.ObjectRef{Schema: s, Name: name}},
		Partition: &sdk.Partition{Index: index, Count: count, Group: group}}
}

// TestPartitionsShareOneSnapshot: four CTID slices read every row once,
// and a slice that starts after rows were inserted, updated (moved to
// other pages) and deleted still reads the table as it was when the
// group's first slice exported its snapshot.
func TestPartitionsShareOneSnapshot(t *testing.T) {
	db, s := schemaFor(t)
	for _, q := range []string{
		`CREATE TABLE ` + s + `.p (id bigint PRIMARY KEY, payload text NOT NULL)`,
		`INSERT INTO ` + s + `.p SELECT g, 'row ' || g FROM generate_series(1, 20000) g`,
		`ANALYZE ` + s + `.p`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	c := postgres.New()
	ctx := context.Background()
	const n = 4
	var started []array.RecordReader
	for i := range n - 1 {
		rr, err := c.Read(ctx, partitioned(s, "p", "g1", i, n))
		if err != nil {
			t.Fatal(err)
		}
		started = append(started, rr)
	}
	for _, q := range []string{
		`INSERT INTO ` + s + `.p SELECT g, 'new' FROM generate_series(20001, 21000) g`,
		`UPDATE ` + s + `.p SET payload = 'changed' WHERE id % 10 = 0`,
		`DELETE FROM ` + s + `.p WHERE id % 10 = 1`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	last, err := c.Read(ctx, partitioned(s, "p", "g1", n-1, n))
	if err != nil {
		t.Fatal(err)
	}
	started = append(started, last)
	got := map[int64]string{}
	var counts []int
	for _, rr := range started {
		counts = append(counts, sliceRows(t, rr, got))
	}
	if len(got) != 20000 {
		t.Fatalf("slices read %d rows (%v), want the 20000 of the snapshot", len(got), counts)
	}
	for id := int64(1); id <= 20000; id++ {
		if got[id] != fmt.Sprintf("row %d", id) {
			t.Fatalf("id %d: %q, want the snapshot's row", id, got[id])
		}
	}
	for i, k := range counts {
		if k < 20000/n/2 {
			t.Fatalf("slice %d read %d rows: the split is uneven (%v)", i, k, counts)
		}
	}
	// A new group sees the table as it is now.
	now := map[int64]string{}
	for i := range n {
		rr, err := c.Read(ctx, partitioned(s, "p", "g2", i, n))
		if err != nil {
			t.Fatal(err)
		}
		sliceRows(t, rr, now)
	}
	if len(now) != 21000-2100 || now[20] != "changed" || now[20502] != "new" {
		t.Fatalf("second group: %d rows, id 20 %q, id 20502 %q", len(now), now[20], now[20502])
	}
}

// TestPartitionsOfAViewAndAQuery: a view has no pages, so its first slice
// reads it whole; a query cannot be split.
func TestPartitionsOfAViewAndAQuery(t *testing.T) {
	db, s := schemaFor(t)
	for _, q := range []string{
		`CREATE TABLE ` + s + `.p (id bigint PRIMARY KEY, payload text NOT NULL)`,
		`INSERT INTO ` + s + `.p SELECT g, 'row ' || g FROM generate_series(1, 500) g`,
		`CREATE VIEW ` + s + `.v AS SELECT id, payload FROM ` + s + `.p WHERE id > 100`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	c := postgres.New()
	ctx := context.Background()
	var counts []int
	got := map[int64]string{}
	for i := range 3 {
		rr, err := c.Read(ctx, partitioned(s, "v", "gv", i, 3))
		if err != nil {
			t.Fatal(err)
		}
		counts = append(counts, sliceRows(t, rr, got))
	}
	if fmt.Sprint(counts) != "[400 0 0]" {
		t.Fatalf("view slices read %v rows, want [400 0 0]", counts)
	}
	q := partitioned(s, "p", "gq", 0, 2)
	q.Source = sdk.Source{Query: "SELECT id, payload FROM " + s + ".p"}
	if _, err := c.Read(ctx, q); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Fatalf("a partitioned query: %v, want an invalid-argument error", err)
	}
	// The missing table is named.
	if _, err := c.Read(ctx, partitioned(s, "missing", "gm", 0, 2)); err == nil || !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("a missing table: %v", err)
	}
	ids := make([]int64, 0, len(got))
	for id := range got {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	if ids[0] != 101 || ids[len(ids)-1] != 500 {
		t.Fatalf("view rows %d..%d", ids[0], ids[len(ids)-1])
	}
}
