package format

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
)

// flushAt is the size at which the row buffer goes to the compressor.
const flushAt = 256 << 10

type csvEncoder struct {
	out    compressor
	schema *arrow.Schema
	buf    []byte
	tmp    []byte
	delim  []byte
	null   []byte
	header bool
	// special marks the bytes that make a field need quotes.
	special [256]bool
	started bool
	cols    []csvColumn
	// nullLikeInt: the NULL marker could be an integer's text, which must
	// then be quoted, so integers take the general path.
	nullLikeInt bool
}

// csvColumn is how one column of the current batch is written.
type csvColumn struct {
	fn   renderFunc
	kind kind
	// valid is the validity bitmap, nil when the batch has no nulls in
	// the column; off is the array's offset into it.
	valid []byte
	off   int
	// offsets and data are set for string columns, written straight from
	// their buffers; clean says none of the batch's values holds a byte
	// that needs quotes, so only their ends and lengths are looked at.
	offsets []int32
	data    []byte
	clean   bool
	// i64 and i32 are set for the integer columns, also written straight
	// from their values: the most common columns, and a call per value
	// through fn was a fifth of their cost.
	i64 []int64
	i32 []int32
	// bin is set for binary columns, whose long values are written a
	// piece at a time.
	bin binaryValues
}

type binaryValues interface {
	ValueLen(int) int
	Value(int) []byte
}

func newCSV(w io.Writer, schema *arrow.Schema, cd codec, o csvConfig) (Encoder, error) {
	if o.delimiter == '"' || o.delimiter == '\n' || o.delimiter == '\r' || !utf8.ValidRune(o.delimiter) {
		return nil, fmt.Errorf("CSV delimiter %q cannot be used", o.delimiter)
	}
	out, err := newCompressor(w, cd)
	if err != nil {
		return nil, err
	}
	e := &csvEncoder{
		out: out, schema: schema, buf: make([]byte, 0, flushAt+64<<10),
		delim: utf8.AppendRune(nil, o.delimiter), null: []byte(o.null), header: o.header,
		cols: make([]csvColumn, schema.NumFields()),
	}
	e.nullLikeInt = o.null != "" && strings.Trim(o.null, "-0123456789") == ""
	for _, c := range []byte{'"', '\n', '\r'} {
		e.special[c] = true
	}
	if len(e.delim) == 1 {
		e.special[e.delim[0]] = true
	}
	return e, nil
}

func (e *csvEncoder) start() {
	e.started = true
	if !e.header {
		return
	}
	for i, f := range e.schema.Fields() {
		if i > 0 {
			e.buf = append(e.buf, e.delim...)
		}
		e.buf = e.field(e.buf, append(e.tmp[:0], f.Name...))
	}
	e.buf = append(e.buf, '\n')
}

// needsQuotes reports whether a field must be quoted to read back as itself.
func (e *csvEncoder) needsQuotes(v []byte) bool {
	return e.quotedWhole(v) || e.hasSpecial(v)
}

// quotedWhole reports whether v needs quotes for what it is as a whole:
// empty where NULL is written as nothing, a space or tab at an end, or
// equal to the NULL marker. The rest is its bytes' (hasSpecial).
func (e *csvEncoder) quotedWhole(v []byte) bool {
	if len(v) == 0 {
		return len(e.null) == 0
	}
	if v[0] == ' ' || v[len(v)-1] == ' ' || v[0] == '\t' || v[len(v)-1] == '\t' {
		return true
	}
	return len(v) == len(e.null) && string(v) == string(e.null)
}

// hasSpecial reports whether v holds a quote, a line end or the
// delimiter. Of all of a column's values together it answers for each of
// them: a single-byte one cannot straddle two values, and a longer
// delimiter that does only makes each value checked on its own.
func (e *csvEncoder) hasSpecial(v []byte) bool {
	i := 0
	if len(e.delim) == 1 {
		// Two words at a time: words with no quote, no delimiter and no
		// byte below 0x0E (line ends among them) hold nothing special.
		// Words that may are checked byte by byte.
		d := ones * uint64(e.delim[0])
		for ; i+16 <= len(v); i += 16 {
			x, y := binary.LittleEndian.Uint64(v[i:]), binary.LittleEndian.Uint64(v[i+8:])
			if maySpecial(x, d)|maySpecial(y, d) != 0 {
				for _, c := range v[i : i+16] {
					if e.special[c] {
						return true
					}
				}
			}
		}
	}
	for ; i < len(v); i++ {
		if e.special[v[i]] {
			return true
		}
	}
	return len(e.delim) > 1 && containsBytes(v, e.delim)
}

