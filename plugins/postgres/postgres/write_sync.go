package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

// Sync implements sdk.Syncer on one connection and in one transaction:
// the upserts are staged exactly as Write stages a merge (COPY into a
// temporary table), the keys to delete are copied into a temporary table
// of their own and the rows holding them deleted with one DELETE ...
// USING, and then the upserts are merged (INSERT ... ON CONFLICT, or
// DELETE and INSERT). Deleting first keeps an upserted row whose key a
// nondeterministic collation equates with a deleted one. Any failure
// rolls everything back.
func (c *Connector) Sync(ctx context.Context, req sdk.WriteRequest, upserts array.RecordReader, deleteKeys func() (array.RecordReader, error)) (*sdk.SyncResult, error) {
	merge := req
	merge.Mode, merge.CreateTable = sdk.Merge, false
	keys, err := mergeKeys(merge, upserts.Schema())
	if err != nil {
		return nil, err
	}
	conn, err := connectWrite(ctx, req.Conn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, writeErr(err, req.Conn.DSN)
	}
	res := &sdk.SyncResult{}
	w := &writer{conn: conn, req: merge, schema: upserts.Schema(), keys: keys}
	w.beforeMerge = func(ctx context.Context) (err error) {
		res.RowsDeleted, err = w.delete(ctx, deleteKeys)
		return err
	}
	res.RowsWritten, err = w.run(ctx, upserts)
	if err != nil {
		_ = tx.Rollback(context.Background())
		return nil, writeErr(err, req.Conn.DSN)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, writeErr(err, req.Conn.DSN)
	}
	return res, nil
}

// delete deletes the rows whose keys the stream deleteKeys returns holds.
// Keys are staged typed as the table's columns (or as text cast to them,
// as a merge stages values the encoders cannot write).
func (w *writer) delete(ctx context.Context, deleteKeys func() (array.RecordReader, error)) (int64, error) {
	dk, err := deleteKeys()
	if err != nil {
		return 0, err
	}
	schema := dk.Schema()
	if schema.NumFields() != len(w.req.Keys) {
		return 0, sdk.InvalidArgumentf("the keys to delete have %d columns, not the %d keys %v", schema.NumFields(), len(w.req.Keys), w.req.Keys)
	}
	for i, k := range w.req.Keys {
		if schema.Field(i).Name != k {
			return 0, sdk.InvalidArgumentf("column %d of the keys to delete is %q, not the key %q", i+1, schema.Field(i).Name, k)
		}
	}
	kw := &writer{conn: w.conn, req: w.req, schema: schema}
	_, cols, err := kw.describe(ctx)
	if err != nil {
		return 0, err
	}
	encoders := make([]makeEncoder, len(cols))
	defs, conds, nulls := make([]string, len(cols)), make([]string, len(cols)), make([]string, len(cols))
	for i, f := range schema.Fields() {
		col := fmt.Sprintf("c%d", i+1)
		value := col
		enc, err := encoderFor(f.Type, cols[i].typ)
		if err != nil {
			return 0, fmt.Errorf("key %q: %w", f.Name, err)
		}
		defs[i] = col + " " + cols[i].full
		if enc == nil {
			if enc = textEncoder(f.Type, cols[i].typ); enc == nil {
				return 0, sdk.Errorf(sdk.ErrUnsupportedType, "key %q: %s cannot be compared with %s %s", f.Name, f.Type, w.table, cols[i].full)
			}
			defs[i], value = col+" text", col+"::"+cols[i].full
		}
		encoders[i] = enc
		conds[i] = "hp_t." + sqlsource.QuoteDouble(cols[i].name) + " = s." + value
		nulls[i] = col + " IS NULL"
	}
	if _, err := w.conn.Exec(ctx, "CREATE TEMPORARY TABLE hp_delete ("+strings.Join(defs, ", ")+") ON COMMIT DROP"); err != nil {
		return 0, fmt.Errorf("creating the table of keys to delete: %w", err)
	}
	n, err := kw.copy(ctx, "COPY hp_delete FROM STDIN (FORMAT binary)", encoders, false, dk)
	if err != nil {
		return 0, fmt.Errorf("staging the keys to delete: %w", err)
	}
	if n == 0 {
		return 0, nil
	}
	var null int64
	if err := w.conn.QueryRow(ctx, "SELECT count(*) FROM hp_delete WHERE "+strings.Join(nulls, " OR ")).Scan(&null); err != nil {
		return 0, err
	}
	if null > 0 {
		return 0, sdk.InvalidArgumentf("%d keys to delete hold a NULL: a NULL key matches no row", null)
	}
	tag, err := w.conn.Exec(ctx, "DELETE FROM "+w.table+" hp_t USING hp_delete s WHERE "+strings.Join(conds, " AND "))
	if err != nil {
		return 0, fmt.Errorf("deleting: %w", err)
	}
	return tag.RowsAffected(), nil
}
