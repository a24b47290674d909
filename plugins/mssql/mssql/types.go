package mssql

import (
	"database/sql/driver"
	"encoding/binary"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	mssqldb "github.com/microsoft/go-mssqldb"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

// Arrow types of the mapping. datetime2(n) and datetimeoffset(n) with
// n ≤ 6 use microseconds, which hold every year SQL Server does (0001 ..
// 9999); n = 7 needs nanoseconds to keep 100 ns, whose int64 holds only
// 1677-09-21 .. 2262-04-11, so values outside fail the read (see
// appendTime) rather than lose a digit.
var (
	// TimestampNS is datetime2(7)'s type: wall time, no zone, 100 ns kept.
	TimestampNS = &arrow.TimestampType{Unit: arrow.Nanosecond}
	// TimestampUS is datetime2(0..6)'s, datetime's and smalldatetime's type.
	TimestampUS = &arrow.TimestampType{Unit: arrow.Microsecond}
	// TimestampOffsetNS is datetimeoffset(7)'s type, Arrow's canonical
	// arrow.timestamp_with_offset: the instant in UTC and the offset in
	// minutes.
	TimestampOffsetNS = sqlsource.TimestampWithOffset(arrow.Nanosecond)
	// TimestampOffsetUS is datetimeoffset(0..6)'s type.
	TimestampOffsetUS = sqlsource.TimestampWithOffset(arrow.Microsecond)
	// TimeNS is time(n)'s type.
	TimeNS = arrow.FixedWidthTypes.Time64ns
)

// baseType is the lower-case type name without its length or precision.
func baseType(native string) string {
	t := strings.ToLower(strings.TrimSpace(native))
	if i := strings.IndexAny(t, "( "); i >= 0 {
		t = t[:i]
	}
	return t
}

var precScale = regexp.MustCompile(`\((\d+)\s*(?:,\s*(\d+))?\)`)

// mapType maps catalog types ("decimal(38,10)", "nvarchar(max)") and, for
// queries, go-mssqldb's type names ("DECIMAL", "NVARCHAR").
func mapType(m sqlsource.ColumnMeta) (sqlsource.Mapping, error) {
	mp := func(t arrow.DataType, d sqlsource.Decoder) (sqlsource.Mapping, error) {
		return sqlsource.Mapping{Type: t, Decode: d}, nil
	}
	switch base := baseType(m.NativeType); base {
	case "bit":
		return mp(arrow.FixedWidthTypes.Boolean, sqlsource.DecodeBool)
	case "tinyint":
		return mp(arrow.PrimitiveTypes.Uint8, sqlsource.DecodeUint64)
	case "smallint":
		return mp(arrow.PrimitiveTypes.Int16, sqlsource.DecodeInt64)
	case "int":
		return mp(arrow.PrimitiveTypes.Int32, sqlsource.DecodeInt64)
	case "bigint":
		return mp(arrow.PrimitiveTypes.Int64, sqlsource.DecodeInt64)
	case "decimal", "numeric":
		p, s := m.Precision, m.Scale
		if ps := precScale.FindStringSubmatch(m.NativeType); ps != nil {
			p, _ = strconv.ParseInt(ps[1], 10, 64)
			s, _ = strconv.ParseInt("0"+ps[2], 10, 64)
		} else if !m.HasPrecision {
			p, s = 18, 0 // SQL Server's default
		}
		dt, err := sqlsource.DecimalType(p, s)
		if err != nil {
			return sqlsource.Mapping{}, fmt.Errorf("%w: %v", sdk.ErrUnsupportedType, err)
		}
		return mp(dt, sqlsource.DecodeDecimal)
	case "money":
		return mp(&arrow.Decimal128Type{Precision: 19, Scale: 4}, sqlsource.DecodeDecimal)
	case "smallmoney":
		return mp(&arrow.Decimal128Type{Precision: 10, Scale: 4}, sqlsource.DecodeDecimal)
	case "real":
		return mp(arrow.PrimitiveTypes.Float32, sqlsource.DecodeFloat64)
	case "float":
		if ps := precScale.FindStringSubmatch(m.NativeType); ps != nil {
			if n, _ := strconv.Atoi(ps[1]); n <= 24 {
				return mp(arrow.PrimitiveTypes.Float32, sqlsource.DecodeFloat64)
			}
		}
		return mp(arrow.PrimitiveTypes.Float64, sqlsource.DecodeFloat64)
	case "char", "varchar", "nchar", "nvarchar", "text", "ntext", "xml", "sysname":
		return mp(arrow.BinaryTypes.String, sqlsource.DecodeString)
	case "binary", "varbinary", "image":
		return mp(arrow.BinaryTypes.Binary, sqlsource.DecodeBinary)
	case "timestamp", "rowversion":
		return mp(arrow.PrimitiveTypes.Uint64, decodeRowversion)
	case "uniqueidentifier":
		return mp(arrow.BinaryTypes.String, decodeGUID)
	case "date":
		return mp(arrow.FixedWidthTypes.Date32, sqlsource.DecodeDate32)
	case "time":
		return mp(TimeNS, decodeTime)
	case "datetime2":
		if fractionDigits(m) <= 6 {
			return mp(TimestampUS, decodeWallTime)
		}
		return mp(TimestampNS, decodeWallTime)
	case "datetime", "smalldatetime":
		return mp(TimestampUS, decodeWallTime)
	case "datetimeoffset":
		if fractionDigits(m) <= 6 {
			return mp(TimestampOffsetUS, decodeOffsetTime)
		}
		return mp(TimestampOffsetNS, decodeOffsetTime)
	case "geography", "geometry":
		// OGC WKB with Z and M (AsBinaryZM: SQL Server 2012+); WKB has no
		// SRID, a query can add [col].STSrid.
		return sqlsource.Mapping{Type: arrow.BinaryTypes.Binary, Decode: sqlsource.DecodeBinary, Select: spatialWKB}, nil
	case "hierarchyid":
		return sqlsource.Mapping{Type: arrow.BinaryTypes.String, Decode: sqlsource.DecodeString, Select: hierarchyText}, nil
	case "sql_variant":
		return sqlsource.Mapping{Type: arrow.BinaryTypes.String, Decode: sqlsource.DecodeString, Select: variantText}, nil
	default:
		// CLR types must implement ToString, so it is the way out for any.
		return sqlsource.Mapping{}, sdk.Errorf(sdk.ErrUnsupportedType,
			"SQL Server type %q is not supported: read the column through a query, e.g. with %s.ToString() for a CLR type", m.NativeType, QuoteIdent(m.Name))
	}
}

func spatialWKB(col string) string    { return col + ".AsBinaryZM()" }
func hierarchyText(col string) string { return col + ".ToString()" }

// variantText is the text a sql_variant column is read as: the base
// value converted to nvarchar, exactly for numbers and date/times. Style
// 126 writes date/time types in ISO 8601 (datetimeoffset with its offset)
// and leaves other types as CAST writes them (money with 4 decimals);
// float and real take style 3, the digits that round-trip (SQL Server
// 2016+), and binary style 1, 0x hex. The base type is not kept.
func variantText(col string) string {
	conv := func(style int) string { return fmt.Sprintf("CONVERT(nvarchar(max), %s, %d)", col, style) }
	return fmt.Sprintf("CASE CAST(SQL_VARIANT_PROPERTY(%s, 'BaseType') AS sysname) WHEN 'float' THEN %s WHEN 'real' THEN %s "+
		"WHEN 'binary' THEN %s WHEN 'varbinary' THEN %s ELSE %s END", col, conv(3), conv(3), conv(1), conv(1), conv(126))
}

// fractionDigits is the scale of datetime2(n) or datetimeoffset(n): from the
// catalog's type ("datetime2(3)"), else the driver's scale, else SQL
// Server's default, 7.
func fractionDigits(m sqlsource.ColumnMeta) int64 {
	if ps := precScale.FindStringSubmatch(m.NativeType); ps != nil {
		n, _ := strconv.ParseInt(ps[1], 10, 64)
		return n
	}
	if m.HasPrecision {
		return m.Scale
	}
	return 7
}

// decodeRowversion reads rowversion's 8 bytes as a big-endian counter, so
// that it orders as SQL Server orders it.
func decodeRowversion(b array.Builder, v driver.Value) error {
	raw, ok := v.([]byte)
	if !ok || len(raw) != 8 {
		return fmt.Errorf("unexpected %T (%d bytes) for rowversion", v, len(raw))
	}
	b.(*array.Uint64Builder).Append(binary.BigEndian.Uint64(raw))
	return nil
}

// decodeGUID renders uniqueidentifier's mixed-endian wire bytes in SQL
// Server's canonical form (upper case, as SQL Server prints it).
func decodeGUID(b array.Builder, v driver.Value) error {
	switch x := v.(type) {
	case []byte:
		var g mssqldb.UniqueIdentifier
		if err := g.Scan(x); err != nil {
			return err
		}
		b.(*array.StringBuilder).Append(g.String())
	case string:
		b.(*array.StringBuilder).Append(strings.ToUpper(x))
	default:
		return fmt.Errorf("unexpected %T for uniqueidentifier", v)
	}
	return nil
}

// wall returns t's wall-clock reading as a UTC time: go-mssqldb decodes
// zone-less types in the connection's time zone (UTC unless ?timezone=).
func wall(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// Range of timestamp[ns]: 1677-09-21 00:12:43 .. 2262-04-11 23:47:16.
var minNS, maxNS = time.Unix(0, math.MinInt64).UTC(), time.Unix(0, math.MaxInt64).UTC()

// appendTime appends t exactly. A value outside the unit's range is an
// unsupported-type error naming it (the reader adds row and column): a
// wrapped or clamped instant would be read as a real one.
func appendTime(b array.Builder, t time.Time) error {
	tb := b.(*array.TimestampBuilder)
	tt := tb.Type().(*arrow.TimestampType)
	if tt.Unit == arrow.Nanosecond && (t.Before(minNS) || t.After(maxNS)) {
		v := t.Format("2006-01-02T15:04:05.9999999")
		if tt.TimeZone != "" {
			v += "Z"
		}
		return sdk.Errorf(sdk.ErrUnsupportedType,
			"value %s does not fit timestamp[ns] (%s .. %s), the type that keeps 7 fraction digits; read the column through a query "+
				"as CAST(col AS datetime2(6)) (microseconds, any year) or CONVERT(varchar(34), col, 127) (exact text)",
			v, minNS.Format(time.DateOnly), maxNS.Format(time.DateOnly))
	}
	ts, err := arrow.TimestampFromTime(t, tt.Unit)
	if err != nil {
		return sdk.Errorf(sdk.ErrUnsupportedType, "value %s: %v", t.Format(time.RFC3339Nano), err)
	}
	tb.Append(ts)
	return nil
}

func decodeWallTime(b array.Builder, v driver.Value) error {
	t, ok := v.(time.Time)
	if !ok {
		return fmt.Errorf("unexpected %T for a timestamp", v)
	}
	return appendTime(b, wall(t))
}

// decodeOffsetTime appends a datetimeoffset: go-mssqldb returns it in a
// fixed zone of the row's offset, so the instant and the offset both come
// from the time.Time.
func decodeOffsetTime(b array.Builder, v driver.Value) error {
	return sqlsource.DecodeOffsetTime(b, v, appendTime)
}

func decodeTime(b array.Builder, v driver.Value) error {
	t, ok := v.(time.Time)
	if !ok {
		return fmt.Errorf("unexpected %T for time", v)
	}
	ns := int64(t.Hour())*int64(time.Hour) + int64(t.Minute())*int64(time.Minute) + int64(t.Second())*int64(time.Second) + int64(t.Nanosecond())
	b.(*array.Time64Builder).Append(arrow.Time64(ns))
	return nil
}
