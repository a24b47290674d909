package postgres_test

import (
	"context"
	"errors"
	"testing"

	"github.com/halfpipe-io/halfpipe/plugins/postgres/postgres"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// TestReadsNeverWrite: a query, a filter or a bounds request that would
// write fails, and the victim table keeps its rows; a filter that would
// escape its parentheses is refused before it reaches the server.
func TestReadsNeverWrite(t *testing.T) {
	db, s := schemaFor(t)
	for _, q := range []string{
		`CREATE TABLE ` + s + `.victim (id int)`,
		`INSERT INTO ` + s + `.victim SELECT generate_series(1, 5)`,
		`CREATE TABLE ` + s + `.t (id int, note text)`,
		`INSERT INTO ` + s + `.t VALUES (1, 'a'), (2, 'b')`,
		// A volatile function that writes, callable from a filter.
		`CREATE FUNCTION ` + s + `.wipe() RETURNS boolean LANGUAGE sql AS 'DELETE FROM ` + s + `.victim; SELECT true'`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	victims := func() int {
		t.Helper()
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM ` + s + `.victim`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	table := &sdk.ObjectRef{Schema: s, Name: "t"}
	writes := map[string]sdk.ReadRequest{
		"query delete":       {Source: sdk.Source{Query: `DELETE FROM ` + s + `.victim RETURNING id`}},
		"query cte delete":   {Source: sdk.Source{Query: `WITH d AS (DELETE FROM ` + s + `.victim RETURNING id) SELECT * FROM d`}},
		"query function":     {Source: sdk.Source{Query: `SELECT ` + s + `.wipe()`}},
		"table where (COPY)": {Source: sdk.Source{Object: table}, Where: s + `.wipe()`},
		"query where":        {Source: sdk.Source{Query: `SELECT * FROM ` + s + `.t`}, Where: s + `.wipe()`},
	}
	for name, req := range writes {
		_, _, err := readAll(t, req)
		if err == nil {
			t.Errorf("%s: read succeeded", name)
		}
		if n := victims(); n != 5 {
			t.Fatalf("%s: victim has %d rows, want 5", name, n)
		}
	}
	_, err := postgres.New().Bounds(context.Background(), sdk.BoundsRequest{Conn: sdk.Connection{DSN: testDSN()},
		Source: sdk.Source{Object: table}, Column: "id", Where: s + `.wipe()`})
	if err == nil {
		t.Error("bounds with a writing filter succeeded")
	}
	if n := victims(); n != 5 {
		t.Fatalf("bounds: victim has %d rows, want 5", n)
	}
	for _, w := range []string{
		`1=1) UNION ALL (SELECT id, 'x' FROM ` + s + `.victim`,
		`1=1; DELETE FROM ` + s + `.victim`,
	} {
		for _, src := range []sdk.Source{{Object: table}, {Query: `SELECT * FROM ` + s + `.t`}} {
			_, rows, err := readAll(t, sdk.ReadRequest{Source: src, Where: w})
			if !errors.Is(err, sdk.ErrInvalidArgument) {
				t.Errorf("where %q on %v: err = %v (%d rows), want invalid argument", w, src, err, len(rows))
			}
		}
	}
	// Reads still work, with and without a filter, many times over the pool.
	for i := 0; i < 3; i++ {
		_, rows, err := readAll(t, sdk.ReadRequest{Source: sdk.Source{Object: table}, Where: "note <> 'it''s ) union'"})
		if err != nil || len(rows) != 2 {
			t.Fatalf("table read: %d rows, %v", len(rows), err)
		}
		if _, rows, err = readAll(t, sdk.ReadRequest{Source: sdk.Source{Query: `SELECT id FROM ` + s + `.t`}}); err != nil || len(rows) != 2 {
			t.Fatalf("query read: %d rows, %v", len(rows), err)
		}
	}
}
