// Package mysql is the MySQL/MariaDB connector, built on sdk/sqlsource with
// go-sql-driver/mysql. Results stream row by row from the server; DECIMAL
// arrives as text and is kept exactly. Table reads read the binary
// protocol's rows off the socket themselves (binwire.go, on wire.go's
// packet reader).
package mysql

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	gomysql "github.com/go-sql-driver/mysql"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/sqlguard"
	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

// Version is the connector's version.
const Version = "0.1.0"

// New returns the connector.
func New() *sqlsource.Connector { return sqlsource.New(info, dialect) }

var info = sdk.Info{
	Name:        "mysql",
	Version:     Version,
	Description: "MySQL and MariaDB (go-sql-driver/mysql)",
	Schemes:     []string{"mysql", "mariadb"},
	DSNFormat:   "mysql://user:password@host:port/database[?tls=true|skip-verify&timeout=10s&...] (also mariadb://); query parameters are go-sql-driver/mysql's",
	DSNExample:  "mysql://etl:secret@db.example.com:3306/shop?tls=true",
	Env:         []string{"SSL_CERT_FILE", "SSL_CERT_DIR"},
	TypeMappings: []sdk.TypeMapping{
		{NativeType: "tinyint / smallint / mediumint, int / bigint", ArrowType: "int8 / int16 / int32 / int64"},
		{NativeType: "... unsigned", ArrowType: "uint8 / uint16 / uint32 / uint64", Notes: "bigint unsigned keeps values above 2^63"},
		{NativeType: "decimal(p,s)", ArrowType: "decimal128(p, s) up to 38 digits, decimal256(p, s) up to 65", Notes: "exact: read as text"},
		{NativeType: "float / double", ArrowType: "float32 / float64", Notes: "the stored value: table reads use the binary protocol (prepared statements), where MariaDB does not round FLOAT to six digits; without TLS or compression the connector reads them off the socket itself, which also spares the server formatting integers and dates as text. Over TLS or compression, reads of tables without float columns use the text protocol, which the driver decodes more cheaply than its binary rows"},
		{NativeType: "char, varchar, text types, enum, set, json", ArrowType: "utf8"},
		{NativeType: "binary, varbinary, blob types", ArrowType: "binary"},
		{NativeType: "geometry types (point, polygon, ...)", ArrowType: "binary", Notes: "MySQL's internal form: a 4-byte little-endian SRID, then WKB"},
		{NativeType: "bit(1) / bit(n)", ArrowType: "bool / uint64"},
		{NativeType: "date", ArrowType: "date32", Notes: "the zero date 0000-00-00 is read as NULL"},
		{NativeType: "datetime(n), timestamp(n)", ArrowType: "timestamp[us, tz=UTC]", Notes: "microseconds kept; values are taken as UTC wall time (the connection's time zone is UTC; a DSN setting time_zone to another zone is refused, since it would shift TIMESTAMP values and delta ranges); zero dates are read as NULL"},
		{NativeType: "time(n)", ArrowType: "utf8", Notes: "MySQL times range over ±838 hours, beyond a time of day"},
		{NativeType: "year", ArrowType: "int16", Notes: "the zero year 0000 reads as 0"},
	},
	Limits: []string{
		"Zero dates and datetimes ('0000-00-00') are read as NULL.",
		"Dates and datetimes with a zero month or day ('2024-00-15', stored when sql_mode lacks NO_ZERO_IN_DATE) fail the read with the row, column and value named, as an unsupported-type error (hp exits 2): read them as text in a query (CAST(col AS CHAR)) or filter them out.",
		"Writes use multi-row INSERTs in one transaction under a strict sql_mode (a value that does not fit fails the write, never truncated). MySQL commits implicitly on DDL, so a missing table is created before the transaction and dropped again if the write fails (a drop that fails too is named in the error; a killed hp or plugin leaves it behind, empty); the transaction itself holds no DDL, so an interrupted replace, append or merge leaves the table as it was.",
		"Merge loads the rows into a temporary table, then deletes the target's rows with those keys and inserts the last row of each key, in one transaction; a table hp creates for a merge has the merge keys as its primary key (text keys as VARCHAR, 768 characters shared by the key columns). A NULL key fails the write.",
		"tls=true (or skip-verify, or a named config) against a server without TLS, or a certificate that fails verification, is a configuration error (hp exits 2) naming TLS; tls=preferred falls back to a plain connection.",
		"Partitioned reads (hp cp snap --parallel N) cut a table into N ranges of the first primary-key column when it is an integer (from its MIN to its MAX; the first range is open below, the last above), each read on its own connection; other tables are read whole by one slice. MySQL and MariaDB cannot share a snapshot between connections, so the read holds LOCK TABLES ... READ on one more connection (waiting at most 60 s for open writes to the table to commit, then failing) until every slice has started a transaction WITH CONSISTENT SNAPSHOT: writers to the table wait those few milliseconds, and all slices see the table at one point in time. While the lock waits for a long open write, new writes to the table queue behind it, as with mysqldump's locks. Without the LOCK TABLES privilege the slices are consistent each by itself, not with each other (a warning says so). Query reads cannot be split.",
		"Table reads on plain connections (no TLS, no compression) send their query on the driver's connection (tables with float columns as a prepared statement) and read the rows off the socket without a per-value allocation; TLS or compressed connections, and query reads, go through the driver.",
	},
	Features: []sdk.Capability{sdk.CapReadQuery, sdk.CapReadPartitions, sdk.CapChecksumRanges, sdk.CapMaintainChecksums},
}

