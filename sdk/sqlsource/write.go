package sqlsource

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// insertRows is how many rows one INSERT statement carries.
const insertRows = 200

// Write implements sdk.Writer generically: one transaction; CREATE TABLE
// from the stream's schema when asked; multi-row INSERTs; replace deletes
// the old rows first; merge deletes rows whose keys arrive, then inserts.
// Any failure, including a broken stream, rolls everything back.
func (c *Connector) Write(ctx context.Context, req sdk.WriteRequest, records array.RecordReader) (*sdk.WriteResult, error) {
	if c.dialect.DDLType == nil {
		return nil, sdk.Errorf(sdk.ErrUnimplemented, "%s cannot be written to", c.info.Name)
	}
	if req.Mode == sdk.Merge && len(req.Keys) == 0 {
		return nil, sdk.InvalidArgumentf("merge needs key columns")
	}
	db, err := c.db(req.Conn)
	if err != nil {
		return nil, err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, c.dialect.classify(err, req.Conn.DSN)
	}
	n, err := c.write(ctx, tx, req, records)
	if err != nil {
		_ = tx.Rollback()
		return nil, c.dialect.classify(err, req.Conn.DSN)
	}
	if err := tx.Commit(); err != nil {
		return nil, c.dialect.classify(err, req.Conn.DSN)
	}
	return &sdk.WriteResult{RowsWritten: n}, nil
}

func (c *Connector) write(ctx context.Context, tx *sql.Tx, req sdk.WriteRequest, records array.RecordReader) (int64, error) {
	d := c.dialect
	table := d.table(req.Table)
	schema := records.Schema()
	if req.CreateTable {
		cols := make([]string, schema.NumFields())
		for i, f := range schema.Fields() {
			t, err := d.DDLType(f.Type)
			if err != nil {
				return 0, fmt.Errorf("column %q: %w", f.Name, err)
			}
			cols[i] = d.quote(f.Name) + " " + t
			if !f.Nullable {
				cols[i] += " NOT NULL"
			}
		}
		if _, err := tx.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+table+" ("+strings.Join(cols, ", ")+")"); err != nil {
			return 0, fmt.Errorf("creating %s: %w", req.Table, err)
		}
	}
	if req.Mode == sdk.Replace {
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+table); err != nil {
			return 0, err
		}
	}
	names := make([]string, schema.NumFields())
	for i, f := range schema.Fields() {
		names[i] = d.quote(f.Name)
	}
	var del *sql.Stmt
	var keyIdx []int
	if req.Mode == sdk.Merge {
		conds := make([]string, len(req.Keys))
		for i, k := range req.Keys {
			idx := schema.FieldIndices(k)
			if len(idx) != 1 {
				return 0, sdk.NotFoundf("merge key %q is not a column of the stream", k)
			}
			keyIdx = append(keyIdx, idx[0])
			conds[i] = d.quote(k) + " = " + d.placeholder(i+1)
		}
		var err error
		if del, err = tx.PrepareContext(ctx, "DELETE FROM "+table+" WHERE "+strings.Join(conds, " AND ")); err != nil {
			return 0, err
		}
		defer del.Close()
	}
	total := int64(0)
	for records.Next() {
		rec := records.RecordBatch()
		getters := make([]func(int) any, rec.NumCols())
		for i, col := range rec.Columns() {
			g, err := getter(col)
			if err != nil {
				return 0, fmt.Errorf("column %q: %w", schema.Field(i).Name, err)
			}
			getters[i] = g
		}
		n := int(rec.NumRows())
		for start := 0; start < n; start += insertRows {
			end := min(n, start+insertRows)
			var args []any
			var tuples []string
			for r := start; r < end; r++ {
				if del != nil {
					keyArgs := make([]any, len(keyIdx))
					for k, ci := range keyIdx {
						keyArgs[k] = getters[ci](r)
					}
					if _, err := del.ExecContext(ctx, keyArgs...); err != nil {
						return 0, err
					}
				}
				ph := make([]string, len(getters))
				for ci, g := range getters {
					args = append(args, g(r))
					ph[ci] = d.placeholder(len(args))
				}
				tuples = append(tuples, "("+strings.Join(ph, ", ")+")")
			}
			q := "INSERT INTO " + table + " (" + strings.Join(names, ", ") + ") VALUES " + strings.Join(tuples, ", ")
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return 0, err
			}
		}
		total += int64(n)
	}
	if err := records.Err(); err != nil {
		return 0, fmt.Errorf("the incoming stream failed, nothing was written: %w", err)
	}
	return total, nil
}

// getter reads Arrow values as driver arguments.
func getter(a arrow.Array) (func(int) any, error) {
	nullable := func(f func(int) any) func(int) any {
		return func(i int) any {
			if a.IsNull(i) {
				return nil
			}
			return f(i)
		}
	}
	switch x := a.(type) {
	case *array.Int64:
		return nullable(func(i int) any { return x.Value(i) }), nil
	case *array.Int32:
		return nullable(func(i int) any { return int64(x.Value(i)) }), nil
	case *array.Int16:
		return nullable(func(i int) any { return int64(x.Value(i)) }), nil
	case *array.Int8:
		return nullable(func(i int) any { return int64(x.Value(i)) }), nil
	case *array.Uint8:
		return nullable(func(i int) any { return int64(x.Value(i)) }), nil
	case *array.Uint16:
		return nullable(func(i int) any { return int64(x.Value(i)) }), nil
	case *array.Uint32:
		return nullable(func(i int) any { return int64(x.Value(i)) }), nil
	case *array.Uint64:
		// As text: database/sql's default converter refuses uint64 values
		// above 2^63, and text keeps them exact in numeric/unsigned columns.
		return nullable(func(i int) any { return strconv.FormatUint(x.Value(i), 10) }), nil
	case *array.Float64:
		return nullable(func(i int) any { return x.Value(i) }), nil
	case *array.Float32:
		return nullable(func(i int) any { return float64(x.Value(i)) }), nil
	case *array.String:
		return nullable(func(i int) any { return x.Value(i) }), nil
	case *array.LargeString:
		return nullable(func(i int) any { return x.Value(i) }), nil
	case *array.Binary:
		return nullable(func(i int) any { return append([]byte(nil), x.Value(i)...) }), nil
	case *array.Boolean:
		return nullable(func(i int) any { return x.Value(i) }), nil
	case *array.Decimal128:
		scale := x.DataType().(*arrow.Decimal128Type).Scale
		return nullable(func(i int) any { return x.Value(i).ToString(scale) }), nil
	case *array.Decimal256:
		scale := x.DataType().(*arrow.Decimal256Type).Scale
		return nullable(func(i int) any { return x.Value(i).ToString(scale) }), nil
	case *array.Date32:
		return nullable(func(i int) any { return x.Value(i).ToTime().Format("2006-01-02") }), nil
	case *array.Timestamp:
		unit := x.DataType().(*arrow.TimestampType).Unit
		return nullable(func(i int) any { return x.Value(i).ToTime(unit).UTC() }), nil
	}
	return nil, sdk.Errorf(sdk.ErrUnsupportedType, "type %s cannot be written", a.DataType())
}
