package format

import (
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
)

// compressor is a compressing writer that can flush and finish.
type compressor interface {
	io.Writer
	Flush() error
	Close() error
}

type nopCompressor struct{ io.Writer }

func (nopCompressor) Flush() error { return nil }
func (nopCompressor) Close() error { return nil }

func newCompressor(w io.Writer, o codec) (compressor, error) {
	switch o.compression {
	case Gzip:
		level := o.level
		if level == 0 {
			level = gzip.DefaultCompression
		}
		if o.concurrency > 1 {
			zw, err := pgzip.NewWriterLevel(w, level)
			if err != nil {
				return nil, err
			}
			if err := zw.SetConcurrency(1<<20, o.concurrency); err != nil {
				return nil, err
			}
			return zw, nil
		}
		return gzip.NewWriterLevel(w, level)
	case Zstd:
		zo := []zstd.EOption{zstd.WithEncoderConcurrency(1)}
		if o.level != 0 {
			zo = append(zo, zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(o.level)))
		}
		return zstd.NewWriter(w, zo...)
	case Snappy:
		return s2.NewWriter(w, s2.WriterSnappyCompat()), nil
	}
	return nopCompressor{w}, nil
}
