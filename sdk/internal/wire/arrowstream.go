package wire

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/encoding"
	protocodec "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
)

// The Arrow IPC stream of a Read or Write travels in chunks, each the bytes
// field of a ReadResponse or WriteRequest. The codec below (passed to gRPC
// by [ServerOptions] and [DialOptions]) frames those chunks itself: a sent chunk references the record batch's own buffers
// instead of being copied into a message and marshaled, and a received one
// stays in gRPC's buffers until the IPC reader copies it out once. The bytes
// on the wire are the proto encoding of those messages, so peers built
// without this codec interoperate.

// chunkSize is the largest piece of an Arrow IPC stream put in one gRPC
// message. Larger messages are split, so values of any size travel while
// each gRPC message stays far below the message limit.
const chunkSize = 1 << 20

// MaxMessageSize is the gRPC message limit on both sides, comfortably above
// chunkSize plus framing.
const MaxMessageSize = 64 << 20

// Field numbers of the chunks' bytes fields.
const (
	ReadResponseArrow protowire.Number = 1 // ReadResponse.arrow
	WriteRequestArrow protowire.Number = 2 // WriteRequest.arrow
	// WriteRequestDeleteKeys carries a sync's second stream, the keys of
	// the rows to delete (WriteRequest.delete_keys).
	WriteRequestDeleteKeys protowire.Number = 3
	// writeRequestAbort is WriteRequest.abort: the host's records failed.
	writeRequestAbort protowire.Number = 4
)

// AbortedError is what a Write's record stream returns once the host has
// sent WriteRequest.abort: the rows are incomplete and must not be
// committed.
type AbortedError struct{ Reason string }

func (e *AbortedError) Error() string {
	return "the host aborted the write (" + e.Reason + "): nothing may be committed"
}

// copyBelow is the size under which a piece of the IPC stream (message
// metadata, padding, small buffers) is copied rather than referenced.
const copyBelow = 4 << 10

// codec is the protocol's codec: given to gRPC on both sides of a
// connection, never registered, so other gRPC users in the process (AWS
// SDKs, a host's other clients) keep the standard codec. It keeps the
// standard codec's name, "proto", since the bytes are the same.
var codec encoding.CodecV2 = chunkCodec{encoding.GetCodecV2(protocodec.Name)}

// chunkCodec is gRPC's proto codec, plus outChunk and inChunk.
type chunkCodec struct{ encoding.CodecV2 }

// outChunk is a chunk to send: field's bytes, in data, which gRPC frees
// once written.
type outChunk struct {
	field protowire.Number
	data  mem.BufferSlice
}

// inChunk receives a chunk: the bytes of field, read from r.
type inChunk struct {
	field protowire.Number
	r     *mem.Reader
	abort *AbortedError // WriteRequest.abort was received
}

func (c chunkCodec) Marshal(v any) (mem.BufferSlice, error) {
	ch, ok := v.(*outChunk)
	if !ok {
		return c.CodecV2.Marshal(v)
	}
	hdr := protowire.AppendTag(make([]byte, 0, 16), ch.field, protowire.BytesType)
	hdr = protowire.AppendVarint(hdr, uint64(ch.data.Len()))
	return append(mem.BufferSlice{mem.SliceBuffer(hdr)}, ch.data...), nil
}

func (c chunkCodec) Unmarshal(data mem.BufferSlice, v any) error {
	ch, ok := v.(*inChunk)
	if !ok {
		return c.CodecV2.Unmarshal(data, v)
	}
	// The common form: the one field, nothing else.
	r := data.Reader()
	if tag, err := binary.ReadUvarint(r); err == nil {
		num, typ := protowire.DecodeTag(tag)
		if n, err := binary.ReadUvarint(r); err == nil && num == ch.field && typ == protowire.BytesType && n == uint64(r.Remaining()) {
			ch.r = r
			return nil
		}
	}
	r.Close()
	// Any other: the last occurrence of the field wins, as in proto; a
	// message without it (an empty chunk) holds no bytes.
	b := data.Materialize()
	var payload []byte
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("arrow chunk: %w", protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num == ch.field && typ == protowire.BytesType:
			payload, n = protowire.ConsumeBytes(b)
		case num == writeRequestAbort && typ == protowire.BytesType && ch.field != ReadResponseArrow:
			var reason []byte
			reason, n = protowire.ConsumeBytes(b)
			ch.abort = &AbortedError{Reason: string(reason)}
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("arrow chunk: %w", protowire.ParseError(n))
		}
		b = b[n:]
	}
	ch.r = mem.BufferSlice{mem.SliceBuffer(payload)}.Reader()
	return nil
}

