package format

import (
	"encoding/base64"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/decimal256"
)

// kind says how a rendered value must be wrapped.
type kind int

const (
	// bare text never needs CSV quoting and is a JSON literal (numbers, bools).
	bare kind = iota
	// str is free text: CSV quotes it when needed, JSON escapes and quotes it.
	str
	// plain never needs CSV quoting or JSON escaping, but is a JSON string
	// (dates, timestamps, decimals, base64).
	plain
	// rawJSON is JSON text: CSV quotes it when needed, JSON embeds it.
	rawJSON
)

// renderFunc appends the text of non-NULL value i.
type renderFunc func(buf []byte, i int) []byte

// renderer chooses, once per column and batch, how its values become text.
// inJSON selects JSON spellings where they differ (NaN and infinities).
func renderer(a arrow.Array, inJSON bool) (renderFunc, kind, error) {
	switch x := a.(type) {
	case *array.Boolean:
		return func(b []byte, i int) []byte { return strconv.AppendBool(b, x.Value(i)) }, bare, nil
	case *array.Int8:
		return func(b []byte, i int) []byte { return strconv.AppendInt(b, int64(x.Value(i)), 10) }, bare, nil
	case *array.Int16:
		return func(b []byte, i int) []byte { return strconv.AppendInt(b, int64(x.Value(i)), 10) }, bare, nil
	case *array.Int32:
		return func(b []byte, i int) []byte { return strconv.AppendInt(b, int64(x.Value(i)), 10) }, bare, nil
	case *array.Int64:
		return func(b []byte, i int) []byte { return strconv.AppendInt(b, x.Value(i), 10) }, bare, nil
	case *array.Uint8:
		return func(b []byte, i int) []byte { return strconv.AppendUint(b, uint64(x.Value(i)), 10) }, bare, nil
	case *array.Uint16:
		return func(b []byte, i int) []byte { return strconv.AppendUint(b, uint64(x.Value(i)), 10) }, bare, nil
	case *array.Uint32:
		return func(b []byte, i int) []byte { return strconv.AppendUint(b, uint64(x.Value(i)), 10) }, bare, nil
	case *array.Uint64:
		return func(b []byte, i int) []byte { return strconv.AppendUint(b, x.Value(i), 10) }, bare, nil
	case *array.Float16:
		return func(b []byte, i int) []byte { return appendFloat(b, float64(x.Value(i).Float32()), 32, inJSON) }, bare, nil
	case *array.Float32:
		return func(b []byte, i int) []byte { return appendFloat(b, float64(x.Value(i)), 32, inJSON) }, bare, nil
	case *array.Float64:
		return func(b []byte, i int) []byte { return appendFloat(b, x.Value(i), 64, inJSON) }, bare, nil
	case *array.Decimal128:
		scale := x.DataType().(*arrow.Decimal128Type).Scale
		return func(b []byte, i int) []byte { return appendDecimal128(b, x.Value(i), scale) }, plain, nil
	case *array.Decimal256:
		scale := x.DataType().(*arrow.Decimal256Type).Scale
		return func(b []byte, i int) []byte { return appendDecimal256(b, x.Value(i), scale) }, plain, nil
	case *array.String:
		return func(b []byte, i int) []byte { return append(b, x.Value(i)...) }, str, nil
	case *array.LargeString:
		return func(b []byte, i int) []byte { return append(b, x.Value(i)...) }, str, nil
	case *array.StringView:
		return func(b []byte, i int) []byte { return append(b, x.Value(i)...) }, str, nil
	case *array.Binary:
		return func(b []byte, i int) []byte { return base64.StdEncoding.AppendEncode(b, x.Value(i)) }, plain, nil
	case *array.LargeBinary:
		return func(b []byte, i int) []byte { return base64.StdEncoding.AppendEncode(b, x.Value(i)) }, plain, nil
	case *array.BinaryView:
		return func(b []byte, i int) []byte { return base64.StdEncoding.AppendEncode(b, x.Value(i)) }, plain, nil
	case *array.FixedSizeBinary:
		return func(b []byte, i int) []byte { return base64.StdEncoding.AppendEncode(b, x.Value(i)) }, plain, nil
	case *array.Date32:
		return func(b []byte, i int) []byte { return appendDate(b, int64(x.Value(i))) }, plain, nil
	case *array.Date64:
		return func(b []byte, i int) []byte { return appendDate(b, floorDiv(int64(x.Value(i)), 86400000)) }, plain, nil
	case *array.Time32:
		unit := x.DataType().(*arrow.Time32Type).Unit
		return func(b []byte, i int) []byte { return appendTimeOfDay(b, int64(x.Value(i)), unit) }, plain, nil
	case *array.Time64:
		unit := x.DataType().(*arrow.Time64Type).Unit
		return func(b []byte, i int) []byte { return appendTimeOfDay(b, int64(x.Value(i)), unit) }, plain, nil
	case *array.Timestamp:
		tt := x.DataType().(*arrow.TimestampType)
		zone := tt.TimeZone != ""
		return func(b []byte, i int) []byte { return appendTimestamp(b, int64(x.Value(i)), tt.Unit, zone) }, plain, nil
	case *array.Duration:
		unit := x.DataType().(*arrow.DurationType).Unit
		return func(b []byte, i int) []byte { return appendDuration(b, int64(x.Value(i)), unit) }, plain, nil
	case *array.MonthDayNanoInterval:
		return func(b []byte, i int) []byte { return appendInterval(b, x.Value(i)) }, plain, nil
	case *array.MonthInterval:
		return func(b []byte, i int) []byte {
			return appendInterval(b, arrow.MonthDayNanoInterval{Months: int32(x.Value(i))})
		}, plain, nil
	case *array.DayTimeInterval:
		return func(b []byte, i int) []byte {
			v := x.Value(i)
			return appendInterval(b, arrow.MonthDayNanoInterval{Days: v.Days, Nanoseconds: int64(v.Milliseconds) * 1e6})
		}, plain, nil
	case *array.Dictionary:
		inner, k, err := renderer(x.Dictionary(), inJSON)
		if err != nil {
			return nil, 0, err
		}
		return func(b []byte, i int) []byte { return inner(b, x.GetValueIndex(i)) }, k, nil
	case *array.List, *array.LargeList, *array.FixedSizeList, *array.Struct, *array.Map, *array.ListView, *array.LargeListView:
		return func(b []byte, i int) []byte { return appendJSONValue(b, a, i) }, rawJSON, nil
	case array.ExtensionArray:
		if fn, ok := offsetRenderer(x); ok {
			return fn, plain, nil
		}
		if x.ExtensionType().ExtensionName() == "arrow.uuid" {
			if fsb, ok := x.Storage().(*array.FixedSizeBinary); ok {
				return func(b []byte, i int) []byte { return appendUUID(b, fsb.Value(i)) }, plain, nil
			}
		}
		return renderer(x.Storage(), inJSON)
	}
	return nil, 0, fmt.Errorf("type %s has no text form", a.DataType())
}

