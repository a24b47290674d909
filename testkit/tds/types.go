package tds

import (
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strings"
	"time"
)

// Type is a SQL Server column type.
type Type int

// Column types. Result columns always use the nullable TDS variants
// (INTN, FLTN, ...), as SQL Server does.
const (
	Bit Type = iota + 1
	TinyInt
	SmallInt
	Int
	BigInt
	Real  // float(24)
	Float // float(53)
	Decimal
	Numeric
	Money
	SmallMoney
	NVarChar  // Length in characters; Max for nvarchar(max)
	VarChar   // Length in bytes; Max for varchar(max); code page 1252 (Latin-1 subset)
	VarBinary // Length in bytes; Max for varbinary(max)
	Date
	Time           // Scale: fractional second digits 0..7
	DateTime2      // Scale: fractional second digits 0..7
	DateTimeOffset // Scale: fractional second digits 0..7
	DateTime
	SmallDateTime
	UniqueIdentifier
	XML
	// Rowversion is rowversion (timestamp): binary(8) marked with SQL
	// Server's user type 80, which drivers read (FreeTDS names it
	// timestamp); values are 8 bytes.
	Rowversion
)

// Max as Column.Length declares a (max) column, streamed as PLP.
const Max = -1

// Column describes a result column.
type Column struct {
	Name     string
	Type     Type
	Nullable bool
	// Length is the maximum length of NVarChar (characters), VarChar and
	// VarBinary (bytes) columns, or Max. Zero means 4000 for NVarChar and
	// 8000 for VarChar and VarBinary.
	Length int
	// Precision and Scale of Decimal/Numeric (zero precision means 18).
	// Scale is also the fractional second digits of Time, DateTime2 and
	// DateTimeOffset (0 means whole seconds, SQL Server's default is 7).
	Precision, Scale uint8
	// PrimaryKey marks the columns of a CREATE TABLE's PRIMARY KEY
	// constraint.
	PrimaryKey bool
	// Collation of a character column (NVarChar, VarChar), as a
	// column definition's COLLATE clause names it. Empty takes the
	// default of where the table is created: the database's collation,
	// or tempdb's for a #temporary table (see [WithCollations]);
	// DATABASE_DEFAULT the database's.
	Collation string
}

// DefaultCollation is the collation of the server's database and of its
// tempdb unless [WithCollations] says otherwise.
const DefaultCollation = "SQL_Latin1_General_CP1_CI_AS"

func (c Column) isChar() bool { return c.Type == NVarChar || c.Type == VarChar }

const (
	tInt      = 0x26
	tBit      = 0x68
	tFlt      = 0x6D
	tDecimal  = 0x6A
	tNumeric  = 0x6C
	tMoney    = 0x6E
	tDateTime = 0x6F
	tGUID     = 0x24
	tDate     = 0x28
	tTime     = 0x29
	tDT2      = 0x2A
	tDTO      = 0x2B
	tVarBin   = 0xA5
	tBigBin   = 0xAD
	tVarChar  = 0xA7
	tNVarChar = 0xE7
	tXML      = 0xF1
)

// collation is SQL_Latin1_General_CP1_CI_AS (code page 1252).
var collation = []byte{0x09, 0x04, 0xD0, 0x00, 0x34}

func (c Column) precision() uint8 {
	if c.Precision == 0 {
		return 18
	}
	return c.Precision
}

func decimalSize(prec uint8) int {
	switch {
	case prec <= 9:
		return 5
	case prec <= 19:
		return 9
	case prec <= 28:
		return 13
	}
	return 17
}

func timeLen(scale uint8) int {
	switch {
	case scale <= 2:
		return 3
	case scale <= 4:
		return 4
	}
	return 5
}

// plp reports whether values are sent as partially length-prefixed data.
func (c Column) plp() bool {
	return c.Type == XML || (c.Length == Max && (c.Type == NVarChar || c.Type == VarChar || c.Type == VarBinary))
}

func (b *tokBuf) colMetadata(cols []Column) error {
	b.u8(tokColMetadata)
	b.u16(uint16(len(cols)))
	for _, c := range cols {
		userType := uint32(0)
		if c.Type == Rowversion {
			userType = 80
		}
		b.u32(userType)
		var flags uint16
		if c.Nullable {
			flags |= 0x01
		}
		b.u16(flags)
		if err := b.typeInfo(c); err != nil {
			return fmt.Errorf("column %q: %w", c.Name, err)
		}
		b.bvarchar(c.Name)
	}
	return nil
}

