package sqlsource

import (
	"database/sql/driver"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/decimal256"
)

// Decoders for the value types database/sql drivers return (int64,
// float64, bool, []byte, string, time.Time). Dialects compose them.

// DecodeInt64 appends an integer to an Int64, Int32 or Int16 builder,
// refusing values that do not fit.
func DecodeInt64(b array.Builder, v driver.Value) error {
	var n int64
	switch x := v.(type) {
	case int64:
		n = x
	case float64:
		if x != float64(int64(x)) {
			return fmt.Errorf("%v is not an integer", x)
		}
		n = int64(x)
	case bool:
		if x {
			n = 1
		}
	case []byte:
		return TextInt64(b, x)
	case string:
		p, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not an integer", x)
		}
		n = p
	default:
		return fmt.Errorf("unexpected %T for an integer", v)
	}
	return appendInt(b, n)
}

// TextInt64 is DecodeInt64 of an integer's text.
func TextInt64(b array.Builder, text []byte) error {
	n, neg, ok := smallUint(text)
	if !ok {
		return DecodeInt64(b, string(text))
	}
	if neg {
		return appendInt(b, -int64(n))
	}
	return appendInt(b, int64(n))
}

// smallUint reads an optional sign and 1 to 18 digits, which cannot
// overflow, without allocating; anything else is left to strconv.
func smallUint(text []byte) (n uint64, neg, ok bool) {
	if len(text) > 0 && (text[0] == '-' || text[0] == '+') {
		neg, text = text[0] == '-', text[1:]
	}
	if len(text) == 0 || len(text) > 18 {
		return 0, false, false
	}
	for _, c := range text {
		if c < '0' || c > '9' {
			return 0, false, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, neg, true
}

func appendInt(b array.Builder, n int64) error {
	switch ib := b.(type) {
	case *array.Int64Builder:
		ib.Append(n)
	case *array.Int32Builder:
		if n != int64(int32(n)) {
			return fmt.Errorf("%d does not fit int32", n)
		}
		ib.Append(int32(n))
	case *array.Int16Builder:
		if n != int64(int16(n)) {
			return fmt.Errorf("%d does not fit int16", n)
		}
		ib.Append(int16(n))
	case *array.Int8Builder:
		if n != int64(int8(n)) {
			return fmt.Errorf("%d does not fit int8", n)
		}
		ib.Append(int8(n))
	default:
		return fmt.Errorf("integer into %T", b)
	}
	return nil
}

// DecodeUint64 appends an unsigned integer to a Uint64, Uint32, Uint16 or
// Uint8 builder.
func DecodeUint64(b array.Builder, v driver.Value) error {
	var n uint64
	switch x := v.(type) {
	case int64:
		if x < 0 {
			return fmt.Errorf("%d is negative", x)
		}
		n = uint64(x)
	case uint64:
		n = x
	case []byte:
		return TextUint64(b, x)
	case string:
		p, err := strconv.ParseUint(strings.TrimSpace(x), 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not an unsigned integer", x)
		}
		n = p
	default:
		return fmt.Errorf("unexpected %T for an unsigned integer", v)
	}
	return appendUint(b, n)
}

// TextUint64 is DecodeUint64 of an unsigned integer's text.
func TextUint64(b array.Builder, text []byte) error {
	if n, neg, ok := smallUint(text); ok && !neg {
		return appendUint(b, n)
	}
	return DecodeUint64(b, string(text))
}

func appendUint(b array.Builder, n uint64) error {
	fits := func(bits uint) error {
		if n>>bits != 0 {
			return fmt.Errorf("%d does not fit uint%d", n, bits)
		}
		return nil
	}
	switch ub := b.(type) {
	case *array.Uint64Builder:
		ub.Append(n)
	case *array.Uint32Builder:
		if err := fits(32); err != nil {
			return err
		}
		ub.Append(uint32(n))
	case *array.Uint16Builder:
		if err := fits(16); err != nil {
			return err
		}
		ub.Append(uint16(n))
	case *array.Uint8Builder:
		if err := fits(8); err != nil {
			return err
		}
		ub.Append(uint8(n))
	default:
		return fmt.Errorf("unsigned integer into %T", b)
	}
	return nil
}

// DecodeFloat64 appends to a Float64 or Float32 builder.
func DecodeFloat64(b array.Builder, v driver.Value) error {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case float32:
		f = float64(x)
	case int64:
		f = float64(x)
	case []byte:
		return DecodeFloat64(b, string(x))
	case string:
		p, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", x)
		}
		f = p
	default:
		return fmt.Errorf("unexpected %T for a float", v)
	}
	return appendFloat(b, f)
}

