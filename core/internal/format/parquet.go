package format

import (
	"fmt"
	"io"
	"math"
	"runtime/debug"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

type parquetEncoder struct {
	// fw is created on the first batch, which decides the dictionaries;
	// props are the writer's other properties.
	fw            *pqarrow.FileWriter
	w             io.Writer
	props         []parquet.WriterProperty
	conv          *converter
	rowGroupBytes int64
	rowGroupRows  int64
	// dicts holds the columns dictionary-encoded here (nil for the others)
	// and wschema the schema the writer is given: those as dictionaries.
	dicts     []*stringDict
	wschema   *arrow.Schema
	groupRows int64
	// groupArrow is the Arrow size of the rows in the open row group, and
	// ratio the compressed/Arrow size of the row groups written so far:
	// the writer reports little of a row group's size until it is
	// flushed, so Buffered estimates from these.
	groupArrow int64
	ratio      float64
	flushed    int64
	// noGroup: no row group is open (the last batch was written alone),
	// so the next rows start a buffered one.
	noGroup bool
}

// hugeValue is the length from which a string or binary value makes its
// batch a row group of its own, written straight to the output: a
// buffered row group holds its pages until it closes, one more copy of
// every value (a 100 MiB value cost 128 MiB more there). Batches of
// ordinary values, however large, keep the row groups cut by size.
const hugeValue = 16 << 20

// hasHugeValue reports whether a string or binary column of rec holds a
// value of hugeValue bytes or more; columns holding fewer bytes than that
// in all are not looked into.
func hasHugeValue(rec arrow.RecordBatch) bool {
	for _, c := range rec.Columns() {
		x, ok := c.(array.BinaryLike)
		n := c.Len()
		if !ok || n == 0 || x.ValueOffset64(n-1)+int64(x.ValueLen(n-1))-x.ValueOffset64(0) < hugeValue {
			continue
		}
		for i := range n {
			if x.ValueLen(i) >= hugeValue {
				return true
			}
		}
	}
	return false
}

// longValueBatch is the values the writer takes at a time, before it
// checks whether the page is full, in files with a column of long values
// (longValue and more): at its default, 1,024, a batch of 1 MiB values
// made one page of the whole batch, held as values, encoded, page and
// compressed page.
const longValueBatch = 16

// ownDictGroupRows caps the rows of a row group with columns encoded by
// stringDict.
const ownDictGroupRows = 1 << 18

// pageBudget bounds the data pages the writer builds at once, all columns
// together: each column holds its open page several times over (values,
// encoded, compressed), so 200 columns of 128 KiB pages held 70 MB of
// hp's 180 MB on the wide benchmark table. 4 MiB (20 KiB pages for 200
// columns) against 8 MiB: hp 150 → 118–127 MB there, the file 1.4%
// larger; tables of up to 32 columns keep 128 KiB pages.
const pageBudget = 4 << 20

// dataPageSize is the data page size for a schema of cols columns: 128 KiB
// up to 32 columns, smaller beyond, never below 16 KiB.
func dataPageSize(cols int) int64 {
	return min(128<<10, max(16<<10, pageBudget/int64(max(cols, 1))))
}

func newParquet(w io.Writer, schema *arrow.Schema, cd codec, o parquetConfig) (Encoder, error) {
	codec := map[Compression]compress.Compression{
		Zstd: compress.Codecs.Zstd, Snappy: compress.Codecs.Snappy, Gzip: compress.Codecs.Gzip, None: compress.Codecs.Uncompressed,
	}[cd.compression]
	props := []parquet.WriterProperty{
		parquet.WithCompression(codec),
		parquet.WithStats(true),
		parquet.WithMaxRowGroupLength(o.rowGroupRows),
		parquet.WithDictionaryDefault(true),
		// Small pages make the compressed size of the open row group
		// visible early, which size-based rotation relies on.
		parquet.WithDataPageSize(dataPageSize(len(schema.Fields()))),
		parquet.WithDictionaryPageSizeLimit(256 << 10),
		// Decimals of precision <= 18 as INT32/INT64 (standard; DuckDB,
		// Spark and parquet-go read them): fixed-length byte arrays cost a
		// byte-swapped copy and a hash of 16 bytes per value.
		parquet.WithStoreDecimalAsInteger(true),
		parquet.WithAllocator(parquetAlloc),
	}
	if cd.level != 0 {
		props = append(props, parquet.WithCompressionLevel(cd.level))
	}
	// Min/max of blobs prune nothing, and the writer copies them several
	// times: a 96 MB value took 1.2 GB with statistics, 650 MB without.
	for _, f := range schema.Fields() {
		if id := f.Type.ID(); id == arrow.BINARY || id == arrow.LARGE_BINARY {
			props = append(props, parquet.WithStatsFor(f.Name, false))
		}
	}
	conv := newConverter(schema)
	// Refuse a schema Parquet cannot hold now, not at the first batch.
	if _, err := pqarrow.ToParquet(conv.schema, parquet.NewWriterProperties(props...), pqarrow.DefaultWriterProps()); err != nil {
		return nil, fmt.Errorf("parquet: %w", err)
	}
	rows := o.rowGroupRows
	if rows <= 0 {
		rows = math.MaxInt64
	}
	return &parquetEncoder{w: w, props: props, conv: conv, rowGroupBytes: o.rowGroupBytes, rowGroupRows: rows, ratio: 1}, nil
}

// open creates the file writer, choosing each column's dictionary from
// sample (nil: nothing seen, the writer's default).
func (e *parquetEncoder) open(sample arrow.RecordBatch) error {
	props := slices.Clip(e.props)
	fields := slices.Clone(e.conv.schema.Fields())
	e.dicts = make([]*stringDict, len(fields))
	own, long := false, false
	if sample != nil {
		for i, f := range fields {
			if hasLongValue(sample.Column(i)) {
				props = append(props, parquet.WithStatsFor(f.Name, false))
				long = true
			}
			switch chooseDictionary(sample.Column(i)) {
			case plainOnly:
				props = append(props, parquet.WithDictionaryFor(f.Name, false))
			case ownDict:
				e.dicts[i] = newStringDict(f.Type)
				fields[i].Type = e.dicts[i].typ
				own = true
			}
		}
	}
	if long {
		props = append(props, parquet.WithBatchSize(longValueBatch))
	}
	wprops := parquet.NewWriterProperties(props...)
	if !own {
		e.wschema = e.conv.schema
		fw, err := pqarrow.NewFileWriter(e.wschema, e.w, wprops, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema(), pqarrow.WithAllocator(parquetAlloc)))
		if err != nil {
			return fmt.Errorf("parquet: %w", err)
		}
		e.fw = fw
		return nil
	}
	// The writer cuts no page of a column whose dictionary is given to it
	// (arrow-go 18.8): the indices of a whole row group stay in memory, four
	// bytes a row, so such row groups are kept short.
	e.rowGroupRows = min(e.rowGroupRows, ownDictGroupRows)
	// Readers must see the columns' own types, not dictionaries: store the
	// schema exactly as the writer would have stored the original.
	stored, err := storedSchema(e.conv.schema, wprops)
	if err != nil {
		return err
	}
	md := e.conv.schema.Metadata()
	e.wschema = arrow.NewSchema(fields, &md)
	fw, err := pqarrow.NewFileWriter(e.wschema, e.w, wprops, pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(parquetAlloc)))
	if err != nil {
		return fmt.Errorf("parquet: %w", err)
	}
	if err := fw.AppendKeyValueMetadata("ARROW:schema", stored); err != nil {
		return fmt.Errorf("parquet: %w", err)
	}
	e.fw = fw
	return nil
}

