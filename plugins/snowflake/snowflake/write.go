package snowflake

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// writeFileRows is how many rows go into one Parquet file of a Write.
const writeFileRows = 1_000_000

// Write loads rows without S3: it writes them to local Parquet files, PUTs
// them into the table's stage and copies them as Load does, in one
// transaction. A stream that breaks fails before Snowflake is touched.
func (*Connector) Write(ctx context.Context, req sdk.WriteRequest, records array.RecordReader) (*sdk.WriteResult, error) {
	switch req.Mode {
	case sdk.Replace, sdk.Append:
	case sdk.Merge:
		if len(req.Keys) == 0 {
			return nil, sdk.InvalidArgumentf("merge needs key columns")
		}
	default:
		return nil, sdk.InvalidArgumentf("write mode %q", req.Mode)
	}
	if _, err := createTable(req.Table, records.Schema(), false); err != nil {
		return nil, err // a type Snowflake cannot hold, before any work
	}
	dir, err := os.MkdirTemp("", "hp-snowflake-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	names, rows, err := writeParquet(dir, records)
	if err != nil {
		return nil, err
	}
	conn, end, err := session(ctx, req.Conn)
	if err != nil {
		return nil, err
	}
	defer end()
	sub := "hp_" + randSuffix()
	l := &load{
		req: sdk.LoadRequest{Conn: req.Conn, Table: req.Table, Mode: req.Mode, Keys: req.Keys, Format: "parquet",
			Schema: records.Schema(), CreateTable: req.CreateTable},
		conn: conn, rows: rows, stage: tableStage(req.Table),
		files:  func(context.Context) (string, []string, error) { return sub, names, nil },
		tzText: true, // writeParquet writes timestamps with their offset as text
	}
	if len(names) > 0 {
		l.upload = func(ctx context.Context) error {
			for _, n := range names {
				q := "PUT " + sqlString("file://"+filepath.ToSlash(filepath.Join(dir, n))) + " @" + l.stage + "/" + sub +
					"/ AUTO_COMPRESS=FALSE SOURCE_COMPRESSION=NONE OVERWRITE=TRUE"
				if err := l.exec(ctx, q); err != nil {
					return fmt.Errorf("uploading %s to the stage of %s: %w", n, tableName(req.Table), err)
				}
			}
			return nil
		}
		defer func() { _ = l.exec(context.WithoutCancel(ctx), "REMOVE @"+l.stage+"/"+sub+"/") }()
	}
	n, err := l.run(ctx)
	if err != nil {
		return nil, classify(err, req.Conn.DSN)
	}
	return &sdk.WriteResult{RowsWritten: n}, nil
}

// tableStage names a table's own stage, @%table.
func tableStage(ref sdk.ObjectRef) string {
	if ref.Schema == "" {
		return "%" + ident(ref.Name)
	}
	return ident(ref.Schema) + ".%" + ident(ref.Name)
}

// writeParquet writes the stream to Parquet files in dir, a new file
// every writeFileRows rows, and returns their names and the row count.
func writeParquet(dir string, records array.RecordReader) ([]string, int64, error) {
	var names []string
	var total, inFile int64
	var w *pqarrow.FileWriter
	var f *os.File
	closeFile := func() error {
		if w == nil {
			return nil
		}
		err := w.Close() // closes f too
		w, f = nil, nil
		return err
	}
	defer func() {
		if w != nil {
			_ = w.Close()
		}
	}()
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd))
	schema := fileSchema(records.Schema())
	for records.Next() {
		rec, err := fileRecord(schema, records.RecordBatch())
		if err != nil {
			return nil, 0, err
		}
		if w == nil {
			name := "part-" + fmt.Sprintf("%05d", len(names)+1) + ".parquet"
			var err error
			if f, err = os.Create(filepath.Join(dir, name)); err != nil {
				return nil, 0, err
			}
			if w, err = pqarrow.NewFileWriter(schema, f, props, pqarrow.DefaultWriterProps()); err != nil {
				_ = f.Close()
				return nil, 0, err
			}
			names, inFile = append(names, name), 0
		}
		err = w.WriteBuffered(rec)
		rec.Release()
		if err != nil {
			return nil, 0, fmt.Errorf("writing Parquet: %w", err)
		}
		total += rec.NumRows()
		inFile += rec.NumRows()
		if inFile >= writeFileRows {
			if err := closeFile(); err != nil {
				return nil, 0, err
			}
		}
	}
	if err := records.Err(); err != nil {
		return nil, 0, fmt.Errorf("the stream broke after %s rows, nothing was written: %w", strconv.FormatInt(total, 10), err)
	}
	return names, total, closeFile()
}

// fileSchema is the schema of Write's Parquet files: a timestamp with
// its offset becomes its text ("2006-01-02 15:04:05.999999999 -07:00",
// which COPY casts to TIMESTAMP_TZ keeping the offset) and JSON its
// text, for the COPY transformation to parse.
func fileSchema(s *arrow.Schema) *arrow.Schema {
	fields := slices.Clone(s.Fields())
	for i, f := range fields {
		switch extName(f.Type) {
		case "arrow.timestamp_with_offset", "arrow.json":
			fields[i].Type = arrow.BinaryTypes.String
		}
	}
	md := s.Metadata()
	return arrow.NewSchema(fields, &md)
}

// fileRecord is rec in schema: the columns fileSchema changes as text.
// The caller releases it.
func fileRecord(schema *arrow.Schema, rec arrow.RecordBatch) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, rec.NumCols())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i, c := range rec.Columns() {
		switch extName(c.DataType()) {
		case "arrow.timestamp_with_offset":
			a, err := offsetText(c.(array.ExtensionArray).Storage().(*array.Struct))
			if err != nil {
				return nil, fmt.Errorf("column %q: %w", rec.ColumnName(i), err)
			}
			cols[i] = a
		case "arrow.json":
			st := c.(array.ExtensionArray).Storage()
			if st.DataType().ID() != arrow.STRING {
				return nil, sdk.Errorf(sdk.ErrUnsupportedType, "column %q: JSON stored as %s", rec.ColumnName(i), st.DataType())
			}
			st.Retain()
			cols[i] = st
		default:
			c.Retain()
			cols[i] = c
		}
	}
	return array.NewRecordBatch(schema, cols, rec.NumRows()), nil
}

// offsetText renders arrow.timestamp_with_offset's storage (the UTC
// instant, the offset's minutes) as local time with the offset.
func offsetText(st *array.Struct) (arrow.Array, error) {
	ts, ok := st.Field(0).(*array.Timestamp)
	if !ok {
		return nil, fmt.Errorf("timestamp with offset stored as %s", st.DataType())
	}
	toTime, err := ts.DataType().(*arrow.TimestampType).GetToTimeFunc()
	if err != nil {
		return nil, err
	}
	b := array.NewStringBuilder(memory.DefaultAllocator)
	defer b.Release()
	for i := 0; i < st.Len(); i++ {
		if st.IsNull(i) {
			b.AppendNull()
			continue
		}
		var minutes int64
		switch o := st.Field(1).(type) {
		case *array.Int8:
			minutes = int64(o.Value(i))
		case *array.Int16:
			minutes = int64(o.Value(i))
		case *array.Int32:
			minutes = int64(o.Value(i))
		case *array.Int64:
			minutes = o.Value(i)
		default:
			return nil, fmt.Errorf("offset stored as %s", o.DataType())
		}
		t := toTime(ts.Value(i)).In(time.FixedZone("", int(minutes)*60))
		b.Append(t.Format("2006-01-02 15:04:05.000000000 -07:00"))
	}
	return b.NewArray(), nil
}
