package sqlsource

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// insertRows is how many rows one INSERT statement carries.
const insertRows = 200

// Names of the session's temporary tables of a merge and the column that
// orders the incoming rows; the last row of a key wins.
const (
	stageTable = "hp_merge_stage"
	lastTable  = "hp_merge_last"
	seqColumn  = "hp_seq"
)

// Write implements sdk.Writer generically. The data goes in one
// transaction that never contains DDL unless the dialect's DDL is
// transactional (MySQL commits implicitly on CREATE TABLE, which once
// left half a table behind): a missing table is created before the
// transaction, with the merge keys as its primary key, and dropped again
// if the write fails. Replace deletes the old rows inside the
// transaction. Merge loads the rows into a temporary table and applies
// them with one DELETE and one INSERT … SELECT, the last row of each key
// winning. Any failure, including a broken stream, rolls everything back.
func (c *Connector) Write(ctx context.Context, req sdk.WriteRequest, records array.RecordReader) (*sdk.WriteResult, error) {
	d := c.dialect
	if d.DDLType == nil {
		return nil, sdk.Errorf(sdk.ErrUnimplemented, "%s cannot be written to", c.info.Name)
	}
	if req.Mode == sdk.Merge && len(req.Keys) == 0 {
		return nil, sdk.InvalidArgumentf("merge needs key columns")
	}
	schema := records.Schema()
	keyIdx, err := keyIndices(schema, req)
	if err != nil {
		return nil, err
	}
	db, conn, done, err := c.writeSession(ctx, req.Conn)
	if err != nil {
		return nil, err
	}
	defer done()
	created := false
	if req.CreateTable && !d.TransactionalDDL {
		if created, err = c.createTable(ctx, conn, req, schema); err != nil {
			return nil, d.classify(err, req.Conn.DSN)
		}
	}
	n, err := c.killableWriteTx(ctx, db, conn, req, schema, keyIdx, records)
	if err != nil {
		if created {
			// The write's session ends first: a transaction its rollback
			// left open (a cancelled write's can be) holds the table's
			// lock, and the DROP waited for it. Then a fresh connection:
			// the context may be gone. The table is empty.
			done()
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			_, derr := db.ExecContext(dctx, "DROP TABLE "+d.table(req.Table))
			cancel()
			if derr != nil {
				err = fmt.Errorf("%w; the table %s, created for this write, could not be dropped again (%v): drop it before writing again", err, req.Table, d.classifyOnly(derr))
			}
		}
		return nil, d.classify(err, req.Conn.DSN)
	}
	return &sdk.WriteResult{RowsWritten: n}, nil
}

// writeSession opens the one connection of a write (temporary tables and
// session settings belong to it) and prepares its session. Its end (done,
// which may be called more than once) discards the connection.
func (c *Connector) writeSession(ctx context.Context, cc sdk.Connection) (_ *sql.DB, _ *sql.Conn, done func(), _ error) {
	d := c.dialect
	db, err := c.db(cc)
	if err != nil {
		return nil, nil, nil, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, nil, nil, d.classify(err, cc.DSN)
	}
	for _, s := range d.WriteSession {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			discard(conn)
			return nil, nil, nil, d.classify(fmt.Errorf("preparing the session: %w", err), cc.DSN)
		}
	}
	return db, conn, sync.OnceFunc(func() { discard(conn) }), nil
}

// killableWriteTx is writeTx with its statements stopped on the server
// when ctx ends (armKill), the killer's connection given back when it
// returns (a failed write's DROP TABLE may need it).
func (c *Connector) killableWriteTx(ctx context.Context, db *sql.DB, conn *sql.Conn, req sdk.WriteRequest, schema *arrow.Schema, keyIdx []int, records array.RecordReader) (int64, error) {
	disarm, err := c.armKill(ctx, db, conn, req.Conn)
	if err != nil {
		return 0, err
	}
	defer disarm()
	return c.writeTx(ctx, conn, req, schema, keyIdx, records)
}