func appendFloat(b array.Builder, f float64) error {
	switch fb := b.(type) {
	case *array.Float64Builder:
		fb.Append(f)
	case *array.Float32Builder:
		fb.Append(float32(f))
	default:
		return fmt.Errorf("float into %T", b)
	}
	return nil
}

// BinaryInt64 is DecodeInt64 of a little-endian two's complement integer
// of 1, 2, 4 or 8 bytes, as [BinaryRows] hand them.
func BinaryInt64(b array.Builder, raw []byte) error {
	switch len(raw) {
	case 1:
		return appendInt(b, int64(int8(raw[0])))
	case 2:
		return appendInt(b, int64(int16(binary.LittleEndian.Uint16(raw))))
	case 4:
		return appendInt(b, int64(int32(binary.LittleEndian.Uint32(raw))))
	case 8:
		return appendInt(b, int64(binary.LittleEndian.Uint64(raw)))
	}
	return fmt.Errorf("%d bytes are not a binary integer", len(raw))
}

// BinaryUint64 is DecodeUint64 of a little-endian unsigned integer of 1,
// 2, 4 or 8 bytes, as [BinaryRows] hand them.
func BinaryUint64(b array.Builder, raw []byte) error {
	switch len(raw) {
	case 1:
		return appendUint(b, uint64(raw[0]))
	case 2:
		return appendUint(b, uint64(binary.LittleEndian.Uint16(raw)))
	case 4:
		return appendUint(b, uint64(binary.LittleEndian.Uint32(raw)))
	case 8:
		return appendUint(b, binary.LittleEndian.Uint64(raw))
	}
	return fmt.Errorf("%d bytes are not a binary unsigned integer", len(raw))
}

// BinaryFloat64 is DecodeFloat64 of a little-endian IEEE 754 float of 4
// or 8 bytes, as [BinaryRows] hand them.
func BinaryFloat64(b array.Builder, raw []byte) error {
	switch len(raw) {
	case 4:
		return appendFloat(b, float64(math.Float32frombits(binary.LittleEndian.Uint32(raw))))
	case 8:
		return appendFloat(b, math.Float64frombits(binary.LittleEndian.Uint64(raw)))
	}
	return fmt.Errorf("%d bytes are not a binary float", len(raw))
}

// DecodeString appends text to a StringBuilder; numbers and times are
// rendered exactly.
func DecodeString(b array.Builder, v driver.Value) error {
	sb := b.(*array.StringBuilder)
	switch x := v.(type) {
	case string:
		sb.Append(x)
	case []byte:
		sb.BinaryBuilder.Append(x)
	case int64:
		sb.Append(strconv.FormatInt(x, 10))
	case float64:
		sb.Append(strconv.FormatFloat(x, 'g', -1, 64))
	case bool:
		sb.Append(strconv.FormatBool(x))
	case time.Time:
		sb.Append(x.Format(time.RFC3339Nano))
	default:
		return fmt.Errorf("unexpected %T for text", v)
	}
	return nil
}

// TextString appends text to a StringBuilder.
func TextString(b array.Builder, text []byte) error {
	b.(*array.StringBuilder).BinaryBuilder.Append(text)
	return nil
}

// TextBinary appends bytes to a BinaryBuilder.
func TextBinary(b array.Builder, text []byte) error {
	b.(*array.BinaryBuilder).Append(text)
	return nil
}

// DecodeBinary appends to a BinaryBuilder.
func DecodeBinary(b array.Builder, v driver.Value) error {
	bb := b.(*array.BinaryBuilder)
	switch x := v.(type) {
	case []byte:
		bb.Append(x)
	case string:
		bb.AppendString(x)
	default:
		return fmt.Errorf("unexpected %T for binary", v)
	}
	return nil
}

