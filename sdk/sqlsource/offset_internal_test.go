package sqlsource

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestOffsetBuilderNulls: nulls append as null structs over zero fields,
// any number at once, and keep the fields aligned with the struct.
func TestOffsetBuilderNulls(t *testing.T) {
	b := TimestampWithOffset(arrow.Microsecond).(offsetType).NewBuilder(memory.DefaultAllocator)
	defer b.Release()
	b.AppendNull()
	b.AppendNulls(150)
	st := b.(*offsetBuilder).StorageBuilder().(*array.StructBuilder)
	if b.Len() != 151 || b.NullN() != 151 || st.FieldBuilder(0).Len() != 151 || st.FieldBuilder(1).Len() != 151 {
		t.Fatalf("len %d, nulls %d, fields %d and %d; want 151 each", b.Len(), b.NullN(), st.FieldBuilder(0).Len(), st.FieldBuilder(1).Len())
	}
	if n := st.FieldBuilder(0).NullN() + st.FieldBuilder(1).NullN(); n != 0 {
		t.Fatalf("%d null field values, want none", n)
	}
}
