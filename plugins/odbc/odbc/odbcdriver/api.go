// Package odbcdriver is a thin database/sql driver over the ODBC C API
// (unixODBC's sql.h and sqlext.h), written for exactness: DECIMAL and
// NUMERIC arrive as text, integers keep their width and sign, timestamps
// their fraction, wide strings are decoded from UTF-16, long data is read
// in pieces, and result sets are fetched in blocks with column-wise
// binding. Diagnostics become *Error values carrying the SQLSTATE.
package odbcdriver

/*
#cgo LDFLAGS: -lodbc
#include <stdlib.h>
#include <string.h>
#include <sql.h>
#include <sqlext.h>
#include <sqlucode.h>
#include "hp_odbc.h"
*/
import "C"

import (
	"fmt"
	"strings"
	"sync"
	"unicode/utf16"
	"unsafe"
)

// SQL data types (sql.h, sqlext.h) the package distinguishes.
const (
	sqlChar          = C.SQL_CHAR
	sqlVarchar       = C.SQL_VARCHAR
	sqlLongVarchar   = C.SQL_LONGVARCHAR
	sqlWChar         = C.SQL_WCHAR
	sqlWVarchar      = C.SQL_WVARCHAR
	sqlWLongVarchar  = C.SQL_WLONGVARCHAR
	sqlDecimal       = C.SQL_DECIMAL
	sqlNumeric       = C.SQL_NUMERIC
	sqlSmallint      = C.SQL_SMALLINT
	sqlInteger       = C.SQL_INTEGER
	sqlReal          = C.SQL_REAL
	sqlFloat         = C.SQL_FLOAT
	sqlDouble        = C.SQL_DOUBLE
	sqlBit           = C.SQL_BIT
	sqlTinyint       = C.SQL_TINYINT
	sqlBigint        = C.SQL_BIGINT
	sqlBinary        = C.SQL_BINARY
	sqlVarbinary     = C.SQL_VARBINARY
	sqlLongVarbinary = C.SQL_LONGVARBINARY
	sqlDate          = C.SQL_DATE
	sqlTime          = C.SQL_TIME
	sqlTimestamp     = C.SQL_TIMESTAMP
	sqlTypeDate      = C.SQL_TYPE_DATE
	sqlTypeTime      = C.SQL_TYPE_TIME
	sqlTypeTimestamp = C.SQL_TYPE_TIMESTAMP
	sqlGUID          = C.SQL_GUID
	// SQL Server's time and datetimeoffset (sqlncli.h, not in unixODBC's
	// headers).
	sqlSSTime2           = -154
	sqlSSTimestampOffset = -155
)

var (
	envOnce sync.Once
	env     C.SQLHENV
	envErr  error
)

// environment allocates the process's ODBC 3 environment once.
func environment() (C.SQLHENV, error) {
	envOnce.Do(func() {
		var h C.SQLHANDLE
		if rc := C.SQLAllocHandle(C.SQL_HANDLE_ENV, nil, &h); !ok(rc) {
			envErr = fmt.Errorf("odbc: cannot allocate an environment (is unixODBC installed?)")
			return
		}
		env = C.SQLHENV(h)
		if rc := C.hp_env_int(env, C.SQL_ATTR_ODBC_VERSION, C.SQL_OV_ODBC3); !ok(rc) {
			envErr = diagError("setting ODBC version 3", C.SQL_HANDLE_ENV, C.SQLHANDLE(env), rc)
		}
	})
	return env, envErr
}

func ok(rc C.SQLRETURN) bool { return rc == C.SQL_SUCCESS || rc == C.SQL_SUCCESS_WITH_INFO }

// DiagRecord is one diagnostic record of SQLGetDiagRec.
type DiagRecord struct {
	State   string // SQLSTATE, e.g. "28000"
	Native  int32
	Message string
}

// Error is a failed ODBC call with its diagnostic records.
type Error struct {
	Op      string
	Code    int // the SQLRETURN
	Records []DiagRecord
}

// SQLState is the first record's SQLSTATE ("" without records).
func (e *Error) SQLState() string {
	if len(e.Records) == 0 {
		return ""
	}
	return e.Records[0].State
}

// HasState reports whether any record has a SQLSTATE starting with prefix.
func (e *Error) HasState(prefix string) bool {
	for _, r := range e.Records {
		if strings.HasPrefix(r.State, prefix) {
			return true
		}
	}
	return false
}

