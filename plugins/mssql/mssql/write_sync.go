package mssql

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

// Sync implements sdk.Syncer in one transaction, as a merge Write: the
// upserts are bulk copied into a #temporary table, the keys to delete
// into another and the table's rows holding them deleted with DELETE ...
// JOIN, then the upserts MERGEd. Deleting first keeps an upserted row
// whose key a case-insensitive collation equates with a deleted one. Any
// failure, a broken stream of either kind included, rolls everything
// back and discards the connection.
func (c *Connector) Sync(ctx context.Context, req sdk.WriteRequest, upserts array.RecordReader, deleteKeys func() (array.RecordReader, error)) (_ *sdk.SyncResult, err error) {
	dsn := req.Conn.DSN
	defer func() { err = withDSN(err, dsn) }()
	if len(req.Keys) == 0 {
		return nil, sdk.InvalidArgumentf("sync needs key columns")
	}
	if req.Table.Name == "" {
		return nil, sdk.InvalidArgumentf("no table to write to")
	}
	schema := upserts.Schema()
	if len(schema.FieldIndices(mergeSeq)) > 0 {
		return nil, sdk.InvalidArgumentf("a sync stages rows with a column %q, which the stream has too", mergeSeq)
	}
	keyIdx, err := streamKeys(schema, req.Keys)
	if err != nil {
		return nil, err
	}
	ddl, err := columnDefs(schema)
	if err != nil {
		return nil, err
	}
	var res *sdk.SyncResult
	err = c.inTx(ctx, req.Conn, func(tx *sql.Tx) (err error) {
		res, err = syncTx(ctx, tx, req, &nullKeys{RecordReader: upserts, idx: keyIdx}, ddl, deleteKeys)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func syncTx(ctx context.Context, tx *sql.Tx, req sdk.WriteRequest, upserts array.RecordReader, ddl []string, deleteKeys func() (array.RecordReader, error)) (*sdk.SyncResult, error) {
	dsn := req.Conn.DSN
	table := objectName(req.Table)
	exec := func(what, q string) (int64, error) {
		r, err := tx.ExecContext(ctx, q)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", what, dialectErr(err, dsn))
		}
		return r.RowsAffected()
	}
	cols, collations, err := describe(ctx, tx, req.Table)
	if err != nil {
		return nil, dialectErr(err, dsn)
	}
	schema := upserts.Schema()
	if _, err := converters(schema, cols, req.Table); err != nil {
		return nil, err
	}
	// The staged keys and rows compare with the table's in its columns'
	// collations, not tempdb's (see stagingDefs).
	if ddl, err = stagingDefs(schema, collations); err != nil {
		return nil, err
	}
	temp, err := tempName()
	if err != nil {
		return nil, err
	}
	if _, err := exec("creating the staging table "+temp, "CREATE TABLE "+temp+" ("+strings.Join(ddl, ", ")+", "+QuoteIdent(mergeSeq)+" bigint NOT NULL)"); err != nil {
		return nil, err
	}
	n, err := bulkCopy(ctx, tx, temp, upserts, staged(schema), true, dsn)
	if err != nil {
		return nil, err
	}
	res := &sdk.SyncResult{RowsWritten: n}
	dk, err := deleteKeys()
	if err != nil {
		return nil, err
	}
	ks := dk.Schema()
	if ks.NumFields() != len(req.Keys) {
		return nil, sdk.InvalidArgumentf("the keys to delete have %d columns, not the %d keys %v", ks.NumFields(), len(req.Keys), req.Keys)
	}
	idx := make([]int, len(req.Keys))
	for i, k := range req.Keys {
		if ks.Field(i).Name != k {
			return nil, sdk.InvalidArgumentf("column %d of the keys to delete is %q, not the key %q", i+1, ks.Field(i).Name, k)
		}
		idx[i] = i
	}
	kddl, err := stagingDefs(ks, collations)
	if err != nil {
		return nil, err
	}
	del := strings.Replace(temp, "#hp_merge_", "#hp_delete_", 1)
	if _, err := exec("creating the table of keys to delete "+del, "CREATE TABLE "+del+" ("+strings.Join(kddl, ", ")+")"); err != nil {
		return nil, err
	}
	nk, err := bulkCopy(ctx, tx, del, &nullKeys{RecordReader: dk, idx: idx}, staged(ks), false, dsn)
	if err != nil {
		return nil, fmt.Errorf("the keys to delete: %w", err)
	}
	if nk > 0 {
		if res.RowsDeleted, err = exec("deleting from "+table, DeleteSQL(req.Table, del, req.Keys)); err != nil {
			return nil, err
		}
	}
	if _, err := exec("merging into "+table, MergeSQL(req.Table, temp, names(schema), req.Keys)); err != nil {
		return nil, err
	}
	for _, t := range []string{temp, del} {
		if _, err := exec("dropping "+t, "DROP TABLE "+t); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// DeleteSQL deletes the target's rows whose keys the table del holds.
func DeleteSQL(target sdk.ObjectRef, del string, keys []string) string {
	on := make([]string, len(keys))
	for i, k := range keys {
		on[i] = "t." + QuoteIdent(k) + " = s." + QuoteIdent(k)
	}
	return "DELETE t FROM " + objectName(target) + " AS t INNER JOIN " + del + " AS s ON " + strings.Join(on, " AND ")
}

// staged converts a stream's columns for a staging table of its own
// types (columnDefs).
func staged(s *arrow.Schema) []converter {
	out := make([]converter, s.NumFields())
	for i, f := range s.Fields() {
		out[i] = converter{name: f.Name, class: classOf(f.Type)}
	}
	return out
}

func streamKeys(s *arrow.Schema, keys []string) ([]int, error) {
	idx := make([]int, len(keys))
	for i, k := range keys {
		f := s.FieldIndices(k)
		if len(f) != 1 {
			return nil, sdk.NotFoundf("key %q is not a column of the stream", k)
		}
		idx[i] = f[0]
	}
	return idx, nil
}

// nullKeys ends a stream with an error at a batch whose key columns hold
// a NULL, which matches no row.
type nullKeys struct {
	array.RecordReader
	idx  []int
	rows int64
	err  error
}

func (r *nullKeys) Next() bool {
	if r.err != nil || !r.RecordReader.Next() {
		return false
	}
	rec := r.RecordReader.RecordBatch()
	if r.err = sqlsource.NullKey(rec, r.idx, r.rows); r.err != nil {
		return false
	}
	r.rows += rec.NumRows()
	return true
}

func (r *nullKeys) Err() error {
	if r.err != nil {
		return r.err
	}
	return r.RecordReader.Err()
}
