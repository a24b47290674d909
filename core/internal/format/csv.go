package format

import (
	"bytes"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
)

// flushAt is the size at which the row buffer goes to the compressor.
const flushAt = 256 << 10

type csvEncoder struct {
	out     compressor
	schema  *arrow.Schema
	buf     []byte
	tmp     []byte
	delim   []byte
	null    []byte
	header  bool
	started bool
	fns     []renderFunc
	kinds   []kind
}

func newCSV(w io.Writer, schema *arrow.Schema, o options) (Encoder, error) {
	if o.csvDelimiter == '"' || o.csvDelimiter == '\n' || o.csvDelimiter == '\r' || !utf8.ValidRune(o.csvDelimiter) {
		return nil, fmt.Errorf("CSV delimiter %q cannot be used", o.csvDelimiter)
	}
	out, err := newCompressor(w, o)
	if err != nil {
		return nil, err
	}
	return &csvEncoder{
		out: out, schema: schema, buf: make([]byte, 0, flushAt+64<<10),
		delim: utf8.AppendRune(nil, o.csvDelimiter), null: []byte(o.csvNull), header: o.csvHeader,
		fns: make([]renderFunc, schema.NumFields()), kinds: make([]kind, schema.NumFields()),
	}, nil
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
	if len(v) == 0 {
		return len(e.null) == 0
	}
	if v[0] == ' ' || v[len(v)-1] == ' ' || v[0] == '\t' || v[len(v)-1] == '\t' {
		return true
	}
	single := len(e.delim) == 1
	for _, c := range v {
		if c == '"' || c == '\n' || c == '\r' || (single && c == e.delim[0]) {
			return true
		}
	}
	if !single && containsBytes(v, e.delim) {
		return true
	}
	return len(e.null) > 0 && string(v) == string(e.null)
}

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
	b = append(b, '"')
	for {
		i := bytes.IndexByte(v, '"')
		if i < 0 {
			break
		}
		b = append(append(b, v[:i+1]...), '"')
		v = v[i+1:]
	}
	return append(append(b, v...), '"')
}

func (e *csvEncoder) Write(rec arrow.RecordBatch) error {
	if !e.started {
		e.start()
	}
	cols := rec.Columns()
	for c, a := range cols {
		fn, k, err := renderer(a, false)
		if err != nil {
			return fmt.Errorf("column %q: %w", e.schema.Field(c).Name, err)
		}
		e.fns[c], e.kinds[c] = fn, k
	}
	n := int(rec.NumRows())
	for i := 0; i < n; i++ {
		for c, a := range cols {
			if c > 0 {
				e.buf = append(e.buf, e.delim...)
			}
			if a.IsNull(i) {
				e.buf = append(e.buf, e.null...)
				continue
			}
			switch e.kinds[c] {
			case str, rawJSON:
				// Render in place; only a value that needs quotes moves.
				start := len(e.buf)
				e.buf = e.fns[c](e.buf, i)
				if e.needsQuotes(e.buf[start:]) {
					e.tmp = append(e.tmp[:0], e.buf[start:]...)
					e.buf = quoted(e.buf[:start], e.tmp)
				}
			default:
				// Numbers, dates and base64 need no quotes, unless one reads
				// as NULL: empty binary, or a value equal to the marker.
				start := len(e.buf)
				e.buf = e.fns[c](e.buf, i)
				if v := e.buf[start:]; len(v) == len(e.null) && string(v) == string(e.null) {
					e.tmp = append(e.tmp[:0], v...)
					e.buf = e.field(e.buf[:start], e.tmp)
				}
			}
		}
		e.buf = append(e.buf, '\n')
		if len(e.buf) >= flushAt {
			if err := e.drain(); err != nil {
				return err
			}
		}
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
