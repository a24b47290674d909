// Package postgres is the PostgreSQL connector, built on sdk/sqlsource with
// pgx's database/sql driver. Numerics arrive as text and are kept exactly.
package postgres

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/sqlguard"
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
	// pgx fills what the DSN leaves out from libpq's PG* variables.
	Env: []string{"PG*", "SSL_CERT_FILE", "SSL_CERT_DIR"},
	TypeMappings: []sdk.TypeMapping{
		{NativeType: "smallint / integer / bigint", ArrowType: "int16 / int32 / int64"},
		{NativeType: "real / double precision", ArrowType: "float32 / float64"},
		{NativeType: "numeric(p,s)", ArrowType: "decimal128(p, s) up to 38 digits, decimal256(p, s) up to 76", Notes: "exact; NaN fails the read (see limits)"},
		{NativeType: "numeric (no precision)", ArrowType: "utf8", Notes: "exact text; any precision; NaN, Infinity, -Infinity as such"},
		{NativeType: "text, varchar(n), char(n), name, citext", ArrowType: "utf8"},
		{NativeType: "bytea", ArrowType: "binary"},
		{NativeType: "boolean", ArrowType: "bool"},
		{NativeType: "date", ArrowType: "date32", Notes: "infinity and -infinity fail the read (see limits)"},
		{NativeType: "timestamp", ArrowType: "timestamp[us]", Notes: "wall time, no zone; infinity and -infinity fail the read"},
		{NativeType: "timestamptz", ArrowType: "timestamp[us, tz=UTC]", Notes: "the instant, in UTC; infinity and -infinity fail the read"},
		{NativeType: "time, time(p)", ArrowType: "time64[us]"},
		{NativeType: "interval", ArrowType: "month_day_nano_interval", Notes: "exact: months, days, microseconds × 1000 (table reads; query reads: text)"},
		{NativeType: "inet, cidr", ArrowType: "utf8", Notes: "PostgreSQL's text form: 192.168.0.1 (a host inet has no /32 or /128), 10.0.0.0/8"},
		{NativeType: "macaddr, macaddr8", ArrowType: "utf8", Notes: "08:00:2b:01:02:03"},
		{NativeType: "one-dimensional arrays (integer[], text[], numeric(p,s)[], timestamptz[], uuid[], ...)", ArrowType: "list<element>",
			Notes: "the element mapped as above (utf8 for element types read as text); NULL arrays and NULL elements kept; table reads only, query reads: text"},
		{NativeType: "arrays declared with several dimensions (integer[][])", ArrowType: "utf8", Notes: "PostgreSQL's text form, e.g. {{1,2},{3,4}}"},
		{NativeType: "uuid, json, jsonb, enums, time with time zone, other types", ArrowType: "utf8", Notes: "PostgreSQL's text form"},
		{NativeType: "domains", ArrowType: "as their base type"},
	},
	Limits: []string{
		"Table reads use COPY ... TO STDOUT (FORMAT binary), decoded straight into Arrow; columns of types without a binary decoder are cast to text in the COPY. Query reads go through database/sql.",
		"date, timestamp and timestamptz values of infinity and -infinity (also inside arrays) fail the read with the row, column and value named, as an unsupported-type error (hp exits 2): Arrow has no infinite dates or instants, and a sentinel such as the smallest or largest int64 would be read as a real instant. Filter them out (where: col <> 'infinity') or map them in a query (CASE WHEN isfinite(col) THEN col END). Timestamps after 294246-12-31, beyond Arrow's int64 microseconds since 1970, fail the same way.",
		"NaN in a numeric(p,s) column fails the read with the row, column and value named, as an unsupported-type error (hp exits 2): a decimal has no NaN. Filter it out (where: col <> 'NaN') or read the column as text in a query (col::text); unconstrained numeric columns are text and keep NaN.",
		"Intervals whose time part exceeds ±2562047 hours (int64 nanoseconds) fail the read, as do infinite intervals (PostgreSQL 17).",
		"Arrays become lists without their lower bounds ('[0:1]={7,8}' reads as [7, 8]). A value with several dimensions in a column declared with one fails the read with the column named: declare the column with its dimensions (integer[][]) to read it as text, or flatten it in a query.",
		"Partitioned reads (hp cp snap --parallel N) cut a table into N ranges of heap pages (ctid >= '(p,0)' AND ctid < '(q,0)', TID range scans from PostgreSQL 14; older servers filter a full scan per slice) and read them on N connections in one snapshot: a repeatable-read transaction exports it (pg_export_snapshot) and stays open until every slice has imported it (SET TRANSACTION SNAPSHOT). Partitioned and inherited tables are cut at their largest member's pages; views and foreign tables are read whole by one slice, in the same snapshot. Query reads cannot be split.",
		"Table reads end a batch at the first row that brings them to the batch byte budget, so rows of tens of megabytes (bytea, text) travel one per batch.",
		"sslmode=require, verify-ca or verify-full against a server without TLS, or a certificate that fails verification, is a configuration error (hp exits 2) naming TLS/SSL and the DSN with its password masked.",
		"Writes use COPY ... FROM STDIN (FORMAT binary) in one transaction, each value encoded for its target column's own type (an int32 stream into a bigint column, text into uuid, jsonb, enums, numeric); text into other types (inet, interval, ...) is staged and cast by the server. A value the column cannot hold exactly (out of range, more decimals than its scale, finer than its time precision or than microseconds) fails the write with the column named; nothing is written. CREATE TABLE runs inside that transaction (PostgreSQL's DDL is transactional), and the session sets client_connection_check_interval to 1s (PostgreSQL 14 and later, unless the DSN sets it), so that a killed hp or plugin ends the transaction within a second.",
		"replace deletes the old rows (DELETE, not TRUNCATE, so readers see the old rows until the new ones commit). merge copies into a temporary table, then runs INSERT ... ON CONFLICT (keys) DO UPDATE when a unique index or constraint covers exactly the keys, or else deletes the rows with incoming keys and inserts; when a key arrives more than once, the last row wins. A table created for a merge gets the keys as its primary key.",
	},
	Features: []sdk.Capability{sdk.CapReadQuery, sdk.CapReadPartitions, sdk.CapChecksumRanges, sdk.CapMaintainChecksums},
}

