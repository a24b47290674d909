// Package snowflake is the Snowflake connector, built on
// github.com/snowflakedb/gosnowflake (pure Go). As a source it reads
// tables and queries through the generic SQL reader (sqlsource) in one
// SELECT each. As a target, Load
// copies the files of a published run from an external stage with COPY
// INTO (replace, append, or merge through a temporary table), relying on
// Snowflake's load history so that a retried load never loads a file
// twice; Write PUTs local Parquet files into the table's stage and copies
// them the same way.
package snowflake

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	sf "github.com/snowflakedb/gosnowflake"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

// Version is the connector's version.
const Version = "0.1.0"

var info = sdk.Info{
	Name:        "snowflake",
	Version:     Version,
	Description: "Snowflake (gosnowflake, pure Go): reads tables and queries; loads published runs from an external stage with COPY INTO",
	Schemes:     []string{"snowflake"},
	DSNFormat: "snowflake://user[:password]@account/database[/schema][?schema=&warehouse=&role=] " +
		"with key-pair authentication (private_key_file=/path/key.p8, an unencrypted PKCS#8 RSA key), " +
		"OAuth (authenticator=oauth&token=...) or authenticator=externalbrowser (not in AWS Lambda); " +
		"protocol=, host= and port= reach a private link or a test server",
	DSNExample: "snowflake://ETL:secret@myorg-myaccount/ANALYTICS/PUBLIC?warehouse=LOAD_WH&role=LOADER",
	Options: []sdk.OptionSpec{
		{Name: "stage", Type: "string", Description: "External stage (name or schema.name) over the S3 prefix the runs are published to; hp's --stage sets it for one run"},
	},
	Env:      []string{lambdaEnv},
	Features: []sdk.Capability{sdk.CapReadQuery},
	TypeMappings: []sdk.TypeMapping{
		// Reading (Describe, Read, Bounds).
		{NativeType: "NUMBER(p,s), INTEGER", ArrowType: "decimal128(p, s)", Notes: "read: exact, from the decimal text gosnowflake hands over (never a float); INTEGER is NUMBER(38,0)"},
		{NativeType: "FLOAT", ArrowType: "float64", Notes: "read: NaN and ±Inf kept"},
		{NativeType: "VARCHAR, TEXT", ArrowType: "utf8", Notes: "read"},
		{NativeType: "BINARY", ArrowType: "binary", Notes: "read"},
		{NativeType: "BOOLEAN", ArrowType: "bool", Notes: "read"},
		{NativeType: "DATE", ArrowType: "date32", Notes: "read"},
		{NativeType: "TIME(0..6) / TIME(7..9)", ArrowType: "time64[us] / time64[ns]", Notes: "read"},
		{NativeType: "TIMESTAMP_NTZ(0..6) / (7..9)", ArrowType: "timestamp[us] / timestamp[ns] (no zone)", Notes: "read: wall time; ns values outside 1677-09-21..2262-04-11 fail the read (see limits)"},
		{NativeType: "TIMESTAMP_LTZ(p)", ArrowType: "timestamp[us|ns, tz=UTC]", Notes: "read: the instant"},
		{NativeType: "TIMESTAMP_TZ(p)", ArrowType: "arrow.timestamp_with_offset (struct<timestamp: timestamp[us|ns, tz=UTC], offset_minutes: int16>)", Notes: "read: the instant in UTC and the value's own offset"},
		{NativeType: "VARIANT, OBJECT, ARRAY", ArrowType: "utf8", Notes: "read: the JSON text Snowflake prints"},
		{NativeType: "GEOGRAPHY, GEOMETRY, VECTOR, structured types", ArrowType: "-", Notes: "read: an error naming the column; select TO_VARCHAR(col) or ST_ASWKB(col) in a --query"},
		// Writing (the types of the tables hp creates).
		{NativeType: "BOOLEAN", ArrowType: "bool", Notes: "write"},
		{NativeType: "NUMBER(19,0) / NUMBER(20,0)", ArrowType: "int8..int64, uint8..uint32 / uint64", Notes: "write"},
		{NativeType: "NUMBER(p,s)", ArrowType: "decimal128(p, s)", Notes: "write: exact; p ≤ 38"},
		{NativeType: "FLOAT", ArrowType: "float16 / float32 / float64", Notes: "write"},
		{NativeType: "VARCHAR", ArrowType: "utf8, large_utf8", Notes: "write"},
		{NativeType: "BINARY", ArrowType: "binary, large_binary, fixed_size_binary", Notes: "write"},
		{NativeType: "DATE", ArrowType: "date32, date64", Notes: "write"},
		{NativeType: "TIME(p)", ArrowType: "time32, time64", Notes: "write: p = the unit's digits (0, 3, 6, 9)"},
		{NativeType: "TIMESTAMP_NTZ(p)", ArrowType: "timestamp (no zone)", Notes: "write: wall time; p = the unit's digits"},
		{NativeType: "TIMESTAMP_LTZ(p)", ArrowType: "timestamp (with a zone)", Notes: "write: an instant; p = the unit's digits"},
		{NativeType: "TIMESTAMP_TZ(p)", ArrowType: "arrow.timestamp_with_offset", Notes: "write: the offset kept; p = the unit's digits"},
		{NativeType: "VARIANT", ArrowType: "arrow.json", Notes: "write"},
		{NativeType: "VARCHAR(36)", ArrowType: "arrow.uuid", Notes: "write"},
	},
	Limits: []string{
		"Load (hp cp ... --stage NAME --publish-to CONN.PREFIX) copies a run hp published to S3 from an external stage over that prefix (created with a storage integration, see docs/snowflake.md); Write (no --stage) writes the rows to local Parquet files, PUTs them into the table's own stage (@%table) and copies them the same way, for small tables.",
		"Reads (a table, --columns, --where, --query; Bounds for deltas) are one SELECT each, and one Snowflake statement sees the table as of one point in time: the read is a consistent snapshot. There is no read-only transaction in Snowflake; a --query must be one statement that only reads (SELECT, WITH, SHOW, DESCRIBE), checked before it runs.",
		"Sessions ask for JSON results (GO_QUERY_RESULT_FORMAT=JSON), which hand a NUMBER over as its exact text; a result that comes in Arrow all the same is read from gosnowflake's Arrow batches in Snowflake's own encoding, exactly (gosnowflake's row-by-row Arrow conversion would pass a NUMBER with a scale through a float64). Values are converted one by one, which is slower than a columnar read on wide, large reads.",
		"Table and column names are looked up as Snowflake folds unquoted names (upper case), then exactly as given; the schema defaults to the session's (the DSN's). Columns come from INFORMATION_SCHEMA.COLUMNS, the key from SHOW PRIMARY KEYS (Snowflake keeps but does not enforce it).",
		"Delta drivers: NUMBER, FLOAT, DATE and TIMESTAMP_NTZ/LTZ/TZ columns. Bounds are written as literals of the column's own type: a TIMESTAMP_NTZ mark as wall time ('...'::TIMESTAMP_NTZ(9)), TIMESTAMP_LTZ and TIMESTAMP_TZ marks as instants ('... +00:00'::TIMESTAMP_TZ(9)).",
		"TIMESTAMP_NTZ/LTZ/TZ(7..9) and TIME(7..9) are read at nanoseconds: timestamps outside 1677-09-21..2262-04-11 do not fit and fail the read naming row, column and value; read them through --query as CAST(col AS TIMESTAMP_NTZ(6)). A --query's TIMESTAMP columns are read at nanoseconds whatever their digits: gosnowflake does not report them.",
		"Parquet loads match columns by name into the types of the table, except when the schema has an arrow.json or arrow.timestamp_with_offset column: then COPY has a transformation ($1:\"col\"::TYPE for each column, PARSE_JSON for JSON). Write's Parquet files carry timestamps with offsets as text, which the cast keeps; a published Parquet run holds them as a struct COPY cannot load and is refused (publish it with --format csv, or load without --stage).",
		"Round trips: TIME and TIMESTAMP columns hp creates have the digits of the source's unit (6 for microseconds), so values come back in their own unit; float32 comes back as float64; JSON and UUID text of other databases is VARCHAR.",
		"Loads run on one session: CREATE TABLE (and the temporary table of a merge) before the transaction, because Snowflake commits an open transaction at any DDL; then BEGIN, DELETE (replace), COPY INTO with ON_ERROR=ABORT_STATEMENT, the row check against the manifest, MERGE (merge), COMMIT.",
		"Append relies on Snowflake's load history (64 days): a retried load of a run already loaded loads nothing. Replace copies with FORCE=TRUE after its DELETE, merge through a fresh temporary table: both are idempotent.",
		"hp cp meta plans a table in the types Write creates, NOT NULL for fields that are not nullable and the source's primary key (kept, not enforced). On an existing table it adds the missing columns (nullable) and widens only what Snowflake widens in place: a NUMBER's precision at the same scale, a VARCHAR's length; a smaller scale, fewer fractional digits of a TIME or TIMESTAMP, a shorter BINARY or another type are notes, left as is. Columns the source lacks are dropped only with --allow-drop.",
		"Unquoted-style names (letters, digits, _, $) are folded to upper case, as Snowflake folds unquoted identifiers; any other name is quoted exactly.",
		"Key-pair authentication reads unencrypted PKCS#8 or PKCS#1 RSA keys.",
	},
}