// storedSchema is the ARROW:schema value pqarrow stores for schema.
func storedSchema(schema *arrow.Schema, props *parquet.WriterProperties) (string, error) {
	fw, err := pqarrow.NewFileWriter(schema, io.Discard, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err == nil {
		err = fw.Close()
	}
	if err != nil {
		return "", fmt.Errorf("parquet: %w", err)
	}
	md, err := fw.FileMetadata()
	if err != nil {
		return "", fmt.Errorf("parquet: %w", err)
	}
	v := md.KeyValueMetadata().FindValue("ARROW:schema")
	if v == nil {
		return "", fmt.Errorf("parquet: the writer stored no Arrow schema")
	}
	return *v, nil
}

func (e *parquetEncoder) Write(rec arrow.RecordBatch) error {
	if e.conv.needed {
		rec = e.conv.convert(rec)
		defer rec.Release()
	}
	if e.fw == nil {
		if err := e.open(rec); err != nil {
			return err
		}
	}
	// Not with columns encoded here as dictionaries: a row group of its own
	// starts theirs afresh, with the large value in it, copied into the
	// dictionary and its page (a 100 MiB text after short ones: 1.2 GB of
	// heap alone, 0.65 GB in the open row group).
	if e.wschema == e.conv.schema && rec.NumRows() <= e.rowGroupRows && hasHugeValue(rec) {
		return e.writeAlone(rec)
	}
	// Row groups are cut here, not by the writer, so the dictionaries
	// encoded here start afresh with each. A full one is closed before the
	// next rows, not after the last: the writer would end the file with an
	// empty one.
	for off, n := int64(0), rec.NumRows(); off < n; {
		if e.noGroup || e.groupRows >= e.rowGroupRows || (e.rowGroupBytes > 0 && e.Buffered() >= e.rowGroupBytes) {
			if err := e.newRowGroup(); err != nil {
				return err
			}
		}
		part := rec
		size := min(n-off, e.rowGroupRows-e.groupRows)
		if off > 0 || size < n {
			part = rec.NewSlice(off, off+size)
		}
		err := e.writePart(part)
		if part != rec {
			part.Release()
		}
		if err != nil {
			return err
		}
		off += size
	}
	return nil
}

// writeAlone writes rec as a row group of its own, closing the open one:
// the writer writes its pages out as each column is done instead of
// holding them for the row group.
func (e *parquetEncoder) writeAlone(rec arrow.RecordBatch) error {
	if e.groupRows > 0 {
		e.groupDone()
	}
	out := e.forWriter(rec)
	defer out.Release()
	if err := e.fw.Write(out); err != nil {
		return fmt.Errorf("parquet: %w", err)
	}
	e.groupArrow = arrowBytes(rec)
	e.groupDone()
	e.noGroup = true
	// The writer's buffers for the value (encoded, page, compressed page)
	// are garbage now: give them back before the next large batch.
	debug.FreeOSMemory()
	return nil
}

// forWriter is rec with the columns encoded here as dictionaries.
func (e *parquetEncoder) forWriter(rec arrow.RecordBatch) arrow.RecordBatch {
	if e.wschema == e.conv.schema {
		rec.Retain()
		return rec
	}
	cols := slices.Clone(rec.Columns())
	for i, d := range e.dicts {
		if d != nil {
			cols[i] = d.encode(cols[i])
			defer cols[i].Release()
		}
	}
	return array.NewRecordBatch(e.wschema, cols, rec.NumRows())
}

func (e *parquetEncoder) writePart(rec arrow.RecordBatch) error {
	out := rec
	if e.wschema != e.conv.schema {
		cols := slices.Clone(rec.Columns())
		for i, d := range e.dicts {
			if d != nil {
				cols[i] = d.encode(cols[i])
				defer cols[i].Release()
			}
		}
		out = array.NewRecordBatch(e.wschema, cols, rec.NumRows())
		defer out.Release()
	}
	if err := e.fw.WriteBuffered(out); err != nil {
		return fmt.Errorf("parquet: %w", err)
	}
	e.groupArrow += arrowBytes(rec)
	e.groupRows += rec.NumRows()
	return nil
}

func (e *parquetEncoder) newRowGroup() error {
	if err := e.fw.NewBufferedRowGroupChecked(); err != nil {
		return fmt.Errorf("parquet: %w", err)
	}
	e.noGroup = false
	e.groupDone()
	return nil
}

// groupDone accounts for the row group just closed and resets the
// dictionaries encoded here, which start afresh with each row group.
func (e *parquetEncoder) groupDone() {
	total := e.fw.TotalCompressedBytes()
	if e.groupArrow > 0 && total > e.flushed {
		e.ratio = float64(total-e.flushed) / float64(e.groupArrow)
	}
	e.flushed, e.groupArrow, e.groupRows = total, 0, 0
	for _, d := range e.dicts {
		if d != nil {
			d.reset()
		}
	}
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
	if e.fw == nil || e.noGroup {
		return 0
	}
	reported := max(e.fw.RowGroupTotalCompressedBytes(), e.fw.RowGroupTotalBytesWritten())
	return max(reported, int64(float64(e.groupArrow)*e.ratio))
}

func (e *parquetEncoder) Close() error {
	if e.fw == nil {
		if err := e.open(nil); err != nil {
			return err
		}
	}
	for _, d := range e.dicts {
		if d != nil {
			d.release()
		}
	}
	return e.fw.Close()
}

func span[T int32 | int64](offsets []T) int64 {
	if len(offsets) < 2 {
		return 0
	}
	return int64(offsets[len(offsets)-1] - offsets[0])
}
