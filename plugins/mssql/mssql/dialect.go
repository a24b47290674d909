package mssql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/golang-sql/civil"
	mssqldb "github.com/microsoft/go-mssqldb"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/sqlguard"
	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

// The catalog queries the dialect sends. Each takes one parameter, @p1:
// the quoted [schema].[name] of the table, resolved by OBJECT_ID (so a
// table without a schema resolves in the login's default schema).
const (
	// ColumnsQuery returns name, type, nullable, max_length (bytes, -1 for
	// max), precision, scale and collation (NULL but for character
	// columns) of every column, in order. Alias types report their base
	// type; CLR types (geography, ...) their own name.
	ColumnsQuery = `SELECT c.name, COALESCE(CASE WHEN t.is_user_defined = 0 THEN t.name END, TYPE_NAME(c.system_type_id), t.name), ` +
		`c.is_nullable, CAST(c.max_length AS int), CAST(c.precision AS int), CAST(c.scale AS int), c.collation_name ` +
		`FROM sys.columns c JOIN sys.types t ON t.user_type_id = c.user_type_id ` +
		`WHERE c.object_id = OBJECT_ID(@p1) ORDER BY c.column_id`
	// PrimaryKeyQuery returns the primary key's columns in key order.
	PrimaryKeyQuery = `SELECT c.name FROM sys.indexes i ` +
		`JOIN sys.index_columns ic ON ic.object_id = i.object_id AND ic.index_id = i.index_id ` +
		`JOIN sys.columns c ON c.object_id = ic.object_id AND c.column_id = ic.column_id ` +
		`WHERE i.object_id = OBJECT_ID(@p1) AND i.is_primary_key = 1 ORDER BY ic.key_ordinal`
	// ObjectsQuery lists tables and views, of one schema when @p1 is not ''.
	ObjectsQuery = `SELECT s.name, o.name, o.type_desc FROM sys.objects o JOIN sys.schemas s ON s.schema_id = o.schema_id ` +
		`WHERE o.type IN ('U', 'V') AND o.is_ms_shipped = 0 AND (@p1 = '' OR s.name = @p1) ORDER BY s.name, o.name`
	// VersionQuery is what Check runs.
	VersionQuery = "SELECT @@VERSION"
)

var dialect = &sqlsource.Dialect{
	Open:         open,
	QuoteIdent:   QuoteIdent,
	Placeholder:  func(n int) string { return "@p" + strconv.Itoa(n) },
	VersionQuery: VersionQuery,
	ListObjects:  listObjects,
	Columns: func(ctx context.Context, db *sql.DB, ref sdk.ObjectRef) ([]sqlsource.ColumnMeta, error) {
		return columns(ctx, db, ref)
	},
	PrimaryKey: primaryKey,
	Map:        mapType,
	Arg:        arg,
	Literal:    literal,
	Classify:   classify,
	// Write has its own (bulk copy), with the same types; PlanTable uses
	// them.
	DDLType:  ddlType,
	KeyType:  keyType,
	SQL:      sqlguard.SQLServer,
	ReadOnly: rollbackOnly,
	Slices:   splitTable,
	CheckSQL: func(q string) error {
		if err := sqlguard.Read(sqlguard.SQLServer, q); err != nil {
			return fmt.Errorf("SQL Server has no read-only transaction, so hp reads only what it can check is a read: %w", err)
		}
		return nil
	},
}

// rollbackOnly runs a read in a transaction that is always rolled back:
// SQL Server has no read-only transaction, and a write the text check
// missed is then undone (a login with only db_datareader is the real
// guard, see the limits).
func rollbackOnly(ctx context.Context, conn any) (func() error, error) {
	b, ok := conn.(driver.ConnBeginTx)
	if !ok {
		return nil, fmt.Errorf("driver connection %T cannot begin a transaction", conn)
	}
	tx, err := b.BeginTx(ctx, driver.TxOptions{})
	if err != nil {
		return nil, fmt.Errorf("beginning the read's transaction: %w", err)
	}
	return tx.Rollback, nil
}

// QuoteIdent quotes an identifier in brackets, doubling any ].
func QuoteIdent(id string) string { return "[" + strings.ReplaceAll(id, "]", "]]") + "]" }

