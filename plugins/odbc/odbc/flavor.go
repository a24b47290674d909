package odbc

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/sqlguard"
	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

// flavor is what differs between the databases behind ODBC drivers:
// quoting, read-only transactions, catalogs, time zones and DDL. It is
// chosen from the DSN's <protocol> or from SQLGetInfo(SQL_DBMS_NAME);
// generic serves any other database with ANSI SQL.
type flavor struct {
	name  string
	quote func(string) string
	sql   sqlguard.Dialect
	// readOnly runs after a read-only transaction begins; empty: the
	// driver's SQL_MODE_READ_ONLY and, with checkSQL, sqlguard.
	readOnly []string
	// chunked: table reads go in chunks by primary key (chunk.go).
	chunked   bool
	checkSQL  bool
	nullsLast bool
	// catalogIsSchema: the user's schema is an ODBC catalog (MySQL's
	// databases).
	catalogIsSchema bool
	// currentSchema is the query of the default schema (or catalog).
	currentSchema string
	// tz is the Arrow time zone of a timestamp type.
	tz               func(typeName string) string
	transactionalDDL bool
	writeSession     []string
	// ddl names the column types of created tables; types absent from it
	// cannot be written. Decimals are "<decimal>(p,s)" up to maxDecimal.
	ddl         map[arrow.Type]string
	timestampTZ string
	maxDecimal  int32
	keyText     string // a text key column's type, %d its length; else ddl's
	mergeDelete func(target, last string, on []string) string
	// catalogType corrects the type SQLColumns (or a result set) reports
	// for a type name, given its COLUMN_SIZE: the SQL type, signedness
	// and fractional digits.
	catalogType func(typeName string, size int64) (ti typeInfo, digits int64, ok bool)
	// upperGUID renders GUIDs in upper case, as the database does.
	upperGUID bool
	// tempTable makes a merge's temporary tables; nil: CREATE TEMPORARY
	// TABLE.
	tempTable *sqlsource.TempTable
}

// deleteJoin deletes the target's rows that have a key in last, in the
// DELETE … FROM … JOIN form MySQL and SQL Server share.
func deleteJoin(target, last string, on []string) string {
	return "DELETE t FROM " + target + " t JOIN " + last + " l ON " + strings.Join(on, " AND ")
}

// sqlServerTemp: SQL Server's temporary tables are the session's #tables,
// created by CREATE TABLE or SELECT … INTO. Their text columns take the
// database's collation (COLLATE DATABASE_DEFAULT): a #table's default is
// tempdb's, and staged keys compared with the table's under another
// collation fail the merge (error 468, "Cannot resolve the collation
// conflict"). A key column of a collation other than the database's
// still conflicts (see the README's limits).
var sqlServerTemp = &sqlsource.TempTable{
	Name: func(name string) string { return "[#" + name + "]" },
	Create: func(table string, columns []string) string {
		cols := make([]string, len(columns))
		for i, c := range columns {
			cols[i] = textColumn.ReplaceAllString(c, "$1 COLLATE DATABASE_DEFAULT")
		}
		return "CREATE TABLE " + table + " (" + strings.Join(cols, ", ") + ")"
	},
	SelectInto: func(table, list, rest string) string {
		return "SELECT " + list + " INTO " + table + " " + rest
	},
}

// textColumn matches a column definition of a text type: the quoted
// name and the type.
var textColumn = regexp.MustCompile(`^(\[(?:[^\]]|\]\])*\] n?(?:var)?char(?:\((?:max|\d+)\))?)`)

