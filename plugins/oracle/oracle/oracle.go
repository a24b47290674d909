// Package oracle is the Oracle Database connector, built on sdk/sqlsource
// with github.com/godror/godror (cgo; the Oracle client libraries are
// loaded at the first connection, so the plugin starts without them). It
// reads tables and queries in read-only transactions and writes with
// array-bound INSERTs, merging through a global temporary table and MERGE
// (write.go).
package oracle

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sync"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/godror/godror"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

// Version is the connector's version.
const Version = "0.1.0"

var info = sdk.Info{
	Name:        "oracle",
	Version:     Version,
	Description: "Oracle Database (godror: cgo, needs Oracle Instant Client at run time)",
	Schemes:     []string{"oracle"},
	DSNFormat: "oracle://user/password@//host:port/service (Halfpipe's form), oracle://user:password@host:port/service (URL form; percent-encode reserved characters), " +
		"oracle://user/password@<Easy Connect string> (e.g. tcps://host:2484/service?ssl_server_dn_match=yes) or oracle://user/password@ALIAS (a TNS alias of tnsnames.ora); " +
		"parameters: tns_admin=<dir with tnsnames.ora and sqlnet.ora> (default TNS_ADMIN), wallet_location=<wallet dir>",
	DSNExample: "oracle://etl/secret@//db.example.com:1521/FREEPDB1",
	Env:        []string{"TNS_ADMIN", "LD_LIBRARY_PATH", "ORACLE_HOME", "NLS_LANG", "ORA_SDTZ", "ORA_TZFILE"},
	Options: []sdk.OptionSpec{
		{Name: "prefetch_rows", Type: "int", Default: "500", Description: "Rows the server sends with a query's first response (Halfpipe's default)"},
		{Name: "array_size", Type: "int", Default: "1000", Description: "Rows per round trip: fetched per call when reading, bound per INSERT when writing"},
	},
	TypeMappings: []sdk.TypeMapping{
		{NativeType: "NUMBER(p,s)", ArrowType: "decimal128(p, s)", Notes: "exact; NUMBER(p,-s) is decimal128(p+s, 0), NUMBER(p,s) with s > p decimal128(s, s), NUMBER(*,s) and INTEGER decimal128(38, s)"},
		{NativeType: "NUMBER, FLOAT(b)", ArrowType: "utf8", Notes: "the exact decimal text Oracle sends (any of its 38..40 digits at any exponent), never a float"},
		{NativeType: "BINARY_FLOAT / BINARY_DOUBLE", ArrowType: "float32 / float64", Notes: "NaN and ±Inf kept"},
		{NativeType: "DATE", ArrowType: "timestamp[s] (no zone)", Notes: "Oracle's DATE carries a time of day to the second; wall time"},
		{NativeType: "TIMESTAMP(0..6) / (7..9)", ArrowType: "timestamp[us] / timestamp[ns] (no zone)", Notes: "wall time; ns values outside 1677-09-21..2262-04-11 fail the read (see limits)"},
		{NativeType: "TIMESTAMP(p) WITH TIME ZONE", ArrowType: "arrow.timestamp_with_offset (struct<timestamp: timestamp[us|ns, tz=UTC], offset_minutes: int16>)", Notes: "the instant in UTC and the value's offset in minutes (a region name becomes its offset at that instant)"},
		{NativeType: "TIMESTAMP(p) WITH LOCAL TIME ZONE", ArrowType: "timestamp[us|ns, tz=UTC]", Notes: "the instant"},
		{NativeType: "INTERVAL YEAR TO MONTH", ArrowType: "month_day_nano_interval", Notes: "months"},
		{NativeType: "INTERVAL DAY TO SECOND", ArrowType: "month_day_nano_interval", Notes: "days and nanoseconds (godror's time.Duration: ±292 years)"},
		{NativeType: "CHAR, VARCHAR2, NCHAR, NVARCHAR2, LONG, CLOB, NCLOB", ArrowType: "utf8", Notes: "LOBs read whole, any size; Oracle's '' is NULL"},
		{NativeType: "RAW, LONG RAW, BLOB", ArrowType: "binary"},
		{NativeType: "ROWID, UROWID", ArrowType: "utf8", Notes: "Oracle's base-64 text"},
		{NativeType: "XMLTYPE", ArrowType: "utf8", Notes: "computed by the server as XMLSERIALIZE(CONTENT col AS CLOB)"},
		{NativeType: "JSON (21c)", ArrowType: "utf8", Notes: "computed by the server as JSON_SERIALIZE(col RETURNING CLOB)"},
		{NativeType: "BOOLEAN (23ai)", ArrowType: "bool"},
		{NativeType: "MDSYS.SDO_GEOMETRY", ArrowType: "binary", Notes: "OGC WKB, computed by the server as SDO_UTIL.TO_WKBGEOMETRY(col)"},
		{NativeType: "other object types, VARRAY, nested tables, BFILE, VECTOR", ArrowType: "-", Notes: "an error naming the column and a select-list fallback for --query"},
	},
	Limits: []string{
		"Needs the Oracle client libraries at run time: Oracle Instant Client Basic or Basic Light (19c or later) on LD_LIBRARY_PATH (or registered with ldconfig), with libaio; in AWS Lambda the Instant Client layer (see docs/lambda.md). Without them hp says so and exits 2 (DPI-1047). The plugin is built with cgo.",
		"Administrative connections (AS SYSDBA, SYSOPER, ...) are refused; external (OS or wallet-only) authentication is not supported: give a user and password.",
		"Reads run in a READ ONLY transaction (SET TRANSACTION READ ONLY), so one read sees the database as of one point in time; undo retention must cover a long read (ORA-01555 otherwise).",
		"Unquoted Oracle names are upper case: hp looks a table, schema or column up as typed, then in upper case, and follows private and PUBLIC synonyms (not those over database links). A --where or --query is Oracle SQL and follows Oracle's own rules.",
		"Delta drivers: DATE, TIMESTAMP, TIMESTAMP WITH (LOCAL) TIME ZONE and NUMBER columns; bounds are sent as typed literals of the column's own type (TO_DATE for DATE, TIMESTAMP for TIMESTAMP) or NUMBER binds, so the column is compared as itself. ORA_ROWSCN works through --query only, and is block-level (every row of a block shares the block's last SCN) unless the table was created with ROWDEPENDENCIES: a delta on it may repeat rows, never miss committed ones.",
		"Writes: append and replace run in one transaction (replace deletes with DELETE, not TRUNCATE, which would commit); merge loads a global temporary table (created before the transaction, ON COMMIT DELETE ROWS, dropped afterwards) and applies it with one MERGE, the last row of a key winning. Any failure rolls back. A table hp creates (DDL commits in Oracle) is created before the transaction and dropped if the write fails (a drop that fails too is named in the error; a temporary table that cannot be dropped after a commit is logged, not a failure).",
		"Created tables: int types become NUMBER(3..20), float32/float64 BINARY_FLOAT/BINARY_DOUBLE, decimals NUMBER(p,s) (p ≤ 38), bool NUMBER(1), utf8 CLOB (VARCHAR2(4000 CHAR) for merge keys), binary BLOB (RAW(2000) for keys), date32 DATE, timestamp[s] DATE, other timestamps TIMESTAMP(3|6|9) (WITH TIME ZONE for instants and timestamp_with_offset); intervals, times, lists and structs fail naming the column. Column names are used exactly as the stream spells them.",
		"Oracle stores '' as NULL: an empty string written becomes NULL.",
		"TIMESTAMP(7..9) values outside 1677-09-21..2262-04-11 do not fit timestamp[ns]: the read fails naming row, column and value; read them through --query as CAST(col AS TIMESTAMP(6)).",
		"Partitioned reads (hp cp snap --parallel N): the current SCN is read once (SELECT CURRENT_SCN FROM V$DATABASE) and every slice reads the table AS OF SCN it, so all slices see one point in time without sharing a transaction (flashback query: the FLASHBACK privilege on another owner's table, or FLASHBACK ANY TABLE; undo retention must cover the read, ORA-01555 otherwise). A heap table, with or without a key, plain or partitioned, is cut into N ROWID ranges: its extents (DBA_EXTENTS, with each segment's DATA_OBJECT_ID from ALL_OBJECTS), ordered by data object, file and block, are split into N runs of about equal allocated blocks (space above the high-water mark counts, so row counts can differ), each slice reading ROWID BETWEEN DBMS_ROWID.ROWID_CREATE bounds within one data object and file. That needs SELECT_CATALOG_ROLE or SELECT ANY DICTIONARY (V$DATABASE, DBA_EXTENTS, DBA_TABLESPACES; USER_EXTENTS lacks the files and blocks, even for the user's own tables). Otherwise, with a warning naming why (no privilege, an index-organized, external, clustered or temporary table, a view, extents in a bigfile tablespace, a slice needing more than 1000 ranges (thousands of partitions or files), no SCN), the table is cut into N ranges of its first primary-key column when that is an integer NUMBER (scale 0), from its MIN to its MAX at the SCN (the first range open below, the last above); else one slice reads it whole in its own READ ONLY transaction. Without access to V$DATABASE key ranges are read each in its own READ ONLY transaction, consistent each by itself, not at one point in time together (a warning says so). A MOVE, TRUNCATE or partition DDL during the read fails it (ORA-01466). Query reads cannot be split.",
	},
	Features: []sdk.Capability{sdk.CapReadQuery, sdk.CapReadPartitions},
}