// armKill makes the end of ctx stop the statement conn runs on the
// server too (Dialect.KillQuery): the driver only closes a cancelled
// statement's connection, which a server may not notice before the
// statement ends, holding its locks. The KILL comes from a connection
// taken now: once the statement runs, the server's or the user's
// connection limit may leave none to open. Without one (the limit is
// reached already) the write goes on, warned, and a KILL is tried from
// the pool. disarm waits for a KILL under way and gives the connection
// back.
func (c *Connector) armKill(ctx context.Context, db *sql.DB, conn *sql.Conn, cc sdk.Connection) (disarm func(), _ error) {
	d := c.dialect
	if d.KillQuery == nil || d.SessionID == "" {
		return func() {}, nil
	}
	var id int64
	if err := conn.QueryRowContext(ctx, d.SessionID).Scan(&id); err != nil {
		return nil, fmt.Errorf("reading the session's id: %w", err)
	}
	killer, err := db.Conn(ctx)
	if err != nil {
		killer = nil
		slog.Warn("no second connection to stop a cancelled write's statement on the server with: if the write is cancelled, its statement runs on until the server notices",
			"error", sdk.MaskIn(err.Error(), cc.DSN))
	}
	killed := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(killed)
		kctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := errors.New("no connection")
		if killer != nil {
			_, err = killer.ExecContext(kctx, d.KillQuery(id))
		}
		if err != nil { // e.g. the server closed the idle connection taken
			_, err = db.ExecContext(kctx, d.KillQuery(id))
		}
		if err != nil {
			slog.Warn("stopping the cancelled write's statement on the server", "error", sdk.MaskIn(err.Error(), cc.DSN))
		}
	})
	return func() {
		if !stop() {
			<-killed
		}
		if killer != nil {
			_ = killer.Close()
		}
	}, nil
}

// discard closes a write's connection without returning it to the pool:
// its session settings and temporary tables go with it, and one that
// failed mid-write cannot be reused in an unknown state.
func discard(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	_ = conn.Close()
}

func keyIndices(schema *arrow.Schema, req sdk.WriteRequest) ([]int, error) {
	if req.Mode != sdk.Merge {
		return nil, nil
	}
	idx := make([]int, len(req.Keys))
	for i, k := range req.Keys {
		f := schema.FieldIndices(k)
		if len(f) != 1 {
			return nil, sdk.NotFoundf("merge key %q is not a column of the stream", k)
		}
		idx[i] = f[0]
	}
	return idx, nil
}

// columnsDDL is the column list of a CREATE TABLE for the stream; key
// columns take the dialect's key type.
func (d *Dialect) columnsDDL(schema *arrow.Schema, keys []string) ([]string, error) {
	cols := make([]string, schema.NumFields())
	for i, f := range schema.Fields() {
		t, err := d.fieldType(f, keys)
		if err != nil {
			return nil, err
		}
		cols[i] = d.quote(f.Name) + " " + t
		if !f.Nullable || contains(keys, f.Name) {
			cols[i] += " NOT NULL"
		}
	}
	return cols, nil
}

// fieldType is the native type of a column created for f; key columns
// take the dialect's key type.
func (d *Dialect) fieldType(f arrow.Field, keys []string) (string, error) {
	t, err := d.DDLType(f.Type)
	if d.KeyType != nil && contains(keys, f.Name) {
		t, err = d.KeyType(f.Type, len(keys))
	}
	if err != nil {
		return "", fmt.Errorf("column %q: %w", f.Name, err)
	}
	return t, nil
}

