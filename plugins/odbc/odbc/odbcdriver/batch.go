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
	"fmt"
	"unicode/utf16"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Parameter arrays of one execution stay near this size.
const (
	paramsetBytes = 8 << 20
	maxParamset   = 4096
)

// InsertRecord runs the INSERT q, whose parameters are rec's columns and,
// when seq >= 0, a last one numbering the rows from seq, with arrays of
// parameters bound column-wise (SQL_ATTR_PARAMSET_SIZE): one execution per
// slice of rows rather than one per row. A driver that cannot take arrays
// gets one execution per row.
func (c *Conn) InsertRecord(ctx context.Context, q string, rec arrow.RecordBatch, seq int64) error {
	n := int(rec.NumRows())
	for start := 0; start < n; {
		end := start + sliceRows(rec, start)
		if err := c.insertSlice(ctx, q, rec, seq, start, end); err != nil {
			return err
		}
		start = end
	}
	return nil
}

// sliceRows is how many rows from start fit the parameter buffers.
func sliceRows(rec arrow.RecordBatch, start int) int {
	n := int(rec.NumRows()) - start
	width := 8 * (int(rec.NumCols()) + 1)
	for _, col := range rec.Columns() {
		if w := maxWidth(col, start, min(n, maxParamset)); w > 0 {
			width += w
		}
	}
	return max(1, min(n, maxParamset, paramsetBytes/width))
}

// maxWidth is the largest bound size of the column's values in [start,
// start+n): the widest string or binary value sets the array's stride.
func maxWidth(a arrow.Array, start, n int) int {
	w := 0
	switch x := a.(type) {
	case *array.String:
		for i := start; i < start+n; i++ {
			w = max(w, 2*len(x.Value(i))+2) // UTF-16 needs at most 2 bytes per UTF-8 byte
		}
	case *array.LargeString:
		for i := start; i < start+n; i++ {
			w = max(w, 2*len(x.Value(i))+2)
		}
	case *array.Binary:
		for i := start; i < start+n; i++ {
			w = max(w, len(x.Value(i)))
		}
	case *array.LargeBinary:
		for i := start; i < start+n; i++ {
			w = max(w, len(x.Value(i)))
		}
	case *array.Decimal128, *array.Decimal256:
		w = 80
	default:
		w = 16
	}
	return max(w, 1)
}

// paramArray is one column's parameter array in C memory.
type paramArray struct {
	ctype, sqltype C.SQLSMALLINT
	size           C.SQLULEN
	digits         C.SQLSMALLINT
	elem           int
	buf            unsafe.Pointer
	ind            *C.SQLLEN
}

func (p *paramArray) setInd(i int, v C.SQLLEN) {
	*(*C.SQLLEN)(unsafe.Add(unsafe.Pointer(p.ind), i*C.sizeof_SQLLEN)) = v
}

func (p *paramArray) at(i int) unsafe.Pointer { return unsafe.Add(p.buf, i*p.elem) }

func (c *Conn) insertSlice(ctx context.Context, q string, rec arrow.RecordBatch, seq int64, start, end int) error {
	s, err := c.alloc()
	if err != nil {
		return err
	}
	defer s.close()
	n := end - start
	var params []*paramArray
	for ci, col := range rec.Columns() {
		p, err := s.fill(col, start, end)
		if err != nil {
			return fmt.Errorf("column %q: %w", rec.ColumnName(ci), err)
		}
		params = append(params, p)
	}
	if seq >= 0 {
		p := &paramArray{ctype: C.SQL_C_SBIGINT, sqltype: C.SQL_BIGINT, size: 19, elem: 8}
		p.buf, p.ind = s.malloc(8*n), (*C.SQLLEN)(s.malloc(C.sizeof_SQLLEN*n))
		for i := 0; i < n; i++ {
			*(*int64)(p.at(i)) = seq + int64(start+i)
			p.setInd(i, 8)
		}
		params = append(params, p)
	}
	s.watch(ctx)
	qw := utf16z(q)
	if err := s.check("preparing the insert", C.SQLPrepareW(s.h, &qw[0], C.SQL_NTS)); err != nil {
		return err
	}
	arrays := n > 1 && ok(C.hp_stmt_int(s.h, C.SQL_ATTR_PARAM_BIND_TYPE, C.SQL_PARAM_BIND_BY_COLUMN)) &&
		ok(C.hp_stmt_int(s.h, C.SQL_ATTR_PARAMSET_SIZE, C.SQLULEN(n))) && int(C.hp_stmt_get_int(s.h, C.SQL_ATTR_PARAMSET_SIZE)) == n
	if arrays {
		status := (*C.SQLUSMALLINT)(s.malloc(C.sizeof_SQLUSMALLINT * n))
		if err := s.check("setting the parameter status array", C.hp_stmt_ptr(s.h, C.SQL_ATTR_PARAM_STATUS_PTR, unsafe.Pointer(status))); err != nil {
			return err
		}
		if err := s.bindArrays(params, 0); err != nil {
			return err
		}
		if err := s.executePrepared(); err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			if st := *(*C.SQLUSMALLINT)(unsafe.Add(unsafe.Pointer(status), i*C.sizeof_SQLUSMALLINT)); st == C.SQL_PARAM_ERROR {
				return fmt.Errorf("odbc: inserting row %d of the batch failed: %w", start+i+1, diagError("inserting", C.SQL_HANDLE_STMT, C.SQLHANDLE(s.h), C.SQL_ERROR))
			}
		}
		return nil
	}
	C.hp_stmt_int(s.h, C.SQL_ATTR_PARAMSET_SIZE, 1)
	for i := 0; i < n; i++ {
		if err := s.bindArrays(params, i); err != nil {
			return err
		}
		if err := s.executePrepared(); err != nil {
			return err
		}
	}
	return nil
}