func (b *tokBuf) typeInfo(c Column) error {
	if c.Scale > 7 && (c.Type == Time || c.Type == DateTime2 || c.Type == DateTimeOffset) {
		return fmt.Errorf("scale %d out of range 0..7", c.Scale)
	}
	switch c.Type {
	case Bit:
		b.raw([]byte{tBit, 1})
	case TinyInt:
		b.raw([]byte{tInt, 1})
	case SmallInt:
		b.raw([]byte{tInt, 2})
	case Int:
		b.raw([]byte{tInt, 4})
	case BigInt:
		b.raw([]byte{tInt, 8})
	case Real:
		b.raw([]byte{tFlt, 4})
	case Float:
		b.raw([]byte{tFlt, 8})
	case Decimal, Numeric:
		p := c.precision()
		if p > 38 || c.Scale > p {
			return fmt.Errorf("bad precision/scale %d/%d", p, c.Scale)
		}
		t := byte(tDecimal)
		if c.Type == Numeric {
			t = tNumeric
		}
		b.raw([]byte{t, byte(decimalSize(p)), p, c.Scale})
	case Money:
		b.raw([]byte{tMoney, 8})
	case SmallMoney:
		b.raw([]byte{tMoney, 4})
	case DateTime:
		b.raw([]byte{tDateTime, 8})
	case SmallDateTime:
		b.raw([]byte{tDateTime, 4})
	case UniqueIdentifier:
		b.raw([]byte{tGUID, 16})
	case Date:
		b.u8(tDate)
	case Time:
		b.raw([]byte{tTime, c.Scale})
	case DateTime2:
		b.raw([]byte{tDT2, c.Scale})
	case DateTimeOffset:
		b.raw([]byte{tDTO, c.Scale})
	case NVarChar, VarChar, VarBinary:
		t := map[Type]byte{NVarChar: tNVarChar, VarChar: tVarChar, VarBinary: tVarBin}[c.Type]
		n := c.Length
		switch {
		case n == Max:
			n = 0xFFFF
		case n == 0 && c.Type == NVarChar:
			n = 8000
		case n == 0:
			n = 8000
		case c.Type == NVarChar:
			if n > 4000 {
				return fmt.Errorf("nvarchar length %d > 4000 (use Max)", n)
			}
			n *= 2
		case n > 8000 || n < 0:
			return fmt.Errorf("length %d out of range (use Max)", n)
		}
		b.u8(t)
		b.u16(uint16(n))
		if c.Type != VarBinary {
			b.raw(collation)
		}
	case XML:
		b.raw([]byte{tXML, 0})
	case Rowversion:
		b.u8(tBigBin)
		b.u16(8)
	default:
		return fmt.Errorf("unknown column type %d", c.Type)
	}
	return nil
}

// row appends a ROW, or an NBCROW when a value is NULL.
func (b *tokBuf) row(cols []Column, vals []any) error {
	if len(vals) != len(cols) {
		return fmt.Errorf("%d values for %d columns", len(vals), len(cols))
	}
	hasNull := false
	for _, v := range vals {
		if isNull(v) {
			hasNull = true
			break
		}
	}
	if !hasNull {
		b.u8(tokRow)
		for i, c := range cols {
			if err := b.value(c, vals[i]); err != nil {
				return fmt.Errorf("column %q: %w", c.Name, err)
			}
		}
		return nil
	}
	b.u8(tokNBCRow)
	bitmap := make([]byte, (len(cols)+7)/8)
	for i, v := range vals {
		if isNull(v) {
			bitmap[i/8] |= 1 << (i % 8)
		}
	}
	b.raw(bitmap)
	for i, c := range cols {
		if isNull(vals[i]) {
			continue
		}
		if err := b.value(c, vals[i]); err != nil {
			return fmt.Errorf("column %q: %w", c.Name, err)
		}
	}
	return nil
}

