package sqlsource

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// deleteTable is the session's temporary table of a sync's keys to delete.
const deleteTable = "hp_sync_delete"

// Sync implements sdk.Syncer: in one transaction, the upserts are staged
// as a Write in merge mode stages them, the keys to delete are staged in a
// temporary table of their own and the target's rows with those keys
// deleted with the dialect's merge DELETE, and then the upserts merged.
// Deleting first matters under a collation that equates distinct keys
// (MySQL's default is case-insensitive): the upsert of key 'a' replaces
// the row of 'A', and deleting 'A' afterwards would delete it. Any
// failure rolls everything back.
func (c *Connector) Sync(ctx context.Context, req sdk.WriteRequest, upserts array.RecordReader, deleteKeys func() (array.RecordReader, error)) (*sdk.SyncResult, error) {
	d := c.dialect
	if d.DDLType == nil {
		return nil, sdk.Errorf(sdk.ErrUnimplemented, "%s cannot be written to", c.info.Name)
	}
	if len(req.Keys) == 0 {
		return nil, sdk.InvalidArgumentf("sync needs key columns")
	}
	merge := req
	merge.Mode, merge.CreateTable = sdk.Merge, false
	schema := upserts.Schema()
	keyIdx, err := keyIndices(schema, merge)
	if err != nil {
		return nil, err
	}
	db, conn, done, err := c.writeSession(ctx, req.Conn)
	if err != nil {
		return nil, err
	}
	defer done()
	disarm, err := c.armKill(ctx, db, conn, req.Conn)
	if err != nil {
		return nil, d.classify(err, req.Conn.DSN)
	}
	defer disarm()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, d.classify(err, req.Conn.DSN)
	}
	res, err := c.syncTx(ctx, conn, tx, merge, keyIdx, upserts, deleteKeys)
	if err == nil {
		if err = tx.Commit(); err != nil {
			err = fmt.Errorf("committing: %w", err)
		}
	} else {
		_ = tx.Rollback()
	}
	if err != nil {
		return nil, d.classify(err, req.Conn.DSN)
	}
	return res, nil
}

func (c *Connector) syncTx(ctx context.Context, conn *sql.Conn, tx *sql.Tx, req sdk.WriteRequest, keyIdx []int, upserts array.RecordReader, deleteKeys func() (array.RecordReader, error)) (*sdk.SyncResult, error) {
	var deleted int64
	n, err := c.load(ctx, conn, tx, req, upserts.Schema(), keyIdx, upserts, func() (err error) {
		deleted, err = c.delete(ctx, conn, tx, req, deleteKeys)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &sdk.SyncResult{RowsWritten: n, RowsDeleted: deleted}, nil
}

// delete stages the keys deleteKeys returns and deletes the target's rows
// that hold them.
func (c *Connector) delete(ctx context.Context, conn *sql.Conn, tx *sql.Tx, req sdk.WriteRequest, deleteKeys func() (array.RecordReader, error)) (int64, error) {
	d := c.dialect
	dk, err := deleteKeys()
	if err != nil {
		return 0, err
	}
	schema := dk.Schema()
	if schema.NumFields() != len(req.Keys) {
		return 0, sdk.InvalidArgumentf("the keys to delete have %d columns, not the %d keys %v", schema.NumFields(), len(req.Keys), req.Keys)
	}
	cols, on, idx := make([]string, len(req.Keys)), make([]string, len(req.Keys)), make([]int, len(req.Keys))
	for i, k := range req.Keys {
		if schema.Field(i).Name != k {
			return 0, sdk.InvalidArgumentf("column %d of the keys to delete is %q, not the key %q", i+1, schema.Field(i).Name, k)
		}
		cols[i], idx[i] = d.quote(k), i
		on[i] = "t." + cols[i] + " = l." + cols[i]
	}
	ddl, err := d.columnsDDL(schema, nil)
	if err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, d.createTemp(deleteTable, ddl)); err != nil {
		return 0, fmt.Errorf("creating the table of keys to delete: %w", err)
	}
	staged, err := c.insert(ctx, conn, tx, d.tempName(deleteTable), cols, schema, idx, false, dk)
	if err != nil {
		return 0, fmt.Errorf("staging the keys to delete: %w", err)
	}
	if staged == 0 {
		return 0, nil
	}
	r, err := tx.ExecContext(ctx, d.mergeDelete(d.table(req.Table), d.tempName(deleteTable), on))
	if err != nil {
		return 0, fmt.Errorf("deleting: %w", err)
	}
	n, err := r.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("counting the rows deleted: %w", err)
	}
	return n, nil
}
