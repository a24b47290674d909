package postgres

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// copySource is the binary COPY stream of a record reader: the header,
// then rows encoded a few hundred kilobytes at a time, then the trailer.
type copySource struct {
	records array.RecordReader
	schema  *arrow.Schema
	makers  []makeEncoder
	ordinal bool

	// mu keeps close from returning while pgconn's goroutine is in Read.
	mu       sync.Mutex
	closed   bool
	buf      []byte
	off      int
	started  bool
	finished bool
	rec      arrow.RecordBatch
	encoders []fieldEncoder
	row      int   // next row of rec
	rows     int64 // rows encoded so far
	err      error
}

const copyChunk = 256 << 10

var errCopyClosed = errors.New("COPY source closed")

func (s *copySource) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}

func (s *copySource) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, errCopyClosed
	}
	if s.err != nil {
		return 0, s.err
	}
	for s.off == len(s.buf) {
		if s.finished {
			return 0, io.EOF
		}
		s.buf, s.off = s.buf[:0], 0
		if err := s.fill(); err != nil {
			s.err = err
			return 0, err
		}
	}
	n := copy(p, s.buf[s.off:])
	s.off += n
	return n, nil
}

// fill encodes the next rows into buf.
func (s *copySource) fill() error {
	if !s.started {
		s.started = true
		s.buf = append(s.buf, copySignature...)
		s.buf = append(s.buf, 0, 0, 0, 0, 0, 0, 0, 0) // flags, header extension length
	}
	fields := len(s.makers)
	if s.ordinal {
		fields++
	}
	for len(s.buf) < copyChunk {
		if s.rec == nil || s.row == int(s.rec.NumRows()) {
			if !s.records.Next() {
				if err := s.records.Err(); err != nil {
					return fmt.Errorf("the incoming stream failed after %d rows, nothing was written: %w", s.rows, err)
				}
				s.buf = append(s.buf, 0xff, 0xff)
				s.finished = true
				return nil
			}
			s.rec, s.row = s.records.RecordBatch(), 0
			if s.rec.NumCols() != int64(len(s.makers)) {
				return sdk.InvalidArgumentf("the incoming stream changed to %d columns", s.rec.NumCols())
			}
			for i, f := range s.schema.Fields() {
				if !arrow.TypeEqual(s.rec.Column(i).DataType(), f.Type) {
					return sdk.InvalidArgumentf("the incoming stream changed column %q to %s", f.Name, s.rec.Column(i).DataType())
				}
			}
			s.encoders = s.encoders[:0]
			for i, mk := range s.makers {
				s.encoders = append(s.encoders, mk(s.rec.Column(i)))
			}
			continue
		}
		s.buf = appendInt16(s.buf, int16(fields))
		var err error
		for i, enc := range s.encoders {
			if s.buf, err = enc(s.buf, s.row); err != nil {
				return fmt.Errorf("row %d, column %q: %w", s.rows+1, s.schema.Field(i).Name, err)
			}
		}
		if s.ordinal {
			s.buf = appendInt64(appendInt32(s.buf, 8), s.rows)
		}
		s.row++
		s.rows++
	}
	return nil
}

// pgType is a target column's type as the catalog names it, domains
// resolved to their base type.
type pgType struct {
	name   string // pg_type.typname: int4, varchar, numeric, _int4, ...
	kind   string // pg_type.typtype: b (base), e (enum), ...
	typmod int32
	oid    uint32  // for array elements: the OID an array's header names
	elem   *pgType // for arrays: the element type
}

// fieldEncoder appends row i of an array as one binary COPY field: its
// length, then PostgreSQL's binary form of the value (-1 for NULL).
type fieldEncoder func(b []byte, i int) ([]byte, error)

// makeEncoder binds an encoder to one batch's column.
type makeEncoder func(a arrow.Array) fieldEncoder

