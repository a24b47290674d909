package format

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TypeMetadataKey marks a Parquet column whose Arrow type Parquet cannot
// hold; its value is the original Arrow type.
const TypeMetadataKey = "halfpipe.arrow_type"

// converter rewrites the columns Parquet has no type for, exactly:
// durations become int64 counts of their unit and intervals become ISO 8601
// text, each field tagged with its original type.
type converter struct {
	schema *arrow.Schema
	needed bool
}

func needsConversion(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.DURATION, arrow.INTERVAL_MONTH_DAY_NANO, arrow.INTERVAL_MONTHS, arrow.INTERVAL_DAY_TIME:
		return true
	}
	return false
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
		if f.Type.ID() == arrow.DURATION {
			fields[i].Type = arrow.PrimitiveTypes.Int64
		} else {
			fields[i].Type = arrow.BinaryTypes.String
		}
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
		if !needsConversion(a.DataType()) {
			a.Retain()
			cols[i] = a
			continue
		}
		if d, ok := a.(*array.Duration); ok {
			b := array.NewInt64Builder(memory.DefaultAllocator)
			for r := 0; r < d.Len(); r++ {
				if d.IsNull(r) {
					b.AppendNull()
				} else {
					b.Append(int64(d.Value(r)))
				}
			}
			cols[i] = b.NewArray()
			b.Release()
			continue
		}
		fn, _, _ := renderer(a, false)
		b := array.NewStringBuilder(memory.DefaultAllocator)
		var buf []byte
		for r := 0; r < a.Len(); r++ {
			if a.IsNull(r) {
				b.AppendNull()
				continue
			}
			buf = fn(buf[:0], r)
			b.BinaryBuilder.Append(buf)
		}
		cols[i] = b.NewArray()
		b.Release()
	}
	out := array.NewRecordBatch(c.schema, cols, rec.NumRows())
	for _, a := range cols {
		a.Release()
	}
	return out
}
