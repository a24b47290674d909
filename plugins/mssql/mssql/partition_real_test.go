package mssql

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// TestRealServerPartitionsAtOnePointInTime: four key-range slices read
// every row once; a writer that starts while the first slices have begun
// waits for the last to begin (the plan's shared table lock), so no slice
// sees its insert, update or delete. It turns on ALLOW_SNAPSHOT_ISOLATION
// in the test database, and skips when the login may not.
func TestRealServerPartitionsAtOnePointInTime(t *testing.T) {
	conn, db := realServer(t)
	if _, err := db.Exec("ALTER DATABASE CURRENT SET ALLOW_SNAPSHOT_ISOLATION ON"); err != nil {
		t.Skipf("cannot allow snapshot isolation in the test database: %v", err)
	}
	name, ref := realTable(t, db, "slices", "id bigint PRIMARY KEY, payload nvarchar(40) NOT NULL")
	realExec(t, db, "INSERT INTO "+name+" SELECT TOP (4000) n, CONCAT('row ', n) FROM "+
		"(SELECT ROW_NUMBER() OVER (ORDER BY (SELECT NULL)) AS n FROM sys.all_objects a CROSS JOIN sys.all_objects b) x ORDER BY n")
	c := New()
	ctx := context.Background()
	const n = 4
	read := func(i int) array.RecordReader {
		rr, err := c.Read(ctx, sdk.ReadRequest{Conn: conn, Source: sdk.Source{Object: ref}, Partition: &sdk.Partition{Index: i, Count: n, Group: name}})
		if err != nil {
			t.Fatal(err)
		}
		return rr
	}
	var started []array.RecordReader
	for i := range n - 1 {
		started = append(started, read(i))
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
			"INSERT INTO " + name + " VALUES (5000, 'new'), (5001, 'new')",
			"UPDATE " + name + " SET payload = 'changed' WHERE id % 10 = 0",
			"DELETE FROM " + name + " WHERE id % 10 = 1",
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
		t.Fatalf("the writer finished (%v) while the slices' table lock was held", err)
	case <-time.After(300 * time.Millisecond):
	}
	started = append(started, read(n-1))
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
		k := 0
		for rr.Next() {
			rec := rr.RecordBatch()
			ids, pay := rec.Column(0).(*array.Int64), rec.Column(1).(*array.String)
			for i := range int(rec.NumRows()) {
				if _, dup := got[ids.Value(i)]; dup {
					t.Fatalf("id %d read by two slices", ids.Value(i))
				}
				got[ids.Value(i)] = pay.Value(i)
				k++
			}
		}
		if err := rr.Err(); err != nil {
			t.Fatal(err)
		}
		rr.Release()
		counts = append(counts, k)
	}
	if len(got) != 4000 || fmt.Sprint(counts) != "[1000 1000 1000 1000]" {
		t.Fatalf("slices read %d rows (%v), want the 4000 before the writer, 1000 each", len(got), counts)
	}
	for id := int64(1); id <= 4000; id++ {
		if got[id] != fmt.Sprintf("row %d", id) {
			t.Fatalf("id %d: %q, want the row before the writer", id, got[id])
		}
	}
}