func appendFloat(b []byte, v float64, bits int, inJSON bool) []byte {
	switch {
	case math.IsNaN(v):
		return appendSpecial(b, "NaN", inJSON)
	case math.IsInf(v, 1):
		return appendSpecial(b, "Infinity", inJSON)
	case math.IsInf(v, -1):
		return appendSpecial(b, "-Infinity", inJSON)
	}
	if bits == 64 {
		if out, ok := appendMillis(b, v); ok {
			return out
		}
	}
	return strconv.AppendFloat(b, v, 'g', -1, bits)
}

// appendMillis writes v as strconv's shortest 'g' form does when v is the
// double nearest to a multiple of 0.001 below 10^6 in magnitude (such as
// 12.375 or 0.5): then that decimal, with at most three fraction digits,
// is the shortest text that reads back as v (any other decimal reading
// back as v lies within 10^-10 of it, so it has more digits), and 'g'
// writes it without an exponent (10^-4 <= |v| < 10^6). ok is false for
// every other value, zero included, which strconv writes.
func appendMillis(b []byte, v float64) ([]byte, bool) {
	if !(v > -1e6 && v < 1e6) {
		return b, false
	}
	m := v * 1000
	k := int64(m)
	if k == 0 || float64(k) != m || float64(k)/1000 != v {
		return b, false
	}
	if k < 0 {
		b = append(b, '-')
		k = -k
	}
	b = strconv.AppendInt(b, k/1000, 10)
	frac := k % 1000
	if frac == 0 {
		return b, true
	}
	b = append(b, '.', byte('0'+frac/100))
	if frac%100 != 0 {
		b = append(b, byte('0'+frac/10%10))
		if frac%10 != 0 {
			b = append(b, byte('0'+frac%10))
		}
	}
	return b, true
}

