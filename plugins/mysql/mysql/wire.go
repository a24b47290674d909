package mysql

import (
	"context"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
)

// The driver boxes every value of every row into a driver.Value, which
// allocates; for a narrow table that was most of the plugin's CPU. So table
// reads are run here, on the network connection the
// driver dialed and authenticated: one COM_QUERY, its rows handed to the
// reader as the bytes the server sent (sqlsource.RawRows; tables are
// read in the binary protocol, binwire.go, this text protocol read is
// kept for tests comparing the two). The driver is
// idle meanwhile (the read holds its connection), and every command starts
// a new packet sequence, so it carries on after a complete result. Only
// plain connections qualify: under TLS or compression the bytes on the
// socket are not the protocol's.

// plainSocket reports whether the connection's bytes are the protocol's:
// no TLS (not even "preferred") and no compression.
func plainSocket(cfg *gomysql.Config) bool {
	return cfg.TLS == nil && (cfg.TLSConfig == "" || cfg.TLSConfig == "false") && !strings.Contains(cfg.FormatDSN(), "compress=true")
}

// dialedKey carries a *net.Conn slot from Connect into dial.
type dialedKey struct{}

func dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, addr)
	if slot, ok := ctx.Value(dialedKey{}).(*net.Conn); ok && err == nil {
		*slot = nc
	}
	return nc, err
}

// wire is one connection's socket and the driver's timeouts.
type wire struct {
	nc                        net.Conn
	readTimeout, writeTimeout time.Duration
}

const maxPayload = 1<<24 - 1

// start begins a command's read: the context's cancellation interrupts
// the socket from now until the rows are closed.
func (w *wire) start(ctx context.Context, conn driver.Conn) (*textRows, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r := &textRows{conn: conn, w: w, p: packets{nc: w.nc, timeout: w.readTimeout}}
	r.ctx, r.fired = ctx, make(chan struct{})
	r.stop = context.AfterFunc(ctx, func() {
		_ = w.nc.SetDeadline(time.Unix(1, 0)) // interrupts a blocked read
		close(r.fired)
	})
	return r, nil
}

// send writes a command packet, which starts a new packet sequence.
func (r *textRows) send(cmd byte, body []byte) error {
	if len(body)+1 >= maxPayload {
		return fmt.Errorf("command of %d bytes is too long for one packet", len(body))
	}
	n := len(body) + 1
	pkt := make([]byte, 5, 5+len(body))
	pkt[0], pkt[1], pkt[2], pkt[3], pkt[4] = byte(n), byte(n>>8), byte(n>>16), 0, cmd
	pkt = append(pkt, body...)
	if r.w.writeTimeout > 0 {
		_ = r.w.nc.SetWriteDeadline(time.Now().Add(r.w.writeTimeout))
	}
	r.p.seq = 1
	_, err := r.w.nc.Write(pkt)
	return err
}

// query sends q as COM_QUERY and reads the result's header. On an error
// that leaves the connection mid-command, the driver connection is closed
// so that database/sql drops it.
func (w *wire) query(ctx context.Context, conn driver.Conn, q string, want []described) (*textRows, error) {
	if len(q)+1 >= maxPayload {
		return nil, fmt.Errorf("query of %d bytes is too long for one packet", len(q))
	}
	r, err := w.start(ctx, conn)
	if err != nil {
		return nil, err
	}
	if err := r.send(0x03, []byte(q)); err != nil {
		return nil, r.abandon(err)
	}
	head, err := r.p.next()
	if err != nil {
		return nil, r.abandon(err)
	}
	if err := r.result(head, nil); err != nil {
		return nil, err
	}
	if err := checkDescribed(r.defs, want); err != nil {
		return nil, r.abandon(err)
	}
	return r, nil
}