var flavors = map[string]*flavor{
	"postgres": {
		name: "postgres", quote: sqlsource.QuoteDouble, sql: sqlguard.Postgres,
		readOnly: []string{"SET TRANSACTION READ ONLY"}, nullsLast: true, currentSchema: "SELECT current_schema()",
		tz: func(t string) string {
			if strings.Contains(t, "with time zone") || t == "timestamptz" {
				return "UTC"
			}
			return ""
		},
		transactionalDDL: true,
		ddl: map[arrow.Type]string{
			arrow.INT8: "smallint", arrow.INT16: "smallint", arrow.INT32: "integer", arrow.INT64: "bigint",
			arrow.UINT8: "smallint", arrow.UINT16: "integer", arrow.UINT32: "bigint", arrow.UINT64: "numeric(20,0)",
			arrow.FLOAT32: "real", arrow.FLOAT64: "double precision", arrow.STRING: "text", arrow.LARGE_STRING: "text",
			arrow.BINARY: "bytea", arrow.LARGE_BINARY: "bytea", arrow.BOOL: "boolean", arrow.DATE32: "date",
			arrow.TIMESTAMP: "timestamp(6)", arrow.DECIMAL128: "numeric", arrow.DECIMAL256: "numeric",
		},
		timestampTZ: "timestamptz(6)", maxDecimal: 1000,
	},
	"mysql": {
		name: "mysql", quote: func(id string) string { return "`" + strings.ReplaceAll(id, "`", "``") + "`" }, sql: sqlguard.MySQL,
		// One snapshot for every statement of a read (a chunked read's
		// chunks), whatever the server's default isolation.
		readOnly: []string{"SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"},
		chunked:  true, catalogIsSchema: true, currentSchema: "SELECT DATABASE()",
		tz: func(string) string { return "UTC" },
		// Strict: a value that does not fit fails the write, never truncated.
		writeSession: []string{"SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@SESSION.sql_mode, ''), 'STRICT_ALL_TABLES')", "SET time_zone = '+00:00'"},
		ddl: map[arrow.Type]string{
			arrow.INT8: "TINYINT", arrow.INT16: "SMALLINT", arrow.INT32: "INT", arrow.INT64: "BIGINT",
			arrow.UINT8: "TINYINT UNSIGNED", arrow.UINT16: "SMALLINT UNSIGNED", arrow.UINT32: "INT UNSIGNED", arrow.UINT64: "BIGINT UNSIGNED",
			arrow.FLOAT32: "FLOAT", arrow.FLOAT64: "DOUBLE", arrow.STRING: "LONGTEXT", arrow.LARGE_STRING: "LONGTEXT",
			arrow.BINARY: "LONGBLOB", arrow.LARGE_BINARY: "LONGBLOB", arrow.BOOL: "BOOLEAN", arrow.DATE32: "DATE",
			arrow.TIMESTAMP: "DATETIME(6)", arrow.DECIMAL128: "DECIMAL", arrow.DECIMAL256: "DECIMAL",
		},
		timestampTZ: "DATETIME(6)", maxDecimal: 65, keyText: "VARCHAR(%d)", mergeDelete: deleteJoin,
	},
	"sqlserver": {
		name: "sqlserver", quote: func(id string) string { return "[" + strings.ReplaceAll(id, "]", "]]") + "]" }, sql: sqlguard.SQLServer,
		checkSQL: true, currentSchema: "SELECT SCHEMA_NAME()",
		tz: func(t string) string { return map[bool]string{true: "UTC"}[t == "datetimeoffset"] },
		ddl: map[arrow.Type]string{
			arrow.INT8: "smallint", arrow.INT16: "smallint", arrow.INT32: "int", arrow.INT64: "bigint",
			arrow.UINT8: "tinyint", arrow.UINT16: "int", arrow.UINT32: "bigint", arrow.UINT64: "decimal(20,0)",
			arrow.FLOAT32: "real", arrow.FLOAT64: "float", arrow.STRING: "nvarchar(max)", arrow.LARGE_STRING: "nvarchar(max)",
			arrow.BINARY: "varbinary(max)", arrow.LARGE_BINARY: "varbinary(max)", arrow.BOOL: "bit", arrow.DATE32: "date",
			arrow.TIMESTAMP: "datetime2(7)", arrow.DECIMAL128: "decimal", arrow.DECIMAL256: "decimal",
		},
		timestampTZ: "datetimeoffset(7)", maxDecimal: 38, keyText: "nvarchar(%d)",
		transactionalDDL: true, catalogType: sqlServerCatalogType, upperGUID: true,
		mergeDelete: deleteJoin, tempTable: sqlServerTemp,
	},
	"generic": {
		name: "generic", quote: sqlsource.QuoteDouble, sql: sqlguard.Generic, checkSQL: true,
		tz: func(string) string { return "" },
		ddl: map[arrow.Type]string{
			arrow.INT8: "SMALLINT", arrow.INT16: "SMALLINT", arrow.INT32: "INTEGER", arrow.INT64: "BIGINT",
			arrow.UINT8: "SMALLINT", arrow.UINT16: "INTEGER", arrow.UINT32: "BIGINT", arrow.UINT64: "DECIMAL(20,0)",
			arrow.FLOAT32: "REAL", arrow.FLOAT64: "DOUBLE PRECISION", arrow.STRING: "VARCHAR(4000)", arrow.LARGE_STRING: "VARCHAR(4000)",
			arrow.BINARY: "VARBINARY(8000)", arrow.LARGE_BINARY: "VARBINARY(8000)", arrow.BOOL: "BOOLEAN", arrow.DATE32: "DATE",
			arrow.TIMESTAMP: "TIMESTAMP", arrow.DECIMAL128: "DECIMAL", arrow.DECIMAL256: "DECIMAL",
		},
		timestampTZ: "TIMESTAMP", maxDecimal: 38,
	},
}