// chunkWriter gathers what the IPC writer writes into chunks of at most
// chunkSize and hands them to send, flushing after each record batch so
// that a batch never waits for the next one. Large pieces (the batch's
// buffers) are referenced, not copied; the batch is kept until gRPC has
// written them.
type chunkWriter struct {
	send  func(mem.BufferSlice) error
	cur   mem.BufferSlice
	n     int    // bytes in cur
	small []byte // the copied pieces of cur since its last referenced one
	hold  *batchHold
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if w.n == chunkSize {
			if err := w.Flush(); err != nil {
				return 0, err
			}
		}
		k := min(chunkSize-w.n, len(p))
		// mem.NewBuffer pools (and so returns to hold) only buffers
		// above gRPC's pooling threshold.
		if k < copyBelow || w.hold == nil || mem.IsBelowBufferPoolingThreshold(k) {
			if w.small == nil {
				w.small = make([]byte, 0, min(chunkSize, max(k, copyBelow)))
			}
			w.small = append(w.small, p[:k]...)
		} else {
			w.endSmall()
			piece := p[:k:k]
			w.hold.refs.Add(1)
			w.cur = append(w.cur, mem.NewBuffer(&piece, w.hold))
		}
		w.n += k
		p = p[k:]
	}
	return n, nil
}

// endSmall closes the run of copied pieces; the next ones start a new
// buffer, since the send may still be reading this one.
func (w *chunkWriter) endSmall() {
	if len(w.small) > 0 {
		w.cur = append(w.cur, mem.SliceBuffer(w.small))
		w.small = nil
	}
}

// Flush sends what has been gathered; gRPC frees the buffers it sends.
func (w *chunkWriter) Flush() error {
	w.endSmall()
	if w.n == 0 {
		return nil
	}
	err := w.send(w.cur)
	w.cur, w.n = nil, 0
	return err
}

// batchHold keeps a record batch while gRPC holds references to its
// buffers: it is the mem.BufferPool of those references, released when the
// last is returned. The writer holds one reference of its own until the
// batch is written.
type batchHold struct {
	rec  arrow.RecordBatch
	refs atomic.Int64
}

func holdBatch(rec arrow.RecordBatch) *batchHold {
	rec.Retain()
	h := &batchHold{rec: rec}
	h.refs.Store(1)
	return h
}

func (h *batchHold) Get(int) *[]byte { panic("batchHold lends no buffers") }
func (h *batchHold) Put(*[]byte)     { h.done() }

func (h *batchHold) done() {
	if h.refs.Add(-1) == 0 {
		h.rec.Release()
	}
}

// WriteStream drains rr into send (a stream's SendMsg) as one Arrow IPC
// stream, as chunks of field. The stream must use this package's codec.
func WriteStream(rr array.RecordReader, field protowire.Number, send func(any) error) error {
	cw := &chunkWriter{send: func(b mem.BufferSlice) error { return send(&outChunk{field: field, data: b}) }}
	w := ipc.NewWriter(cw, ipc.WithSchema(rr.Schema()), ipc.WithAllocator(memory.DefaultAllocator))
	for rr.Next() {
		cw.hold = holdBatch(rr.RecordBatch())
		err := w.Write(cw.hold.rec)
		if err == nil {
			err = cw.Flush()
		}
		cw.hold.done()
		cw.hold = nil
		if err != nil {
			return err
		}
	}
	if err := rr.Err(); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return cw.Flush()
}

// chunkReader presents the chunks of field received by recv as an
// io.Reader.
type chunkReader struct {
	field protowire.Number
	recv  func(any) error
	cur   *mem.Reader
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for r.cur == nil || r.cur.Remaining() == 0 {
		ch := &inChunk{field: r.field}
		if err := r.recv(ch); err != nil {
			return 0, err
		}
		if ch.abort != nil {
			return 0, ch.abort
		}
		r.cur = ch.r
	}
	return r.cur.Read(p)
}

// ReadStream returns a RecordReader over an IPC stream carried by chunks of
// field received by recv (a stream's RecvMsg). It reads the schema message
// before returning. The stream must use this package's codec.
// A chunk left half read when the reader is abandoned goes to the
// garbage collector, not back to gRPC's pool.
func ReadStream(field protowire.Number, recv func(any) error, mem memory.Allocator) (*ipc.Reader, error) {
	return ipc.NewReader(&chunkReader{field: field, recv: recv}, ipc.WithAllocator(mem), ipc.WithDelayReadSchema(false))
}