// result reads a result set's header, from its first packet head on: the
// column definitions (or, when the server leaves them out as cached, the
// prepared ones), up to the first row. An error has ended the read.
func (r *textRows) result(head []byte, prepared []column) error {
	switch head[0] {
	case 0xff:
		r.done = true
		return errors.Join(errorPacket(head), r.Close())
	case 0x00:
		r.done = true
		return errors.Join(errors.New("the statement returned no result set"), r.Close())
	}
	// The column count, then on MariaDB with metadata caching (which the
	// driver asks for) a byte that is 1 when column definitions follow, as
	// they always do for a text query, and 0 when a prepared statement's
	// are as prepared.
	n, k := lenenc(head)
	if k == 0 || n == 0 || n > 4096 || !(k == len(head) || k+1 == len(head) && head[k] <= 1) {
		return r.abandon(fmt.Errorf("malformed result header %x", head))
	}
	if k+1 == len(head) && head[k] == 0 {
		if prepared == nil || len(prepared) != int(n) {
			return r.abandon(fmt.Errorf("result header %x leaves out column definitions", head))
		}
		r.setColumns(prepared)
	} else if err := r.columns(int(n)); err != nil {
		return r.abandon(err)
	}
	// Without CLIENT_DEPRECATE_EOF an EOF packet (exactly 5 bytes) ends the
	// definitions; with it, rows follow at once and end with an OK packet
	// of at least 7 bytes that also starts with 0xfe.
	first, err := r.p.next()
	if err != nil {
		return r.abandon(err)
	}
	if first[0] == 0xfe && len(first) == 5 {
		first = nil
	}
	r.pending = first
	return nil
}

// column is a result column's definition, as far as reads need it.
type column struct {
	name     string
	typ      byte // the protocol's field type
	unsigned bool
	decimals byte
	// table is the column's schema.table, for errors.
	table string
}

// columns reads n column definitions.
func (r *textRows) columns(n int) error {
	cols := make([]column, n)
	for i := range cols {
		def, err := r.p.next()
		if err != nil {
			return err
		}
		// catalog, schema, table, org_table, name, org_name
		pos := 0
		var schema string
		for f := 0; f < 6; f++ {
			l, k := lenenc(def[pos:])
			if k == 0 || pos+k+int(l) > len(def) {
				return fmt.Errorf("malformed column definition %x", def)
			}
			switch v := def[pos+k : pos+k+int(l)]; f {
			case 1:
				schema = string(v)
			case 3:
				if len(v) > 0 {
					cols[i].table = schema + "." + string(v)
				}
			case 4:
				cols[i].name = string(v)
			}
			pos += k + int(l)
		}
		// the fixed fields' length, charset, length, type, flags, decimals
		if pos+13 > len(def) {
			return fmt.Errorf("malformed column definition %x", def)
		}
		cols[i].typ = def[pos+7]
		cols[i].unsigned = binary.LittleEndian.Uint16(def[pos+8:])&0x20 != 0
		cols[i].decimals = def[pos+10]
	}
	r.setColumns(cols)
	return nil
}

func (r *textRows) setColumns(cols []column) {
	r.defs = cols
	r.cols = make([]string, len(cols))
	for i, c := range cols {
		r.cols[i] = c.name
	}
}

// textRows is a text-protocol result set read off the socket.
type textRows struct {
	conn    driver.Conn
	w       *wire
	p       packets
	ctx     context.Context
	stop    func() bool
	fired   chan struct{}
	cols    []string
	defs    []column
	pending []byte
	// stmt is the prepared statement to close after the read, if any
	stmt    uint32
	hasStmt bool
	raw     [][]byte
	done    bool
	closed  bool
}

func (r *textRows) Columns() []string { return r.cols }

// NextRaw implements sqlsource.RawRows: dest[i] is nil for NULL, else
// the value's bytes, valid until the next call.
func (r *textRows) NextRaw(dest [][]byte) error {
	data, err := r.row()
	if err != nil {
		return err
	}
	pos := 0
	for i := range dest {
		if pos >= len(data) {
			return r.abandon(fmt.Errorf("row packet holds fewer than %d values", len(dest)))
		}
		if data[pos] == 0xfb {
			dest[i] = nil
			pos++
			continue
		}
		l, k := lenenc(data[pos:])
		end := pos + k + int(l)
		if k == 0 || end > len(data) || end < pos {
			return r.abandon(fmt.Errorf("malformed row packet"))
		}
		dest[i] = data[pos+k : end : end]
		pos = end
	}
	if pos != len(data) {
		return r.abandon(fmt.Errorf("row packet holds more than %d values", len(dest)))
	}
	return nil
}

