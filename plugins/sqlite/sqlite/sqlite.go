// Package sqlite is the SQLite connector, built on sdk/sqlsource with the
// pure-Go modernc.org/sqlite driver.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	_ "modernc.org/sqlite"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/sqlguard"
	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

// Version is the connector's version.
const Version = "0.1.0"

// New returns the connector.
func New() *sqlsource.Connector { return sqlsource.New(info, dialect) }

var info = sdk.Info{
	Name:        "sqlite",
	Version:     Version,
	Description: "SQLite database files (pure Go driver, no cgo)",
	Schemes:     []string{"sqlite", "sqlite3"},
	DSNFormat:   "sqlite:///absolute/path.db or sqlite://relative/path.db [?mode=ro|rw|rwc&busy_timeout=MS]",
	DSNExample:  "sqlite:///var/data/app.db",
	Options: []sdk.OptionSpec{
		{Name: "busy_timeout", Type: "duration", Default: "5000", Description: "Milliseconds to wait for a locked database"},
		{Name: "mode", Type: "string", Default: "rw", Description: "ro (read only), rw (existing file) or rwc (create the file when missing)"},
	},
	TypeMappings: []sdk.TypeMapping{
		{NativeType: "INTEGER, INT, BIGINT, ... (INTEGER affinity)", ArrowType: "int64"},
		{NativeType: "REAL, DOUBLE, FLOAT", ArrowType: "float64"},
		{NativeType: "TEXT, VARCHAR(n), CHAR(n), CLOB", ArrowType: "utf8"},
		{NativeType: "BLOB", ArrowType: "binary"},
		{NativeType: "BOOLEAN", ArrowType: "bool", Notes: "0/1, true/false"},
		{NativeType: "DATE", ArrowType: "date32", Notes: "text YYYY-MM-DD"},
		{NativeType: "DATETIME, TIMESTAMP", ArrowType: "timestamp[us, tz=UTC]", Notes: "text 'YYYY-MM-DD HH:MM:SS[.ffffff][zone]' (no zone = UTC), RFC 3339, or unix seconds"},
		{NativeType: "DECIMAL(p,s), NUMERIC(p,s)", ArrowType: "decimal128(p, s) / decimal256(p, s)", Notes: "SQLite's NUMERIC affinity stores such values as REAL when their first 15 digits survive, losing later digits; the connector reads what SQLite kept (REAL via its shortest exact text)"},
		{NativeType: "DECIMAL TEXT(p,s)", ArrowType: "decimal128(p, s) / decimal256(p, s)", Notes: "TEXT affinity: SQLite stores the digits as written, so every digit is kept"},
		{NativeType: "NUMERIC, DECIMAL without precision; no declared type; anything else", ArrowType: "utf8", Notes: "values rendered as text (integers and reals exactly)"},
	},
	Limits: []string{
		"SQLite cannot keep more than 15 significant digits in a DECIMAL(p,s) column (NUMERIC affinity); declare DECIMAL TEXT(p,s) to keep every digit.",
		"A DECIMAL TEXT(p,s) column cannot be a delta column or a diff key: SQLite compares its values as text (\"10\" before \"9\"), so ranges on it would skip rows; hp refuses them.",
		"A value whose storage class contradicts the declared type (say 'abc' in an INTEGER column) fails the read with the table, column and row named.",
		"Range filters compare SQLite values: timestamps stored as text compare as text, so store them in one format (ISO 8601, UTC).",
		"Query sources take their types from the declared types of the columns they select; computed columns are text.",
		"Writes run in one transaction, table creation included. Merge loads the rows into a temporary table, then deletes the target's rows with those keys and inserts the last row of each key; a table hp creates for a merge has the merge keys as its primary key. A NULL key fails the write.",
	},
	Features: []sdk.Capability{sdk.CapReadQuery},
}

var dialect = &sqlsource.Dialect{
	Open:             open,
	VersionQuery:     "SELECT 'SQLite ' || sqlite_version()",
	ListObjects:      listObjects,
	Columns:          columns,
	PrimaryKey:       primaryKey,
	Map:              mapType,
	DDLType:          ddlType,
	TransactionalDDL: true,
	Classify:         classify,
	SQL:              sqlguard.SQLite,
	ReadOnly:         readOnly,
}

