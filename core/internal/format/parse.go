package format

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/decimal256"
	"github.com/apache/arrow-go/v18/arrow/float16"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// This file reads back the text forms text.go writes: every value of a
// type as exactly as it was written, or an error naming the text.

// column builds one column of a batch from text values.
type column struct {
	typ arrow.DataType
	// b builds the column, or its storage for an extension type (wrapped
	// by finish).
	b   array.Builder
	put func(s []byte) error
}

func newColumn(mem memory.Allocator, t arrow.DataType) (*column, error) {
	storage := t
	if e, ok := t.(arrow.ExtensionType); ok {
		storage = e.StorageType()
	}
	c := &column{typ: t, b: array.NewBuilder(mem, storage)}
	put, err := parser(t, c.b)
	if err != nil {
		c.b.Release()
		return nil, err
	}
	c.put = put
	return c, nil
}

// finish returns the values built so far and starts a new array.
func (c *column) finish() arrow.Array {
	a := c.b.NewArray()
	if e, ok := c.typ.(arrow.ExtensionType); ok {
		defer a.Release()
		return array.NewExtensionArrayWithStorage(e, a)
	}
	return a
}

func (c *column) release() { c.b.Release() }

// parser returns the function that appends the value of a text to b, a
// builder of t (of its storage for an extension type).
func parser(t arrow.DataType, b array.Builder) (func([]byte) error, error) {
	switch x := b.(type) {
	case *array.BooleanBuilder:
		return func(s []byte) error {
			switch string(s) {
			case "true":
				x.Append(true)
			case "false":
				x.Append(false)
			default:
				return fmt.Errorf("%q is not true or false", s)
			}
			return nil
		}, nil
	case *array.Int8Builder:
		return intParser(8, func(v int64) { x.Append(int8(v)) }), nil
	case *array.Int16Builder:
		return intParser(16, func(v int64) { x.Append(int16(v)) }), nil
	case *array.Int32Builder:
		return intParser(32, func(v int64) { x.Append(int32(v)) }), nil
	case *array.Int64Builder:
		return intParser(64, x.Append), nil
	case *array.Uint8Builder:
		return uintParser(8, func(v uint64) { x.Append(uint8(v)) }), nil
	case *array.Uint16Builder:
		return uintParser(16, func(v uint64) { x.Append(uint16(v)) }), nil
	case *array.Uint32Builder:
		return uintParser(32, func(v uint64) { x.Append(uint32(v)) }), nil
	case *array.Uint64Builder:
		return uintParser(64, x.Append), nil
	case *array.Float16Builder:
		return floatParser(32, func(v float64) { x.Append(float16.New(float32(v))) }), nil
	case *array.Float32Builder:
		return floatParser(32, func(v float64) { x.Append(float32(v)) }), nil
	case *array.Float64Builder:
		return floatParser(64, x.Append), nil
	case *array.Decimal128Builder:
		dt := x.Type().(*arrow.Decimal128Type)
		return func(s []byte) error {
			v, err := parseDecimal(s, dt.Precision, dt.Scale)
			if err != nil {
				return err
			}
			x.Append(decimal128.FromBigInt(v))
			return nil
		}, nil
	case *array.Decimal256Builder:
		dt := x.Type().(*arrow.Decimal256Type)
		return func(s []byte) error {
			v, err := parseDecimal(s, dt.Precision, dt.Scale)
			if err != nil {
				return err
			}
			x.Append(decimal256.FromBigInt(v))
			return nil
		}, nil
	case *array.StringBuilder:
		return func(s []byte) error { x.BinaryBuilder.Append(s); return nil }, nil
	case *array.LargeStringBuilder:
		return func(s []byte) error { x.BinaryBuilder.Append(s); return nil }, nil
	case *array.StringViewBuilder:
		return func(s []byte) error { x.Append(string(s)); return nil }, nil
	case *array.BinaryBuilder:
		return base64Parser(x.Append), nil
	case *array.BinaryViewBuilder:
		return base64Parser(x.Append), nil
	case *array.FixedSizeBinaryBuilder:
		width := x.Type().(*arrow.FixedSizeBinaryType).ByteWidth
		decode := func(s []byte) ([]byte, error) { return base64.StdEncoding.AppendDecode(nil, s) }
		if e, ok := t.(arrow.ExtensionType); ok && e.ExtensionName() == "arrow.uuid" {
			decode = parseUUID
		}
		return func(s []byte) error {
			v, err := decode(s)
			if err != nil {
				return fmt.Errorf("%q: %w", s, err)
			}
			if len(v) != width {
				return fmt.Errorf("%q holds %d bytes, not %d", s, len(v), width)
			}
			x.Append(v)
			return nil
		}, nil
	case *array.Date32Builder:
		return func(s []byte) error {
			d, err := parseDate(s)
			if err == nil {
				x.Append(arrow.Date32(d))
			}
			return err
		}, nil
	case *array.Date64Builder:
		return func(s []byte) error {
			d, err := parseDate(s)
			if err == nil {
				x.Append(arrow.Date64(d * 86400000))
			}
			return err
		}, nil
	case *array.Time32Builder:
		unit := x.Type().(*arrow.Time32Type).Unit
		return func(s []byte) error {
			v, err := parseClock(s, unit)
			if err == nil {
				x.Append(arrow.Time32(v))
			}
			return err
		}, nil
	case *array.Time64Builder:
		unit := x.Type().(*arrow.Time64Type).Unit
		return func(s []byte) error {
			v, err := parseClock(s, unit)
			if err == nil {
				x.Append(arrow.Time64(v))
			}
			return err
		}, nil
	case *array.TimestampBuilder:
		tt := x.Type().(*arrow.TimestampType)
		return func(s []byte) error {
			v, off, err := parseTimestamp(s, tt.Unit, tt.TimeZone != "")
			if err == nil && off != 0 {
				err = fmt.Errorf("%q: hp writes instants in UTC (Z)", s)
			}
			if err == nil {
				x.Append(arrow.Timestamp(v))
			}
			return err
		}, nil
	case *array.DurationBuilder:
		unit := x.Type().(*arrow.DurationType).Unit
		return func(s []byte) error {
			v, err := parseDuration(s, unit)
			if err == nil {
				x.Append(arrow.Duration(v))
			}
			return err
		}, nil
	case *array.MonthDayNanoIntervalBuilder:
		return func(s []byte) error {
			v, err := parseInterval(s)
			if err == nil {
				x.Append(v)
			}
			return err
		}, nil
	case *array.StructBuilder:
		if e, ok := t.(arrow.ExtensionType); ok && e.ExtensionName() == "arrow.timestamp_with_offset" {
			return offsetParser(x)
		}
		return jsonParser(x)
	case *array.ListBuilder, *array.LargeListBuilder, *array.FixedSizeListBuilder:
		return jsonParser(x)
	}
	return nil, fmt.Errorf("type %s cannot be read back from text", t)
}

