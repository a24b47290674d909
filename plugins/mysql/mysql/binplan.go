package mysql

import (
	"encoding/binary"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

// appendFunc appends one non-NULL value of a column, as the row packet
// holds it, to the column's builder.
type appendFunc func(v []byte) error

// planColumn chooses how binary rows append column i's values to b: the
// common pairs of wire type and builder (those of mapType's mappings)
// straight into the concrete builder, which the reader's decoders find
// by a type switch per value; anything else as NextRaw would hand the
// value to dec. What each pair appends is what dec appends (the tests
// compare every type with the text protocol, which goes through dec).
func (r *binRows) planColumn(i int, b array.Builder, dec sqlsource.TextDecoder) appendFunc {
	c := &r.defs[i]
	if r.binary[i] {
		switch c.typ {
		case 0x08: // LONGLONG
			switch x := b.(type) {
			case *array.Int64Builder:
				if !c.unsigned {
					return func(v []byte) error { x.Append(int64(binary.LittleEndian.Uint64(v))); return nil }
				}
			case *array.Uint64Builder:
				if c.unsigned {
					return func(v []byte) error { x.Append(binary.LittleEndian.Uint64(v)); return nil }
				}
			}
		case 0x03, 0x09: // LONG, INT24: four bytes
			if x, ok := b.(*array.Int32Builder); ok && !c.unsigned {
				return func(v []byte) error { x.Append(int32(binary.LittleEndian.Uint32(v))); return nil }
			}
		case 0x05: // DOUBLE
			if x, ok := b.(*array.Float64Builder); ok {
				return func(v []byte) error { x.Append(math.Float64frombits(binary.LittleEndian.Uint64(v))); return nil }
			}
		case 0x0a, 0x0e: // DATE, NEWDATE
			if x, ok := b.(*array.Date32Builder); ok {
				return r.dates(i, b, dec, func(v []byte) {
					x.Append(arrow.Date32(binaryDays(v)))
				})
			}
		case 0x07, 0x0c: // TIMESTAMP, DATETIME
			if x, ok := b.(*array.TimestampBuilder); ok && x.Type().(*arrow.TimestampType).Unit == arrow.Microsecond {
				return r.dates(i, b, dec, func(v []byte) { x.Append(arrow.Timestamp(binaryMicros(v))) })
			}
		}
	}
	switch x := b.(type) {
	case *array.Decimal128Builder:
		if c.typ == 0xf6 { // NEWDECIMAL, as text
			d := x.Type().(*arrow.Decimal128Type)
			p, s := int(d.Precision), int(d.Scale)
			return func(v []byte) error {
				if n, ok := serverDecimal(v, p, s); ok {
					x.Append(n)
					return nil
				}
				return sqlsource.TextDecimal(x, v)
			}
		}
	case *array.StringBuilder:
		if isText(c.typ) {
			return func(v []byte) error { x.BinaryBuilder.Append(v); return nil }
		}
	case *array.BinaryBuilder:
		if isText(c.typ) {
			return func(v []byte) error { x.Append(v); return nil }
		}
	}
	return func(v []byte) error {
		r.scratch = r.scratch[:0]
		t, err := r.text(i, v)
		if err != nil {
			return err
		}
		return dec(b, t)
	}
}

// dates appends binary dates that plainDate accepts by add, others as
// text by dec (zero dates, zero months or days, which the text decoder
// reads as NULL or refuses).
func (r *binRows) dates(i int, b array.Builder, dec sqlsource.TextDecoder, add func(v []byte)) appendFunc {
	c := &r.defs[i]
	return func(v []byte) error {
		if plainDate(v) {
			add(v)
			return nil
		}
		var err error
		if r.scratch, err = appendTime(r.scratch[:0], c, v); err != nil {
			return err
		}
		return dec(b, r.scratch)
	}
}

// binaryDays is a binary date or datetime's date in days since 1970.
func binaryDays(v []byte) int64 {
	return sqlsource.CivilDays(int64(le16(v)), int64(v[2]), int64(v[3]))
}

// binaryMicros is a binary date or datetime that plainDate accepts in
// microseconds since 1970.
func binaryMicros(v []byte) int64 {
	us := binaryDays(v) * 86_400_000_000
	if len(v) >= 7 {
		us += ((int64(v[4])*60+int64(v[5]))*60 + int64(v[6])) * 1_000_000
	}
	if len(v) == 11 {
		us += int64(le32(v[7:]))
	}
	return us
}

// isText reports whether values of a field type are sent as their bytes,
// which the text and binary protocols share (not numbers, dates, times
// or BIT).
func isText(typ byte) bool {
	switch typ {
	case 0x0f, 0xf5, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff:
		return true
	}
	return false
}
