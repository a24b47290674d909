package odbcdriver

/*
#include <stdlib.h>
#include <sql.h>
#include <sqlext.h>
#include <sqlucode.h>
#include "hp_odbc.h"
*/
import "C"

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Connector opens connections with one connection string. It implements
// driver.Connector, for sql.OpenDB.
type Connector struct {
	ConnStr string
	// LoginTimeout in seconds; 0 leaves the driver's default.
	LoginTimeout int
}

// Driver implements driver.Connector.
func (c *Connector) Driver() driver.Driver { return drv{} }

type drv struct{}

func (drv) Open(connStr string) (driver.Conn, error) {
	return (&Connector{ConnStr: connStr}).Connect(context.Background())
}

// Connect implements driver.Connector: SQLDriverConnect without prompting.
func (c *Connector) Connect(ctx context.Context) (driver.Conn, error) {
	e, err := environment()
	if err != nil {
		return nil, err
	}
	var h C.SQLHANDLE
	if rc := C.SQLAllocHandle(C.SQL_HANDLE_DBC, C.SQLHANDLE(e), &h); !ok(rc) {
		return nil, diagError("allocating a connection", C.SQL_HANDLE_ENV, C.SQLHANDLE(e), rc)
	}
	cn := &Conn{dbc: C.SQLHDBC(h)}
	if c.LoginTimeout > 0 {
		C.hp_conn_int(cn.dbc, C.SQL_ATTR_LOGIN_TIMEOUT, C.SQLULEN(c.LoginTimeout))
	}
	cs := utf16z(c.ConnStr)
	var outLen C.SQLSMALLINT
	rc := C.SQLDriverConnectW(cn.dbc, nil, &cs[0], C.SQL_NTS, nil, 0, &outLen, C.SQL_DRIVER_NOPROMPT)
	if !ok(rc) {
		err := diagError("connecting", C.SQL_HANDLE_DBC, C.SQLHANDLE(cn.dbc), rc)
		C.SQLFreeHandle(C.SQL_HANDLE_DBC, C.SQLHANDLE(cn.dbc))
		return nil, err
	}
	cn.connected = true
	// MariaDB Connector/ODBC crashes when SQLCancel meets a running
	// SQLFetch; it holds the whole result after SQLExecute anyway, so its
	// reads stop between fetches instead.
	if d, err := cn.info(C.SQL_DRIVER_NAME); err == nil && strings.Contains(strings.ToLower(d), "maodbc") {
		cn.syncCancel = true
	} else {
		// MariaDB's driver claims SQL_GD_BLOCK, yet after SQLSetPos its
		// SQLGetData reads the rowset's first row: never trusted.
		var ext C.SQLUINTEGER
		const want = C.SQL_GD_BLOCK | C.SQL_GD_BOUND | C.SQL_GD_ANY_ORDER | C.SQL_GD_ANY_COLUMN
		if ok(C.SQLGetInfoW(cn.dbc, C.SQL_GETDATA_EXTENSIONS, C.SQLPOINTER(&ext), 4, nil)) && ext&want == want {
			cn.longBlocks = true
		}
	}
	return cn, nil
}

// Conn is one ODBC connection. database/sql uses it from one goroutine
// at a time; Cancel may come from another.
type Conn struct {
	dbc       C.SQLHDBC
	connected bool
	inTx      bool
	bad       bool
	execs     int
	// syncCancel: a cancelled context is only seen between calls, never
	// by SQLCancel from another thread.
	syncCancel bool
	// longBlocks: long columns are bound in rowsets up to longBoundBytes
	// a value, the longer ones read with SQLSetPos and SQLGetData
	// (SQL_GETDATA_EXTENSIONS has SQL_GD_BLOCK, _BOUND, _ANY_ORDER and
	// _ANY_COLUMN).
	longBlocks bool

	mu   sync.Mutex
	stmt C.SQLHSTMT // the statement running, for cancellation
}

// Close disconnects.
func (c *Conn) Close() error {
	if c.dbc == nil {
		return nil
	}
	if c.inTx {
		C.SQLEndTran(C.SQL_HANDLE_DBC, C.SQLHANDLE(c.dbc), C.SQL_ROLLBACK)
	}
	if c.connected {
		C.SQLDisconnect(c.dbc)
	}
	C.SQLFreeHandle(C.SQL_HANDLE_DBC, C.SQLHANDLE(c.dbc))
	c.dbc = nil
	return nil
}

// check turns a failed call on the connection into an *Error, and marks
// the connection bad after a communication failure.
func (c *Conn) check(op string, rc C.SQLRETURN) error {
	if ok(rc) {
		return nil
	}
	return c.fail(diagError(op, C.SQL_HANDLE_DBC, C.SQLHANDLE(c.dbc), rc))
}

func (c *Conn) fail(e *Error) error {
	if e.ConnectionLost() || e.HasState("HYT") {
		c.bad = true
	}
	return e
}

// Executions counts the SQLExecute calls of InsertRecord on the
// connection: one per parameter array, or one per row without arrays.
func (c *Conn) Executions() int { return c.execs }

// IsValid implements driver.Validator.
func (c *Conn) IsValid() bool { return !c.bad && c.dbc != nil }

// ResetSession implements driver.SessionResetter.
func (c *Conn) ResetSession(context.Context) error {
	if !c.IsValid() {
		return driver.ErrBadConn
	}
	return nil
}