// encoderFor returns the encoder of an Arrow type into a column type, or
// nil when there is none. Binary COPY takes each column in its own type's
// exact binary form, so encoders follow the target, not the Arrow type
// (an int32 stream into a bigint column is sent as int8), and a value the
// target cannot hold exactly fails with an error rather than being
// rounded or wrapped.
func encoderFor(dt arrow.DataType, t pgType) (makeEncoder, error) {
	if t.elem != nil {
		lt, ok := dt.(*arrow.ListType)
		if !ok {
			return nil, nil
		}
		elem, err := encoderFor(lt.Elem(), *t.elem)
		if elem == nil || err != nil {
			return nil, err
		}
		return listEncoder(elem, t.elem.oid), nil
	}
	switch dt.ID() {
	case arrow.INT8:
		return intEncoder[int8](t), nil
	case arrow.INT16:
		return intEncoder[int16](t), nil
	case arrow.INT32:
		return intEncoder[int32](t), nil
	case arrow.INT64:
		return intEncoder[int64](t), nil
	case arrow.UINT8:
		return intEncoder[uint8](t), nil
	case arrow.UINT16:
		return intEncoder[uint16](t), nil
	case arrow.UINT32:
		return intEncoder[uint32](t), nil
	case arrow.UINT64:
		return intEncoder[uint64](t), nil
	case arrow.FLOAT32:
		return floatEncoder[float32](t), nil
	case arrow.FLOAT64:
		return floatEncoder[float64](t), nil
	case arrow.BOOL:
		if t.name != "bool" {
			return nil, nil
		}
		return func(a arrow.Array) fieldEncoder {
			x := a.(*array.Boolean)
			return func(b []byte, i int) ([]byte, error) {
				if x.IsNull(i) {
					return appendNull(b), nil
				}
				v := byte(0)
				if x.Value(i) {
					v = 1
				}
				return append(appendInt32(b, 1), v), nil
			}
		}, nil
	case arrow.STRING, arrow.LARGE_STRING:
		return stringEncoder(t), nil
	case arrow.BINARY, arrow.LARGE_BINARY, arrow.FIXED_SIZE_BINARY:
		return binaryEncoder(dt, t), nil
	case arrow.DECIMAL128, arrow.DECIMAL256:
		if t.name != "numeric" {
			return nil, nil
		}
		return decimalEncoder(dt, t.typmod), nil
	case arrow.DATE32, arrow.DATE64:
		if t.name != "date" {
			return nil, nil
		}
		return dateEncoder(dt), nil
	case arrow.TIMESTAMP:
		if t.name != "timestamp" && t.name != "timestamptz" {
			return nil, nil
		}
		return micros[arrow.Timestamp](t.typmod, dt.(*arrow.TimestampType).Unit, pgEpochMicros), nil
	case arrow.TIME32, arrow.TIME64:
		if t.name != "time" {
			return nil, nil
		}
		if tt, ok := dt.(*arrow.Time32Type); ok {
			return micros[arrow.Time32](t.typmod, tt.Unit, 0), nil
		}
		return micros[arrow.Time64](t.typmod, dt.(*arrow.Time64Type).Unit, 0), nil
	case arrow.INTERVAL_MONTH_DAY_NANO:
		if t.name != "interval" {
			return nil, nil
		}
		if t.typmod != -1 {
			// interval_recv applies the fields and precision, dropping
			// what they exclude.
			return nil, sdk.Errorf(sdk.ErrUnsupportedType, "an interval column declared with fields or a precision would cut values; declare it interval")
		}
		return func(a arrow.Array) fieldEncoder {
			x := a.(*array.MonthDayNanoInterval)
			return func(b []byte, i int) ([]byte, error) {
				if x.IsNull(i) {
					return appendNull(b), nil
				}
				v := x.Value(i)
				if v.Nanoseconds%1000 != 0 {
					return b, sdk.InvalidArgumentf("interval %dns has nanoseconds, and PostgreSQL holds microseconds", v.Nanoseconds)
				}
				b = appendInt64(appendInt32(b, 16), v.Nanoseconds/1000)
				return appendInt32(appendInt32(b, v.Days), v.Months), nil
			}
		}, nil
	}
	return nil, nil
}

// textEncoder sends text, or a list of text as text[], for the server to
// cast into a column type that has no encoder here (inet, interval, ...).
func textEncoder(dt arrow.DataType, t pgType) makeEncoder {
	text := pgType{name: "text", oid: 25}
	if lt, ok := dt.(*arrow.ListType); ok && t.elem != nil {
		if id := lt.Elem().ID(); id == arrow.STRING || id == arrow.LARGE_STRING {
			return listEncoder(stringEncoder(text), text.oid)
		}
		return nil
	}
	if id := dt.ID(); t.elem == nil && (id == arrow.STRING || id == arrow.LARGE_STRING) {
		return stringEncoder(text)
	}
	return nil
}