const ones = 0x0101010101010101

// maySpecial is non-zero when a byte of x is a quote, a byte of d (the
// delimiter in each byte) or below 0x0E (line ends among them): three
// zero-byte tests (hasZeroByte) under one mask.
func maySpecial(x, d uint64) uint64 {
	const q = ones * '"'
	a, b := x^q, x^d
	return ((a-ones)&^a | (b-ones)&^b | (x-ones*('\r'+1))&^x) & (ones * 0x80)
}

// hasZeroByte is non-zero when a byte of x is zero.
func hasZeroByte(x uint64) uint64 { return (x - ones) &^ x & (ones * 0x80) }

func containsBytes(s, sub []byte) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if string(s[i:i+len(sub)]) == string(sub) {
			return true
		}
	}
	return false
}

// field appends v, quoted if needed.
func (e *csvEncoder) field(b, v []byte) []byte {
	if !e.needsQuotes(v) {
		return append(b, v...)
	}
	return quoted(b, v)
}

// quoted appends v in quotes, doubling the quotes inside.
func quoted(b, v []byte) []byte {
	return append(escapeQuotes(append(b, '"'), v), '"')
}

// escapeQuotes appends v with its quotes doubled. Most values quoted
// hold no quote (they are quoted for a delimiter, a line end or their
// ends): one byte search finds that. After a first quote it copies a word
// at a time, through each quote: quotes come every few words in text that
// has them, too often for a byte search and a copy between each.
func escapeQuotes(b, v []byte) []byte {
	i := bytes.IndexByte(v, '"')
	if i < 0 {
		return append(b, v...)
	}
	b = append(append(b, v[:i+1]...), '"')
	v = v[i+1:]
	// Pieces of 4 KiB: each makes room for its every byte a quote, which
	// a long value must not reserve at once.
	for len(v) > 4<<10 {
		b = escapePiece(b, v[:4<<10])
		v = v[4<<10:]
	}
	return escapePiece(b, v)
}

func escapePiece(b, v []byte) []byte {
	const q = uint64(ones * '"')
	b = slices.Grow(b, 2*len(v))
	n, out := len(b), b[:cap(b)]
	i := 0
	for i+8 <= len(v) {
		x := binary.LittleEndian.Uint64(v[i:])
		binary.LittleEndian.PutUint64(out[n:], x)
		m := hasZeroByte(x ^ q)
		if m == 0 {
			n, i = n+8, i+8
			continue
		}
		// The word's bytes through its first quote (the lowest flagged
		// byte: a borrow only runs upward), then the quote again.
		k := bits.TrailingZeros64(m)/8 + 1
		n, i = n+k, i+k
		out[n] = '"'
		n++
	}
	for _, c := range v[i:] {
		out[n] = c
		n++
		if c == '"' {
			out[n] = '"'
			n++
		}
	}
	return out[:n]
}

