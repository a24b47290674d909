package gen

import (
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

// column generates one column: the value of row id is a pure function of
// (seed, id, salt).
type column struct {
	field arrow.Field
	notes string
	// nullEvery makes the value NULL when (id+salt)%nullEvery == 0; 0 = never.
	nullEvery int64
	salt      uint64
	gen       func(b array.Builder, p params, id int64, h uint64)
}

func (c column) appendTo(b array.Builder, p params, id int64) {
	if c.nullEvery > 0 && (id+int64(c.salt))%c.nullEvery == 0 {
		b.AppendNull()
		return
	}
	c.gen(b, p, id, mix(uint64(p.seed), uint64(id), c.salt))
}

// IsNull reports whether the generator makes the cell NULL.
func (c column) IsNull(id int64) bool {
	return c.nullEvery > 0 && (id+int64(c.salt))%c.nullEvery == 0
}

// mix is splitmix64 over the three inputs.
func mix(seed, id, salt uint64) uint64 {
	z := seed*0x9E3779B97F4A7C15 ^ id*0xBF58476D1CE4E5B9 ^ salt*0x94D049BB133111EB
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// Tricky strings every text column cycles through.
var trickyStrings = []string{
	"plain", "", "comma, inside", `quote " inside`, "new\nline", "cr\r\nlf", "  leading and trailing  ",
	"tab\tseparated", "unicode é ß 漢字 🚀", "semi;colon", `back\slash`, "NULL", "\"\"",
}

// epoch2000 anchors generated times so they cover both sides of 1970 and DST.
var epoch2000 = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()

var (
	tsUTC   = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	tsNsUTC = &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}
	tsLocal = &arrow.TimestampType{Unit: arrow.Microsecond}
	dec128  = &arrow.Decimal128Type{Precision: 38, Scale: 10}
	dec256  = &arrow.Decimal256Type{Precision: 76, Scale: 20}
)

var pow38 = new(big.Int).Exp(big.NewInt(10), big.NewInt(38), nil)
var pow76 = new(big.Int).Exp(big.NewInt(10), big.NewInt(76), nil)

// bigDigits returns a signed integer with up to limit digits from h; every
// 5th id gets the largest magnitude (all nines).
func bigDigits(id int64, h uint64, words int, limit *big.Int) *big.Int {
	if id%5 == 0 {
		v := new(big.Int).Sub(limit, big.NewInt(1))
		if h&1 == 1 {
			v.Neg(v)
		}
		return v
	}
	v := new(big.Int)
	x := h
	for i := 0; i < words; i++ {
		v.Lsh(v, 64).Or(v, new(big.Int).SetUint64(x))
		x = mix(x, uint64(i), 7)
	}
	v.Mod(v, limit)
	if h&2 == 2 {
		v.Neg(v)
	}
	return v
}

func intEdge[T int8 | int16 | int32 | int64](id int64, h uint64, lo, hi T) T {
	switch id % 97 {
	case 1:
		return lo
	case 2:
		return hi
	case 3:
		return 0
	}
	return T(h)
}

var allTypesColumns = []column{
	{field: arrow.Field{Name: "id", Type: arrow.PrimitiveTypes.Int64}, notes: "1..rows, unique, never NULL",
		gen: func(b array.Builder, _ params, id int64, _ uint64) { b.(*array.Int64Builder).Append(id) }},
	{field: arrow.Field{Name: "bool_col", Type: arrow.FixedWidthTypes.Boolean, Nullable: true}, nullEvery: 13, salt: 1,
		gen: func(b array.Builder, _ params, _ int64, h uint64) { b.(*array.BooleanBuilder).Append(h&1 == 1) }},
	{field: arrow.Field{Name: "int8_col", Type: arrow.PrimitiveTypes.Int8, Nullable: true}, nullEvery: 13, salt: 2,
		gen: func(b array.Builder, _ params, id int64, h uint64) {
			b.(*array.Int8Builder).Append(intEdge(id, h, int8(math.MinInt8), int8(math.MaxInt8)))
		}},
	{field: arrow.Field{Name: "int16_col", Type: arrow.PrimitiveTypes.Int16, Nullable: true}, nullEvery: 13, salt: 3,
		gen: func(b array.Builder, _ params, id int64, h uint64) {
			b.(*array.Int16Builder).Append(intEdge(id, h, int16(math.MinInt16), int16(math.MaxInt16)))
		}},
	{field: arrow.Field{Name: "int32_col", Type: arrow.PrimitiveTypes.Int32, Nullable: true}, nullEvery: 13, salt: 4,
		gen: func(b array.Builder, _ params, id int64, h uint64) {
			b.(*array.Int32Builder).Append(intEdge(id, h, int32(math.MinInt32), int32(math.MaxInt32)))
		}},
	{field: arrow.Field{Name: "int64_col", Type: arrow.PrimitiveTypes.Int64, Nullable: true}, nullEvery: 13, salt: 5, notes: "includes min and max int64",
		gen: func(b array.Builder, _ params, id int64, h uint64) {
			b.(*array.Int64Builder).Append(intEdge(id, h, int64(math.MinInt64), int64(math.MaxInt64)))
		}},
	{field: arrow.Field{Name: "uint8_col", Type: arrow.PrimitiveTypes.Uint8, Nullable: true}, nullEvery: 13, salt: 6,
		gen: func(b array.Builder, _ params, _ int64, h uint64) { b.(*array.Uint8Builder).Append(uint8(h)) }},
	{field: arrow.Field{Name: "uint16_col", Type: arrow.PrimitiveTypes.Uint16, Nullable: true}, nullEvery: 13, salt: 7,
		gen: func(b array.Builder, _ params, _ int64, h uint64) { b.(*array.Uint16Builder).Append(uint16(h)) }},
	{field: arrow.Field{Name: "uint32_col", Type: arrow.PrimitiveTypes.Uint32, Nullable: true}, nullEvery: 13, salt: 8,
		gen: func(b array.Builder, _ params, _ int64, h uint64) { b.(*array.Uint32Builder).Append(uint32(h)) }},
	{field: arrow.Field{Name: "uint64_col", Type: arrow.PrimitiveTypes.Uint64, Nullable: true}, nullEvery: 13, salt: 9, notes: "includes max uint64",
		gen: func(b array.Builder, _ params, id int64, h uint64) {
			if id%97 == 2 {
				h = math.MaxUint64
			}
			b.(*array.Uint64Builder).Append(h)
		}},
	{field: arrow.Field{Name: "float32_col", Type: arrow.PrimitiveTypes.Float32, Nullable: true}, nullEvery: 13, salt: 10,
		gen: func(b array.Builder, _ params, _ int64, h uint64) {
			b.(*array.Float32Builder).Append(float32(int32(h)) / 1024)
		}},
	{field: arrow.Field{Name: "float64_col", Type: arrow.PrimitiveTypes.Float64, Nullable: true}, nullEvery: 13, salt: 11, notes: "includes NaN, +Inf and -Inf",
		gen: func(b array.Builder, _ params, id int64, h uint64) {
			v := float64(int64(h)) / 1e6
			switch id % 89 {
			case 1:
				v = math.NaN()
			case 2:
				v = math.Inf(1)
			case 3:
				v = math.Inf(-1)
			case 4:
				v = math.SmallestNonzeroFloat64
			}
			b.(*array.Float64Builder).Append(v)
		}},
	{field: arrow.Field{Name: "decimal128_col", Type: dec128, Nullable: true}, nullEvery: 13, salt: 12, notes: "38-digit values, both signs",
		gen: func(b array.Builder, _ params, id int64, h uint64) {
			b.(*array.Decimal128Builder).Append(decimal128.FromBigInt(bigDigits(id, h, 2, pow38)))
		}},
	{field: arrow.Field{Name: "decimal256_col", Type: dec256, Nullable: true}, nullEvery: 13, salt: 13, notes: "76-digit values, both signs",
		gen: func(b array.Builder, _ params, id int64, h uint64) {
			b.(*array.Decimal256Builder).Append(decimal256.FromBigInt(bigDigits(id, h, 4, pow76)))
		}},
	{field: arrow.Field{Name: "string_col", Type: arrow.BinaryTypes.String, Nullable: true}, nullEvery: 13, salt: 14, notes: "empty strings, quotes, delimiters, CR/LF, unicode",
		gen: func(b array.Builder, _ params, id int64, _ uint64) {
			b.(*array.StringBuilder).Append(trickyStrings[id%int64(len(trickyStrings))])
		}},
	{field: arrow.Field{Name: "large_string_col", Type: arrow.BinaryTypes.LargeString, Nullable: true}, nullEvery: 13, salt: 15,
		gen: func(b array.Builder, _ params, id int64, h uint64) {
			b.(*array.LargeStringBuilder).Append(strings.Repeat(trickyStrings[(id+3)%int64(len(trickyStrings))], int(h%4)) + strconv.FormatInt(id, 10))
		}},
	{field: arrow.Field{Name: "binary_col", Type: arrow.BinaryTypes.Binary, Nullable: true}, nullEvery: 13, salt: 16, notes: "includes zero bytes and empty values",
		gen: func(b array.Builder, _ params, _ int64, h uint64) {
			n := int(h % 9)
			v := make([]byte, n)
			for i := range v {
				v[i] = byte(h >> (i * 7))
			}
			b.(*array.BinaryBuilder).Append(v)
		}},
	{field: arrow.Field{Name: "fixed_binary_col", Type: &arrow.FixedSizeBinaryType{ByteWidth: 16}, Nullable: true}, nullEvery: 13, salt: 17,
		gen: func(b array.Builder, _ params, id int64, h uint64) {
			var v [16]byte
			for i := range v {
				v[i] = byte(mix(h, uint64(i), 3))
			}
			b.(*array.FixedSizeBinaryBuilder).Append(v[:])
		}},
	{field: arrow.Field{Name: "date32_col", Type: arrow.FixedWidthTypes.Date32, Nullable: true}, nullEvery: 13, salt: 18, notes: "dates from 1900 to 2100",
		gen: func(b array.Builder, _ params, _ int64, h uint64) {
			b.(*array.Date32Builder).Append(arrow.Date32(int32(h%73000) - 25567))
		}},
	{field: arrow.Field{Name: "time64_col", Type: arrow.FixedWidthTypes.Time64us, Nullable: true}, nullEvery: 13, salt: 19,
		gen: func(b array.Builder, _ params, _ int64, h uint64) {
			b.(*array.Time64Builder).Append(arrow.Time64(h % 86400000000))
		}},
	{field: arrow.Field{Name: "ts_us_col", Type: tsLocal, Nullable: true}, nullEvery: 13, salt: 20, notes: "timestamp without zone, microseconds",
		gen: func(b array.Builder, _ params, _ int64, h uint64) {
			b.(*array.TimestampBuilder).Append(arrow.Timestamp(epoch2000 + int64(h%(2*3155760000000000)) - 3155760000000000))
		}},
	{field: arrow.Field{Name: "ts_us_utc_col", Type: tsUTC, Nullable: true}, nullEvery: 13, salt: 21, notes: "instants in UTC, microseconds, 1900..2100",
		gen: func(b array.Builder, _ params, _ int64, h uint64) {
			b.(*array.TimestampBuilder).Append(arrow.Timestamp(epoch2000 + int64(h%(2*3155760000000000)) - 3155760000000000))
		}},
	{field: arrow.Field{Name: "ts_ns_utc_col", Type: tsNsUTC, Nullable: true}, nullEvery: 13, salt: 22, notes: "instants in UTC, nanoseconds",
		gen: func(b array.Builder, _ params, _ int64, h uint64) {
			b.(*array.TimestampBuilder).Append(arrow.Timestamp(int64(h % (1 << 62))))
		}},
	{field: arrow.Field{Name: "duration_col", Type: arrow.FixedWidthTypes.Duration_us, Nullable: true}, nullEvery: 13, salt: 23,
		gen: func(b array.Builder, _ params, _ int64, h uint64) {
			b.(*array.DurationBuilder).Append(arrow.Duration(int64(h % 1e15)))
		}},
	{field: arrow.Field{Name: "interval_col", Type: arrow.FixedWidthTypes.MonthDayNanoInterval, Nullable: true}, nullEvery: 13, salt: 24,
		gen: func(b array.Builder, _ params, _ int64, h uint64) {
			b.(*array.MonthDayNanoIntervalBuilder).Append(arrow.MonthDayNanoInterval{Months: int32(h % 240), Days: int32(h>>8) % 31, Nanoseconds: int64(h>>16) % 86400e9})
		}},
	{field: arrow.Field{Name: "list_col", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64), Nullable: true}, nullEvery: 13, salt: 25,
		gen: func(b array.Builder, _ params, _ int64, h uint64) {
			lb := b.(*array.ListBuilder)
			lb.Append(true)
			vb := lb.ValueBuilder().(*array.Int64Builder)
			for i := 0; i < int(h%4); i++ {
				vb.Append(int64(mix(h, uint64(i), 5) >> 1))
			}
		}},
	{field: arrow.Field{Name: "struct_col", Type: arrow.StructOf(arrow.Field{Name: "a", Type: arrow.PrimitiveTypes.Int32, Nullable: true}, arrow.Field{Name: "b", Type: arrow.BinaryTypes.String, Nullable: true}), Nullable: true}, nullEvery: 13, salt: 26,
		gen: func(b array.Builder, _ params, id int64, h uint64) {
			sb := b.(*array.StructBuilder)
			sb.Append(true)
			sb.FieldBuilder(0).(*array.Int32Builder).Append(int32(h))
			sb.FieldBuilder(1).(*array.StringBuilder).Append(trickyStrings[(id+5)%int64(len(trickyStrings))])
		}},
}