func appendNull(b []byte) []byte { return append(b, 0xff, 0xff, 0xff, 0xff) }

func appendInt16(b []byte, v int16) []byte { return binary.BigEndian.AppendUint16(b, uint16(v)) }

func appendInt32(b []byte, v int32) []byte { return binary.BigEndian.AppendUint32(b, uint32(v)) }

func appendInt64(b []byte, v int64) []byte { return binary.BigEndian.AppendUint64(b, uint64(v)) }

type integer interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

// valuesOf is the values buffer of a numeric Arrow array (array.Int8
// through array.Float64), taken once per batch.
func valuesOf[T integer | float32 | float64](a arrow.Array) []T {
	return a.(interface{ Values() []T }).Values()
}

func intEncoder[T integer](t pgType) makeEncoder {
	var size int32
	var lo, hi int64
	switch t.name {
	case "int2":
		size, lo, hi = 2, math.MinInt16, math.MaxInt16
	case "int4":
		size, lo, hi = 4, math.MinInt32, math.MaxInt32
	case "int8":
		size, lo, hi = 8, math.MinInt64, math.MaxInt64
	case "numeric":
		return func(a arrow.Array) fieldEncoder {
			vs := valuesOf[T](a)
			return func(b []byte, i int) ([]byte, error) {
				if a.IsNull(i) {
					return appendNull(b), nil
				}
				v := vs[i]
				u := uint64(v)
				if v < 0 {
					u = -u
				}
				var digits [20]byte
				return appendNumeric(b, strconv.AppendUint(digits[:0], u, 10), v < 0, 0, t.typmod)
			}
		}
	default:
		return nil
	}
	return func(a arrow.Array) fieldEncoder {
		vs := valuesOf[T](a)
		return func(b []byte, i int) ([]byte, error) {
			if a.IsNull(i) {
				return appendNull(b), nil
			}
			v := vs[i]
			if v < 0 && int64(v) < lo || v >= 0 && uint64(v) > uint64(hi) {
				return b, sdk.InvalidArgumentf("%d is out of range for %s", v, t.name)
			}
			b = appendInt32(b, size)
			switch size {
			case 2:
				return appendInt16(b, int16(v)), nil
			case 4:
				return appendInt32(b, int32(v)), nil
			}
			return appendInt64(b, int64(v)), nil
		}
	}
}

func floatEncoder[T float32 | float64](t pgType) makeEncoder {
	if t.name != "float4" && t.name != "float8" {
		return nil
	}
	return func(a arrow.Array) fieldEncoder {
		vs := valuesOf[T](a)
		return func(b []byte, i int) ([]byte, error) {
			if a.IsNull(i) {
				return appendNull(b), nil
			}
			v := float64(vs[i])
			if t.name == "float8" {
				return binary.BigEndian.AppendUint64(appendInt32(b, 8), math.Float64bits(v)), nil
			}
			f := float32(v)
			if float64(f) != v && !math.IsNaN(v) {
				return b, sdk.InvalidArgumentf("%v is not exactly a real (float4); declare the column double precision", v)
			}
			return binary.BigEndian.AppendUint32(appendInt32(b, 4), math.Float32bits(f)), nil
		}
	}
}