var dialect = &sqlsource.Dialect{
	Open:         open,
	QuoteIdent:   quoteIdent,
	VersionQuery: "SELECT VERSION()",
	ListObjects:  listObjects,
	Columns:      columns,
	PrimaryKey:   primaryKey,
	Map:          mapType,
	DDLType:      ddlType,
	KeyType:      keyType,
	// Strict: a value that does not fit fails the write instead of being
	// truncated or zeroed.
	WriteSession: []string{"SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@SESSION.sql_mode, ''), 'STRICT_ALL_TABLES')"},
	// A cancelled write's statement is killed: the server would run it
	// on after its connection closed, holding its locks.
	KillQuery: func(id int64) string { return "KILL QUERY " + strconv.FormatInt(id, 10) },
	SessionID: "SELECT CONNECTION_ID()",
	MergeDelete: func(target, last string, on []string) string {
		return "DELETE t FROM " + target + " t JOIN " + last + " l ON " + strings.Join(on, " AND ")
	},
	Classify: classify,
	Query:    query,
	Literal:  literal,
	SQL:      sqlguard.MySQL,
	Slices:   splitTable,
	Checksum: checksumSQL,
	Maintain: maintainSQL,
}

func quoteIdent(id string) string { return "`" + strings.ReplaceAll(id, "`", "``") + "`" }

// open converts mysql://user:pass@host:port/db?params to the driver's DSN.
func open(conn sdk.Connection) (*sql.DB, error) {
	u, err := sdk.ParseURL(conn.DSN)
	if err != nil {
		return nil, err
	}
	if (u.Scheme != "mysql" && u.Scheme != "mariadb") || u.Host == "" {
		return nil, sdk.InvalidArgumentf("MySQL DSN %s must look like mysql://user:password@host:port/database", sdk.MaskDSN(conn.DSN))
	}
	cfg := gomysql.NewConfig()
	cfg.Net, cfg.Addr = "tcp", u.Host
	if u.Port() == "" {
		cfg.Addr = u.Host + ":3306"
	}
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	params := u.Query()
	extra := url.Values{}
	for k, v := range params {
		extra[k] = v
	}
	// The connector decodes text itself; the session is UTC so DATETIME and
	// TIMESTAMP read back as written.
	extra.Set("parseTime", "false")
	// Another zone would shift TIMESTAMP values as they are read and the
	// range literals of a delta against them: rows would be skipped.
	switch tz := strings.Trim(extra.Get("time_zone"), `'"`); tz {
	case "", "+00:00", "UTC":
		extra.Set("time_zone", "'+00:00'")
	default:
		return nil, sdk.InvalidArgumentf("MySQL DSN %s sets time_zone=%s: hp reads and compares times in UTC and sets the session's zone itself; remove time_zone from the DSN", sdk.MaskDSN(conn.DSN), tz)
	}
	dsn := cfg.FormatDSN()
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	parsed, err := gomysql.ParseDSN(dsn + sep + extra.Encode())
	if err != nil {
		return nil, sdk.InvalidArgumentf("MySQL DSN %s: %s", sdk.MaskDSN(conn.DSN), sdk.MaskIn(err.Error(), conn.DSN))
	}
	// Reads use the socket itself (wire.go) where it carries the protocol
	// as is: not under TLS or compression.
	bc := binaryConnector{readTimeout: parsed.ReadTimeout, writeTimeout: parsed.WriteTimeout}
	bc.wire = plainSocket(parsed)
	if bc.wire {
		parsed.DialFunc = dial
	}
	c, err := gomysql.NewConnector(parsed)
	if err != nil {
		return nil, sdk.InvalidArgumentf("MySQL DSN %s: %s", sdk.MaskDSN(conn.DSN), sdk.MaskIn(err.Error(), conn.DSN))
	}
	bc.Connector = c
	return sql.OpenDB(bc), nil
}