// narrow is the benchmark table: cheap to generate, typical of a fact table.
var narrowColumns = []column{
	allTypesColumns[0],
	{field: arrow.Field{Name: "value", Type: arrow.PrimitiveTypes.Float64, Nullable: true}, salt: 30,
		gen: func(b array.Builder, _ params, _ int64, h uint64) {
			b.(*array.Float64Builder).Append(float64(h>>11) / (1 << 20))
		}},
	{field: arrow.Field{Name: "label", Type: arrow.BinaryTypes.String, Nullable: true}, salt: 31,
		gen: func(b array.Builder, _ params, _ int64, h uint64) {
			b.(*array.StringBuilder).Append(labels[h%uint64(len(labels))])
		}},
	{field: arrow.Field{Name: "ts", Type: tsUTC, Nullable: true}, salt: 32,
		gen: func(b array.Builder, _ params, id int64, _ uint64) {
			b.(*array.TimestampBuilder).Append(arrow.Timestamp(epoch2000 + id*1000003))
		}},
}

var labels = func() []string {
	out := make([]string, 64)
	for i := range out {
		out[i] = "label-" + strconv.Itoa(i*7919%1000)
	}
	return out
}()

var largeValueColumns = []column{
	allTypesColumns[0],
	{field: arrow.Field{Name: "big_binary", Type: arrow.BinaryTypes.Binary, Nullable: true}, salt: 40,
		gen: func(b array.Builder, p params, id int64, h uint64) {
			b.(*array.BinaryBuilder).Append(largeValue(p, id, h))
		}},
	{field: arrow.Field{Name: "big_string", Type: arrow.BinaryTypes.String, Nullable: true}, salt: 41,
		gen: func(b array.Builder, p params, id int64, h uint64) {
			v := largeValue(p, id, h)
			for i := range v {
				v[i] = 'a' + v[i]%26
			}
			b.(*array.StringBuilder).Append(string(v))
		}},
}

func largeValue(p params, id int64, h uint64) []byte {
	v := make([]byte, p.valueBytes+id)
	x := h
	for i := 0; i+8 <= len(v); i += 8 {
		x = x*6364136223846793005 + 1442695040888963407
		for k := 0; k < 8; k++ {
			v[i+k] = byte(x >> (8 * k))
		}
	}
	return v
}

type tableDef struct {
	name    string
	columns []column
}

var tables = map[string]*tableDef{
	"all_types":    {name: "all_types", columns: allTypesColumns},
	"narrow":       {name: "narrow", columns: narrowColumns},
	"empty":        {name: "empty", columns: allTypesColumns},
	"large_values": {name: "large_values", columns: largeValueColumns},
}
