package postgres

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/decimal256"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/batch"
)

// binDecoder binds a column's decoder to the column's builder, once per
// read: the field decoder it returns appends one non-NULL binary COPY field
// without asserting the builder's type on every value.
type binDecoder func(b array.Builder) fieldDecoder

type fieldDecoder func(data []byte) error

// each binds a decoder that takes its builder with every value, for types
// off the hot path.
func each(dec func(b array.Builder, data []byte) error) binDecoder {
	return func(b array.Builder) fieldDecoder { return func(d []byte) error { return dec(b, d) } }
}

// fixed returns the decoder of a fixed-size binary form: put appends the
// value of a field of size bytes to the builder B.
func fixed[B array.Builder](size int, what string, put func(b B, d []byte)) binDecoder {
	return func(b array.Builder) fieldDecoder {
		x := b.(B)
		return func(d []byte) error {
			if len(d) != size {
				return fmt.Errorf("%s of %d bytes", what, len(d))
			}
			put(x, d)
			return nil
		}
	}
}

// pgEpoch is 2000-01-01, the origin of PostgreSQL's binary dates and times.
const pgEpochDays = 10957

const pgEpochMicros = pgEpochDays * 86400 * 1_000_000

// binaryDecoder returns the decoder of a column's binary form, or nil when
// the type has none here (the read then falls back to the generic path).
func binaryDecoder(native string) binDecoder {
	t := strings.ToLower(native)
	if elem, ok := arrayElement(t); ok {
		if dec := binaryDecoder(elem); dec != nil {
			return decodeArray(dec)
		}
		return nil
	}
	if multiDimArray(t) {
		return nil
	}
	switch {
	case numericPS.MatchString(t):
		return decodeNumeric
	case t == "numeric":
		return each(decodeNumericText)
	}
	switch t {
	case "smallint":
		return fixed(2, "smallint", func(b *array.Int16Builder, d []byte) { b.Append(int16(binary.BigEndian.Uint16(d))) })
	case "integer":
		return fixed(4, "integer", func(b *array.Int32Builder, d []byte) { b.Append(int32(binary.BigEndian.Uint32(d))) })
	case "bigint":
		return fixed(8, "bigint", func(b *array.Int64Builder, d []byte) { b.Append(int64(binary.BigEndian.Uint64(d))) })
	case "real":
		return fixed(4, "real", func(b *array.Float32Builder, d []byte) { b.Append(math.Float32frombits(binary.BigEndian.Uint32(d))) })
	case "double precision":
		return fixed(8, "double precision", func(b *array.Float64Builder, d []byte) { b.Append(math.Float64frombits(binary.BigEndian.Uint64(d))) })
	case "boolean":
		return fixed(1, "boolean", func(b *array.BooleanBuilder, d []byte) { b.Append(d[0] != 0) })
	case "bytea":
		return func(b array.Builder) fieldDecoder {
			x := b.(*array.BinaryBuilder)
			return func(d []byte) error { x.Append(d); return nil }
		}
	case "jsonb":
		return each(func(b array.Builder, d []byte) error {
			if len(d) == 0 || d[0] != 1 {
				return fmt.Errorf("unknown jsonb version")
			}
			b.(*array.StringBuilder).BinaryBuilder.Append(d[1:])
			return nil
		})
	case "uuid":
		return fixed(16, "uuid", func(b *array.StringBuilder, d []byte) {
			var s [36]byte
			hex.Encode(s[0:8], d[0:4])
			s[8] = '-'
			hex.Encode(s[9:13], d[4:6])
			s[13] = '-'
			hex.Encode(s[14:18], d[6:8])
			s[18] = '-'
			hex.Encode(s[19:23], d[8:10])
			s[23] = '-'
			hex.Encode(s[24:], d[10:16])
			b.BinaryBuilder.Append(s[:])
		})
	case "date":
		return decodeDate
	case "inet", "cidr":
		return each(decodeInet)
	case "macaddr", "macaddr8":
		return each(decodeMAC)
	}
	if textNative(t) {
		return decodeText
	}
	if strings.HasPrefix(t, "timestamp") {
		return decodeTimestamp
	}
	if strings.HasPrefix(t, "time") && !strings.Contains(t, "with time zone") {
		return each(decodeTime)
	}
	if strings.HasPrefix(t, "interval") {
		return each(decodeInterval)
	}
	return nil
}

