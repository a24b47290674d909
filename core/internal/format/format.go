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
	"errors"
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

// ErrWrongFormat is the error of an option of one format given with
// another: NewEncoder names the option and both formats.
var ErrWrongFormat = errors.New("option of another format")

// An Option configures NewEncoder. WithFormat, WithCompression,
// WithCompressionLevel and WithConcurrency apply to every format. The
// options of a single format have that format's own type, CSVOption or
// ParquetOption, and NewEncoder refuses them with any other format (JSON
// Lines has no options of its own). Options apply in order; a later one
// overrides an earlier one of the same name.
type Option interface {
	// scope returns the format the option belongs to ("" for every
	// format) and its name.
	scope() (Format, string)
	apply(*config)
}

// config is what the options set; NewEncoder starts from the defaults.
type config struct {
	format  Format
	codec   codec
	csv     csvConfig
	parquet parquetConfig
}

// codec is the compression of a file, in every format.
type codec struct {
	compression Compression
	level       int
	concurrency int
}

type csvConfig struct {
	header    bool
	delimiter rune
	null      string
}

type parquetConfig struct {
	rowGroupRows  int64
	rowGroupBytes int64
}

// commonOption is an option every format takes.
type commonOption func(*config)

func (commonOption) scope() (Format, string) { return "", "" }
func (f commonOption) apply(c *config)       { f(c) }

// CSVOption is an option of the CSV format, made by WithCSVHeader,
// WithCSVDelimiter and WithCSVNull. NewEncoder fails with ErrWrongFormat
// when one is given with another format.
type CSVOption struct {
	name string
	set  func(*csvConfig)
}

func (o CSVOption) scope() (Format, string) { return CSV, o.name }
func (o CSVOption) apply(c *config)         { o.set(&c.csv) }

// String returns the option's name, as the flag of hp that sets it
// (csv-delimiter).
func (o CSVOption) String() string { return o.name }

// ParquetOption is an option of the Parquet format, made by
// WithParquetRowGroupRows and WithParquetRowGroupBytes. NewEncoder fails
// with ErrWrongFormat when one is given with another format.
type ParquetOption struct {
	name string
	set  func(*parquetConfig)
}

func (o ParquetOption) scope() (Format, string) { return Parquet, o.name }
func (o ParquetOption) apply(c *config)         { o.set(&c.parquet) }

// String returns the option's name, as the flag of hp that sets it
// (parquet-row-group-rows).
func (o ParquetOption) String() string { return o.name }

// WithFormat sets the format (default CSV).
func WithFormat(f Format) Option { return commonOption(func(c *config) { c.format = f }) }

// WithCompression sets the codec (default: the format's default).
func WithCompression(comp Compression) Option {
	return commonOption(func(c *config) { c.codec.compression = comp })
}

// WithCompressionLevel sets the codec's level (0 = the codec's default).
func WithCompressionLevel(l int) Option { return commonOption(func(c *config) { c.codec.level = l }) }

// WithConcurrency lets gzip compress on n goroutines (klauspost/pgzip).
// zstd stays on one: its streaming encoder is faster that way when the
// reader is busy on the other core. Other codecs ignore it.
func WithConcurrency(n int) Option { return commonOption(func(c *config) { c.codec.concurrency = n }) }

// WithCSVHeader writes a header row of column names (default true).
func WithCSVHeader(b bool) CSVOption {
	return CSVOption{"csv-header", func(c *csvConfig) { c.header = b }}
}

// WithCSVDelimiter sets the field delimiter (default ','). NewEncoder
// refuses '"', newlines and invalid runes.
func WithCSVDelimiter(r rune) CSVOption {
	return CSVOption{"csv-delimiter", func(c *csvConfig) { c.delimiter = r }}
}

// WithCSVNull sets the text written for NULL (default empty). An empty
// string that would read back as NULL is written quoted ("").
func WithCSVNull(s string) CSVOption {
	return CSVOption{"csv-null", func(c *csvConfig) { c.null = s }}
}

// WithParquetRowGroupRows caps the rows of a row group (default
// 1,000,000; 0 or less: no cap).
func WithParquetRowGroupRows(n int64) ParquetOption {
	return ParquetOption{"parquet-row-group-rows", func(c *parquetConfig) { c.rowGroupRows = n }}
}

// WithParquetRowGroupBytes starts a new row group once the current one
// holds this many compressed bytes (default 16 MiB). It bounds memory (the
// open row group's pages are held until it closes, in buffers that grow by
// doubling) and the granularity of size-based file rotation.
func WithParquetRowGroupBytes(n int64) ParquetOption {
	return ParquetOption{"parquet-row-group-bytes", func(c *parquetConfig) { c.rowGroupBytes = n }}
}

// NewEncoder returns an encoder writing schema's batches to w. An option
// of a format other than the chosen one is an error wrapping
// ErrWrongFormat, before anything is written.
func NewEncoder(w io.Writer, schema *arrow.Schema, opts ...Option) (Encoder, error) {
	c := config{
		format:  CSV,
		codec:   codec{concurrency: 1},
		csv:     csvConfig{header: true, delimiter: ','},
		parquet: parquetConfig{rowGroupRows: 1_000_000, rowGroupBytes: DefaultRowGroupBytes},
	}
	for _, opt := range opts {
		opt.apply(&c)
	}
	// Checked once the format is known: WithFormat may come last.
	for _, opt := range opts {
		if f, name := opt.scope(); f != "" && f != c.format {
			return nil, fmt.Errorf("%w: %s (a %s option) given with format %s", ErrWrongFormat, name, f, c.format)
		}
	}
	if c.codec.compression == "" {
		c.codec.compression = DefaultCompression(c.format)
	}
	switch c.format {
	case CSV:
		return newCSV(w, schema, c.codec, c.csv)
	case JSONL:
		return newJSONL(w, schema, c.codec)
	case Parquet:
		return newParquet(w, schema, c.codec, c.parquet)
	}
	return nil, fmt.Errorf("unknown format %q", c.format)
}
