package postgres

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// colKind says how a column's values reach its batch. The common types are
// written straight into Arrow's buffers (no builder call, capacity check or
// validity bit per value: NULLs are listed and the bitmap is made once per
// batch); the rest go through an Arrow builder and their binDecoder.
type colKind uint8

const (
	kindBuilder colKind = iota
	kindSwap2           // smallint
	kindSwap4           // integer, real
	kindSwap8           // bigint, double precision
	kindBool
	kindDate
	kindTimestamp
	kindDecimal128 // numeric(p,s)
	kindBytes      // text types, bytea
)

// widths are the Arrow value widths of the fixed kinds, and 4 (an offset)
// for kindBytes.
var widths = [...]int{kindSwap2: 2, kindSwap4: 4, kindSwap8: 8, kindDate: 4, kindTimestamp: 8, kindDecimal128: 16, kindBytes: 4}

// rawKind returns the kind of a column of the native type read as typ, or
// kindBuilder when it has no direct path.
func rawKind(native string, typ arrow.DataType) colKind {
	t := strings.ToLower(native)
	want := arrow.NULL
	k := kindBuilder
	switch {
	case t == "smallint":
		k, want = kindSwap2, arrow.INT16
	case t == "integer":
		k, want = kindSwap4, arrow.INT32
	case t == "real":
		k, want = kindSwap4, arrow.FLOAT32
	case t == "bigint":
		k, want = kindSwap8, arrow.INT64
	case t == "double precision":
		k, want = kindSwap8, arrow.FLOAT64
	case t == "boolean":
		k, want = kindBool, arrow.BOOL
	case t == "date":
		k, want = kindDate, arrow.DATE32
	case t == "bytea":
		k, want = kindBytes, arrow.BINARY
	case textNative(t):
		k, want = kindBytes, arrow.STRING
	case numericPS.MatchString(t):
		k, want = kindDecimal128, arrow.DECIMAL128
	case strings.HasPrefix(t, "timestamp"):
		if ts, ok := typ.(*arrow.TimestampType); ok && ts.Unit == arrow.Microsecond {
			k, want = kindTimestamp, arrow.TIMESTAMP
		}
	}
	if typ.ID() != want {
		return kindBuilder
	}
	return k
}

// column holds one column of the batch being built.
type column struct {
	kind  colKind
	typ   arrow.DataType
	what  string // the native type, for errors
	scale int32  // kindDecimal128
	// fixed holds the fixed kinds' values (bits for kindBool), zeroed when
	// allocated so a NULL's slot needs no write.
	fixed []byte
	// offsets and data hold kindBytes values; poolData says data is
	// mem's (not a value taken from pgx).
	offsets  []int32
	data     []byte
	poolData bool
	nulls    []int32 // rows of this batch that are NULL
	// mem is the batch pool: a sent batch's buffers go back to it when
	// the host has received them, for a later batch. dataMem is the same
	// pool for data, whose bytes are all written before they are sent: a
	// reused buffer is not cleared first.
	mem, dataMem memory.Allocator
	// b and dec serve kindBuilder.
	b   array.Builder
	dec fieldDecoder
}

func newColumn(mem memory.Allocator, native string, typ arrow.DataType, dec binDecoder, kind colKind) column {
	c := column{kind: kind, typ: typ, what: native, mem: mem, dataMem: mem}
	switch kind {
	case kindBuilder:
		c.b = array.NewBuilder(mem, typ)
		c.dec = dec(c.b)
	case kindDecimal128:
		c.scale = typ.(*arrow.Decimal128Type).Scale
	}
	return c
}

// alloc gives the column fresh buffers for rows rows and about data bytes
// of kindBytes values; the buffers of a batch sent belong to that batch.
func (c *column) alloc(rows, data int) {
	switch c.kind {
	case kindBuilder:
	case kindBool:
		c.fixed = c.mem.Allocate((rows + 7) / 8)
	case kindBytes:
		c.offsets = arrow.Int32Traits.CastFromBytes(c.mem.Allocate(4 * (rows + 1)))
		c.data, c.poolData = c.dataMem.Allocate(data)[:0], true
	default:
		c.fixed = c.mem.Allocate(rows * widths[c.kind])
	}
}

// grow makes room for rows rows, keeping the values of the batch so far.
func (c *column) grow(rows int) {
	switch c.kind {
	case kindBuilder:
	case kindBytes:
		old := c.offsets
		c.offsets = arrow.Int32Traits.CastFromBytes(c.mem.Allocate(4 * (rows + 1)))
		copy(c.offsets, old)
		c.mem.Free(arrow.Int32Traits.CastToBytes(old))
	default:
		old := c.fixed
		c.alloc(rows, 0)
		copy(c.fixed, old)
		c.mem.Free(old)
	}
}

// growData makes room for n more bytes of kindBytes values, at least
// doubling.
func (c *column) growData(n int) {
	d := c.dataMem.Allocate(max(2*cap(c.data), len(c.data)+n))[:len(c.data)]
	copy(d, c.data)
	if c.poolData {
		c.mem.Free(c.data)
	}
	c.data, c.poolData = d, true
}

