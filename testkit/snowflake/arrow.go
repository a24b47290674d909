package snowflake

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Snowflake's Arrow result format, as gosnowflake reads it (arrow_chunk.go,
// converter.go): an IPC stream per chunk, each column in the physical type
// Snowflake picks for it, its rowtype in the JSON response and in the
// field's metadata. The server encodes from the JSON result's wire text
// (see wire), so both formats carry the same values.
//
//   - fixed: the value times 10^scale as the narrowest of int8..int64
//     that holds the chunk's values, decimal128 when int64 cannot
//   - real: float64; text, variant, object, array: utf8; binary: binary;
//     boolean: bool; date: date32 (days)
//   - time: seconds since midnight times 10^scale as int64 (gosnowflake's
//     Arrow batches cannot cast an int32 TIME)
//   - timestamp_ntz/ltz: epoch seconds times 10^scale as int64 up to
//     scale 7, else struct{epoch int64 (seconds), fraction int32 (ns)}
//   - timestamp_tz: struct{epoch int64 (times 10^scale), timezone int32}
//     up to scale 3, else struct{epoch, fraction, timezone}; timezone is
//     the offset in minutes plus 1440
func arrowStream(cols []rowCol, rows [][]*string) ([]byte, error) {
	fields := make([]arrow.Field, len(cols))
	arrs := make([]arrow.Array, len(cols))
	defer func() {
		for _, a := range arrs {
			if a != nil {
				a.Release()
			}
		}
	}()
	for i, c := range cols {
		vals := make([]*string, len(rows))
		for j, r := range rows {
			vals[j] = r[i]
		}
		a, err := arrowColumn(c, vals)
		if err != nil {
			return nil, fmt.Errorf("column %s (%s): %w", c.name, c.typ, err)
		}
		arrs[i] = a
		fields[i] = arrow.Field{Name: c.name, Type: a.DataType(), Nullable: true, Metadata: fieldMeta(c)}
	}
	schema := arrow.NewSchema(fields, nil)
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(schema))
	rec := array.NewRecordBatch(schema, arrs, int64(len(rows)))
	defer rec.Release()
	if err := w.Write(rec); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// fieldMeta is the metadata Snowflake puts on each field.
func fieldMeta(c rowCol) arrow.Metadata {
	logical := strings.ToUpper(c.typ)
	m := map[string]string{"logicalType": logical, "finalType": "T"}
	switch c.typ {
	case "fixed":
		m["precision"], m["scale"] = strconv.Itoa(c.prec), strconv.Itoa(c.scale)
		if c.prec == 0 {
			m["precision"] = "38"
		}
	case "time", "timestamp_ntz", "timestamp_ltz", "timestamp_tz":
		m["scale"] = strconv.Itoa(c.scale)
	case "text", "binary":
		n := c.length
		if n == 0 {
			n = 16777216
		}
		m["charLength"], m["byteLength"] = strconv.Itoa(n), strconv.Itoa(n)
	}
	return arrow.MetadataFrom(m)
}

var pow10 = func() [19]int64 {
	var p [19]int64
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// scaled reads a wire text "sec[.frac]" (frac positive) as sec*10^scale +
// frac, and the fraction in nanoseconds.
func scaled(s string, scale int) (*big.Int, int32, error) {
	sec, frac, _ := strings.Cut(s, ".")
	n, ok := new(big.Int).SetString(sec, 10)
	if !ok {
		return nil, 0, fmt.Errorf("%q is not a wire number", s)
	}
	frac = (frac + strings.Repeat("0", 9))[:9]
	ns, err := strconv.Atoi(frac)
	if err != nil {
		return nil, 0, fmt.Errorf("%q is not a wire number", s)
	}
	n.Mul(n, big.NewInt(pow10[scale]))
	n.Add(n, big.NewInt(int64(ns)/pow10[9-scale]))
	return n, int32(ns), nil
}

// fixedValue is a decimal wire text ("-12.30") times 10^scale.
func fixedValue(s string, scale int) (*big.Int, error) {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil, fmt.Errorf("%q is not a number", s)
	}
	r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)))
	if !r.IsInt() {
		return nil, fmt.Errorf("%q has more than %d decimals", s, scale)
	}
	return r.Num(), nil
}

func arrowColumn(c rowCol, vals []*string) (arrow.Array, error) {
	mem := memory.DefaultAllocator
	switch c.typ {
	case "fixed":
		return fixedColumn(vals, c.scale, c.prec)
	case "real":
		b := array.NewFloat64Builder(mem)
		defer b.Release()
		for _, v := range vals {
			if v == nil {
				b.AppendNull()
				continue
			}
			f, err := strconv.ParseFloat(*v, 64)
			if err != nil {
				return nil, err
			}
			b.Append(f)
		}
		return b.NewArray(), nil
	case "boolean":
		b := array.NewBooleanBuilder(mem)
		defer b.Release()
		for _, v := range vals {
			if v == nil {
				b.AppendNull()
			} else {
				b.Append(*v == "1" || strings.EqualFold(*v, "true"))
			}
		}
		return b.NewArray(), nil
	case "binary":
		b := array.NewBinaryBuilder(mem, arrow.BinaryTypes.Binary)
		defer b.Release()
		for _, v := range vals {
			if v == nil {
				b.AppendNull()
				continue
			}
			x, err := hex.DecodeString(*v)
			if err != nil {
				return nil, err
			}
			b.Append(x)
		}
		return b.NewArray(), nil
	case "date":
		b := array.NewDate32Builder(mem)
		defer b.Release()
		for _, v := range vals {
			if v == nil {
				b.AppendNull()
				continue
			}
			d, err := strconv.ParseInt(*v, 10, 32)
			if err != nil {
				return nil, err
			}
			b.Append(arrow.Date32(d))
		}
		return b.NewArray(), nil
	case "time":
		var ints []int64
		valid := make([]bool, len(vals))
		for i, v := range vals {
			ints = append(ints, 0)
			if v == nil {
				continue
			}
			n, _, err := scaled(*v, c.scale)
			if err != nil {
				return nil, err
			}
			ints[i], valid[i] = n.Int64(), true
		}
		b := array.NewInt64Builder(mem)
		defer b.Release()
		b.AppendValues(ints, valid)
		return b.NewArray(), nil
	case "timestamp_ntz", "timestamp_ltz", "timestamp_tz":
		return timestampColumn(c, vals)
	}
	// text, variant, object, array
	b := array.NewStringBuilder(mem)
	defer b.Release()
	for _, v := range vals {
		if v == nil {
			b.AppendNull()
		} else {
			b.Append(*v)
		}
	}
	return b.NewArray(), nil
}

