package oracle

import (
	"database/sql/driver"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/godror/godror"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

// Arrow types of the mapping.
var (
	timestampS   = &arrow.TimestampType{Unit: arrow.Second}
	timestampUS  = &arrow.TimestampType{Unit: arrow.Microsecond}
	timestampNS  = &arrow.TimestampType{Unit: arrow.Nanosecond}
	instantUS    = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	instantNS    = &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}
	offsetUS     = sqlsource.TimestampWithOffset(arrow.Microsecond)
	offsetNS     = sqlsource.TimestampWithOffset(arrow.Nanosecond)
	monthDayNano = arrow.FixedWidthTypes.MonthDayNanoInterval
)

// typeArgs finds "(p)" or "(p,s)" in a native type.
var typeArgs = regexp.MustCompile(`\(\s*(\*|-?\d+)\s*(?:,\s*(-?\d+)\s*)?\)`)

// fractionDigits of TIMESTAMP(p) and INTERVAL DAY TO SECOND(p): from the
// type's text, else the driver's scale, else Oracle's default 6.
func fractionDigits(m sqlsource.ColumnMeta) int64 {
	t := m.NativeType
	if i := strings.LastIndex(t, "SECOND"); i >= 0 {
		t = t[i:]
	}
	if a := typeArgs.FindStringSubmatch(t); a != nil {
		n, _ := strconv.ParseInt(a[1], 10, 64)
		return n
	}
	if m.HasPrecision && m.Scale > 0 {
		return m.Scale
	}
	return 6
}

// numberType is NUMBER(p,s)'s decimal type, or nil for a NUMBER without
// precision (any of Oracle's 38..40 digits at any exponent), which is read
// as its exact text.
func numberType(m sqlsource.ColumnMeta) (arrow.DataType, error) {
	p, s, known := m.Precision, m.Scale, m.HasPrecision && m.Precision > 0
	if a := typeArgs.FindStringSubmatch(m.NativeType); a != nil {
		if a[1] == "*" {
			p = 38
		} else {
			p, _ = strconv.ParseInt(a[1], 10, 64)
		}
		s, _ = strconv.ParseInt("0"+a[2], 10, 64)
		if strings.HasPrefix(a[2], "-") {
			s, _ = strconv.ParseInt(a[2], 10, 64)
		}
		known = true
	}
	if !known {
		return nil, nil
	}
	switch {
	case s < 0: // NUMBER(5,-2) holds integers of up to 7 digits
		p, s = p-s, 0
	case s > p: // NUMBER(3,5) holds 0.00nnn
		p = s
	}
	dt, err := sqlsource.DecimalType(p, s)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", sdk.ErrUnsupportedType, err)
	}
	return dt, nil
}