// appendSpecial writes NaN and infinities, which JSON has no literal for,
// as strings in JSON.
func appendSpecial(b []byte, s string, inJSON bool) []byte {
	if inJSON {
		return append(append(append(b, '"'), s...), '"')
	}
	return append(b, s...)
}

// appendScaled writes an integer's decimal digits with a decimal point
// scale digits from the right: every digit kept, no float on the way.
func appendScaled(b []byte, digits []byte, neg bool, scale int32) []byte {
	if neg {
		b = append(b, '-')
	}
	if scale <= 0 {
		b = append(b, digits...)
		for ; scale < 0; scale++ {
			if len(digits) != 1 || digits[0] != '0' {
				b = append(b, '0')
			}
		}
		return b
	}
	s := int(scale)
	if len(digits) <= s {
		b = append(b, '0', '.')
		for k := len(digits); k < s; k++ {
			b = append(b, '0')
		}
		return append(b, digits...)
	}
	b = append(b, digits[:len(digits)-s]...)
	b = append(b, '.')
	return append(b, digits[len(digits)-s:]...)
}

func appendDecimal128(b []byte, n decimal128.Num, scale int32) []byte {
	if hi := n.HighBits(); (hi == 0 && n.LowBits() <= math.MaxInt64) || (hi == -1 && n.LowBits() > math.MaxInt64) {
		return appendDecimal64(b, int64(n.LowBits()), scale)
	}
	neg := n.Sign() < 0
	if neg {
		n = n.Negate() // the magnitude; -2^127 stays itself, read unsigned below
	}
	hi, lo := uint64(n.HighBits()), n.LowBits()
	if scale < 0 || scale > 19 {
		var tmp [40]byte
		return appendScaled(b, appendUint128(tmp[:0], hi, lo), neg, scale)
	}
	// hi <= 2^63 < 10^19, so one division splits the magnitude into
	// q (< 2^64) and 19 digits, the point among the latter.
	q, r := bits.Div64(hi, lo, 1e19)
	var d [19]byte
	put19(&d, r)
	if neg {
		b = append(b, '-')
	}
	whole := d[:19-scale]
	if q > 0 {
		b = strconv.AppendUint(b, q, 10)
	} else {
		for len(whole) > 1 && whole[0] == '0' {
			whole = whole[1:]
		}
		if len(whole) == 0 {
			b = append(b, '0') // scale 19: the integer part is 0
		}
	}
	b = append(b, whole...)
	if scale > 0 {
		b = append(b, '.')
		b = append(b, d[19-scale:]...)
	}
	return b
}

// appendUint128 appends the decimal digits of the unsigned 128-bit hi:lo,
// 19 digits at a time, without allocating (big.Int did, for every value).
func appendUint128(b []byte, hi, lo uint64) []byte {
	const chunk = 1e19
	var parts [3]uint64 // 2^128 has 39 digits: at most two full chunks below the top
	k := 0
	for hi != 0 {
		var r uint64
		hi, r = hi/chunk, hi%chunk
		lo, parts[k] = bits.Div64(r, lo, chunk)
		k++
	}
	b = strconv.AppendUint(b, lo, 10)
	for k--; k >= 0; k-- {
		var digits [19]byte
		put19(&digits, parts[k])
		b = append(b, digits[:]...)
	}
	return b
}

// put19 writes v (< 10^19) as exactly 19 digits, two at a time: a
// division by 100 per pair instead of one by 10 per digit.
func put19(d *[19]byte, v uint64) {
	for i := 17; i > 0; i -= 2 {
		q := v / 100
		r := 2 * (v - q*100)
		d[i], d[i+1] = digitPairs[r], digitPairs[r+1]
		v = q
	}
	d[0] = byte('0' + v)
}

// appendDecimal64 is appendScaled for an int64 unscaled value, writing the
// digits right to left with the point in place: no intermediate copies.
func appendDecimal64(b []byte, v int64, scale int32) []byte {
	neg := v < 0
	u := uint64(v)
	if neg {
		u = -u
	}
	if scale < 0 || scale > 18 {
		var tmp [20]byte
		return appendScaled(b, strconv.AppendUint(tmp[:0], u, 10), neg, scale)
	}
	var tmp [24]byte // 19 digits, a leading 0, the point and the sign
	i := len(tmp)
	// The scale's digits, two at a time, then the point.
	k := scale
	for ; k >= 2; k -= 2 {
		q := u / 100
		r := 2 * (u - q*100)
		i -= 2
		tmp[i], tmp[i+1] = digitPairs[r], digitPairs[r+1]
		u = q
	}
	if k == 1 {
		i--
		tmp[i] = byte('0' + u%10)
		u /= 10
	}
	if scale > 0 {
		i--
		tmp[i] = '.'
	}
	// The integer part, at least one digit.
	for u >= 100 {
		q := u / 100
		r := 2 * (u - q*100)
		i -= 2
		tmp[i], tmp[i+1] = digitPairs[r], digitPairs[r+1]
		u = q
	}
	if u >= 10 {
		i -= 2
		tmp[i], tmp[i+1] = digitPairs[2*u], digitPairs[2*u+1]
	} else {
		i--
		tmp[i] = byte('0' + u)
	}
	if neg {
		i--
		tmp[i] = '-'
	}
	return append(b, tmp[i:]...)
}

