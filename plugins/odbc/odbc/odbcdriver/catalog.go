package odbcdriver

/*
#include <sql.h>
#include <sqlext.h>
#include <sqlucode.h>
*/
import "C"

import (
	"context"
	"database/sql/driver"
)

// Arg is an argument of a catalog function: nil is NULL (any), else the
// text (a search pattern where ODBC takes one).
type Arg *string

// Str makes a catalog argument.
func Str(s string) Arg { return &s }

// catalog runs one catalog function on a fresh statement and returns its
// result set.
func (c *Conn) catalog(ctx context.Context, op string, args []Arg, call func(h C.SQLHSTMT, p []*C.SQLWCHAR, n []C.SQLSMALLINT) C.SQLRETURN) (driver.Rows, error) {
	s, err := c.alloc()
	if err != nil {
		return nil, err
	}
	p := make([]*C.SQLWCHAR, len(args))
	n := make([]C.SQLSMALLINT, len(args))
	keep := make([][]C.SQLWCHAR, len(args))
	for i, a := range args {
		if a != nil {
			keep[i] = utf16z(*a)
			p[i], n[i] = &keep[i][0], C.SQL_NTS
		}
	}
	s.watch(ctx)
	if err := s.check(op, call(s.h, p, n)); err != nil {
		s.close()
		return nil, err
	}
	return newRows(ctx, s)
}

// Tables is SQLTables(catalog, schema pattern, table pattern, types).
func (c *Conn) Tables(ctx context.Context, catalog, schema, table, types Arg) (driver.Rows, error) {
	return c.catalog(ctx, "listing tables", []Arg{catalog, schema, table, types}, func(h C.SQLHSTMT, p []*C.SQLWCHAR, n []C.SQLSMALLINT) C.SQLRETURN {
		return C.SQLTablesW(h, p[0], n[0], p[1], n[1], p[2], n[2], p[3], n[3])
	})
}

// Columns is SQLColumns(catalog, schema pattern, table pattern, column
// pattern).
func (c *Conn) Columns(ctx context.Context, catalog, schema, table, column Arg) (driver.Rows, error) {
	return c.catalog(ctx, "describing columns", []Arg{catalog, schema, table, column}, func(h C.SQLHSTMT, p []*C.SQLWCHAR, n []C.SQLSMALLINT) C.SQLRETURN {
		return C.SQLColumnsW(h, p[0], n[0], p[1], n[1], p[2], n[2], p[3], n[3])
	})
}

// PrimaryKeys is SQLPrimaryKeys(catalog, schema, table).
func (c *Conn) PrimaryKeys(ctx context.Context, catalog, schema, table Arg) (driver.Rows, error) {
	return c.catalog(ctx, "reading the primary key", []Arg{catalog, schema, table}, func(h C.SQLHSTMT, p []*C.SQLWCHAR, n []C.SQLSMALLINT) C.SQLRETURN {
		return C.SQLPrimaryKeysW(h, p[0], n[0], p[1], n[1], p[2], n[2])
	})
}
