package odbcdriver

/*
#include <stdlib.h>
#include <string.h>
#include <sql.h>
#include <sqlext.h>
#include <sqlucode.h>
#include "hp_odbc.h"
*/
import "C"

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"
	"unsafe"
)

// Bound buffers of one rowset stay near this size; a rowset holds at most
// maxRowset rows.
const (
	rowsetBytes = 1 << 20
	maxRowset   = 1024
	// Columns declared longer than these (or with no size) are long data,
	// read in pieces with SQLGetData.
	maxBoundChars = 4000
	maxBoundBytes = 8000
	pieceBytes    = 64 << 10
	// With longBlocks, a long column is bound with room for this many
	// bytes a value, and its rowsets stay near longRowsetBytes.
	longBoundBytes  = 64 << 10
	longRowsetBytes = 8 << 20
)

// Column is a result column as SQLDescribeCol and SQLColAttribute report
// it.
type Column struct {
	Name     string
	TypeName string // SQL_DESC_TYPE_NAME, e.g. "numeric", "int unsigned"
	SQLType  int    // SQL_INTEGER, SQL_TYPE_TIMESTAMP, ...
	Size     int64  // column size: characters, digits or bytes
	Digits   int    // decimal digits: scale or fractional-second digits
	Nullable bool
	Unsigned bool

	ctype C.SQLSMALLINT
	elem  int // bytes of one bound value
	long  bool
	buf   unsafe.Pointer
	ind   *C.SQLLEN
}

// Rows is a result set fetched in rowsets: columns are bound column-wise
// to arrays (SQL_ATTR_ROW_ARRAY_SIZE rows per SQLFetch) until the first
// long column; that column and those after it are read with SQLGetData,
// one row per fetch, as every driver allows.
type Rows struct {
	s       *statement
	cols    []Column
	names   []string
	rowset  int
	bound   int // columns [0, bound) are bound
	fetched *C.SQLULEN
	status  *C.SQLUSMALLINT
	pos, n  int
	fetches int
	done    bool
	piece   unsafe.Pointer
	scratch [][]byte
}

// newRows describes and binds the result of s; on failure it closes s.
func newRows(ctx context.Context, s *statement) (*Rows, error) {
	r, err := describeRows(s)
	if err != nil {
		s.close()
		return nil, err
	}
	return r, nil
}

func describeRows(s *statement) (*Rows, error) {
	var ncol C.SQLSMALLINT
	if err := s.check("counting result columns", C.SQLNumResultCols(s.h, &ncol)); err != nil {
		return nil, err
	}
	r := &Rows{s: s, cols: make([]Column, ncol), names: make([]string, ncol), scratch: make([][]byte, ncol)}
	if ncol == 0 {
		r.done = true
		return r, nil
	}
	for i := range r.cols {
		if err := r.describe(i); err != nil {
			return nil, err
		}
		r.names[i] = r.cols[i].Name
	}
	r.bound = len(r.cols)
	rowBytes, budget := 0, rowsetBytes
	for i := range r.cols {
		c := &r.cols[i]
		plan(c)
		if c.long && s.c.longBlocks {
			// Bound like the others; a longer value is read on its own
			// (Rows.rest).
			c.elem, budget = longBoundBytes, longRowsetBytes
			if c.ctype == C.SQL_C_WCHAR {
				c.elem += 2
			}
		} else if c.long && r.bound == len(r.cols) {
			r.bound = i
		}
		rowBytes += c.elem + C.sizeof_SQLLEN
	}
	r.rowset = 1
	if r.bound == len(r.cols) {
		r.rowset = max(1, min(maxRowset, budget/max(rowBytes, 1)))
	}
	return r, r.bind()
}

