package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

// splitTable splits a table into count ranges of heap pages (CTID ranges,
// served by TID range scans from PostgreSQL 14) read at one point in time:
// a repeatable-read transaction exports its snapshot and stays open until
// every slice has imported it with SET TRANSACTION SNAPSHOT. The page
// count is taken once, in that transaction, so all slices cut the table at
// the same pages; pages added later hold only rows the snapshot does not
// see, and the last slice is open-ended anyway. A partitioned or inherited
// table is cut at the largest member's pages (a CTID filter applies to
// each member). Relations without heap pages (views, foreign tables) are
// read whole by the first slice, in the same snapshot.
func splitTable(ctx context.Context, db *sql.DB, ref sdk.ObjectRef, count int) (*sqlsource.Slicing, error) {
	// Not bound to ctx: the slice that plans may end before the others
	// begin, and the snapshot must outlive it.
	tx, err := db.BeginTx(context.WithoutCancel(ctx), &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("beginning the snapshot's transaction: %w", err)
	}
	var (
		snapshot string
		pages    int64
		heap     bool
	)
	err = tx.QueryRowContext(ctx, `
		WITH RECURSIVE rel(oid) AS (
			SELECT $1::regclass::oid
			UNION ALL SELECT i.inhrelid FROM pg_inherits i JOIN rel ON i.inhparent = rel.oid)
		SELECT pg_export_snapshot(),
		       COALESCE(MAX(pg_relation_size(c.oid) / current_setting('block_size')::bigint), 0),
		       bool_and(c.relkind IN ('r', 'm', 'p'))
		FROM rel JOIN pg_class c ON c.oid = rel.oid`, quoteTable(ref)).Scan(&snapshot, &pages, &heap)
	if err != nil {
		_ = tx.Rollback()
		return nil, fmt.Errorf("exporting a snapshot: %w", err)
	}
	s := &sqlsource.Slicing{
		Where:   pageRanges(pages, count),
		Begin:   func(ctx context.Context, conn any) (func() error, error) { return beginSnapshot(ctx, conn, snapshot) },
		Release: func() { _ = tx.Rollback() },
	}
	if !heap {
		s.Where = sqlsource.Whole(count)
	}
	return s, nil
}

// pageRanges cuts pages heap pages into count CTID ranges; the first is
// open below and the last above.
func pageRanges(pages int64, count int) []string {
	tid := func(p int64) string { return fmt.Sprintf("'(%d,0)'::tid", p) }
	bounds := make([]int64, count-1)
	for i := range bounds {
		bounds[i] = pages * int64(i+1) / int64(count)
	}
	where := make([]string, count)
	for i := range where {
		var conds []string
		if i > 0 {
			conds = append(conds, "ctid >= "+tid(bounds[i-1]))
		}
		if i < count-1 {
			conds = append(conds, "ctid < "+tid(bounds[i]))
		}
		where[i] = strings.Join(conds, " AND ")
	}
	return where
}

// beginSnapshot starts a slice's read-only repeatable-read transaction in
// the exported snapshot, on a pgconn connection (COPY reads) or a pgx
// database/sql driver connection (the generic reader).
func beginSnapshot(ctx context.Context, conn any, snapshot string) (func() error, error) {
	var pc *pgconn.PgConn
	switch c := conn.(type) {
	case *pgconn.PgConn:
		pc = c
	case interface{ Conn() *pgx.Conn }:
		pc = c.Conn().PgConn()
	default:
		return nil, fmt.Errorf("driver connection %T cannot import a snapshot", conn)
	}
	q := "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '" + strings.ReplaceAll(snapshot, "'", "''") + "'"
	if _, err := pc.Exec(ctx, q).ReadAll(); err != nil {
		return nil, fmt.Errorf("importing snapshot %s: %w", snapshot, err)
	}
	return func() error {
		_, err := pc.Exec(context.Background(), "ROLLBACK").ReadAll()
		return err
	}, nil
}
