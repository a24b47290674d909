package odbc

import "github.com/halfpipe-io/halfpipe/sdk"

var info = sdk.Info{
	Name:        "odbc",
	Version:     Version,
	Description: "Any database with an ODBC driver (unixODBC); exact decimals, block cursors",
	Schemes:     []string{"odbc"},
	DSNFormat:   dsnForms,
	DSNExample:  "odbc+postgres://etl:secret@db.example.com:5432/shop?driver=PostgreSQL+Unicode",
	// LD_LIBRARY_PATH: drivers and unixODBC itself may live outside the
	// loader's default directories (/opt/lib on AWS Lambda).
	Env: []string{"ODBCSYSINI", "ODBCINI", "ODBCINSTINI", "FREETDSCONF", "FREETDS", "LD_LIBRARY_PATH"},
	Options: []sdk.OptionSpec{
		{Name: "chunk_rows", Type: "int", Default: "50000", Description: "MySQL/MariaDB table reads: rows a chunk asks for (reads go in chunks by primary key, since MariaDB Connector/ODBC holds a whole result in memory); 0 reads in one query"},
		{Name: "login_timeout", Type: "duration", Description: "How long connecting may take (SQL_ATTR_LOGIN_TIMEOUT, whole seconds); default: the driver's"},
	},
	TypeMappings: []sdk.TypeMapping{
		{NativeType: "SQL_BIT", ArrowType: "bool"},
		{NativeType: "SQL_TINYINT / SMALLINT / INTEGER / BIGINT", ArrowType: "int8 / int16 / int32 / int64", Notes: "uint8 … uint64 when the driver says the column is unsigned (SQL_DESC_UNSIGNED, or 'unsigned' in the type name); SQL Server's tinyint is uint8"},
		{NativeType: "SQL_DECIMAL / SQL_NUMERIC (p,s)", ArrowType: "decimal128(p, s) up to 38 digits, decimal256(p, s) up to 76", Notes: "exact: fetched as text (SQL_C_CHAR), never through a float"},
		{NativeType: "SQL_DECIMAL / SQL_NUMERIC without a precision", ArrowType: "utf8", Notes: "the exact text (PostgreSQL's unconstrained numeric)"},
		{NativeType: "SQL_REAL / SQL_FLOAT, SQL_DOUBLE", ArrowType: "float32 / float64"},
		{NativeType: "SQL_CHAR, VARCHAR, LONGVARCHAR, WCHAR, WVARCHAR, WLONGVARCHAR", ArrowType: "utf8", Notes: "fetched as UTF-16 (SQL_C_WCHAR), surrogate pairs kept; long data in pieces, any size"},
		{NativeType: "SQL_BINARY, VARBINARY, LONGVARBINARY", ArrowType: "binary", Notes: "long data in pieces, any size"},
		{NativeType: "SQL_TYPE_DATE", ArrowType: "date32"},
		{NativeType: "SQL_TYPE_TIMESTAMP(n)", ArrowType: "timestamp[us] (n ≤ 6) or timestamp[ns]", Notes: "tz=UTC for PostgreSQL's timestamptz (the session runs in UTC) and MySQL/MariaDB datetime and timestamp (as the native connector); wall time otherwise"},
		{NativeType: "SQL_GUID", ArrowType: "utf8", Notes: "lower-case 8-4-4-4-12; upper-case from SQL Server, as the mssql connector"},
		{NativeType: "SQL Server time(n) (SQL_SS_TIME2)", ArrowType: "time64[ns]", Notes: "from the driver's text, as the mssql connector"},
		{NativeType: "SQL Server datetimeoffset(n) (SQL_SS_TIMESTAMPOFFSET)", ArrowType: "arrow.timestamp_with_offset (struct<timestamp: timestamp[us|ns, tz=UTC], offset_minutes: int16>)", Notes: "microseconds for n ≤ 6, else nanoseconds (1677-09-21 .. 2262-04-11); the instant and the offset from the driver's text, as the mssql connector"},
		{NativeType: "SQL Server rowversion (timestamp)", ArrowType: "uint64", Notes: "the 8 bytes read big-endian, as the mssql connector"},
		{NativeType: "SQL_TYPE_TIME, intervals and other types", ArrowType: "utf8", Notes: "the driver's text"},
	},
	Limits: []string{
		"Drivers come from odbcinst.ini (unixODBC; ODBCSYSINI moves it): an unknown driver name fails with the list of registered ones. odbc+postgres, odbc+mysql (odbc+mariadb) and odbc+sqlserver pick the first registered of the usual drivers when ?driver= is absent; other protocols (odbc+db2, odbc+netezza, ...) need ?driver= and use the generic dialect unless the server names itself PostgreSQL, MySQL, MariaDB or SQL Server.",
		"Result sets are fetched in blocks (SQL_ATTR_ROW_ARRAY_SIZE, column-wise binding, up to 1024 rows or about 1 MiB a fetch). Long columns (LONGVARCHAR, LONGVARBINARY, or declared longer than 4000 characters or 8000 bytes, e.g. PostgreSQL text) are bound too, 64 KiB a value in rowsets of about 8 MiB, where the driver reports SQL_GD_BLOCK, _BOUND, _ANY_ORDER and _ANY_COLUMN (psqlodbc; never MariaDB's driver, whose SQLGetData after SQLSetPos reads the wrong row); a longer value is read whole with SQLSetPos and SQLGetData. Other drivers bind the columns before the first long one and read the rest with SQLGetData, one row per fetch. A driver without block cursors (SQL_ATTR_ROW_ARRAY_SIZE refused), or one keeping a smaller size, is read in the rowsets it keeps, down to one row per fetch.",
		"Reads run in a read-only transaction: SQL_MODE_READ_ONLY, plus SET TRANSACTION READ ONLY (PostgreSQL) or START TRANSACTION READ ONLY (MySQL/MariaDB); with SQL Server and other databases each statement is vetted instead (one SELECT or WITH query).",
		"Writes insert each batch with arrays of bound parameters (SQL_ATTR_PARAMSET_SIZE, column-wise, up to 4096 rows or about 8 MiB an execution; one execution per row with a driver that takes no arrays), in one transaction; merge goes through a temporary staging table. MySQL/MariaDB commits on DDL, so a table hp creates there is created before the transaction and dropped if the write fails (a drop that fails too is named in the error).",
		"Memory is the driver's: through odbc-postgresql (UseDeclareFetch, 10,000 rows a fetch) a read stays flat; MariaDB Connector/ODBC 3.1 (Debian 12's 3.1.15) holds every result whole and has no streaming option, so MySQL/MariaDB table reads go in chunks of chunk_rows rows by primary key (ORDER BY key LIMIT n, then key > the last key), all in one REPEATABLE READ transaction WITH CONSISTENT SNAPSHOT: each row once, at one point in time. A table without a primary key, or keyed by TIMESTAMP, FLOAT, BIT, ENUM, SET or YEAR, a read ordered otherwise than by the key, query reads and partitioned reads run as one query whose whole result the driver holds (a warning is logged for table reads).",
		"A connection string in odbc://?connstr= is taken as written after the '=' (semicolons included); write its PWD= unencoded so that hp can mask it.",
		"SQL Server through FreeTDS (odbc+sqlserver://...?driver=FreeTDS; TDS 7.3 or later, FreeTDS's default being 7.4, for the date and time types): SQLColumns is sp_columns, which describes date, time, datetime2 and datetimeoffset to such clients as nvarchar; the sqlserver dialect takes their types from their names and sizes. Every type the mssql connector reads arrives as it does (tested value for value against the project's TDS test server, not a real SQL Server). Writes go as one prepared statement executed once a row (FreeTDS sends a parameter array as one request of sp_execute calls). Merge stages the rows in a #table (CREATE TABLE #…, filled by the same prepared statement) and applies the last row of each key with SELECT … INTO #…, DELETE … JOIN and INSERT … SELECT in the write's transaction (statements checked against the TDS test server only); the mssql connector's bulk copy and MERGE are faster. Sync (hp sync batch) stages the keys to delete in a #table too and deletes them first, in the same transaction (tested end to end from PostgreSQL through FreeTDS against the TDS test server, not a real SQL Server). The #tables' text columns are declared COLLATE DATABASE_DEFAULT, not tempdb's default: a text key column whose own collation is not the database's still fails a merge or sync with error 468 (Cannot resolve the collation conflict); the mssql connector stages in each column's own collation.",
	},
	Features: []sdk.Capability{sdk.CapReadQuery},
}