// Connector reads Oracle through sqlsource (one per pair of fetch
// options, whose queries carry them) and writes with array binds.
type Connector struct {
	open func(sdk.Connection) (*sql.DB, error)

	mu   sync.Mutex
	srcs map[[2]int]*sqlsource.Connector
	dbs  map[string]*sql.DB
}

// New returns the connector, connecting through godror.
func New() *Connector { return newConnector(openGodror) }

// NewWithDB returns the connector on another database/sql driver that
// returns the values godror returns: the end-to-end tests run hp against
// it without an Oracle server (internal/oraclefake).
func NewWithDB(open func(sdk.Connection) (*sql.DB, error)) *Connector { return newConnector(open) }

func newConnector(open func(sdk.Connection) (*sql.DB, error)) *Connector {
	return &Connector{open: open, srcs: map[[2]int]*sqlsource.Connector{}, dbs: map[string]*sql.DB{}}
}

// openGodror connects with the parsed DSN; the password travels in
// godror's parameters, never in a DSN string.
func openGodror(conn sdk.Connection) (*sql.DB, error) {
	p, err := parseDSN(conn.DSN)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(godror.NewConnector(p.connectionParams())), nil
}

func (c *Connector) src(conn sdk.Connection) (*sqlsource.Connector, error) {
	prefetch, arraySize, err := fetchOptions(conn)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	key := [2]int{prefetch, arraySize}
	if s, ok := c.srcs[key]; ok {
		return s, nil
	}
	s := sqlsource.New(info, newDialect(c.open, prefetch, arraySize))
	c.srcs[key] = s
	return s, nil
}