func intParser(bits int, add func(int64)) func([]byte) error {
	return func(s []byte) error {
		v, err := strconv.ParseInt(string(s), 10, bits)
		if err != nil {
			return fmt.Errorf("%q is not an int%d", s, bits)
		}
		add(v)
		return nil
	}
}

func uintParser(bits int, add func(uint64)) func([]byte) error {
	return func(s []byte) error {
		v, err := strconv.ParseUint(string(s), 10, bits)
		if err != nil {
			return fmt.Errorf("%q is not a uint%d", s, bits)
		}
		add(v)
		return nil
	}
}

func floatParser(bits int, add func(float64)) func([]byte) error {
	return func(s []byte) error {
		v, err := strconv.ParseFloat(string(s), bits)
		if err != nil {
			return fmt.Errorf("%q is not a float%d", s, bits)
		}
		add(v)
		return nil
	}
}

func base64Parser(add func([]byte)) func([]byte) error {
	var buf []byte
	return func(s []byte) error {
		var err error
		if buf, err = base64.StdEncoding.AppendDecode(buf[:0], s); err != nil {
			return fmt.Errorf("%q is not base64: %w", s, err)
		}
		add(buf)
		return nil
	}
}

func parseUUID(s []byte) ([]byte, error) {
	h := bytes.ReplaceAll(s, []byte("-"), nil)
	if len(h) != 32 {
		return nil, errors.New("not a UUID")
	}
	return hex.AppendDecode(nil, h)
}

