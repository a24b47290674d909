// Package postgres is the PostgreSQL connector, built on sdk/sqlsource with
// pgx's database/sql driver. Numerics arrive as text and are kept exactly.
package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

// Version is the connector's version.
const Version = "0.1.0"

// New returns the connector.
func New() *Connector { return &Connector{Connector: sqlsource.New(info, dialect)} }

var info = sdk.Info{
	Name:        "postgres",
	Version:     Version,
	Description: "PostgreSQL (pgx)",
	Schemes:     []string{"postgres", "postgresql"},
	DSNFormat:   "postgres://user:password@host:port/database?sslmode=disable|require|verify-full&... (libpq URL; libpq key=value strings also accepted)",
	DSNExample:  "postgres://etl:secret@db.example.com:5432/app?sslmode=require",
	TypeMappings: []sdk.TypeMapping{
		{NativeType: "smallint / integer / bigint", ArrowType: "int16 / int32 / int64"},
		{NativeType: "real / double precision", ArrowType: "float32 / float64"},
		{NativeType: "numeric(p,s)", ArrowType: "decimal128(p, s) up to 38 digits, decimal256(p, s) up to 76", Notes: "exact: read as text"},
		{NativeType: "numeric (no precision)", ArrowType: "utf8", Notes: "exact text; any precision"},
		{NativeType: "text, varchar(n), char(n), name, citext", ArrowType: "utf8"},
		{NativeType: "bytea", ArrowType: "binary"},
		{NativeType: "boolean", ArrowType: "bool"},
		{NativeType: "date", ArrowType: "date32"},
		{NativeType: "timestamp", ArrowType: "timestamp[us]", Notes: "wall time, no zone"},
		{NativeType: "timestamptz", ArrowType: "timestamp[us, tz=UTC]", Notes: "the instant, in UTC"},
		{NativeType: "time", ArrowType: "time64[us]"},
		{NativeType: "uuid, json, jsonb, interval, inet, cidr, macaddr, enums, arrays, time with time zone, other types", ArrowType: "utf8", Notes: "PostgreSQL's text form"},
		{NativeType: "domains", ArrowType: "as their base type"},
	},
	Limits: []string{
		"Table reads use COPY ... TO STDOUT (FORMAT binary), decoded straight into Arrow; query reads and tables with types outside the mapping above go through database/sql.",
		"timestamp values of infinity and -infinity fail the read with the column named.",
		"Arrays are read as PostgreSQL's text form, not Arrow lists (yet).",
		"Writes use multi-row INSERTs in one transaction; merge deletes rows with the incoming keys, then inserts.",
	},
	Features: []sdk.Capability{sdk.CapReadQuery},
}

var dialect = &sqlsource.Dialect{
	Open:         open,
	Placeholder:  func(n int) string { return "$" + strconv.Itoa(n) },
	VersionQuery: "SELECT version()",
	ListObjects:  listObjects,
	Columns:      columns,
	PrimaryKey:   primaryKey,
	Map:          mapType,
	DDLType:      ddlType,
	Classify:     classify,
}

func open(conn sdk.Connection) (*sql.DB, error) {
	if _, err := pgconn.ParseConfig(conn.DSN); err != nil {
		return nil, sdk.InvalidArgumentf("PostgreSQL DSN %s is malformed: %s", sdk.MaskDSN(conn.DSN), sdk.MaskIn(err.Error(), conn.DSN))
	}
	return sql.Open("pgx", conn.DSN)
}