// createSQL is the CREATE TABLE of a table holding schema's columns,
// keyed by keys when there are any.
func (d *Dialect) createSQL(table sdk.ObjectRef, schema *arrow.Schema, keys []string) (string, error) {
	cols, err := d.columnsDDL(schema, keys)
	if err != nil {
		return "", err
	}
	if len(keys) > 0 {
		q := make([]string, len(keys))
		for i, k := range keys {
			q[i] = d.quote(k)
		}
		cols = append(cols, "PRIMARY KEY ("+strings.Join(q, ", ")+")")
	}
	return "CREATE TABLE " + d.table(table) + " (" + strings.Join(cols, ", ") + ")", nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// createTable creates the target if it is missing, keyed by the merge
// keys; created reports whether it did.
func (c *Connector) createTable(ctx context.Context, db execer, req sdk.WriteRequest, schema *arrow.Schema) (created bool, err error) {
	d := c.dialect
	if d.Columns != nil {
		pool, perr := c.db(req.Conn)
		if perr != nil {
			return false, perr
		}
		if _, err := d.Columns(ctx, pool, req.Table); err == nil {
			return false, nil
		} else if !errors.Is(d.classifyOnly(err), sdk.ErrNotFound) {
			return false, err
		}
	}
	var keys []string
	if req.Mode == sdk.Merge {
		keys = req.Keys
	}
	create, err := d.createSQL(req.Table, schema, keys)
	if err != nil {
		return false, err
	}
	// Without IF NOT EXISTS: a table another writer created since the
	// check is not this write's to drop if it fails.
	if _, err := db.ExecContext(ctx, create); err != nil {
		if d.Columns != nil {
			if pool, perr := c.db(req.Conn); perr == nil {
				if _, cerr := d.Columns(ctx, pool, req.Table); cerr == nil {
					return false, nil
				}
			}
		}
		return false, fmt.Errorf("creating %s: %w", req.Table, err)
	}
	return true, nil
}

func (c *Connector) writeTx(ctx context.Context, conn *sql.Conn, req sdk.WriteRequest, schema *arrow.Schema, keyIdx []int, records array.RecordReader) (int64, error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	n, err := c.load(ctx, conn, tx, req, schema, keyIdx, records, nil)
	if err != nil {
		_ = tx.Rollback()
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("committing: %w", err)
	}
	return n, nil
}

// load writes records as req.Mode says. A merge runs beforeMerge, when
// set, once the rows are staged and before they are merged.
func (c *Connector) load(ctx context.Context, conn *sql.Conn, tx *sql.Tx, req sdk.WriteRequest, schema *arrow.Schema, keyIdx []int, records array.RecordReader, beforeMerge func() error) (int64, error) {
	d := c.dialect
	target := d.table(req.Table)
	if req.CreateTable && d.TransactionalDDL {
		if _, err := c.createTable(ctx, tx, req, schema); err != nil {
			return 0, err
		}
	}
	if req.Mode == sdk.Replace {
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+target); err != nil {
			return 0, fmt.Errorf("deleting the old rows: %w", err)
		}
	}
	names := make([]string, schema.NumFields())
	for i, f := range schema.Fields() {
		names[i] = d.quote(f.Name)
	}
	into, cols := target, names
	if req.Mode == sdk.Merge {
		// The staging table has the stream's columns and the row's sequence
		// number; temporary tables are no implicit commit on MySQL.
		ddl, err := d.columnsDDL(schema, nil)
		if err != nil {
			return 0, err
		}
		ddl = append(ddl, d.quote(seqColumn)+" BIGINT NOT NULL PRIMARY KEY")
		if _, err := tx.ExecContext(ctx, d.createTemp(stageTable, ddl)); err != nil {
			return 0, fmt.Errorf("creating the staging table: %w", err)
		}
		into, cols = d.tempName(stageTable), append(append([]string(nil), names...), d.quote(seqColumn))
	}
	total, err := c.insert(ctx, conn, tx, into, cols, schema, keyIdx, keyIdx != nil, records)
	if err != nil {
		return 0, err
	}
	if keyIdx != nil {
		if beforeMerge != nil {
			if err := beforeMerge(); err != nil {
				return 0, err
			}
		}
		if err := c.merge(ctx, tx, target, names, req.Keys); err != nil {
			return 0, err
		}
	}
	return total, nil
}