// DecodeBool appends to a BooleanBuilder.
func DecodeBool(b array.Builder, v driver.Value) error {
	bb := b.(*array.BooleanBuilder)
	switch x := v.(type) {
	case bool:
		bb.Append(x)
	case int64:
		bb.Append(x != 0)
	case []byte:
		return DecodeBool(b, string(x))
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "1", "t", "true", "y", "yes":
			bb.Append(true)
		case "0", "f", "false", "n", "no":
			bb.Append(false)
		default:
			return fmt.Errorf("%q is not a boolean", x)
		}
	default:
		return fmt.Errorf("unexpected %T for a boolean", v)
	}
	return nil
}

// timeLayouts are the text forms of timestamps that drivers hand out.
var timeLayouts = []string{
	time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02",
}

// ParseTime reads a timestamp text; one without a zone is taken as UTC.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a timestamp", s)
}

func toTime(v driver.Value) (time.Time, error) {
	switch x := v.(type) {
	case time.Time:
		return x, nil
	case []byte:
		return ParseTime(string(x))
	case string:
		return ParseTime(x)
	case int64:
		return time.Unix(x, 0).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("unexpected %T for a time", v)
}

// DecodeTimestamp appends an instant at the builder type's unit.
func DecodeTimestamp(b array.Builder, v driver.Value) error {
	if raw, ok := v.([]byte); ok {
		return TextTimestamp(b, raw)
	}
	t, err := toTime(v)
	if err != nil {
		return err
	}
	return appendTimestamp(b, t)
}

// TextTimestamp is DecodeTimestamp of a timestamp's text.
func TextTimestamp(b array.Builder, text []byte) error {
	tb := b.(*array.TimestampBuilder)
	if us, ok := fastTimestamp(text); ok && tb.Type().(*arrow.TimestampType).Unit == arrow.Microsecond {
		tb.Append(arrow.Timestamp(us))
		return nil
	}
	t, err := ParseTime(string(text))
	if err != nil {
		return err
	}
	return appendTimestamp(b, t)
}

func appendTimestamp(b array.Builder, t time.Time) error {
	tb := b.(*array.TimestampBuilder)
	ts, err := arrow.TimestampFromTime(t, tb.Type().(*arrow.TimestampType).Unit)
	if err != nil {
		return err
	}
	tb.Append(ts)
	return nil
}

// DecodeDate32 appends a calendar date.
func DecodeDate32(b array.Builder, v driver.Value) error {
	if raw, ok := v.([]byte); ok {
		return TextDate32(b, raw)
	}
	t, err := toTime(v)
	if err != nil {
		return err
	}
	return appendDate(b, t)
}

// TextDate32 is DecodeDate32 of a date's text.
func TextDate32(b array.Builder, text []byte) error {
	if len(text) == 10 {
		if days, ok := fastDate(text); ok {
			b.(*array.Date32Builder).Append(arrow.Date32(days))
			return nil
		}
	}
	t, err := ParseTime(string(text))
	if err != nil {
		return err
	}
	return appendDate(b, t)
}

func appendDate(b array.Builder, t time.Time) error {
	y, m, d := t.Date()
	b.(*array.Date32Builder).Append(arrow.Date32FromTime(time.Date(y, m, d, 0, 0, 0, 0, time.UTC)))
	return nil
}

// maxDecimalDigits bounds the digits ParseDecimal spells out: PostgreSQL's
// numeric, the widest decimal of any database, holds 131072 before the
// point and 16383 after it.
const maxDecimalDigits = 131072 + 16383

// ParseDecimal reads decimal text exactly as an unscaled integer at the
// given scale. More fractional digits than the scale are an error unless
// they are zeros, and so is a value wider than any database's decimal
// (an exponent is not spelt out in a million zeros); nothing is rounded.
func ParseDecimal(s string, scale int32) (*big.Int, error) {
	t := strings.TrimSpace(s)
	neg := false
	switch {
	case strings.HasPrefix(t, "-"):
		neg, t = true, t[1:]
	case strings.HasPrefix(t, "+"):
		t = t[1:]
	}
	exp := 0
	if i := strings.IndexAny(t, "eE"); i >= 0 {
		e, err := strconv.Atoi(t[i+1:])
		if err != nil {
			return nil, fmt.Errorf("%q is not a decimal number", s)
		}
		exp, t = e, t[:i]
	}
	intPart, frac, _ := strings.Cut(t, ".")
	digits := intPart + frac
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return nil, fmt.Errorf("%q is not a decimal number", s)
	}
	shift := int(scale) - len(frac) + exp
	if shift < 0 {
		cut := len(digits) + shift
		if cut < 0 {
			cut = 0
		}
		if strings.Trim(digits[cut:], "0") != "" {
			return nil, fmt.Errorf("%q has more than %d decimal places", s, scale)
		}
		digits = digits[:cut]
		shift = 0
	}
	if sig := strings.TrimLeft(digits, "0"); sig == "" {
		digits, shift = "0", 0
	} else if len(sig)+shift > maxDecimalDigits {
		return nil, fmt.Errorf("%q has more than %d digits", s, maxDecimalDigits)
	}
	v, ok := new(big.Int).SetString(digits+strings.Repeat("0", shift), 10)
	if !ok {
		v = new(big.Int)
	}
	if neg {
		v.Neg(v)
	}
	return v, nil
}

