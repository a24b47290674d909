// Package snowflake is the Snowflake connector, built on
// github.com/snowflakedb/gosnowflake (pure Go). It is a target: Load
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

	sf "github.com/snowflakedb/gosnowflake"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// Version is the connector's version.
const Version = "0.1.0"

var info = sdk.Info{
	Name:        "snowflake",
	Version:     Version,
	Description: "Snowflake (gosnowflake, pure Go): loads published runs from an external stage with COPY INTO",
	Schemes:     []string{"snowflake"},
	DSNFormat: "snowflake://user[:password]@account/database[/schema][?schema=&warehouse=&role=] " +
		"with key-pair authentication (private_key_file=/path/key.p8, an unencrypted PKCS#8 RSA key), " +
		"OAuth (authenticator=oauth&token=...) or authenticator=externalbrowser (not in AWS Lambda); " +
		"protocol=, host= and port= reach a private link or a test server",
	DSNExample: "snowflake://ETL:secret@myorg-myaccount/ANALYTICS/PUBLIC?warehouse=LOAD_WH&role=LOADER",
	Options: []sdk.OptionSpec{
		{Name: "stage", Description: "External stage (name or schema.name) over the S3 prefix the runs are published to; hp's --stage sets it for one run"},
	},
	Env: []string{lambdaEnv},
	TypeMappings: []sdk.TypeMapping{
		{NativeType: "BOOLEAN", ArrowType: "bool"},
		{NativeType: "NUMBER(19,0) / NUMBER(20,0)", ArrowType: "int8..int64, uint8..uint32 / uint64"},
		{NativeType: "NUMBER(p,s)", ArrowType: "decimal128(p, s)", Notes: "exact; p ≤ 38"},
		{NativeType: "FLOAT", ArrowType: "float16 / float32 / float64"},
		{NativeType: "VARCHAR", ArrowType: "utf8, large_utf8"},
		{NativeType: "BINARY", ArrowType: "binary, large_binary, fixed_size_binary"},
		{NativeType: "DATE", ArrowType: "date32, date64"},
		{NativeType: "TIME(9)", ArrowType: "time32, time64"},
		{NativeType: "TIMESTAMP_NTZ(9)", ArrowType: "timestamp (no zone)", Notes: "wall time"},
		{NativeType: "TIMESTAMP_LTZ(9)", ArrowType: "timestamp (with a zone)", Notes: "an instant"},
		{NativeType: "TIMESTAMP_TZ(9)", ArrowType: "arrow.timestamp_with_offset", Notes: "the offset kept"},
		{NativeType: "VARIANT", ArrowType: "arrow.json"},
		{NativeType: "VARCHAR(36)", ArrowType: "arrow.uuid"},
	},
	Limits: []string{
		"A target only. Load (hp cp ... --stage NAME --publish-to CONN.PREFIX) copies a run hp published to S3 from an external stage over that prefix (created with a storage integration, see docs/snowflake.md); Write (no --stage) writes the rows to local Parquet files, PUTs them into the table's own stage (@%table) and copies them the same way, for small tables. Reading from Snowflake is not built yet.",
		"Parquet loads match columns by name into the types of the table: a TIMESTAMP_TZ column from an arrow.timestamp_with_offset field (a Parquet struct) and a VARIANT column from arrow.json (a Parquet string, loaded as a JSON string, not parsed) are not converted by COPY yet.",
		"Loads run on one session: CREATE TABLE (and the temporary table of a merge) before the transaction, because Snowflake commits an open transaction at any DDL; then BEGIN, DELETE (replace), COPY INTO with ON_ERROR=ABORT_STATEMENT, the row check against the manifest, MERGE (merge), COMMIT.",
		"Append relies on Snowflake's load history (64 days): a retried load of a run already loaded loads nothing. Replace copies with FORCE=TRUE after its DELETE, merge through a fresh temporary table: both are idempotent.",
		"Unquoted-style names (letters, digits, _, $) are folded to upper case, as Snowflake folds unquoted identifiers; any other name is quoted exactly.",
		"Key-pair authentication reads unencrypted PKCS#8 or PKCS#1 RSA keys.",
	},
}

// Connector is the Snowflake connector.
type Connector struct{}

// New returns the connector.
func New() *Connector {
	// gosnowflake probes cloud metadata servers to describe its platform
	// at the first login: no use to hp, and slow where they do not answer.
	_ = os.Setenv("SNOWFLAKE_DISABLE_PLATFORM_DETECTION", "true")
	// Its log would repeat errors hp reports (masked) itself.
	_ = sf.GetLogger().SetLogLevel("off")
	sf.GetLogger().SetOutput(io.Discard)
	return &Connector{}
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
	return sdk.MaskErr(err, dsn)
}

func randSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return strings.ToUpper(hex.EncodeToString(b))
}
