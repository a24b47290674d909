package oracle

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/extensions"
	"github.com/godror/godror"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

// seqColumn orders a merge's incoming rows: the last row of a key wins.
const seqColumn = "HP_SEQ"

// ddlType is the Oracle type of a column hp creates.
func ddlType(t arrow.DataType) (string, error) {
	if unit, ok := sqlsource.OffsetUnit(t); ok {
		return timestampDDL(unit) + " WITH TIME ZONE", nil
	}
	switch x := t.(type) {
	case *arrow.BooleanType:
		return "NUMBER(1)", nil
	case *arrow.Int8Type, *arrow.Uint8Type:
		return "NUMBER(3)", nil
	case *arrow.Int16Type, *arrow.Uint16Type:
		return "NUMBER(5)", nil
	case *arrow.Int32Type, *arrow.Uint32Type:
		return "NUMBER(10)", nil
	case *arrow.Int64Type:
		return "NUMBER(19)", nil
	case *arrow.Uint64Type:
		return "NUMBER(20)", nil
	case *arrow.Float32Type:
		return "BINARY_FLOAT", nil
	case *arrow.Float64Type:
		return "BINARY_DOUBLE", nil
	case *arrow.Decimal128Type:
		return fmt.Sprintf("NUMBER(%d,%d)", x.Precision, x.Scale), nil
	case *arrow.Decimal256Type:
		if x.Precision <= 38 {
			return fmt.Sprintf("NUMBER(%d,%d)", x.Precision, x.Scale), nil
		}
	case *arrow.StringType, *arrow.LargeStringType:
		return "CLOB", nil
	case *arrow.BinaryType, *arrow.LargeBinaryType:
		return "BLOB", nil
	case *arrow.Date32Type:
		return "DATE", nil
	case *arrow.TimestampType:
		if x.Unit == arrow.Second && x.TimeZone == "" {
			return "DATE", nil
		}
		if x.TimeZone != "" {
			return timestampDDL(x.Unit) + " WITH TIME ZONE", nil
		}
		return timestampDDL(x.Unit), nil
	}
	return "", sdk.Errorf(sdk.ErrUnsupportedType, "Arrow type %s has no Oracle column type", t)
}

func timestampDDL(unit arrow.TimeUnit) string {
	switch unit {
	case arrow.Second:
		return "TIMESTAMP(0)"
	case arrow.Millisecond:
		return "TIMESTAMP(3)"
	case arrow.Microsecond:
		return "TIMESTAMP(6)"
	}
	return "TIMESTAMP(9)"
}

// keyDDLType: LOBs cannot be keys.
func keyDDLType(t arrow.DataType) (string, error) {
	switch t.(type) {
	case *arrow.StringType, *arrow.LargeStringType:
		return "VARCHAR2(4000 CHAR)", nil
	case *arrow.BinaryType, *arrow.LargeBinaryType:
		return "RAW(2000)", nil
	}
	return ddlType(t)
}

func table(ref sdk.ObjectRef) string {
	if ref.Schema == "" {
		return quoteIdent(ref.Name)
	}
	return quoteIdent(ref.Schema) + "." + quoteIdent(ref.Name)
}

// Write implements sdk.Writer. DDL commits in Oracle, so a missing table
// and a merge's global temporary table are created before the write's
// transaction, and dropped afterwards (the table only if the write
// failed). The rows go in one transaction: replace DELETEs first; merge
// loads the temporary table and MERGEs it. Any failure rolls back.
func (c *Connector) Write(ctx context.Context, req sdk.WriteRequest, records array.RecordReader) (*sdk.WriteResult, error) {
	n, err := c.write(ctx, req, records)
	if err != nil {
		return nil, fail(err, req.Conn.DSN)
	}
	return &sdk.WriteResult{RowsWritten: n}, nil
}

