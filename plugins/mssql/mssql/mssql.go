// Package mssql is the Microsoft SQL Server (and Azure SQL) connector,
// built on sdk/sqlsource with github.com/microsoft/go-mssqldb (pure Go).
// It reads tables and queries (range filters, bounds) and writes through
// bulk copy, merging on keys with a #temporary table and MERGE (write.go).
package mssql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/extensions"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/sqlguard"
	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

// Version is the connector's version.
const Version = "0.1.0"

var info = sdk.Info{
	Name:        "mssql",
	Version:     Version,
	Description: "Microsoft SQL Server and Azure SQL (go-mssqldb, pure Go)",
	Schemes:     []string{"sqlserver"},
	DSNFormat: "sqlserver://user:password@host[:port]/database[?encrypt=true&...] (halfpipe form: the path is the database), " +
		"or go-mssqldb's URL form sqlserver://user:password@host[:port][/instance]?database=db&...; " +
		"host/instance/database names both. Query parameters are go-mssqldb's (encrypt, TrustServerCertificate, certificate, " +
		"hostNameInCertificate, tlsmin, fedauth, authenticator=krb5 with krb5-configfile, krb5-realm, krb5-keytabfile, krb5-credcachefile, " +
		"app name, connection timeout, ...)",
	DSNExample: "sqlserver://etl:secret@sql.example.com:1433/Sales?encrypt=true",
	// Kerberos falls back to these when the DSN names no file.
	Env: []string{"KRB5_CONFIG", "KRB5_KTNAME", "KRB5CCNAME", "SSL_CERT_FILE", "SSL_CERT_DIR"},
	TypeMappings: []sdk.TypeMapping{
		{NativeType: "bit", ArrowType: "bool"},
		{NativeType: "tinyint / smallint / int / bigint", ArrowType: "uint8 / int16 / int32 / int64"},
		{NativeType: "decimal(p,s), numeric(p,s)", ArrowType: "decimal128(p, s)", Notes: "exact, every digit kept (p ≤ 38)"},
		{NativeType: "money / smallmoney", ArrowType: "decimal128(19, 4) / decimal128(10, 4)", Notes: "exact"},
		{NativeType: "real / float", ArrowType: "float32 / float64", Notes: "float(1..24) is real"},
		{NativeType: "char, varchar, nchar, nvarchar (incl. max), text, ntext, xml", ArrowType: "utf8"},
		{NativeType: "binary, varbinary (incl. max), image", ArrowType: "binary"},
		{NativeType: "uniqueidentifier", ArrowType: "utf8", Notes: "SQL Server's canonical form, e.g. 6F9619FF-8B86-D011-B42D-00C04FD430C8"},
		{NativeType: "date", ArrowType: "date32"},
		{NativeType: "time(n)", ArrowType: "time64[ns]"},
		{NativeType: "datetime2(0..6)", ArrowType: "timestamp[us] (no zone)", Notes: "exact for every year (0001..9999); wall time"},
		{NativeType: "datetime2(7) (the default)", ArrowType: "timestamp[ns] (no zone)", Notes: "100 ns kept; values outside 1677-09-21..2262-04-11 fail the read (see limits)"},
		{NativeType: "datetime, smalldatetime", ArrowType: "timestamp[us] (no zone)", Notes: "wall time, no zone; datetime's 1/300 s ticks arrive as whole milliseconds"},
		{NativeType: "datetimeoffset(0..6) / (7)", ArrowType: "arrow.timestamp_with_offset (struct<timestamp: timestamp[us|ns, tz=UTC], offset_minutes: int16>)", Notes: "the instant in UTC and the offset in minutes, Arrow's canonical extension type; CSV/JSONL print the local time with its offset; Parquet stores the two fields"},
		{NativeType: "rowversion (timestamp)", ArrowType: "uint64", Notes: "the 8 bytes read big-endian, so values order as on the server (a delta driver candidate)"},
		{NativeType: "geography, geometry", ArrowType: "binary", Notes: "OGC WKB with Z and M, computed by the server as [col].AsBinaryZM() (SQL Server 2012+); the SRID is not in WKB: add [col].STSrid through --query if needed"},
		{NativeType: "hierarchyid", ArrowType: "utf8", Notes: "the path, e.g. /1/2/, computed by the server as [col].ToString()"},
		{NativeType: "sql_variant", ArrowType: "utf8", Notes: "the value as text, the base type is not kept: numbers exact (float and real with the digits that round-trip, SQL Server 2016+), date/time types in ISO 8601 (datetimeoffset with its offset), binary as 0x hex, text as is"},
		{NativeType: "other CLR types", ArrowType: "-", Notes: "an error naming the column and type: read them through a query, e.g. with [col].ToString()"},
	},
	Limits: []string{
		"SQL Server has no read-only transaction. Reads run in a transaction that is always rolled back, and hp refuses a query or a where filter it cannot check is a read: one statement starting with SELECT or WITH, with no keyword that writes or runs code (INSERT, UPDATE, DELETE, MERGE, INTO, EXEC, SET, OPENROWSET, ...) outside quotes, comments and [brackets]. The check is textual, not a guarantee: give hp a login with only db_datareader (and VIEW DEFINITION for the catalog) on the source database.",
		"Writes run in one transaction through bulk copy (INSERT BULK with CHECK_CONSTRAINTS, FIRE_TRIGGERS and KEEP_NULLS, so it needs INSERT permission, not ALTER TABLE); replace deletes the old rows with DELETE, merge stages the rows in a #temporary table and MERGEs them (the last row of a key wins).",
		"Written times keep SQL Server's 100 ns: finer nanoseconds are truncated.",
		"Bulk copy does not keep identity values (no KEEPIDENTITY): an IDENTITY column of an existing table gets the server's values, so leave it out of the stream or write to a table without IDENTITY.",
		"go-mssqldb's bulk copy sends text for char/varchar/text columns as UTF-8 bytes, so non-ASCII text arrives intact there only under a UTF-8 collation; nvarchar columns (what created tables use) take any text.",
		"Arrow types without a SQL Server column (lists, structs, maps, intervals, durations, float16, decimals over 38 digits) fail a write that creates a table, naming the column; rowversion, sql_variant and CLR columns cannot be written.",
		"SQL authentication (user:password), Windows authentication through NTLM (user DOMAIN\\user, URL-encoded as DOMAIN%5Cuser) and Azure AD / Microsoft Entra ID (fedauth=ActiveDirectoryPassword, ActiveDirectoryServicePrincipal, ActiveDirectoryManagedIdentity, ActiveDirectoryDefault, ...) are supported, and Kerberos with authenticator=krb5 (go-mssqldb's pure-Go krb5: a user and password, a keytab, or a credential cache; see the notes).",
		"TLS: encrypt=strict|true|false|disable (go-mssqldb's default, false, encrypts the login only); TrustServerCertificate=true skips verification; certificate=<file> pins a CA; hostNameInCertificate and tlsmin are honoured.",
		"geography, geometry, hierarchyid and sql_variant columns of a table are read through the server-side expressions of the type mappings (named as the column); a --query must select such expressions itself (a raw column fails, naming the expression), and such a column cannot split or bound a read.",
		"datetime2(7) and datetimeoffset(7) values outside 1677-09-21..2262-04-11 (e.g. 0001-01-01, 9999-12-31) do not fit timestamp[ns], the only Arrow unit that keeps 100 ns: the read fails as an unsupported type (hp exits 2) naming row, column and value. Read them through a query: CAST(col AS datetime2(6)) (microseconds, any year; SQL Server rounds, so 9999-12-31 23:59:59.9999999 itself overflows) or CONVERT(varchar(34), col, 127) (exact text).",
		"Partitioned reads (hp cp snap --parallel N) cut a table into N ranges of the first primary-key column when it is an integer (from its MIN to its MAX; the first range is open below, the last above), each read on its own connection; other tables are read whole by one slice. SQL Server cannot share a snapshot between sessions: when the database allows snapshot isolation (ALLOW_SNAPSHOT_ISOLATION ON, the default in Azure SQL Database), one more connection reads the key's bounds under a shared table lock (WITH (TABLOCK, HOLDLOCK), SELECT permission suffices; waiting at most 60 s for open writes to the table to commit, then failing) and holds it until every slice has begun a SNAPSHOT transaction and read from the table: writers to the table wait those few milliseconds, and all slices see the table at one point in time. Without snapshot isolation the slices are each read as a whole read is (read committed; one point in time per slice only under READ_COMMITTED_SNAPSHOT), not at one point in time together (a warning says so). Query reads cannot be split.",
	},
	Features: []sdk.Capability{sdk.CapReadQuery, sdk.CapReadPartitions},
}

