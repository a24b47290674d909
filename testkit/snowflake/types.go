package snowflake

import (
	"encoding/hex"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// colType is a declared column type as Snowflake describes it: base is
// INFORMATION_SCHEMA.COLUMNS.DATA_TYPE (NUMBER, FLOAT, TEXT, BINARY,
// BOOLEAN, DATE, TIME, TIMESTAMP_NTZ, TIMESTAMP_LTZ, TIMESTAMP_TZ,
// VARIANT, OBJECT, ARRAY), prec and scale a NUMBER's precision and scale
// or a TIME's or TIMESTAMP's fractional digits (in scale).
type colType struct {
	base        string
	prec, scale int
	length      int
}

// typeOf reads a declared type such as NUMBER(12,2), INT, VARCHAR or
// TIMESTAMP_TZ(9), with or without NOT NULL.
func typeOf(decl string) colType {
	d := strings.TrimSpace(strings.TrimSuffix(strings.ToUpper(decl), " NOT NULL"))
	name := d
	var args []int
	if i := strings.Index(d, "("); i >= 0 && strings.HasSuffix(d, ")") {
		name = d[:i]
		for _, a := range strings.Split(d[i+1:len(d)-1], ",") {
			n, _ := strconv.Atoi(strings.TrimSpace(a))
			args = append(args, n)
		}
	}
	arg := func(i, def int) int {
		if i < len(args) {
			return args[i]
		}
		return def
	}
	switch name {
	case "NUMBER", "DECIMAL", "NUMERIC":
		return colType{base: "NUMBER", prec: arg(0, 38), scale: arg(1, 0)}
	case "INT", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "BYTEINT":
		return colType{base: "NUMBER", prec: 38}
	case "FLOAT", "FLOAT4", "FLOAT8", "DOUBLE", "REAL":
		return colType{base: "FLOAT"}
	case "VARCHAR", "STRING", "TEXT", "CHAR", "CHARACTER", "NVARCHAR", "NCHAR":
		return colType{base: "TEXT", length: arg(0, 16777216)}
	case "BINARY", "VARBINARY":
		return colType{base: "BINARY", length: arg(0, 8388608)}
	case "TIME":
		return colType{base: "TIME", scale: arg(0, 9)}
	case "DATETIME", "TIMESTAMP":
		return colType{base: "TIMESTAMP_NTZ", scale: arg(0, 9)}
	case "TIMESTAMP_NTZ", "TIMESTAMP_LTZ", "TIMESTAMP_TZ":
		return colType{base: name, scale: arg(0, 9)}
	}
	return colType{base: name}
}

// rowtype is the type name a result set's rowtype gives the driver.
func (c colType) rowtype() string {
	switch c.base {
	case "NUMBER":
		return "fixed"
	case "FLOAT":
		return "real"
	case "TEXT", "BINARY", "BOOLEAN", "DATE", "TIME", "TIMESTAMP_NTZ", "TIMESTAMP_LTZ", "TIMESTAMP_TZ", "VARIANT", "OBJECT", "ARRAY":
		return strings.ToLower(c.base)
	}
	return "text"
}

// timeLayouts are the texts the server reads as timestamps: what INSERT
// literals, CSV files and Arrow's ValueStr (Parquet) give it.
var timeLayouts = []string{
	"2006-01-02 15:04:05.999999999 -07:00", "2006-01-02 15:04:05.999999999 -0700",
	"2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999Z0700", time.RFC3339Nano,
}

var wallLayouts = []string{"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02"}

// parseTime reads a timestamp text and whether it carries an offset.
func parseTime(s string) (time.Time, bool, error) {
	s = strings.TrimSpace(s)
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true, nil
		}
	}
	for _, l := range wallLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, false, nil
		}
	}
	return time.Time{}, false, fmt.Errorf("Timestamp '%s' is not recognized", s)
}

// epoch is seconds.fraction with scale digits, as Snowflake sends
// timestamps: the whole seconds rounded down, the fraction positive.
func epoch(t time.Time, scale int) string {
	s := strconv.FormatInt(t.Unix(), 10)
	if scale > 0 {
		s += "." + fmt.Sprintf("%09d", t.Nanosecond())[:scale]
	}
	return s
}

