package format

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// Decoder reads the record batches of one file, in order.
type Decoder interface {
	// Read returns the next batch, or io.EOF after the last. The caller
	// releases each batch.
	Read() (arrow.RecordBatch, error)
	// Release frees what the decoder holds.
	Release()
	// Schema is the schema of the batches.
	Schema() *arrow.Schema
}

// DecodeBatchRows bounds the rows of a decoded batch.
const DecodeBatchRows = 64 << 10

// decodeBatchBytes closes a text batch early once its values hold this
// many bytes, so that wide rows keep batches small.
const decodeBatchBytes = 16 << 20

// NewDecompressor returns a reader of r's bytes decompressed by c.
func NewDecompressor(r io.Reader, c Compression) (io.ReadCloser, error) {
	switch c {
	case Gzip:
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, err // "gzip: ..."
		}
		return zr, nil
	case Zstd:
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return zr.IOReadCloser(), nil
	case Snappy:
		// The writer uses Snappy-compatible framing, which s2 reads.
		return io.NopCloser(s2.NewReader(r)), nil
	case None, "":
		return io.NopCloser(r), nil
	}
	return nil, fmt.Errorf("compression %q is not supported", c)
}

// CSVReadOptions are how a CSV file was written.
type CSVReadOptions struct {
	Header    bool
	Delimiter rune
	// Null is the text of NULL; an empty quoted field is always the empty
	// string.
	Null string
	// Quote is the quote character, '"' when 0; NoQuote reads every field
	// as it stands, quotes included.
	Quote   byte
	NoQuote bool
}

// csvDecoder reads CSV as csvEncoder writes it, into a known schema.
type csvDecoder struct {
	r      *bufio.Reader
	schema *arrow.Schema
	o      CSVReadOptions
	delim  []byte
	quote  int // the quote byte, or -1 for none
	cols   []*column
	line   int64
	// row holds the current record's unquoted fields.
	row    []byte
	fields []csvField
	scrap  []byte
	header bool
	err    error
}

type csvField struct {
	start, end int
	quoted     bool
}

// NewCSVDecoder reads CSV text (already decompressed) into batches of
// schema, each value parsed from the text form the encoder writes.
func NewCSVDecoder(r io.Reader, schema *arrow.Schema, o CSVReadOptions) (Decoder, error) {
	d, err := newCSVDecoder(r, o)
	if err != nil {
		return nil, err
	}
	if err := d.setSchema(schema); err != nil {
		return nil, err
	}
	return d, nil
}

// NewCSVHeaderDecoder reads CSV text whose header names the columns, all
// read as text (utf8): the header is read first, so that the decoder's
// Schema is known.
func NewCSVHeaderDecoder(r io.Reader, o CSVReadOptions) (Decoder, error) {
	d, err := newCSVDecoder(r, o)
	if err != nil {
		return nil, err
	}
	ok, err := d.record()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errors.New("no header: the file is empty")
	}
	d.header = false
	fields := make([]arrow.Field, len(d.fields))
	seen := map[string]int{}
	for i, f := range d.fields {
		name := string(d.row[f.start:f.end])
		if name == "" {
			return nil, fmt.Errorf("line %d: header field %d is empty", d.line, i+1)
		}
		if j, dup := seen[name]; dup {
			return nil, fmt.Errorf("line %d: header fields %d and %d are both %q", d.line, j+1, i+1, name)
		}
		seen[name] = i
		fields[i] = arrow.Field{Name: name, Type: arrow.BinaryTypes.String, Nullable: true}
	}
	if err := d.setSchema(arrow.NewSchema(fields, nil)); err != nil {
		return nil, err
	}
	return d, nil
}

func newCSVDecoder(r io.Reader, o CSVReadOptions) (*csvDecoder, error) {
	if o.Delimiter == 0 {
		o.Delimiter = ','
	}
	if o.Quote == 0 {
		o.Quote = '"'
	}
	quote := int(o.Quote)
	if o.NoQuote {
		quote = -1
	}
	if o.Delimiter == '\n' || o.Delimiter == '\r' || !utf8.ValidRune(o.Delimiter) || int(o.Delimiter) == quote {
		return nil, fmt.Errorf("CSV delimiter %q cannot be used", o.Delimiter)
	}
	if !o.NoQuote && (o.Quote >= utf8.RuneSelf || o.Quote == '\n' || o.Quote == '\r') {
		return nil, fmt.Errorf("CSV quote %q cannot be used: one ASCII character", o.Quote)
	}
	return &csvDecoder{r: bufio.NewReaderSize(r, 256<<10), o: o, delim: utf8.AppendRune(nil, o.Delimiter), quote: quote, header: o.Header}, nil
}

