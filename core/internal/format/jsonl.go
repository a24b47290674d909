package format

import (
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
)

// jsonlEncoder writes one JSON object per line. Decimals are JSON strings:
// most JSON parsers read numbers as float64 and would lose digits.
type jsonlEncoder struct {
	out   compressor
	buf   []byte
	tmp   []byte
	keys  [][]byte
	fns   []renderFunc
	kinds []kind
	names []string
}

func newJSONL(w io.Writer, schema *arrow.Schema, cd codec) (Encoder, error) {
	out, err := newCompressor(w, cd)
	if err != nil {
		return nil, err
	}
	e := &jsonlEncoder{out: out, buf: make([]byte, 0, flushAt+64<<10), fns: make([]renderFunc, schema.NumFields()), kinds: make([]kind, schema.NumFields())}
	for i, f := range schema.Fields() {
		k := []byte{}
		if i == 0 {
			k = append(k, '{')
		} else {
			k = append(k, ',')
		}
		k = appendJSONString(k, f.Name)
		e.keys = append(e.keys, append(k, ':'))
		e.names = append(e.names, f.Name)
	}
	return e, nil
}

func (e *jsonlEncoder) Write(rec arrow.RecordBatch) error {
	cols := rec.Columns()
	for c, a := range cols {
		fn, k, err := renderer(a, true)
		if err != nil {
			return fmt.Errorf("column %q: %w", e.names[c], err)
		}
		e.fns[c], e.kinds[c] = fn, k
	}
	n := int(rec.NumRows())
	for i := 0; i < n; i++ {
		for c, a := range cols {
			e.buf = append(e.buf, e.keys[c]...)
			if a.IsNull(i) {
				e.buf = append(e.buf, "null"...)
				continue
			}
			switch e.kinds[c] {
			case str:
				e.tmp = e.fns[c](e.tmp[:0], i)
				e.buf = appendJSONString(e.buf, e.tmp)
			case plain:
				e.buf = append(e.buf, '"')
				e.buf = e.fns[c](e.buf, i)
				e.buf = append(e.buf, '"')
			default:
				e.buf = e.fns[c](e.buf, i)
			}
		}
		if len(cols) == 0 {
			e.buf = append(e.buf, '{')
		}
		e.buf = append(e.buf, '}', '\n')
		if len(e.buf) >= flushAt {
			if err := e.drain(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *jsonlEncoder) drain() error {
	if len(e.buf) == 0 {
		return nil
	}
	_, err := e.out.Write(e.buf)
	e.buf = e.buf[:0]
	return err
}

func (e *jsonlEncoder) Flush() error {
	if err := e.drain(); err != nil {
		return err
	}
	return e.out.Flush()
}

func (e *jsonlEncoder) Buffered() int64 { return int64(len(e.buf)) }

func (e *jsonlEncoder) Close() error {
	if err := e.drain(); err != nil {
		return err
	}
	return e.out.Close()
}
