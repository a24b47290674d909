package tds

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"
	"unicode/utf16"
)

// parsePrelogin returns the PRELOGIN options by token.
func parsePrelogin(data []byte) (map[byte][]byte, error) {
	opts := map[byte][]byte{}
	for i := 0; ; i += 5 {
		if i >= len(data) {
			return nil, errors.New("unterminated PRELOGIN option list")
		}
		if data[i] == 0xFF {
			return opts, nil
		}
		if i+5 > len(data) {
			return nil, errors.New("short PRELOGIN option")
		}
		off := int(binary.BigEndian.Uint16(data[i+1:]))
		n := int(binary.BigEndian.Uint16(data[i+3:]))
		if off+n > len(data) {
			return nil, errors.New("PRELOGIN option out of range")
		}
		opts[data[i]] = data[off : off+n]
	}
}

func preloginResponse() []byte {
	type opt struct {
		tok  byte
		data []byte
	}
	opts := []opt{
		{0, []byte{16, 0, 0x10, 0x00, 0, 0}}, // VERSION 16.0.4096
		{1, []byte{2}},                       // ENCRYPTION: ENCRYPT_NOT_SUP
		{2, []byte{0}},                       // INSTOPT
		{3, nil},                             // THREADID
		{4, []byte{0}},                       // MARS off
	}
	off := 5*len(opts) + 1
	var hdr, body []byte
	for _, o := range opts {
		hdr = append(hdr, o.tok)
		hdr = binary.BigEndian.AppendUint16(hdr, uint16(off+len(body)))
		hdr = binary.BigEndian.AppendUint16(hdr, uint16(len(o.data)))
		body = append(body, o.data...)
	}
	hdr = append(hdr, 0xFF)
	return append(hdr, body...)
}

type login7 struct {
	user, password, database, app string
	packetSize                    int
	tdsVersion                    uint32 // as in LOGINACK: 0x74000004 is 7.4
}

// parseLogin7 decodes the fields of a LOGIN7 record ([MS-TDS] 2.2.6.4).
func parseLogin7(d []byte) (login7, error) {
	var l login7
	if len(d) < 94 {
		return l, errors.New("short LOGIN7 record")
	}
	str := func(pos int) (string, []byte, error) {
		off := int(binary.LittleEndian.Uint16(d[pos:]))
		n := int(binary.LittleEndian.Uint16(d[pos+2:])) * 2
		if off+n > len(d) {
			return "", nil, fmt.Errorf("LOGIN7 field at %d out of range", pos)
		}
		raw := d[off : off+n]
		return decodeUCS2(raw), raw, nil
	}
	l.tdsVersion = binary.LittleEndian.Uint32(d[4:])
	l.packetSize = int(binary.LittleEndian.Uint32(d[8:]))
	var err error
	if l.user, _, err = str(40); err != nil {
		return l, err
	}
	_, pw, err := str(44)
	if err != nil {
		return l, err
	}
	plain := make([]byte, len(pw))
	for i, c := range pw {
		c ^= 0xA5
		plain[i] = c<<4 | c>>4
	}
	l.password = decodeUCS2(plain)
	if l.app, _, err = str(48); err != nil {
		return l, err
	}
	if l.database, _, err = str(68); err != nil {
		return l, err
	}
	return l, nil
}

