package mssql_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/plugins/mssql/mssql"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/testkit/tds"
)

// cancellingReader cancels the write's context when asked for its
// second batch, as an interrupted hp does mid-load.
type cancellingReader struct {
	array.RecordReader
	cancel context.CancelFunc
	n      int
}

func (r *cancellingReader) Next() bool {
	if r.n++; r.n == 2 {
		r.cancel()
	}
	return r.RecordReader.Next()
}

// TestWriteCancelledMidLoad: a write cancelled mid-load, or failed by the
// server, commits nothing and closes its connection rather than handing
// it back to the pool in an unknown transaction state; the next write
// logs in on a fresh connection.
func TestWriteCancelledMidLoad(t *testing.T) {
	s, conn := start(t)
	s.HandleCatalog(mssql.ColumnsQuery)
	s.HandleMatch(func(q string) bool { return strings.HasPrefix(q, "MERGE ") }, func(tds.Query) tds.Response { return tds.Response{RowsAffected: 2} })
	c := mssql.New()
	schema := arrow.NewSchema([]arrow.Field{f("id", arrow.PrimitiveTypes.Int64, false)}, nil)
	batch := [][]any{{int64(1)}, {int64(2)}}
	for _, mode := range []sdk.WriteMode{sdk.Append, sdk.Replace, sdk.Merge} {
		table := dbo("cancel_" + string(mode))
		s.Handle("DELETE FROM "+"[dbo].[cancel_"+string(mode)+"]", tds.Response{})
		ctx, cancel := context.WithCancel(context.Background())
		req := sdk.WriteRequest{Conn: conn, Table: table, Mode: mode, CreateTable: true}
		if mode == sdk.Merge {
			req.Keys = []string{"id"}
		}
		_, err := c.Write(ctx, req, &cancellingReader{RecordReader: readerOf(t, schema, batch, batch, batch), cancel: cancel})
		cancel()
		if err == nil {
			t.Fatalf("%s: a cancelled write succeeded", mode)
		}
		if got := strings.Join(texts(s), "|"); strings.Contains(got, "COMMIT") {
			t.Fatalf("%s: a cancelled write committed: %s", mode, got)
		}
		// The server rolls back when the connection closes.
		for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if _, ok := s.Table("[dbo].[cancel_" + string(mode) + "]"); !ok {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("%s: the table created by the cancelled write remains: its transaction is still open", mode)
			}
		}
		// The failed write's connection is gone: the next one logs in.
		logins := s.Stats().Logins
		res, err := c.Write(context.Background(), req, readerOf(t, schema, batch))
		if err != nil || res.RowsWritten != 2 {
			t.Fatalf("%s: write after a cancelled one: %v, %v", mode, res, err)
		}
		if s.Stats().Logins == logins {
			t.Errorf("%s: the write after a cancelled one did not log in: the cancelled write's connection was reused", mode)
		}
		s.ResetQueries()
	}

	// A server error fails the write; its connection is closed too.
	s.CreateTable("[dbo].[refused]", []tds.Column{{Name: "id", Type: tds.BigInt}})
	s.HandleBulk(func(tds.Bulk) *tds.Error {
		return &tds.Error{Number: 2627, State: 1, Class: 14, Message: "Violation of PRIMARY KEY constraint"}
	})
	if _, err := c.Write(context.Background(), sdk.WriteRequest{Conn: conn, Table: dbo("refused"), Mode: sdk.Append}, readerOf(t, schema, batch)); err == nil {
		t.Fatal("a refused bulk load succeeded")
	}
	s.HandleBulk(nil)
	logins := s.Stats().Logins
	if _, err := c.Write(context.Background(), sdk.WriteRequest{Conn: conn, Table: dbo("refused"), Mode: sdk.Append}, readerOf(t, schema, batch)); err != nil {
		t.Fatal(err)
	}
	if s.Stats().Logins == logins {
		t.Error("the write after a failed one did not log in: the failed write's connection was reused")
	}
}

// TestWriteMergeCreatesAPrimaryKey: a table created for a merge has the
// merge keys as its PRIMARY KEY (key columns NOT NULL, text keys of an
// indexable length), so that the MERGE finds rows by index.
func TestWriteMergeCreatesAPrimaryKey(t *testing.T) {
	s, conn := start(t)
	s.HandleCatalog(mssql.ColumnsQuery)
	s.HandleMatch(func(q string) bool { return strings.HasPrefix(q, "MERGE ") }, func(tds.Query) tds.Response { return tds.Response{RowsAffected: 2} })
	c := mssql.New()
	schema := arrow.NewSchema([]arrow.Field{
		f("region", arrow.BinaryTypes.String, true), f("id", arrow.PrimitiveTypes.Int64, true), f("note", arrow.BinaryTypes.String, true),
	}, nil)
	rows := [][]any{{"eu", int64(1), "a"}, {"us", int64(2), nil}}
	req := sdk.WriteRequest{Conn: conn, Table: dbo("merged"), Mode: sdk.Merge, Keys: []string{"id", "region", "id"}, CreateTable: true}
	if _, err := c.Write(context.Background(), req, readerOf(t, schema, rows)); err != nil {
		t.Fatal(err)
	}
	cols, ok := s.Table("[dbo].[merged]")
	if !ok || len(cols) != 3 {
		t.Fatalf("created table: %v %+v", ok, cols)
	}
	for _, col := range cols {
		if key := col.Name != "note"; col.PrimaryKey != key || col.Nullable == key {
			t.Errorf("column %+v: want primary key and NOT NULL = %v", col, key)
		}
	}
	if cols[0].Length == tds.Max || cols[2].Length != tds.Max {
		t.Errorf("text key column lengths: %+v", cols)
	}
	// An append creates no key.
	if _, err := c.Write(context.Background(), sdk.WriteRequest{Conn: conn, Table: dbo("appended"), Mode: sdk.Append, CreateTable: true}, readerOf(t, schema, rows)); err != nil {
		t.Fatal(err)
	}
	if cols, _ := s.Table("[dbo].[appended]"); len(cols) != 3 || cols[1].PrimaryKey || !cols[1].Nullable {
		t.Errorf("appended table: %+v", cols)
	}
}