func classify(err error) error {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch {
		case pg.Code == "42P01" || pg.Code == "42703" || pg.Code == "3F000" || pg.Code == "3D000":
			return fmt.Errorf("%w: %s", sdk.ErrNotFound, pg.Message)
		case pg.Code == "28P01" || pg.Code == "28000":
			return fmt.Errorf("%w: %s", sdk.ErrUnauthenticated, pg.Message)
		case pg.Code == "42501":
			return fmt.Errorf("%w: %s", sdk.ErrPermissionDenied, pg.Message)
		case strings.HasPrefix(pg.Code, "42"):
			return fmt.Errorf("%w: %s (SQLSTATE %s)", sdk.ErrInvalidArgument, pg.Message, pg.Code)
		}
		return fmt.Errorf("%s (SQLSTATE %s)", pg.Message, pg.Code)
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return fmt.Errorf("%w: %v", sdk.ErrUnavailable, err)
	}
	return err
}

func listObjects(ctx context.Context, db *sql.DB, schema string) ([]sdk.ObjectInfo, error) {
	return sqlsource.QueryObjects(ctx, db, `SELECT table_schema, table_name, table_type FROM information_schema.tables
		WHERE ($1 = '' AND table_schema NOT IN ('pg_catalog', 'information_schema')) OR table_schema = $1 ORDER BY 1, 2`, schema)
}

// columns reads the catalog; domains are described by their base type.
func columns(ctx context.Context, db *sql.DB, ref sdk.ObjectRef) ([]sqlsource.ColumnMeta, error) {
	return sqlsource.QueryColumns(ctx, db, ref, `
		SELECT a.attname,
		       format_type(CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END,
		                   CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END),
		       NOT (a.attnotnull OR (t.typtype = 'd' AND t.typnotnull))
		FROM pg_attribute a
		JOIN pg_class c ON c.oid = a.attrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_type t ON t.oid = a.atttypid
		WHERE n.nspname = COALESCE(NULLIF($1, ''), current_schema()) AND c.relname = $2
		  AND c.relkind IN ('r', 'v', 'm', 'p', 'f') AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum`, ref.Schema, ref.Name)
}

func primaryKey(ctx context.Context, db *sql.DB, ref sdk.ObjectRef) ([]string, error) {
	return sqlsource.QueryStrings(ctx, db, `
		SELECT a.attname
		FROM pg_index i
		JOIN pg_class c ON c.oid = i.indrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY (i.indkey)
		WHERE i.indisprimary AND n.nspname = COALESCE(NULLIF($1, ''), current_schema()) AND c.relname = $2
		ORDER BY array_position(i.indkey::int2[], a.attnum)`, ref.Schema, ref.Name)
}

var numericPS = regexp.MustCompile(`^numeric\((\d+),(\d+)\)$`)

