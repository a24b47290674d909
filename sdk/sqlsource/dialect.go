// Package sqlsource turns a database/sql driver into a halfpipe connector.
// A SQL connector supplies a [Dialect] — how to open a connection, quote
// names, read the catalog and map native types to Arrow — and gets
// Check, ListObjects, Describe, Read, Bounds, Exec and Write from
// [Connector].
//
// Reads bypass database/sql's reflection-based Scan: rows are pulled from
// the driver (driver.Rows.Next into a reused []driver.Value, or
// [RawRows.NextRaw] without one allocation per value) on a dedicated
// goroutine and decoded by a per-column function chosen once, straight
// into typed Arrow builders. Decimals are parsed from the
// driver's text exactly, never through a float.
package sqlsource

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/sqlguard"
)

// ColumnMeta describes a column as the database reports it.
type ColumnMeta struct {
	Name       string
	NativeType string // as declared, e.g. "DECIMAL(38,10)" or "timestamp with time zone"
	Nullable   bool
	// Precision and Scale are set when the catalog or driver reports them.
	Precision, Scale int64
	HasPrecision     bool
}

// Decoder appends one driver value (never nil) to a builder.
type Decoder func(b array.Builder, v driver.Value) error

// TextDecoder appends one value given as the text (or bytes) the server
// sent, never nil; the bytes are only valid during the call.
type TextDecoder func(b array.Builder, text []byte) error

// Mapping is how one column becomes Arrow.
type Mapping struct {
	// Type is the column's Arrow type.
	Type arrow.DataType
	// Decode appends one non-NULL value as database/sql's driver hands it
	// over (int64, float64, bool, []byte, string or time.Time).
	Decode Decoder
	// DecodeText, when set, is used for rows read through [RawRows]; else
	// Decode gets the bytes.
	DecodeText TextDecoder
	// DecodeBinary, when set, is used for rows read through [BinaryRows],
	// which hand this column's values in a binary form (e.g.
	// [BinaryInt64]); else DecodeText is.
	DecodeBinary TextDecoder
	// Select, when set, is a fallback for a column whose native values the
	// driver cannot hand over usefully (spatial or variant types): given
	// the quoted column name, it returns the select-list expression the
	// server computes instead, e.g. `[loc].AsBinaryZM()`. Type and Decode
	// then describe that expression's values, not the column's. The reader
	// appends " AS " and the quoted name, so the result keeps the column's
	// name. It applies to table reads only: a query returning such a column
	// fails with sdk.ErrUnsupportedType naming the expression to use, and
	// range filters, bounds and ordering on the column compare the native
	// values (usually unsupported by the server), so don't split or order
	// by it.
	Select func(quoted string) string
	// Unordered, when set, says why the server orders this column's values
	// otherwise than their Arrow values (SQLite compares DECIMAL TEXT as
	// text: "10" < "9"). Range filters, bounds and ordering on the column
	// are refused with it, since they would skip or misplace rows.
	Unordered string
}

// RawRows is driver.Rows that can hand out a row's values as the bytes
// the server sent (nil for NULL), so that no driver.Value is boxed per
// value; the reader uses NextRaw when rows have it.
type RawRows interface {
	driver.Rows
	NextRaw(dest [][]byte) error
}

// BinaryRows is RawRows whose NextRaw hands some columns' values in a
// binary form (a database's binary protocol, say little-endian numbers):
// the reader decodes those with [Mapping.DecodeBinary], which the dialect
// sets for exactly those columns, and the rest as text.
type BinaryRows interface {
	RawRows
	BinaryValues()
}

// AppendRows is RawRows that append each row's values to the batch's
// builders themselves, by a plan made once per result from the columns'
// wire types and builders, rather than handing every value's bytes to
// the mappings' decoders (which choose a builder's type per value). The
// reader uses AppendRow when rows have it.
type AppendRows interface {
	RawRows
	// AppendRow appends the next row, io.EOF after the last, to fields
	// (column i's to fields[i]; the same builders on every call), using
	// decoders[i] (the decoder the reader would use for the bytes NextRaw
	// hands over) for values the plan does not read itself. size is the
	// row's bytes. A value that cannot be appended is a *ColumnError.
	AppendRow(fields []array.Builder, decoders []TextDecoder) (size int, err error)
}

// ColumnError is a value of column Column that AppendRows could not
// append.
type ColumnError struct {
	Column int
	Err    error
}

func (e *ColumnError) Error() string { return fmt.Sprintf("column %d: %v", e.Column, e.Err) }
func (e *ColumnError) Unwrap() error { return e.Err }