// textNative reports whether the lower-case native type is sent as its text.
func textNative(t string) bool {
	switch t {
	case "text", "name", "json", "xml", "citext", "character":
		return true
	}
	return strings.HasPrefix(t, "character varying") || strings.HasPrefix(t, "character(")
}

func decodeText(b array.Builder) fieldDecoder {
	x := b.(*array.StringBuilder)
	return func(d []byte) error { x.BinaryBuilder.Append(d); return nil }
}

// numericParts reads PostgreSQL's binary numeric: base-10000 digits, the
// weight of the first, the sign and the display scale.
func numericParts(d []byte) (digits []uint16, weight int, sign uint16, err error) {
	if len(d) < 8 {
		return nil, 0, 0, fmt.Errorf("short numeric")
	}
	n := int(binary.BigEndian.Uint16(d))
	weight = int(int16(binary.BigEndian.Uint16(d[2:])))
	sign = binary.BigEndian.Uint16(d[4:])
	if len(d) < 8+2*n {
		return nil, 0, 0, fmt.Errorf("short numeric")
	}
	digits = make([]uint16, n)
	for i := range digits {
		digits[i] = binary.BigEndian.Uint16(d[8+2*i:])
	}
	switch sign {
	case 0x0000, 0x4000:
		return digits, weight, sign, nil
	case 0xC000:
		return nil, 0, 0, errNotDecimal("NaN")
	case 0xF000:
		return nil, 0, 0, errNotDecimal("-Infinity")
	}
	return nil, 0, 0, errNotDecimal("Infinity")
}

// errNotDecimal is the error of a numeric(p,s) value that no decimal holds.
func errNotDecimal(v string) error {
	return sdk.Errorf(sdk.ErrUnsupportedType,
		"numeric value %s has no decimal form; filter it out (where: col <> '%s') or read the column as text in a query (col::text)", v, v)
}

// numericUnscaled returns the value times 10^scale, exactly.
func numericUnscaled(d []byte, scale int32) (*big.Int, bool, error) {
	digits, weight, sign, err := numericParts(d)
	if err != nil {
		return nil, false, err
	}
	v := new(big.Int)
	base := big.NewInt(10000)
	for _, g := range digits {
		v.Mul(v, base).Add(v, big.NewInt(int64(g)))
	}
	// The last group's power of ten, then shifted by the scale.
	exp := 4*(weight-len(digits)+1) + int(scale)
	if exp >= 0 {
		v.Mul(v, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(exp)), nil))
	} else {
		q, r := new(big.Int).QuoRem(v, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-exp)), nil), new(big.Int))
		if r.Sign() != 0 {
			return nil, false, fmt.Errorf("numeric has more decimals than the column's scale %d", scale)
		}
		v = q
	}
	return v, sign == 0x4000, nil
}

func decodeNumeric(b array.Builder) fieldDecoder {
	switch db := b.(type) {
	case *array.Decimal128Builder:
		scale := db.Type().(*arrow.Decimal128Type).Scale
		return func(d []byte) error {
			n, err := numeric128(d, scale)
			if err == nil {
				db.Append(n)
			}
			return err
		}
	case *array.Decimal256Builder:
		scale := db.Type().(*arrow.Decimal256Type).Scale
		return func(d []byte) error {
			if n, ok := fastNumeric128(d, scale); ok {
				db.Append(decimal256.FromDecimal128(n))
				return nil
			}
			v, neg, err := numericUnscaled(d, scale)
			if err != nil {
				return err
			}
			if neg {
				v.Neg(v)
			}
			db.Append(decimal256.FromBigInt(v))
			return nil
		}
	}
	return func([]byte) error { return fmt.Errorf("numeric into %T", b) }
}