// parseDecimal reads [-]digits[.digits] as the unscaled integer of scale,
// refusing digits the scale cannot hold and more than precision digits.
func parseDecimal(s []byte, precision, scale int32) (*big.Int, error) {
	t := s
	neg := len(t) > 0 && (t[0] == '-' || t[0] == '+')
	if neg {
		neg = t[0] == '-'
		t = t[1:]
	}
	intPart, frac, _ := bytes.Cut(t, []byte("."))
	if len(intPart)+len(frac) == 0 || !allDigits(intPart) || !allDigits(frac) {
		return nil, fmt.Errorf("%q is not a decimal number", s)
	}
	digits := append(append([]byte(nil), intPart...), frac...)
	shift := int(scale) - len(frac)
	for shift < 0 {
		if digits[len(digits)-1] != '0' {
			return nil, fmt.Errorf("%q has more digits than scale %d holds", s, scale)
		}
		digits = digits[:len(digits)-1]
		shift++
		if len(digits) == 0 {
			digits = []byte("0")
		}
	}
	v, ok := new(big.Int).SetString(string(digits), 10)
	if !ok {
		return nil, fmt.Errorf("%q is not a decimal number", s)
	}
	if shift > 0 {
		v.Mul(v, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(shift)), nil))
	}
	if neg {
		v.Neg(v)
	}
	if limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(precision)), nil); new(big.Int).Abs(v).Cmp(limit) >= 0 {
		return nil, fmt.Errorf("%q has more than %d digits", s, precision)
	}
	return v, nil
}

