package tds

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
)

// Packet types ([MS-TDS] 2.2.3.1.1).
const (
	pktSQLBatch    = 1
	pktRPC         = 3
	pktReply       = 4
	pktAttention   = 6
	pktBulkLoad    = 7
	pktTransMgr    = 14
	pktLogin7      = 16
	pktPrelogin    = 18
	statusEOM      = 0x01
	headerSize     = 8
	maxPacketSize  = 32767
	minPacketSize  = 512
	defaultPktSize = 4096
)

// message is a complete client message (all packets up to EOM).
type message struct {
	typ  byte
	data []byte
	err  error
}

// readMessages reads client messages until the connection fails and sends
// them to ch, which it closes at the end.
func readMessages(c net.Conn, ch chan<- message) {
	defer close(ch)
	var hdr [headerSize]byte
	var cur []byte
	for {
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			ch <- message{err: err}
			return
		}
		if hdr[0] == 0x16 && cur == nil { // TLS handshake record: client wants TLS
			ch <- message{err: errors.New("client started a TLS handshake; the test server supports encrypt=disable only")}
			return
		}
		size := int(binary.BigEndian.Uint16(hdr[2:4]))
		if size < headerSize {
			ch <- message{err: fmt.Errorf("bad packet size %d", size)}
			return
		}
		body := make([]byte, size-headerSize)
		if _, err := io.ReadFull(c, body); err != nil {
			ch <- message{err: err}
			return
		}
		cur = append(cur, body...)
		if hdr[1]&statusEOM != 0 {
			ch <- message{typ: hdr[0], data: cur}
			cur = nil
		}
	}
}

// msgWriter frames a server message into packets of at most size bytes.
type msgWriter struct {
	c      net.Conn
	size   int
	buf    []byte
	pktID  byte
	err    error
	nPkts  int
	onFull func() // called after each intermediate packet is sent
	sent   func(n int)
}

func newMsgWriter(c net.Conn, size int) *msgWriter {
	w := &msgWriter{c: c, size: size, buf: make([]byte, headerSize, size), pktID: 1}
	return w
}

func (w *msgWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && w.err == nil {
		room := w.size - len(w.buf)
		if room == 0 {
			w.flush(0)
			if w.onFull != nil {
				w.onFull()
			}
			continue
		}
		k := min(room, len(p))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
	}
	return n, w.err
}

func (w *msgWriter) flush(status byte) {
	if w.err != nil {
		return
	}
	w.buf[0] = pktReply
	w.buf[1] = status
	binary.BigEndian.PutUint16(w.buf[2:4], uint16(len(w.buf)))
	binary.BigEndian.PutUint16(w.buf[4:6], 0x33) // SPID
	w.buf[6] = w.pktID
	w.buf[7] = 0
	w.pktID++
	_, w.err = w.c.Write(w.buf)
	w.nPkts++
	w.buf = w.buf[:headerSize]
	if w.sent != nil {
		w.sent(1)
	}
}

// finish sends the last packet of the message.
func (w *msgWriter) finish() error {
	w.flush(statusEOM)
	w.pktID = 1
	return w.err
}