// insert inserts the rows of records into the columns cols of into, each
// followed by its sequence number over the stream when seq is set; the
// columns keyIdx must not hold NULLs.
func (c *Connector) insert(ctx context.Context, conn *sql.Conn, tx *sql.Tx, into string, cols []string, schema *arrow.Schema, keyIdx []int, seq bool, records array.RecordReader) (int64, error) {
	d := c.dialect
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
		if err := NullKey(rec, keyIdx, total); err != nil {
			return 0, err
		}
		n := int(rec.NumRows())
		if d.InsertBatch != nil {
			first := int64(-1)
			if seq {
				first = total
			}
			// The transaction's connection: Raw waits for tx's calls.
			if err := conn.Raw(func(dc any) error { return d.InsertBatch(ctx, dc, into, cols, rec, first) }); err != nil {
				return 0, err
			}
			total += int64(n)
			continue
		}
		for start := 0; start < n; start += insertRows {
			end := min(n, start+insertRows)
			var args []any
			tuples := make([]string, 0, end-start)
			for r := start; r < end; r++ {
				ph := make([]string, len(cols))
				for ci, g := range getters {
					args = append(args, g(r))
					ph[ci] = d.placeholder(len(args))
				}
				if seq {
					args = append(args, total+int64(r))
					ph[len(getters)] = d.placeholder(len(args))
				}
				tuples = append(tuples, "("+strings.Join(ph, ", ")+")")
			}
			q := "INSERT INTO " + into + " (" + strings.Join(cols, ", ") + ") VALUES " + strings.Join(tuples, ", ")
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

// NullKey refuses a batch of a merge whose key columns (keyIdx) hold a
// NULL, naming the key and the row (counted from 1 over the stream, before
// rows preceding the batch): a NULL key matches no row.
func NullKey(rec arrow.RecordBatch, keyIdx []int, before int64) error {
	for _, ki := range keyIdx {
		if col := rec.Column(ki); col.NullN() > 0 {
			for r := 0; r < col.Len(); r++ {
				if col.IsNull(r) {
					return sdk.InvalidArgumentf("merge key %q is NULL in row %d: a NULL key matches no row, so it cannot be merged", rec.Schema().Field(ki).Name, before+int64(r)+1)
				}
			}
		}
	}
	return nil
}

// merge applies the staging table: the last row of each key replaces
// the target's rows of that key. Each statement names a temporary table
// once, as MySQL requires.
func (c *Connector) merge(ctx context.Context, tx *sql.Tx, target string, names, keys []string) error {
	d := c.dialect
	stage, last, seq := d.tempName(stageTable), d.tempName(lastTable), d.quote(seqColumn)
	qk := make([]string, len(keys))
	on := make([]string, len(keys))
	for i, k := range keys {
		qk[i] = d.quote(k)
		on[i] = "t." + qk[i] + " = l." + qk[i]
	}
	sel := make([]string, len(names))
	for i, n := range names {
		sel[i] = "s." + n
	}
	stmts := []string{
		d.selectIntoTemp(last, strings.Join(qk, ", ")+", MAX("+seq+") AS "+seq, "FROM "+stage+" GROUP BY "+strings.Join(qk, ", ")),
		d.mergeDelete(target, last, on),
		"INSERT INTO " + target + " (" + strings.Join(names, ", ") + ") SELECT " + strings.Join(sel, ", ") + " FROM " + stage + " s JOIN " + last + " l ON s." + seq + " = l." + seq,
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("merging: %w", err)
		}
	}
	return nil
}

// tempName is how statements refer to the temporary table name.
func (d *Dialect) tempName(name string) string {
	if d.TempTable != nil {
		return d.TempTable.Name(name)
	}
	return d.quote(name)
}

// createTemp creates the temporary table name with columns.
func (d *Dialect) createTemp(name string, columns []string) string {
	if d.TempTable != nil {
		return d.TempTable.Create(d.tempName(name), columns)
	}
	return "CREATE TEMPORARY TABLE " + d.tempName(name) + " (" + strings.Join(columns, ", ") + ")"
}

// selectIntoTemp creates the temporary table table (as tempName gave
// it) from SELECT list rest.
func (d *Dialect) selectIntoTemp(table, list, rest string) string {
	if d.TempTable != nil {
		return d.TempTable.SelectInto(table, list, rest)
	}
	return "CREATE TEMPORARY TABLE " + table + " AS SELECT " + list + " " + rest
}

// mergeDelete deletes the target's rows (alias t) that have a key in
// last (alias l).
func (d *Dialect) mergeDelete(target, last string, on []string) string {
	if d.MergeDelete != nil {
		return d.MergeDelete(target, last, on)
	}
	return "DELETE FROM " + target + " AS t WHERE EXISTS (SELECT 1 FROM " + last + " l WHERE " + strings.Join(on, " AND ") + ")"
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
