package mysql_test

import (
	"context"
	"errors"
	"testing"

	"github.com/halfpipe-io/halfpipe/plugins/mysql/mysql"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// TestReadsNeverWrite: a query, a filter or a bounds request that would
// write fails, and the victim table keeps its rows; a filter that would
// escape its parentheses is refused.
func TestReadsNeverWrite(t *testing.T) {
	db, d := database(t)
	execAll(t, db,
		"CREATE TABLE "+d+".victim (id INT)",
		"INSERT INTO "+d+".victim VALUES (1), (2), (3)",
		"CREATE TABLE "+d+".t (id INT, note TEXT)",
		"INSERT INTO "+d+".t VALUES (1, 'a'), (2, 'b')",
		"CREATE FUNCTION "+d+".wipe() RETURNS INT MODIFIES SQL DATA BEGIN DELETE FROM "+d+".victim; RETURN 1; END",
	)
	victims := func() int {
		t.Helper()
		var n int
		if err := db.QueryRow("SELECT count(*) FROM " + d + ".victim").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	c := mysql.New()
	conn := sdk.Connection{DSN: testDSN()}
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
	table := &sdk.ObjectRef{Schema: d, Name: "t"}
	for name, req := range map[string]sdk.ReadRequest{
		"query delete":   {Source: sdk.Source{Query: "DELETE FROM " + d + ".victim"}},
		"query function": {Source: sdk.Source{Query: "SELECT " + d + ".wipe()"}},
		"table where":    {Source: sdk.Source{Object: table}, Where: d + ".wipe() = 1"},
		"query where":    {Source: sdk.Source{Query: "SELECT * FROM " + d + ".t"}, Where: d + ".wipe() = 1"},
	} {
		if _, err := read(req); err == nil {
			t.Errorf("%s: read succeeded", name)
		}
		if n := victims(); n != 3 {
			t.Fatalf("%s: victim has %d rows, want 3", name, n)
		}
	}
	_, err := c.Bounds(context.Background(), sdk.BoundsRequest{Conn: conn, Source: sdk.Source{Object: table}, Column: "id", Where: d + ".wipe() = 1"})
	if err == nil {
		t.Error("bounds with a writing filter succeeded")
	}
	if n := victims(); n != 3 {
		t.Fatalf("bounds: victim has %d rows, want 3", n)
	}
	for _, w := range []string{"1=1) UNION ALL (SELECT id, 'x' FROM " + d + ".victim", "1=1; DELETE FROM " + d + ".victim", "note = 'a\\') OR (1=1'"} {
		n, err := read(sdk.ReadRequest{Source: sdk.Source{Object: table}, Where: w})
		if w == "note = 'a\\') OR (1=1'" {
			// One string in MySQL: a predicate, matching nothing.
			if err != nil || n != 0 {
				t.Errorf("where %q: %d rows, %v; want 0 rows", w, n, err)
			}
			continue
		}
		if !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Errorf("where %q: err = %v (%d rows), want invalid argument", w, err, n)
		}
	}
	for i := 0; i < 3; i++ {
		if n, err := read(sdk.ReadRequest{Source: sdk.Source{Object: table}, Where: "note <> 'it''s ) union'"}); err != nil || n != 2 {
			t.Fatalf("table read: %d rows, %v", n, err)
		}
		if n, err := read(sdk.ReadRequest{Source: sdk.Source{Query: "SELECT id FROM " + d + ".t"}}); err != nil || n != 2 {
			t.Fatalf("query read: %d rows, %v", n, err)
		}
	}
}