// fixedColumn is a NUMBER column in the narrowest type that holds its
// scaled values.
func fixedColumn(vals []*string, scale, prec int) (arrow.Array, error) {
	mem := memory.DefaultAllocator
	nums := make([]*big.Int, len(vals))
	bits := 8
	for i, v := range vals {
		if v == nil {
			continue
		}
		n, err := fixedValue(*v, scale)
		if err != nil {
			return nil, err
		}
		nums[i] = n
		for _, w := range []int{8, 16, 32, 64, 128} {
			if w == 128 || w == 64 && n.IsInt64() || n.IsInt64() && n.Int64() >= -(1<<(w-1)) && n.Int64() < 1<<(w-1) {
				bits = max(bits, w)
				break
			}
		}
	}
	var b array.Builder
	switch bits {
	case 8:
		b = array.NewInt8Builder(mem)
	case 16:
		b = array.NewInt16Builder(mem)
	case 32:
		b = array.NewInt32Builder(mem)
	case 64:
		b = array.NewInt64Builder(mem)
	default:
		if prec == 0 {
			prec = 38
		}
		b = array.NewDecimal128Builder(mem, &arrow.Decimal128Type{Precision: int32(prec), Scale: int32(scale)})
	}
	defer b.Release()
	for _, n := range nums {
		if n == nil {
			b.AppendNull()
			continue
		}
		switch x := b.(type) {
		case *array.Int8Builder:
			x.Append(int8(n.Int64()))
		case *array.Int16Builder:
			x.Append(int16(n.Int64()))
		case *array.Int32Builder:
			x.Append(int32(n.Int64()))
		case *array.Int64Builder:
			x.Append(n.Int64())
		case *array.Decimal128Builder:
			x.Append(decimal128.FromBigInt(n))
		}
	}
	return b.NewArray(), nil
}

func timestampColumn(c rowCol, vals []*string) (arrow.Array, error) {
	mem := memory.DefaultAllocator
	tz := c.typ == "timestamp_tz"
	n := len(vals)
	scaledV, epochs := make([]int64, n), make([]int64, n)
	fracs, zones := make([]int32, n), make([]int32, n)
	valid := make([]bool, n)
	for i, v := range vals {
		if v == nil {
			continue
		}
		text := *v
		if tz {
			var off string
			text, off, _ = strings.Cut(text, " ")
			z, err := strconv.Atoi(off)
			if err != nil {
				return nil, fmt.Errorf("%q has no offset", *v)
			}
			zones[i] = int32(z)
		}
		sv, ns, err := scaled(text, c.scale)
		if err != nil {
			return nil, err
		}
		sec, _ := strconv.ParseInt(strings.SplitN(text, ".", 2)[0], 10, 64)
		if c.scale <= 7 || tz && c.scale <= 3 {
			if !sv.IsInt64() {
				return nil, fmt.Errorf("%q overflows int64 at scale %d", *v, c.scale)
			}
		}
		scaledV[i], epochs[i], fracs[i], valid[i] = sv.Int64(), sec, ns, true
	}
	int64s := func(v []int64) arrow.Array {
		b := array.NewInt64Builder(mem)
		defer b.Release()
		b.AppendValues(v, valid)
		return b.NewArray()
	}
	int32s := func(v []int32) arrow.Array {
		b := array.NewInt32Builder(mem)
		defer b.Release()
		b.AppendValues(v, valid)
		return b.NewArray()
	}
	var names []string
	var children []arrow.Array
	switch {
	case !tz && c.scale <= 7:
		return int64s(scaledV), nil
	case !tz:
		names, children = []string{"epoch", "fraction"}, []arrow.Array{int64s(epochs), int32s(fracs)}
	case c.scale <= 3:
		names, children = []string{"epoch", "timezone"}, []arrow.Array{int64s(scaledV), int32s(zones)}
	default:
		names, children = []string{"epoch", "fraction", "timezone"}, []arrow.Array{int64s(epochs), int32s(fracs), int32s(zones)}
	}
	defer func() {
		for _, ch := range children {
			ch.Release()
		}
	}()
	mask := memory.NewResizableBuffer(mem)
	defer mask.Release()
	nulls := 0
	mask.Resize(int(math.Ceil(float64(n) / 8)))
	clear(mask.Bytes())
	for i, ok := range valid {
		if ok {
			mask.Bytes()[i/8] |= 1 << (i % 8)
		} else {
			nulls++
		}
	}
	return array.NewStructArrayWithNulls(children, names, mask, nulls, 0)
}
