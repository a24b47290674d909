package verify

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/halfpipe-io/halfpipe/core/internal/format"
	"github.com/halfpipe-io/halfpipe/core/internal/manifest"
)

// rowCounter counts the rows of a decoded stream written to it.
type rowCounter interface {
	Write(p []byte) (int, error)
	// Rows is the count once the whole stream was written.
	Rows() (int64, error)
}

// csvRows counts RFC 4180 records. A newline inside double quotes does not
// end a record; an escaped quote ("") toggles the state twice, so quote
// parity is all it takes. A last record without a newline counts.
type csvRows struct {
	n       int64
	inQuote bool
	pending bool // bytes of a record after the last record end
}

func (c *csvRows) Write(p []byte) (int, error) {
	for i := 0; i < len(p); {
		if c.inQuote {
			q := bytes.IndexByte(p[i:], '"')
			if q < 0 {
				break
			}
			c.inQuote = false
			i += q + 1
			continue
		}
		end := len(p)
		q := bytes.IndexByte(p[i:], '"')
		if q >= 0 {
			end = i + q
		}
		if seg := p[i:end]; len(seg) > 0 {
			if k := bytes.Count(seg, []byte{'\n'}); k > 0 {
				c.n += int64(k)
				c.pending = seg[len(seg)-1] != '\n'
			} else {
				c.pending = true
			}
		}
		if q < 0 {
			break
		}
		c.inQuote, c.pending = true, true
		i = end + 1
	}
	return len(p), nil
}

func (c *csvRows) Rows() (int64, error) {
	if c.pending {
		return c.n + 1, nil
	}
	return c.n, nil
}

// lines counts newline-terminated lines (JSON Lines escapes newlines in
// values, so every newline ends a row).
type lines struct{ n int64 }

func (l *lines) Write(p []byte) (int, error) {
	l.n += int64(bytes.Count(p, []byte{'\n'}))
	return len(p), nil
}

func (l *lines) Rows() (int64, error) { return l.n, nil }

// MaxParquetFooter is the largest Parquet footer verify reads: it keeps
// this much of the end of a file, since a stream cannot seek back to it.
var MaxParquetFooter = 16 << 20

const tailBlock = 1 << 20

var tailBlocks = sync.Pool{New: func() any { b := make([]byte, 0, tailBlock); return &b }}

// parquetRows keeps the head magic and the last MaxParquetFooter bytes of
// a Parquet file and reads the row count from its footer. The tail lives
// in pooled blocks, so small files hold little memory.
type parquetRows struct {
	max    int
	head   []byte
	blocks []*[]byte
	held   int
	total  int64
	// md is the footer, once Rows has read it.
	md *metadata.FileMetaData
}

func newParquetRows() *parquetRows { return &parquetRows{max: MaxParquetFooter + 8} }

func (t *parquetRows) Write(p []byte) (int, error) {
	n := len(p)
	t.total += int64(n)
	if len(t.head) < 4 {
		t.head = append(t.head, p[:min(len(p), 4-len(t.head))]...)
	}
	for len(p) > 0 {
		if len(t.blocks) == 0 || len(*t.blocks[len(t.blocks)-1]) == tailBlock {
			b := tailBlocks.Get().(*[]byte)
			*b = (*b)[:0]
			t.blocks = append(t.blocks, b)
		}
		last := t.blocks[len(t.blocks)-1]
		k := min(len(p), tailBlock-len(*last))
		*last = append(*last, p[:k]...)
		p = p[k:]
		t.held += k
	}
	for len(t.blocks) > 1 && t.held-len(*t.blocks[0]) >= t.max {
		t.held -= len(*t.blocks[0])
		tailBlocks.Put(t.blocks[0])
		t.blocks = append(t.blocks[:0], t.blocks[1:]...)
	}
	return n, nil
}

// last copies the final n bytes held (n <= t.held).
func (t *parquetRows) last(n int) []byte {
	out := make([]byte, n)
	rest := n
	for i := len(t.blocks) - 1; i >= 0 && rest > 0; i-- {
		b := *t.blocks[i]
		k := min(rest, len(b))
		copy(out[rest-k:rest], b[len(b)-k:])
		rest -= k
	}
	return out
}

func (t *parquetRows) release() {
	for _, b := range t.blocks {
		tailBlocks.Put(b)
	}
	t.blocks, t.held = nil, 0
}

func (t *parquetRows) Rows() (rows int64, err error) {
	defer t.release()
	if t.total < 12 {
		return 0, fmt.Errorf("not a Parquet file: %d bytes", t.total)
	}
	if string(t.head) != "PAR1" {
		return 0, fmt.Errorf("not a Parquet file: it does not start with PAR1")
	}
	end := t.last(8)
	switch string(end[4:]) {
	case "PAR1":
	case "PARE":
		return 0, fmt.Errorf("encrypted Parquet footers are not supported")
	default:
		return 0, fmt.Errorf("not a Parquet file: it does not end with PAR1 (truncated?)")
	}
	size := int64(binary.LittleEndian.Uint32(end[:4]))
	if size+12 > t.total {
		return 0, fmt.Errorf("parquet footer length %d exceeds the file's %d bytes (truncated?)", size, t.total)
	}
	if size+8 > int64(t.max) || size+8 > int64(t.held) {
		return 0, fmt.Errorf("parquet footer of %d bytes is larger than the %d MiB hp verify reads", size, MaxParquetFooter>>20)
	}
	footer := t.last(int(size) + 8)[:size]
	// A corrupt footer can make the thrift decoder panic rather than fail.
	defer func() {
		if r := recover(); r != nil {
			rows, err = 0, fmt.Errorf("parquet footer is corrupt: %v", r)
		}
	}()
	md, err := metadata.NewFileMetaData(footer, nil)
	if err != nil {
		return 0, fmt.Errorf("parquet footer is corrupt: %w", err)
	}
	t.md = md
	return md.NumRows, nil
}

// schemaProblem compares the Arrow schema of a Parquet footer with the
// manifest's: the names and order of the columns, and their types where
// the file stores its Arrow schema and the column is not one hp converted
// for Parquet (format.TypeMetadataKey) or dictionary-encoded.
func schemaProblem(md *metadata.FileMetaData, m *manifest.Manifest) string {
	if md == nil || m.Schema.ArrowIPC == "" {
		return ""
	}
	want, err := m.Schema.Arrow()
	if err != nil {
		return "schema: " + err.Error()
	}
	got, err := pqarrow.FromParquet(md.Schema, nil, md.KeyValueMetadata())
	if err != nil {
		return "schema: cannot read the file's: " + err.Error()
	}
	if got.NumFields() != want.NumFields() {
		return fmt.Sprintf("schema: the file has %d columns, the manifest %d", got.NumFields(), want.NumFields())
	}
	kv := md.KeyValueMetadata()
	stored := kv.FindValue("ARROW:schema") != nil
	for i, w := range want.Fields() {
		g := got.Field(i)
		exact := stored && g.Metadata.FindKey(format.TypeMetadataKey) < 0 && g.Type.ID() != arrow.DICTIONARY
		if g.Name != w.Name || (exact && !arrow.TypeEqual(g.Type, w.Type)) {
			return fmt.Sprintf("schema: column %d is %s %s in the file, %s %s in the manifest", i+1, g.Name, g.Type, w.Name, w.Type)
		}
	}
	return ""
}