// Connector is the Snowflake connector.
type Connector struct {
	// src reads: Describe, Read, Bounds and ListObjects.
	src *sqlsource.Connector

	mu  sync.Mutex
	dbs map[string]*sql.DB
}

// New returns the connector.
func New() *Connector {
	// gosnowflake probes cloud metadata servers to describe its platform
	// at the first login: no use to hp, and slow where they do not answer.
	_ = os.Setenv("SNOWFLAKE_DISABLE_PLATFORM_DETECTION", "true")
	// Its log would repeat errors hp reports (masked) itself.
	_ = sf.GetLogger().SetLogLevel("off")
	sf.GetLogger().SetOutput(io.Discard)
	return &Connector{src: sqlsource.New(info, sourceDialect), dbs: map[string]*sql.DB{}}
}

// Info describes the connector.
func (*Connector) Info() sdk.Info { return info }

// session opens one session of conn: temporary tables and a transaction
// live in it. end closes the session and its pool.
func session(ctx context.Context, c sdk.Connection) (conn *sql.Conn, end func(), err error) {
	db, err := open(c)
	if err != nil {
		return nil, nil, err
	}
	conn, err = db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, nil, classify(err, c.DSN)
	}
	return conn, func() { conn.Close(); db.Close() }, nil
}

func open(conn sdk.Connection) (*sql.DB, error) {
	cfg, err := parseDSN(conn.DSN)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(sf.NewConnector(sf.SnowflakeDriver{}, *cfg)), nil
}

