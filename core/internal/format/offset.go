package format

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	// Registers Arrow's canonical extension types, so that IPC streams
	// from plugins arrive as them (arrow.timestamp_with_offset, ...).
	_ "github.com/apache/arrow-go/v18/arrow/extensions"
)

// offsetRenderer renders an arrow.timestamp_with_offset array (a struct
// of the instant in UTC and the offset in minutes) as the local time with
// its offset, RFC 3339: 2024-01-02T03:04:05.123456-09:30. ok is false for
// storage this does not know (then the struct is rendered as such).
func offsetRenderer(x array.ExtensionArray) (fn func([]byte, int) []byte, ok bool) {
	st, _ := x.Storage().(*array.Struct)
	if x.ExtensionType().ExtensionName() != "arrow.timestamp_with_offset" || st == nil || st.NumField() != 2 {
		return nil, false
	}
	ts, ok1 := st.Field(0).(*array.Timestamp)
	off, ok2 := st.Field(1).(*array.Int16)
	if !ok1 || !ok2 {
		return nil, false
	}
	unit := ts.DataType().(*arrow.TimestampType).Unit
	return func(b []byte, i int) []byte {
		return appendWithOffset(b, int64(ts.Value(i)), off.Value(i), unit)
	}, true
}

func appendWithOffset(b []byte, utc int64, minutes int16, u arrow.TimeUnit) []byte {
	b = appendShifted(b, utc, int64(minutes)*60, u)
	sign := byte('+')
	m := int64(minutes)
	if m < 0 {
		sign, m = '-', -m
	}
	b = append(b, sign)
	b = pad(b, m/60, 2)
	b = append(b, ':')
	return pad(b, m%60, 2)
}