// stringEncoder sends text as the binary form of textual types, whose
// receive functions check it as their input functions do (varchar(n)
// refuses a longer value, an enum an unknown label). Numbers and UUIDs
// are parsed here.
func stringEncoder(t pgType) makeEncoder {
	var enc func(b []byte, s string, scratch *[]byte) ([]byte, error)
	switch {
	case t.kind == "e", t.name == "text", t.name == "varchar", t.name == "bpchar", t.name == "name",
		t.name == "json", t.name == "xml", t.name == "citext":
		enc = func(b []byte, s string, _ *[]byte) ([]byte, error) {
			return append(appendInt32(b, int32(len(s))), s...), nil
		}
	case t.name == "jsonb":
		enc = func(b []byte, s string, _ *[]byte) ([]byte, error) {
			return append(append(appendInt32(b, int32(len(s)+1)), 1), s...), nil
		}
	case t.name == "uuid":
		enc = func(b []byte, s string, _ *[]byte) ([]byte, error) {
			var u [16]byte
			if !parseUUID(s, &u) {
				return b, sdk.InvalidArgumentf("%q is not a UUID", s)
			}
			return append(appendInt32(b, 16), u[:]...), nil
		}
	case t.name == "numeric":
		enc = func(b []byte, s string, scratch *[]byte) ([]byte, error) {
			return appendNumericText(b, s, scratch, t.typmod)
		}
	default:
		return nil
	}
	return func(a arrow.Array) fieldEncoder {
		x := a.(interface {
			arrow.Array
			Value(int) string
		})
		var scratch []byte
		return func(b []byte, i int) ([]byte, error) {
			if x.IsNull(i) {
				return appendNull(b), nil
			}
			return enc(b, x.Value(i), &scratch)
		}
	}
}

func binaryEncoder(dt arrow.DataType, t pgType) makeEncoder {
	switch {
	case t.name == "bytea":
	case t.name == "uuid" && dt.ID() == arrow.FIXED_SIZE_BINARY && dt.(*arrow.FixedSizeBinaryType).ByteWidth == 16:
	default:
		return nil
	}
	return func(a arrow.Array) fieldEncoder {
		x := a.(interface {
			arrow.Array
			Value(int) []byte
		})
		return func(b []byte, i int) ([]byte, error) {
			if x.IsNull(i) {
				return appendNull(b), nil
			}
			v := x.Value(i)
			return append(appendInt32(b, int32(len(v))), v...), nil
		}
	}
}

func parseUUID(s string, u *[16]byte) bool {
	if len(s) > 2 && s[0] == '{' && s[len(s)-1] == '}' {
		s = s[1 : len(s)-1]
	}
	var h [32]byte
	switch len(s) {
	case 36:
		if s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
			return false
		}
		copy(h[:], s[:8]+s[9:13]+s[14:18]+s[19:23]+s[24:])
	case 32:
		copy(h[:], s)
	default:
		return false
	}
	_, err := hex.Decode(u[:], h[:])
	return err == nil
}

func decimalEncoder(dt arrow.DataType, typmod int32) makeEncoder {
	if d, ok := dt.(*arrow.Decimal128Type); ok {
		return func(a arrow.Array) fieldEncoder {
			x := a.(*array.Decimal128)
			var scratch []byte
			return func(b []byte, i int) ([]byte, error) {
				if x.IsNull(i) {
					return appendNull(b), nil
				}
				v := x.Value(i)
				var digits [40]byte
				neg := v.Sign() < 0
				if hi, lo := v.HighBits(), v.LowBits(); hi == 0 && lo>>63 == 0 || hi == -1 && lo>>63 == 1 {
					u := lo
					if neg {
						u = -u
					}
					return appendNumeric(b, strconv.AppendUint(digits[:0], u, 10), neg, d.Scale, typmod)
				}
				bi := v.BigInt()
				scratch = bi.Abs(bi).Append(scratch[:0], 10)
				return appendNumeric(b, scratch, neg, d.Scale, typmod)
			}
		}
	}
	scale := dt.(*arrow.Decimal256Type).Scale
	return func(a arrow.Array) fieldEncoder {
		x := a.(*array.Decimal256)
		var scratch []byte
		return func(b []byte, i int) ([]byte, error) {
			if x.IsNull(i) {
				return appendNull(b), nil
			}
			bi := x.Value(i).BigInt()
			neg := bi.Sign() < 0
			scratch = bi.Abs(bi).Append(scratch[:0], 10)
			return appendNumeric(b, scratch, neg, scale, typmod)
		}
	}
}

var pow10 = [...]int64{1, 10, 100, 1000, 10000, 100000, 1000000}