// Connector reads SQL Server through sqlsource and writes with its own
// bulk copy (sqlsource's multi-row INSERTs are not used).
type Connector struct {
	src *sqlsource.Connector

	mu  sync.Mutex
	dbs map[string]*sql.DB
}

// New returns the connector.
func New() *Connector {
	return &Connector{src: sqlsource.New(info, dialect), dbs: map[string]*sql.DB{}}
}

// Info implements sdk.Connector.
func (c *Connector) Info() sdk.Info { return c.src.Info() }

// Check implements sdk.Connector.
func (c *Connector) Check(ctx context.Context, conn sdk.Connection) (string, error) {
	v, err := c.src.Check(ctx, conn)
	return v, withDSN(err, conn.DSN)
}

// ListObjects implements sdk.ObjectLister.
func (c *Connector) ListObjects(ctx context.Context, conn sdk.Connection, schema string) ([]sdk.ObjectInfo, error) {
	o, err := c.src.ListObjects(ctx, conn, schema)
	return o, withDSN(err, conn.DSN)
}

// Describe implements sdk.Describer.
func (c *Connector) Describe(ctx context.Context, conn sdk.Connection, src sdk.Source) (*sdk.Description, error) {
	d, err := c.src.Describe(ctx, conn, src)
	return d, withDSN(err, conn.DSN)
}