// mapType maps catalog names (format_type) and, for query results, the
// driver's names (INT8, NUMERIC, TIMESTAMPTZ, ...).
func mapType(m sqlsource.ColumnMeta) (sqlsource.Mapping, error) {
	t := strings.ToLower(m.NativeType)
	if p := numericPS.FindStringSubmatch(t); p != nil || (t == "numeric" && m.HasPrecision && m.Precision > 0) {
		prec, scale := m.Precision, m.Scale
		if p != nil {
			prec, _ = strconv.ParseInt(p[1], 10, 64)
			scale, _ = strconv.ParseInt(p[2], 10, 64)
		}
		dt, err := sqlsource.DecimalType(prec, scale)
		if err != nil {
			return sqlsource.Mapping{}, fmt.Errorf("%w: %v", sdk.ErrUnsupportedType, err)
		}
		return sqlsource.Mapping{Type: dt, Decode: sqlsource.DecodeDecimal}, nil
	}
	switch {
	case t == "smallint" || t == "int2":
		return sqlsource.Mapping{Type: arrow.PrimitiveTypes.Int16, Decode: sqlsource.DecodeInt64}, nil
	case t == "integer" || t == "int4":
		return sqlsource.Mapping{Type: arrow.PrimitiveTypes.Int32, Decode: sqlsource.DecodeInt64}, nil
	case t == "bigint" || t == "int8":
		return sqlsource.Mapping{Type: arrow.PrimitiveTypes.Int64, Decode: sqlsource.DecodeInt64}, nil
	case t == "real" || t == "float4":
		return sqlsource.Mapping{Type: arrow.PrimitiveTypes.Float32, Decode: sqlsource.DecodeFloat64}, nil
	case t == "double precision" || t == "float8":
		return sqlsource.Mapping{Type: arrow.PrimitiveTypes.Float64, Decode: sqlsource.DecodeFloat64}, nil
	case t == "boolean" || t == "bool":
		return sqlsource.Mapping{Type: arrow.FixedWidthTypes.Boolean, Decode: sqlsource.DecodeBool}, nil
	case t == "bytea":
		return sqlsource.Mapping{Type: arrow.BinaryTypes.Binary, Decode: sqlsource.DecodeBinary}, nil
	case t == "date":
		return sqlsource.Mapping{Type: arrow.FixedWidthTypes.Date32, Decode: sqlsource.DecodeDate32}, nil
	case strings.HasPrefix(t, "timestamp") && strings.HasSuffix(t, "with time zone") || t == "timestamptz":
		return sqlsource.Mapping{Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Decode: sqlsource.DecodeTimestamp}, nil
	case strings.HasPrefix(t, "timestamp"):
		return sqlsource.Mapping{Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Decode: sqlsource.DecodeTimestamp}, nil
	case strings.HasPrefix(t, "time") && !strings.Contains(t, "with time zone") && t != "timetz":
		return sqlsource.Mapping{Type: arrow.FixedWidthTypes.Time64us, Decode: decodeTimeOfDay}, nil
	}
	return sqlsource.Mapping{Type: arrow.BinaryTypes.String, Decode: sqlsource.DecodeString}, nil
}

// decodeTimeOfDay reads "HH:MM:SS[.ffffff]" into microseconds.
func decodeTimeOfDay(b array.Builder, v driver.Value) error {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case []byte:
		s = string(x)
	default:
		return fmt.Errorf("unexpected %T for a time", v)
	}
	hms, frac, _ := strings.Cut(s, ".")
	parts := strings.Split(hms, ":")
	if len(parts) != 3 {
		return fmt.Errorf("%q is not a time of day", s)
	}
	var us int64
	for _, p := range parts {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a time of day", s)
		}
		us = us*60 + n
	}
	us *= 1e6
	if frac != "" {
		f := (frac + "000000")[:6]
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a time of day", s)
		}
		us += n
	}
	b.(*array.Time64Builder).Append(arrow.Time64(us))
	return nil
}

func ddlType(t arrow.DataType) (string, error) {
	switch x := t.(type) {
	case *arrow.Int8Type, *arrow.Int16Type, *arrow.Uint8Type:
		return "smallint", nil
	case *arrow.Int32Type, *arrow.Uint16Type:
		return "integer", nil
	case *arrow.Int64Type, *arrow.Uint32Type:
		return "bigint", nil
	case *arrow.Uint64Type:
		return "numeric(20,0)", nil
	case *arrow.Float32Type:
		return "real", nil
	case *arrow.Float64Type:
		return "double precision", nil
	case *arrow.StringType, *arrow.LargeStringType:
		return "text", nil
	case *arrow.BinaryType, *arrow.LargeBinaryType, *arrow.FixedSizeBinaryType:
		return "bytea", nil
	case *arrow.BooleanType:
		return "boolean", nil
	case *arrow.Date32Type:
		return "date", nil
	case *arrow.TimestampType:
		if x.TimeZone != "" {
			return "timestamptz", nil
		}
		return "timestamp", nil
	case *arrow.Decimal128Type:
		return fmt.Sprintf("numeric(%d,%d)", x.Precision, x.Scale), nil
	case *arrow.Decimal256Type:
		return fmt.Sprintf("numeric(%d,%d)", x.Precision, x.Scale), nil
	}
	return "", sdk.Errorf(sdk.ErrUnsupportedType, "PostgreSQL has no column type for %s", t)
}
