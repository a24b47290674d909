package mysql

import (
	"context"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

// fakeServer answers one command sequence on a loopback socket the way a
// MySQL server does, with or without CLIENT_DEPRECATE_EOF: the reader
// does not know which was negotiated (the driver did), it reads the
// packets' shapes.
type fakeServer struct {
	t            *testing.T
	deprecateEOF bool
	nc           net.Conn
	seq          byte
	// prepareOnly: the client goes away after the prepare's answer.
	prepareOnly bool
}

func (s *fakeServer) packet(payload []byte) []byte {
	n := len(payload)
	p := append([]byte{byte(n), byte(n >> 8), byte(n >> 16), s.seq}, payload...)
	s.seq++
	return p
}

// command reads one command packet and returns its type and body.
func (s *fakeServer) command() (byte, []byte) {
	h := make([]byte, 4)
	if _, err := io.ReadFull(s.nc, h); err != nil {
		s.t.Errorf("server reading a command: %v", err)
		return 0, nil
	}
	body := make([]byte, int(h[0])|int(h[1])<<8|int(h[2])<<16)
	if _, err := io.ReadFull(s.nc, body); err != nil {
		s.t.Errorf("server reading a command: %v", err)
		return 0, nil
	}
	s.seq = h[3] + 1
	return body[0], body[1:]
}

func lenencStr(b []byte, s string) []byte { return append(append(b, byte(len(s))), s...) }

// colDef is a column definition packet's payload.
func colDef(name string, typ byte, unsigned bool) []byte {
	b := lenencStr(nil, "def")
	b = lenencStr(b, "test")
	b = lenencStr(b, "t")
	b = lenencStr(b, "t")
	b = lenencStr(b, name)
	b = lenencStr(b, name)
	flags := uint16(0)
	if unsigned {
		flags |= 0x20
	}
	b = append(b, 0x0c, 0x3f, 0, 20, 0, 0, 0, typ)
	b = binary.LittleEndian.AppendUint16(b, flags)
	return append(b, 0, 0, 0)
}

var (
	eofPacket = []byte{0xfe, 0, 0, 0x02, 0} // warnings 0, status autocommit
	okEnd     = []byte{0xfe, 0, 0, 0x02, 0, 0, 0}
)

type fakeCol struct {
	name     string
	typ      byte
	unsigned bool
}

// serve answers a prepare and an execute of cols with rows (binary row
// payloads), then reads the statement's close.
func (s *fakeServer) serve(cols []fakeCol, rows [][]byte) {
	if cmd, _ := s.command(); cmd != 0x16 {
		s.t.Errorf("first command 0x%02x, want COM_STMT_PREPARE", cmd)
		return
	}
	ok := []byte{0x00, 7, 0, 0, 0}
	ok = binary.LittleEndian.AppendUint16(ok, uint16(len(cols)))
	ok = append(ok, 0, 0, 0, 0, 0)
	out := s.packet(ok)
	for _, c := range cols {
		out = append(out, s.packet(colDef(c.name, c.typ, c.unsigned))...)
	}
	if !s.deprecateEOF {
		out = append(out, s.packet(eofPacket)...)
	}
	if _, err := s.nc.Write(out); err != nil {
		s.t.Errorf("server: %v", err)
		return
	}
	if s.prepareOnly {
		_, _ = io.Copy(io.Discard, s.nc)
		return
	}
	if cmd, _ := s.command(); cmd != 0x17 {
		s.t.Errorf("second command 0x%02x, want COM_STMT_EXECUTE", cmd)
		return
	}
	count := []byte{byte(len(cols))}
	if len(cols) >= 251 {
		count = []byte{0xfc, byte(len(cols)), byte(len(cols) >> 8)}
	}
	out = s.packet(count)
	for _, c := range cols {
		out = append(out, s.packet(colDef(c.name, c.typ, c.unsigned))...)
	}
	if !s.deprecateEOF {
		out = append(out, s.packet(eofPacket)...)
	}
	for _, r := range rows {
		out = append(out, s.packet(r)...)
	}
	if s.deprecateEOF {
		out = append(out, s.packet(okEnd)...)
	} else {
		out = append(out, s.packet(eofPacket)...)
	}
	if _, err := s.nc.Write(out); err != nil {
		s.t.Errorf("server: %v", err)
		return
	}
	if cmd, _ := s.command(); cmd != 0x19 {
		s.t.Errorf("third command 0x%02x, want COM_STMT_CLOSE", cmd)
	}
}

// closeConn is the driver connection the reader closes when it abandons
// a read.
type closeConn struct{ closed bool }

func (c *closeConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("not here") }
func (c *closeConn) Close() error                        { c.closed = true; return nil }
func (c *closeConn) Begin() (driver.Tx, error)           { return nil, errors.New("not here") }

// fakeWire starts a fake server with cols and rows and returns the
// client's side of it.
func fakeWire(t *testing.T, deprecateEOF, prepareOnly bool, cols []fakeCol, rows [][]byte) *wire {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	done := make(chan struct{})
	go func() {
		defer close(done)
		nc, err := ln.Accept()
		if err != nil {
			t.Errorf("accept: %v", err)
			return
		}
		defer nc.Close()
		_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
		(&fakeServer{t: t, deprecateEOF: deprecateEOF, prepareOnly: prepareOnly, nc: nc}).serve(cols, rows)
	}()
	t.Cleanup(func() { <-done })
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &wire{nc: nc, readTimeout: 20 * time.Second}
}

// binRow is a binary row payload: a NULL bitmap (offset 2), then values.
func binRow(ncols int, nulls []int, values ...[]byte) []byte {
	b := make([]byte, 1+(ncols+9)/8)
	for _, i := range nulls {
		b[1+(i+2)/8] |= 1 << ((i + 2) % 8)
	}
	for _, v := range values {
		b = append(b, v...)
	}
	return b
}

// TestBinaryRowsEitherEOF: binary rows read the same from a server that
// ends column definitions and rows with EOF packets (no
// CLIENT_DEPRECATE_EOF: servers before MySQL 5.7.5 / MariaDB 10.2) as
// from one that leaves the definitions' EOF out and ends the rows with an
// OK packet.
func TestBinaryRowsEitherEOF(t *testing.T) {
	cols := []fakeCol{{"f", 0x05, false}, {"n", 0x08, false}, {"s", 0xfd, false}}
	f := binary.LittleEndian.AppendUint64(nil, math.Float64bits(1.5))
	n := binary.LittleEndian.AppendUint64(nil, uint64(0xffffffffffffffff)) // -1
	rows := [][]byte{
		binRow(3, nil, f, n, []byte{2, 'h', 'i'}),
		binRow(3, []int{0, 2}, n),
	}
	want := []string{"1.5 -1 hi", "NULL -1 NULL"}
	for _, deprecateEOF := range []bool{true, false} {
		for _, nrows := range []int{2, 0} {
			w := fakeWire(t, deprecateEOF, false, cols, rows[:nrows])
			dc := &closeConn{}
			r, err := w.prepared(context.Background(), dc, "SELECT f, n, s FROM t", []bool{true, true, false}, nil)
			if err != nil {
				t.Fatalf("deprecateEOF=%v: %v", deprecateEOF, err)
			}
			var got []string
			dest := make([][]byte, 3)
			for {
				err := r.NextRaw(dest)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("deprecateEOF=%v: row %d: %v", deprecateEOF, len(got)+1, err)
				}
				var parts []string
				for i, v := range dest {
					switch {
					case v == nil:
						parts = append(parts, "NULL")
					case i == 0:
						parts = append(parts, strconv.FormatFloat(math.Float64frombits(binary.LittleEndian.Uint64(v)), 'g', -1, 64))
					case i == 1:
						parts = append(parts, strconv.FormatInt(int64(binary.LittleEndian.Uint64(v)), 10))
					default:
						parts = append(parts, string(v))
					}
				}
				got = append(got, strings.Join(parts, " "))
			}
			if strings.Join(got, "|") != strings.Join(want[:nrows], "|") {
				t.Errorf("deprecateEOF=%v, %d rows: read %q, want %q", deprecateEOF, nrows, got, want[:nrows])
			}
			if err := r.Close(); err != nil {
				t.Errorf("deprecateEOF=%v: close: %v", deprecateEOF, err)
			}
			if dc.closed {
				t.Errorf("deprecateEOF=%v: a complete read closed the connection", deprecateEOF)
			}
		}
	}
}