func (d *csvDecoder) setSchema(schema *arrow.Schema) error {
	d.schema = schema
	for _, f := range schema.Fields() {
		c, err := newColumn(memory.DefaultAllocator, f.Type)
		if err != nil {
			d.Release()
			return fmt.Errorf("column %q: %w", f.Name, err)
		}
		d.cols = append(d.cols, c)
	}
	return nil
}

func (d *csvDecoder) Schema() *arrow.Schema { return d.schema }

func (d *csvDecoder) Release() {
	releaseColumns(d.cols)
	d.cols = nil
}

func (d *csvDecoder) Read() (arrow.RecordBatch, error) {
	if d.err != nil {
		return nil, d.err
	}
	rows, size := 0, 0
	for rows < DecodeBatchRows && size < decodeBatchBytes {
		ok, err := d.record()
		if err == nil && ok && d.header {
			d.header = false
			if err = d.checkHeader(); err == nil {
				continue
			}
		} else if err == nil && ok {
			err = d.put()
		}
		if err != nil {
			d.err = err
			return nil, err
		}
		if !ok {
			break
		}
		rows++
		size += len(d.row)
	}
	if rows == 0 {
		d.err = io.EOF
		return nil, io.EOF
	}
	return finishBatch(d.schema, d.cols, rows), nil
}

// finishBatch makes a batch of the values the columns built.
func finishBatch(schema *arrow.Schema, cols []*column, rows int) arrow.RecordBatch {
	arrs := make([]arrow.Array, len(cols))
	for i, c := range cols {
		arrs[i] = c.finish()
	}
	return arrowRecord(schema, arrs, int64(rows))
}

// releaseColumns frees the columns' builders.
func releaseColumns(cols []*column) {
	for _, c := range cols {
		c.release()
	}
}

// put appends the current record's values.
func (d *csvDecoder) put() error {
	if len(d.fields) != len(d.cols) {
		return fmt.Errorf("line %d: %d fields, the schema has %d columns", d.line, len(d.fields), len(d.cols))
	}
	for i, f := range d.fields {
		v := d.row[f.start:f.end]
		c := d.cols[i]
		if !f.quoted && string(v) == d.o.Null {
			c.b.AppendNull()
			continue
		}
		if err := c.put(v); err != nil {
			return fmt.Errorf("line %d, column %q: %w", d.line, d.schema.Field(i).Name, err)
		}
	}
	return nil
}

func (d *csvDecoder) checkHeader() error {
	if len(d.fields) != len(d.cols) {
		return fmt.Errorf("line %d: the header has %d fields, the schema %d columns", d.line, len(d.fields), len(d.cols))
	}
	for i, f := range d.fields {
		if name := string(d.row[f.start:f.end]); name != d.schema.Field(i).Name {
			return fmt.Errorf("line %d: header field %d is %q, the schema's column is %q", d.line, i+1, name, d.schema.Field(i).Name)
		}
	}
	return nil
}

// readLine returns the next line without its '\n'; ok is false at the end.
func (d *csvDecoder) readLine() (line []byte, ok bool, err error) {
	d.scrap = d.scrap[:0]
	for {
		chunk, err := d.r.ReadSlice('\n')
		switch {
		case err == nil:
			d.line++
			if len(d.scrap) == 0 {
				return chunk[:len(chunk)-1], true, nil
			}
			d.scrap = append(d.scrap, chunk[:len(chunk)-1]...)
			return d.scrap, true, nil
		case errors.Is(err, bufio.ErrBufferFull):
			d.scrap = append(d.scrap, chunk...)
		case errors.Is(err, io.EOF):
			d.scrap = append(d.scrap, chunk...)
			if len(d.scrap) == 0 {
				return nil, false, nil
			}
			d.line++
			return d.scrap, true, nil
		default:
			return nil, false, err
		}
	}
}

