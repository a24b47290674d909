package format

import (
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/extensions"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func TestTimestampWithOffsetText(t *testing.T) {
	for _, c := range []struct {
		unit arrow.TimeUnit
		t    time.Time
		want string
	}{
		{arrow.Microsecond, time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.FixedZone("", -(9*3600 + 30*60))), "2024-01-02T03:04:05.123456-09:30"},
		{arrow.Nanosecond, time.Date(2024, 12, 31, 23, 59, 59, 999999900, time.FixedZone("", 14*3600)), "2024-12-31T23:59:59.999999900+14:00"},
		{arrow.Microsecond, time.Date(1, 1, 1, 0, 0, 0, 0, time.FixedZone("", 5*3600+45*60)), "0001-01-01T00:00:00.000000+05:45"},
		{arrow.Microsecond, time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.FixedZone("", -12*3600)), "9999-12-31T23:59:59.999999-12:00"},
		{arrow.Second, time.Date(1969, 12, 31, 23, 0, 0, 0, time.UTC), "1969-12-31T23:00:00+00:00"},
	} {
		typ := extensions.NewTimestampWithOffsetType(c.unit)
		bld := typ.NewBuilder(memory.DefaultAllocator)
		bld.(*extensions.TimestampWithOffsetBuilder).Append(c.t)
		a := bld.NewArray()
		fn, ok := offsetRenderer(a.(array.ExtensionArray))
		if !ok {
			t.Fatalf("%s: not recognised", typ)
		}
		if got := string(fn(nil, 0)); got != c.want {
			t.Errorf("%v (%s): got %s, want %s", c.t, c.unit, got, c.want)
		}
		a.Release()
		bld.Release()
	}
}