func decimalText(v driver.Value) (string, error) {
	switch x := v.(type) {
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		// The driver already made it a float; its shortest exact text is
		// the best that is left (documented as a limit).
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	}
	return "", fmt.Errorf("unexpected %T for a decimal", v)
}

// DecodeDecimal appends to a Decimal128Builder or Decimal256Builder.
func DecodeDecimal(b array.Builder, v driver.Value) error {
	switch x := v.(type) {
	case []byte:
		return TextDecimal(b, x)
	case string:
		return TextDecimal(b, []byte(x))
	}
	text, err := decimalText(v)
	if err != nil {
		return err
	}
	return appendDecimal(b, text)
}

// TextDecimal is DecodeDecimal of a decimal's text.
func TextDecimal(b array.Builder, text []byte) error {
	// Values of up to 38 digits that fit the column take the fast path;
	// the exact path reads the rest and words the errors.
	switch db := b.(type) {
	case *array.Decimal128Builder:
		dt := db.Type().(*arrow.Decimal128Type)
		if n, digits, ok := fastDecimal(text, dt.Scale); ok && digits <= int(dt.Precision) {
			db.Append(n)
			return nil
		}
	case *array.Decimal256Builder:
		dt := db.Type().(*arrow.Decimal256Type)
		if n, digits, ok := fastDecimal(text, dt.Scale); ok && digits <= int(dt.Precision) {
			db.Append(decimal256.FromDecimal128(n))
			return nil
		}
	}
	return appendDecimal(b, string(text))
}

func appendDecimal(b array.Builder, text string) error {
	dt, ok := b.Type().(arrow.DecimalType)
	if !ok {
		return fmt.Errorf("decimal into %T", b)
	}
	n, err := ParseDecimal(text, dt.GetScale())
	if err != nil {
		return err
	}
	// FromBigInt panics on a value wider than the type's bits; such a
	// value fits no precision of the type either.
	fits := n.BitLen() < int(dt.BitWidth())
	switch db := b.(type) {
	case *array.Decimal128Builder:
		if fits {
			num := decimal128.FromBigInt(n)
			if fits = num.FitsInPrecision(dt.GetPrecision()); fits {
				db.Append(num)
			}
		}
	case *array.Decimal256Builder:
		if fits {
			num := decimal256.FromBigInt(n)
			if fits = num.FitsInPrecision(dt.GetPrecision()); fits {
				db.Append(num)
			}
		}
	default:
		return fmt.Errorf("decimal into %T", b)
	}
	if !fits {
		return fmt.Errorf("%s does not fit decimal(%d,%d)", text, dt.GetPrecision(), dt.GetScale())
	}
	return nil
}

// DecimalType is decimal128 up to 38 digits, decimal256 up to 76.
func DecimalType(precision, scale int64) (arrow.DataType, error) {
	switch {
	case precision <= 0 || scale < 0 || scale > precision:
		return nil, fmt.Errorf("decimal(%d,%d) is not a valid decimal type", precision, scale)
	case precision <= 38:
		return &arrow.Decimal128Type{Precision: int32(precision), Scale: int32(scale)}, nil
	case precision <= 76:
		return &arrow.Decimal256Type{Precision: int32(precision), Scale: int32(scale)}, nil
	}
	return nil, fmt.Errorf("decimal(%d,%d) has more digits than Arrow holds", precision, scale)
}