// record reads the next record into row and fields.
func (d *csvDecoder) record() (bool, error) {
	line, ok, err := d.readLine()
	if err != nil || !ok {
		return false, err
	}
	// line may point into the reader's buffer: copy what is kept before
	// reading on.
	d.row, d.fields = d.row[:0], d.fields[:0]
	start := d.line
	pos := 0
	for {
		if pos < len(line) && int(line[pos]) == d.quote {
			f := csvField{start: len(d.row), quoted: true}
			pos++
			for {
				i := bytes.IndexByte(line[pos:], byte(d.quote))
				if i < 0 {
					d.row = append(append(d.row, line[pos:]...), '\n')
					if line, ok, err = d.readLine(); err != nil {
						return false, err
					}
					if !ok {
						return false, fmt.Errorf("line %d: a quoted field never ends", start)
					}
					pos = 0
					continue
				}
				d.row = append(d.row, line[pos:pos+i]...)
				pos += i + 1
				if pos < len(line) && int(line[pos]) == d.quote {
					d.row = append(d.row, byte(d.quote))
					pos++
					continue
				}
				break
			}
			f.end = len(d.row)
			d.fields = append(d.fields, f)
			switch {
			case pos == len(line) || (pos == len(line)-1 && line[pos] == '\r'):
				return true, nil
			case bytes.HasPrefix(line[pos:], d.delim):
				pos += len(d.delim)
				continue
			}
			return false, fmt.Errorf("line %d: text after a closing quote", d.line)
		}
		i := bytes.Index(line[pos:], d.delim)
		if i < 0 {
			v := bytes.TrimSuffix(line[pos:], []byte("\r"))
			d.fields = append(d.fields, csvField{start: len(d.row), end: len(d.row) + len(v)})
			d.row = append(d.row, v...)
			return true, nil
		}
		d.fields = append(d.fields, csvField{start: len(d.row), end: len(d.row) + i})
		d.row = append(d.row, line[pos:pos+i]...)
		pos += i + len(d.delim)
	}
}

// jsonlDecoder reads JSON Lines as jsonlEncoder writes them: one object a
// line, keyed by column name.
type jsonlDecoder struct {
	dec    *json.Decoder
	schema *arrow.Schema
	cols   []*column
	adds   []func(any) error
	line   int64
	err    error
}

// NewJSONLDecoder reads JSON Lines (already decompressed) into batches of
// schema.
func NewJSONLDecoder(r io.Reader, schema *arrow.Schema) (Decoder, error) {
	d := &jsonlDecoder{dec: json.NewDecoder(bufio.NewReaderSize(r, 256<<10)), schema: schema}
	d.dec.UseNumber()
	for _, f := range schema.Fields() {
		c, err := newColumn(memory.DefaultAllocator, f.Type)
		if err == nil {
			d.cols = append(d.cols, c)
		}
		var add func(any) error
		if err == nil {
			add, err = columnFromJSON(c)
		}
		if err != nil {
			d.Release()
			return nil, fmt.Errorf("column %q: %w", f.Name, err)
		}
		d.adds = append(d.adds, add)
	}
	return d, nil
}

// columnFromJSON appends a decoded JSON value to a column.
func columnFromJSON(c *column) (func(any) error, error) {
	if _, nested := c.b.Type().(arrow.NestedType); nested && c.typ.ID() != arrow.EXTENSION {
		return jsonAppender(c.b)
	}
	return func(v any) error {
		switch x := v.(type) {
		case nil:
			c.b.AppendNull()
			return nil
		case string:
			return c.put([]byte(x))
		case json.Number:
			return c.put([]byte(x))
		case bool:
			return c.put(strconv.AppendBool(nil, x))
		}
		return fmt.Errorf("want a JSON scalar, got %T", v)
	}, nil
}

func (d *jsonlDecoder) Schema() *arrow.Schema { return d.schema }

func (d *jsonlDecoder) Release() {
	releaseColumns(d.cols)
	d.cols = nil
}

func (d *jsonlDecoder) Read() (arrow.RecordBatch, error) {
	if d.err != nil {
		return nil, d.err
	}
	rows := 0
	for rows < DecodeBatchRows {
		var obj map[string]any
		err := d.dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			break
		}
		d.line++
		if err == nil && obj == nil {
			err = errors.New("not a JSON object")
		}
		for i := 0; err == nil && i < len(d.cols); i++ {
			name := d.schema.Field(i).Name
			if err = d.adds[i](obj[name]); err != nil {
				err = fmt.Errorf("column %q: %w", name, err)
			}
		}
		if err != nil {
			d.err = fmt.Errorf("line %d: %w", d.line, err)
			return nil, d.err
		}
		rows++
	}
	if rows == 0 {
		d.err = io.EOF
		return nil, io.EOF
	}
	return finishBatch(d.schema, d.cols, rows), nil
}