// wire is a stored value in the text Snowflake's JSON result format uses
// for the type: decimals at the column's scale, dates as days since the
// epoch, times as seconds since midnight, timestamps as epoch seconds
// (TIMESTAMP_TZ with its offset in minutes plus 1440), binary as hex.
func wire(c colType, s string) (string, *Error) {
	bad := func(what string) *Error {
		return errorf("100040", "22007", "%s '%s' is not recognized", what, s)
	}
	switch c.base {
	case "NUMBER":
		r, ok := new(big.Rat).SetString(strings.TrimSpace(s))
		if !ok {
			return "", errorf("100038", "22018", "Numeric value '%s' is not recognized", s)
		}
		out := r.FloatString(c.scale)
		digits := strings.TrimLeft(strings.Replace(strings.TrimPrefix(out, "-"), ".", "", 1), "0")
		if len(digits) > c.prec {
			return "", errorf("100039", "22003", "Numeric value '%s' is out of range", s)
		}
		return out, nil
	case "FLOAT":
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return "", errorf("100038", "22018", "Numeric value '%s' is not recognized", s)
		}
		return strconv.FormatFloat(f, 'g', -1, 64), nil
	case "BOOLEAN":
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true", "t", "1", "yes", "y", "on":
			return "1", nil
		case "false", "f", "0", "no", "n", "off":
			return "0", nil
		}
		return "", errorf("100037", "22018", "Boolean value '%s' is not recognized", s)
	case "BINARY":
		b, err := hex.DecodeString(strings.TrimSpace(s))
		if err != nil {
			return "", errorf("100115", "22000", "The following string is not a legal hex-encoded value: '%s'", s)
		}
		return strings.ToUpper(hex.EncodeToString(b)), nil
	case "DATE":
		t, err := time.Parse("2006-01-02", strings.TrimSpace(s)[:min(10, len(strings.TrimSpace(s)))])
		if err != nil {
			return "", bad("Date")
		}
		return strconv.FormatInt(t.Unix()/86400, 10), nil
	case "TIME":
		t, err := time.Parse("15:04:05.999999999", strings.TrimSpace(s))
		if err != nil {
			return "", bad("Time")
		}
		return epoch(time.Date(1970, 1, 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC), c.scale), nil
	case "TIMESTAMP_NTZ", "TIMESTAMP_LTZ", "TIMESTAMP_TZ":
		t, hasOffset, err := parseTime(s)
		if err != nil {
			return "", bad("Timestamp")
		}
		switch {
		case c.base == "TIMESTAMP_NTZ":
			// Wall time: an offset in the text is dropped, as Snowflake does.
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
		case !hasOffset:
			t = t.UTC() // the session's zone, UTC here
		}
		out := epoch(t, c.scale)
		if c.base == "TIMESTAMP_TZ" {
			_, off := t.Zone()
			out += " " + strconv.Itoa(off/60+1440)
		}
		return out, nil
	}
	return s, nil
}

// compareTyped orders two non-NULL values of a type: numbers, dates,
// times and timestamps (as instants; NTZ as wall time) numerically,
// everything else as text. Values the type cannot read compare as text.
func compareTyped(c colType, a, b string) int {
	switch c.base {
	case "NUMBER", "FLOAT":
		ra, okA := new(big.Rat).SetString(strings.TrimSpace(a))
		rb, okB := new(big.Rat).SetString(strings.TrimSpace(b))
		if okA && okB {
			return ra.Cmp(rb)
		}
	case "BOOLEAN", "DATE", "TIME", "TIMESTAMP_NTZ", "TIMESTAMP_LTZ", "TIMESTAMP_TZ":
		wa, ea := wire(c, a)
		wb, eb := wire(c, b)
		if ea == nil && eb == nil {
			ra, okA := new(big.Rat).SetString(strings.Fields(wa)[0])
			rb, okB := new(big.Rat).SetString(strings.Fields(wb)[0])
			if okA && okB {
				return ra.Cmp(rb)
			}
		}
	}
	return strings.Compare(a, b)
}