// mapType maps a column: the catalog's type (ALL_TAB_COLUMNS) for tables,
// godror's type name, precision and scale for queries.
func mapType(m sqlsource.ColumnMeta) (sqlsource.Mapping, error) {
	mp := func(t arrow.DataType, d sqlsource.Decoder) (sqlsource.Mapping, error) {
		return sqlsource.Mapping{Type: t, Decode: d}, nil
	}
	t := strings.ToUpper(strings.TrimSpace(m.NativeType))
	base := typeArgs.ReplaceAllString(t, "")
	switch {
	case base == "NUMBER" || strings.HasPrefix(t, "FLOAT("):
		if strings.HasPrefix(t, "FLOAT(") {
			// FLOAT(b) is a NUMBER of b binary digits, without a scale.
			return mp(arrow.BinaryTypes.String, decodeNumberText)
		}
		dt, err := numberType(m)
		if err != nil {
			return sqlsource.Mapping{}, err
		}
		if dt == nil {
			return mp(arrow.BinaryTypes.String, decodeNumberText)
		}
		return mp(dt, decodeNumber)
	case base == "BINARY_INTEGER" || base == "PLS_INTEGER":
		return mp(arrow.PrimitiveTypes.Int64, decodeNumber)
	case base == "BINARY_FLOAT" || base == "FLOAT":
		return mp(arrow.PrimitiveTypes.Float32, sqlsource.DecodeFloat64)
	case base == "BINARY_DOUBLE" || base == "DOUBLE":
		return mp(arrow.PrimitiveTypes.Float64, sqlsource.DecodeFloat64)
	case base == "DATE":
		return mp(timestampS, decodeWall)
	case strings.HasPrefix(base, "TIMESTAMP") && strings.HasSuffix(base, "WITH LOCAL TIME ZONE"):
		if fractionDigits(m) > 6 {
			return mp(instantNS, decodeInstant)
		}
		return mp(instantUS, decodeInstant)
	case strings.HasPrefix(base, "TIMESTAMP") && strings.HasSuffix(base, "WITH TIME ZONE"):
		if fractionDigits(m) > 6 {
			return mp(offsetNS, decodeOffset)
		}
		return mp(offsetUS, decodeOffset)
	case base == "TIMESTAMP":
		if fractionDigits(m) > 6 {
			return mp(timestampNS, decodeWall)
		}
		return mp(timestampUS, decodeWall)
	case strings.HasPrefix(base, "INTERVAL YEAR"):
		return mp(monthDayNano, decodeYearMonth)
	case strings.HasPrefix(base, "INTERVAL DAY"):
		return mp(monthDayNano, decodeDaySecond)
	case base == "CHAR" || base == "NCHAR" || base == "VARCHAR2" || base == "NVARCHAR2" || base == "VARCHAR" ||
		base == "LONG" || base == "CLOB" || base == "NCLOB" || base == "ROWID" || base == "UROWID":
		return mp(arrow.BinaryTypes.String, decodeText)
	case base == "RAW" || base == "LONG RAW" || base == "BLOB":
		return mp(arrow.BinaryTypes.Binary, decodeBytes)
	case base == "BOOLEAN":
		return mp(arrow.FixedWidthTypes.Boolean, sqlsource.DecodeBool)
	case base == "XMLTYPE" || base == "SYS.XMLTYPE":
		return sqlsource.Mapping{Type: arrow.BinaryTypes.String, Decode: decodeText, Select: xmlText}, nil
	case base == "JSON":
		return sqlsource.Mapping{Type: arrow.BinaryTypes.String, Decode: decodeText, Select: jsonText}, nil
	case base == "MDSYS.SDO_GEOMETRY" || base == "SDO_GEOMETRY":
		return sqlsource.Mapping{Type: arrow.BinaryTypes.Binary, Decode: decodeBytes, Select: spatialWKB}, nil
	}
	return sqlsource.Mapping{}, sdk.Errorf(sdk.ErrUnsupportedType,
		"Oracle type %s (an object, collection, BFILE or VECTOR) has no Arrow mapping: read the column through --query with a select-list expression of a scalar type, e.g. %s.ATTRIBUTE for an object's attribute, JSON_SERIALIZE(JSON(%s)) or TO_CHAR",
		m.NativeType, quoteIdent(m.Name), quoteIdent(m.Name))
}

// Select-list fallbacks: the server turns these types into text or WKB.
func xmlText(col string) string    { return "XMLSERIALIZE(CONTENT " + col + " AS CLOB)" }
func jsonText(col string) string   { return "JSON_SERIALIZE(" + col + " RETURNING CLOB)" }
func spatialWKB(col string) string { return "SDO_UTIL.TO_WKBGEOMETRY(" + col + ")" }

// decodeNumber appends a NUMBER as godror returns it (godror.Number, its
// exact text; int64 or uint64 for integers) to a decimal or int64 builder.
func decodeNumber(b array.Builder, v driver.Value) error {
	switch x := v.(type) {
	case godror.Number:
		return numberText(b, string(x))
	case uint64:
		return numberText(b, strconv.FormatUint(x, 10))
	case float64:
		return fmt.Errorf("NUMBER arrived as the float %v, which is not exact", x)
	}
	if _, ok := b.(*array.Int64Builder); ok {
		return sqlsource.DecodeInt64(b, v)
	}
	return sqlsource.DecodeDecimal(b, v)
}

func numberText(b array.Builder, s string) error {
	if _, ok := b.(*array.Int64Builder); ok {
		return sqlsource.TextInt64(b, []byte(s))
	}
	return sqlsource.TextDecimal(b, []byte(s))
}

// decodeNumberText keeps an unconstrained NUMBER as its exact text.
func decodeNumberText(b array.Builder, v driver.Value) error {
	sb := b.(*array.StringBuilder)
	switch x := v.(type) {
	case godror.Number:
		sb.Append(string(x))
	case string:
		sb.Append(x)
	case int64:
		sb.Append(strconv.FormatInt(x, 10))
	case uint64:
		sb.Append(strconv.FormatUint(x, 10))
	default:
		return fmt.Errorf("unexpected %T for NUMBER", v)
	}
	return nil
}

// decodeText appends character data: a string, or a LOB read to its end.
// Oracle has no empty string (” is NULL), and godror hands NULL character
// columns over as "", so "" is NULL.
func decodeText(b array.Builder, v driver.Value) error {
	sb := b.(*array.StringBuilder)
	switch x := v.(type) {
	case string:
		if x == "" {
			sb.AppendNull()
			return nil
		}
		sb.Append(x)
	case *godror.Lob:
		data, err := io.ReadAll(x)
		if err != nil {
			return fmt.Errorf("reading the LOB: %w", err)
		}
		sb.BinaryBuilder.Append(data)
	case []byte:
		sb.BinaryBuilder.Append(x)
	default:
		return fmt.Errorf("unexpected %T for text", v)
	}
	return nil
}