// Dialect is what a SQL connector tells the generic reader.
type Dialect struct {
	// Open connects. Errors must not contain the password.
	Open func(conn sdk.Connection) (*sql.DB, error)
	// QuoteIdent quotes one identifier; default: "double quotes".
	QuoteIdent func(string) string
	// Placeholder is the n-th (1-based) bind parameter; default: ?.
	Placeholder func(n int) string
	// VersionQuery returns the server's version as one string.
	VersionQuery string
	// ListObjects lists tables and views.
	ListObjects func(ctx context.Context, db *sql.DB, schema string) ([]sdk.ObjectInfo, error)
	// Columns describes a table's columns in order; an unknown table
	// returns an error wrapping sdk.ErrNotFound.
	Columns func(ctx context.Context, db *sql.DB, ref sdk.ObjectRef) ([]ColumnMeta, error)
	// PrimaryKey returns a table's key columns in order.
	PrimaryKey func(ctx context.Context, db *sql.DB, ref sdk.ObjectRef) ([]string, error)
	// Map chooses the Arrow type and decoder of a column.
	Map func(ColumnMeta) (Mapping, error)
	// Arg converts a filter value into a driver argument; default Value.Arg.
	Arg func(v *sdk.Value, col ColumnMeta) any
	// Literal, when it returns ok, is a filter value written into the SQL
	// in place of a bind parameter, with the same meaning (a read without
	// arguments may run unprepared).
	Literal func(v *sdk.Value, col ColumnMeta) (string, bool)
	// DDLType is the native type for an Arrow type when creating tables.
	DDLType func(arrow.DataType) (string, error)
	// Classify maps a driver error to an sdk error kind (may return err).
	Classify func(err error) error
	// Query runs a read on the driver connection database/sql's Conn.Raw
	// hands out; cols are the catalog's columns of a table read, nil for a
	// query. Default: [Query].
	Query func(ctx context.Context, conn any, q string, args []any, cols []ColumnMeta) (driver.Rows, error)
	// NullsLast says the database sorts NULL after every other value in
	// ascending order (PostgreSQL, Oracle). Ordered reads then say NULLS
	// FIRST and DESC NULLS LAST, so NULL sorts as sdk.ReadRequest.OrderBy
	// requires: first ascending, last descending.
	NullsLast bool
	// SQL is the lexical dialect a read's filter (ReadRequest.Where) is
	// checked in: it must be one predicate (see [sqlguard.Predicate]).
	SQL sqlguard.Dialect
	// ReadOnly makes a driver connection read-only for one read (table,
	// query or bounds) and returns end, which is called once the read is
	// over, whether it failed or not. When ReadOnly or end fails, the
	// connection is closed, never returned to the pool. Default: a
	// transaction begun with driver.TxOptions{ReadOnly: true}, rolled back
	// at the end.
	ReadOnly func(ctx context.Context, conn any) (end func() error, err error)
	// CheckSQL, when set, vets every statement a read, query or bounds
	// request runs, before it runs: for databases without read-only
	// transactions (e.g. [sqlguard.Read] in their dialect).
	CheckSQL func(q string) error
	// TransactionalDDL says CREATE TABLE may run inside the write's
	// transaction. Without it (MySQL commits implicitly on DDL) a missing
	// table is created before the transaction and dropped if the write
	// fails.
	TransactionalDDL bool
	// WriteSession are statements run on a write's connection before its
	// transaction, e.g. a strict SQL mode. The connection is closed after
	// the write, so they never reach a read.
	WriteSession []string
	// KeyType, when set, is the native type of a primary-key column of a
	// table hp creates for a merge with nkeys key columns (MySQL cannot
	// key LONGTEXT); default DDLType.
	KeyType func(t arrow.DataType, nkeys int) (string, error)
	// InsertBatch, when set, inserts a write's batches instead of
	// multi-row INSERTs: all rows of rec into the quoted table and
	// columns, on the driver connection of the write's open transaction
	// (e.g. with arrays of bound parameters). seq is -1, or the sequence
	// number of rec's first row, which goes into the last column (the
	// staging table's row order) and grows by one per row.
	InsertBatch func(ctx context.Context, conn any, table string, columns []string, rec arrow.RecordBatch, seq int64) error
	// Slices, when set, splits a table for a partitioned read
	// (sdk.CapReadPartitions; declare it in Info.Features): once per
	// read's group, into count slices (see [Slicing]). A connector without
	// it refuses partitions.
	Slices func(ctx context.Context, db *sql.DB, ref sdk.ObjectRef, count int) (*Slicing, error)
	// MergeDelete, when set, is the statement that deletes the rows of
	// target (alias t) whose key is in last (alias l), on being the key
	// equalities; default: DELETE … WHERE EXISTS.
	MergeDelete func(target, last string, on []string) string
	// KillQuery, when set with SessionID, stops a write's statement on
	// the server when the write's context ends while it runs: the
	// statement another connection of the pool runs, given the write
	// session's id, which the query SessionID returns (MySQL/MariaDB:
	// KILL QUERY n and SELECT CONNECTION_ID()). Without it a cancelled
	// write only closes its connection, and a server may run the
	// statement on, holding its locks, until it notices.
	KillQuery func(id int64) string
	SessionID string
	// TempTable, when set, makes the temporary tables of a merge for a
	// database without CREATE TEMPORARY TABLE (SQL Server's #tables);
	// default: CREATE TEMPORARY TABLE.
	TempTable *TempTable
	// Checksum, when set, is the dialect's part of ChecksumRanges (hp diff
	// --hash); the connector must also list sdk.CapChecksumRanges in its
	// Info.Features.
	Checksum *ChecksumSQL
	// Maintain, when set with Checksum, is the dialect's part of
	// MaintainChecksums (hp checksums); the connector must also list
	// sdk.CapMaintainChecksums in its Info.Features.
	Maintain *MaintainSQL
}