func (r *Rows) describe(i int) error {
	h := r.s.h
	name := make([]C.SQLWCHAR, 256)
	var nameLen, dataType, digits, nullable C.SQLSMALLINT
	var size C.SQLULEN
	col := C.SQLUSMALLINT(i + 1)
	if err := r.s.check("describing a column", C.SQLDescribeColW(h, col, &name[0], C.SQLSMALLINT(len(name)), &nameLen, &dataType, &size, &digits, &nullable)); err != nil {
		return err
	}
	if int(nameLen) >= len(name) {
		name = make([]C.SQLWCHAR, int(nameLen)+1)
		if err := r.s.check("describing a column", C.SQLDescribeColW(h, col, &name[0], C.SQLSMALLINT(len(name)), &nameLen, &dataType, &size, &digits, &nullable)); err != nil {
			return err
		}
	}
	c := &r.cols[i]
	c.Name = wstr(name)
	c.SQLType, c.Size, c.Digits = int(dataType), int64(size), int(digits)
	c.Nullable = nullable != C.SQL_NO_NULLS
	var unsigned C.SQLLEN
	if ok(C.SQLColAttributeW(h, col, C.SQL_DESC_UNSIGNED, nil, 0, nil, &unsigned)) {
		c.Unsigned = unsigned == C.SQL_TRUE
	}
	tn := make([]C.SQLWCHAR, 128)
	var tnLen C.SQLSMALLINT
	if ok(C.SQLColAttributeW(h, col, C.SQL_DESC_TYPE_NAME, C.SQLPOINTER(&tn[0]), C.SQLSMALLINT(len(tn)*2), &tnLen, nil)) {
		c.TypeName = wstr(tn)
	}
	return nil
}

// plan chooses the C type a column is fetched as and its bound size.
func plan(c *Column) {
	switch c.SQLType {
	case sqlBit:
		c.ctype, c.elem = C.SQL_C_BIT, 1
	case sqlTinyint, sqlSmallint, sqlInteger, sqlBigint:
		c.ctype, c.elem = C.SQL_C_SBIGINT, 8
		if c.Unsigned {
			c.ctype = C.SQL_C_UBIGINT
		}
	case sqlReal:
		c.ctype, c.elem = C.SQL_C_FLOAT, 4
	case sqlFloat, sqlDouble:
		c.ctype, c.elem = C.SQL_C_DOUBLE, 8
	case sqlDecimal, sqlNumeric:
		// As text: exact whatever the precision. The sign, point and a
		// leading zero need room beside the digits.
		c.ctype, c.elem = C.SQL_C_CHAR, max(int(c.Size), 76)+4
	case sqlTypeDate, sqlDate:
		c.ctype, c.elem = C.SQL_C_TYPE_DATE, C.sizeof_SQL_DATE_STRUCT
	case sqlTypeTimestamp, sqlTimestamp:
		c.ctype, c.elem = C.SQL_C_TYPE_TIMESTAMP, C.sizeof_SQL_TIMESTAMP_STRUCT
	case sqlGUID:
		c.ctype, c.elem = C.SQL_C_GUID, C.sizeof_SQLGUID
	case sqlBinary, sqlVarbinary:
		c.ctype, c.elem = C.SQL_C_BINARY, int(c.Size)
		c.long = c.Size <= 0 || c.Size > maxBoundBytes
	case sqlLongVarbinary:
		c.ctype, c.long = C.SQL_C_BINARY, true
	case sqlLongVarchar, sqlWLongVarchar:
		c.ctype, c.long = C.SQL_C_WCHAR, true
	default:
		// Character data and anything else, as the driver renders it:
		// UTF-16, room for a surrogate pair per character and the NUL.
		c.ctype, c.elem = C.SQL_C_WCHAR, (2*int(c.Size)+1)*2
		c.long = c.Size <= 0 || c.Size > maxBoundChars
	}
	if c.long {
		c.elem = 0
	}
}