func (e *csvEncoder) Write(rec arrow.RecordBatch) error {
	if !e.started {
		e.start()
	}
	for c, a := range rec.Columns() {
		fn, k, err := renderer(a, false)
		if err != nil {
			return fmt.Errorf("column %q: %w", e.schema.Field(c).Name, err)
		}
		col := csvColumn{fn: fn, kind: k, off: a.Data().Offset()}
		if a.NullN() > 0 {
			col.valid = a.NullBitmapBytes()
		}
		switch x := a.(type) {
		case *array.String:
			col.offsets = x.ValueOffsets()
			if bufs := x.Data().Buffers(); len(bufs) > 2 && bufs[2] != nil {
				col.data = bufs[2].Bytes()
			}
			// Not when the first value is quoted for its ends: a char(n)
			// column's are all padded with spaces.
			if n := x.Len(); n > 0 && !e.quotedWhole(col.data[col.offsets[0]:col.offsets[1]]) {
				col.clean = !e.hasSpecial(col.data[col.offsets[0]:col.offsets[n]])
			}
		case *array.Int64:
			if !e.nullLikeInt {
				col.i64 = x.Int64Values()
			}
		case *array.Int32:
			if !e.nullLikeInt {
				col.i32 = x.Int32Values()
			}
		case *array.Binary:
			col.bin = x
		case *array.LargeBinary:
			col.bin = x
		}
		e.cols[c] = col
	}
	// buf, cols and the delimiter stay in locals: written through e, the
	// compiler reloads them for every value.
	buf, cols, delim, null := e.buf, e.cols, e.delim, e.null
	sep := delim[0]
	single := len(delim) == 1
	n := int(rec.NumRows())
	for i := 0; i < n; i++ {
		for c := range cols {
			col := &cols[c]
			if c > 0 {
				if single {
					buf = append(buf, sep)
				} else {
					buf = append(buf, delim...)
				}
			}
			if col.valid != nil && !bitutil.BitIsSet(col.valid, col.off+i) {
				buf = append(buf, null...)
				continue
			}
			switch {
			case col.i64 != nil:
				buf = strconv.AppendInt(buf, col.i64[i], 10)
			case col.i32 != nil:
				buf = strconv.AppendInt(buf, int64(col.i32[i]), 10)
			case col.offsets != nil:
				if v := col.data[col.offsets[i]:col.offsets[i+1]]; len(v) >= flushAt {
					e.buf = buf
					if err := e.writeLong(v, col.clean); err != nil {
						return err
					}
					buf = e.buf
				} else if e.quotedWhole(v) || !col.clean && e.hasSpecial(v) {
					buf = quoted(buf, v)
				} else {
					buf = append(buf, v...)
				}
			case col.bin != nil && col.bin.ValueLen(i) >= flushAt:
				e.buf = buf
				if err := e.writeLongBinary(col.bin.Value(i)); err != nil {
					return err
				}
				buf = e.buf
			case col.kind == str || col.kind == rawJSON:
				// Render in place; only a value that needs quotes moves.
				start := len(buf)
				buf = col.fn(buf, i)
				if e.needsQuotes(buf[start:]) {
					e.tmp = append(e.tmp[:0], buf[start:]...)
					buf = quoted(buf[:start], e.tmp)
				}
			default:
				// Numbers, dates and base64 need no quotes, unless one reads
				// as NULL: empty binary, or a value equal to the marker.
				start := len(buf)
				buf = col.fn(buf, i)
				if v := buf[start:]; len(v) == len(null) && string(v) == string(null) {
					e.tmp = append(e.tmp[:0], v...)
					buf = e.field(buf[:start], e.tmp)
				}
			}
		}
		buf = append(buf, '\n')
		if len(buf) >= flushAt {
			e.buf = buf
			if err := e.drain(); err != nil {
				return err
			}
			buf = e.buf
		}
	}
	e.buf = buf
	return nil
}

// writeLong writes a long value after the row buffer, a piece at a time:
// copied into the buffer whole, a 100 MB value would grow it to hold the
// value and keep it that large. clean: its column's scan found no special
// byte in the batch, so only the value's ends are looked at.
func (e *csvEncoder) writeLong(v []byte, clean bool) error {
	if err := e.drain(); err != nil {
		return err
	}
	if !e.quotedWhole(v) && (clean || !e.hasSpecial(v)) {
		_, err := e.out.Write(v)
		return err
	}
	e.buf = append(e.buf, '"')
	for len(v) > 0 {
		k := min(len(v), flushAt)
		e.buf = escapeQuotes(e.buf, v[:k])
		v = v[k:]
		if err := e.drain(); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, '"')
	return nil
}

// writeLongBinary writes a long binary value's base64 after the row
// buffer, a piece at a time (a multiple of 3 bytes, so that the pieces'
// base64 is the whole value's): rendered whole, a 100 MiB value took a
// 133 MiB row buffer and the copies of its growth.
func (e *csvEncoder) writeLongBinary(v []byte) error {
	const piece = flushAt / 4 * 3
	for len(v) > 0 {
		if err := e.drain(); err != nil {
			return err
		}
		k := min(len(v), piece)
		e.buf = base64.StdEncoding.AppendEncode(e.buf, v[:k])
		v = v[k:]
	}
	return nil
}

func (e *csvEncoder) drain() error {
	if len(e.buf) == 0 {
		return nil
	}
	_, err := e.out.Write(e.buf)
	e.buf = e.buf[:0]
	return err
}

func (e *csvEncoder) Flush() error {
	if err := e.drain(); err != nil {
		return err
	}
	return e.out.Flush()
}

func (e *csvEncoder) Buffered() int64 { return int64(len(e.buf)) }

func (e *csvEncoder) Close() error {
	if !e.started {
		e.start()
	}
	if err := e.drain(); err != nil {
		return err
	}
	return e.out.Close()
}