// executePrepared runs the prepared insert once; SQL_NO_DATA is success.
func (s *statement) executePrepared() error {
	s.c.execs++
	if rc := C.SQLExecute(s.h); rc != C.SQL_NO_DATA {
		return s.check("inserting", rc)
	}
	return nil
}

// bindArrays binds each parameter array from its row'th element.
func (s *statement) bindArrays(params []*paramArray, row int) error {
	for i, p := range params {
		rc := C.SQLBindParameter(s.h, C.SQLUSMALLINT(i+1), C.SQL_PARAM_INPUT, p.ctype, p.sqltype, p.size, p.digits,
			C.SQLPOINTER(p.at(row)), C.SQLLEN(p.elem), (*C.SQLLEN)(unsafe.Add(unsafe.Pointer(p.ind), row*C.sizeof_SQLLEN)))
		if err := s.check("binding a parameter array", rc); err != nil {
			return err
		}
	}
	return nil
}

// fill copies rows [start, end) of an Arrow column into a parameter array.
func (s *statement) fill(a arrow.Array, start, end int) (*paramArray, error) {
	n := end - start
	p := &paramArray{}
	fixed := func(ctype, sqltype C.SQLSMALLINT, size C.SQLULEN, elem int) {
		p.ctype, p.sqltype, p.size, p.elem = ctype, sqltype, size, elem
		p.buf, p.ind = s.malloc(elem*n), (*C.SQLLEN)(s.malloc(C.sizeof_SQLLEN*n))
	}
	each := func(set func(i, row int)) {
		for i := 0; i < n; i++ {
			if a.IsNull(start + i) {
				p.setInd(i, C.SQL_NULL_DATA)
				continue
			}
			p.setInd(i, C.SQLLEN(p.elem))
			set(i, start+i)
		}
	}
	switch x := a.(type) {
	case *array.Int8, *array.Int16, *array.Int32, *array.Int64, *array.Uint8, *array.Uint16, *array.Uint32:
		fixed(C.SQL_C_SBIGINT, C.SQL_BIGINT, 19, 8)
		get := intGetter(a)
		each(func(i, row int) { *(*int64)(p.at(i)) = get(row) })
	case *array.Uint64:
		fixed(C.SQL_C_CHAR, C.SQL_DECIMAL, 20, 21)
		each(func(i, row int) { p.setInd(i, s.putText(p, i, fmt.Sprint(x.Value(row)))) })
	case *array.Float32:
		fixed(C.SQL_C_DOUBLE, C.SQL_DOUBLE, 15, 8)
		each(func(i, row int) { *(*float64)(p.at(i)) = float64(x.Value(row)) })
	case *array.Float64:
		fixed(C.SQL_C_DOUBLE, C.SQL_DOUBLE, 15, 8)
		each(func(i, row int) { *(*float64)(p.at(i)) = x.Value(row) })
	case *array.Boolean:
		fixed(C.SQL_C_BIT, C.SQL_BIT, 1, 1)
		each(func(i, row int) {
			if x.Value(row) {
				*(*byte)(p.at(i)) = 1
			}
		})
	case *array.Decimal128, *array.Decimal256:
		dt := a.DataType().(arrow.DecimalType)
		fixed(C.SQL_C_CHAR, C.SQL_NUMERIC, C.SQLULEN(dt.GetPrecision()), 80)
		p.digits = C.SQLSMALLINT(dt.GetScale())
		each(func(i, row int) { p.setInd(i, s.putText(p, i, decimalText(a, row, dt.GetScale()))) })
	case *array.Date32:
		fixed(C.SQL_C_TYPE_DATE, C.SQL_TYPE_DATE, 10, C.sizeof_SQL_DATE_STRUCT)
		each(func(i, row int) {
			t := x.Value(row).ToTime()
			d := (*C.SQL_DATE_STRUCT)(p.at(i))
			d.year, d.month, d.day = C.SQLSMALLINT(t.Year()), C.SQLUSMALLINT(t.Month()), C.SQLUSMALLINT(t.Day())
		})
	case *array.Timestamp:
		unit := x.DataType().(*arrow.TimestampType).Unit
		digits := map[arrow.TimeUnit]int{arrow.Second: 0, arrow.Millisecond: 3, arrow.Microsecond: 6, arrow.Nanosecond: 9}[unit]
		fixed(C.SQL_C_TYPE_TIMESTAMP, C.SQL_TYPE_TIMESTAMP, C.SQLULEN(20+digits), C.sizeof_SQL_TIMESTAMP_STRUCT)
		p.digits = C.SQLSMALLINT(digits)
		each(func(i, row int) {
			t := x.Value(row).ToTime(unit).UTC()
			ts := (*C.SQL_TIMESTAMP_STRUCT)(p.at(i))
			ts.year, ts.month, ts.day = C.SQLSMALLINT(t.Year()), C.SQLUSMALLINT(t.Month()), C.SQLUSMALLINT(t.Day())
			ts.hour, ts.minute, ts.second = C.SQLUSMALLINT(t.Hour()), C.SQLUSMALLINT(t.Minute()), C.SQLUSMALLINT(t.Second())
			ts.fraction = C.SQLUINTEGER(t.Nanosecond())
		})
	case *array.String, *array.LargeString:
		get := func(row int) string {
			if s, ok := x.(*array.String); ok {
				return s.Value(row)
			}
			return x.(*array.LargeString).Value(row)
		}
		w := maxWidth(a, start, n)
		fixed(C.SQL_C_WCHAR, C.SQL_WVARCHAR, C.SQLULEN(max(1, w/2-1)), w)
		if w/2-1 > 4000 {
			p.sqltype = C.SQL_WLONGVARCHAR
		}
		each(func(i, row int) {
			u := utf16.Encode([]rune(get(row)))
			if len(u) > 0 {
				C.memcpy(p.at(i), unsafe.Pointer(&u[0]), C.size_t(2*len(u)))
			}
			p.setInd(i, C.SQLLEN(2*len(u)))
		})
	case *array.Binary, *array.LargeBinary:
		get := func(row int) []byte {
			if b, ok := x.(*array.Binary); ok {
				return b.Value(row)
			}
			return x.(*array.LargeBinary).Value(row)
		}
		w := maxWidth(a, start, n)
		fixed(C.SQL_C_BINARY, C.SQL_VARBINARY, C.SQLULEN(w), w)
		if w > 8000 {
			p.sqltype = C.SQL_LONGVARBINARY
		}
		each(func(i, row int) {
			b := get(row)
			if len(b) > 0 {
				C.memcpy(p.at(i), unsafe.Pointer(&b[0]), C.size_t(len(b)))
			}
			p.setInd(i, C.SQLLEN(len(b)))
		})
	default:
		return nil, fmt.Errorf("odbc: cannot bind Arrow %s", a.DataType())
	}
	return p, nil
}

// putText writes text into element i of a character array and returns
// its length.
func (s *statement) putText(p *paramArray, i int, text string) C.SQLLEN {
	b := unsafe.Slice((*byte)(p.at(i)), p.elem)
	return C.SQLLEN(copy(b, text))
}

func decimalText(a arrow.Array, row int, scale int32) string {
	if d, ok := a.(*array.Decimal128); ok {
		return d.Value(row).ToString(scale)
	}
	return a.(*array.Decimal256).Value(row).ToString(scale)
}

func intGetter(a arrow.Array) func(int) int64 {
	switch x := a.(type) {
	case *array.Int8:
		return func(i int) int64 { return int64(x.Value(i)) }
	case *array.Int16:
		return func(i int) int64 { return int64(x.Value(i)) }
	case *array.Int32:
		return func(i int) int64 { return int64(x.Value(i)) }
	case *array.Uint8:
		return func(i int) int64 { return int64(x.Value(i)) }
	case *array.Uint16:
		return func(i int) int64 { return int64(x.Value(i)) }
	case *array.Uint32:
		return func(i int) int64 { return int64(x.Value(i)) }
	}
	x := a.(*array.Int64)
	return func(i int) int64 { return x.Value(i) }
}