// TestBinaryRowsRefuseChangedColumns: a column whose type changed between
// describe and read (here bigint → varchar, the fake server's view of an
// ALTER TABLE) fails the read before anything runs, naming the table and
// the column, where its string's bytes would have been read as an integer.
func TestBinaryRowsRefuseChangedColumns(t *testing.T) {
	cols := []fakeCol{{"f", 0x05, false}, {"n", 0xfd, false}}
	described := describedTypes([]sqlsource.ColumnMeta{{Name: "f", NativeType: "double"}, {Name: "n", NativeType: "bigint(20)"}})
	for _, deprecateEOF := range []bool{true, false} {
		w := fakeWire(t, deprecateEOF, true, cols, nil)
		dc := &closeConn{}
		_, err := w.prepared(context.Background(), dc, "SELECT f, n FROM t", []bool{true, true}, described)
		if !errors.Is(err, sdk.ErrFailedPrecondition) || !strings.Contains(err.Error(), "test.t") || !strings.Contains(err.Error(), `"n"`) {
			t.Errorf("deprecateEOF=%v: %v", deprecateEOF, err)
		}
		if !dc.closed {
			t.Errorf("deprecateEOF=%v: the abandoned statement's connection was kept", deprecateEOF)
		}
	}
}

// TestBinaryRowsEOFAfter255Columns: with 255 columns the EOF after the
// prepared definitions has sequence number 1 (wrapped), the number the
// execute's answer starts with: it is told apart by its shape.
func TestBinaryRowsEOFAfter255Columns(t *testing.T) {
	cols := make([]fakeCol, 255)
	bin := make([]bool, 255)
	var values [][]byte
	for i := range cols {
		cols[i] = fakeCol{name: "c" + strconv.Itoa(i), typ: 0x08}
		bin[i] = true
		values = append(values, binary.LittleEndian.AppendUint64(nil, uint64(i)))
	}
	for _, deprecateEOF := range []bool{true, false} {
		w := fakeWire(t, deprecateEOF, false, cols, [][]byte{binRow(255, nil, values...)})
		r, err := w.prepared(context.Background(), &closeConn{}, "SELECT * FROM t", bin, nil)
		if err != nil {
			t.Fatalf("deprecateEOF=%v: %v", deprecateEOF, err)
		}
		dest := make([][]byte, 255)
		if err := r.NextRaw(dest); err != nil {
			t.Fatalf("deprecateEOF=%v: %v", deprecateEOF, err)
		}
		if got := binary.LittleEndian.Uint64(dest[254]); got != 254 {
			t.Errorf("deprecateEOF=%v: last column %d, want 254", deprecateEOF, got)
		}
		if err := r.NextRaw(dest); err != io.EOF {
			t.Errorf("deprecateEOF=%v: after the row: %v", deprecateEOF, err)
		}
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	}
}