// appendNumeric appends PostgreSQL's binary numeric of the decimal digits
// (ASCII, no sign) times 10^-scale: base-10000 groups aligned on the
// decimal point, the weight of the first, the sign and the display scale.
// numeric_recv rounds to a column's declared scale, so a value with more
// decimals than that (beyond trailing zeros) is refused here.
func appendNumeric(b []byte, digits []byte, neg bool, scale, typmod int32) ([]byte, error) {
	if typmod >= 4 {
		colScale := (((typmod - 4) & 0x7ff) ^ 1024) - 1024
		if extra := int(scale - colScale); extra > 0 {
			for _, c := range digits[max(0, len(digits)-extra):] {
				if c != '0' {
					return b, sdk.InvalidArgumentf("%s has more decimals than the column's scale %d", decimalText(digits, neg, scale), colScale)
				}
			}
		}
	}
	if scale < 0 {
		digits = append(digits[:len(digits):len(digits)], strings.Repeat("0", int(-scale))...)
		scale = 0
	}
	intLen := len(digits) - int(scale)
	first, last := floorDiv4(intLen-1), floorDiv4(-int(scale))
	var small [48]uint16
	groups := small[:0]
	if n := first - last + 1; n > len(small) {
		groups = make([]uint16, n)
	} else if n > 0 {
		groups = small[:n]
	}
	for k, c := range digits {
		e := intLen - 1 - k
		g := floorDiv4(e)
		groups[first-g] += uint16(c-'0') * uint16(pow10[e-4*g])
	}
	weight := first
	for len(groups) > 0 && groups[0] == 0 {
		groups, weight = groups[1:], weight-1
	}
	for len(groups) > 0 && groups[len(groups)-1] == 0 {
		groups = groups[:len(groups)-1]
	}
	sign := int16(0)
	switch {
	case len(groups) == 0:
		weight = 0
	case neg:
		sign = 0x4000
	}
	if weight > math.MaxInt16 || weight < math.MinInt16 || scale > 0x3fff {
		return b, sdk.InvalidArgumentf("%s is beyond PostgreSQL's numeric range", decimalText(digits, neg, scale))
	}
	b = appendInt32(b, int32(8+2*len(groups)))
	b = appendInt16(appendInt16(b, int16(len(groups))), int16(weight))
	b = appendInt16(appendInt16(b, sign), int16(scale))
	for _, g := range groups {
		b = binary.BigEndian.AppendUint16(b, g)
	}
	return b, nil
}

func floorDiv4(n int) int {
	if n < 0 {
		return -((-n + 3) / 4)
	}
	return n / 4
}

// decimalText renders digits × 10^-scale for error messages.
func decimalText(digits []byte, neg bool, scale int32) string {
	s := strings.TrimLeft(string(digits), "0")
	if scale > 0 {
		s = strings.Repeat("0", max(0, int(scale)+1-len(s))) + s
		s = s[:len(s)-int(scale)] + "." + s[len(s)-int(scale):]
	} else if s == "" {
		s = "0"
	}
	if neg {
		s = "-" + s
	}
	return s
}

// appendNumericText parses a number as numeric_in does (sign, digits,
// decimal point, exponent, NaN and infinities).
func appendNumericText(b []byte, s string, scratch *[]byte, typmod int32) ([]byte, error) {
	t := strings.TrimSpace(s)
	special := int16(0)
	switch strings.ToLower(t) {
	case "nan":
		special = -0x4000 // 0xC000
	case "infinity", "+infinity", "inf", "+inf":
		special = -0x3000 // 0xD000
	case "-infinity", "-inf":
		special = -0x1000 // 0xF000
	}
	if special != 0 {
		b = appendInt32(b, 8)
		return appendInt16(appendInt16(appendInt16(appendInt16(b, 0), 0), special), 0), nil
	}
	bad := sdk.InvalidArgumentf("%q is not a number", s)
	neg := false
	if t != "" && (t[0] == '-' || t[0] == '+') {
		neg, t = t[0] == '-', t[1:]
	}
	digits := (*scratch)[:0]
	frac, dot := 0, false
	for len(t) > 0 && (t[0] >= '0' && t[0] <= '9' || t[0] == '.' && !dot) {
		if t[0] == '.' {
			dot = true
		} else {
			digits = append(digits, t[0])
			if dot {
				frac++
			}
		}
		t = t[1:]
	}
	*scratch = digits
	if len(digits) == 0 {
		return b, bad
	}
	exp := 0
	if len(t) > 0 && (t[0] == 'e' || t[0] == 'E') {
		e, err := strconv.Atoi(t[1:])
		if err != nil || e > 1000000 || e < -1000000 {
			return b, bad
		}
		exp, t = e, ""
	}
	if t != "" {
		return b, bad
	}
	return appendNumeric(b, digits, neg, int32(frac-exp), typmod)
}