var dialect = &sqlsource.Dialect{
	Open:         open,
	Placeholder:  func(n int) string { return "$" + strconv.Itoa(n) },
	VersionQuery: "SELECT version()",
	ListObjects:  listObjects,
	Columns:      columns,
	PrimaryKey:   primaryKey,
	Map:          mapType,
	// Write has its own (COPY), with the same types; PlanTable uses it.
	DDLType:   ddlType,
	Classify:  classify,
	SQL:       sqlguard.Postgres,
	NullsLast: true,
	Slices:    splitTable,
	Checksum:  checksumSQL,
	Maintain:  maintainSQL,
}

func open(conn sdk.Connection) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(conn.DSN)
	if err != nil {
		return nil, sdk.InvalidArgumentf("PostgreSQL DSN %s is malformed: %s", sdk.MaskDSN(conn.DSN), sdk.MaskIn(err.Error(), conn.DSN))
	}
	return sql.OpenDB(&tlsConnector{Connector: stdlib.GetConnector(*cfg), dsn: conn.DSN}), nil
}

// tlsConnector explains TLS failures when connecting, with the (masked)
// DSN that asked for TLS.
type tlsConnector struct {
	driver.Connector
	dsn string
}

func (c *tlsConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		if te := tlsError(err, c.dsn); te != nil {
			return nil, te
		}
	}
	return conn, err
}

