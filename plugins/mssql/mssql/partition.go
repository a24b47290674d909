package mssql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

// SnapshotQuery says whether the database allows SNAPSHOT transactions
// (ALLOW_SNAPSHOT_ISOLATION ON: state 1). A login always sees its own
// database's row of sys.databases.
const SnapshotQuery = "SELECT CAST(snapshot_isolation_state AS int) FROM sys.databases WHERE database_id = DB_ID()"

// lockTimeoutMS bounds how long a partitioned read waits for the table's
// open writes to commit before it can lock the table.
const lockTimeoutMS = 60000

// LockedBoundsSQL is the plan's statement: the key's bounds, read under a
// shared table lock held until the plan's transaction ends, so no write
// to the table commits while the slices start their snapshots.
func LockedBoundsSQL(table, col string) string {
	return "SELECT MIN(" + col + "), MAX(" + col + ") FROM " + table + " WITH (TABLOCK, HOLDLOCK)"
}

// BoundsUnlockedSQL is the plan's statement when the slices cannot share
// a point in time.
func BoundsUnlockedSQL(table, col string) string {
	return "SELECT MIN(" + col + "), MAX(" + col + ") FROM " + table
}

// PinSQL is what a slice reads right after BEGIN: a SNAPSHOT transaction
// takes its point in time at its first read of data, not at BEGIN.
func PinSQL(table string) string {
	return "SELECT COUNT_BIG(*) FROM (SELECT TOP (1) 1 AS x FROM " + table + ") hp_pin"
}

// ResetIsolation undoes the SNAPSHOT level a slice's BEGIN left on its
// session (it outlives the transaction) before the connection is reused.
const ResetIsolation = "SET TRANSACTION ISOLATION LEVEL READ COMMITTED"

// splitTable cuts a table into count ranges of its first primary-key
// column when that is an integer (from MIN to MAX; the first range is
// open below, the last above); other tables are read whole by the first
// slice. SQL Server cannot share a snapshot between sessions, so when the
// database allows SNAPSHOT isolation the plan holds a shared lock on the
// table (waiting at most lockTimeoutMS for open writes) until every slice
// has begun a SNAPSHOT transaction and read from the table: no write to
// it commits in between, so all slices see one point in time. Without
// SNAPSHOT isolation the slices read as a whole read does, each in its own
// transaction; that is logged.
func splitTable(ctx context.Context, db *sql.DB, ref sdk.ObjectRef, count int) (*sqlsource.Slicing, error) {
	col, ok, err := integerKey(ctx, db, ref)
	if err != nil || !ok {
		return &sqlsource.Slicing{Where: sqlsource.Whole(count)}, err
	}
	table := objectName(ref)
	var state sql.NullInt64
	if err := db.QueryRowContext(ctx, SnapshotQuery).Scan(&state); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("reading whether the database allows snapshot isolation: %w", err)
	}
	snapshot := state.Valid && state.Int64 == 1
	// The connection outlives ctx: the planning slice may end first.
	sc, err := db.Conn(context.WithoutCancel(ctx))
	if err != nil {
		return nil, err
	}
	// The session's LOCK_TIMEOUT must not reach another read.
	release := func() {
		_ = sc.Raw(func(any) error { return driver.ErrBadConn })
		_ = sc.Close()
	}
	q := BoundsUnlockedSQL(table, col)
	if snapshot {
		q = LockedBoundsSQL(table, col)
		if _, err := sc.ExecContext(ctx, "SET LOCK_TIMEOUT "+strconv.Itoa(lockTimeoutMS)); err != nil {
			release()
			return nil, err
		}
	} else {
		slog.Warn("the database does not allow snapshot isolation: the slices of this partitioned read are each read as a whole read is, not at one point in time (ALTER DATABASE ... SET ALLOW_SNAPSHOT_ISOLATION ON gives them one)",
			"table", ref.String())
	}
	// Rolled back, as reads are; for a snapshot it holds the lock.
	tx, err := sc.BeginTx(ctx, nil)
	if err != nil {
		release()
		return nil, err
	}
	end := func() {
		_ = tx.Rollback()
		release()
	}
	var lo, hi sql.NullInt64
	if err := tx.QueryRowContext(ctx, q).Scan(&lo, &hi); err != nil {
		end()
		if snapshot {
			return nil, fmt.Errorf("locking %s to start its slices at one point in time: %w", ref, err)
		}
		return nil, fmt.Errorf("bounds of %s.%s: %w", ref, col, err)
	}
	s := &sqlsource.Slicing{Where: sqlsource.Whole(count)}
	if lo.Valid {
		s.Where = sqlsource.RangeWhere(col, sqlsource.KeyRanges(lo.Int64, hi.Int64, count), intLiteral)
	}
	if !snapshot {
		end()
		return s, nil
	}
	s.Release = end
	s.Begin = func(ctx context.Context, conn any) (func() error, error) { return beginSnapshot(ctx, conn, table) }
	return s, nil
}

// integerKey is the quoted first primary-key column of ref, when it is an
// integer.
func integerKey(ctx context.Context, db *sql.DB, ref sdk.ObjectRef) (string, bool, error) {
	keys, err := primaryKey(ctx, db, ref)
	if err != nil || len(keys) == 0 {
		return "", false, err
	}
	cols, err := columns(ctx, db, ref)
	if err != nil {
		return "", false, err
	}
	for _, c := range cols {
		if c.Name == keys[0] {
			m, err := mapType(c)
			return QuoteIdent(c.Name), err == nil && arrow.IsInteger(m.Type.ID()), nil
		}
	}
	return "", false, nil
}

// intLiteral types a bound past int's range as bigint: a bare literal
// there is numeric, and comparing it would convert the column.
func intLiteral(v int64) string {
	if v >= math.MinInt32 && v <= math.MaxInt32 {
		return strconv.FormatInt(v, 10)
	}
	return "CAST(" + strconv.FormatInt(v, 10) + " AS bigint)"
}

// beginSnapshot starts a slice's SNAPSHOT transaction and takes its point
// in time by reading from the table; end rolls it back and resets the
// session's isolation level.
func beginSnapshot(ctx context.Context, conn any, table string) (func() error, error) {
	b, ok := conn.(driver.ConnBeginTx)
	if !ok {
		return nil, fmt.Errorf("driver connection %T cannot begin a transaction", conn)
	}
	tx, err := b.BeginTx(ctx, driver.TxOptions{Isolation: driver.IsolationLevel(sql.LevelSnapshot)})
	if err != nil {
		return nil, fmt.Errorf("beginning a snapshot transaction: %w", err)
	}
	end := func() error {
		if err := tx.Rollback(); err != nil {
			return err
		}
		return run(context.Background(), conn, ResetIsolation)
	}
	if err := run(ctx, conn, PinSQL(table)); err != nil {
		_ = end()
		return nil, fmt.Errorf("starting the slice's snapshot: %w", err)
	}
	return end, nil
}

// run sends q on a driver connection and reads its rows, if any, to the
// end (go-mssqldb's connection has no ExecContext).
func run(ctx context.Context, conn any, q string) error {
	rows, err := sqlsource.Query(ctx, conn, q, nil)
	if err != nil {
		return err
	}
	dest := make([]driver.Value, len(rows.Columns()))
	for err == nil {
		err = rows.Next(dest)
	}
	if errors.Is(err, io.EOF) {
		err = nil
	}
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return err
}
