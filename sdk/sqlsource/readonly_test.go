package sqlsource

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// fakeDB records what a reader does with its connections.
type fakeDB struct {
	mu          sync.Mutex
	opened      int
	closed      int
	readOnly    []bool // per BeginTx
	rollbacks   int
	inTx        bool
	queries     []string
	failQuery   bool
	failEnd     bool
	queryInTx   []bool
	rollbackErr error
}

func (f *fakeDB) Connect(context.Context) (driver.Conn, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opened++
	return &fakeConn{f: f}, nil
}
func (f *fakeDB) Driver() driver.Driver { return nil }

type fakeConn struct{ f *fakeDB }

func (c *fakeConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("no prepare") }
func (c *fakeConn) Begin() (driver.Tx, error)           { return nil, errors.New("use BeginTx") }
func (c *fakeConn) Close() error {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	c.f.closed++
	return nil
}

func (c *fakeConn) BeginTx(_ context.Context, o driver.TxOptions) (driver.Tx, error) {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	c.f.readOnly = append(c.f.readOnly, o.ReadOnly)
	c.f.inTx = true
	return fakeTx{c.f}, nil
}

func (c *fakeConn) QueryContext(_ context.Context, q string, _ []driver.NamedValue) (driver.Rows, error) {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	c.f.queries = append(c.f.queries, q)
	c.f.queryInTx = append(c.f.queryInTx, c.f.inTx)
	if c.f.failQuery {
		return nil, errors.New("boom")
	}
	return &fakeRows{}, nil
}

type fakeTx struct{ f *fakeDB }

func (t fakeTx) Commit() error { return errors.New("a read never commits") }
func (t fakeTx) Rollback() error {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	t.f.rollbacks++
	if t.f.failEnd {
		return errors.New("connection lost during rollback")
	}
	t.f.inTx = false
	return nil
}

type fakeRows struct{ n int }

func (r *fakeRows) Columns() []string { return []string{"a"} }
func (r *fakeRows) Close() error      { return nil }
func (r *fakeRows) Next(dest []driver.Value) error {
	if r.n > 0 {
		return io.EOF
	}
	r.n++
	dest[0] = "x"
	return nil
}

func fakeConnector(f *fakeDB) *Connector {
	return New(sdk.Info{}, &Dialect{
		Open: func(sdk.Connection) (*sql.DB, error) { return sql.OpenDB(f), nil },
		Map: func(ColumnMeta) (Mapping, error) {
			return Mapping{Type: arrow.BinaryTypes.String, Decode: DecodeString}, nil
		},
	})
}

func readAll(c *Connector, where string) error {
	rr, err := c.Read(context.Background(), sdk.ReadRequest{Conn: sdk.Connection{DSN: "fake://"}, Source: sdk.Source{Query: "select a from t"}, Where: where})
	if err != nil {
		return err
	}
	defer rr.Release()
	for rr.Next() {
	}
	return rr.Err()
}

func TestReadsRunInReadOnlyTransaction(t *testing.T) {
	f := &fakeDB{}
	c := fakeConnector(f)
	if err := readAll(c, ""); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.readOnly) != 1 || !f.readOnly[0] || len(f.queryInTx) != 1 || !f.queryInTx[0] {
		t.Fatalf("query ran outside a read-only transaction: begins %v, in tx %v", f.readOnly, f.queryInTx)
	}
	if f.rollbacks != 1 || f.inTx {
		t.Fatalf("read-only transaction did not end: %d rollbacks, in tx %v", f.rollbacks, f.inTx)
	}
}

func TestFailedReadOnlyTransactionEnds(t *testing.T) {
	f := &fakeDB{failQuery: true}
	c := fakeConnector(f)
	if err := readAll(c, ""); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("read error = %v, want the query's", err)
	}
	f.mu.Lock()
	if f.rollbacks != 1 || f.inTx {
		t.Fatalf("failed read left its transaction open: %d rollbacks, in tx %v", f.rollbacks, f.inTx)
	}
	// A transaction that cannot end takes its connection with it.
	f.failQuery, f.failEnd = false, true
	f.mu.Unlock()
	if err := readAll(c, ""); err == nil || !strings.Contains(err.Error(), "ending the read-only transaction") {
		t.Fatalf("read error = %v, want the failed rollback", err)
	}
	f.mu.Lock()
	if f.closed != 1 {
		t.Fatalf("connection inside a transaction went back to the pool (%d closed)", f.closed)
	}
	f.failEnd = false
	f.mu.Unlock()
	if err := readAll(c, ""); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.opened != 2 || !f.queryInTx[len(f.queryInTx)-1] {
		t.Fatalf("next read: %d connections opened (want a fresh one, 2), in tx %v", f.opened, f.queryInTx)
	}
}

func TestWhereMustBeOnePredicate(t *testing.T) {
	f := &fakeDB{}
	c := fakeConnector(f)
	for _, w := range []string{"1=1) UNION ALL (SELECT secret FROM users", "1=1; DELETE FROM victim", "1=1 -- rest"} {
		err := readAll(c, w)
		if !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Errorf("where %q: err = %v, want invalid argument", w, err)
		}
	}
	_, err := c.Bounds(context.Background(), sdk.BoundsRequest{Conn: sdk.Connection{DSN: "fake://"}, Source: sdk.Source{Query: "select a from t"}, Column: "a", Where: "1=1) OR (1=1"})
	if !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Errorf("bounds where: err = %v, want invalid argument", err)
	}
	f.mu.Lock()
	n := len(f.queries)
	f.mu.Unlock()
	if n != 0 {
		t.Fatalf("refused filters reached the database: %d queries", n)
	}
	if err := readAll(c, "a = 'x'"); err != nil {
		t.Fatal(err)
	}
}