// row reads the next row packet of either protocol; io.EOF after the
// last.
func (r *textRows) row() ([]byte, error) {
	if r.done {
		return nil, io.EOF
	}
	data := r.pending
	r.pending = nil
	if data == nil {
		var err error
		if data, err = r.p.next(); err != nil {
			return nil, r.abandon(err)
		}
	}
	switch {
	case data[0] == 0xfe && len(data) < maxPayload:
		r.done = true
		if status := endStatus(data); status&0x0008 != 0 {
			// More results follow (a multi-statement): the driver could
			// not pick up after them.
			return nil, r.abandon(errors.New("the statement returned more than one result set"))
		}
		return nil, io.EOF
	case data[0] == 0xff:
		r.done = true
		return nil, errorPacket(data)
	}
	return data, nil
}

// Next implements driver.Rows for callers other than sqlsource's reader.
func (r *textRows) Next(dest []driver.Value) error {
	if len(r.raw) != len(dest) {
		r.raw = make([][]byte, len(dest))
	}
	if err := r.NextRaw(r.raw); err != nil {
		return err
	}
	for i, b := range r.raw {
		if b == nil {
			dest[i] = nil
		} else {
			dest[i] = b
		}
	}
	return nil
}

// Close ends the read. A result not read to its end is abandoned with the
// connection: draining it could mean reading the rest of a large table.
func (r *textRows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if r.halt() || !r.done {
		return r.drop()
	}
	if err := r.w.nc.SetDeadline(time.Time{}); err != nil {
		return errors.Join(err, r.conn.Close())
	}
	if r.hasStmt {
		// COM_STMT_CLOSE, which the server does not answer
		id := binary.LittleEndian.AppendUint32(nil, r.stmt)
		if err := r.send(0x19, id); err != nil {
			return errors.Join(err, r.drop())
		}
		if err := r.w.nc.SetWriteDeadline(time.Time{}); err != nil {
			return errors.Join(err, r.conn.Close())
		}
	}
	return nil
}

// halt stops watching the context and reports whether it was cancelled
// (the socket's deadline then lies in the past).
func (r *textRows) halt() bool {
	if r.stop() {
		return false
	}
	<-r.fired
	return true
}

// drop closes the driver connection, which database/sql then discards.
// The deadline is cleared first so that the driver's goodbye goes out.
func (r *textRows) drop() error {
	_ = r.w.nc.SetDeadline(time.Time{})
	return r.conn.Close()
}

// abandon closes the connection after err left it mid-command; a cancelled
// context is the error then.
func (r *textRows) abandon(err error) error {
	r.done = true
	if !r.closed {
		r.closed = true
		r.halt()
		_ = r.drop()
	}
	if cerr := r.ctx.Err(); cerr != nil {
		return cerr
	}
	return err
}

// packets reads protocol packets through a reused buffer.
type packets struct {
	nc      net.Conn
	timeout time.Duration
	buf     []byte
	r, w    int
	seq     byte
	joined  []byte
	// walk is where the value reserve has not looked at yet starts in
	// joined.
	walk int
	// widths, when set, says rows are binary-protocol rows and gives each
	// column's width: fixed, or 0 for a length-encoded value.
	widths []int
}

// joinedKeep is the largest buffer of joined packets kept for the next
// row: a larger one (a row of large values) is let go once read rather
// than staying resident for the rest of the read.
const joinedKeep = 2 * maxPayload

// next returns the payload of the next packet, joined when it spans
// several; it is valid until the following call.
func (p *packets) next() ([]byte, error) {
	if cap(p.joined) > joinedKeep {
		p.joined = nil
	}
	p.joined, p.walk = p.joined[:0], 0
	for {
		if err := p.fill(4); err != nil {
			return nil, err
		}
		h := p.buf[p.r : p.r+4]
		n := int(h[0]) | int(h[1])<<8 | int(h[2])<<16
		if h[3] != p.seq {
			return nil, fmt.Errorf("packet out of sequence: %d, expected %d", h[3], p.seq)
		}
		p.seq++
		p.r += 4
		if err := p.fill(n); err != nil {
			return nil, err
		}
		payload := p.buf[p.r : p.r+n]
		p.r += n
		if n < maxPayload && len(p.joined) == 0 {
			if n == 0 {
				return nil, errors.New("empty packet")
			}
			return payload, nil
		}
		p.joined = append(p.joined, payload...)
		if n < maxPayload {
			return p.joined, nil
		}
		p.reserve()
	}
}