// tlsError returns, for a connection that failed over TLS, an
// invalid-argument error (hp exits 2: the sslmode or certificates need
// changing, retrying will not help) naming TLS/SSL and the masked DSN; nil
// for other errors.
func tlsError(err error, dsn string) error {
	var (
		ce        *pgconn.ConnectError
		verify    *tls.CertificateVerificationError
		authority x509.UnknownAuthorityError
		host      x509.HostnameError
		invalid   x509.CertificateInvalidError
	)
	if !errors.As(err, &ce) {
		return nil
	}
	msg := sdk.MaskIn(err.Error(), dsn)
	switch {
	case strings.Contains(msg, "server refused TLS connection"):
		return sdk.InvalidArgumentf("PostgreSQL server does not offer TLS/SSL, which DSN %s requires (sslmode require, verify-ca or verify-full): "+
			"enable ssl on the server or relax sslmode (prefer, disable)", sdk.MaskDSN(dsn))
	case errors.As(err, &verify) || errors.As(err, &authority) || errors.As(err, &host) || errors.As(err, &invalid):
		return sdk.InvalidArgumentf("PostgreSQL server's TLS/SSL certificate was rejected for DSN %s (check sslmode, sslrootcert and the host name): %s",
			sdk.MaskDSN(dsn), msg)
	}
	return nil
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
		                   CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END)
		       || repeat('[]', GREATEST(a.attndims - 1, 0)),
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
	// A query's unconstrained numeric (sum, avg, casts) has typmod -1, which
	// the driver reports as precision 65535: it is read as text like an
	// unconstrained column. PostgreSQL's precisions are 1 to 1000.
	if p := numericPS.FindStringSubmatch(t); p != nil || (t == "numeric" && m.HasPrecision && m.Precision > 0 && m.Precision <= 1000) {
		prec, scale := m.Precision, m.Scale
		if p != nil {
			prec, _ = strconv.ParseInt(p[1], 10, 64)
			scale, _ = strconv.ParseInt(p[2], 10, 64)
		}
		dt, err := sqlsource.DecimalType(prec, scale)
		if err != nil {
			return sqlsource.Mapping{}, fmt.Errorf("%w: %v", sdk.ErrUnsupportedType, err)
		}
		return sqlsource.Mapping{Type: dt, Decode: nanAware(sqlsource.DecodeDecimal)}, nil
	}
	if multiDimArray(t) {
		return sqlsource.Mapping{Type: arrow.BinaryTypes.String, Decode: sqlsource.DecodeString}, nil
	}
	if elem, ok := arrayElement(m.NativeType); ok {
		em, err := mapType(sqlsource.ColumnMeta{Name: m.Name, NativeType: elem, Nullable: true})
		if err != nil {
			return sqlsource.Mapping{}, err
		}
		et := em.Type
		if binaryDecoder(elem) == nil {
			et = arrow.BinaryTypes.String // read as text[]
		}
		return sqlsource.Mapping{Type: arrow.ListOf(et), Decode: decodeListUnsupported}, nil
	}
	switch {
	case t == "interval" && m.NativeType != "INTERVAL" || strings.HasPrefix(t, "interval "), strings.HasPrefix(t, "interval("):
		// Catalog names only: query reads (the driver's "INTERVAL") keep
		// the text form.
		return sqlsource.Mapping{Type: arrow.FixedWidthTypes.MonthDayNanoInterval, Decode: decodeIntervalUnsupported}, nil
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
		return sqlsource.Mapping{Type: arrow.FixedWidthTypes.Date32, Decode: infinityAware("date", sqlsource.DecodeDate32)}, nil
	case strings.HasPrefix(t, "timestamp") && strings.HasSuffix(t, "with time zone") || t == "timestamptz":
		return sqlsource.Mapping{Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Decode: infinityAware("timestamp", sqlsource.DecodeTimestamp)}, nil
	case strings.HasPrefix(t, "timestamp"):
		return sqlsource.Mapping{Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Decode: infinityAware("timestamp", sqlsource.DecodeTimestamp)}, nil
	case strings.HasPrefix(t, "time") && !strings.Contains(t, "with time zone") && t != "timetz":
		return sqlsource.Mapping{Type: arrow.FixedWidthTypes.Time64us, Decode: decodeTimeOfDay}, nil
	}
	return sqlsource.Mapping{Type: arrow.BinaryTypes.String, Decode: sqlsource.DecodeString}, nil
}

// infinityAware gives query reads the error of table reads for infinite
// dates and timestamps, which the driver returns as strings.
func infinityAware(what string, dec sqlsource.Decoder) sqlsource.Decoder {
	return func(b array.Builder, v driver.Value) error {
		if s, ok := v.(string); ok && (s == "infinity" || s == "-infinity") {
			return errInfinite(what, s[0] == '-')
		}
		return dec(b, v)
	}
}

// nanAware gives query reads the error of table reads for NaN and infinite
// numerics, which the driver returns as strings.
func nanAware(dec sqlsource.Decoder) sqlsource.Decoder {
	return func(b array.Builder, v driver.Value) error {
		if s, ok := v.(string); ok && (s == "NaN" || s == "Infinity" || s == "-Infinity") {
			return errNotDecimal(s)
		}
		return dec(b, v)
	}
}

// Table reads of arrays and intervals always use COPY (see copyPlan);
// these decoders of the generic path only guard against a change there.
func decodeListUnsupported(array.Builder, driver.Value) error {
	return fmt.Errorf("arrays are read as lists through COPY only")
}

func decodeIntervalUnsupported(array.Builder, driver.Value) error {
	return fmt.Errorf("intervals are read as month_day_nano through COPY only")
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
	case *arrow.Date32Type, *arrow.Date64Type:
		return "date", nil
	case *arrow.Time32Type, *arrow.Time64Type:
		return "time", nil
	case *arrow.MonthDayNanoIntervalType:
		return "interval", nil
	case *arrow.ListType:
		if _, nested := x.Elem().(*arrow.ListType); nested {
			break // a PostgreSQL array is not an array of arrays
		}
		elem, err := ddlType(x.Elem())
		if err != nil {
			return "", err
		}
		return elem + "[]", nil
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
