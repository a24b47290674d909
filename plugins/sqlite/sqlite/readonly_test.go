package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	"github.com/halfpipe-io/halfpipe/plugins/sqlite/sqlite"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// TestReadsNeverWrite: a query that would write fails and the victim table
// keeps its rows; a filter that would escape its parentheses is refused;
// writes through the same connector still work afterwards.
func TestReadsNeverWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ro.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		"CREATE TABLE victim (id INTEGER)", "INSERT INTO victim VALUES (1), (2), (3)",
		"CREATE TABLE t (id INTEGER, note TEXT)", "INSERT INTO t VALUES (1, 'a'), (2, 'b')",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	victims := func() int {
		t.Helper()
		var n int
		if err := db.QueryRow("SELECT count(*) FROM victim").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	c := sqlite.New()
	conn := sdk.Connection{DSN: "sqlite://" + path}
	read := func(req sdk.ReadRequest) (int64, error) {
		req.Conn = conn
		rr, err := c.Read(context.Background(), req)
		if err != nil {
			return 0, err
		}
		defer rr.Release()
		n := int64(0)
		for rr.Next() {
			n += rr.RecordBatch().NumRows()
		}
		return n, rr.Err()
	}
	for _, q := range []string{
		"DELETE FROM victim RETURNING id",
		"WITH x AS (SELECT 1) DELETE FROM victim",
		"DELETE FROM victim",
	} {
		if _, err := read(sdk.ReadRequest{Source: sdk.Source{Query: q}}); err == nil {
			t.Errorf("%s: read succeeded", q)
		}
		if n := victims(); n != 3 {
			t.Fatalf("%s: victim has %d rows, want 3", q, n)
		}
	}
	table := &sdk.ObjectRef{Name: "t"}
	for _, w := range []string{"1=1) UNION ALL (SELECT id, 'x' FROM victim", "1=1; DELETE FROM victim"} {
		if n, err := read(sdk.ReadRequest{Source: sdk.Source{Object: table}, Where: w}); !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Errorf("where %q: err = %v (%d rows), want invalid argument", w, err, n)
		}
	}
	if n, err := read(sdk.ReadRequest{Source: sdk.Source{Object: table}, Where: "note <> 'x'"}); err != nil || n != 2 {
		t.Fatalf("table read: %d rows, %v", n, err)
	}
	// The pooled connections are writable again for the connector's writes.
	if _, err := c.Exec(context.Background(), conn, []string{"DELETE FROM victim WHERE id = 1"}); err != nil {
		t.Fatalf("exec after reads: %v", err)
	}
	if n := victims(); n != 2 {
		t.Fatalf("exec after reads: victim has %d rows, want 2", n)
	}
}