func isNull(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

// value appends a non-NULL value in the column's wire format.
func (b *tokBuf) value(c Column, v any) error {
	switch c.Type {
	case Bit:
		var x bool
		switch t := v.(type) {
		case bool:
			x = t
		default:
			n, err := toInt(v)
			if err != nil {
				return err
			}
			x = n != 0
		}
		if x {
			b.raw([]byte{1, 1})
		} else {
			b.raw([]byte{1, 0})
		}
	case TinyInt, SmallInt, Int, BigInt:
		n, err := toInt(v)
		if err != nil {
			return err
		}
		size := map[Type]int{TinyInt: 1, SmallInt: 2, Int: 4, BigInt: 8}[c.Type]
		if size < 8 {
			lo, hi := int64(-1)<<(size*8-1), int64(1)<<(size*8-1)-1
			if size == 1 {
				lo, hi = 0, 255
			}
			if n < lo || n > hi {
				return fmt.Errorf("%d out of range", n)
			}
		}
		b.u8(byte(size))
		for i := 0; i < size; i++ {
			b.u8(byte(n >> (8 * i)))
		}
	case Real, Float:
		f, err := toFloat(v)
		if err != nil {
			return err
		}
		if c.Type == Real {
			b.u8(4)
			b.u32(math.Float32bits(float32(f)))
		} else {
			b.u8(8)
			b.u64(math.Float64bits(f))
		}
	case Decimal, Numeric:
		n, err := scaled(v, int(c.Scale))
		if err != nil {
			return err
		}
		size := decimalSize(c.precision())
		mag := new(big.Int).Abs(n).Bytes()
		lim := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(c.precision())), nil)
		if new(big.Int).Abs(n).Cmp(lim) >= 0 {
			return fmt.Errorf("%v does not fit decimal(%d,%d)", v, c.precision(), c.Scale)
		}
		b.u8(byte(size))
		if n.Sign() < 0 {
			b.u8(0)
		} else {
			b.u8(1)
		}
		for i := 0; i < size-1; i++ {
			if i < len(mag) {
				b.u8(mag[len(mag)-1-i])
			} else {
				b.u8(0)
			}
		}
	case Money, SmallMoney:
		n, err := scaled(v, 4)
		if err != nil {
			return err
		}
		if !n.IsInt64() {
			return fmt.Errorf("%v out of money range", v)
		}
		x := n.Int64()
		if c.Type == SmallMoney {
			if x < math.MinInt32 || x > math.MaxInt32 {
				return fmt.Errorf("%v out of smallmoney range", v)
			}
			b.u8(4)
			b.u32(uint32(int32(x)))
		} else {
			b.u8(8)
			b.u32(uint32(uint64(x) >> 32))
			b.u32(uint32(x))
		}
	case NVarChar, VarChar, VarBinary, XML, Rowversion:
		var data []byte
		switch t := v.(type) {
		case string:
			switch c.Type {
			case VarChar:
				data = encodeLatin1(t)
			case VarBinary, Rowversion:
				data = []byte(t)
			default:
				data = appendUCS2(nil, t)
			}
		case []byte:
			data = t
		default:
			return fmt.Errorf("want string or []byte, got %T", v)
		}
		if c.plp() {
			b.u64(uint64(len(data)))
			for len(data) > 0 {
				k := min(len(data), 1<<16)
				b.u32(uint32(k))
				b.raw(data[:k])
				data = data[k:]
			}
			b.u32(0)
			return nil
		}
		if c.Type == Rowversion && len(data) != 8 {
			return fmt.Errorf("rowversion of %d bytes, want 8", len(data))
		}
		limit := c.Length
		if c.Type == NVarChar {
			limit *= 2
		}
		if limit == 0 {
			limit = 8000
		}
		if len(data) > limit {
			return fmt.Errorf("%d bytes exceed the column length %d", len(data), limit)
		}
		b.u16(uint16(len(data)))
		b.raw(data)
	case UniqueIdentifier:
		g, err := parseGUID(v)
		if err != nil {
			return err
		}
		b.u8(16)
		b.raw(guidSwap(g))
	case Date, Time, DateTime2, DateTimeOffset, DateTime, SmallDateTime:
		t, ok := v.(time.Time)
		if !ok {
			return fmt.Errorf("want time.Time, got %T", v)
		}
		return b.timeValue(c, t)
	default:
		return fmt.Errorf("unknown column type %d", c.Type)
	}
	return nil
}

var day0001 = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Unix()

// dayAndTime splits the wall clock of t into days since 0001-01-01 and
// nanoseconds since midnight.
func dayAndTime(t time.Time) (days int64, ns int64) {
	y, m, d := t.Date()
	days = (time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() - day0001) / 86400
	ns = int64(t.Hour())*3600e9 + int64(t.Minute())*60e9 + int64(t.Second())*1e9 + int64(t.Nanosecond())
	return days, ns
}

func (b *tokBuf) timeUnits(ns int64, scale uint8) {
	u := ns
	for i := scale; i < 9; i++ {
		u /= 10
	}
	for i := 0; i < timeLen(scale); i++ {
		b.u8(byte(u >> (8 * i)))
	}
}

