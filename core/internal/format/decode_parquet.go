package format

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// parquetDecoder reads a Parquet file into batches of a known schema,
// undoing what the encoder's converter did to the types Parquet cannot
// hold (durations, intervals, extension types of nested storage).
type parquetDecoder struct {
	pf     *file.Reader
	rr     pqarrow.RecordReader
	schema *arrow.Schema
	adapt  []func(arrow.Array) (arrow.Array, error)
}

// NewParquetDecoder reads the Parquet file r into batches of schema, or
// of the file's own schema when schema is nil.
func NewParquetDecoder(ctx context.Context, r parquet.ReaderAtSeeker, schema *arrow.Schema) (Decoder, error) {
	pf, err := file.NewParquetReader(r)
	if err != nil {
		return nil, fmt.Errorf("parquet: %w", err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: DecodeBatchRows}, memory.DefaultAllocator)
	if err != nil {
		_ = pf.Close()
		return nil, fmt.Errorf("parquet: %w", err)
	}
	got, err := fr.Schema()
	if err != nil {
		_ = pf.Close()
		return nil, fmt.Errorf("parquet: %w", err)
	}
	if schema == nil {
		schema = ownSchema(got)
	}
	if got.NumFields() != schema.NumFields() {
		_ = pf.Close()
		return nil, fmt.Errorf("parquet: the file has %d columns, the schema %d", got.NumFields(), schema.NumFields())
	}
	d := &parquetDecoder{pf: pf, schema: schema}
	for i, f := range schema.Fields() {
		if g := got.Field(i); g.Name != f.Name {
			_ = pf.Close()
			return nil, fmt.Errorf("parquet: column %d is %q, the schema's is %q", i+1, g.Name, f.Name)
		}
		fn, err := adapter(got.Field(i).Type, f.Type)
		if err != nil {
			_ = pf.Close()
			return nil, fmt.Errorf("parquet: column %q: %w", f.Name, err)
		}
		d.adapt = append(d.adapt, fn)
	}
	if d.rr, err = fr.GetRecordReader(ctx, nil, nil); err != nil {
		_ = pf.Close()
		return nil, fmt.Errorf("parquet: %w", err)
	}
	return d, nil
}

func (d *parquetDecoder) Read() (arrow.RecordBatch, error) {
	rec, err := d.rr.Read()
	if err == io.EOF || (err == nil && rec == nil) {
		return nil, io.EOF
	}
	if err != nil {
		return nil, fmt.Errorf("parquet: %w", err)
	}
	arrs := make([]arrow.Array, rec.NumCols())
	for i, a := range rec.Columns() {
		if arrs[i], err = d.adapt[i](a); err != nil {
			for _, x := range arrs[:i] {
				x.Release()
			}
			return nil, fmt.Errorf("parquet: column %q: %w", d.schema.Field(i).Name, err)
		}
	}
	return arrowRecord(d.schema, arrs, rec.NumRows()), nil
}

func (d *parquetDecoder) Schema() *arrow.Schema { return d.schema }

// ownSchema is a file's schema as a source's: without the reader's
// PARQUET:field_id metadata on its columns.
func ownSchema(s *arrow.Schema) *arrow.Schema {
	fields := s.Fields()
	for i, f := range fields {
		var keys, vals []string
		for j, k := range f.Metadata.Keys() {
			if !strings.HasPrefix(k, "PARQUET:") {
				keys, vals = append(keys, k), append(vals, f.Metadata.Values()[j])
			}
		}
		fields[i].Metadata = arrow.NewMetadata(keys, vals)
	}
	md := s.Metadata()
	return arrow.NewSchema(fields, &md)
}

func (d *parquetDecoder) Release() {
	if d.rr != nil {
		d.rr.Release()
	}
	_ = d.pf.Close()
}

// adapter returns how a column read as type got becomes type want: as it
// is, wrapped as want's extension type, a duration's int64 count, or else
// through its text form (intervals written as text, units that differ).
func adapter(got, want arrow.DataType) (func(arrow.Array) (arrow.Array, error), error) {
	switch e, ext := want.(arrow.ExtensionType); {
	case arrow.TypeEqual(got, want):
		return func(a arrow.Array) (arrow.Array, error) { a.Retain(); return a, nil }, nil
	case ext && arrow.TypeEqual(got, e.StorageType()):
		return func(a arrow.Array) (arrow.Array, error) { return array.NewExtensionArrayWithStorage(e, a), nil }, nil
	case want.ID() == arrow.DURATION && got.ID() == arrow.INT64:
		return func(a arrow.Array) (arrow.Array, error) {
			d := a.Data()
			nd := array.NewData(want, d.Len(), d.Buffers(), nil, d.NullN(), d.Offset())
			defer nd.Release()
			return array.MakeFromData(nd), nil
		}, nil
	}
	b := array.NewBuilder(memory.DefaultAllocator, storageOf(want))
	defer b.Release()
	if _, err := parser(want, b); err != nil {
		return nil, fmt.Errorf("read as %s, wanted %s: %w", got, want, err)
	}
	return func(a arrow.Array) (arrow.Array, error) { return viaText(a, want) }, nil
}

func storageOf(t arrow.DataType) arrow.DataType {
	if e, ok := t.(arrow.ExtensionType); ok {
		return e.StorageType()
	}
	return t
}

// viaText converts a to type want by rendering each value as text and
// parsing it back.
func viaText(a arrow.Array, want arrow.DataType) (arrow.Array, error) {
	render, _, err := renderer(a, false)
	if err != nil {
		return nil, err
	}
	c, err := newColumn(memory.DefaultAllocator, want)
	if err != nil {
		return nil, err
	}
	defer c.release()
	var buf []byte
	for i := 0; i < a.Len(); i++ {
		if a.IsNull(i) {
			c.b.AppendNull()
			continue
		}
		buf = render(buf[:0], i)
		if err := c.put(buf); err != nil {
			return nil, err
		}
	}
	return c.finish(), nil
}

// arrowRecord makes a batch of arrs, releasing them.
func arrowRecord(schema *arrow.Schema, arrs []arrow.Array, rows int64) arrow.RecordBatch {
	rec := array.NewRecordBatch(schema, arrs, rows)
	for _, a := range arrs {
		a.Release()
	}
	return rec
}
