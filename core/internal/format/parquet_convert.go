package format

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/decimal256"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TypeMetadataKey marks a Parquet column whose Arrow type Parquet cannot
// hold; its value is the original Arrow type.
const TypeMetadataKey = "halfpipe.arrow_type"

// converter rewrites the columns Parquet has no type for, exactly:
// durations become int64 counts of their unit, intervals become ISO 8601
// text, decimals of negative scale become integers (scale 0) and extension
// types of nested storage become that storage, also inside lists and
// structs, each field tagged with its original type.
type converter struct {
	schema *arrow.Schema
	needed bool
}

func needsConversion(t arrow.DataType) bool {
	if e, ok := t.(arrow.ExtensionType); ok {
		// pqarrow writes extension types of primitive storage only; nested
		// ones (arrow.timestamp_with_offset) are written as their storage.
		_, nested := e.StorageType().(arrow.NestedType)
		return nested || needsConversion(e.StorageType())
	}
	switch t.ID() {
	case arrow.DURATION, arrow.INTERVAL_MONTH_DAY_NANO, arrow.INTERVAL_MONTHS, arrow.INTERVAL_DAY_TIME:
		return true
	case arrow.DECIMAL128, arrow.DECIMAL256:
		// Parquet's DECIMAL has no negative scale (arrow-go panics on one).
		return t.(arrow.DecimalType).GetScale() < 0
	}
	if n, ok := t.(arrow.NestedType); ok && t.ID() != arrow.MAP {
		for _, f := range n.Fields() {
			if needsConversion(f.Type) {
				return true
			}
		}
	}
	return false
}

// convertedType is t with every duration, interval and extension type of
// nested storage replaced.
func convertedType(t arrow.DataType) arrow.DataType {
	if !needsConversion(t) {
		return t
	}
	switch x := t.(type) {
	case arrow.ExtensionType:
		return convertedType(x.StorageType())
	case *arrow.DurationType:
		return arrow.PrimitiveTypes.Int64
	case arrow.DecimalType:
		// |unscaled| < 10^p, so the integer has at most p-s digits.
		if p := x.GetPrecision() - x.GetScale(); p <= 38 {
			return &arrow.Decimal128Type{Precision: p}
		} else if p <= 76 {
			return &arrow.Decimal256Type{Precision: p}
		}
	case *arrow.ListType:
		return arrow.ListOfField(convertedField(x.ElemField()))
	case *arrow.LargeListType:
		return arrow.LargeListOfField(convertedField(x.ElemField()))
	case *arrow.FixedSizeListType:
		return arrow.FixedSizeListOfField(x.Len(), convertedField(x.ElemField()))
	case *arrow.StructType:
		fields := make([]arrow.Field, x.NumFields())
		for i, f := range x.Fields() {
			fields[i] = convertedField(f)
		}
		return arrow.StructOf(fields...)
	}
	return arrow.BinaryTypes.String
}

func convertedField(f arrow.Field) arrow.Field {
	f.Type = convertedType(f.Type)
	return f
}

func newConverter(s *arrow.Schema) *converter {
	c := &converter{schema: s}
	fields := make([]arrow.Field, s.NumFields())
	for i, f := range s.Fields() {
		fields[i] = f
		if !needsConversion(f.Type) {
			continue
		}
		c.needed = true
		md := map[string]string{TypeMetadataKey: f.Type.String()}
		for k, key := range f.Metadata.Keys() {
			md[key] = f.Metadata.Values()[k]
		}
		fields[i].Metadata = arrow.MetadataFrom(md)
		fields[i].Type = convertedType(f.Type)
	}
	if c.needed {
		md := s.Metadata()
		c.schema = arrow.NewSchema(fields, &md)
	}
	return c
}

func (c *converter) convert(rec arrow.RecordBatch) arrow.RecordBatch {
	cols := make([]arrow.Array, rec.NumCols())
	for i, a := range rec.Columns() {
		d := convertData(a.Data())
		cols[i] = array.MakeFromData(d)
		d.Release()
	}
	out := array.NewRecordBatch(c.schema, cols, rec.NumRows())
	for _, a := range cols {
		a.Release()
	}
	return out
}

// convertData returns d (retained) or its converted copy. Nested arrays
// keep their offsets and validity buffers; only the children change.
func convertData(d arrow.ArrayData) arrow.ArrayData {
	t := d.DataType()
	if !needsConversion(t) {
		d.Retain()
		return d
	}
	if e, ok := t.(arrow.ExtensionType); ok {
		storage := array.NewData(e.StorageType(), d.Len(), d.Buffers(), d.Children(), d.NullN(), d.Offset())
		defer storage.Release()
		return convertData(storage)
	}
	if _, nested := t.(arrow.NestedType); nested {
		children := make([]arrow.ArrayData, len(d.Children()))
		for i, ch := range d.Children() {
			children[i] = convertData(ch)
		}
		out := array.NewData(convertedType(t), d.Len(), d.Buffers(), children, d.NullN(), d.Offset())
		for _, ch := range children {
			ch.Release()
		}
		return out
	}
	if t.ID() == arrow.DURATION {
		// The same 64-bit values: only the type changes.
		return array.NewData(arrow.PrimitiveTypes.Int64, d.Len(), d.Buffers(), nil, d.NullN(), d.Offset())
	}
	a := array.MakeFromData(d)
	defer a.Release()
	if dt, ok := convertedType(t).(arrow.DecimalType); ok {
		return integralDecimals(a, dt, -t.(arrow.DecimalType).GetScale())
	}
	fn, _, _ := renderer(a, false)
	b := array.NewStringBuilder(memory.DefaultAllocator)
	defer b.Release()
	var buf []byte
	for r := 0; r < a.Len(); r++ {
		if a.IsNull(r) {
			b.AppendNull()
			continue
		}
		buf = fn(buf[:0], r)
		b.BinaryBuilder.Append(buf)
	}
	return ownData(b.NewArray())
}

// ownData takes an array's data, releasing the array.
func ownData(a arrow.Array) arrow.ArrayData {
	d := a.Data()
	d.Retain()
	a.Release()
	return d
}

// integralDecimals is a (decimals of scale -shift) as the integers they
// are, of type dt.
func integralDecimals(a arrow.Array, dt arrow.DecimalType, shift int32) arrow.ArrayData {
	b := array.NewBuilder(memory.DefaultAllocator, dt)
	defer b.Release()
	for r := 0; r < a.Len(); r++ {
		if a.IsNull(r) {
			b.AppendNull()
			continue
		}
		var v decimal256.Num
		switch x := a.(type) {
		case *array.Decimal128:
			n := x.Value(r)
			v = decimal256.FromBigInt(n.BigInt())
		case *array.Decimal256:
			v = x.Value(r)
		}
		v = v.Mul(decimal256.GetScaleMultiplier(int(shift)))
		switch bb := b.(type) {
		case *array.Decimal128Builder:
			bb.Append(decimal128.FromBigInt(v.BigInt()))
		case *array.Decimal256Builder:
			bb.Append(v)
		}
	}
	return ownData(b.NewArray())
}