func allDigits(s []byte) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// daysFromCivil is civil's inverse: days since 1970-01-01 of a proleptic
// Gregorian date.
func daysFromCivil(y int64, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	mp := int64((m + 9) % 12)
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// parseDate reads [-]Y-MM-DD (years of any width, as appendDate writes).
func parseDate(s []byte) (int64, error) {
	d, rest, err := cutDate(s)
	if err == nil && len(rest) > 0 {
		err = fmt.Errorf("%q is not a date (YYYY-MM-DD)", s)
	}
	return d, err
}

func cutDate(s []byte) (days int64, rest []byte, err error) {
	bad := fmt.Errorf("%q is not a date (YYYY-MM-DD)", s)
	t := s
	neg := len(t) > 0 && t[0] == '-'
	if neg || (len(t) > 0 && t[0] == '+') {
		t = t[1:]
	}
	i := bytes.IndexByte(t, '-')
	if i < 1 || len(t) < i+6 || t[i+3] != '-' || !allDigits(t[:i]) || !allDigits(t[i+1:i+3]) || !allDigits(t[i+4:i+6]) {
		return 0, nil, bad
	}
	y, err := strconv.ParseInt(string(t[:i]), 10, 64)
	if err != nil {
		return 0, nil, bad
	}
	if neg {
		y = -y
	}
	m := int(t[i+1]-'0')*10 + int(t[i+2]-'0')
	d := int(t[i+4]-'0')*10 + int(t[i+5]-'0')
	if m < 1 || m > 12 || d < 1 || d > 31 {
		return 0, nil, bad
	}
	return daysFromCivil(y, m, d), t[i+6:], nil
}

// cutClock reads HH:MM:SS[.fraction] (HH up to 24) in unit u, and returns
// what follows.
func cutClock(s []byte, u arrow.TimeUnit) (int64, []byte, error) {
	bad := fmt.Errorf("%q is not a time of day (HH:MM:SS[.fraction])", s)
	if len(s) < 8 || s[2] != ':' || s[5] != ':' || !allDigits(s[:2]) || !allDigits(s[3:5]) || !allDigits(s[6:8]) {
		return 0, nil, bad
	}
	h := int64(s[0]-'0')*10 + int64(s[1]-'0')
	m := int64(s[3]-'0')*10 + int64(s[4]-'0')
	sec := int64(s[6]-'0')*10 + int64(s[7]-'0')
	if h > 24 || m > 59 || sec > 60 {
		return 0, nil, bad
	}
	per, digits := unitDigits(u)
	v := (h*3600 + m*60 + sec) * per
	rest := s[8:]
	if len(rest) > 0 && rest[0] == '.' {
		n := 1
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		frac := rest[1:n]
		for len(frac) > digits && frac[len(frac)-1] == '0' {
			frac = frac[:len(frac)-1]
		}
		if n == 1 || len(frac) > digits {
			return 0, nil, fmt.Errorf("%q: the fraction has more digits than the unit (%s) holds", s, u)
		}
		var f int64
		if len(frac) > 0 {
			f, _ = strconv.ParseInt(string(frac), 10, 64)
		}
		for k := len(frac); k < digits; k++ {
			f *= 10
		}
		v += f
		rest = rest[n:]
	}
	return v, rest, nil
}

func parseClock(s []byte, u arrow.TimeUnit) (int64, error) {
	v, rest, err := cutClock(s, u)
	if err == nil && len(rest) > 0 {
		err = fmt.Errorf("%q is not a time of day (HH:MM:SS[.fraction])", s)
	}
	return v, err
}

// parseTimestamp reads <date>T<clock>, with Z (zoned) or without a zone
// (naive), or with an offset ±HH:MM when withOffset: the value is then the
// instant in UTC and offset its minutes east.
func parseTimestamp(s []byte, u arrow.TimeUnit, zoned bool) (v int64, offset int, err error) {
	days, rest, err := cutDate(s)
	if err != nil || len(rest) == 0 || rest[0] != 'T' {
		return 0, 0, fmt.Errorf("%q is not a timestamp (YYYY-MM-DDTHH:MM:SS[.fraction]%s)", s, map[bool]string{true: "Z", false: ""}[zoned])
	}
	clock, rest, err := cutClock(rest[1:], u)
	if err != nil {
		return 0, 0, fmt.Errorf("%q: %w", s, err)
	}
	per, _ := unitDigits(u)
	switch {
	case zoned && string(rest) == "Z", !zoned && len(rest) == 0:
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':' && allDigits(rest[1:3]) && allDigits(rest[4:]):
		offset = (int(rest[1]-'0')*10+int(rest[2]-'0'))*60 + int(rest[4]-'0')*10 + int(rest[5]-'0')
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return 0, 0, fmt.Errorf("%q: unexpected zone %q", s, rest)
	}
	secs := days*86400 - int64(offset)*60
	if secs < math.MaxInt64/per-1 && secs > math.MinInt64/per+1 {
		return secs*per + clock, offset, nil
	}
	// Near the unit's limits: exact arithmetic.
	x := new(big.Int).Mul(big.NewInt(secs), big.NewInt(per))
	if x.Add(x, big.NewInt(clock)); !x.IsInt64() {
		return 0, 0, fmt.Errorf("%q is out of range for unit %s", s, u)
	}
	return x.Int64(), offset, nil
}

// offsetParser reads the local time with its offset into the storage of
// arrow.timestamp_with_offset (the instant in UTC and the offset's minutes).
func offsetParser(b *array.StructBuilder) (func([]byte) error, error) {
	ts, ok1 := b.FieldBuilder(0).(*array.TimestampBuilder)
	off, ok2 := b.FieldBuilder(1).(*array.Int16Builder)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("type %s cannot be read back from text", b.Type())
	}
	unit := ts.Type().(*arrow.TimestampType).Unit
	return func(s []byte) error {
		v, minutes, err := parseTimestamp(s, unit, false)
		if err != nil {
			return err
		}
		b.Append(true)
		ts.Append(arrow.Timestamp(v))
		off.Append(int16(minutes))
		return nil
	}, nil
}

// parseDuration reads [-]PT<seconds>[.fraction]S.
func parseDuration(s []byte, u arrow.TimeUnit) (int64, error) {
	t, neg := bytes.CutPrefix(s, []byte("-"))
	t, ok1 := bytes.CutPrefix(t, []byte("PT"))
	t, ok2 := bytes.CutSuffix(t, []byte("S"))
	if !ok1 || !ok2 {
		return 0, fmt.Errorf("%q is not a duration (PT<seconds>S)", s)
	}
	v, err := parseDecimal(t, 40, int32(digitsOf(u)))
	if err != nil || !v.IsInt64() {
		return 0, fmt.Errorf("%q is not a duration in %s", s, u)
	}
	if neg {
		v.Neg(v)
	}
	if !v.IsInt64() {
		return 0, fmt.Errorf("%q is out of range", s)
	}
	return v.Int64(), nil
}