func classify(err error) error {
	var me *gomysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1146, 1049, 1054:
			return fmt.Errorf("%w: %s", sdk.ErrNotFound, me.Message)
		case 1045, 1044:
			return fmt.Errorf("%w: %s", sdk.ErrUnauthenticated, me.Message)
		case 1142, 1143:
			return fmt.Errorf("%w: %s", sdk.ErrPermissionDenied, me.Message)
		case 1064:
			return fmt.Errorf("%w: %s", sdk.ErrInvalidArgument, me.Message)
		}
		return fmt.Errorf("MySQL error %d: %s", me.Number, me.Message)
	}
	var (
		verify    *tls.CertificateVerificationError
		authority x509.UnknownAuthorityError
		host      x509.HostnameError
	)
	switch {
	case errors.Is(err, gomysql.ErrNoTLS):
		return fmt.Errorf("%w: the MySQL server does not offer TLS, which the DSN requires (tls=true, skip-verify or a named config): "+
			"enable TLS on the server, or use tls=preferred or no tls parameter", sdk.ErrInvalidArgument)
	case errors.As(err, &verify) || errors.As(err, &authority) || errors.As(err, &host):
		return fmt.Errorf("%w: the MySQL server's TLS certificate was rejected (check the CA and the host name, or tls=skip-verify for a test server): %v",
			sdk.ErrInvalidArgument, err)
	}
	if strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "i/o timeout") {
		return fmt.Errorf("%w: %v", sdk.ErrUnavailable, err)
	}
	return err
}

func listObjects(ctx context.Context, db *sql.DB, schema string) ([]sdk.ObjectInfo, error) {
	return sqlsource.QueryObjects(ctx, db, `SELECT table_schema, table_name, table_type FROM information_schema.tables
		WHERE table_schema = COALESCE(NULLIF(?, ''), DATABASE()) ORDER BY 1, 2`, schema)
}

func columns(ctx context.Context, db *sql.DB, ref sdk.ObjectRef) ([]sqlsource.ColumnMeta, error) {
	return sqlsource.QueryColumns(ctx, db, ref, `SELECT column_name, column_type, is_nullable = 'YES' FROM information_schema.columns
		WHERE table_schema = COALESCE(NULLIF(?, ''), DATABASE()) AND table_name = ? ORDER BY ordinal_position`, ref.Schema, ref.Name)
}

func primaryKey(ctx context.Context, db *sql.DB, ref sdk.ObjectRef) ([]string, error) {
	return sqlsource.QueryStrings(ctx, db, `SELECT column_name FROM information_schema.key_column_usage
		WHERE table_schema = COALESCE(NULLIF(?, ''), DATABASE()) AND table_name = ? AND constraint_name = 'PRIMARY'
		ORDER BY ordinal_position`, ref.Schema, ref.Name)
}

var decimalPS = regexp.MustCompile(`^(?:decimal|numeric)\((\d+)(?:,(\d+))?\)`)

// intTypes are the Arrow types of MySQL's integers: signed, unsigned.
var intTypes = map[string][2]arrow.DataType{
	"tinyint":   {arrow.PrimitiveTypes.Int8, arrow.PrimitiveTypes.Uint8},
	"smallint":  {arrow.PrimitiveTypes.Int16, arrow.PrimitiveTypes.Uint16},
	"mediumint": {arrow.PrimitiveTypes.Int32, arrow.PrimitiveTypes.Uint32},
	"int":       {arrow.PrimitiveTypes.Int32, arrow.PrimitiveTypes.Uint32},
	"integer":   {arrow.PrimitiveTypes.Int32, arrow.PrimitiveTypes.Uint32},
	"bigint":    {arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Uint64},
}