func appendDecimal256(b []byte, n decimal256.Num, scale int32) []byte {
	return appendBig(b, n.BigInt(), scale)
}

func appendBig(b []byte, v *big.Int, scale int32) []byte {
	neg := v.Sign() < 0
	var tmp [80]byte
	return appendScaled(b, v.Abs(v).Append(tmp[:0], 10), neg, scale)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date
// (Howard Hinnant's algorithm): far cheaper than time.Time per value.
func civil(days int64) (y int64, m, d int) {
	z := days + 719468
	if z >= 0 && z < 1<<31 {
		return civilU(uint32(z))
	}
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		m = int(mp + 3)
	} else {
		m = int(mp - 9)
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

// civilU is civil for days+719468 in [0, 2^31) (years 0 to about
// 5.8 million) by Neri and Schneider's Euclidean affine functions:
// multiplications and shifts only.
func civilU(z uint32) (y int64, m, d int) {
	n1 := 4*uint64(z) + 3
	c := n1 / 146097
	nc := uint32(n1%146097) / 4
	p2 := 2939745 * (4*uint64(nc) + 3)
	ny := uint32(p2) / 2939745 / 4
	n3 := 2141*ny + 197913
	m, d = int(n3>>16), int(n3&0xffff/2141+1)
	y = int64(100*c + p2>>32)
	if ny >= 306 {
		y++
		m -= 12
	}
	return y, m, d
}

const digitPairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"

func pad(b []byte, v int64, width int) []byte {
	if width == 2 && v >= 0 && v < 100 {
		return append(b, digitPairs[2*v], digitPairs[2*v+1])
	}
	if width == 6 && v >= 0 && v < 1e6 {
		// Microseconds, in pairs.
		h, m, l := 2*(v/10000), 2*(v/100%100), 2*(v%100)
		return append(b, digitPairs[h], digitPairs[h+1], digitPairs[m], digitPairs[m+1], digitPairs[l], digitPairs[l+1])
	}
	return padSlow(b, v, width)
}

func padSlow(b []byte, v int64, width int) []byte {
	var tmp [20]byte
	s := strconv.AppendInt(tmp[:0], v, 10)
	for k := len(s); k < width; k++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

func appendDate(b []byte, days int64) []byte {
	y, m, d := civil(days)
	if y < 0 || y > 9999 {
		// Outside RFC 3339's range: let the time package spell it.
		return time.Unix(days*86400, 0).UTC().AppendFormat(b, "2006-01-02")
	}
	hi, lo := y/100, y%100
	return append(b, digitPairs[2*hi], digitPairs[2*hi+1], digitPairs[2*lo], digitPairs[2*lo+1], '-',
		digitPairs[2*m], digitPairs[2*m+1], '-', digitPairs[2*d], digitPairs[2*d+1])
}

func unitDigits(u arrow.TimeUnit) (perSecond int64, digits int) {
	switch u {
	case arrow.Millisecond:
		return 1e3, 3
	case arrow.Microsecond:
		return 1e6, 6
	case arrow.Nanosecond:
		return 1e9, 9
	}
	return 1, 0
}

func appendClock(b []byte, secs int64, frac int64, digits int) []byte {
	b = pad(b, secs/3600, 2)
	b = append(b, ':')
	b = pad(b, secs/60%60, 2)
	b = append(b, ':')
	b = pad(b, secs%60, 2)
	if digits > 0 {
		b = append(b, '.')
		b = pad(b, frac, digits)
	}
	return b
}

func appendTimeOfDay(b []byte, v int64, u arrow.TimeUnit) []byte {
	per, digits := unitDigits(u)
	return appendClock(b, v/per, v%per, digits)
}

// appendTimestamp writes RFC 3339 with the unit's fraction digits; instants
// (zoned types) in UTC with Z, naive timestamps without a zone.
func appendTimestamp(b []byte, v int64, u arrow.TimeUnit, zone bool) []byte {
	b = appendShifted(b, v, 0, u)
	if zone {
		b = append(b, 'Z')
	}
	return b
}

// appendShifted writes the wall time of v (in unit u) moved by shift
// seconds, without a zone. The shift applies to whole seconds, so no
// offset overflows the value.
func appendShifted(b []byte, v, shift int64, u arrow.TimeUnit) []byte {
	per, digits := unitDigits(u)
	secs := floorDiv(v, per)
	frac := v - secs*per
	secs += shift
	days := floorDiv(secs, 86400)
	b = appendDate(b, days)
	b = append(b, 'T')
	return appendClock(b, secs-days*86400, frac, digits)
}

// appendDuration writes an ISO 8601 duration in seconds: PT1.500000S.
func appendDuration(b []byte, v int64, u arrow.TimeUnit) []byte {
	per, digits := unitDigits(u)
	if v < 0 {
		b = append(b, '-')
		if v == math.MinInt64 {
			return append(b, "PT9223372036.854775808S"...)
		}
		v = -v
	}
	b = append(b, "PT"...)
	b = strconv.AppendInt(b, v/per, 10)
	if digits > 0 {
		b = append(b, '.')
		b = pad(b, v%per, digits)
	}
	return append(b, 'S')
}

// appendInterval writes P<months>M<days>DT<seconds>S (components may be
// negative, as PostgreSQL prints and parses them).
func appendInterval(b []byte, v arrow.MonthDayNanoInterval) []byte {
	b = append(b, 'P')
	b = strconv.AppendInt(b, int64(v.Months), 10)
	b = append(b, 'M')
	b = strconv.AppendInt(b, int64(v.Days), 10)
	b = append(b, "DT"...)
	return append(appendSecondsNanos(b, v.Nanoseconds), 'S')
}

func appendSecondsNanos(b []byte, ns int64) []byte {
	if ns < 0 {
		b = append(b, '-')
		ns = -ns
	}
	b = strconv.AppendInt(b, ns/1e9, 10)
	b = append(b, '.')
	return pad(b, ns%1e9, 9)
}

func appendUUID(b []byte, u []byte) []byte {
	const hexd = "0123456789abcdef"
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexd[c>>4], hexd[c&15])
	}
	return b
}

// appendJSONString writes s as a JSON string. Invalid UTF-8 bytes become
// U+FFFD, as encoding/json does. It takes bytes as well as strings so the
// encoders never convert (and allocate) per value.
func appendJSONString[T string | []byte](b []byte, s T) []byte {
	const hexd = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexd[c>>4], hexd[c&15])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendJSONValue writes any value (used for nested types) as JSON.
func appendJSONValue(b []byte, a arrow.Array, i int) []byte {
	if a.IsNull(i) {
		return append(b, "null"...)
	}
	switch x := a.(type) {
	case array.ListLike:
		start, end := x.ValueOffsets(i)
		values := x.ListValues()
		if m, ok := a.(*array.Map); ok {
			keys, items := m.Keys(), m.Items()
			b = append(b, '{')
			for k := start; k < end; k++ {
				if k > start {
					b = append(b, ',')
				}
				kb := appendJSONValue(nil, keys, int(k))
				if len(kb) == 0 || kb[0] != '"' {
					kb = appendJSONString(nil, string(kb))
				}
				b = append(b, kb...)
				b = append(b, ':')
				b = appendJSONValue(b, items, int(k))
			}
			return append(b, '}')
		}
		b = append(b, '[')
		for k := start; k < end; k++ {
			if k > start {
				b = append(b, ',')
			}
			b = appendJSONValue(b, values, int(k))
		}
		return append(b, ']')
	case *array.Struct:
		st := x.DataType().(*arrow.StructType)
		b = append(b, '{')
		for f := 0; f < x.NumField(); f++ {
			if f > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, st.Field(f).Name)
			b = append(b, ':')
			b = appendJSONValue(b, x.Field(f), i)
		}
		return append(b, '}')
	}
	fn, k, err := renderer(a, true)
	if err != nil {
		return appendJSONString(b, a.ValueStr(i))
	}
	switch k {
	case str:
		return appendJSONString(b, fn(nil, i))
	case plain:
		b = append(b, '"')
		b = fn(b, i)
		return append(b, '"')
	}
	return fn(b, i)
}