// ConnectionLost reports whether the error says the connection is gone:
// SQLSTATE class 08, or FreeTDS's messages for it, which FreeTDS reports
// as a warning (01000).
func (e *Error) ConnectionLost() bool {
	for _, r := range e.Records {
		msg := strings.ToLower(r.Message)
		if strings.HasPrefix(r.State, "08") || strings.Contains(msg, "unexpected eof from the server") ||
			strings.Contains(msg, "read from the server failed") || strings.Contains(msg, "write to the server failed") {
			return true
		}
	}
	return false
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("odbc: " + e.Op)
	if len(e.Records) == 0 {
		fmt.Fprintf(&b, ": return code %d without diagnostics", e.Code)
	}
	for i, r := range e.Records {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "[%s] %s", r.State, r.Message)
	}
	return b.String()
}

// diagError collects the diagnostic records of a handle after rc.
func diagError(op string, ht C.SQLSMALLINT, h C.SQLHANDLE, rc C.SQLRETURN) *Error {
	e := &Error{Op: op, Code: int(rc)}
	if rc == C.SQL_INVALID_HANDLE {
		e.Records = []DiagRecord{{State: "HY000", Message: "invalid handle"}}
		return e
	}
	e.Records = diagRecords(ht, h)
	return e
}

func diagRecords(ht C.SQLSMALLINT, h C.SQLHANDLE) []DiagRecord {
	var recs []DiagRecord
	var state [6]C.SQLWCHAR
	msg := make([]C.SQLWCHAR, 1024)
	for i := C.SQLSMALLINT(1); i <= 20; i++ {
		var native C.SQLINTEGER
		var n C.SQLSMALLINT
		rc := C.SQLGetDiagRecW(ht, h, i, &state[0], &native, &msg[0], C.SQLSMALLINT(len(msg)), &n)
		if !ok(rc) {
			break
		}
		if int(n) >= len(msg) {
			msg = make([]C.SQLWCHAR, int(n)+1)
			if rc := C.SQLGetDiagRecW(ht, h, i, &state[0], &native, &msg[0], C.SQLSMALLINT(len(msg)), &n); !ok(rc) {
				break
			}
		}
		recs = append(recs, DiagRecord{State: wstr(state[:5]), Native: int32(native), Message: wstr(msg[:min(int(n), len(msg)-1)])})
	}
	return recs
}

// utf16z is s as NUL-terminated UTF-16.
func utf16z(s string) []C.SQLWCHAR {
	u := utf16.Encode([]rune(s))
	out := make([]C.SQLWCHAR, len(u)+1)
	for i, c := range u {
		out[i] = C.SQLWCHAR(c)
	}
	return out
}

// wstr decodes UTF-16 code units (surrogate pairs included), stopping at
// a NUL.
func wstr(w []C.SQLWCHAR) string {
	u := unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(w))), len(w))
	for i, c := range u {
		if c == 0 {
			u = u[:i]
			break
		}
	}
	return decodeUTF16(u)
}

// decodeUTF16 converts UTF-16 to a string; a lone surrogate becomes
// U+FFFD, as utf16.Decode does.
func decodeUTF16(u []uint16) string {
	ascii := true
	for _, c := range u {
		if c >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		b := make([]byte, len(u))
		for i, c := range u {
			b[i] = byte(c)
		}
		return unsafe.String(unsafe.SliceData(b), len(b))
	}
	return string(utf16.Decode(u))
}

// DriverNames lists the drivers registered in odbcinst.ini.
func DriverNames() ([]string, error) {
	h, err := environment()
	if err != nil {
		return nil, err
	}
	var names []string
	desc := make([]C.SQLWCHAR, 512)
	attrs := make([]C.SQLWCHAR, 4096)
	dir := C.SQLUSMALLINT(C.SQL_FETCH_FIRST)
	for {
		var n1, n2 C.SQLSMALLINT
		rc := C.SQLDriversW(h, dir, &desc[0], C.SQLSMALLINT(len(desc)), &n1, &attrs[0], C.SQLSMALLINT(len(attrs)), &n2)
		if rc == C.SQL_NO_DATA {
			return names, nil
		}
		if !ok(rc) {
			return names, diagError("listing drivers", C.SQL_HANDLE_ENV, C.SQLHANDLE(h), rc)
		}
		names = append(names, wstr(desc))
		dir = C.SQL_FETCH_NEXT
	}
}