// mapType maps information_schema column types ("bigint(20) unsigned") and,
// for queries, the driver's names ("UNSIGNED BIGINT", "DECIMAL").
func mapType(m sqlsource.ColumnMeta) (sqlsource.Mapping, error) {
	t := strings.ToLower(strings.TrimSpace(m.NativeType))
	unsigned := strings.Contains(t, "unsigned")
	base := strings.TrimPrefix(t, "unsigned ")
	if i := strings.IndexAny(base, "( "); i >= 0 {
		base = base[:i]
	}
	if p := decimalPS.FindStringSubmatch(t); p != nil || ((base == "decimal" || base == "numeric") && m.HasPrecision) {
		prec, scale := m.Precision, m.Scale
		if p != nil {
			prec, _ = strconv.ParseInt(p[1], 10, 64)
			scale, _ = strconv.ParseInt("0"+p[2], 10, 64)
		}
		dt, err := sqlsource.DecimalType(prec, scale)
		if err != nil {
			return sqlsource.Mapping{}, fmt.Errorf("%w: %v", sdk.ErrUnsupportedType, err)
		}
		return sqlsource.Mapping{Type: dt, Decode: sqlsource.DecodeDecimal, DecodeText: textDecimal(dt)}, nil
	}
	if pair, ok := intTypes[base]; ok {
		if unsigned {
			return sqlsource.Mapping{Type: pair[1], Decode: sqlsource.DecodeUint64, DecodeText: sqlsource.TextUint64, DecodeBinary: sqlsource.BinaryUint64}, nil
		}
		return sqlsource.Mapping{Type: pair[0], Decode: sqlsource.DecodeInt64, DecodeText: sqlsource.TextInt64, DecodeBinary: sqlsource.BinaryInt64}, nil
	}
	switch base {
	case "year":
		return sqlsource.Mapping{Type: arrow.PrimitiveTypes.Int16, Decode: sqlsource.DecodeInt64, DecodeText: sqlsource.TextInt64, DecodeBinary: sqlsource.BinaryInt64}, nil
	case "float":
		return sqlsource.Mapping{Type: arrow.PrimitiveTypes.Float32, Decode: sqlsource.DecodeFloat64, DecodeBinary: sqlsource.BinaryFloat64}, nil
	case "double", "real":
		return sqlsource.Mapping{Type: arrow.PrimitiveTypes.Float64, Decode: sqlsource.DecodeFloat64, DecodeBinary: sqlsource.BinaryFloat64}, nil
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob",
		"geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection", "geomcollection":
		return sqlsource.Mapping{Type: arrow.BinaryTypes.Binary, Decode: sqlsource.DecodeBinary, DecodeText: sqlsource.TextBinary}, nil
	case "bit":
		if t == "bit(1)" {
			return sqlsource.Mapping{Type: arrow.FixedWidthTypes.Boolean, Decode: decodeBit, DecodeText: textBit}, nil
		}
		return sqlsource.Mapping{Type: arrow.PrimitiveTypes.Uint64, Decode: decodeBit, DecodeText: textBit}, nil
	case "date":
		return zeroDateAsNull(sqlsource.Mapping{Type: arrow.FixedWidthTypes.Date32, DecodeText: sqlsource.TextDate32}), nil
	case "datetime", "timestamp":
		return zeroDateAsNull(sqlsource.Mapping{Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, DecodeText: sqlsource.TextTimestamp}), nil
	}
	return sqlsource.Mapping{Type: arrow.BinaryTypes.String, Decode: sqlsource.DecodeString, DecodeText: sqlsource.TextString}, nil
}

