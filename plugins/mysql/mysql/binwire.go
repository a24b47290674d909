package mysql

import (
	"context"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/sdk"
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
func (w *wire) prepared(ctx context.Context, conn driver.Conn, q string, bin []bool, want []described) (*binRows, error) {
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
	// Before anything runs: a column whose type changed since it was
	// described would be decoded as the old type's bytes.
	if err := checkDescribed(prepared, want); err != nil {
		return nil, r.abandon(err)
	}
	// COM_STMT_EXECUTE: the statement, no cursor, one iteration
	seq := r.p.seq
	exec := binary.LittleEndian.AppendUint32(nil, r.stmt)
	exec = append(exec, 0, 1, 0, 0, 0)
	if err := r.send(0x17, exec); err != nil {
		return nil, r.abandon(err)
	}
	// Without CLIENT_DEPRECATE_EOF an EOF packet ends the prepared
	// definitions, its sequence number continuing theirs. It is told
	// from the execute's answer by its shape (5 bytes from 0xfe, which
	// neither a column count nor an OK or error packet has), not by the
	// sequence number, which for 255 columns wraps to the 1 the answer
	// starts with.
	if err := r.p.fill(5); err != nil {
		return nil, r.abandon(err)
	}
	if h := r.p.buf[r.p.r:]; h[0] == 5 && h[1] == 0 && h[2] == 0 && h[4] == 0xfe {
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
	// plan appends each column's values for AppendRow, made at its
	// first call
	plan []appendFunc
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
	if len(dest) != len(r.defs) {
		return r.abandon(fmt.Errorf("%d values asked of rows of %d columns", len(dest), len(r.defs)))
	}
	_, err := r.decode(dest, nil)
	return err
}

// AppendRow implements sqlsource.AppendRows: each column's values go to
// its builder by the plan (binplan.go), without passing through NextRaw's
// bytes and the decoders' choice of builder type per value.
func (r *binRows) AppendRow(fields []array.Builder, decoders []sqlsource.TextDecoder) (int, error) {
	if r.plan == nil {
		if len(fields) != len(r.defs) || len(decoders) != len(r.defs) {
			return 0, r.abandon(fmt.Errorf("%d builders asked of rows of %d columns", len(fields), len(r.defs)))
		}
		r.plan = make([]appendFunc, len(fields))
		for i := range fields {
			r.plan[i] = r.planColumn(i, fields[i], decoders[i])
		}
	}
	return r.decode(nil, fields)
}

// decode reads the next row: into dest (NextRaw) or, when dest is nil,
// to fields by the plan. It returns the row's bytes.
func (r *binRows) decode(dest [][]byte, fields []array.Builder) (int, error) {
	data, err := r.row()
	if err != nil {
		return 0, err
	}
	n := len(r.defs)
	if data[0] != 0x00 {
		return 0, r.abandon(fmt.Errorf("malformed binary row packet"))
	}
	pos := 1 + (n+9)/8
	if pos > len(data) {
		return 0, r.abandon(fmt.Errorf("malformed binary row packet"))
	}
	nulls := data[1:pos]
	r.scratch = r.scratch[:0]
	for i := 0; i < n; i++ {
		w := r.p.widths[i]
		if nulls[(i+2)>>3]>>((i+2)&7)&1 != 0 || w < 0 {
			if dest != nil {
				dest[i] = nil
			} else {
				fields[i].AppendNull()
			}
			continue
		}
		var v []byte
		if w > 0 {
			if pos+w > len(data) {
				return 0, r.abandon(fmt.Errorf("row packet holds fewer than %d values", n))
			}
			v = data[pos : pos+w : pos+w]
			pos += w
		} else {
			l, k := lenenc(data[pos:])
			end := pos + k + int(l)
			if k == 0 || end > len(data) || end < pos {
				return 0, r.abandon(fmt.Errorf("malformed row packet"))
			}
			v = data[pos+k : end : end]
			pos = end
		}
		if dest == nil {
			if err := r.plan[i](v); err != nil {
				return 0, &sqlsource.ColumnError{Column: i, Err: err}
			}
			continue
		}
		if dest[i], err = r.text(i, v); err != nil {
			return 0, r.abandon(fmt.Errorf("column %q: %w", r.defs[i].name, err))
		}
	}
	if pos != len(data) {
		return 0, r.abandon(fmt.Errorf("row packet holds more than %d values", n))
	}
	return len(data), nil
}

// text is column i's binary value v as NextRaw hands it over: as sent,
// or formatted into r.scratch. Values formatted there stay valid if it
// grows: the old array is not written again.
func (r *binRows) text(i int, v []byte) ([]byte, error) {
	c := &r.defs[i]
	at := len(r.scratch)
	switch c.typ {
	case 0x01, 0x02, 0x03, 0x04, 0x05, 0x08, 0x09, 0x0d: // fixed-width numbers
		if r.binary[i] {
			return v, nil
		}
		r.scratch = appendNumber(r.scratch, c, v)
	case 0x07, 0x0a, 0x0c, 0x0e: // TIMESTAMP, DATE, DATETIME, NEWDATE
		if r.binary[i] && plainDate(v) {
			return v, nil
		}
		fallthrough
	case 0x0b: // TIME
		var err error
		if r.scratch, err = appendTime(r.scratch, c, v); err != nil {
			return nil, err
		}
	default:
		return v, nil
	}
	return r.scratch[at:len(r.scratch):len(r.scratch)], nil
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
	switch x := b.(type) {
	case *array.Date32Builder:
		x.Append(arrow.Date32(binaryDays(v)))
		return nil
	case *array.TimestampBuilder:
		if x.Type().(*arrow.TimestampType).Unit != arrow.Microsecond {
			break
		}
		x.Append(arrow.Timestamp(binaryMicros(v)))
		return nil
	}
	return fmt.Errorf("binary date into %T", b)
}

// described says which protocol field types a described column's values
// may come in to be decoded as its mapping does: none listed when any
// type reads right (the mapping takes text, whatever the column holds
// now); integer, any integer of the same signedness (a value too large
// for the described type is refused as it is appended).
type described struct {
	native   string
	types    []byte
	integer  bool
	unsigned bool
}

// describedTypes are the field types cols (as described, before the
// read) may come in.
func describedTypes(cols []sqlsource.ColumnMeta) []described {
	out := make([]described, len(cols))
	for i, c := range cols {
		t := strings.ToLower(strings.TrimSpace(c.NativeType))
		base := strings.TrimPrefix(t, "unsigned ")
		if j := strings.IndexAny(base, "( "); j >= 0 {
			base = base[:j]
		}
		d := described{native: c.NativeType, unsigned: strings.Contains(t, "unsigned")}
		switch base {
		case "tinyint", "smallint", "mediumint", "int", "integer", "bigint":
			d.integer = true
		case "year":
			d.types = []byte{0x0d}
		case "float":
			d.types = []byte{0x04}
		case "double", "real":
			d.types = []byte{0x05}
		case "decimal", "numeric":
			d.types = []byte{0xf6, 0x00} // NEWDECIMAL, DECIMAL
		case "date":
			d.types = []byte{0x0a, 0x0e} // DATE, NEWDATE
		case "datetime", "timestamp":
			d.types = []byte{0x0c, 0x07}
		case "bit":
			d.types = []byte{0x10}
		}
		out[i] = d
	}
	return out
}

// checkDescribed refuses a result whose columns are not those described
// (an ALTER TABLE between describe and read): their values would be
// decoded as the described type's, numbers from a string's bytes.
func checkDescribed(defs []column, want []described) error {
	if want == nil {
		return nil
	}
	if len(defs) != len(want) {
		return fmt.Errorf("%w: the read returns %d columns, %d were described: the table changed meanwhile; run again", sdk.ErrFailedPrecondition, len(defs), len(want))
	}
	for i, c := range defs {
		w := want[i]
		ok := !w.integer && len(w.types) == 0
		if w.integer {
			ok = isInteger(c.typ) && c.unsigned == w.unsigned
		}
		for _, t := range w.types {
			ok = ok || c.typ == t
		}
		if !ok {
			table := c.table
			if table == "" {
				table = "the query"
			}
			return fmt.Errorf("%w: table %s changed since hp described it: column %q was %s, the server now sends it as %s; run again",
				sdk.ErrFailedPrecondition, table, c.name, w.native, fieldTypeName(c))
		}
	}
	return nil
}

// fieldTypeName names a protocol field type for errors.
func fieldTypeName(c column) string {
	names := map[byte]string{0x00: "DECIMAL", 0x01: "TINYINT", 0x02: "SMALLINT", 0x03: "INT", 0x04: "FLOAT", 0x05: "DOUBLE", 0x06: "NULL",
		0x07: "TIMESTAMP", 0x08: "BIGINT", 0x09: "MEDIUMINT", 0x0a: "DATE", 0x0b: "TIME", 0x0c: "DATETIME", 0x0d: "YEAR", 0x0e: "DATE",
		0x0f: "VARCHAR", 0x10: "BIT", 0xf5: "JSON", 0xf6: "DECIMAL", 0xf7: "ENUM", 0xf8: "SET", 0xf9: "TINYBLOB", 0xfa: "MEDIUMBLOB",
		0xfb: "LONGBLOB", 0xfc: "BLOB/TEXT", 0xfd: "VARCHAR", 0xfe: "CHAR", 0xff: "GEOMETRY"}
	n, ok := names[c.typ]
	if !ok {
		n = fmt.Sprintf("field type 0x%02x", c.typ)
	}
	if c.unsigned && isInteger(c.typ) {
		n += " UNSIGNED"
	}
	return n
}

// isInteger reports whether a field type is TINYINT, SMALLINT,
// MEDIUMINT, INT or BIGINT.
func isInteger(typ byte) bool {
	switch typ {
	case 0x01, 0x02, 0x03, 0x08, 0x09:
		return true
	}
	return false
}
