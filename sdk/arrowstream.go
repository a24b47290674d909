package sdk

import (
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// chunkSize is the largest piece of an Arrow IPC stream put in one gRPC
// message. Larger messages are split, so values of any size travel while
// each gRPC message stays far below the message limit.
const chunkSize = 1 << 20

// MaxMessageSize is the gRPC message limit on both sides, comfortably above
// chunkSize plus framing.
const MaxMessageSize = 64 << 20

// chunkWriter buffers the bytes the IPC writer produces and hands them to
// send in chunks of at most chunkSize, flushing after each record batch so
// that a batch never waits for the next one.
type chunkWriter struct {
	buf  []byte
	send func([]byte) error
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		room := chunkSize - len(w.buf)
		if room == 0 {
			if err := w.Flush(); err != nil {
				return 0, err
			}
			room = chunkSize
		}
		k := min(room, len(p))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
	}
	return n, nil
}

func (w *chunkWriter) Flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	// send must not retain the slice after it returns (gRPC marshals it
	// synchronously), so the buffer is reused.
	err := w.send(w.buf)
	w.buf = w.buf[:0]
	return err
}

// writeStream drains rr into send as one Arrow IPC stream.
func writeStream(rr array.RecordReader, send func([]byte) error) error {
	cw := &chunkWriter{buf: make([]byte, 0, 64<<10), send: send}
	w := ipc.NewWriter(cw, ipc.WithSchema(rr.Schema()), ipc.WithAllocator(memory.DefaultAllocator))
	for rr.Next() {
		if err := w.Write(rr.RecordBatch()); err != nil {
			return err
		}
		if err := cw.Flush(); err != nil {
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

// chunkReader presents a sequence of received chunks as an io.Reader.
type chunkReader struct {
	recv func() ([]byte, error)
	cur  []byte
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		b, err := r.recv()
		if err != nil {
			return 0, err
		}
		r.cur = b
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// readStream returns a RecordReader over an IPC stream carried by recv. It
// reads the schema message before returning.
func readStream(recv func() ([]byte, error), mem memory.Allocator) (*ipc.Reader, error) {
	return ipc.NewReader(&chunkReader{recv: recv}, ipc.WithAllocator(mem), ipc.WithDelayReadSchema(false))
}