// bind sets up the rowset and binds the columns before the first long
// one. A driver without block cursors says so by changing the array size
// (SQLSTATE 01S02); the size it keeps is read back.
func (r *Rows) bind() error {
	h := r.s.h
	r.fetched = (*C.SQLULEN)(r.s.malloc(C.sizeof_SQLULEN))
	if r.rowset > 1 {
		if err := r.s.check("binding by column", C.hp_stmt_int(h, C.SQL_ATTR_ROW_BIND_TYPE, C.SQL_BIND_BY_COLUMN)); err != nil {
			return err
		}
		if !setRowArraySize(r.s, r.rowset) {
			r.rowset = 1
		} else {
			r.rowset = max(1, int(C.hp_stmt_get_int(h, C.SQL_ATTR_ROW_ARRAY_SIZE)))
		}
	}
	r.status = (*C.SQLUSMALLINT)(r.s.malloc(C.sizeof_SQLUSMALLINT * r.rowset))
	if r.rowset > 1 {
		if err := r.s.check("setting the row status array", C.hp_stmt_ptr(h, C.SQL_ATTR_ROW_STATUS_PTR, unsafe.Pointer(r.status))); err != nil {
			return err
		}
	}
	if err := r.s.check("setting the rows-fetched pointer", C.hp_stmt_ptr(h, C.SQL_ATTR_ROWS_FETCHED_PTR, unsafe.Pointer(r.fetched))); err != nil {
		return err
	}
	for i := 0; i < r.bound; i++ {
		c := &r.cols[i]
		c.buf = r.s.malloc(c.elem * r.rowset)
		c.ind = (*C.SQLLEN)(r.s.malloc(C.sizeof_SQLLEN * r.rowset))
		if err := r.s.check(fmt.Sprintf("binding column %q", c.Name), C.SQLBindCol(h, C.SQLUSMALLINT(i+1), c.ctype, C.SQLPOINTER(c.buf), C.SQLLEN(c.elem), c.ind)); err != nil {
			return err
		}
	}
	if r.bound < len(r.cols) || r.s.c.longBlocks {
		size := pieceBytes
		for _, c := range r.cols[r.bound:] {
			size = max(size, c.elem)
		}
		r.piece = r.s.malloc(size)
	}
	return nil
}

// setRowArraySize asks for rowsets of n rows; false: the driver refused.
// Tests replace it to play a driver without block cursors.
var setRowArraySize = func(s *statement, n int) bool {
	return ok(C.hp_stmt_int(s.h, C.SQL_ATTR_ROW_ARRAY_SIZE, C.SQLULEN(n)))
}

// ColumnsInfo returns the result's columns as the driver describes them.
func (r *Rows) ColumnsInfo() []Column { return r.cols }

// RowsetSize is the number of rows one SQLFetch returns.
func (r *Rows) RowsetSize() int { return r.rowset }

// Fetches is the number of SQLFetch calls so far.
func (r *Rows) Fetches() int { return r.fetches }

// Columns implements driver.Rows.
func (r *Rows) Columns() []string { return r.names }

// Close implements driver.Rows.
func (r *Rows) Close() error {
	r.s.close()
	return nil
}

// ColumnTypeDatabaseTypeName implements driver.RowsColumnTypeDatabaseTypeName:
// see [NativeType].
func (r *Rows) ColumnTypeDatabaseTypeName(i int) string {
	c := r.cols[i]
	return NativeType(c.TypeName, c.SQLType, c.Size, c.Digits, c.Unsigned)
}

// NativeType names a column's type as the driver does, with the
// precision and scale of a decimal and the sign of an integer: drivers
// give one name to decimals with and without a precision (PostgreSQL's
// numeric), which they may report as different SQL types, and to signed
// and unsigned integers (MariaDB's result sets).
func NativeType(typeName string, sqlType int, size int64, digits int, unsigned bool) string {
	switch sqlType {
	case sqlDecimal, sqlNumeric:
		return fmt.Sprintf("%s(%d,%d)", typeName, size, digits)
	case sqlTinyint, sqlSmallint, sqlInteger, sqlBigint:
		if unsigned && !strings.Contains(strings.ToLower(typeName), "unsigned") {
			return typeName + " unsigned"
		}
	}
	return typeName
}

// ColumnTypePrecisionScale implements driver.RowsColumnTypePrecisionScale.
func (r *Rows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	c := r.cols[i]
	switch c.SQLType {
	case sqlDecimal, sqlNumeric, sqlTypeTimestamp, sqlTimestamp, sqlSSTime2, sqlSSTimestampOffset:
		return c.Size, int64(c.Digits), true
	}
	return 0, 0, false
}

// ColumnTypeNullable implements driver.RowsColumnTypeNullable.
func (r *Rows) ColumnTypeNullable(i int) (bool, bool) { return r.cols[i].Nullable, true }

