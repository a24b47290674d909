package odbcdriver

/*
#include <stdlib.h>
#include <string.h>
#include <sql.h>
#include <sqlext.h>
#include <sqlucode.h>
*/
import "C"

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"
	"unsafe"
)

// Decimal is an exact decimal in text ("-12.340"), bound as SQL_NUMERIC
// with its own precision and scale, so that it compares with a DECIMAL
// column as a number.
type Decimal string

// Date is a date as days since 1970-01-01, bound as SQL_TYPE_DATE.
type Date int32

// statement is an executed statement handle and the C memory of its
// parameters, which the driver may read until the handle is freed.
type statement struct {
	c      *Conn
	h      C.SQLHSTMT
	mem    []unsafe.Pointer
	ctx    context.Context
	stop   chan struct{}
	done   chan struct{}
	closed bool
}

func (c *Conn) alloc() (*statement, error) {
	if !c.IsValid() {
		return nil, driver.ErrBadConn
	}
	var h C.SQLHANDLE
	if rc := C.SQLAllocHandle(C.SQL_HANDLE_STMT, C.SQLHANDLE(c.dbc), &h); !ok(rc) {
		return nil, c.check("allocating a statement", rc)
	}
	return &statement{c: c, h: C.SQLHSTMT(h)}, nil
}

// check turns a failed call on the statement into an *Error; a
// cancelled context is reported with it.
func (s *statement) check(op string, rc C.SQLRETURN) error {
	if ok(rc) {
		return nil
	}
	err := s.c.fail(diagError(op, C.SQL_HANDLE_STMT, C.SQLHANDLE(s.h), rc))
	if s.ctx != nil && s.ctx.Err() != nil {
		return errors.Join(s.ctx.Err(), err)
	}
	return err
}

// watch cancels the running statement (SQLCancel, which ODBC allows from
// another thread) when ctx ends, until the statement is closed; reads
// also stop between fetches (Rows.fetch).
func (s *statement) watch(ctx context.Context) {
	s.ctx = ctx
	if ctx.Done() == nil || s.c.syncCancel {
		return
	}
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	h, stop, done := s.h, s.stop, s.done
	go func() {
		defer close(done)
		select {
		case <-ctx.Done():
			C.SQLCancel(h)
		case <-stop:
		}
	}()
}

func (s *statement) close() {
	if s.closed {
		return
	}
	s.closed = true
	if s.stop != nil {
		// The handle outlives a SQLCancel in flight.
		close(s.stop)
		<-s.done
	}
	C.SQLFreeHandle(C.SQL_HANDLE_STMT, C.SQLHANDLE(s.h))
	for _, p := range s.mem {
		C.free(p)
	}
	s.mem = nil
}

func (s *statement) malloc(n int) unsafe.Pointer {
	p := C.calloc(1, C.size_t(max(n, 1)))
	s.mem = append(s.mem, p)
	return p
}

// execute binds args and runs q directly. SQL_NO_DATA (a searched UPDATE
// or DELETE that touched no row) is success.
func (c *Conn) execute(ctx context.Context, q string, args []driver.NamedValue) (*statement, error) {
	s, err := c.alloc()
	if err != nil {
		return nil, err
	}
	for i, a := range args {
		if err := s.bind(i+1, a.Value); err != nil {
			s.close()
			return nil, fmt.Errorf("argument %d: %w", i+1, err)
		}
	}
	s.watch(ctx)
	qw := utf16z(q)
	rc := C.SQLExecDirectW(s.h, &qw[0], C.SQL_NTS)
	if rc != C.SQL_NO_DATA {
		if err := s.check("executing", rc); err != nil {
			s.close()
			return nil, err
		}
	}
	return s, nil
}

