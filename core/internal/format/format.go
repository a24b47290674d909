// Package format encodes Arrow record batches as CSV, JSON Lines or
// Parquet files, io-style: an Encoder writes to an io.Writer, is fed
// batches with Write and finished with Close. One goroutine owns an
// encoder.
//
// Values are exact. Decimals keep every digit and their scale, timestamps
// their fraction at the unit's precision, NULL and empty string stay
// distinct, binary is base64 in text formats. See text.go for the exact
// text forms.
package format

import (
	"fmt"
	"io"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// Format is a file format.
type Format string

// The formats.
const (
	CSV     Format = "csv"
	JSONL   Format = "jsonl"
	Parquet Format = "parquet"
)

// Compression is a compression codec.
type Compression string

// The codecs.
const (
	Gzip   Compression = "gzip"
	Zstd   Compression = "zstd"
	Snappy Compression = "snappy"
	None   Compression = "none"
)

// DefaultRowGroupBytes is where a Parquet row group closes by default: the
// writer holds an open row group's compressed pages in memory.
const DefaultRowGroupBytes = 16 << 20

// ParseFormat validates a format name.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case CSV, JSONL, Parquet:
		return f, nil
	case "json":
		return JSONL, nil
	}
	return "", fmt.Errorf("unknown format %q: use csv, parquet or jsonl", s)
}

// ParseCompression validates a codec name; "" means the format's default.
func ParseCompression(s string) (Compression, error) {
	switch c := Compression(strings.ToLower(s)); c {
	case Gzip, Zstd, Snappy, None:
		return c, nil
	case "gz":
		return Gzip, nil
	case "zst":
		return Zstd, nil
	}
	return "", fmt.Errorf("unknown compression %q: use gzip, zstd, snappy or none", s)
}

// DefaultCompression is gzip for text formats (as Halfpipe) and zstd for
// Parquet.
func DefaultCompression(f Format) Compression {
	if f == Parquet {
		return Zstd
	}
	return Gzip
}

// Extension is the file name extension, without a leading dot.
func Extension(f Format, c Compression) string {
	if f == Parquet {
		return "parquet"
	}
	switch c {
	case Gzip:
		return string(f) + ".gz"
	case Zstd:
		return string(f) + ".zst"
	case Snappy:
		return string(f) + ".sz"
	}
	return string(f)
}

// Encoder writes one file.
type Encoder interface {
	// Write encodes a batch of the encoder's schema.
	Write(rec arrow.RecordBatch) error
	// Flush pushes everything accepted so far to the underlying writer
	// (Parquet: a no-op; its row groups are flushed by size).
	Flush() error
	// Buffered estimates the bytes accepted but not yet written to the
	// underlying writer, after compression (a Parquet row group in
	// progress; zero for text formats after Flush).
	Buffered() int64
	// Close finishes the file (footer, compression trailer). It does not
	// close the underlying writer.
	Close() error
}

type options struct {
	format        Format
	compression   Compression
	level         int
	concurrency   int
	csvHeader     bool
	csvDelimiter  rune
	csvNull       string
	rowGroupRows  int64
	rowGroupBytes int64
}

// Option configures NewEncoder.
type Option func(*options)

// WithFormat sets the format (default CSV).
func WithFormat(f Format) Option { return func(o *options) { o.format = f } }

// WithCompression sets the codec (default: the format's default).
func WithCompression(c Compression) Option { return func(o *options) { o.compression = c } }

// WithCompressionLevel sets the codec's level (0 = the codec's default).
func WithCompressionLevel(l int) Option { return func(o *options) { o.level = l } }

// WithConcurrency lets gzip compress on n goroutines (klauspost/pgzip).
// zstd stays on one: its streaming encoder is faster that way when the
// reader is busy on the other core.
func WithConcurrency(n int) Option { return func(o *options) { o.concurrency = n } }

// WithCSVHeader writes a header row of column names (default true).
func WithCSVHeader(b bool) Option { return func(o *options) { o.csvHeader = b } }

// WithCSVDelimiter sets the field delimiter (default ',').
func WithCSVDelimiter(r rune) Option { return func(o *options) { o.csvDelimiter = r } }

// WithCSVNull sets the text written for NULL (default empty). An empty
// string that would read back as NULL is written quoted ("").
func WithCSVNull(s string) Option { return func(o *options) { o.csvNull = s } }

// WithParquetRowGroupRows caps the rows of a row group (default 1,000,000).
func WithParquetRowGroupRows(n int64) Option { return func(o *options) { o.rowGroupRows = n } }

// WithParquetRowGroupBytes starts a new row group once the current one
// holds this many compressed bytes (default 16 MiB). It bounds memory (the
// open row group's pages are held until it closes, in buffers that grow by
// doubling) and the granularity of size-based file rotation.
func WithParquetRowGroupBytes(n int64) Option { return func(o *options) { o.rowGroupBytes = n } }

// NewEncoder returns an encoder writing schema's batches to w.
func NewEncoder(w io.Writer, schema *arrow.Schema, opts ...Option) (Encoder, error) {
	o := options{format: CSV, csvHeader: true, csvDelimiter: ',', rowGroupRows: 1_000_000, rowGroupBytes: DefaultRowGroupBytes, concurrency: 1}
	for _, opt := range opts {
		opt(&o)
	}
	if o.compression == "" {
		o.compression = DefaultCompression(o.format)
	}
	switch o.format {
	case CSV:
		return newCSV(w, schema, o)
	case JSONL:
		return newJSONL(w, schema, o)
	case Parquet:
		return newParquet(w, schema, o)
	}
	return nil, fmt.Errorf("unknown format %q", o.format)
}