// ColumnTypeScanType implements driver.RowsColumnTypeScanType.
func (r *Rows) ColumnTypeScanType(i int) reflect.Type {
	switch r.cols[i].ctype {
	case C.SQL_C_BIT:
		return reflect.TypeFor[bool]()
	case C.SQL_C_SBIGINT:
		return reflect.TypeFor[int64]()
	case C.SQL_C_UBIGINT:
		return reflect.TypeFor[uint64]()
	case C.SQL_C_FLOAT, C.SQL_C_DOUBLE:
		return reflect.TypeFor[float64]()
	case C.SQL_C_BINARY, C.SQL_C_CHAR:
		return reflect.TypeFor[[]byte]()
	case C.SQL_C_TYPE_DATE, C.SQL_C_TYPE_TIMESTAMP:
		return reflect.TypeFor[time.Time]()
	}
	return reflect.TypeFor[string]()
}

// Next implements driver.Rows. Values are int64, uint64 (unsigned
// integers), float64, bool, string (character data, GUIDs), []byte
// (binary; DECIMAL and NUMERIC as their exact text) or time.Time (UTC).
// A []byte is valid until the next call.
func (r *Rows) Next(dest []driver.Value) error {
	if r.pos >= r.n {
		if err := r.fetch(); err != nil {
			return err
		}
	}
	row := r.pos
	r.pos++
	if r.rowset > 1 {
		switch st := *(*C.SQLUSMALLINT)(unsafe.Add(unsafe.Pointer(r.status), row*C.sizeof_SQLUSMALLINT)); st {
		case C.SQL_ROW_ERROR:
			return r.s.c.fail(&Error{Op: "fetching", Code: int(C.SQL_ERROR), Records: diagRecords(C.SQL_HANDLE_STMT, C.SQLHANDLE(r.s.h))})
		}
	}
	for i := 0; i < r.bound; i++ {
		v, err := r.boundValue(i, row)
		if err != nil {
			return err
		}
		dest[i] = v
	}
	for i := r.bound; i < len(r.cols); i++ {
		v, err := r.getData(i)
		if err != nil {
			return err
		}
		dest[i] = v
	}
	return nil
}

func (r *Rows) fetch() error {
	if r.done {
		return io.EOF
	}
	// MariaDB's driver leaves a BIT's indicator as it was when the value
	// is not NULL: a NULL would stick to the buffer's later rows.
	for i := 0; i < r.bound; i++ {
		C.memset(unsafe.Pointer(r.cols[i].ind), 0, C.size_t(C.sizeof_SQLLEN*r.rowset))
	}
	if r.s.ctx != nil && r.s.ctx.Err() != nil {
		return r.s.ctx.Err()
	}
	r.fetches++
	rc := C.SQLFetch(r.s.h)
	if rc == C.SQL_NO_DATA {
		r.done = true
		return io.EOF
	}
	if err := r.s.check("fetching", rc); err != nil {
		return err
	}
	r.pos, r.n = 0, int(*r.fetched)
	if r.n == 0 {
		r.done = true
		return io.EOF
	}
	return nil
}

func (r *Rows) boundValue(i, row int) (driver.Value, error) {
	c := &r.cols[i]
	ind := *(*C.SQLLEN)(unsafe.Add(unsafe.Pointer(c.ind), row*C.sizeof_SQLLEN))
	if c.long && ind != C.SQL_NULL_DATA && (ind == C.SQL_NO_TOTAL || int(ind) > longBoundBytes) {
		return r.rest(i, row)
	}
	return r.value(i, unsafe.Add(c.buf, row*c.elem), ind, c.elem)
}

// rest reads a bound long value that did not fit its buffer: the row is
// positioned within the rowset and the value read whole with SQLGetData.
func (r *Rows) rest(i, row int) (driver.Value, error) {
	if r.rowset > 1 {
		if err := r.s.check("positioning on a row", C.SQLSetPos(r.s.h, C.SQLSETPOSIROW(row+1), C.SQL_POSITION, C.SQL_LOCK_NO_CHANGE)); err != nil {
			return nil, err
		}
	}
	return r.getData(i)
}