// Read implements sdk.Reader.
func (c *Connector) Read(ctx context.Context, req sdk.ReadRequest) (array.RecordReader, error) {
	r, err := c.src.Read(ctx, req)
	return r, withDSN(err, req.Conn.DSN)
}

// PlanTable implements sdk.TablePlanner.
func (c *Connector) PlanTable(ctx context.Context, req sdk.PlanTableRequest) (*sdk.TablePlan, error) {
	p, err := c.src.PlanTable(ctx, req)
	return p, withDSN(err, req.Conn.DSN)
}

// Exec implements sdk.Executor.
func (c *Connector) Exec(ctx context.Context, conn sdk.Connection, statements []string) (int64, error) {
	n, err := c.src.Exec(ctx, conn, statements)
	return n, withDSN(err, conn.DSN)
}

// withDSN names the (masked) DSN in errors about the connection itself.
func withDSN(err error, dsn string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sdk.ErrUnauthenticated) || errors.Is(err, sdk.ErrUnavailable) {
		return fmt.Errorf("%s: %w", sdk.MaskDSN(dsn), err)
	}
	return err
}

func (c *Connector) db(conn sdk.Connection) (*sql.DB, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if db, ok := c.dbs[conn.DSN]; ok {
		return db, nil
	}
	db, err := open(conn)
	if err != nil {
		return nil, err
	}
	c.dbs[conn.DSN] = db
	return db, nil
}

// BoundsSQL is the statement Bounds sends: COUNT_BIG, since COUNT(*) is
// an int and overflows past 2^31 rows.
func BoundsSQL(src sdk.Source, column, where string, rf *sdk.RangeFilter) (string, int) {
	col := QuoteIdent(column)
	from := ""
	if src.Object != nil {
		from = objectName(*src.Object)
	} else {
		from = "(" + strings.TrimRight(strings.TrimSpace(src.Query), "; \n\t") + ") hp_q"
	}
	var conds []string
	n := 0
	if where != "" {
		conds = append(conds, "("+where+")")
	}
	if rf != nil {
		if rf.Lower != nil {
			n++
			op := ">"
			if rf.LowerInclusive {
				op = ">="
			}
			conds = append(conds, fmt.Sprintf("%s %s @p%d", QuoteIdent(rf.Column), op, n))
		}
		if rf.Upper != nil {
			n++
			op := "<"
			if rf.UpperInclusive {
				op = "<="
			}
			conds = append(conds, fmt.Sprintf("%s %s @p%d", QuoteIdent(rf.Column), op, n))
		}
	}
	q := fmt.Sprintf("SELECT MIN(%s), MAX(%s), COUNT_BIG(*), COUNT_BIG(%s) FROM %s", col, col, col, from)
	if len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}
	return q, n
}

