// Package oraclefake is a database/sql driver that answers as godror does,
// for the Oracle connector's tests and for a plugin binary the end-to-end
// tests run through hp (cmd/hp-plugin-oraclefake): it hands over exactly
// the Go types godror's rows return (godror.Number, time.Time in the
// session's or the value's zone, "" for NULL text, *godror.Lob, []byte,
// float32/float64, time.Duration, "Y-M" intervals, bool), takes godror's
// statement options as arguments and array binds as slices, and logs every
// statement with its arguments so that tests pin the SQL.
package oraclefake

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"

	"github.com/godror/godror"
)

// Result is what the fake answers to one statement.
type Result struct {
	Cols  []string
	Types []string   // godror's ColumnTypeDatabaseTypeName
	Prec  [][2]int64 // precision, scale (0, 0: unknown)
	Rows  [][]driver.Value
	// Affected, when Counted, is the rows a statement without rows
	// changed (else an Exec reports 1).
	Affected int64
	Counted  bool
}

// Call is one logged statement.
type Call struct {
	SQL  string
	Args []any
}

// DB is one fake database.
type DB struct {
	mu      sync.Mutex
	calls   []Call
	options int
	// Handle answers a statement; a nil Result for statements without rows.
	Handle func(q string, args []any) (*Result, error)
	// Connect, when set, opens a Conn for each connection of the pool,
	// which then answers the connection's statements and runs its
	// transactions (Handle is unused).
	Connect func() (Conn, error)
}

// Conn is one connection of a fake that keeps data (see Store): it
// answers the connection's statements as Handle does, inside the
// transaction Begin opens.
type Conn interface {
	Handle(q string, args []any) (*Result, error)
	Begin(readOnly bool) error
	Commit() error
	Rollback() error
	Close() error
}

func (f *DB) log(q string, args []any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, Call{q, args})
}

// Calls returns the logged statements.
func (f *DB) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Call(nil), f.calls...)
}

// Statements returns the logged SQL texts.
func (f *DB) Statements() []string {
	var out []string
	for _, c := range f.Calls() {
		out = append(out, c.SQL)
	}
	return out
}

// Options counts the godror statement options the statements took.
func (f *DB) Options() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.options
}

// Open returns a pool on the fake.
func (f *DB) Open() *sql.DB { return sql.OpenDB(connector{f}) }

type connector struct{ db *DB }

func (c connector) Connect(context.Context) (driver.Conn, error) {
	if c.db.Connect == nil {
		return &conn{db: c.db}, nil
	}
	s, err := c.db.Connect()
	if err != nil {
		return nil, err
	}
	return &conn{db: c.db, s: s}, nil
}
func (c connector) Driver() driver.Driver { return drv{} }

type drv struct{}

func (drv) Open(string) (driver.Conn, error) { return nil, errors.New("oraclefake: use the connector") }

type conn struct {
	db *DB
	s  Conn // nil: db.Handle answers
}

func (c *conn) Prepare(q string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), q)
}
func (c *conn) PrepareContext(_ context.Context, q string) (driver.Stmt, error) {
	return &stmt{c: c, q: q}, nil
}
func (c *conn) Close() error {
	if c.s != nil {
		return c.s.Close()
	}
	return nil
}
func (c *conn) Begin() (driver.Tx, error) { return c.BeginTx(context.Background(), driver.TxOptions{}) }

// BeginTx logs the statements godror runs for the options, and begins
// the session's transaction.
func (c *conn) BeginTx(_ context.Context, o driver.TxOptions) (driver.Tx, error) {
	if o.ReadOnly {
		c.db.log("SET TRANSACTION READ ONLY", nil)
	} else {
		c.db.log("SET TRANSACTION READ WRITE", nil)
	}
	if c.s != nil {
		if err := c.s.Begin(o.ReadOnly); err != nil {
			return nil, err
		}
	}
	return tx{c}, nil
}

// CheckNamedValue takes what godror takes: slices for array binds and
// godror's own types.
func (c *conn) CheckNamedValue(*driver.NamedValue) error { return nil }

type tx struct{ c *conn }

func (t tx) Commit() error {
	t.c.db.log("COMMIT", nil)
	if t.c.s != nil {
		return t.c.s.Commit()
	}
	return nil
}

func (t tx) Rollback() error {
	t.c.db.log("ROLLBACK", nil)
	if t.c.s != nil {
		return t.c.s.Rollback()
	}
	return nil
}

type stmt struct {
	c *conn
	q string
}

func (s *stmt) Close() error  { return nil }
func (s *stmt) NumInput() int { return -1 }

// CheckNamedValue applies godror's options and drops them, as godror does.
func (s *stmt) CheckNamedValue(nv *driver.NamedValue) error {
	if _, ok := nv.Value.(godror.Option); ok {
		s.c.db.mu.Lock()
		s.c.db.options++
		s.c.db.mu.Unlock()
		return driver.ErrRemoveArgument
	}
	return nil
}

func (s *stmt) run(args []driver.NamedValue) (*Result, error) {
	vals := make([]any, len(args))
	for i, a := range args {
		vals[i] = a.Value
	}
	s.c.db.log(s.q, vals)
	if s.c.s != nil {
		return s.c.s.Handle(s.q, vals)
	}
	return s.c.db.Handle(s.q, vals)
}

func (s *stmt) Exec([]driver.Value) (driver.Result, error) {
	return nil, errors.New("oraclefake: use ExecContext")
}
func (s *stmt) Query([]driver.Value) (driver.Rows, error) {
	return nil, errors.New("oraclefake: use QueryContext")
}

