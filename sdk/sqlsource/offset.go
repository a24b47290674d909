package sqlsource

import (
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/extensions"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TimestampWithOffset is Arrow's canonical arrow.timestamp_with_offset at
// the unit (the instant in UTC and the offset in minutes), for types such
// as SQL Server's datetimeoffset and Oracle's TIMESTAMP WITH TIME ZONE.
// Its builder appends NULL as a null struct over zero fields: the spec
// declares the fields non-nullable, and the library's builder would
// append nulls to them. Decode values with [DecodeOffsetTime].
func TimestampWithOffset(unit arrow.TimeUnit) arrow.DataType {
	return offsetType{extensions.NewTimestampWithOffsetType(unit)}
}

// OffsetUnit reports whether t is arrow.timestamp_with_offset, and its unit.
func OffsetUnit(t arrow.DataType) (arrow.TimeUnit, bool) {
	switch x := t.(type) {
	case *extensions.TimestampWithOffsetType:
		return x.TimeUnit(), true
	case offsetType:
		return x.TimeUnit(), true
	}
	return 0, false
}

// DecodeOffsetTime appends a time.Time in a fixed zone (the row's offset)
// to a [TimestampWithOffset] builder: the instant and the offset both come
// from the value. appendInstant appends the instant to the struct's
// timestamp field and may refuse it (out of the unit's range), in which
// case nothing is appended; nil appends it as arrow.TimestampFromTime does.
func DecodeOffsetTime(b array.Builder, v driver.Value, appendInstant func(array.Builder, time.Time) error) error {
	t, ok := v.(time.Time)
	if !ok {
		return fmt.Errorf("unexpected %T for a timestamp with offset", v)
	}
	_, off := t.Zone()
	if off%60 != 0 {
		return fmt.Errorf("offset %ds of %s is not whole minutes", off, t.Format(time.RFC3339Nano))
	}
	st := b.(*offsetBuilder).StorageBuilder().(*array.StructBuilder)
	if appendInstant == nil {
		appendInstant = appendTimestamp
	}
	// The instant first: a value out of the unit's range appends nothing.
	if err := appendInstant(st.FieldBuilder(0), t.UTC()); err != nil {
		return err
	}
	st.Append(true)
	st.FieldBuilder(1).(*array.Int16Builder).Append(int16(off / 60))
	return nil
}

type offsetType struct {
	*extensions.TimestampWithOffsetType
}

func (t offsetType) NewBuilder(mem memory.Allocator) array.Builder {
	return &offsetBuilder{t.TimestampWithOffsetType.NewBuilder(mem).(*extensions.TimestampWithOffsetBuilder)}
}

type offsetBuilder struct {
	*extensions.TimestampWithOffsetBuilder
}

func (b *offsetBuilder) AppendNull() { b.AppendNulls(1) }

// noValues is validity for null structs, so that appending them
// allocates nothing.
var noValues [64]bool

func (b *offsetBuilder) AppendNulls(n int) {
	st := b.StorageBuilder().(*array.StructBuilder)
	for left := n; left > 0; left -= len(noValues) {
		st.AppendValues(noValues[:min(left, len(noValues))]) // validity only
	}
	st.FieldBuilder(0).AppendEmptyValues(n)
	st.FieldBuilder(1).AppendEmptyValues(n)
}
