package oracle

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

// Sync implements sdk.Syncer. DDL commits in Oracle, so both global
// temporary tables, the merge's stage and the keys to delete (created as
// SELECT of the table's key columns, so they compare as the table's), are
// created before the transaction and dropped after it. In the
// transaction: the upserts are staged, the keys to delete staged and
// their rows deleted, then the stage MERGEd. Deleting first keeps an
// upserted row whose key a linguistic comparison equates with a deleted
// one. Any failure rolls everything back.
func (c *Connector) Sync(ctx context.Context, req sdk.WriteRequest, upserts array.RecordReader, deleteKeys func() (array.RecordReader, error)) (*sdk.SyncResult, error) {
	res, err := c.sync(ctx, req, upserts, deleteKeys)
	if err != nil {
		return nil, fail(err, req.Conn.DSN)
	}
	return res, nil
}

func (c *Connector) sync(ctx context.Context, req sdk.WriteRequest, upserts array.RecordReader, deleteKeys func() (array.RecordReader, error)) (_ *sdk.SyncResult, err error) {
	if len(req.Keys) == 0 {
		return nil, sdk.InvalidArgumentf("sync needs key columns")
	}
	merge := req
	merge.Mode, merge.CreateTable = sdk.Merge, false
	_, arraySize, err := fetchOptions(req.Conn)
	if err != nil {
		return nil, err
	}
	schema := upserts.Schema()
	if err := checkTypes(schema); err != nil {
		return nil, err
	}
	db, err := c.db(req.Conn)
	if err != nil {
		return nil, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer func() {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		_ = conn.Close()
	}()
	target, cols, err := c.target(ctx, db, merge)
	if err != nil {
		return nil, err
	}
	if cols == nil {
		return nil, sdk.NotFoundf("table %s does not exist", req.Table)
	}
	names := make([]string, schema.NumFields())
	for i, f := range schema.Fields() {
		names[i] = resolveColumn(cols, f.Name)
	}
	keys := make([]string, len(req.Keys))
	for i, k := range req.Keys {
		keys[i] = resolveColumn(cols, k)
	}
	var cleanup cleanup
	defer func() { cleanup.run(ctx, db, conn, &err) }()
	stage := stageName()
	if _, err := conn.ExecContext(ctx, stageSQL(stage, schema, names, req.Keys)); err != nil {
		return nil, fmt.Errorf("creating the merge's temporary table: %w", err)
	}
	cleanup = append(cleanup, "DROP TABLE "+quoteIdent(stage)+" PURGE")
	del := "HP_DELETE_" + strings.TrimPrefix(stage, "HP_MERGE_")
	if _, err := conn.ExecContext(ctx, DeleteStageSQL(del, target, keys)); err != nil {
		return nil, fmt.Errorf("creating the temporary table of keys to delete: %w", err)
	}
	cleanup = append(cleanup, "DROP TABLE "+quoteIdent(del)+" PURGE")
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	res := &sdk.SyncResult{}
	res.RowsWritten, err = load(ctx, tx, merge, target, stage, schema, names, arraySize, upserts, func() (err error) {
		res.RowsDeleted, err = deleteRows(ctx, tx, req.Keys, target, del, keys, arraySize, deleteKeys)
		return err
	})
	if err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("committing: %w", err)
	}
	return res, nil
}

// DeleteStageSQL creates the global temporary table of a sync's keys to
// delete with the types of the target's key columns.
func DeleteStageSQL(del string, target sdk.ObjectRef, keys []string) string {
	return "CREATE GLOBAL TEMPORARY TABLE " + quoteIdent(del) + " ON COMMIT DELETE ROWS AS SELECT " +
		strings.Join(quoteAll(keys), ", ") + " FROM " + table(target) + " WHERE 1 = 0"
}

// DeleteSQL deletes the target's rows whose keys del holds.
func DeleteSQL(target sdk.ObjectRef, del string, keys []string) string {
	k := strings.Join(quoteAll(keys), ", ")
	return "DELETE FROM " + table(target) + " WHERE (" + k + ") IN (SELECT " + k + " FROM " + quoteIdent(del) + ")"
}

// deleteRows stages the keys deleteKeys streams (columns named as
// reqKeys; the table's are keys) in del with array inserts and deletes
// the target's rows that hold them.
func deleteRows(ctx context.Context, tx *sql.Tx, reqKeys []string, target sdk.ObjectRef, del string, keys []string, arraySize int, deleteKeys func() (array.RecordReader, error)) (int64, error) {
	dk, err := deleteKeys()
	if err != nil {
		return 0, err
	}
	schema := dk.Schema()
	if schema.NumFields() != len(reqKeys) {
		return 0, sdk.InvalidArgumentf("the keys to delete have %d columns, not the %d keys %v", schema.NumFields(), len(reqKeys), reqKeys)
	}
	idx := make([]int, len(reqKeys))
	ph := make([]string, len(reqKeys))
	for i, k := range reqKeys {
		if schema.Field(i).Name != k {
			return 0, sdk.InvalidArgumentf("column %d of the keys to delete is %q, not the key %q", i+1, schema.Field(i).Name, k)
		}
		idx[i], ph[i] = i, ":"+strconv.Itoa(i+1)
	}
	insert := "INSERT INTO " + quoteIdent(del) + " (" + strings.Join(quoteAll(keys), ", ") + ") VALUES (" + strings.Join(ph, ", ") + ")"
	total := int64(0)
	for dk.Next() {
		rec := dk.RecordBatch()
		if err := sqlsource.NullKey(rec, idx, total); err != nil {
			return 0, err
		}
		n := int(rec.NumRows())
		for start := 0; start < n; start += arraySize {
			end := min(n, start+arraySize)
			args := make([]any, len(keys))
			for i, col := range rec.Columns() {
				if args[i], err = bindArray(col, start, end); err != nil {
					return 0, fmt.Errorf("key %q: %w", schema.Field(i).Name, err)
				}
			}
			if _, err := tx.ExecContext(ctx, insert, args...); err != nil {
				return 0, fmt.Errorf("staging the keys to delete: %w", err)
			}
		}
		total += int64(n)
	}
	if err := dk.Err(); err != nil {
		return 0, fmt.Errorf("the stream of keys to delete failed, nothing was written: %w", err)
	}
	if total == 0 {
		return 0, nil
	}
	r, err := tx.ExecContext(ctx, DeleteSQL(target, del, keys))
	if err != nil {
		return 0, fmt.Errorf("deleting: %w", err)
	}
	return r.RowsAffected()
}