func digitsOf(u arrow.TimeUnit) int {
	_, d := unitDigits(u)
	return d
}

// parseInterval reads P<months>M<days>DT<seconds>S.
func parseInterval(s []byte) (arrow.MonthDayNanoInterval, error) {
	bad := fmt.Errorf("%q is not an interval (P<months>M<days>DT<seconds>S)", s)
	t, ok := bytes.CutPrefix(s, []byte("P"))
	months, t, ok2 := bytes.Cut(t, []byte("M"))
	days, t, ok3 := bytes.Cut(t, []byte("DT"))
	secs, ok4 := bytes.CutSuffix(t, []byte("S"))
	if !ok || !ok2 || !ok3 || !ok4 {
		return arrow.MonthDayNanoInterval{}, bad
	}
	m, err1 := strconv.ParseInt(string(months), 10, 32)
	d, err2 := strconv.ParseInt(string(days), 10, 32)
	ns, err3 := parseDecimal(secs, 40, 9)
	if err1 != nil || err2 != nil || err3 != nil || !ns.IsInt64() {
		return arrow.MonthDayNanoInterval{}, bad
	}
	return arrow.MonthDayNanoInterval{Months: int32(m), Days: int32(d), Nanoseconds: ns.Int64()}, nil
}

// jsonParser reads the JSON text of a nested value (appendJSONValue).
func jsonParser(b array.Builder) (func([]byte) error, error) {
	add, err := jsonAppender(b)
	if err != nil {
		return nil, err
	}
	return func(s []byte) error {
		dec := json.NewDecoder(bytes.NewReader(s))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("%q is not JSON: %w", s, err)
		}
		if v == nil {
			return fmt.Errorf("%q: null is written as NULL, not as JSON", s)
		}
		return add(v)
	}, nil
}

// jsonAppender returns the function that appends a decoded JSON value
// (nil for null) to b.
func jsonAppender(b array.Builder) (func(any) error, error) {
	switch x := b.(type) {
	case array.ListLikeBuilder:
		elem, err := jsonAppender(x.ValueBuilder())
		if err != nil {
			return nil, err
		}
		fixed := -1
		if fl, ok := x.Type().(*arrow.FixedSizeListType); ok {
			fixed = int(fl.Len())
		}
		return func(v any) error {
			if v == nil {
				x.AppendNull()
				return nil
			}
			arr, ok := v.([]any)
			if !ok {
				return fmt.Errorf("want a JSON array, got %T", v)
			}
			if fixed >= 0 && len(arr) != fixed {
				return fmt.Errorf("want %d elements, got %d", fixed, len(arr))
			}
			x.Append(true)
			for _, e := range arr {
				if err := elem(e); err != nil {
					return err
				}
			}
			return nil
		}, nil
	case *array.StructBuilder:
		st := x.Type().(*arrow.StructType)
		fields := make([]func(any) error, st.NumFields())
		for i := range fields {
			var err error
			if fields[i], err = jsonAppender(x.FieldBuilder(i)); err != nil {
				return nil, err
			}
		}
		return func(v any) error {
			if v == nil {
				x.AppendNull()
				return nil
			}
			obj, ok := v.(map[string]any)
			if !ok {
				return fmt.Errorf("want a JSON object, got %T", v)
			}
			x.Append(true)
			for i, f := range st.Fields() {
				if err := fields[i](obj[f.Name]); err != nil {
					return fmt.Errorf("%s: %w", f.Name, err)
				}
			}
			return nil
		}, nil
	}
	leaf, err := leafFromJSON(b)
	if err != nil {
		return nil, err
	}
	return func(v any) error {
		if v == nil {
			b.AppendNull()
			return nil
		}
		return leaf(v)
	}, nil
}

// leafFromJSON appends a JSON scalar by the text form of b's type: JSON
// strings hold the text, numbers and booleans are it.
func leafFromJSON(b array.Builder) (func(any) error, error) {
	put, err := parser(b.Type(), b)
	if err != nil {
		return nil, err
	}
	return func(v any) error {
		switch x := v.(type) {
		case string:
			return put([]byte(x))
		case json.Number:
			return put([]byte(x))
		case bool:
			return put(strconv.AppendBool(nil, x))
		}
		return fmt.Errorf("want a JSON scalar, got %T", v)
	}, nil
}
