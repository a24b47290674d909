package mysql_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/plugins/mysql/mysql"
	"github.com/halfpipe-io/halfpipe/sdk"
)

func partitioned(d, name, group string, index, count int) sdk.ReadRequest {
	return sdk.ReadRequest{Conn: sdk.Connection{DSN: testDSN()}, Source: sdk.Source{Object: &sdk.ObjectRef{Schema: d, Name: name}},
		Partition: &sdk.Partition{Index: index, Count: count, Group: group}}
}

// drainSlice adds a slice's id → payload to into, failing on an id read
// twice.
func drainSlice(t *testing.T, rr array.RecordReader, into map[int64]string) int {
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
			into[ids.Value(i)] = pay.Value(i)
			n++
		}
	}
	if err := rr.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPartitionsAtOnePointInTime: four key-range slices read every row
// once; a writer that starts while the first slices have begun waits for
// the last to begin, so no slice sees its insert, update or delete.
func TestPartitionsAtOnePointInTime(t *testing.T) {
	db, d := database(t)
	execAll(t, db,
		"CREATE TABLE "+d+".p (id BIGINT PRIMARY KEY, payload VARCHAR(40) NOT NULL)",
		"CREATE TABLE "+d+".digits (n INT)",
		"INSERT INTO "+d+".digits VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)",
		"INSERT INTO "+d+".p SELECT a.n*1000 + b.n*100 + c.n*10 + e.n + 1, CONCAT('row ', a.n*1000 + b.n*100 + c.n*10 + e.n + 1) FROM "+
			d+".digits a, "+d+".digits b, "+d+".digits c, "+d+".digits e WHERE a.n < 4",
	)
	c := mysql.New()
	ctx := context.Background()
	const n = 4
	var started []array.RecordReader
	for i := range n - 1 {
		rr, err := c.Read(ctx, partitioned(d, "p", "g1", i, n))
		if err != nil {
			t.Fatal(err)
		}
		started = append(started, rr)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	wrote := make(chan error, 1)
	go func() {
		tx, err := db.BeginTx(wctx, nil)
		if err != nil {
			wrote <- err
			return
		}
		for _, q := range []string{
			"INSERT INTO " + d + ".p VALUES (5000, 'new'), (5001, 'new')",
			"UPDATE " + d + ".p SET payload = 'changed' WHERE id % 10 = 0",
			"DELETE FROM " + d + ".p WHERE id % 10 = 1",
		} {
			if _, err := tx.ExecContext(wctx, q); err != nil {
				_ = tx.Rollback()
				wrote <- err
				return
			}
		}
		wrote <- tx.Commit()
	}()
	select {
	case err := <-wrote:
		t.Fatalf("the writer finished (%v) while the slices' lock was held", err)
	case <-time.After(300 * time.Millisecond):
	}
	last, err := c.Read(ctx, partitioned(d, "p", "g1", n-1, n))
	if err != nil {
		t.Fatal(err)
	}
	started = append(started, last)
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatalf("the writer: %v", err)
		}
	case <-wctx.Done():
		t.Fatal("the writer still waits after every slice began")
	}
	got := map[int64]string{}
	var counts []int
	for _, rr := range started {
		counts = append(counts, drainSlice(t, rr, got))
	}
	if len(got) != 4000 {
		t.Fatalf("slices read %d rows (%v), want the 4000 before the writer", len(got), counts)
	}
	for id := int64(1); id <= 4000; id++ {
		if got[id] != fmt.Sprintf("row %d", id) {
			t.Fatalf("id %d: %q, want the row before the writer", id, got[id])
		}
	}
	if fmt.Sprint(counts) != "[1000 1000 1000 1000]" {
		t.Fatalf("slice sizes %v, want 1000 each", counts)
	}
}

// TestPartitionsWithoutAnIntegerKey: a table keyed by text is read whole
// by the first slice; a query cannot be split.
func TestPartitionsWithoutAnIntegerKey(t *testing.T) {
	db, d := database(t)
	execAll(t, db,
		"CREATE TABLE "+d+".k (id BIGINT NOT NULL, code VARCHAR(10) PRIMARY KEY)",
		"INSERT INTO "+d+".k VALUES (1, 'a'), (2, 'b'), (3, 'c')",
	)
	c := mysql.New()
	got := map[int64]string{}
	var counts []int
	for i := range 3 {
		rr, err := c.Read(context.Background(), partitioned(d, "k", "gk", i, 3))
		if err != nil {
			t.Fatal(err)
		}
		counts = append(counts, drainSlice(t, rr, got))
	}
	if fmt.Sprint(counts) != "[3 0 0]" {
		t.Fatalf("slice sizes %v, want [3 0 0]", counts)
	}
	q := partitioned(d, "k", "gq", 0, 2)
	q.Source = sdk.Source{Query: "SELECT id, code FROM " + d + ".k"}
	if _, err := c.Read(context.Background(), q); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Fatalf("a partitioned query: %v", err)
	}
}