// decodeBytes appends RAW and BLOB values.
func decodeBytes(b array.Builder, v driver.Value) error {
	if l, ok := v.(*godror.Lob); ok {
		data, err := io.ReadAll(l)
		if err != nil {
			return fmt.Errorf("reading the LOB: %w", err)
		}
		b.(*array.BinaryBuilder).Append(data)
		return nil
	}
	return sqlsource.DecodeBinary(b, v)
}

// wall is t's wall-clock reading as a UTC time: DATE and TIMESTAMP carry
// no zone, and godror puts them in the session's.
func wall(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

func decodeWall(b array.Builder, v driver.Value) error {
	t, ok := v.(time.Time)
	if !ok {
		return fmt.Errorf("unexpected %T for a timestamp", v)
	}
	return appendTime(b, wall(t))
}

func decodeInstant(b array.Builder, v driver.Value) error {
	t, ok := v.(time.Time)
	if !ok {
		return fmt.Errorf("unexpected %T for a timestamp", v)
	}
	return appendTime(b, t.UTC())
}

func decodeOffset(b array.Builder, v driver.Value) error {
	return sqlsource.DecodeOffsetTime(b, v, appendTime)
}

// Range of timestamp[ns]: 1677-09-21 00:12:43 .. 2262-04-11 23:47:16.
var minNS, maxNS = time.Unix(0, math.MinInt64).UTC(), time.Unix(0, math.MaxInt64).UTC()

// appendTime appends t exactly: a value outside the unit's range, or with
// digits the unit does not keep, is an unsupported-type error naming it.
func appendTime(b array.Builder, t time.Time) error {
	tb := b.(*array.TimestampBuilder)
	tt := tb.Type().(*arrow.TimestampType)
	if tt.Unit == arrow.Nanosecond && (t.Before(minNS) || t.After(maxNS)) {
		return sdk.Errorf(sdk.ErrUnsupportedType,
			"value %s does not fit timestamp[ns] (%s .. %s), the type that keeps 7 to 9 fraction digits; read the column through a query as CAST(col AS TIMESTAMP(6)) (microseconds, any year) or TO_CHAR (exact text)",
			t.Format("2006-01-02T15:04:05.999999999"), minNS.Format(time.DateOnly), maxNS.Format(time.DateOnly))
	}
	if per := int(tt.Unit.Multiplier()); t.Nanosecond()%per != 0 {
		return sdk.Errorf(sdk.ErrUnsupportedType, "value %s has more fraction digits than timestamp[%s] keeps", t.Format(time.RFC3339Nano), tt.Unit)
	}
	ts, err := arrow.TimestampFromTime(t, tt.Unit)
	if err != nil {
		return sdk.Errorf(sdk.ErrUnsupportedType, "value %s: %v", t.Format(time.RFC3339Nano), err)
	}
	tb.Append(ts)
	return nil
}

// decodeYearMonth reads godror's "years-months" text of an INTERVAL YEAR
// TO MONTH (both negative for a negative interval, e.g. "-1--2").
func decodeYearMonth(b array.Builder, v driver.Value) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("unexpected %T for INTERVAL YEAR TO MONTH", v)
	}
	i := strings.IndexByte(s[min(1, len(s)):], '-') + min(1, len(s))
	y, yerr := strconv.Atoi(s[:max(i, 0)])
	m, merr := strconv.Atoi(s[min(i+1, len(s)):])
	if i < 1 || yerr != nil || merr != nil {
		return fmt.Errorf("%q is not an INTERVAL YEAR TO MONTH", s)
	}
	b.(*array.MonthDayNanoIntervalBuilder).Append(arrow.MonthDayNanoInterval{Months: int32(y*12 + m)})
	return nil
}

// decodeDaySecond appends an INTERVAL DAY TO SECOND (a time.Duration from
// godror) as days and nanoseconds.
func decodeDaySecond(b array.Builder, v driver.Value) error {
	d, ok := v.(time.Duration)
	if !ok {
		return fmt.Errorf("unexpected %T for INTERVAL DAY TO SECOND", v)
	}
	const day = 24 * time.Hour
	b.(*array.MonthDayNanoIntervalBuilder).Append(arrow.MonthDayNanoInterval{Days: int32(d / day), Nanoseconds: int64(d % day)})
	return nil
}
