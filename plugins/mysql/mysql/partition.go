package mysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	gomysql "github.com/go-sql-driver/mysql"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

// lockWaitSeconds bounds how long a partitioned read waits for the
// table's writers to finish before it can lock the table.
const lockWaitSeconds = 60

// splitTable splits a table into count ranges of the first column of its
// primary key, when that is an integer, from MIN to MAX (the first range
// open below, the last above); other tables are read whole by the first
// slice. MySQL and MariaDB cannot share a snapshot between connections, so
// the plan holds LOCK TABLES ... READ on a connection of its own (waiting
// at most lockWaitSeconds for open writes to the table to commit) until
// every slice has started a transaction WITH CONSISTENT SNAPSHOT: with no
// write to the table able to commit meanwhile, every slice sees the table
// at the same point. Without the LOCK TABLES privilege the slices are
// consistent each by itself, not with each other; that is logged.
func splitTable(ctx context.Context, db *sql.DB, ref sdk.ObjectRef, count int) (*sqlsource.Slicing, error) {
	// The connection outlives ctx: the planning slice may end first.
	sc, err := db.Conn(context.WithoutCancel(ctx))
	if err != nil {
		return nil, err
	}
	s := &sqlsource.Slicing{Begin: beginConsistent, Release: func() { _ = sc.Close() }}
	fail := func(err error) (*sqlsource.Slicing, error) {
		dropConn(sc)
		return nil, err
	}
	table := quoteIdent(ref.Name)
	if ref.Schema != "" {
		table = quoteIdent(ref.Schema) + "." + table
	}
	if _, err := sc.ExecContext(ctx, "SET SESSION lock_wait_timeout = "+strconv.Itoa(lockWaitSeconds)); err != nil {
		return fail(err)
	}
	switch _, err := sc.ExecContext(ctx, "LOCK TABLES "+table+" READ"); {
	case err == nil:
		s.Release = func() {
			if _, err := sc.ExecContext(context.Background(), "UNLOCK TABLES"); err != nil {
				dropConn(sc)
				return
			}
			_ = sc.Close()
		}
	case lockRefused(err):
		slog.Warn("no LOCK TABLES privilege: the slices of this partitioned read are each consistent, but not at one point in time",
			"table", ref.String(), "error", err.Error())
	default:
		return fail(fmt.Errorf("locking %s to start its slices at one point in time: %w", ref, err))
	}
	where, err := keyRanges(ctx, db, sc, ref, table, count)
	if err != nil {
		s.Release()
		return nil, err
	}
	s.Where = where
	return s, nil
}

// keyRanges cuts the table by its first key column, when an integer.
func keyRanges(ctx context.Context, db *sql.DB, sc *sql.Conn, ref sdk.ObjectRef, table string, count int) ([]string, error) {
	keys, err := primaryKey(ctx, db, ref)
	if err != nil || len(keys) == 0 {
		return sqlsource.Whole(count), err
	}
	cols, err := columns(ctx, db, ref)
	if err != nil {
		return nil, err
	}
	integer := false
	for _, c := range cols {
		if c.Name == keys[0] {
			m, err := mapType(c)
			integer = err == nil && arrow.IsInteger(m.Type.ID())
		}
	}
	if !integer {
		return sqlsource.Whole(count), nil
	}
	col := quoteIdent(keys[0])
	var lo, hi sql.NullString
	if err := sc.QueryRowContext(ctx, "SELECT MIN("+col+"), MAX("+col+") FROM "+table).Scan(&lo, &hi); err != nil {
		return nil, fmt.Errorf("bounds of %s.%s: %w", ref, keys[0], err)
	}
	l, lerr := strconv.ParseInt(lo.String, 10, 64)
	h, herr := strconv.ParseInt(hi.String, 10, 64)
	if !lo.Valid || lerr != nil || herr != nil {
		// Empty, or unsigned beyond int64.
		return sqlsource.Whole(count), nil
	}
	return sqlsource.RangeWhere(col, sqlsource.KeyRanges(l, h, count), func(v int64) string { return strconv.FormatInt(v, 10) }), nil
}

// lockRefused: the user may not LOCK TABLES.
func lockRefused(err error) bool {
	var me *gomysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1044 || me.Number == 1142 || me.Number == 1227)
}

// dropConn closes a connection whose session state is unknown instead of
// returning it to the pool.
func dropConn(sc *sql.Conn) {
	_ = sc.Raw(func(any) error { return driver.ErrBadConn })
	_ = sc.Close()
}

// beginConsistent starts a slice's read-only repeatable-read transaction
// with its snapshot taken now, not at its first read.
func beginConsistent(ctx context.Context, conn any) (func() error, error) {
	ex, ok := conn.(driver.ExecerContext)
	if !ok {
		return nil, fmt.Errorf("driver connection %T cannot run statements", conn)
	}
	for _, q := range []string{"SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"} {
		if _, err := ex.ExecContext(ctx, q, nil); err != nil {
			return nil, fmt.Errorf("starting a consistent snapshot: %w", err)
		}
	}
	return func() error {
		_, err := ex.ExecContext(context.Background(), "ROLLBACK", nil)
		return err
	}, nil
}
