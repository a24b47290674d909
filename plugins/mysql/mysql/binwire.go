package mysql

import (
	"context"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

// Reads with float columns need the binary protocol (binary.go), whose
// rows the driver boxes value by value like the text protocol's. So they
// are read off the socket too (see wire.go): the query is prepared and
// executed there (COM_STMT_PREPARE, COM_STMT_EXECUTE, and COM_STMT_CLOSE
// after the rows), and its rows handed over as sqlsource.BinaryRows:
// integers and floats as the little-endian bytes the server sent (the
// columns' Mapping.DecodeBinary reads them), dates and times as the text
// the driver would have made of them, everything else as sent.

// Field types of the protocol that rows hold in a fixed width.
var fixedWidth = [256]int{
	0x01: 1,  // TINY
	0x02: 2,  // SHORT
	0x03: 4,  // LONG
	0x04: 4,  // FLOAT
	0x05: 8,  // DOUBLE
	0x06: -1, // NULL: no bytes
	0x08: 8,  // LONGLONG
	0x09: 4,  // INT24
	0x0d: 2,  // YEAR
	// the rest are length-encoded
}

// prepared runs q, which has no parameters, as a prepared statement.
// bin[i] says column i's mapping decodes binary numbers; numbers of
// other columns are handed over as text.
func (w *wire) prepared(ctx context.Context, conn driver.Conn, q string, bin []bool) (*binRows, error) {
	if len(q)+1 >= maxPayload {
		return nil, fmt.Errorf("query of %d bytes is too long for one packet", len(q))
	}
	r, err := w.start(ctx, conn)
	if err != nil {
		return nil, err
	}
	if err := r.send(0x16, []byte(q)); err != nil {
		return nil, r.abandon(err)
	}
	head, err := r.p.next()
	if err != nil {
		return nil, r.abandon(err)
	}
	if head[0] == 0xff {
		r.done = true
		return nil, errors.Join(errorPacket(head), r.Close())
	}
	if head[0] != 0x00 || len(head) < 12 {
		return nil, r.abandon(fmt.Errorf("malformed prepare response %x", head))
	}
	r.stmt, r.hasStmt = le32(head[1:]), true
	ncols, nparams := int(le16(head[5:])), int(le16(head[7:]))
	if nparams != 0 || ncols == 0 || ncols != len(bin) {
		return nil, r.abandon(fmt.Errorf("prepared read has %d parameters and %d columns, expected none and %d", nparams, ncols, len(bin)))
	}
	if err := r.columns(ncols); err != nil {
		return nil, r.abandon(err)
	}
	prepared := r.defs
	// COM_STMT_EXECUTE: the statement, no cursor, one iteration
	seq := r.p.seq
	exec := binary.LittleEndian.AppendUint32(nil, r.stmt)
	exec = append(exec, 0, 1, 0, 0, 0)
	if err := r.send(0x17, exec); err != nil {
		return nil, r.abandon(err)
	}
	// Without CLIENT_DEPRECATE_EOF an EOF packet ends the prepared
	// definitions: its sequence number continues theirs, where the
	// execute's answer starts a new one.
	if err := r.p.fill(4); err != nil {
		return nil, r.abandon(err)
	}
	if r.p.buf[r.p.r+3] != 1 {
		r.p.seq = seq
		eof, err := r.p.next()
		if err != nil {
			return nil, r.abandon(err)
		}
		if eof[0] != 0xfe || len(eof) != 5 {
			return nil, r.abandon(fmt.Errorf("malformed end of definitions %x", eof))
		}
		r.p.seq = 1
	}
	b := &binRows{textRows: r, binary: bin}
	b.p.widths = make([]int, ncols)
	for i, c := range prepared {
		b.p.widths[i] = fixedWidth[c.typ]
	}
	head, err = r.p.next()
	if err != nil {
		return nil, r.abandon(err)
	}
	if err := r.result(head, prepared); err != nil {
		return nil, err
	}
	if len(r.defs) != ncols {
		return nil, r.abandon(fmt.Errorf("executed statement has %d columns, prepared %d", len(r.defs), ncols))
	}
	for i, c := range r.defs {
		if fixedWidth[c.typ] != b.p.widths[i] {
			return nil, r.abandon(fmt.Errorf("column %q changed type between prepare and execute", c.name))
		}
	}
	return b, nil
}

// binRows is a binary-protocol result set read off the socket.
type binRows struct {
	*textRows
	binary  []bool
	scratch []byte
}

// BinaryValues marks the rows as sqlsource.BinaryRows.
func (r *binRows) BinaryValues() {}

// Next is not for these rows: their numbers are binary.
func (r *binRows) Next([]driver.Value) error {
	return errors.New("binary rows are read with NextRaw")
}

// NextRaw implements sqlsource.RawRows: dest[i] is nil for NULL, else the
// value's bytes, valid until the next call.
func (r *binRows) NextRaw(dest [][]byte) error {
	data, err := r.row()
	if err != nil {
		return err
	}
	if data[0] != 0x00 || len(dest) != len(r.defs) {
		return r.abandon(fmt.Errorf("malformed binary row packet"))
	}
	pos := 1 + (len(dest)+9)/8
	if pos > len(data) {
		return r.abandon(fmt.Errorf("malformed binary row packet"))
	}
	nulls := data[1:pos]
	s := r.scratch[:0]
	for i := range dest {
		c := &r.defs[i]
		if nulls[(i+2)>>3]>>((i+2)&7)&1 != 0 || c.typ == 0x06 {
			dest[i] = nil
			continue
		}
		if w := fixedWidth[c.typ]; w > 0 {
			if pos+w > len(data) {
				return r.abandon(fmt.Errorf("row packet holds fewer than %d values", len(dest)))
			}
			v := data[pos : pos+w : pos+w]
			pos += w
			if r.binary[i] {
				dest[i] = v
				continue
			}
			at := len(s)
			s = appendNumber(s, c, v)
			dest[i] = s[at:len(s):len(s)]
			continue
		}
		l, k := lenenc(data[pos:])
		end := pos + k + int(l)
		if k == 0 || end > len(data) || end < pos {
			return r.abandon(fmt.Errorf("malformed row packet"))
		}
		v := data[pos+k : end : end]
		pos = end
		switch c.typ {
		case 0x07, 0x0a, 0x0c, 0x0e: // TIMESTAMP, DATE, DATETIME, NEWDATE
			if r.binary[i] && plainDate(v) {
				dest[i] = v
				continue
			}
			fallthrough
		case 0x0b: // TIME
			at := len(s)
			var err error
			if s, err = appendTime(s, c, v); err != nil {
				return r.abandon(fmt.Errorf("column %q: %w", c.name, err))
			}
			dest[i] = s[at:len(s):len(s)]
		default:
			dest[i] = v
		}
	}
	// Values formatted into s stay valid if it grew: the old array is
	// not written again.
	r.scratch = s
	if pos != len(data) {
		return r.abandon(fmt.Errorf("row packet holds more than %d values", len(dest)))
	}
	return nil
}

// appendNumber appends a binary number's text, as the driver's value
// would be decoded.
func appendNumber(s []byte, c *column, v []byte) []byte {
	switch c.typ {
	case 0x04:
		return strconv.AppendFloat(s, float64(math.Float32frombits(le32(v))), 'g', -1, 32)
	case 0x05:
		return strconv.AppendFloat(s, math.Float64frombits(binary.LittleEndian.Uint64(v)), 'g', -1, 64)
	}
	var u uint64
	for j := len(v) - 1; j >= 0; j-- {
		u = u<<8 | uint64(v[j])
	}
	if c.unsigned {
		return strconv.AppendUint(s, u, 10)
	}
	shift := 64 - 8*len(v)
	return strconv.AppendInt(s, int64(u<<shift)>>shift, 10)
}

// appendTime appends a binary DATE, DATETIME, TIMESTAMP or TIME as text:
// what the driver makes of it (and the text protocol sends), with as many
// fractional digits as the column has.
func appendTime(s []byte, c *column, v []byte) ([]byte, error) {
	frac := int(c.decimals)
	if frac == 0x1f {
		frac = 0
	}
	if frac > 6 {
		return s, fmt.Errorf("illegal decimals %d", c.decimals)
	}
	if c.typ == 0x0b { // TIME: sign, days, hours, minutes, seconds, µs
		if len(v) == 0 {
			v = make([]byte, 8)
		}
		if len(v) != 8 && len(v) != 12 {
			return s, fmt.Errorf("binary TIME of %d bytes", len(v))
		}
		if v[0] == 1 {
			s = append(s, '-')
		}
		if h := uint64(le32(v[1:]))*24 + uint64(v[5]); h >= 100 {
			s = strconv.AppendUint(s, h, 10)
		} else {
			s = append2(s, int(h))
		}
		s = append2(append(s, ':'), int(v[6]))
		s = append2(append(s, ':'), int(v[7]))
		return appendFrac(s, v[8:], frac), nil
	}
	if len(v) == 0 {
		v = make([]byte, 4)
	}
	if len(v) != 4 && len(v) != 7 && len(v) != 11 {
		return s, fmt.Errorf("binary date of %d bytes", len(v))
	}
	y := int(le16(v))
	s = append2(append2(s, y/100%100), y%100)
	s = append2(append(s, '-'), int(v[2]))
	s = append2(append(s, '-'), int(v[3]))
	if c.typ == 0x0a || c.typ == 0x0e {
		return s, nil
	}
	if len(v) == 4 {
		v = append(v[:4:4], 0, 0, 0)
	}
	s = append2(append(s, ' '), int(v[4]))
	s = append2(append(s, ':'), int(v[5]))
	s = append2(append(s, ':'), int(v[6]))
	return appendFrac(s, v[7:], frac), nil
}

// appendFrac appends digits of microseconds us (4 bytes; none is zero).
func appendFrac(s, us []byte, digits int) []byte {
	if digits == 0 {
		return s
	}
	var n uint32
	if len(us) >= 4 {
		n = le32(us)
	}
	var d [6]byte
	for j := 5; j >= 0; j-- {
		d[j] = byte('0' + n%10)
		n /= 10
	}
	return append(append(s, '.'), d[:digits]...)
}

func append2(s []byte, n int) []byte { return append(s, byte('0'+n/10%10), byte('0'+n%10)) }

func le16(b []byte) uint16 { return binary.LittleEndian.Uint16(b) }
func le32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }

// reserveBinary is reserve for a binary-protocol row: a header byte, the
// NULL bitmap, then each non-NULL value in its column's width.
func (p *packets) reserveBinary() {
	b := p.joined
	pos := 1 + (len(p.widths)+9)/8
	if pos > len(b) {
		return
	}
	nulls := b[1:pos]
	for i, w := range p.widths {
		switch {
		case nulls[(i+2)>>3]>>((i+2)&7)&1 != 0 || w < 0:
			continue
		case w > 0:
			pos += w
			continue
		}
		if pos >= len(b) {
			return
		}
		l, k := lenenc(b[pos:])
		if k == 0 || l > 1<<30 {
			return
		}
		end := pos + k + int(l)
		if end > len(b) {
			p.grow(end)
			return
		}
		pos = end
	}
}

// plainDate reports whether a binary date or datetime is one that
// binaryDate decodes as the text decoders would decode its text: no zero
// month or day, a time of day within its bounds. Others go as text.
func plainDate(v []byte) bool {
	switch len(v) {
	case 4, 7, 11:
	default:
		return false
	}
	if v[2] < 1 || v[2] > 12 || v[3] < 1 || v[3] > 31 {
		return false
	}
	return len(v) == 4 || v[4] <= 23 && v[5] <= 59 && v[6] <= 59 && (len(v) == 7 || le32(v[7:]) < 1e6)
}

// binaryDate appends a binary date or datetime that plainDate accepts to
// a Date32 builder (its date) or a microsecond Timestamp builder.
func binaryDate(b array.Builder, v []byte) error {
	days := sqlsource.CivilDays(int64(le16(v)), int64(v[2]), int64(v[3]))
	switch x := b.(type) {
	case *array.Date32Builder:
		x.Append(arrow.Date32(days))
		return nil
	case *array.TimestampBuilder:
		if x.Type().(*arrow.TimestampType).Unit != arrow.Microsecond {
			break
		}
		us := days * 86_400_000_000
		if len(v) >= 7 {
			us += ((int64(v[4])*60+int64(v[5]))*60 + int64(v[6])) * 1_000_000
		}
		if len(v) == 11 {
			us += int64(le32(v[7:]))
		}
		x.Append(arrow.Timestamp(us))
		return nil
	}
	return fmt.Errorf("binary date into %T", b)
}