func (b *tokBuf) date3(days int64) {
	b.raw([]byte{byte(days), byte(days >> 8), byte(days >> 16)})
}

func (b *tokBuf) timeValue(c Column, t time.Time) error {
	switch c.Type {
	case Date:
		days, _ := dayAndTime(t)
		b.u8(3)
		b.date3(days)
	case Time:
		_, ns := dayAndTime(t)
		b.u8(byte(timeLen(c.Scale)))
		b.timeUnits(ns, c.Scale)
	case DateTime2:
		days, ns := dayAndTime(t)
		b.u8(byte(timeLen(c.Scale) + 3))
		b.timeUnits(ns, c.Scale)
		b.date3(days)
	case DateTimeOffset:
		_, off := t.Zone()
		if off%60 != 0 {
			return fmt.Errorf("zone offset %ds is not whole minutes", off)
		}
		days, ns := dayAndTime(t.UTC())
		b.u8(byte(timeLen(c.Scale) + 5))
		b.timeUnits(ns, c.Scale)
		b.date3(days)
		b.u16(uint16(int16(off / 60)))
	case DateTime, SmallDateTime:
		days, ns := dayAndTime(t)
		days -= (time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC).Unix() - day0001) / 86400
		if c.Type == SmallDateTime {
			if days < 0 || days > math.MaxUint16 {
				return fmt.Errorf("%v out of smalldatetime range", t)
			}
			b.u8(4)
			b.u16(uint16(days))
			b.u16(uint16((ns + 30e9) / 60e9))
			return nil
		}
		b.u8(8)
		b.u32(uint32(int32(days)))
		b.u32(uint32((ns*300 + 5e8) / 1e9))
	}
	return nil
}

func toInt(v any) (int64, error) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if rv.Uint() > math.MaxInt64 {
			return 0, fmt.Errorf("%d out of range", rv.Uint())
		}
		return int64(rv.Uint()), nil
	case reflect.Bool:
		if rv.Bool() {
			return 1, nil
		}
		return 0, nil
	}
	return 0, fmt.Errorf("want an integer, got %T", v)
}

func toFloat(v any) (float64, error) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Float32, reflect.Float64:
		return rv.Float(), nil
	}
	n, err := toInt(v)
	if err != nil {
		return 0, fmt.Errorf("want a float, got %T", v)
	}
	return float64(n), nil
}

// scaled returns v*10^scale rounded half away from zero.
func scaled(v any, scale int) (*big.Int, error) {
	r := new(big.Rat)
	switch t := v.(type) {
	case string:
		if _, ok := r.SetString(strings.TrimSpace(t)); !ok {
			return nil, fmt.Errorf("bad decimal %q", t)
		}
	case *big.Rat:
		r.Set(t)
	case *big.Int:
		r.SetInt(t)
	case float32, float64:
		f, _ := toFloat(t)
		if r.SetFloat64(f) == nil {
			return nil, fmt.Errorf("bad decimal %v", t)
		}
	default:
		n, err := toInt(v)
		if err != nil {
			return nil, fmt.Errorf("want a decimal string, *big.Rat or number, got %T", v)
		}
		r.SetInt64(n)
	}
	r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)))
	num := new(big.Int).Abs(r.Num())
	q, m := new(big.Int).QuoRem(num, r.Denom(), new(big.Int))
	if m.Lsh(m, 1).Cmp(r.Denom()) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	if r.Sign() < 0 {
		q.Neg(q)
	}
	return q, nil
}

// parseGUID accepts a canonical string ("6F9619FF-8B86-D011-B42D-00C04FD430C8",
// braces optional) or 16 bytes in canonical order.
func parseGUID(v any) ([]byte, error) {
	switch t := v.(type) {
	case string:
		s := strings.Trim(strings.ReplaceAll(t, "-", ""), "{}")
		g, err := hex.DecodeString(s)
		if err != nil || len(g) != 16 {
			return nil, fmt.Errorf("bad uniqueidentifier %q", t)
		}
		return g, nil
	case []byte:
		if len(t) == 16 {
			return t, nil
		}
	case [16]byte:
		return t[:], nil
	}
	return nil, fmt.Errorf("want a uniqueidentifier string or 16 bytes, got %T", v)
}

// encodeLatin1 encodes s in the Latin-1 subset of code page 1252; other
// characters become '?'.
func encodeLatin1(s string) []byte {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r < 0x80 || (r >= 0xA0 && r <= 0xFF) {
			out = append(out, byte(r))
		} else {
			out = append(out, '?')
		}
	}
	return out
}