// zeroDateAsNull reads MySQL's zero dates as NULL and refuses dates with
// a zero month or day (stored unless sql_mode has NO_ZERO_IN_DATE): no
// calendar date holds them, and NULL would lose the year.
// Both protocols give dates as text (the driver formats binary ones).
func zeroDateAsNull(m sqlsource.Mapping) sqlsource.Mapping {
	next := m.DecodeText
	m.DecodeText = func(b array.Builder, s []byte) error {
		if len(s) >= 10 && s[4] == '-' && s[7] == '-' && (s[5] == '0' && s[6] == '0' || s[8] == '0' && s[9] == '0') {
			if string(s[:10]) == "0000-00-00" {
				b.AppendNull()
				return nil
			}
			return sdk.Errorf(sdk.ErrUnsupportedType, "value %s has a zero month or day, which no date can represent: select it as text in a query (CAST(col AS CHAR)) or filter it out", s)
		}
		return next(b, s)
	}
	// Binary rows hand over ordinary dates in the protocol's 4, 7 or 11
	// bytes (binwire.go), others as text.
	m.DecodeBinary = func(b array.Builder, raw []byte) error {
		switch len(raw) {
		case 4, 7, 11:
			return binaryDate(b, raw)
		}
		return m.DecodeText(b, raw)
	}
	m.Decode = func(b array.Builder, v driver.Value) error {
		switch x := v.(type) {
		case []byte:
			return m.DecodeText(b, x)
		case string:
			return m.DecodeText(b, []byte(x))
		}
		return fmt.Errorf("unexpected %T for a date", v)
	}
	return m
}

// decodeBit reads BIT values, which arrive as big-endian bytes.
func decodeBit(b array.Builder, v driver.Value) error {
	switch x := v.(type) {
	case []byte:
		return textBit(b, x)
	case int64:
		return textBit(b, binary.BigEndian.AppendUint64(nil, uint64(x)))
	}
	return fmt.Errorf("unexpected %T for BIT", v)
}

// textBit is decodeBit of the bytes the server sent.
func textBit(b array.Builder, raw []byte) error {
	var n uint64
	for _, c := range raw {
		n = n<<8 | uint64(c)
	}
	switch x := b.(type) {
	case *array.BooleanBuilder:
		x.Append(n != 0)
	case *array.Uint64Builder:
		x.Append(n)
	default:
		return fmt.Errorf("BIT into %T", b)
	}
	return nil
}

// keyType keys text and binary columns with bounded types: InnoDB keys
// hold 3072 bytes, 768 utf8mb4 characters, shared by the key's columns.
func keyType(t arrow.DataType, nkeys int) (string, error) {
	switch t.(type) {
	case *arrow.StringType, *arrow.LargeStringType:
		return fmt.Sprintf("VARCHAR(%d)", 768/nkeys), nil
	case *arrow.BinaryType, *arrow.LargeBinaryType, *arrow.FixedSizeBinaryType:
		return fmt.Sprintf("VARBINARY(%d)", 3072/nkeys), nil
	}
	return ddlType(t)
}

func ddlType(t arrow.DataType) (string, error) {
	switch x := t.(type) {
	case *arrow.Int8Type:
		return "TINYINT", nil
	case *arrow.Int16Type:
		return "SMALLINT", nil
	case *arrow.Int32Type:
		return "INT", nil
	case *arrow.Int64Type:
		return "BIGINT", nil
	case *arrow.Uint8Type:
		return "TINYINT UNSIGNED", nil
	case *arrow.Uint16Type:
		return "SMALLINT UNSIGNED", nil
	case *arrow.Uint32Type:
		return "INT UNSIGNED", nil
	case *arrow.Uint64Type:
		return "BIGINT UNSIGNED", nil
	case *arrow.Float32Type:
		return "FLOAT", nil
	case *arrow.Float64Type:
		return "DOUBLE", nil
	case *arrow.StringType, *arrow.LargeStringType:
		return "LONGTEXT", nil
	case *arrow.BinaryType, *arrow.LargeBinaryType, *arrow.FixedSizeBinaryType:
		return "LONGBLOB", nil
	case *arrow.BooleanType:
		return "BOOLEAN", nil
	case *arrow.Date32Type:
		return "DATE", nil
	case *arrow.TimestampType:
		return "DATETIME(6)", nil
	case *arrow.Decimal128Type:
		return fmt.Sprintf("DECIMAL(%d,%d)", x.Precision, x.Scale), nil
	case *arrow.Decimal256Type:
		if x.Precision > 65 {
			return "", sdk.Errorf(sdk.ErrUnsupportedType, "MySQL decimals hold 65 digits, not %d", x.Precision)
		}
		return fmt.Sprintf("DECIMAL(%d,%d)", x.Precision, x.Scale), nil
	}
	return "", sdk.Errorf(sdk.ErrUnsupportedType, "MySQL has no column type for %s", t)
}