// value converts one fetched value of column i at p; ind is its length
// indicator and room the bytes of its buffer.
func (r *Rows) value(i int, p unsafe.Pointer, ind C.SQLLEN, room int) (driver.Value, error) {
	c := &r.cols[i]
	if ind == C.SQL_NULL_DATA {
		return nil, nil
	}
	switch c.ctype {
	case C.SQL_C_BIT:
		return *(*byte)(p) != 0, nil
	case C.SQL_C_SBIGINT:
		return *(*int64)(p), nil
	case C.SQL_C_UBIGINT:
		return *(*uint64)(p), nil
	case C.SQL_C_FLOAT:
		return float64(*(*float32)(p)), nil
	case C.SQL_C_DOUBLE:
		return *(*float64)(p), nil
	case C.SQL_C_TYPE_DATE:
		d := (*C.SQL_DATE_STRUCT)(p)
		return time.Date(int(d.year), time.Month(d.month), int(d.day), 0, 0, 0, 0, time.UTC), nil
	case C.SQL_C_TYPE_TIMESTAMP:
		t := (*C.SQL_TIMESTAMP_STRUCT)(p)
		return time.Date(int(t.year), time.Month(t.month), int(t.day), int(t.hour), int(t.minute), int(t.second), int(t.fraction), time.UTC), nil
	case C.SQL_C_GUID:
		g := (*C.SQLGUID)(p)
		d4 := unsafe.Slice((*byte)(unsafe.Pointer(&g.Data4[0])), 8)
		return fmt.Sprintf("%08x-%04x-%04x-%x-%x", uint32(g.Data1), uint16(g.Data2), uint16(g.Data3), d4[:2], d4[2:]), nil
	}
	if c.ctype == C.SQL_C_CHAR {
		room--
	} else if c.ctype == C.SQL_C_WCHAR {
		room -= 2
	}
	if ind == C.SQL_NO_TOTAL || int(ind) > room {
		return nil, fmt.Errorf("odbc: column %q: a value is longer than the %d bytes the driver's column size (%d) allows", c.Name, room, c.Size)
	}
	if c.ctype == C.SQL_C_WCHAR {
		return decodeUTF16(unsafe.Slice((*uint16)(p), int(ind)/2)), nil
	}
	r.scratch[i] = append(r.scratch[i][:0], unsafe.Slice((*byte)(p), int(ind))...)
	return r.scratch[i], nil
}

// getData reads a column of the current row with SQLGetData: fixed-size
// and short values in one call, long data in pieces, whatever its size.
func (r *Rows) getData(i int) (driver.Value, error) {
	c := &r.cols[i]
	if !c.long {
		var ind C.SQLLEN
		rc := C.SQLGetData(r.s.h, C.SQLUSMALLINT(i+1), c.ctype, C.SQLPOINTER(r.piece), C.SQLLEN(c.elem), &ind)
		if err := r.s.check(fmt.Sprintf("reading column %q", c.Name), rc); err != nil {
			return nil, err
		}
		return r.value(i, r.piece, ind, c.elem)
	}
	out := r.scratch[i][:0]
	room := pieceBytes
	if c.ctype == C.SQL_C_WCHAR {
		room -= 2
	} else if c.ctype == C.SQL_C_CHAR {
		room--
	}
	for {
		var ind C.SQLLEN
		rc := C.SQLGetData(r.s.h, C.SQLUSMALLINT(i+1), c.ctype, C.SQLPOINTER(r.piece), pieceBytes, &ind)
		if rc == C.SQL_NO_DATA {
			break
		}
		if err := r.s.check(fmt.Sprintf("reading column %q", c.Name), rc); err != nil {
			return nil, err
		}
		if ind == C.SQL_NULL_DATA {
			return nil, nil
		}
		n := room
		if ind != C.SQL_NO_TOTAL && int(ind) <= room {
			n = int(ind)
		}
		out = append(out, unsafe.Slice((*byte)(r.piece), n)...)
		if rc == C.SQL_SUCCESS {
			break
		}
	}
	r.scratch[i] = out
	if c.ctype == C.SQL_C_WCHAR {
		return decodeUTF16(unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(out))), len(out)/2)), nil
	}
	return out, nil
}