// flavorOfDBMS chooses a flavor from SQLGetInfo(SQL_DBMS_NAME).
func flavorOfDBMS(name string) *flavor {
	n := strings.ToLower(name)
	switch {
	case strings.Contains(n, "postgres"):
		return flavors["postgres"]
	case strings.Contains(n, "mysql"), strings.Contains(n, "mariadb"):
		return flavors["mysql"]
	case strings.Contains(n, "sql server"):
		return flavors["sqlserver"]
	}
	return flavors["generic"]
}

// ddlType is the native type of a created column.
func (f *flavor) ddlType(t arrow.DataType) (string, error) {
	name, ok := f.ddl[t.ID()]
	if !ok {
		return "", sdk.Errorf(sdk.ErrUnsupportedType, "%s through ODBC has no column type for %s", f.name, t)
	}
	switch x := t.(type) {
	case arrow.DecimalType:
		if x.GetPrecision() > f.maxDecimal {
			return "", sdk.Errorf(sdk.ErrUnsupportedType, "%s decimals hold %d digits, not %d", f.name, f.maxDecimal, x.GetPrecision())
		}
		return fmt.Sprintf("%s(%d,%d)", name, x.GetPrecision(), x.GetScale()), nil
	case *arrow.TimestampType:
		if x.TimeZone != "" {
			return f.timestampTZ, nil
		}
	}
	return name, nil
}

// keyType is the type of a key column of a table created for a merge:
// MySQL and SQL Server cannot key unbounded text.
func (f *flavor) keyType(t arrow.DataType, nkeys int) (string, error) {
	if f.keyText != "" && (t.ID() == arrow.STRING || t.ID() == arrow.LARGE_STRING) {
		return fmt.Sprintf(f.keyText, 450/nkeys), nil
	}
	return f.ddlType(t)
}

// sqlServerCatalogType: SQL Server's tinyint is unsigned (0 to 255),
// which SQLColumns does not say; rowversion (timestamp) is a counter in
// binary(8), read as the mssql connector reads it. sp_columns, which FreeTDS calls for
// SQLColumns, reports the types SQL Server 2008 added to down-level
// clients as nvarchar (SQL_WVARCHAR), sized in characters; Microsoft's
// drivers call sp_columns_100 and get their own SQL types. Both give the
// type name and the same COLUMN_SIZE, whose excess over the
// fraction-less length is the point and the fractional digits.
func sqlServerCatalogType(typeName string, size int64) (typeInfo, int64, bool) {
	digits := func(whole int64) int64 { return max(size-whole-1, 0) }
	switch strings.ToLower(typeName) {
	case "tinyint":
		return typeInfo{sqlType: sqlTinyint, unsigned: true}, 0, true
	case "timestamp", "rowversion":
		return typeInfo{sqlType: sqlSSRowversion}, 0, true
	case "date":
		return typeInfo{sqlType: sqlTypeDate}, 0, true
	case "datetime2":
		return typeInfo{sqlType: sqlTypeTimestamp}, digits(19), true
	case "time":
		return typeInfo{sqlType: sqlSSTime2}, digits(8), true
	case "datetimeoffset":
		return typeInfo{sqlType: sqlSSTimestampOffset}, digits(26), true
	}
	return typeInfo{}, 0, false
}