// numeric128 converts a numeric to a decimal128 of the scale, without
// allocating when the result has at most 38 digits.
func numeric128(d []byte, scale int32) (decimal128.Num, error) {
	if n, ok := fastNumeric128(d, scale); ok {
		return n, nil
	}
	v, neg, err := numericUnscaled(d, scale)
	if err != nil {
		return decimal128.Num{}, err
	}
	if neg {
		v.Neg(v)
	}
	return decimal128.FromBigInt(v), nil
}

// fastNumeric128 is numeric128 in 128-bit integer arithmetic: the value
// times 10^scale, with ok false (for the exact path to handle, errors
// included) unless that is an integer below 10^38 in magnitude.
func fastNumeric128(d []byte, scale int32) (decimal128.Num, bool) {
	if len(d) < 8 {
		return decimal128.Num{}, false
	}
	n := int(binary.BigEndian.Uint16(d))
	weight := int(int16(binary.BigEndian.Uint16(d[2:])))
	sign := binary.BigEndian.Uint16(d[4:])
	if (sign != 0 && sign != 0x4000) || len(d) < 8+2*n {
		return decimal128.Num{}, false
	}
	groups := d[8 : 8+2*n]
	// exp is the power of ten of the last group's unit in the result.
	exp := 4*(weight-n+1) + int(scale)
	// Groups below the scale's last digit must hold zeros only; a partial
	// one is divided, so that only whole multiplications remain.
	for exp <= -4 && len(groups) > 0 {
		if groups[len(groups)-2] != 0 || groups[len(groups)-1] != 0 {
			return decimal128.Num{}, false
		}
		groups, exp = groups[:len(groups)-2], exp+4
	}
	var hi, lo uint64
	for i := 0; i < len(groups); i += 2 {
		g, m := uint64(binary.BigEndian.Uint16(groups[i:])), uint64(10000)
		if i == len(groups)-2 && exp < 0 {
			// Constant divisors, which compile to multiplications.
			var r uint64
			switch exp {
			case -1:
				g, r, m = g/10, g%10, 1000
			case -2:
				g, r, m = g/100, g%100, 100
			case -3:
				g, r, m = g/1000, g%1000, 10
			}
			if r != 0 {
				return decimal128.Num{}, false
			}
			exp = 0
		}
		if hi == 0 && lo < 1<<50 {
			// lo*m+g stays below 2^64: the common small values.
			lo = lo*m + g
			continue
		}
		var ok bool
		if hi, lo, ok = mulAdd128(hi, lo, m, g); !ok {
			return decimal128.Num{}, false
		}
	}
	if hi|lo == 0 {
		exp = 0
	}
	for exp > 0 {
		k := min(exp, 19)
		var ok bool
		if hi, lo, ok = mulAdd128(hi, lo, pow10u64(k), 0); !ok {
			return decimal128.Num{}, false
		}
		exp -= k
	}
	v := decimal128.New(int64(hi), lo)
	if hi != 0 && (hi>>63 != 0 || !v.FitsInPrecision(38)) {
		return decimal128.Num{}, false
	}
	if sign == 0x4000 {
		v = v.Negate()
	}
	return v, true
}

// pow10u64 is 10^k for k up to 19, the powers of ten a uint64 holds.
func pow10u64(k int) uint64 { return decimal128.GetScaleMultiplier(k).LowBits() }

// mulAdd128 returns the unsigned 128-bit hi:lo times m plus a, with ok
// false when that overflows.
func mulAdd128(hi, lo, m, a uint64) (uint64, uint64, bool) {
	h1, l := bits.Mul64(lo, m)
	h2, h := bits.Mul64(hi, m)
	h, c1 := bits.Add64(h, h1, 0)
	l, c2 := bits.Add64(l, a, 0)
	h, c3 := bits.Add64(h, 0, c2)
	return h, l, h2 == 0 && c1 == 0 && c3 == 0
}

