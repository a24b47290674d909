package oracle

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/godror/godror"

	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// A fake database/sql driver that answers as godror does: it hands over
// exactly the Go types godror's rows return (godror.Number, time.Time in
// the session's or the value's zone, "" for NULL text, *godror.Lob,
// []byte, float32/float64, time.Duration, "Y-M" intervals, bool), takes
// godror's statement options as arguments and array binds as slices, and
// logs every statement with its arguments so tests pin the SQL.

// result is what the fake answers to one statement.
type result struct {
	cols  []string
	types []string   // godror's ColumnTypeDatabaseTypeName
	prec  [][2]int64 // precision, scale (0, 0: unknown)
	rows  [][]driver.Value
}

// call is one logged statement.
type call struct {
	sql  string
	args []any
}

type fakeDB struct {
	mu      sync.Mutex
	calls   []call
	options int // godror.Option arguments taken
	// handle answers a statement; nil result for statements without rows.
	handle func(q string, args []any) (*result, error)
}

func (f *fakeDB) log(q string, args []any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call{q, args})
}

// statements returns the logged SQL texts.
func (f *fakeDB) statements() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, len(f.calls))
	for i, c := range f.calls {
		out[i] = c.sql
	}
	return out
}

// open is a Connector.open for the fake.
func (f *fakeDB) open(sdk.Connection) (*sql.DB, error) { return sql.OpenDB(fakeConnector{f}), nil }

type fakeConnector struct{ db *fakeDB }

func (c fakeConnector) Connect(context.Context) (driver.Conn, error) { return &fakeConn{db: c.db}, nil }
func (c fakeConnector) Driver() driver.Driver                        { return fakeDriver{} }

type fakeDriver struct{}

func (fakeDriver) Open(string) (driver.Conn, error) { return nil, errors.New("use the connector") }

type fakeConn struct{ db *fakeDB }

func (c *fakeConn) Prepare(q string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), q)
}
func (c *fakeConn) PrepareContext(_ context.Context, q string) (driver.Stmt, error) {
	return &fakeStmt{c: c, q: q}, nil
}
func (c *fakeConn) Close() error { return nil }
func (c *fakeConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}
func (c *fakeConn) BeginTx(_ context.Context, o driver.TxOptions) (driver.Tx, error) {
	// godror's statements for these options.
	if o.ReadOnly {
		c.db.log("SET TRANSACTION READ ONLY", nil)
	} else {
		c.db.log("SET TRANSACTION READ WRITE", nil)
	}
	return fakeTx{c.db}, nil
}

// CheckNamedValue takes what godror takes: slices for array binds and
// godror's own types.
func (c *fakeConn) CheckNamedValue(*driver.NamedValue) error { return nil }

type fakeTx struct{ db *fakeDB }

func (t fakeTx) Commit() error   { t.db.log("COMMIT", nil); return nil }
func (t fakeTx) Rollback() error { t.db.log("ROLLBACK", nil); return nil }

type fakeStmt struct {
	c *fakeConn
	q string
}

func (s *fakeStmt) Close() error  { return nil }
func (s *fakeStmt) NumInput() int { return -1 }

// CheckNamedValue applies godror's options and drops them, as godror does.
func (s *fakeStmt) CheckNamedValue(nv *driver.NamedValue) error {
	if _, ok := nv.Value.(godror.Option); ok {
		s.c.db.mu.Lock()
		s.c.db.options++
		s.c.db.mu.Unlock()
		return driver.ErrRemoveArgument
	}
	return nil
}

func (s *fakeStmt) run(args []driver.NamedValue) (*result, error) {
	vals := make([]any, len(args))
	for i, a := range args {
		vals[i] = a.Value
	}
	s.c.db.log(s.q, vals)
	return s.c.db.handle(s.q, vals)
}

func (s *fakeStmt) Exec(args []driver.Value) (driver.Result, error) {
	return nil, errors.New("use ExecContext")
}
func (s *fakeStmt) Query(args []driver.Value) (driver.Rows, error) {
	return nil, errors.New("use QueryContext")
}

func (s *fakeStmt) ExecContext(_ context.Context, args []driver.NamedValue) (driver.Result, error) {
	if _, err := s.run(args); err != nil {
		return nil, err
	}
	return driver.RowsAffected(1), nil
}

func (s *fakeStmt) QueryContext(_ context.Context, args []driver.NamedValue) (driver.Rows, error) {
	r, err := s.run(args)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, fmt.Errorf("fake: no rows for %s", s.q)
	}
	return &fakeRows{r: r}, nil
}

type fakeRows struct {
	r *result
	i int
}