func (s *stmt) ExecContext(_ context.Context, args []driver.NamedValue) (driver.Result, error) {
	r, err := s.run(args)
	if err != nil {
		return nil, err
	}
	if r != nil && r.Counted {
		return driver.RowsAffected(r.Affected), nil
	}
	return driver.RowsAffected(1), nil
}

func (s *stmt) QueryContext(_ context.Context, args []driver.NamedValue) (driver.Rows, error) {
	r, err := s.run(args)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, fmt.Errorf("oraclefake: no rows for %s", s.q)
	}
	return &rows{r: r}, nil
}

type rows struct {
	r *Result
	i int
}

func (r *rows) Columns() []string { return r.r.Cols }
func (r *rows) Close() error      { return nil }
func (r *rows) Next(dest []driver.Value) error {
	if r.i >= len(r.r.Rows) {
		return io.EOF
	}
	copy(dest, r.r.Rows[r.i])
	r.i++
	return nil
}
func (r *rows) ColumnTypeDatabaseTypeName(i int) string {
	if i < len(r.r.Types) {
		return r.r.Types[i]
	}
	return ""
}
func (r *rows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if i < len(r.r.Prec) && r.r.Prec[i] != [2]int64{} {
		return r.r.Prec[i][0], r.r.Prec[i][1], true
	}
	return 0, 0, false
}

// Column is one column of a fake table, as ALL_TAB_COLUMNS has it.
type Column struct {
	Name, Type, Owner string
	Precision, Scale  any // int64 or nil
	Nullable          string
}

// Table is a fake table: its catalog rows.
type Table struct {
	Owner, Name string
	Cols        []Column
	Key         []string
}

// Names returns the table's column names.
func (t *Table) Names() []string {
	out := make([]string, len(t.Cols))
	for i, c := range t.Cols {
		out[i] = c.Name
	}
	return out
}

// Queries are the connector's catalog statements the fake answers
// (Version and Objects by Store only).
type Queries struct {
	CurrentSchema, Resolve, Synonym, ObjectType, Columns, PrimaryKey, Version, Objects string
}

// number is an int64 as godror returns NUMBER values.
func number(v any) driver.Value {
	if n, ok := v.(int64); ok {
		return godror.Number(strconv.FormatInt(n, 10))
	}
	return nil
}

// Catalog answers the catalog queries for the tables and synonyms (owner,
// name → owner, name); the current schema is HP. Anything else goes to
// next.
func Catalog(q Queries, tables []*Table, synonyms map[[2]string][2]string, next func(q string, args []any) (*Result, error)) func(q string, args []any) (*Result, error) {
	str := func(a any) string { s, _ := a.(string); return s }
	return func(sql string, args []any) (*Result, error) {
		switch sql {
		case q.CurrentSchema:
			return &Result{Cols: []string{"S"}, Rows: [][]driver.Value{{"HP"}}}, nil
		case q.Resolve:
			r := &Result{Cols: []string{"OWNER", "OBJECT_NAME", "OBJECT_TYPE"}}
			for _, t := range tables {
				if (t.Owner == str(args[0]) || t.Owner == str(args[1])) && (t.Name == str(args[2]) || t.Name == str(args[3])) {
					r.Rows = append(r.Rows, []driver.Value{t.Owner, t.Name, "TABLE"})
				}
			}
			for s := range synonyms {
				if (s[0] == str(args[0]) || s[0] == str(args[1]) || s[0] == "PUBLIC") && (s[1] == str(args[2]) || s[1] == str(args[3])) {
					r.Rows = append(r.Rows, []driver.Value{s[0], s[1], "SYNONYM"})
				}
			}
			return r, nil
		case q.Synonym:
			r := &Result{Cols: []string{"TABLE_OWNER", "TABLE_NAME", "DB_LINK"}}
			if to, ok := synonyms[[2]string{str(args[0]), str(args[1])}]; ok {
				r.Rows = [][]driver.Value{{to[0], to[1], nil}}
			}
			return r, nil
		case q.ObjectType:
			r := &Result{Cols: []string{"OBJECT_TYPE"}}
			for _, t := range tables {
				if t.Owner == str(args[0]) && t.Name == str(args[1]) {
					r.Rows = [][]driver.Value{{"TABLE"}}
				}
			}
			if _, ok := synonyms[[2]string{str(args[0]), str(args[1])}]; ok {
				r.Rows = [][]driver.Value{{"SYNONYM"}}
			}
			return r, nil
		case q.Columns:
			r := &Result{Cols: []string{"COLUMN_NAME", "DATA_TYPE", "DATA_TYPE_OWNER", "DATA_PRECISION", "DATA_SCALE", "NULLABLE"}}
			for _, t := range tables {
				if t.Owner == str(args[0]) && t.Name == str(args[1]) {
					for _, c := range t.Cols {
						var owner driver.Value
						if c.Owner != "" {
							owner = c.Owner
						}
						r.Rows = append(r.Rows, []driver.Value{c.Name, c.Type, owner, number(c.Precision), number(c.Scale), c.Nullable})
					}
				}
			}
			return r, nil
		case q.PrimaryKey:
			r := &Result{Cols: []string{"COLUMN_NAME"}}
			for _, t := range tables {
				if t.Owner == str(args[0]) && t.Name == str(args[1]) {
					for _, k := range t.Key {
						r.Rows = append(r.Rows, []driver.Value{k})
					}
				}
			}
			return r, nil
		}
		return next(sql, args)
	}
}