// decodeNumericText renders an unconstrained numeric exactly as text.
func decodeNumericText(b array.Builder, d []byte) error {
	if len(d) >= 8 {
		// Text holds what a decimal cannot, as the server prints it.
		switch binary.BigEndian.Uint16(d[4:]) {
		case 0xC000:
			b.(*array.StringBuilder).Append("NaN")
			return nil
		case 0xD000:
			b.(*array.StringBuilder).Append("Infinity")
			return nil
		case 0xF000:
			b.(*array.StringBuilder).Append("-Infinity")
			return nil
		}
	}
	digits, weight, sign, err := numericParts(d)
	if err != nil {
		return err
	}
	dscale := int(binary.BigEndian.Uint16(d[6:]))
	var s strings.Builder
	if sign == 0x4000 {
		s.WriteByte('-')
	}
	if weight < 0 {
		s.WriteByte('0')
	}
	for i := 0; i <= weight; i++ {
		g := 0
		if i < len(digits) {
			g = int(digits[i])
		}
		if i == 0 {
			s.WriteString(strconv.Itoa(g))
		} else {
			fmt.Fprintf(&s, "%04d", g)
		}
	}
	if dscale > 0 {
		var frac strings.Builder
		for i := weight + 1; frac.Len() < dscale; i++ {
			g := 0
			if i >= 0 && i < len(digits) {
				g = int(digits[i])
			}
			fmt.Fprintf(&frac, "%04d", g)
		}
		s.WriteByte('.')
		s.WriteString(frac.String()[:dscale])
	}
	b.(*array.StringBuilder).Append(s.String())
	return nil
}

var copySignature = []byte("PGCOPY\n\xff\r\n\x00")

// rowDecoder is the io.Writer that pgconn's CopyTo writes the binary COPY
// stream into. The server sends the header with the first row and one
// CopyData message per row, but a row split across writes is carried over
// rather than assumed away.
type rowDecoder struct {
	ctx      context.Context
	cols     []column
	schema   *arrow.Schema
	maxRows  int
	maxBytes int64
	started  chan struct{}
	out      chan arrow.RecordBatch
	flight   *batch.Flight
	header   bool
	ended    bool
	carry    []byte
	row      int64
	// rows counts the rows of the batch being built, capacity the rows its
	// buffers hold; size estimates its bytes in Arrow's layout.
	rows     int
	capacity int
	size     int64
	rowBytes int64 // the fixed part of size per row
	// owned says the bytes being decoded are a message buffer pgx made
	// for that message alone and never reuses, which a batch may keep.
	owned bool
	// undoable: every column can take back a value (none is a builder).
	undoable bool
	err      error
}

// pgxPooledMax is the largest message buffer pgx takes from (and returns
// to) its pool (pgx/v5 internal/iobufpool: 18 sizes from 256 bytes). A
// CopyData message larger than that arrives in a buffer made for it and
// dropped after it, so text and bytea values in it become Arrow values
// without being copied, and a huge value is held once rather than twice.
// TestLargeByteaRoundTrip holds a batch of such values while pgx reads the
// next message, so a pgx that reused these buffers would fail it.
const pgxPooledMax = 32 << 20

// newRowDecoder returns a decoder that sends batches of at most maxRows
// rows and about maxBytes bytes (0 or less: the defaults) on its out
// channel.
func newRowDecoder(ctx context.Context, schema *arrow.Schema, natives []string, decoders []binDecoder, maxRows, maxBytes int64) *rowDecoder {
	if maxRows <= 0 {
		maxRows = batch.DefaultMaxRows
	}
	if maxBytes <= 0 {
		maxBytes = batch.DefaultMaxBytes
	}
	d := &rowDecoder{ctx: ctx, schema: schema, maxRows: int(maxRows), maxBytes: maxBytes,
		started: make(chan struct{}), out: make(chan arrow.RecordBatch, 1), flight: batch.NewFlight(2 * maxBytes)}
	d.capacity = min(d.maxRows, 1024)
	for i, dec := range decoders {
		typ := schema.Field(i).Type
		c := newColumn(batch.Allocator(), natives[i], typ, dec, rawKind(natives[i], typ))
		c.dataMem = batch.OverwrittenAllocator()
		c.alloc(d.capacity, 0)
		d.rowBytes += int64(widths[c.kind])
		d.cols = append(d.cols, c)
	}
	return d
}