// db is the pool of catalog look-ups and writes.
func (c *Connector) db(conn sdk.Connection) (*sql.DB, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if db, ok := c.dbs[conn.DSN]; ok {
		return db, nil
	}
	db, err := c.open(conn)
	if err != nil {
		return nil, err
	}
	c.dbs[conn.DSN] = db
	return db, nil
}

// fail classifies a driver error and masks the DSN's secrets in it; errors
// about the connection itself name the (masked) DSN.
func fail(err error, dsn string) error {
	if err == nil {
		return nil
	}
	err = classify(err)
	if errorsIsConn(err) {
		err = fmt.Errorf("%s: %w", sdk.MaskDSN(dsn), err)
	}
	return sdk.MaskErr(err, dsn)
}

// Info implements sdk.Connector.
func (c *Connector) Info() sdk.Info { return info }

// Check implements sdk.Connector.
func (c *Connector) Check(ctx context.Context, conn sdk.Connection) (string, error) {
	s, err := c.src(conn)
	if err != nil {
		return "", err
	}
	v, err := s.Check(ctx, conn)
	return v, fail(err, conn.DSN)
}

// ListObjects implements sdk.ObjectLister.
func (c *Connector) ListObjects(ctx context.Context, conn sdk.Connection, schema string) ([]sdk.ObjectInfo, error) {
	s, err := c.src(conn)
	if err != nil {
		return nil, err
	}
	o, err := s.ListObjects(ctx, conn, schema)
	return o, fail(err, conn.DSN)
}

