package odbc

import (
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/plugins/odbc/odbc/odbcdriver"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

// ODBC SQL data types (sql.h, sqlext.h, sqlucode.h).
const (
	sqlChar, sqlNumeric, sqlDecimal, sqlInteger, sqlSmallint, sqlFloat, sqlReal, sqlDouble   = 1, 2, 3, 4, 5, 6, 7, 8
	sqlDate, sqlTime, sqlTimestamp, sqlVarchar                                               = 9, 10, 11, 12
	sqlTypeDate, sqlTypeTime, sqlTypeTimestamp                                               = 91, 92, 93
	sqlLongVarchar, sqlBinary, sqlVarbinary, sqlLongVarbinary, sqlBigint, sqlTinyint, sqlBit = -1, -2, -3, -4, -5, -6, -7
	sqlWChar, sqlWVarchar, sqlWLongVarchar, sqlGUID                                          = -8, -9, -10, -11
	// SQL Server's own (sqlncli.h).
	sqlSSTime2, sqlSSTimestampOffset = -154, -155
	// sqlSSRowversion marks SQL Server's rowversion (timestamp), binary(8)
	// to ODBC: not an ODBC type.
	sqlSSRowversion = 1 << 20
)

func isDecimal(t int) bool { return t == sqlDecimal || t == sqlNumeric }

// mapType maps a column to Arrow by the SQL type its driver reports for
// the type name.
func (t *target) mapType(m sqlsource.ColumnMeta) (sqlsource.Mapping, error) {
	v, ok := t.types.Load(m.NativeType)
	if !ok {
		return sqlsource.Mapping{}, sdk.Errorf(sdk.ErrUnsupportedType, "the driver reported no SQL type for %q", m.NativeType)
	}
	ti := v.(typeInfo)
	integer := func(signed, unsigned arrow.DataType) (sqlsource.Mapping, error) {
		if ti.unsigned {
			return sqlsource.Mapping{Type: unsigned, Decode: sqlsource.DecodeUint64}, nil
		}
		return sqlsource.Mapping{Type: signed, Decode: sqlsource.DecodeInt64}, nil
	}
	switch ti.sqlType {
	case sqlBit:
		return sqlsource.Mapping{Type: arrow.FixedWidthTypes.Boolean, Decode: sqlsource.DecodeBool}, nil
	case sqlTinyint:
		return integer(arrow.PrimitiveTypes.Int8, arrow.PrimitiveTypes.Uint8)
	case sqlSmallint:
		return integer(arrow.PrimitiveTypes.Int16, arrow.PrimitiveTypes.Uint16)
	case sqlInteger:
		return integer(arrow.PrimitiveTypes.Int32, arrow.PrimitiveTypes.Uint32)
	case sqlBigint:
		return integer(arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Uint64)
	case sqlReal:
		return sqlsource.Mapping{Type: arrow.PrimitiveTypes.Float32, Decode: sqlsource.DecodeFloat64}, nil
	case sqlFloat, sqlDouble:
		return sqlsource.Mapping{Type: arrow.PrimitiveTypes.Float64, Decode: sqlsource.DecodeFloat64}, nil
	case sqlDecimal, sqlNumeric:
		if m.HasPrecision && m.Precision > 0 && m.Precision <= 76 && m.Scale >= 0 && m.Scale <= m.Precision {
			dt, err := sqlsource.DecimalType(m.Precision, m.Scale)
			if err != nil {
				return sqlsource.Mapping{}, err
			}
			return sqlsource.Mapping{Type: dt, Decode: sqlsource.DecodeDecimal}, nil
		}
		// No usable precision (PostgreSQL's unconstrained numeric): the
		// exact text.
		return sqlsource.Mapping{Type: arrow.BinaryTypes.String, Decode: sqlsource.DecodeString}, nil
	case sqlTypeDate, sqlDate:
		return sqlsource.Mapping{Type: arrow.FixedWidthTypes.Date32, Decode: sqlsource.DecodeDate32}, nil
	case sqlTypeTimestamp, sqlTimestamp:
		unit := arrow.Microsecond
		if m.HasPrecision && m.Scale > 6 {
			unit = arrow.Nanosecond
		}
		return sqlsource.Mapping{Type: &arrow.TimestampType{Unit: unit, TimeZone: t.fl.tz(strings.ToLower(m.NativeType))}, Decode: sqlsource.DecodeTimestamp}, nil
	case sqlBinary, sqlVarbinary, sqlLongVarbinary:
		return sqlsource.Mapping{Type: arrow.BinaryTypes.Binary, Decode: sqlsource.DecodeBinary}, nil
	// SQL Server's types read as the mssql connector reads them, from the
	// driver's text (FreeTDS and Microsoft's drivers render them alike).
	case sqlSSTime2:
		return sqlsource.Mapping{Type: arrow.FixedWidthTypes.Time64ns, Decode: decodeTimeText}, nil
	case sqlSSTimestampOffset:
		unit := arrow.Microsecond
		if m.HasPrecision && m.Scale > 6 {
			unit = arrow.Nanosecond
		}
		return sqlsource.Mapping{Type: sqlsource.TimestampWithOffset(unit), Decode: decodeOffsetText}, nil
	case sqlSSRowversion:
		return sqlsource.Mapping{Type: arrow.PrimitiveTypes.Uint64, Decode: decodeRowversion}, nil
	case sqlGUID:
		if t.fl.upperGUID {
			return sqlsource.Mapping{Type: arrow.BinaryTypes.String, Decode: decodeUpper}, nil
		}
	}
	// Character data, GUIDs, times and any other type: the driver's text.
	return sqlsource.Mapping{Type: arrow.BinaryTypes.String, Decode: sqlsource.DecodeString}, nil
}

// classify gives an ODBC error its SDK kind from its SQLSTATE (and, where
// drivers use a generic state, their native codes).
func classify(err error) error {
	var e *odbcdriver.Error
	if !errors.As(err, &e) {
		return err
	}
	kind := kindOf(e)
	if kind == nil {
		return err
	}
	return fmt.Errorf("%w: %w", kind, err)
}

func kindOf(e *odbcdriver.Error) error {
	for _, r := range e.Records {
		msg := strings.ToLower(r.Message)
		switch {
		case strings.HasPrefix(r.State, "28"), r.Native == 1045, strings.Contains(msg, "password authentication failed"), strings.Contains(msg, "login failed"):
			return sdk.ErrUnauthenticated
		case r.State == "IM002", r.State == "IM003", strings.Contains(msg, "can't open lib"):
			return sdk.ErrFailedPrecondition
		case r.State == "42S02", r.State == "42P01", r.State == "42S22", r.State == "3F000", r.Native == 1049:
			return sdk.ErrNotFound
		case r.State == "42000" && (r.Native == 1142 || r.Native == 1044), r.State == "42501":
			return sdk.ErrPermissionDenied
		case r.State == "HYT00", r.State == "HYT01":
			return sdk.ErrUnavailable
		}
	}
	if e.ConnectionLost() {
		return sdk.ErrUnavailable
	}
	return nil
}

// text is a value the driver rendered as characters.
func text(v driver.Value) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case []byte:
		return string(x), nil
	}
	return "", fmt.Errorf("unexpected %T for text", v)
}