func (d *rowDecoder) Write(p []byte) (int, error) {
	n := len(p)
	d.owned = len(d.carry) == 0 && n > pgxPooledMax
	if len(d.carry) > 0 {
		d.carry = append(d.carry, p...)
		p = d.carry
	}
	rest, err := d.decode(p)
	if err != nil {
		d.err = err
		return 0, err
	}
	switch {
	case len(rest) == 0 && cap(d.carry) > 1<<20:
		d.carry = nil // a huge row was split: do not keep its buffer
	case len(rest) == 0:
		d.carry = d.carry[:0]
	case len(d.carry) > 0:
		// rest is the tail of carry.
		d.carry = d.carry[:copy(d.carry, rest)]
	default:
		d.carry = append(d.carry, rest...)
	}
	return n, nil
}

// decode decodes the complete rows at the start of p and returns the
// bytes of an incomplete one.
func (d *rowDecoder) decode(p []byte) ([]byte, error) {
	if !d.header {
		if len(p) < 19 {
			return p, nil
		}
		if string(p[:11]) != string(copySignature) {
			return nil, errors.New("COPY stream does not start with the binary COPY signature")
		}
		ext := int(binary.BigEndian.Uint32(p[15:]))
		if len(p) < 19+ext {
			return p, nil
		}
		p = p[19+ext:]
		d.header = true
		d.undoable = true
		for i := range d.cols {
			d.undoable = d.undoable && d.cols[i].kind != kindBuilder
		}
		close(d.started)
	}
	nf := len(d.cols)
	for len(p) >= 2 {
		if d.ended {
			return nil, errors.New("COPY sent data after its end marker")
		}
		count := int16(binary.BigEndian.Uint16(p))
		if count == -1 {
			d.ended = true
			p = p[2:]
			continue
		}
		if int(count) != nf {
			return nil, fmt.Errorf("COPY row has %d fields, expected %d", count, nf)
		}
		// A row that starts a batch, or one whose columns could not take
		// back a value (builders), is measured before any field is
		// decoded; the others are decoded in one pass, undone if short.
		if d.rows == 0 || d.owned || !d.undoable {
			end := rowEnd(p, nf)
			if end < 0 {
				return p, nil
			}
			// A row in a buffer of its own starts a batch, so that its
			// values can be the batch's buffers.
			if d.owned && d.rows > 0 {
				if err := d.send(); err != nil {
					return nil, err
				}
			}
			// A new batch waits while the ones before it hold the budget,
			// so that huge rows are not copied into a batch each while
			// earlier ones are still being sent.
			if d.rows == 0 {
				if err := d.flight.Wait(d.ctx, int64(end)); err != nil {
					return nil, err
				}
			}
		}
		d.row++
		if d.rows == d.capacity {
			d.capacity = min(2*d.capacity, d.maxRows)
			for i := range d.cols {
				d.cols[i].grow(d.capacity)
			}
		}
		end, err := d.putRow(p)
		if err != nil {
			return nil, err
		}
		if end < 0 {
			d.row--
			return p, nil
		}
		d.rows++
		d.size += d.rowBytes
		p = p[end:]
		if d.rows >= d.maxRows || d.size >= d.maxBytes {
			if err := d.send(); err != nil {
				return nil, err
			}
		}
	}
	return p, nil
}