// reserve makes room in joined for the value whose start it holds: its
// length is known from its first packet, so the buffer grows once, to
// hold it and one more packet, instead of by append's repeated copies
// (whose garbage came to several times a 100 MiB value). Rows are text
// protocol rows, a length-encoded string or NULL per column; what does
// not parse is left to NextRaw to report.
func (p *packets) reserve() {
	if p.widths != nil {
		p.reserveBinary()
		return
	}
	b := p.joined
	pos := p.walk
	for pos < len(b) {
		if b[pos] == 0xfb {
			pos++
			continue
		}
		l, k := lenenc(b[pos:])
		if k == 0 || l > 1<<30 {
			break
		}
		end := pos + k + int(l)
		if end > len(b) {
			p.grow(end)
			break
		}
		pos = end
	}
	p.walk = pos
}

// grow makes joined hold end bytes and one more packet.
func (p *packets) grow(end int) {
	if need := end + maxPayload; need > cap(p.joined) {
		nb := make([]byte, len(p.joined), need)
		copy(nb, p.joined)
		p.joined = nb
	}
}

// fill makes n unread bytes available at p.buf[p.r:].
func (p *packets) fill(n int) error {
	if p.w-p.r >= n {
		return nil
	}
	if p.buf == nil {
		p.buf = make([]byte, 256<<10)
	}
	if p.r+n > len(p.buf) {
		if n > len(p.buf) {
			nb := make([]byte, max(n, 2*len(p.buf)))
			p.w = copy(nb, p.buf[p.r:p.w])
			p.buf = nb
		} else {
			p.w = copy(p.buf, p.buf[p.r:p.w])
		}
		p.r = 0
	}
	for p.w-p.r < n {
		if p.timeout > 0 {
			_ = p.nc.SetReadDeadline(time.Now().Add(p.timeout))
		}
		m, err := p.nc.Read(p.buf[p.w:])
		p.w += m
		if err != nil && p.w-p.r < n {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("reading from MySQL: %w", err)
		}
	}
	return nil
}

// lenenc reads a length-encoded integer; k is the bytes it took (0 when
// b is too short or starts with a byte no integer starts with).
func lenenc(b []byte) (n uint64, k int) {
	if len(b) == 0 {
		return 0, 0
	}
	switch c := b[0]; {
	case c < 0xfb:
		return uint64(c), 1
	case c == 0xfc && len(b) >= 3:
		return uint64(binary.LittleEndian.Uint16(b[1:])), 3
	case c == 0xfd && len(b) >= 4:
		return uint64(b[1]) | uint64(b[2])<<8 | uint64(b[3])<<16, 4
	case c == 0xfe && len(b) >= 9:
		return binary.LittleEndian.Uint64(b[1:]), 9
	}
	return 0, 0
}

// endStatus is the server status of the EOF or OK packet ending a result.
func endStatus(data []byte) uint16 {
	if len(data) == 5 { // EOF: 0xfe, warnings, status
		return binary.LittleEndian.Uint16(data[3:])
	}
	pos := 1
	for f := 0; f < 2; f++ { // affected rows, last insert id
		_, k := lenenc(data[pos:])
		if k == 0 {
			return 0
		}
		pos += k
	}
	if pos+2 > len(data) {
		return 0
	}
	return binary.LittleEndian.Uint16(data[pos:])
}

// errorPacket is the server's error, as the driver would report it.
func errorPacket(data []byte) error {
	if len(data) < 3 {
		return errors.New("malformed error packet")
	}
	me := &gomysql.MySQLError{Number: binary.LittleEndian.Uint16(data[1:3])}
	pos := 3
	if len(data) >= 9 && data[3] == '#' {
		copy(me.SQLState[:], data[4:9])
		pos = 9
	}
	me.Message = string(data[pos:])
	return me
}