func dateEncoder(dt arrow.DataType) makeEncoder {
	return func(a arrow.Array) fieldEncoder {
		var days func(int) (int64, error)
		if dt.ID() == arrow.DATE32 {
			x := a.(*array.Date32)
			days = func(i int) (int64, error) { return int64(x.Value(i)), nil }
		} else {
			x := a.(*array.Date64)
			days = func(i int) (int64, error) {
				ms := int64(x.Value(i))
				if ms%86400000 != 0 {
					return 0, sdk.InvalidArgumentf("date64 %d ms is not a whole day", ms)
				}
				return ms / 86400000, nil
			}
		}
		return func(b []byte, i int) ([]byte, error) {
			if a.IsNull(i) {
				return appendNull(b), nil
			}
			d, err := days(i)
			if err != nil {
				return b, err
			}
			d -= pgEpochDays
			if d < math.MinInt32 || d > math.MaxInt32 {
				return b, sdk.InvalidArgumentf("date is out of PostgreSQL's range")
			}
			return appendInt32(appendInt32(b, 4), int32(d)), nil
		}
	}
}

// micros encodes timestamps and times as PostgreSQL's int64 microseconds
// (since 2000 for timestamps: epoch is 2000-01-01 in Unix microseconds).
// Nanoseconds that are not whole microseconds, and fractions beyond a
// declared precision (timestamp(3)), which the server would round, are
// refused.
func micros[T ~int32 | ~int64](typmod int32, unit arrow.TimeUnit, epoch int64) makeEncoder {
	mult, div := int64(1), int64(1)
	switch unit {
	case arrow.Second:
		mult = 1_000_000
	case arrow.Millisecond:
		mult = 1000
	case arrow.Nanosecond:
		div = 1000
	}
	step := int64(1)
	if typmod >= 0 && typmod < 6 {
		step = pow10[6-typmod]
	}
	return func(a arrow.Array) fieldEncoder {
		vs := valuesOf[T](a)
		return func(b []byte, i int) ([]byte, error) {
			if a.IsNull(i) {
				return appendNull(b), nil
			}
			v := int64(vs[i])
			if v%div != 0 {
				return b, sdk.InvalidArgumentf("%d ns is not a whole number of microseconds, which PostgreSQL holds", v)
			}
			v /= div
			if v > math.MaxInt64/mult || v < math.MinInt64/mult || v*mult < math.MinInt64+epoch {
				return b, sdk.InvalidArgumentf("%d %s is out of PostgreSQL's range", v, unit)
			}
			v *= mult
			if v%step != 0 {
				return b, sdk.InvalidArgumentf("%d µs has more fractional digits than the column's precision %d", v, typmod)
			}
			return appendInt64(appendInt32(b, 8), v-epoch), nil
		}
	}
}

// listEncoder writes a list as a one-dimensional array (lower bound 1) of
// the element type elemOID; an empty list is the empty array.
func listEncoder(elem makeEncoder, elemOID uint32) makeEncoder {
	return func(a arrow.Array) fieldEncoder {
		l := a.(*array.List)
		values := l.ListValues()
		enc := elem(values)
		return func(b []byte, i int) ([]byte, error) {
			if l.IsNull(i) {
				return appendNull(b), nil
			}
			start, end := l.ValueOffsets(i)
			at := len(b)
			b = appendInt32(b, 0) // the length, set below
			if start == end {
				b = binary.BigEndian.AppendUint32(appendInt32(appendInt32(b, 0), 0), elemOID)
			} else {
				hasNull := int32(0)
				for j := start; j < end; j++ {
					if values.IsNull(int(j)) {
						hasNull = 1
						break
					}
				}
				b = binary.BigEndian.AppendUint32(appendInt32(appendInt32(b, 1), hasNull), elemOID)
				b = appendInt32(appendInt32(b, int32(end-start)), 1)
				var err error
				for j := start; j < end; j++ {
					if b, err = enc(b, int(j)); err != nil {
						return b, fmt.Errorf("element %d: %w", j-start+1, err)
					}
				}
			}
			binary.BigEndian.PutUint32(b[at:], uint32(len(b)-at-4))
			return b, nil
		}
	}
}