// Info is SQLGetInfo of a string item.
func (c *Conn) info(item C.SQLUSMALLINT) (string, error) {
	buf := make([]C.SQLWCHAR, 256)
	var n C.SQLSMALLINT
	rc := C.SQLGetInfoW(c.dbc, item, C.SQLPOINTER(&buf[0]), C.SQLSMALLINT(len(buf)*2), &n)
	if err := c.check("SQLGetInfo", rc); err != nil {
		return "", err
	}
	return wstr(buf), nil
}

// DBMS returns SQLGetInfo's SQL_DBMS_NAME and SQL_DBMS_VER.
func (c *Conn) DBMS() (name, version string, err error) {
	if name, err = c.info(C.SQL_DBMS_NAME); err != nil {
		return "", "", err
	}
	version, err = c.info(C.SQL_DBMS_VER)
	return name, version, err
}

// SearchEscape returns the escape of catalog search patterns.
func (c *Conn) SearchEscape() (string, error) { return c.info(C.SQL_SEARCH_PATTERN_ESCAPE) }

// Begin implements driver.Conn.
func (c *Conn) Begin() (driver.Tx, error) { return c.BeginTx(context.Background(), driver.TxOptions{}) }

// BeginTx implements driver.ConnBeginTx: autocommit off; a read-only
// transaction asks for SQL_MODE_READ_ONLY, which drivers may ignore
// (dialects make sure in their own way).
func (c *Conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if c.inTx {
		return nil, errors.New("odbc: a transaction is already open")
	}
	if opts.ReadOnly {
		C.hp_conn_int(c.dbc, C.SQL_ATTR_ACCESS_MODE, C.SQL_MODE_READ_ONLY)
	}
	if err := c.check("turning autocommit off", C.hp_conn_int(c.dbc, C.SQL_ATTR_AUTOCOMMIT, C.SQL_AUTOCOMMIT_OFF)); err != nil {
		return nil, err
	}
	c.inTx = true
	return &tx{c: c, readOnly: opts.ReadOnly}, nil
}

type tx struct {
	c        *Conn
	readOnly bool
}

func (t *tx) Commit() error   { return t.end(C.SQL_COMMIT, "committing") }
func (t *tx) Rollback() error { return t.end(C.SQL_ROLLBACK, "rolling back") }

func (t *tx) end(how C.SQLSMALLINT, op string) error {
	c := t.c
	if !c.inTx {
		return errors.New("odbc: no transaction is open")
	}
	c.inTx = false
	err := c.check(op, C.SQLEndTran(C.SQL_HANDLE_DBC, C.SQLHANDLE(c.dbc), how))
	if aerr := c.check("turning autocommit on", C.hp_conn_int(c.dbc, C.SQL_ATTR_AUTOCOMMIT, C.SQL_AUTOCOMMIT_ON)); err == nil {
		err = aerr
	}
	if t.readOnly {
		C.hp_conn_int(c.dbc, C.SQL_ATTR_ACCESS_MODE, C.SQL_MODE_READ_WRITE)
	}
	if err != nil {
		c.bad = true
	}
	return err
}

// Prepare implements driver.Conn; statements run directly, prepared by
// the driver as it sees fit.
func (c *Conn) Prepare(query string) (driver.Stmt, error) { return &stmt{c: c, q: query}, nil }

type stmt struct {
	c *Conn
	q string
}

func (s *stmt) Close() error  { return nil }
func (s *stmt) NumInput() int { return -1 }
func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.c.ExecContext(context.Background(), s.q, named(args))
}
func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.c.QueryContext(context.Background(), s.q, named(args))
}

func named(args []driver.Value) []driver.NamedValue {
	out := make([]driver.NamedValue, len(args))
	for i, a := range args {
		out[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	return out
}

// CheckNamedValue implements driver.NamedValueChecker: the types bind()
// knows pass as they are.
func (c *Conn) CheckNamedValue(nv *driver.NamedValue) error {
	switch nv.Value.(type) {
	case nil, int64, uint64, float64, bool, string, []byte, Decimal, Date:
		return nil
	}
	v, err := driver.DefaultParameterConverter.ConvertValue(nv.Value)
	if err != nil {
		return fmt.Errorf("odbc: argument %d: %w", nv.Ordinal, err)
	}
	nv.Value = v
	return nil
}

// ExecContext implements driver.ExecerContext.
func (c *Conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	s, err := c.execute(ctx, query, args)
	if err != nil {
		return nil, err
	}
	defer s.close()
	var n C.SQLLEN
	if rc := C.SQLRowCount(s.h, &n); !ok(rc) {
		n = -1
	}
	return result(n), nil
}

type result int64

func (r result) LastInsertId() (int64, error) {
	return 0, errors.New("odbc: no last insert id")
}
func (r result) RowsAffected() (int64, error) {
	if r < 0 {
		return 0, errors.New("odbc: the driver did not report a row count")
	}
	return int64(r), nil
}

// QueryContext implements driver.QueryerContext.
func (c *Conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	s, err := c.execute(ctx, query, args)
	if err != nil {
		return nil, err
	}
	return newRows(ctx, s)
}

// Ping implements driver.Pinger.
func (c *Conn) Ping(ctx context.Context) error {
	if !c.IsValid() {
		return driver.ErrBadConn
	}
	var dead C.SQLUINTEGER
	rc := C.SQLGetConnectAttr(c.dbc, C.SQL_ATTR_CONNECTION_DEAD, C.SQLPOINTER(&dead), 0, nil)
	if ok(rc) && dead == C.SQL_CD_TRUE {
		c.bad = true
		return driver.ErrBadConn
	}
	return nil
}
