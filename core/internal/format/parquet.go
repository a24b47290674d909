package format

import (
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

type parquetEncoder struct {
	fw            *pqarrow.FileWriter
	conv          *converter
	rowGroupBytes int64
	// groupArrow is the Arrow size of the rows in the open row group, and
	// ratio the compressed/Arrow size of the row groups written so far:
	// the writer reports little of a row group's size until it is
	// flushed, so Buffered estimates from these.
	groupArrow int64
	ratio      float64
	flushed    int64
}

func newParquet(w io.Writer, schema *arrow.Schema, o options) (Encoder, error) {
	codec := map[Compression]compress.Compression{
		Zstd: compress.Codecs.Zstd, Snappy: compress.Codecs.Snappy, Gzip: compress.Codecs.Gzip, None: compress.Codecs.Uncompressed,
	}[o.compression]
	props := []parquet.WriterProperty{
		parquet.WithCompression(codec),
		parquet.WithStats(true),
		parquet.WithMaxRowGroupLength(o.rowGroupRows),
		parquet.WithDictionaryDefault(true),
		// Small pages make the compressed size of the open row group
		// visible early, which size-based rotation relies on.
		parquet.WithDataPageSize(128 << 10),
		parquet.WithDictionaryPageSizeLimit(256 << 10),
		// Decimals of precision <= 18 as INT32/INT64 (standard; DuckDB,
		// Spark and parquet-go read them): fixed-length byte arrays cost a
		// byte-swapped copy and a hash of 16 bytes per value.
		parquet.WithStoreDecimalAsInteger(true),
	}
	if o.level != 0 {
		props = append(props, parquet.WithCompressionLevel(o.level))
	}
	// Min/max of blobs prune nothing, and the writer copies them several
	// times: a 96 MB value took 1.2 GB with statistics, 650 MB without.
	for _, f := range schema.Fields() {
		if id := f.Type.ID(); id == arrow.BINARY || id == arrow.LARGE_BINARY {
			props = append(props, parquet.WithStatsFor(f.Name, false))
		}
	}
	conv := newConverter(schema)
	fw, err := pqarrow.NewFileWriter(conv.schema, w, parquet.NewWriterProperties(props...),
		pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		return nil, fmt.Errorf("parquet: %w", err)
	}
	return &parquetEncoder{fw: fw, conv: conv, rowGroupBytes: o.rowGroupBytes, ratio: 1}, nil
}

func (e *parquetEncoder) Write(rec arrow.RecordBatch) error {
	if e.conv.needed {
		rec = e.conv.convert(rec)
		defer rec.Release()
	}
	if err := e.fw.WriteBuffered(rec); err != nil {
		return fmt.Errorf("parquet: %w", err)
	}
	e.groupArrow += arrowBytes(rec)
	if e.rowGroupBytes > 0 && e.Buffered() >= e.rowGroupBytes {
		if err := e.fw.NewBufferedRowGroupChecked(); err != nil {
			return err
		}
		total := e.fw.TotalCompressedBytes()
		if e.groupArrow > 0 && total > e.flushed {
			e.ratio = float64(total-e.flushed) / float64(e.groupArrow)
		}
		e.flushed, e.groupArrow = total, 0
	}
	return nil
}

// arrowBytes approximates the in-memory size of a batch (or slice).
func arrowBytes(rec arrow.RecordBatch) int64 {
	n := rec.NumRows()
	total := int64(0)
	for _, c := range rec.Columns() {
		switch a := c.(type) {
		case *array.String:
			total += span(a.ValueOffsets())
		case *array.Binary:
			total += span(a.ValueOffsets())
		case *array.LargeString:
			total += span(a.ValueOffsets())
		}
		if fw, ok := c.DataType().(arrow.FixedWidthDataType); ok {
			total += n * int64(max(1, fw.BitWidth()/8))
		} else {
			total += 8 * n
		}
	}
	return total
}

func (e *parquetEncoder) Flush() error { return nil }

// Buffered counts the compressed pages held for the open row group.
func (e *parquetEncoder) Buffered() int64 {
	reported := max(e.fw.RowGroupTotalCompressedBytes(), e.fw.RowGroupTotalBytesWritten())
	return max(reported, int64(float64(e.groupArrow)*e.ratio))
}

func (e *parquetEncoder) Close() error { return e.fw.Close() }

func span[T int32 | int64](offsets []T) int64 {
	if len(offsets) < 2 {
		return 0
	}
	return int64(offsets[len(offsets)-1] - offsets[0])
}