func (c *Connector) write(ctx context.Context, req sdk.WriteRequest, records array.RecordReader) (_ int64, err error) {
	if req.Mode == sdk.Merge && len(req.Keys) == 0 {
		return 0, sdk.InvalidArgumentf("merge needs key columns")
	}
	_, arraySize, err := fetchOptions(req.Conn)
	if err != nil {
		return 0, err
	}
	schema := records.Schema()
	if err := checkTypes(schema); err != nil {
		return 0, err
	}
	db, err := c.db(req.Conn)
	if err != nil {
		return 0, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	// Never pooled again: a failed write leaves the session unknown.
	defer func() {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		_ = conn.Close()
	}()
	target, cols, err := c.target(ctx, db, req)
	if err != nil {
		return 0, err
	}
	names := make([]string, schema.NumFields())
	for i, f := range schema.Fields() {
		names[i] = f.Name
		if cols != nil {
			names[i] = resolveColumn(cols, f.Name)
		}
	}
	var cleanup cleanup
	defer func() { cleanup.run(ctx, db, conn, &err) }()
	created := false
	if cols == nil {
		if !req.CreateTable {
			return 0, sdk.NotFoundf("table %s does not exist (and the write may not create it)", req.Table)
		}
		if _, err := conn.ExecContext(ctx, createTableSQL(target, schema, names, mergeKeys(req))); err != nil {
			return 0, fmt.Errorf("creating %s: %w", req.Table, err)
		}
		created = true
	}
	var stage string
	if req.Mode == sdk.Merge {
		stage = stageName()
		if _, err := conn.ExecContext(ctx, stageSQL(stage, schema, names, req.Keys)); err != nil {
			return 0, fmt.Errorf("creating the merge's temporary table: %w", err)
		}
		cleanup = append(cleanup, "DROP TABLE "+quoteIdent(stage)+" PURGE")
	}
	n, err := c.writeTx(ctx, conn, req, target, stage, schema, names, arraySize, records)
	if err != nil && created {
		// Before the stage's drop: the table is empty, nothing is lost.
		cleanup = append([]string{"DROP TABLE " + table(target) + " PURGE"}, cleanup...)
	}
	return n, err
}

// cleanup is the DDL a write runs when it ends, whatever happened: the
// drops of its temporary tables and, when it failed, of the table it
// created.
type cleanup []string

// run runs the statements on conn (or, if it fails, on a pooled
// connection: a cancelled write's may be broken), on a context that
// outlives ctx. When the write failed (*err), a statement that fails too
// is added to the error: what it leaves must be dropped before writing
// again. When it succeeded its rows are committed, and an error would
// have them written again: the failure is logged.
func (cl cleanup) run(ctx context.Context, db *sql.DB, conn *sql.Conn, err *error) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	for _, s := range cl {
		_, derr := conn.ExecContext(dctx, s)
		if derr != nil {
			_, derr = db.ExecContext(dctx, s)
		}
		switch {
		case derr == nil:
		case *err != nil:
			*err = fmt.Errorf("%w; then %s failed (%v): run it before writing again", *err, s, derr)
		default:
			slog.Warn("the write is committed, but a clean-up statement failed: run it", "statement", s, "error", derr.Error())
		}
	}
}

// target resolves the table written to and its columns; nil columns mean
// it does not exist (and is spelt as the request spells it).
func (c *Connector) target(ctx context.Context, db *sql.DB, req sdk.WriteRequest) (sdk.ObjectRef, []sqlsource.ColumnMeta, error) {
	ref, err := resolve(ctx, db, req.Table)
	if errors.Is(err, sdk.ErrNotFound) {
		return req.Table, nil, nil
	}
	if err != nil {
		return ref, nil, err
	}
	cols, err := columns(ctx, db, ref)
	return ref, cols, err
}

func mergeKeys(req sdk.WriteRequest) []string {
	if req.Mode == sdk.Merge {
		return req.Keys
	}
	return nil
}

// createTableSQL is the CREATE TABLE of a table hp creates, keyed by the
// merge keys.
func createTableSQL(target sdk.ObjectRef, schema *arrow.Schema, names, keys []string) string {
	defs := make([]string, len(names))
	for i, f := range schema.Fields() {
		t, _ := ddlType(f.Type)
		if contains(keys, f.Name) {
			t, _ = keyDDLType(f.Type)
		}
		defs[i] = quoteIdent(names[i]) + " " + t
		if !f.Nullable || contains(keys, f.Name) {
			defs[i] += " NOT NULL"
		}
	}
	if len(keys) > 0 {
		q := make([]string, len(keys))
		for i, k := range keys {
			q[i] = quoteIdent(k)
		}
		defs = append(defs, "PRIMARY KEY ("+strings.Join(q, ", ")+")")
	}
	return "CREATE TABLE " + table(target) + " (" + strings.Join(defs, ", ") + ")"
}

// checkTypes refuses a stream with a column Oracle cannot hold, before
// anything is created (createTableSQL and stageSQL rely on it).
func checkTypes(schema *arrow.Schema) error {
	for _, f := range schema.Fields() {
		if _, err := ddlType(f.Type); err != nil {
			return fmt.Errorf("column %q: %w", f.Name, err)
		}
	}
	return nil
}

// stageName is a merge's temporary table, unique to the write.
func stageName() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "HP_MERGE_" + strings.ToUpper(hex.EncodeToString(b[:]))
}