// rowEnd returns the length of the row at the start of p, or -1 when p
// does not hold all of it.
func rowEnd(p []byte, nf int) int {
	end := 2
	for i := 0; i < nf; i++ {
		if len(p) < end+4 {
			return -1
		}
		if n := int32(binary.BigEndian.Uint32(p[end:])); n > 0 {
			end += int(n)
		}
		end += 4
	}
	if len(p) < end {
		return -1
	}
	return end
}

// putRow decodes the row at the start of p as row d.rows and returns its
// length, or -1, with the fields decoded so far undone, when p ends
// before it does.
func (d *rowDecoder) putRow(p []byte) (int, error) {
	off := 2
	size := d.size
	for i := range d.cols {
		c := &d.cols[i]
		if len(p) < off+4 {
			return d.undo(i, size), nil
		}
		n := int32(binary.BigEndian.Uint32(p[off:]))
		off += 4
		if n < 0 {
			c.null(d.rows)
			continue
		}
		if len(p)-off < int(n) {
			return d.undo(i, size), nil
		}
		// The commonest fields here, without a call; the others, and
		// fields of the wrong size, in put.
		v := p[off : off+int(n)]
		switch {
		case c.kind == kindSwap8 && n == 8:
			binary.LittleEndian.PutUint64(c.fixed[8*d.rows:], binary.BigEndian.Uint64(v))
		case c.kind == kindSwap4 && n == 4:
			binary.LittleEndian.PutUint32(c.fixed[4*d.rows:], binary.BigEndian.Uint32(v))
		case c.kind == kindBytes:
			if d.owned && len(c.data) == 0 {
				c.take(d.rows, v)
			} else {
				if len(c.data)+len(v) > cap(c.data) {
					c.growData(len(v))
				}
				c.data = append(c.data, v...)
				c.offsets[d.rows+1] = int32(len(c.data))
			}
			d.size += int64(n)
		default:
			if err := c.put(d.rows, v); err != nil {
				return 0, fmt.Errorf("row %d, column %q (%s): %w", d.row, d.schema.Field(i).Name, c.what, err)
			}
			if c.kind == kindBuilder {
				d.size += int64(n)
			}
		}
		off += int(n)
	}
	return off, nil
}

// undo takes back row d.rows from the columns before column n and the
// batch size to size, and returns -1.
func (d *rowDecoder) undo(n int, size int64) int {
	for i := range d.cols[:n] {
		d.cols[i].undo(d.rows)
	}
	d.size = size
	return -1
}

// send hands the batch built so far to the reader, waiting while the
// reader still holds the one before. The next batch's buffers are sized
// like this one's, variable-size data with an eighth more room: growing
// copies the whole buffer, and the next batch's values are as often
// longer as shorter.
func (d *rowDecoder) send() error {
	arrs := make([]arrow.Array, len(d.cols))
	for i := range d.cols {
		c := &d.cols[i]
		data := len(c.data)
		arrs[i] = c.array(d.rows)
		// A batch of huge values does not make every next one reserve as
		// much; a full one ends past maxBytes by its last row, so the
		// reserve allows a last value of up to a quarter of it.
		c.alloc(max(d.rows, 1), min(data+data/8, int(d.maxBytes+d.maxBytes/4)))
	}
	rec := d.flight.Track(array.NewRecordBatch(d.schema, arrs, int64(d.rows)))
	for _, a := range arrs {
		a.Release()
	}
	d.capacity = max(d.rows, 1)
	d.rows, d.size = 0, 0
	select {
	case d.out <- rec:
		return nil
	case <-d.ctx.Done():
		rec.Release()
		return d.ctx.Err()
	}
}

// finish checks that the stream ended cleanly and sends the last rows.
func (d *rowDecoder) finish() error {
	if !d.ended || len(d.carry) > 0 {
		return fmt.Errorf("COPY stream ended without its end marker (%d bytes of a row left)", len(d.carry))
	}
	if d.rows > 0 {
		return d.send()
	}
	return nil
}

func (d *rowDecoder) release() {
	for i := range d.cols {
		d.cols[i].release()
	}
}
