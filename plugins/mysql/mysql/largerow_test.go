package mysql

import (
	"bytes"
	"net"
	"runtime"
	"testing"
)

// A row of a value larger than a packet is joined into a buffer that grows
// once, to the value's length (known from its first packet), not by
// repeated copies; and a buffer that large is let go after its row.
func TestPacketsJoinLargeRow(t *testing.T) {
	value := make([]byte, 2*maxPayload+maxPayload/2)
	for i := range value {
		value[i] = byte(i * 31)
	}
	// The row: the large value (length-encoded, 9-byte header) and "ok".
	row := append([]byte{0xfe, 0, 0, 0, 0, 0, 0, 0, 0}, value...)
	n := uint64(len(value))
	for i := range 8 {
		row[1+i] = byte(n >> (8 * i))
	}
	row = append(row, 2, 'o', 'k')
	var out []byte
	seq := byte(1)
	for rest := row; ; {
		k := min(len(rest), maxPayload)
		out = append(out, byte(k), byte(k>>8), byte(k>>16), seq)
		out = append(out, rest[:k]...)
		rest, seq = rest[k:], seq+1
		if k < maxPayload {
			break
		}
	}
	out = append(out, 1, 0, 0, seq, 0xfa) // a small packet after it
	client, server := net.Pipe()
	defer client.Close()
	go func() {
		defer server.Close()
		server.Write(out)
	}()
	p := packets{nc: client, seq: 1}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got, err := p.next()
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	// The packet buffer and the first packet joined (a packet each), then
	// the row and a packet's room (88 MiB); append's growth took 120 MiB.
	if a := after.TotalAlloc - before.TotalAlloc; a > uint64(len(row)+4*maxPayload) {
		t.Errorf("joining a row of %d MiB allocated %d MiB", len(row)>>20, a>>20)
	}
	if !bytes.Equal(got, row) {
		t.Fatalf("joined row of %d bytes differs from the %d sent", len(got), len(row))
	}
	if c := cap(p.joined); c > len(row)+maxPayload {
		t.Errorf("joined buffer of %d bytes for a row of %d", c, len(row))
	}
	if got, err := p.next(); err != nil || !bytes.Equal(got, []byte{0xfa}) {
		t.Fatalf("next packet %v, %v", got, err)
	}
	if p.joined != nil {
		t.Errorf("the large row's buffer (%d bytes) is kept after it", cap(p.joined))
	}
}