// objectName is the quoted name OBJECT_ID resolves.
func objectName(ref sdk.ObjectRef) string {
	if ref.Schema == "" {
		return QuoteIdent(ref.Name)
	}
	return QuoteIdent(ref.Schema) + "." + QuoteIdent(ref.Name)
}

func listObjects(ctx context.Context, db *sql.DB, schema string) ([]sdk.ObjectInfo, error) {
	return sqlsource.QueryObjects(ctx, db, ObjectsQuery, schema)
}

// queryer is a *sql.DB or, for writes, a *sql.Tx.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func columns(ctx context.Context, db queryer, ref sdk.ObjectRef) ([]sqlsource.ColumnMeta, error) {
	cols, _, err := describe(ctx, db, ref)
	return cols, err
}

// describe returns a table's columns and the collations of its character
// columns, by name.
func describe(ctx context.Context, db queryer, ref sdk.ObjectRef) ([]sqlsource.ColumnMeta, map[string]string, error) {
	rows, err := db.QueryContext(ctx, ColumnsQuery, objectName(ref))
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var out []sqlsource.ColumnMeta
	collations := map[string]string{}
	for rows.Next() {
		var (
			m                        sqlsource.ColumnMeta
			typ                      string
			maxLen, precision, scale int64
			collation                sql.NullString
		)
		if err := rows.Scan(&m.Name, &typ, &m.Nullable, &maxLen, &precision, &scale, &collation); err != nil {
			return nil, nil, err
		}
		if collation.Valid && collation.String != "" {
			collations[m.Name] = collation.String
		}
		m.NativeType = nativeType(typ, maxLen, precision, scale)
		switch strings.ToLower(typ) {
		case "decimal", "numeric":
			m.Precision, m.Scale, m.HasPrecision = precision, scale, true
		case "time", "datetime2", "datetimeoffset":
			m.Scale = scale
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	if len(out) == 0 {
		return nil, nil, sdk.NotFoundf("table %s does not exist (or is not visible to this login)", ref)
	}
	return out, collations, nil
}

// nativeType renders a column's type as it would be declared.
func nativeType(typ string, maxLen, precision, scale int64) string {
	t := strings.ToLower(typ)
	length := func(n int64) string {
		if n < 0 {
			return t + "(max)"
		}
		return t + "(" + strconv.FormatInt(n, 10) + ")"
	}
	switch t {
	case "decimal", "numeric":
		return fmt.Sprintf("%s(%d,%d)", t, precision, scale)
	case "char", "varchar", "binary", "varbinary":
		return length(maxLen)
	case "nchar", "nvarchar":
		if maxLen > 0 {
			maxLen /= 2
		}
		return length(maxLen)
	case "time", "datetime2", "datetimeoffset":
		return fmt.Sprintf("%s(%d)", t, scale)
	}
	return t
}

func primaryKey(ctx context.Context, db *sql.DB, ref sdk.ObjectRef) ([]string, error) {
	return sqlsource.QueryStrings(ctx, db, PrimaryKeyQuery, objectName(ref))
}

// arg converts a range bound into a parameter of the column's own type,
// so SQL Server compares without converting the column (and can seek).
func arg(v *sdk.Value, col sqlsource.ColumnMeta) any {
	base := baseType(col.NativeType)
	switch v.Kind {
	case sdk.KindTimestamp:
		switch base {
		case "datetime", "smalldatetime":
			// Since compatibility level 130 SQL Server compares datetime
			// with datetime2 exactly (.003 is .0033333), so a bound read
			// from the column (.003) sent as datetime2 would miss its own
			// row. A value the column reads as goes out as datetime
			// (smalldatetime converts to it exactly); any other compares
			// exactly as datetime2. Columns without a zone hold UTC wall time.
			if t := v.Time.UTC(); onDatetimeTick(t) {
				return mssqldb.DateTime1(t)
			}
			return civil.DateTimeOf(v.Time.UTC())
		case "datetime2":
			return civil.DateTimeOf(v.Time.UTC())
		case "date":
			return civil.DateOf(v.Time.UTC())
		}
		return v.Time.UTC()
	case sdk.KindDate:
		return civil.DateOf(time.Unix(v.Int*86400, 0).UTC())
	case sdk.KindInt64:
		// A bigint parameter would make the server widen the column. The
		// driver sends int16 and uint8 as bigint, their Null forms as such.
		switch {
		case base == "int" && v.Int >= math.MinInt32 && v.Int <= math.MaxInt32:
			return int32(v.Int)
		case base == "smallint" && v.Int >= math.MinInt16 && v.Int <= math.MaxInt16:
			return sql.NullInt16{Int16: int16(v.Int), Valid: true}
		case base == "tinyint" && v.Int >= 0 && v.Int <= math.MaxUint8:
			return sql.NullByte{Byte: uint8(v.Int), Valid: true}
		}
		return v.Int
	case sdk.KindUint64:
		if base == "timestamp" || base == "rowversion" {
			return binary.BigEndian.AppendUint64(nil, v.Uint)
		}
		return strconv.FormatUint(v.Uint, 10)
	}
	return v.Arg()
}

// literal writes a decimal bound into the SQL: the driver has no decimal
// parameter (it would go as nvarchar text). The text is checked to be a
// plain decimal, so it carries no SQL; cast to the column's decimal(p,s)
// when it fits, else left as T-SQL's exact numeric literal.
func literal(v *sdk.Value, col sqlsource.ColumnMeta) (string, bool) {
	if v.Kind != sdk.KindDecimal || !plainDecimal.MatchString(v.Str) {
		return "", false
	}
	intPart, frac, _ := strings.Cut(strings.TrimLeft(v.Str, "+-"), ".")
	intPart = strings.TrimLeft(intPart, "0")
	base := baseType(col.NativeType)
	if (base == "decimal" || base == "numeric") && col.HasPrecision &&
		int64(len(frac)) <= col.Scale && int64(len(intPart)) <= col.Precision-col.Scale {
		return fmt.Sprintf("CAST(%s AS %s(%d,%d))", v.Str, base, col.Precision, col.Scale), true
	}
	if len(intPart)+len(frac) > 38 {
		return "", false
	}
	return v.Str, true
}

var plainDecimal = regexp.MustCompile(`^[+-]?[0-9]+(\.[0-9]+)?$`)

// Range of datetime: 1753-01-01 .. 9999-12-31 23:59:59.997.
var minDatetime, maxDatetime = time.Date(1753, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 997e6, time.UTC)

// onDatetimeTick reports whether t is a value a datetime column reads as:
// in range, a whole millisecond rounded from one of its 1/300 s ticks.
func onDatetimeTick(t time.Time) bool {
	if t.Before(minDatetime) || t.After(maxDatetime) || t.Nanosecond()%1e6 != 0 {
		return false
	}
	ms := t.Nanosecond() / 1e6
	tick := (ms*3 + 5) / 10    // the nearest tick
	return (tick*10+1)/3 == ms // that tick, rounded to milliseconds
}

// classify maps SQL Server errors to sdk error kinds.
func classify(err error) error {
	if isKind(err) {
		// Already classified (Kerberos setup errors): an errno inside
		// must not make it look like a network error.
		return err
	}
	var me mssqldb.Error
	if errors.As(err, &me) {
		msg := fmt.Sprintf("SQL Server error %d: %s", me.Number, me.Message)
		switch me.Number {
		case 18456, 18452, 18470, 18486, 18487, 18488:
			return fmt.Errorf("%w: %s", sdk.ErrUnauthenticated, msg)
		case 208, 207, 2812, 15151:
			return fmt.Errorf("%w: %s", sdk.ErrNotFound, msg)
		case 4060, 911:
			return fmt.Errorf("%w: %s", sdk.ErrNotFound, msg)
		case 229, 230, 262, 300, 916, 4834: // 4834: no permission to use bulk load
			return fmt.Errorf("%w: %s", sdk.ErrPermissionDenied, msg)
		case 102, 105, 156, 170, 245, 8114:
			return fmt.Errorf("%w: %s", sdk.ErrInvalidArgument, msg)
		}
		return errors.New(msg)
	}
	var ne net.Error
	if errors.As(err, &ne) || strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "unable to open tcp connection") {
		return fmt.Errorf("%w: %v", sdk.ErrUnavailable, err)
	}
	if strings.Contains(err.Error(), "Login failed") {
		return fmt.Errorf("%w: %v", sdk.ErrUnauthenticated, err)
	}
	return err
}
