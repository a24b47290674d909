package postgres

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// errInfinite is the error of an infinite date, timestamp or interval:
// Arrow has no infinity for them, and no sentinel would be unambiguous.
func errInfinite(what string, negative bool) error {
	v := "infinity"
	if negative {
		v = "-infinity"
	}
	return sdk.Errorf(sdk.ErrUnsupportedType,
		"%s value %s cannot be represented in Arrow; filter it out (where: col <> '%s') or replace it in a query", what, v, v)
}

// maxTimestampMicros is the last PostgreSQL timestamp (microseconds since
// 2000) that fits Arrow's int64 microseconds since 1970.
const maxTimestampMicros = math.MaxInt64 - pgEpochMicros

// timestampMicros reads a binary timestamp as microseconds since 1970.
func timestampMicros(d []byte) (int64, error) {
	if len(d) != 8 {
		return 0, fmt.Errorf("timestamp of %d bytes", len(d))
	}
	v := int64(binary.BigEndian.Uint64(d))
	switch {
	case v == math.MaxInt64 || v == math.MinInt64:
		return 0, errInfinite("timestamp", v == math.MinInt64)
	case v > maxTimestampMicros:
		return 0, sdk.Errorf(sdk.ErrUnsupportedType, "timestamp is after 294247-01-10, the last instant Arrow's timestamp[us] holds")
	}
	return v + pgEpochMicros, nil
}

// dateDays reads a binary date as days since 1970.
func dateDays(d []byte) (int32, error) {
	if len(d) != 4 {
		return 0, fmt.Errorf("date of %d bytes", len(d))
	}
	v := int32(binary.BigEndian.Uint32(d))
	if v == math.MaxInt32 || v == math.MinInt32 {
		return 0, errInfinite("date", v == math.MinInt32)
	}
	return v + pgEpochDays, nil
}

func decodeTimestamp(b array.Builder) fieldDecoder {
	x := b.(*array.TimestampBuilder)
	return func(d []byte) error {
		v, err := timestampMicros(d)
		if err == nil {
			x.Append(arrow.Timestamp(v))
		}
		return err
	}
}

func decodeDate(b array.Builder) fieldDecoder {
	x := b.(*array.Date32Builder)
	return func(d []byte) error {
		v, err := dateDays(d)
		if err == nil {
			x.Append(arrow.Date32(v))
		}
		return err
	}
}

func decodeTime(b array.Builder, d []byte) error {
	if len(d) != 8 {
		return fmt.Errorf("time of %d bytes", len(d))
	}
	b.(*array.Time64Builder).Append(arrow.Time64(int64(binary.BigEndian.Uint64(d))))
	return nil
}

// decodeInterval reads PostgreSQL's interval (microseconds, days, months)
// into Arrow's month_day_nano, exactly.
func decodeInterval(b array.Builder, d []byte) error {
	if len(d) != 16 {
		return fmt.Errorf("interval of %d bytes", len(d))
	}
	us := int64(binary.BigEndian.Uint64(d))
	days := int32(binary.BigEndian.Uint32(d[8:]))
	months := int32(binary.BigEndian.Uint32(d[12:]))
	// PostgreSQL 17 writes infinite intervals with every field at its limit.
	if us == math.MaxInt64 && days == math.MaxInt32 && months == math.MaxInt32 ||
		us == math.MinInt64 && days == math.MinInt32 && months == math.MinInt32 {
		return errInfinite("interval", us < 0)
	}
	if us > math.MaxInt64/1000 || us < math.MinInt64/1000 {
		return sdk.Errorf(sdk.ErrUnsupportedType,
			"interval's time part (%d microseconds) exceeds the ±106751 days Arrow's nanoseconds hold", us)
	}
	b.(*array.MonthDayNanoIntervalBuilder).Append(arrow.MonthDayNanoInterval{Months: months, Days: days, Nanoseconds: us * 1000})
	return nil
}