// readOnly sets query_only on the read's connection (SQLite has no
// read-only transaction) inside a transaction, and clears it at the end;
// sqlsource drops the connection if that fails.
func readOnly(ctx context.Context, conn any) (func() error, error) {
	ex, ok := conn.(driver.ExecerContext)
	if !ok {
		return nil, fmt.Errorf("driver connection %T cannot run statements", conn)
	}
	if _, err := ex.ExecContext(ctx, "PRAGMA query_only = ON", nil); err != nil {
		return nil, fmt.Errorf("setting query_only: %w", err)
	}
	end, err := sqlsource.BeginReadOnly(ctx, conn)
	if err != nil {
		return nil, err
	}
	return func() error {
		err := end()
		// The connection goes back to a pool that writes too.
		if _, perr := ex.ExecContext(context.WithoutCancel(ctx), "PRAGMA query_only = OFF", nil); err == nil && perr != nil {
			err = fmt.Errorf("clearing query_only: %w", perr)
		}
		return err
	}, nil
}

// open turns sqlite:///path?opts into the driver's file: URI.
func open(conn sdk.Connection) (*sql.DB, error) {
	u, err := sdk.ParseURL(conn.DSN)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "sqlite" && u.Scheme != "sqlite3" {
		return nil, sdk.InvalidArgumentf("SQLite DSN %q must look like sqlite:///path/to/file.db", sdk.MaskDSN(conn.DSN))
	}
	path := u.Host + u.Path
	if path == "" {
		return nil, sdk.InvalidArgumentf("SQLite DSN %q names no file", sdk.MaskDSN(conn.DSN))
	}
	q := u.Query()
	mode := conn.Option("mode", q.Get("mode"))
	if mode == "" {
		mode = "rw"
	}
	if mode != "ro" && mode != "rw" && mode != "rwc" {
		return nil, sdk.InvalidArgumentf("SQLite mode %q: use ro, rw or rwc", mode)
	}
	if _, err := os.Stat(path); err != nil && mode != "rwc" {
		return nil, sdk.NotFoundf("SQLite database file %s does not exist (add ?mode=rwc to create it)", path)
	}
	busy := conn.Option("busy_timeout", q.Get("busy_timeout"))
	if busy == "" {
		busy = "5000"
	}
	if _, err := strconv.Atoi(busy); err != nil {
		return nil, sdk.InvalidArgumentf("SQLite busy_timeout %q is not a number of milliseconds", busy)
	}
	dsn := "file:" + path + "?mode=" + mode + "&_pragma=busy_timeout(" + busy + ")"
	return sql.Open("sqlite", dsn)
}

func classify(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "no such table"):
		return fmt.Errorf("%w: %s", sdk.ErrNotFound, msg)
	case strings.Contains(msg, "no such column"):
		return fmt.Errorf("%w: %s", sdk.ErrNotFound, msg)
	case strings.Contains(msg, "syntax error"):
		return fmt.Errorf("%w: %s", sdk.ErrInvalidArgument, msg)
	}
	return err
}

func listObjects(ctx context.Context, db *sql.DB, schema string) ([]sdk.ObjectInfo, error) {
	s := "main"
	if schema != "" {
		s = schema
	}
	rows, err := db.QueryContext(ctx, "SELECT name, type FROM "+sqlsource.QuoteDouble(s)+".sqlite_master WHERE type IN ('table','view') AND name NOT LIKE 'sqlite_%' ORDER BY name")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []sdk.ObjectInfo
	for rows.Next() {
		var name, kind string
		if err := rows.Scan(&name, &kind); err != nil {
			return nil, err
		}
		out = append(out, sdk.ObjectInfo{Ref: sdk.ObjectRef{Schema: schema, Name: name}, Kind: kind})
	}
	return out, rows.Err()
}

type tableColumn struct {
	meta sqlsource.ColumnMeta
	pk   int
}

func tableInfo(ctx context.Context, db *sql.DB, ref sdk.ObjectRef) ([]tableColumn, error) {
	schema := ref.Schema
	if schema == "" {
		schema = "main"
	}
	rows, err := db.QueryContext(ctx, `SELECT name, type, "notnull", pk FROM pragma_table_info(?, ?) ORDER BY cid`, ref.Name, schema)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []tableColumn
	for rows.Next() {
		var c tableColumn
		var notNull int
		if err := rows.Scan(&c.meta.Name, &c.meta.NativeType, &notNull, &c.pk); err != nil {
			return nil, err
		}
		c.meta.Nullable = notNull == 0
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, sdk.NotFoundf("table %s does not exist", ref)
	}
	return out, nil
}

func columns(ctx context.Context, db *sql.DB, ref sdk.ObjectRef) ([]sqlsource.ColumnMeta, error) {
	cols, err := tableInfo(ctx, db, ref)
	if err != nil {
		return nil, err
	}
	out := make([]sqlsource.ColumnMeta, len(cols))
	for i, c := range cols {
		out[i] = c.meta
	}
	return out, nil
}