// decodeTimeText appends a time of day rendered hh:mm:ss[.fffffff].
func decodeTimeText(b array.Builder, v driver.Value) error {
	s, err := text(v)
	if err != nil {
		return err
	}
	t, err := time.Parse("15:04:05.999999999", s)
	if err != nil {
		return fmt.Errorf("%q is not a time of day", s)
	}
	b.(*array.Time64Builder).Append(arrow.Time64(t.Sub(time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC))))
	return nil
}

// decodeOffsetText appends a datetimeoffset rendered
// yyyy-mm-dd hh:mm:ss[.fffffff] +hh:mm: the instant and the offset.
func decodeOffsetText(b array.Builder, v driver.Value) error {
	s, err := text(v)
	if err != nil {
		return err
	}
	t, err := time.Parse("2006-01-02 15:04:05.999999999 -07:00", s)
	if err != nil {
		return fmt.Errorf("%q is not a datetimeoffset", s)
	}
	return sqlsource.DecodeOffsetTime(b, t, nil)
}

// decodeRowversion reads rowversion's 8 bytes as a big-endian counter, so
// that values order as on the server.
func decodeRowversion(b array.Builder, v driver.Value) error {
	raw, ok := v.([]byte)
	if !ok || len(raw) != 8 {
		return fmt.Errorf("unexpected %T for rowversion", v)
	}
	b.(*array.Uint64Builder).Append(binary.BigEndian.Uint64(raw))
	return nil
}

// decodeUpper appends a GUID in SQL Server's upper case.
func decodeUpper(b array.Builder, v driver.Value) error {
	s, err := text(v)
	if err != nil {
		return err
	}
	b.(*array.StringBuilder).Append(strings.ToUpper(s))
	return nil
}