// decodeInet renders inet and cidr as PostgreSQL prints them: inet
// without the prefix length when it covers the whole address, cidr always
// with it.
func decodeInet(b array.Builder, d []byte) error {
	if len(d) < 4 || len(d) != 4+int(d[3]) {
		return fmt.Errorf("malformed inet")
	}
	family, bits, isCIDR, addr := d[0], int(d[1]), d[2] != 0, d[4:]
	var s string
	switch {
	case family == 2 && len(addr) == 4:
		s = netip.AddrFrom4([4]byte(addr)).String()
	case family == 3 && len(addr) == 16:
		s = ipv6Text([16]byte(addr))
	default:
		return fmt.Errorf("inet of family %d with %d address bytes", family, len(addr))
	}
	if isCIDR || bits != 8*len(addr) {
		s += "/" + strconv.Itoa(bits)
	}
	b.(*array.StringBuilder).Append(s)
	return nil
}

// ipv6Text is Go's RFC 5952 form, except that, like PostgreSQL, an address
// whose first 96 bits are zero (but not its 7th group) ends in dotted IPv4.
func ipv6Text(a [16]byte) string {
	for _, x := range a[:12] {
		if x != 0 {
			return netip.AddrFrom16(a).String()
		}
	}
	if a[12] == 0 && a[13] == 0 {
		return netip.AddrFrom16(a).String()
	}
	return "::" + netip.AddrFrom4([4]byte(a[12:])).String()
}

// decodeMAC renders macaddr and macaddr8 as 08:00:2b:01:02:03.
func decodeMAC(b array.Builder, d []byte) error {
	if len(d) != 6 && len(d) != 8 {
		return fmt.Errorf("macaddr of %d bytes", len(d))
	}
	s := make([]byte, 0, 3*len(d))
	for i, x := range d {
		if i > 0 {
			s = append(s, ':')
		}
		s = hex.AppendEncode(s, []byte{x})
	}
	b.(*array.StringBuilder).BinaryBuilder.Append(s)
	return nil
}

// arrayElement is the element type of a one-dimensional array type name
// ("integer[]" → "integer"), or false.
func arrayElement(native string) (string, bool) {
	elem, ok := strings.CutSuffix(native, "[]")
	if !ok || strings.HasSuffix(elem, "[]") {
		return "", false
	}
	return elem, true
}

// multiDimArray reports a type declared with two or more dimensions
// ("integer[][]"), which is read as PostgreSQL's text form.
func multiDimArray(native string) bool { return strings.HasSuffix(native, "[][]") }

// decodeArray returns the decoder of a one-dimensional array whose
// elements elem decodes, into a list builder. The binary form is: ndim,
// has-null flag, element OID, (length, lower bound) per dimension, then
// each element as a length (-1 for NULL) and its bytes.
func decodeArray(elem binDecoder) binDecoder {
	return func(b array.Builder) fieldDecoder {
		lb := b.(*array.ListBuilder)
		vb := lb.ValueBuilder()
		dec := elem(vb)
		return func(d []byte) error { return appendArray(lb, vb, dec, d) }
	}
}

// appendArray appends one array value (see decodeArray).
func appendArray(lb *array.ListBuilder, vb array.Builder, elem fieldDecoder, d []byte) error {
	if len(d) < 12 {
		return fmt.Errorf("malformed array")
	}
	ndim := int32(binary.BigEndian.Uint32(d))
	if ndim == 0 {
		lb.Append(true) // the empty array
		return nil
	}
	if ndim != 1 {
		return sdk.Errorf(sdk.ErrUnsupportedType,
			"array has %d dimensions and a list holds one; declare the column with its dimensions (e.g. integer[][]) to read it as text, or flatten it in a query", ndim)
	}
	if len(d) < 20 {
		return fmt.Errorf("malformed array")
	}
	n := int(int32(binary.BigEndian.Uint32(d[12:])))
	d = d[20:]
	lb.Append(true)
	for i := 0; i < n; i++ {
		if len(d) < 4 {
			return fmt.Errorf("array is shorter than its %d elements", n)
		}
		l := int(int32(binary.BigEndian.Uint32(d)))
		d = d[4:]
		if l < 0 {
			vb.AppendNull()
			continue
		}
		if len(d) < l {
			return fmt.Errorf("array is shorter than its %d elements", n)
		}
		if err := elem(d[:l]); err != nil {
			return fmt.Errorf("element %d: %w", i+1, err)
		}
		d = d[l:]
	}
	return nil
}