// Check logs in and asks for the server's version.
func (*Connector) Check(ctx context.Context, conn sdk.Connection) (string, error) {
	db, err := open(conn)
	if err != nil {
		return "", err
	}
	defer db.Close()
	var v string
	if err := db.QueryRowContext(ctx, "SELECT CURRENT_VERSION()").Scan(&v); err != nil {
		return "", classify(err, conn.DSN)
	}
	return "Snowflake " + v, nil
}

// Exec runs statements in order, each in its own implicit transaction.
func (*Connector) Exec(ctx context.Context, conn sdk.Connection, statements []string) (int64, error) {
	db, err := open(conn)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int64
	for _, s := range statements {
		res, err := db.ExecContext(ctx, s)
		if err != nil {
			return n, classify(err, conn.DSN)
		}
		if k, err := res.RowsAffected(); err == nil {
			n += k
		}
	}
	return n, nil
}

// classify maps Snowflake's error codes to the SDK's kinds, masking the
// DSN's secrets.
func classify(err error, dsn string) error {
	return sdk.MaskErr(classifyKind(err), dsn)
}

// classifyKind maps Snowflake's error codes to the SDK's kinds.
func classifyKind(err error) error {
	var se *sf.SnowflakeError
	if errors.As(err, &se) {
		var kind error
		switch se.Number {
		case 390100, 390144, 390303, 394304, 390201:
			kind = sdk.ErrUnauthenticated
		case 2003:
			kind = sdk.ErrNotFound
		case 3001, 3003:
			kind = sdk.ErrPermissionDenied
		case 2002:
			kind = sdk.ErrAlreadyExists
		}
		if kind != nil {
			err = fmt.Errorf("%w: %w", kind, err)
		}
	}
	return err
}

func randSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return strings.ToUpper(hex.EncodeToString(b))
}
