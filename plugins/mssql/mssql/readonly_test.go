package mssql_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/plugins/mssql/mssql"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/testkit/tds"
)

// TestReadsRefuseWrites: SQL Server has no read-only transaction, so
// queries and filters that are not plain reads are refused before they
// reach the server, and reads run in a transaction that is rolled back.
func TestReadsRefuseWrites(t *testing.T) {
	s, conn := start(t)
	ctx := context.Background()
	c := mssql.New()
	cols := []catalogCol{{name: "id", typ: "int", maxLen: 4, prec: 10, wire: tds.Column{Type: tds.Int}}}
	table(s, "[dbo].[t]", cols)
	s.Handle("SELECT [id] FROM [dbo].[t] WHERE (id > 0)", tds.Response{Columns: []tds.Column{{Name: "id", Type: tds.Int}}, Rows: [][]any{{1}, {2}}})
	s.Handle("SELECT id FROM dbo.t", tds.Response{Columns: []tds.Column{{Name: "id", Type: tds.Int}}, Rows: [][]any{{1}, {2}}})
	table := &sdk.ObjectRef{Schema: "dbo", Name: "t"}
	refused := map[string]sdk.ReadRequest{
		"delete":               {Source: sdk.Source{Query: "DELETE FROM dbo.victim"}},
		"batch after a select": {Source: sdk.Source{Query: "SELECT id FROM dbo.t DELETE FROM dbo.victim"}},
		"two statements":       {Source: sdk.Source{Query: "SELECT id FROM dbo.t; DROP TABLE dbo.victim"}},
		"exec":                 {Source: sdk.Source{Query: "EXEC dbo.wipe"}},
		"select into":          {Source: sdk.Source{Query: "SELECT * INTO dbo.copy FROM dbo.t"}},
		"where escape":         {Source: sdk.Source{Object: table}, Where: "1=1) UNION ALL (SELECT secret FROM dbo.users"},
		"where exec":           {Source: sdk.Source{Object: table}, Where: "id > 0 EXEC xp_cmdshell 'whoami'"},
		"where delete":         {Source: sdk.Source{Object: table}, Where: "id > 0 DELETE FROM dbo.victim"},
	}
	for name, req := range refused {
		s.ResetQueries()
		req.Conn = conn
		rr, err := c.Read(ctx, req)
		if err == nil {
			rr.Release()
		}
		if !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Errorf("%s: err = %v, want invalid argument", name, err)
		}
		for _, q := range s.Queries() {
			if strings.Contains(q.SQL, "victim") || strings.Contains(q.SQL, "xp_cmdshell") || strings.Contains(q.SQL, "wipe") || strings.Contains(q.SQL, "INTO") {
				t.Errorf("%s: the server received %q", name, q.SQL)
			}
		}
	}
	_, err := c.Bounds(ctx, sdk.BoundsRequest{Conn: conn, Source: sdk.Source{Object: table}, Column: "id", Where: "id > 0 DELETE FROM dbo.victim"})
	if !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Errorf("bounds: err = %v, want invalid argument", err)
	}
	for _, req := range []sdk.ReadRequest{{Source: sdk.Source{Object: table}, Where: "id > 0"}, {Source: sdk.Source{Query: "SELECT id FROM dbo.t"}}} {
		s.ResetQueries()
		req.Conn = conn
		rr, err := c.Read(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		n := int64(0)
		for rr.Next() {
			n += rr.RecordBatch().NumRows()
		}
		if err := rr.Err(); err != nil || n != 2 {
			t.Fatalf("read %v: %d rows, %v", req.Source, n, err)
		}
		rr.Release()
		var seq []string
		for _, q := range s.Queries() {
			seq = append(seq, q.SQL)
		}
		got := strings.Join(seq, " | ")
		if len(seq) < 3 || !strings.HasSuffix(got, "BEGIN TRANSACTION | "+seq[len(seq)-2]+" | ROLLBACK TRANSACTION") || strings.Contains(got, "COMMIT") {
			t.Errorf("read %v did not run in a rolled-back transaction: %s", req.Source, got)
		}
	}
}