// null records that row is NULL.
func (c *column) null(row int) {
	switch c.kind {
	case kindBuilder:
		c.b.AppendNull()
		return
	case kindBytes:
		c.offsets[row+1] = int32(len(c.data))
	}
	c.nulls = append(c.nulls, int32(row))
}

// undo takes back row's value, the last one put (not a builder's). A
// fixed slot keeps what was written: a row is undone only to be decoded
// again from the same bytes, or the read fails.
func (c *column) undo(row int) {
	if n := len(c.nulls); n > 0 && c.nulls[n-1] == int32(row) {
		c.nulls = c.nulls[:n-1]
	}
	if c.kind == kindBytes {
		c.data = c.data[:c.offsets[row]]
	}
}

// put decodes the non-NULL binary field d as the value of row (kindBytes
// values are appended by the row decoder itself).
func (c *column) put(row int, d []byte) error {
	switch c.kind {
	case kindBuilder:
		return c.dec(d)
	case kindBool:
		if len(d) != 1 {
			return c.sizeErr(d)
		}
		if d[0] != 0 {
			c.fixed[row>>3] |= 1 << (row & 7)
		}
		return nil
	case kindDecimal128:
		n, err := numeric128(d, c.scale)
		if err != nil {
			return err
		}
		v := c.fixed[16*row : 16*row+16]
		binary.LittleEndian.PutUint64(v, n.LowBits())
		binary.LittleEndian.PutUint64(v[8:], uint64(n.HighBits()))
		return nil
	}
	// The other kinds' binary forms are as wide as Arrow's values.
	w := widths[c.kind]
	if len(d) != w {
		return c.sizeErr(d)
	}
	v := c.fixed[row*w : row*w+w]
	switch c.kind {
	case kindSwap2:
		binary.LittleEndian.PutUint16(v, binary.BigEndian.Uint16(d))
	case kindSwap4:
		binary.LittleEndian.PutUint32(v, binary.BigEndian.Uint32(d))
	case kindSwap8:
		binary.LittleEndian.PutUint64(v, binary.BigEndian.Uint64(d))
	case kindDate:
		x, err := dateDays(d)
		if err != nil {
			return err
		}
		binary.LittleEndian.PutUint32(v, uint32(x))
	case kindTimestamp:
		x, err := timestampMicros(d)
		if err != nil {
			return err
		}
		binary.LittleEndian.PutUint64(v, uint64(x))
	}
	return nil
}

// take makes d, which the column may keep, row's value and the column's
// data so far (there is none before it): a kindBytes value without a copy.
// Its capacity is clipped, so a value appended after it is copied into a
// new buffer rather than over the bytes that follow d.
func (c *column) take(row int, d []byte) {
	if c.poolData {
		c.mem.Free(c.data)
	}
	c.data, c.poolData = d[:len(d):len(d)], false
	c.offsets[row+1] = int32(len(d))
}

func (c *column) sizeErr(d []byte) error {
	return fmt.Errorf("%s of %d bytes", c.what, len(d))
}

// array returns the column's rows rows as an Arrow array.
func (c *column) array(rows int) arrow.Array {
	if c.kind == kindBuilder {
		return c.b.NewArray()
	}
	var validity *memory.Buffer
	if len(c.nulls) > 0 {
		bits := make([]byte, (rows+7)/8)
		for i := range bits {
			bits[i] = 0xff
		}
		for _, r := range c.nulls {
			bits[r>>3] &^= 1 << (r & 7)
		}
		validity = memory.NewBufferBytes(bits)
	}
	var bufs []*memory.Buffer
	switch c.kind {
	case kindBytes:
		data := memory.NewBufferBytes(c.data)
		if c.poolData {
			data = memory.NewBufferWithAllocator(c.data, c.mem)
		}
		bufs = []*memory.Buffer{validity, memory.NewBufferWithAllocator(arrow.Int32Traits.CastToBytes(c.offsets[:rows+1]), c.mem), data}
	case kindBool:
		bufs = []*memory.Buffer{validity, memory.NewBufferWithAllocator(c.fixed[:(rows+7)/8], c.mem)}
	default:
		bufs = []*memory.Buffer{validity, memory.NewBufferWithAllocator(c.fixed[:rows*widths[c.kind]], c.mem)}
	}
	data := array.NewData(c.typ, rows, bufs, nil, len(c.nulls), 0)
	defer data.Release()
	for _, b := range bufs[1:] {
		b.Release() // data holds them now
	}
	c.nulls = c.nulls[:0]
	return array.MakeFromData(data)
}

// release gives back the buffers of the batch not sent.
func (c *column) release() {
	if c.b != nil {
		c.b.Release()
	}
	if c.fixed != nil {
		c.mem.Free(c.fixed)
	}
	if c.offsets != nil {
		c.mem.Free(arrow.Int32Traits.CastToBytes(c.offsets))
	}
	if c.poolData {
		c.mem.Free(c.data)
	}
	c.fixed, c.offsets, c.data, c.poolData = nil, nil, nil, false
}