// stageSQL creates the merge's stage; key columns are never LOBs, which
// MERGE's ON and GROUP BY cannot compare.
func stageSQL(stage string, schema *arrow.Schema, names, keys []string) string {
	defs := make([]string, len(names), len(names)+1)
	for i, f := range schema.Fields() {
		t, _ := ddlType(f.Type)
		if contains(keys, f.Name) {
			t, _ = keyDDLType(f.Type)
		}
		defs[i] = quoteIdent(names[i]) + " " + t
	}
	defs = append(defs, quoteIdent(seqColumn)+" NUMBER(19) NOT NULL")
	return "CREATE GLOBAL TEMPORARY TABLE " + quoteIdent(stage) + " (" + strings.Join(defs, ", ") + ") ON COMMIT DELETE ROWS"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (c *Connector) writeTx(ctx context.Context, conn *sql.Conn, req sdk.WriteRequest, target sdk.ObjectRef, stage string,
	schema *arrow.Schema, names []string, arraySize int, records array.RecordReader) (int64, error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	n, err := load(ctx, tx, req, target, stage, schema, names, arraySize, records, nil)
	if err != nil {
		_ = tx.Rollback()
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("committing: %w", err)
	}
	return n, nil
}

// load writes records in tx; a merge runs beforeMerge, when set, once
// the rows are staged and before they are merged.
func load(ctx context.Context, tx *sql.Tx, req sdk.WriteRequest, target sdk.ObjectRef, stage string,
	schema *arrow.Schema, names []string, arraySize int, records array.RecordReader, beforeMerge func() error) (int64, error) {
	if req.Mode == sdk.Replace {
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+table(target)); err != nil {
			return 0, fmt.Errorf("deleting the old rows: %w", err)
		}
	}
	keyIdx := make([]int, 0, len(req.Keys))
	if stage != "" {
		for _, k := range req.Keys {
			i := schema.FieldIndices(k)
			if len(i) != 1 {
				return 0, sdk.NotFoundf("merge key %q is not a column of the stream", k)
			}
			keyIdx = append(keyIdx, i[0])
		}
	}
	into, cols := table(target), quoteAll(names)
	if stage != "" {
		into, cols = quoteIdent(stage), append(cols, quoteIdent(seqColumn))
	}
	ph := make([]string, len(cols))
	for i := range ph {
		ph[i] = ":" + strconv.Itoa(i+1)
	}
	insert := "INSERT INTO " + into + " (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(ph, ", ") + ")"
	total := int64(0)
	for records.Next() {
		rec := records.RecordBatch()
		if err := sqlsource.NullKey(rec, keyIdx, total); err != nil {
			return 0, err
		}
		n := int(rec.NumRows())
		for start := 0; start < n; start += arraySize {
			end := min(n, start+arraySize)
			args := make([]any, 0, len(cols))
			for i, col := range rec.Columns() {
				a, err := bindArray(col, start, end)
				if err != nil {
					return 0, fmt.Errorf("column %q: %w", schema.Field(i).Name, err)
				}
				args = append(args, a)
			}
			if stage != "" {
				seq := make([]int64, end-start)
				for r := range seq {
					seq[r] = total + int64(start+r)
				}
				args = append(args, seq)
			}
			if _, err := tx.ExecContext(ctx, insert, args...); err != nil {
				return 0, err
			}
		}
		total += int64(n)
	}
	if err := records.Err(); err != nil {
		return 0, fmt.Errorf("the incoming stream failed, nothing was written: %w", err)
	}
	if stage != "" {
		if beforeMerge != nil {
			if err := beforeMerge(); err != nil {
				return 0, err
			}
		}
		if _, err := tx.ExecContext(ctx, mergeSQL(target, stage, names, keyNames(names, keyIdx))); err != nil {
			return 0, fmt.Errorf("merging: %w", err)
		}
	}
	return total, nil
}

func keyNames(names []string, idx []int) []string {
	out := make([]string, len(idx))
	for i, k := range idx {
		out[i] = names[k]
	}
	return out
}

func quoteAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = quoteIdent(n)
	}
	return out
}

// mergeSQL applies the stage to the target: the last row (highest
// HP_SEQ) of each key updates the target's rows of that key or is
// inserted.
func mergeSQL(target sdk.ObjectRef, stage string, names, keys []string) string {
	q := quoteAll(names)
	qk := quoteAll(keys)
	on := make([]string, len(qk))
	for i, k := range qk {
		on[i] = "t." + k + " = s." + k
	}
	var set, ins, vals []string
	for _, n := range q {
		ins = append(ins, n)
		vals = append(vals, "s."+n)
		if !contains(qk, n) {
			set = append(set, "t."+n+" = s."+n)
		}
	}
	st, seq := quoteIdent(stage), quoteIdent(seqColumn)
	s := "MERGE INTO " + table(target) + " t USING (SELECT " + strings.Join(q, ", ") + " FROM " + st +
		" WHERE " + seq + " IN (SELECT MAX(" + seq + ") FROM " + st + " GROUP BY " + strings.Join(qk, ", ") + ")) s ON (" +
		strings.Join(on, " AND ") + ")"
	if len(set) > 0 {
		s += " WHEN MATCHED THEN UPDATE SET " + strings.Join(set, ", ")
	}
	return s + " WHEN NOT MATCHED THEN INSERT (" + strings.Join(ins, ", ") + ") VALUES (" + strings.Join(vals, ", ") + ")"
}