func primaryKey(ctx context.Context, db *sql.DB, ref sdk.ObjectRef) ([]string, error) {
	cols, err := tableInfo(ctx, db, ref)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(cols, func(a, b int) bool { return cols[a].pk < cols[b].pk })
	var keys []string
	for _, c := range cols {
		if c.pk > 0 {
			keys = append(keys, c.meta.Name)
		}
	}
	return keys, nil
}

var precisionScale = regexp.MustCompile(`\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)`)

// textAffinity: SQLite's rule 2 for a declared type (upper case).
func textAffinity(t string) bool {
	return !strings.Contains(t, "INT") && (strings.Contains(t, "CHAR") || strings.Contains(t, "CLOB") || strings.Contains(t, "TEXT"))
}

// mapType follows SQLite's affinity rules on the declared type.
func mapType(m sqlsource.ColumnMeta) (sqlsource.Mapping, error) {
	t := strings.ToUpper(m.NativeType)
	// DECIMAL(p,s) first: "DECIMAL TEXT(38,10)" has TEXT affinity, which
	// is how SQLite stores more than 15 significant digits exactly.
	if strings.HasPrefix(t, "DECIMAL") || strings.HasPrefix(t, "NUMERIC") {
		if p := precisionScale.FindStringSubmatch(t); p != nil {
			prec, _ := strconv.ParseInt(p[1], 10, 64)
			scale := int64(0)
			if p[2] != "" {
				scale, _ = strconv.ParseInt(p[2], 10, 64)
			}
			dt, err := sqlsource.DecimalType(prec, scale)
			if err != nil {
				return sqlsource.Mapping{}, fmt.Errorf("%w: %v", sdk.ErrUnsupportedType, err)
			}
			mp := sqlsource.Mapping{Type: dt, Decode: sqlsource.DecodeDecimal}
			if textAffinity(t) {
				mp.Unordered = "SQLite compares DECIMAL TEXT values as text (\"10\" sorts before \"9\"); use a column of INTEGER, REAL or DECIMAL(p,s) affinity"
			}
			return mp, nil
		}
	}
	switch {
	case strings.Contains(t, "INT"):
		return sqlsource.Mapping{Type: arrow.PrimitiveTypes.Int64, Decode: sqlsource.DecodeInt64}, nil
	case textAffinity(t):
		return sqlsource.Mapping{Type: arrow.BinaryTypes.String, Decode: sqlsource.DecodeString}, nil
	case strings.Contains(t, "BLOB"):
		return sqlsource.Mapping{Type: arrow.BinaryTypes.Binary, Decode: sqlsource.DecodeBinary}, nil
	case strings.Contains(t, "REAL") || strings.Contains(t, "FLOA") || strings.Contains(t, "DOUB"):
		return sqlsource.Mapping{Type: arrow.PrimitiveTypes.Float64, Decode: sqlsource.DecodeFloat64}, nil
	case strings.HasPrefix(t, "BOOL"):
		return sqlsource.Mapping{Type: arrow.FixedWidthTypes.Boolean, Decode: sqlsource.DecodeBool}, nil
	case strings.Contains(t, "DATETIME") || strings.Contains(t, "TIMESTAMP"):
		return sqlsource.Mapping{Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Decode: sqlsource.DecodeTimestamp}, nil
	case t == "DATE":
		return sqlsource.Mapping{Type: arrow.FixedWidthTypes.Date32, Decode: sqlsource.DecodeDate32}, nil
	}
	return sqlsource.Mapping{Type: arrow.BinaryTypes.String, Decode: sqlsource.DecodeString}, nil
}

func ddlType(t arrow.DataType) (string, error) {
	switch x := t.(type) {
	case *arrow.Int8Type, *arrow.Int16Type, *arrow.Int32Type, *arrow.Int64Type, *arrow.Uint8Type, *arrow.Uint16Type, *arrow.Uint32Type:
		return "INTEGER", nil
	case *arrow.Float32Type, *arrow.Float64Type:
		return "REAL", nil
	case *arrow.StringType, *arrow.LargeStringType:
		return "TEXT", nil
	case *arrow.BinaryType, *arrow.LargeBinaryType:
		return "BLOB", nil
	case *arrow.BooleanType:
		return "BOOLEAN", nil
	case *arrow.Date32Type:
		return "DATE", nil
	case *arrow.TimestampType:
		return "TIMESTAMP", nil
	case *arrow.Decimal128Type:
		return fmt.Sprintf("DECIMAL(%d,%d)", x.Precision, x.Scale), nil
	case *arrow.Decimal256Type:
		return fmt.Sprintf("DECIMAL(%d,%d)", x.Precision, x.Scale), nil
	}
	return "", sdk.Errorf(sdk.ErrUnsupportedType, "SQLite has no column type for %s", t)
}