func (r *fakeRows) Columns() []string { return r.r.cols }
func (r *fakeRows) Close() error      { return nil }
func (r *fakeRows) Next(dest []driver.Value) error {
	if r.i >= len(r.r.rows) {
		return io.EOF
	}
	row := r.r.rows[r.i]
	r.i++
	copy(dest, row)
	return nil
}
func (r *fakeRows) ColumnTypeDatabaseTypeName(i int) string {
	if i < len(r.r.types) {
		return r.r.types[i]
	}
	return ""
}
func (r *fakeRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if i < len(r.r.prec) && r.r.prec[i] != [2]int64{} {
		return r.r.prec[i][0], r.r.prec[i][1], true
	}
	return 0, 0, false
}

// column is one column of a fake table, as ALL_TAB_COLUMNS has it.
type column struct {
	name, typ, owner string
	precision, scale any // int64 or nil
	nullable         string
}

// fakeTable is a fake table: its catalog rows and its data.
type fakeTable struct {
	owner, name string
	cols        []column
	key         []string
	rows        [][]driver.Value
}

// catalog answers the dialect's catalog queries for the tables (the
// current schema is HP) and passes anything else to next.
func catalog(tables []*fakeTable, synonyms map[[2]string][2]string, next func(q string, args []any) (*result, error)) func(q string, args []any) (*result, error) {
	str := func(a any) string { s, _ := a.(string); return s }
	return func(q string, args []any) (*result, error) {
		switch q {
		case CurrentSchemaQuery:
			return &result{cols: []string{"S"}, rows: [][]driver.Value{{"HP"}}}, nil
		case ResolveQuery:
			r := &result{cols: []string{"OWNER", "OBJECT_NAME", "OBJECT_TYPE"}}
			for _, t := range tables {
				if (t.owner == str(args[0]) || t.owner == str(args[1])) && (t.name == str(args[2]) || t.name == str(args[3])) {
					r.rows = append(r.rows, []driver.Value{t.owner, t.name, "TABLE"})
				}
			}
			for s := range synonyms {
				if (s[0] == str(args[0]) || s[0] == str(args[1]) || s[0] == "PUBLIC") && (s[1] == str(args[2]) || s[1] == str(args[3])) {
					r.rows = append(r.rows, []driver.Value{s[0], s[1], "SYNONYM"})
				}
			}
			return r, nil
		case SynonymQuery:
			to, ok := synonyms[[2]string{str(args[0]), str(args[1])}]
			r := &result{cols: []string{"TABLE_OWNER", "TABLE_NAME", "DB_LINK"}}
			if ok {
				r.rows = [][]driver.Value{{to[0], to[1], nil}}
			}
			return r, nil
		case `SELECT OBJECT_TYPE FROM ALL_OBJECTS WHERE OWNER = :1 AND OBJECT_NAME = :2 AND OBJECT_TYPE IN ('TABLE', 'VIEW', 'SYNONYM')`:
			r := &result{cols: []string{"OBJECT_TYPE"}}
			for _, t := range tables {
				if t.owner == str(args[0]) && t.name == str(args[1]) {
					r.rows = [][]driver.Value{{"TABLE"}}
				}
			}
			if _, ok := synonyms[[2]string{str(args[0]), str(args[1])}]; ok {
				r.rows = [][]driver.Value{{"SYNONYM"}}
			}
			return r, nil
		case ColumnsQuery:
			r := &result{cols: []string{"COLUMN_NAME", "DATA_TYPE", "DATA_TYPE_OWNER", "DATA_PRECISION", "DATA_SCALE", "NULLABLE"}}
			for _, t := range tables {
				if t.owner == str(args[0]) && t.name == str(args[1]) {
					for _, c := range t.cols {
						var owner driver.Value
						if c.owner != "" {
							owner = c.owner
						}
						r.rows = append(r.rows, []driver.Value{c.name, c.typ, owner, number(c.precision), number(c.scale), c.nullable})
					}
				}
			}
			return r, nil
		case PrimaryKeyQuery:
			r := &result{cols: []string{"COLUMN_NAME"}}
			for _, t := range tables {
				if t.owner == str(args[0]) && t.name == str(args[1]) {
					for _, k := range t.key {
						r.rows = append(r.rows, []driver.Value{k})
					}
				}
			}
			return r, nil
		}
		return next(q, args)
	}
}

var memPool = memory.DefaultAllocator

// number is an int64 as godror returns NUMBER values of the catalog.
func number(v any) driver.Value {
	if n, ok := v.(int64); ok {
		return godror.Number(strconv.FormatInt(n, 10))
	}
	return nil
}

func colMeta(typ string, p, s int64, known bool) sqlsource.ColumnMeta {
	return sqlsource.ColumnMeta{Name: "C", NativeType: typ, Nullable: true, Precision: p, Scale: s, HasPrecision: known}
}