// Exec implements sdk.Executor.
func (c *Connector) Exec(ctx context.Context, conn sdk.Connection, statements []string) (int64, error) {
	s, err := c.src(conn)
	if err != nil {
		return 0, err
	}
	n, err := s.Exec(ctx, conn, statements)
	return n, fail(err, conn.DSN)
}

// PlanTable implements sdk.TablePlanner.
func (c *Connector) PlanTable(ctx context.Context, req sdk.PlanTableRequest) (*sdk.TablePlan, error) {
	s, err := c.src(req.Conn)
	if err != nil {
		return nil, err
	}
	p, err := s.PlanTable(ctx, req)
	return p, fail(err, req.Conn.DSN)
}

// resolve spells a source's table as the catalog spells it and returns
// its columns (nil for a query).
func (c *Connector) resolve(ctx context.Context, conn sdk.Connection, src sdk.Source) (sdk.Source, []sqlsource.ColumnMeta, error) {
	if src.Object == nil {
		return src, nil, nil
	}
	db, err := c.db(conn)
	if err != nil {
		return src, nil, err
	}
	ref, err := resolve(ctx, db, *src.Object)
	if err != nil {
		return src, nil, err
	}
	cols, err := columns(ctx, db, ref)
	if err != nil {
		return src, nil, err
	}
	return sdk.Source{Object: &ref}, cols, nil
}

// Describe implements sdk.Describer.
func (c *Connector) Describe(ctx context.Context, conn sdk.Connection, src sdk.Source) (*sdk.Description, error) {
	s, err := c.src(conn)
	if err != nil {
		return nil, err
	}
	if src, _, err = c.resolve(ctx, conn, src); err != nil {
		return nil, fail(err, conn.DSN)
	}
	d, err := s.Describe(ctx, conn, src)
	return d, fail(err, conn.DSN)
}

// Read implements sdk.Reader.
func (c *Connector) Read(ctx context.Context, req sdk.ReadRequest) (array.RecordReader, error) {
	s, err := c.src(req.Conn)
	if err != nil {
		return nil, err
	}
	src, cols, err := c.resolve(ctx, req.Conn, req.Source)
	if err != nil {
		return nil, fail(err, req.Conn.DSN)
	}
	req.Source = src
	if cols != nil {
		req.Columns = slices.Clone(req.Columns)
		for i, n := range req.Columns {
			req.Columns[i] = resolveColumn(cols, n)
		}
		if req.Range != nil {
			rf := *req.Range
			rf.Column = resolveColumn(cols, rf.Column)
			req.Range = &rf
		}
		req.OrderBy = slices.Clone(req.OrderBy)
		for i := range req.OrderBy {
			req.OrderBy[i].Column = resolveColumn(cols, req.OrderBy[i].Column)
		}
	}
	r, err := s.Read(ctx, req)
	return r, fail(err, req.Conn.DSN)
}

// Bounds implements sdk.Bounder.
func (c *Connector) Bounds(ctx context.Context, req sdk.BoundsRequest) (*sdk.Bounds, error) {
	s, err := c.src(req.Conn)
	if err != nil {
		return nil, err
	}
	src, cols, err := c.resolve(ctx, req.Conn, req.Source)
	if err != nil {
		return nil, fail(err, req.Conn.DSN)
	}
	req.Source = src
	if cols != nil {
		req.Column = resolveColumn(cols, req.Column)
		if req.Range != nil {
			rf := *req.Range
			rf.Column = resolveColumn(cols, rf.Column)
			req.Range = &rf
		}
	}
	b, err := s.Bounds(ctx, req)
	return b, fail(err, req.Conn.DSN)
}