func decodeUCS2(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

func skipAllHeaders(d []byte) ([]byte, error) {
	if len(d) < 4 {
		return nil, errors.New("short ALL_HEADERS")
	}
	n := int(binary.LittleEndian.Uint32(d))
	if n < 4 || n > len(d) {
		return nil, fmt.Errorf("bad ALL_HEADERS length %d", n)
	}
	return d[n:], nil
}

func parseBatch(d []byte) (Query, error) {
	d, err := skipAllHeaders(d)
	if err != nil {
		return Query{}, err
	}
	return Query{SQL: decodeUCS2(d)}, nil
}

// rd is a bounds-checked little-endian reader.
type rd struct {
	b   []byte
	err error
}

func (r *rd) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = errors.New("truncated request")
		r.b = nil
		return nil
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

func (r *rd) u8() byte {
	p := r.take(1)
	if p == nil {
		return 0
	}
	return p[0]
}

func (r *rd) u16() uint16 {
	p := r.take(2)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint16(p)
}

func (r *rd) u32() uint32 {
	p := r.take(4)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(p)
}

func (r *rd) u64() uint64 {
	p := r.take(8)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(p)
}

// rpcCall is one call of an RPC request: a procedure by name, or by id
// (procID ≥ 0) with its name empty.
type rpcCall struct {
	name   string
	procID int
	params []Param
}

// Procedures called by id ([MS-TDS] 2.2.6.6).
const (
	procExecuteSQL = 10
	procPrepare    = 11
	procExecute    = 12
	procPrepExec   = 13
	procUnprepare  = 15
)

var procIDs = map[string]int{"sp_executesql": procExecuteSQL, "sp_prepare": procPrepare, "sp_execute": procExecute, "sp_prepexec": procPrepExec, "sp_unprepare": procUnprepare}

// parseRPC decodes an RPC request ([MS-TDS] 2.2.6.6): its calls, which
// batch flags separate (FreeTDS sends an array of parameter sets as one
// call each). On a decoding error the calls hold what was decoded so far.
func parseRPC(d []byte) ([]rpcCall, error) {
	d, err := skipAllHeaders(d)
	if err != nil {
		return nil, err
	}
	r := &rd{b: d}
	var calls []rpcCall
	for r.err == nil && len(r.b) > 0 {
		c := rpcCall{procID: -1}
		if n := r.u16(); n == 0xFFFF {
			c.procID = int(r.u16())
		} else {
			c.name = decodeUCS2(r.take(int(n) * 2))
			// FreeTDS calls sp_execute by name.
			if id, ok := procIDs[strings.ToLower(c.name)]; ok {
				c.name, c.procID = "", id
			}
		}
		r.u16() // option flags
		for r.err == nil && len(r.b) > 0 {
			if r.b[0] == 0x80 || r.b[0] == 0xFF || r.b[0] == 0xFE {
				r.take(1) // batch flag: another call follows
				break
			}
			name := decodeUCS2(r.take(int(r.u8()) * 2))
			r.u8() // status flags
			v, err := readParamValue(r)
			if err != nil {
				return append(calls, c), fmt.Errorf("parameter %d (%s): %w", len(c.params)+1, name, err)
			}
			c.params = append(c.params, Param{Name: name, Value: v})
		}
		calls = append(calls, c)
	}
	return calls, r.err
}

// query is the call as a Query: sp_executesql's statement, declaration
// and parameters; a procedure called by name with its parameters; any
// other procedure id as "<proc id N>".
func (c rpcCall) query() Query {
	q := Query{RPC: true, SQL: c.name, Params: c.params}
	if c.procID < 0 {
		return q
	}
	if c.procID != procExecuteSQL {
		q.SQL = fmt.Sprintf("<proc id %d>", c.procID)
		return q
	}
	q.Params = nil
	if len(c.params) > 0 {
		q.SQL, _ = c.params[0].Value.(string)
	}
	if len(c.params) > 1 {
		q.Decl, _ = c.params[1].Value.(string)
	}
	if len(c.params) > 2 {
		q.Params = c.params[2:]
	}
	return q
}

// readParamValue reads a TYPE_INFO and the value that follows.
func readParamValue(r *rd) (any, error) {
	ti, err := readTypeInfo(r)
	if err != nil {
		return nil, err
	}
	return readValue(r, ti)
}

// typeInfo is a decoded TYPE_INFO ([MS-TDS] 2.2.5.6).
type typeInfo struct {
	typ          byte
	size         int // fixed or maximum length in bytes; 0xFFFF for (max)
	prec, scale  uint8
	hasCollation bool
}

func (ti typeInfo) plp() bool {
	return ti.typ == 0xF1 || (ti.size == 0xFFFF && (ti.typ == 0xA5 || ti.typ == 0xA7 || ti.typ == 0xE7 || ti.typ == 0xAD || ti.typ == 0xAF || ti.typ == 0xEF))
}

// lob reports the legacy large-object types IMAGE, TEXT and NTEXT, whose
// COLMETADATA carries a table name.
func (ti typeInfo) lob() bool { return ti.typ == 0x22 || ti.typ == 0x23 || ti.typ == 0x63 }

// fixedSizes are the lengths of the fixed-length types.
var fixedSizes = map[byte]int{0x30: 1, 0x32: 1, 0x34: 2, 0x38: 4, 0x7F: 8, 0x3B: 4, 0x3E: 8, 0x3C: 8, 0x7A: 4, 0x3D: 8, 0x3A: 4}

func readTypeInfo(r *rd) (typeInfo, error) {
	ti := typeInfo{typ: r.u8()}
	switch ti.typ {
	case 0x1F: // NULLTYPE
	case 0x30, 0x32, 0x34, 0x38, 0x7F, 0x3B, 0x3E, 0x3C, 0x7A, 0x3D, 0x3A:
		ti.size = fixedSizes[ti.typ]
	case 0x28: // DATEN
		ti.size = 3
	case 0x29, 0x2A, 0x2B: // TIMEN, DATETIME2N, DATETIMEOFFSETN
		ti.scale = r.u8()
	case 0x26, 0x68, 0x6D, 0x6E, 0x6F, 0x24, 0x25, 0x2D, 0x27, 0x2F: // BYTELEN types
		ti.size = int(r.u8())
	case 0x37, 0x3F, 0x6A, 0x6C: // DECIMAL/NUMERIC
		ti.size = int(r.u8())
		ti.prec = r.u8()
		ti.scale = r.u8()
	case 0xA5, 0xA7, 0xAD, 0xAF, 0xE7, 0xEF, 0xF1: // USHORTLEN types
		if ti.typ != 0xF1 {
			ti.size = int(r.u16())
		}
		switch ti.typ {
		case 0xA7, 0xAF, 0xE7, 0xEF:
			r.take(5) // collation
			ti.hasCollation = true
		case 0xF1:
			if r.u8() != 0 {
				return ti, errors.New("xml with schema is not supported")
			}
		}
	case 0x22, 0x23, 0x63: // IMAGE, TEXT, NTEXT
		ti.size = int(r.u32())
		if ti.typ != 0x22 {
			r.take(5)
		}
	default:
		return ti, fmt.Errorf("unsupported type 0x%02X", ti.typ)
	}
	return ti, r.err
}

// readValue reads one value of type ti; NULL is nil.
func readValue(r *rd, ti typeInfo) (any, error) {
	switch ti.typ {
	case 0x1F:
		return nil, r.err
	case 0x30: // INT1
		return int64(r.u8()), r.err
	case 0x32: // BIT
		return r.u8() != 0, r.err
	case 0x34:
		return int64(int16(r.u16())), r.err
	case 0x38:
		return int64(int32(r.u32())), r.err
	case 0x7F:
		return int64(r.u64()), r.err
	case 0x3B:
		return float64(math.Float32frombits(r.u32())), r.err
	case 0x3E:
		return math.Float64frombits(r.u64()), r.err
	case 0x3C, 0x7A, 0x3D, 0x3A: // MONEY, SMALLMONEY, DATETIME, SMALLDATETIME
		return decodeFixed(ti.typ, r.take(ti.size), 0), r.err
	case 0x28, 0x29, 0x2A, 0x2B, 0x26, 0x68, 0x6D, 0x6E, 0x6F, 0x24, 0x25, 0x2D, 0x27, 0x2F, 0x37, 0x3F, 0x6A, 0x6C:
		return decodeFixed(ti.typ, r.take(int(r.u8())), ti.scale), r.err
	case 0xA5, 0xA7, 0xAD, 0xAF, 0xE7, 0xEF, 0xF1:
		var raw []byte
		if ti.plp() {
			total := r.u64()
			if total == math.MaxUint64 {
				return nil, r.err
			}
			raw = []byte{}
			for r.err == nil {
				n := r.u32()
				if n == 0 {
					break
				}
				raw = append(raw, r.take(int(n))...)
			}
		} else {
			n := r.u16()
			if n == 0xFFFF {
				return nil, r.err
			}
			raw = r.take(int(n))
		}
		if r.err != nil {
			return nil, r.err
		}
		switch ti.typ {
		case 0xE7, 0xEF, 0xF1:
			return decodeUCS2(raw), nil
		case 0xA7, 0xAF:
			return decodeLatin1(raw), nil
		}
		return append([]byte{}, raw...), nil
	case 0x22, 0x23, 0x63: // IMAGE, TEXT, NTEXT
		n := r.u32()
		if n == 0xFFFFFFFF {
			return nil, r.err
		}
		raw := r.take(int(n))
		switch ti.typ {
		case 0x63:
			return decodeUCS2(raw), r.err
		case 0x23:
			return decodeLatin1(raw), r.err
		}
		return append([]byte{}, raw...), r.err
	}
	return nil, fmt.Errorf("unsupported type 0x%02X", ti.typ)
}

// decodeFixed decodes a non-NULL value of the given type; empty data is NULL.
func decodeFixed(typ byte, b []byte, scale uint8) any {
	if len(b) == 0 && typ != 0x25 && typ != 0x2D && typ != 0x27 && typ != 0x2F {
		return nil
	}
	switch typ {
	case 0x26: // INTN
		switch len(b) {
		case 1:
			return int64(b[0])
		case 2:
			return int64(int16(binary.LittleEndian.Uint16(b)))
		case 4:
			return int64(int32(binary.LittleEndian.Uint32(b)))
		case 8:
			return int64(binary.LittleEndian.Uint64(b))
		}
	case 0x68:
		return b[0] != 0
	case 0x6D:
		if len(b) == 4 {
			return float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
		}
		return math.Float64frombits(binary.LittleEndian.Uint64(b))
	case 0x3C, 0x7A, 0x6E: // money
		var v int64
		if len(b) == 4 {
			v = int64(int32(binary.LittleEndian.Uint32(b)))
		} else {
			v = int64(uint64(binary.LittleEndian.Uint32(b))<<32 | uint64(binary.LittleEndian.Uint32(b[4:])))
		}
		return formatScaled(big.NewInt(v), 4)
	case 0x3D, 0x3A, 0x6F: // datetime
		if len(b) == 4 {
			days := binary.LittleEndian.Uint16(b)
			mins := binary.LittleEndian.Uint16(b[2:])
			return time.Date(1900, 1, 1+int(days), 0, int(mins), 0, 0, time.UTC)
		}
		days := int32(binary.LittleEndian.Uint32(b))
		ticks := binary.LittleEndian.Uint32(b[4:])
		ns := (int64(ticks)*1_000_000_000 + 150) / 300 // ticks are 1/300 s
		return time.Date(1900, 1, 1+int(days), 0, 0, 0, 0, time.UTC).Add(time.Duration(ns))
	case 0x28:
		return dateFromDays(le(b))
	case 0x29:
		return time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Add(timeFromUnits(le(b), scale))
	case 0x2A:
		n := len(b) - 3
		return dateFromDays(le(b[n:])).Add(timeFromUnits(le(b[:n]), scale))
	case 0x2B:
		n := len(b) - 5
		off := int16(binary.LittleEndian.Uint16(b[len(b)-2:]))
		t := dateFromDays(le(b[n : n+3])).Add(timeFromUnits(le(b[:n]), scale))
		return t.In(time.FixedZone("", int(off)*60))
	case 0x24:
		return formatGUID(b)
	case 0x37, 0x3F, 0x6A, 0x6C:
		mag := make([]byte, len(b)-1)
		for i := range mag {
			mag[i] = b[len(b)-1-i]
		}
		v := new(big.Int).SetBytes(mag)
		if b[0] == 0 {
			v.Neg(v)
		}
		return formatScaled(v, int(scale))
	case 0x27, 0x2F:
		return decodeLatin1(b)
	}
	return append([]byte{}, b...)
}

func le(b []byte) uint64 {
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

func dateFromDays(days uint64) time.Time {
	return time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(days))
}

func timeFromUnits(units uint64, scale uint8) time.Duration {
	ns := units
	for i := scale; i < 9; i++ {
		ns *= 10
	}
	return time.Duration(ns)
}

func formatScaled(v *big.Int, scale int) string {
	neg := v.Sign() < 0
	s := new(big.Int).Abs(v).String()
	if scale > 0 {
		if len(s) <= scale {
			s = strings.Repeat("0", scale-len(s)+1) + s
		}
		s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// formatGUID renders wire bytes (mixed-endian) as the canonical string.
func formatGUID(b []byte) string {
	if len(b) != 16 {
		return fmt.Sprintf("%X", b)
	}
	c := guidSwap(b)
	return fmt.Sprintf("%X-%X-%X-%X-%X", c[0:4], c[4:6], c[6:8], c[8:10], c[10:16])
}

// guidSwap converts between canonical and wire byte order (its own inverse).
func guidSwap(b []byte) []byte {
	c := append([]byte{}, b...)
	c[0], c[1], c[2], c[3] = b[3], b[2], b[1], b[0]
	c[4], c[5] = b[5], b[4]
	c[6], c[7] = b[7], b[6]
	return c
}

func decodeLatin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}