// bindArray is rows [start, end) of a column as the typed slice godror
// binds as an array (one round trip for all rows). NULLs: sql.Null*
// slices, "" for text and numbers (Oracle's NULL), nil bytes.
func bindArray(a arrow.Array, start, end int) (any, error) {
	n := end - start
	ints := func(get func(int) int64) any {
		out := make([]sql.NullInt64, n)
		for i := range out {
			if !a.IsNull(start + i) {
				out[i] = sql.NullInt64{Int64: get(start + i), Valid: true}
			}
		}
		return out
	}
	numbers := func(get func(int) string) any {
		out := make([]godror.Number, n)
		for i := range out {
			if !a.IsNull(start + i) {
				out[i] = godror.Number(get(start + i))
			}
		}
		return out
	}
	times := func(get func(int) time.Time) any {
		out := make([]sql.NullTime, n)
		for i := range out {
			if !a.IsNull(start + i) {
				out[i] = sql.NullTime{Time: get(start + i), Valid: true}
			}
		}
		return out
	}
	if _, ok := sqlsource.OffsetUnit(a.DataType()); ok {
		if x, ok := a.(*extensions.TimestampWithOffsetArray); ok {
			return times(x.Value), nil
		}
	}
	switch x := a.(type) {
	case *array.Boolean:
		return ints(func(i int) int64 {
			if x.Value(i) {
				return 1
			}
			return 0
		}), nil
	case *array.Int8:
		return ints(func(i int) int64 { return int64(x.Value(i)) }), nil
	case *array.Int16:
		return ints(func(i int) int64 { return int64(x.Value(i)) }), nil
	case *array.Int32:
		return ints(func(i int) int64 { return int64(x.Value(i)) }), nil
	case *array.Int64:
		return ints(x.Value), nil
	case *array.Uint8:
		return ints(func(i int) int64 { return int64(x.Value(i)) }), nil
	case *array.Uint16:
		return ints(func(i int) int64 { return int64(x.Value(i)) }), nil
	case *array.Uint32:
		return ints(func(i int) int64 { return int64(x.Value(i)) }), nil
	case *array.Uint64:
		return numbers(func(i int) string { return strconv.FormatUint(x.Value(i), 10) }), nil
	case *array.Float32:
		out := make([]sql.NullFloat64, n)
		for i := range out {
			if !a.IsNull(start + i) {
				out[i] = sql.NullFloat64{Float64: float64(x.Value(start + i)), Valid: true}
			}
		}
		return out, nil
	case *array.Float64:
		out := make([]sql.NullFloat64, n)
		for i := range out {
			if !a.IsNull(start + i) {
				out[i] = sql.NullFloat64{Float64: x.Value(start + i), Valid: true}
			}
		}
		return out, nil
	case *array.Decimal128:
		scale := x.DataType().(*arrow.Decimal128Type).Scale
		return numbers(func(i int) string { return x.Value(i).ToString(scale) }), nil
	case *array.Decimal256:
		scale := x.DataType().(*arrow.Decimal256Type).Scale
		return numbers(func(i int) string { return x.Value(i).ToString(scale) }), nil
	case *array.String:
		out := make([]string, n)
		for i := range out {
			if !a.IsNull(start + i) {
				out[i] = x.Value(start + i)
			}
		}
		return out, nil
	case *array.LargeString:
		out := make([]string, n)
		for i := range out {
			if !a.IsNull(start + i) {
				out[i] = x.Value(start + i)
			}
		}
		return out, nil
	case *array.Binary:
		out := make([][]byte, n)
		for i := range out {
			if !a.IsNull(start + i) {
				out[i] = append([]byte{}, x.Value(start+i)...)
			}
		}
		return out, nil
	case *array.Date32:
		return times(func(i int) time.Time { return x.Value(i).ToTime() }), nil
	case *array.Timestamp:
		unit := x.DataType().(*arrow.TimestampType).Unit
		return times(func(i int) time.Time { return x.Value(i).ToTime(unit).UTC() }), nil
	}
	return nil, sdk.Errorf(sdk.ErrUnsupportedType, "type %s cannot be written to Oracle", a.DataType())
}
