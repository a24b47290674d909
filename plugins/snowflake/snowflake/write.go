package snowflake

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow/array"
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
		files: func(context.Context) (string, []string, error) { return sub, names, nil },
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
	for records.Next() {
		rec := records.RecordBatch()
		if w == nil {
			name := "part-" + fmt.Sprintf("%05d", len(names)+1) + ".parquet"
			var err error
			if f, err = os.Create(filepath.Join(dir, name)); err != nil {
				return nil, 0, err
			}
			if w, err = pqarrow.NewFileWriter(records.Schema(), f, props, pqarrow.DefaultWriterProps()); err != nil {
				_ = f.Close()
				return nil, 0, err
			}
			names, inFile = append(names, name), 0
		}
		if err := w.WriteBuffered(rec); err != nil {
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