// Bounds implements sdk.Bounder.
func (c *Connector) Bounds(ctx context.Context, req sdk.BoundsRequest) (_ *sdk.Bounds, err error) {
	defer func() {
		if err != nil {
			err = withDSN(dialectErr(err, req.Conn.DSN), req.Conn.DSN)
		}
	}()
	if req.Source.Object == nil && req.Source.Query == "" {
		return nil, sdk.InvalidArgumentf("nothing to bound: no table and no query")
	}
	if req.Where != "" {
		if err := sqlguard.Predicate(sqlguard.SQLServer, req.Where); err != nil {
			return nil, fmt.Errorf("%w: where %q: %w", sdk.ErrInvalidArgument, req.Where, err)
		}
	}
	db, err := c.db(req.Conn)
	if err != nil {
		return nil, err
	}
	var all []sqlsource.ColumnMeta
	if req.Source.Object != nil {
		if all, err = columns(ctx, db, *req.Source.Object); err != nil {
			return nil, err
		}
	}
	find := func(name string) (sqlsource.ColumnMeta, bool) {
		for _, m := range all {
			if m.Name == name {
				return m, true
			}
		}
		return sqlsource.ColumnMeta{Name: name, Nullable: true}, req.Source.Object == nil
	}
	meta, ok := find(req.Column)
	if !ok {
		return nil, sdk.NotFoundf("table %s has no column %q", req.Source.Object, req.Column)
	}
	q, _ := BoundsSQL(req.Source, req.Column, req.Where, req.Range)
	var args []any
	if rf := req.Range; rf != nil {
		rm, ok := find(rf.Column)
		if !ok {
			return nil, sdk.NotFoundf("table %s has no column %q", req.Source.Object, rf.Column)
		}
		for _, v := range []*sdk.Value{rf.Lower, rf.Upper} {
			if v != nil {
				args = append(args, arg(v, rm))
			}
		}
	}
	if err := dialect.CheckSQL(q); err != nil {
		return nil, fmt.Errorf("%w: %w", sdk.ErrInvalidArgument, err)
	}
	// Rolled back, like reads (see rollbackOnly).
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if meta.NativeType == "" {
		// A query's column: MIN keeps its type.
		ct, err := rows.ColumnTypes()
		if err != nil {
			return nil, err
		}
		meta.NativeType = ct[0].DatabaseTypeName()
		if p, s, ok := ct[0].DecimalSize(); ok {
			meta.Precision, meta.Scale, meta.HasPrecision = p, s, true
		}
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, errors.New("bounds query returned no row")
	}
	var lo, hi any
	var count, nonNull int64
	if err := rows.Scan(&lo, &hi, &count, &nonNull); err != nil {
		return nil, err
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	mp, err := mapType(meta)
	if err != nil {
		return nil, fmt.Errorf("column %q (%s): %w", meta.Name, meta.NativeType, err)
	}
	b := &sdk.Bounds{Count: count, NullCount: count - nonNull}
	if b.Min, err = boundValue(mp, lo); err != nil {
		return nil, fmt.Errorf("min of %q: %w", req.Column, err)
	}
	if b.Max, err = boundValue(mp, hi); err != nil {
		return nil, fmt.Errorf("max of %q: %w", req.Column, err)
	}
	return b, nil
}

// dialectErr classifies a driver error and masks any secret it echoes.
func dialectErr(err error, dsn string) error {
	return sdk.MaskErr(classify(err), dsn)
}

func isKind(err error) bool {
	for _, k := range []error{sdk.ErrInvalidArgument, sdk.ErrNotFound, sdk.ErrUnauthenticated, sdk.ErrPermissionDenied,
		sdk.ErrUnavailable, sdk.ErrUnsupportedType} {
		if errors.Is(err, k) {
			return true
		}
	}
	return false
}

// boundValue decodes a bound as a read would and converts it exactly.
func boundValue(mp sqlsource.Mapping, v any) (*sdk.Value, error) {
	if v == nil {
		return nil, nil
	}
	bld := array.NewBuilder(memory.DefaultAllocator, mp.Type)
	defer bld.Release()
	if err := mp.Decode(bld, v); err != nil {
		return nil, err
	}
	a := bld.NewArray()
	defer a.Release()
	switch x := a.(type) {
	case *array.Uint8:
		return sdk.Int64Value(int64(x.Value(0))), nil
	case *array.Float32:
		return &sdk.Value{Kind: sdk.KindFloat64, Float: float64(x.Value(0))}, nil
	case *extensions.TimestampWithOffsetArray:
		// datetimeoffset bounds by instant, as SQL Server compares it.
		return sdk.TimestampValue(x.Value(0)), nil
	}
	return sqlsource.ValueAt(a, 0)
}