// bind binds one input parameter, typed as its Go type says.
func (s *statement) bind(n int, v any) error {
	var (
		ctype, sqltype C.SQLSMALLINT
		size           C.SQLULEN
		digits         C.SQLSMALLINT
		buf            unsafe.Pointer
		buflen         int
	)
	ind := (*C.SQLLEN)(s.malloc(C.sizeof_SQLLEN))
	put := func(b []byte) {
		buf, buflen = s.malloc(len(b)), len(b)
		if len(b) > 0 {
			C.memcpy(buf, unsafe.Pointer(&b[0]), C.size_t(len(b)))
		}
		*ind = C.SQLLEN(len(b))
	}
	switch x := v.(type) {
	case nil:
		ctype, sqltype, size = C.SQL_C_CHAR, C.SQL_VARCHAR, 1
		buf, buflen = s.malloc(1), 1
		*ind = C.SQL_NULL_DATA
	case int64:
		ctype, sqltype, size = C.SQL_C_SBIGINT, C.SQL_BIGINT, 19
		buf, buflen = s.malloc(8), 8
		*(*int64)(buf) = x
		*ind = 8
	case uint64:
		// As an exact decimal: SQL_BIGINT is signed.
		ctype, sqltype, size = C.SQL_C_CHAR, C.SQL_DECIMAL, 20
		put([]byte(fmt.Sprint(x)))
	case float64:
		ctype, sqltype, size = C.SQL_C_DOUBLE, C.SQL_DOUBLE, 15
		buf, buflen = s.malloc(8), 8
		*(*float64)(buf) = x
		*ind = 8
	case bool:
		ctype, sqltype, size = C.SQL_C_BIT, C.SQL_BIT, 1
		buf, buflen = s.malloc(1), 1
		if x {
			*(*byte)(buf) = 1
		}
		*ind = 1
	case string:
		u := utf16.Encode([]rune(x))
		ctype, sqltype, size = C.SQL_C_WCHAR, C.SQL_WVARCHAR, C.SQLULEN(max(len(u), 1))
		if len(u) > 4000 {
			sqltype = C.SQL_WLONGVARCHAR
		}
		put(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(u))), 2*len(u)))
	case []byte:
		ctype, sqltype, size = C.SQL_C_BINARY, C.SQL_VARBINARY, C.SQLULEN(max(len(x), 1))
		if len(x) > 8000 {
			sqltype = C.SQL_LONGVARBINARY
		}
		put(x)
	case Decimal:
		p, sc := decimalDigits(string(x))
		ctype, sqltype, size, digits = C.SQL_C_CHAR, C.SQL_NUMERIC, C.SQLULEN(p), C.SQLSMALLINT(sc)
		put([]byte(x))
	case Date:
		t := time.Unix(int64(x)*86400, 0).UTC()
		ctype, sqltype, size = C.SQL_C_TYPE_DATE, C.SQL_TYPE_DATE, 10
		buf, buflen = s.malloc(C.sizeof_SQL_DATE_STRUCT), C.sizeof_SQL_DATE_STRUCT
		d := (*C.SQL_DATE_STRUCT)(buf)
		d.year, d.month, d.day = C.SQLSMALLINT(t.Year()), C.SQLUSMALLINT(t.Month()), C.SQLUSMALLINT(t.Day())
		*ind = C.sizeof_SQL_DATE_STRUCT
	case time.Time:
		t := x.UTC()
		ctype, sqltype, size, digits = C.SQL_C_TYPE_TIMESTAMP, C.SQL_TYPE_TIMESTAMP, 26, 6
		if t.Nanosecond()%1000 != 0 {
			size, digits = 29, 9
		}
		buf, buflen = s.malloc(C.sizeof_SQL_TIMESTAMP_STRUCT), C.sizeof_SQL_TIMESTAMP_STRUCT
		ts := (*C.SQL_TIMESTAMP_STRUCT)(buf)
		ts.year, ts.month, ts.day = C.SQLSMALLINT(t.Year()), C.SQLUSMALLINT(t.Month()), C.SQLUSMALLINT(t.Day())
		ts.hour, ts.minute, ts.second = C.SQLUSMALLINT(t.Hour()), C.SQLUSMALLINT(t.Minute()), C.SQLUSMALLINT(t.Second())
		ts.fraction = C.SQLUINTEGER(t.Nanosecond())
		*ind = C.sizeof_SQL_TIMESTAMP_STRUCT
	default:
		return fmt.Errorf("odbc: cannot bind %T", v)
	}
	rc := C.SQLBindParameter(s.h, C.SQLUSMALLINT(n), C.SQL_PARAM_INPUT, ctype, sqltype, size, digits, C.SQLPOINTER(buf), C.SQLLEN(buflen), ind)
	return s.check("binding a parameter", rc)
}

// decimalDigits is the precision and scale of a decimal's text.
func decimalDigits(s string) (precision, scale int) {
	s = strings.TrimLeft(s, "+-")
	intPart, frac, _ := strings.Cut(s, ".")
	intPart = strings.TrimLeft(intPart, "0")
	precision, scale = len(intPart)+len(frac), len(frac)
	return max(precision, 1), scale
}