// TempTable is how a dialect makes the session's temporary tables of a
// merge. Every function is required.
type TempTable struct {
	// Name is how statements refer to the temporary table name (given
	// unquoted), e.g. "[#" + name + "]".
	Name func(name string) string
	// Create creates table (as Name returned it) with the column
	// definitions columns.
	Create func(table string, columns []string) string
	// SelectInto creates table from a query: SELECT list, then rest (its
	// FROM clause and what follows it).
	SelectInto func(table, list, rest string) string
}

// BeginReadOnly is the default [Dialect.ReadOnly]: a read-only
// transaction, rolled back at the end.
func BeginReadOnly(ctx context.Context, conn any) (func() error, error) {
	b, ok := conn.(driver.ConnBeginTx)
	if !ok {
		return nil, fmt.Errorf("driver connection %T cannot begin a read-only transaction", conn)
	}
	tx, err := b.BeginTx(ctx, driver.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("beginning a read-only transaction: %w", err)
	}
	return tx.Rollback, nil
}

func (d *Dialect) readOnly(ctx context.Context, conn any) (func() error, error) {
	if d.ReadOnly != nil {
		return d.ReadOnly(ctx, conn)
	}
	return BeginReadOnly(ctx, conn)
}

// dropConn marks an error after which the connection's state is unknown
// (a read-only transaction that did not end): database/sql closes a
// connection whose Raw callback returns driver.ErrBadConn.
type dropConn struct{ error }

func (e dropConn) Is(target error) bool { return target == driver.ErrBadConn }
func (e dropConn) Unwrap() error        { return e.error }

// readOnlyRaw runs fn on sc's driver connection inside the dialect's
// read-only scope, and ends it after fn (fn must have closed its rows).
func (d *Dialect) readOnlyRaw(ctx context.Context, sc *sql.Conn, fn func(dc any) error) error {
	return beginRaw(ctx, sc, d.readOnly, fn)
}

// beginRaw runs fn on sc's driver connection inside the transaction begin
// starts, and ends it after fn.
func beginRaw(ctx context.Context, sc *sql.Conn, begin func(context.Context, any) (func() error, error), fn func(dc any) error) error {
	return sc.Raw(func(dc any) (err error) {
		end, err := begin(ctx, dc)
		if err != nil {
			return dropConn{err}
		}
		defer func() {
			if eerr := end(); eerr != nil {
				eerr = fmt.Errorf("ending the read-only transaction: %w", eerr)
				if err == nil {
					err = eerr
				}
				err = dropConn{err}
			}
		}()
		return fn(dc)
	})
}

// checkWhere refuses a filter that is not one predicate.
func (d *Dialect) checkWhere(where string) error {
	if where == "" {
		return nil
	}
	if err := sqlguard.Predicate(d.SQL, where); err != nil {
		return fmt.Errorf("%w: where %q: %w", sdk.ErrInvalidArgument, where, err)
	}
	return nil
}

func (d *Dialect) checkSQL(q string) error {
	if d.CheckSQL == nil {
		return nil
	}
	if err := d.CheckSQL(q); err != nil {
		return fmt.Errorf("%w: %w", sdk.ErrInvalidArgument, err)
	}
	return nil
}

func (d *Dialect) quote(id string) string {
	if d.QuoteIdent != nil {
		return d.QuoteIdent(id)
	}
	return QuoteDouble(id)
}

// QuoteDouble quotes an identifier with double quotes, doubling any inside.
func QuoteDouble(id string) string { return `"` + strings.ReplaceAll(id, `"`, `""`) + `"` }

func (d *Dialect) placeholder(n int) string {
	if d.Placeholder != nil {
		return d.Placeholder(n)
	}
	return "?"
}

func (d *Dialect) table(ref sdk.ObjectRef) string {
	if ref.Schema == "" {
		return d.quote(ref.Name)
	}
	return d.quote(ref.Schema) + "." + d.quote(ref.Name)
}

// classifyOnly maps a driver error to an sdk kind without masking.
func (d *Dialect) classifyOnly(err error) error {
	if d.Classify != nil {
		return d.Classify(err)
	}
	return err
}

func (d *Dialect) classify(err error, dsn string) error {
	if err == nil {
		return nil
	}
	if d.Classify != nil {
		err = d.Classify(err)
	}
	return sdk.MaskErr(err, dsn)
}
