package snowflake

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/sqlguard"
	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

// The catalog queries the source sends; schema and table are bound as
// the catalog spells them.
const (
	// ColumnsQuery returns a table's columns in order: name, DATA_TYPE,
	// nullability (YES/NO), a NUMBER's precision and scale, a TIME's or
	// TIMESTAMP's fractional digits and a TEXT's or BINARY's length.
	ColumnsQuery = `SELECT COLUMN_NAME, DATA_TYPE, IS_NULLABLE, NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION, CHARACTER_MAXIMUM_LENGTH ` +
		`FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`
	// TablesQuery lists the tables and views of a schema.
	TablesQuery = `SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME`
	// CurrentSchemaQuery is the schema unqualified names resolve in.
	CurrentSchemaQuery = `SELECT CURRENT_SCHEMA()`
)

// sourceDialect reads Snowflake through the generic SQL reader, on
// gosnowflake's JSON result rows: NUMBER arrives as its exact decimal
// text and is parsed into decimal128, never through a float.
var sourceDialect = &sqlsource.Dialect{
	Open:         openSource,
	VersionQuery: "SELECT CURRENT_VERSION()",
	ListObjects:  listObjects,
	Columns:      columns,
	PrimaryKey:   primaryKey,
	Map:          mapType,
	Literal:      literal,
	Classify:     classifyKind,
	NullsLast:    true, // Snowflake's DEFAULT_NULL_ORDERING is LAST
	SQL:          sqlguard.Generic,
	// gosnowflake has no read-only transactions, and needs none: every
	// read is one SELECT, and one statement sees the table as of one
	// point in time (Snowflake's statement-level snapshot). CheckSQL
	// keeps a --query to one statement that only reads.
	ReadOnly: func(context.Context, any) (func() error, error) { return func() error { return nil }, nil },
	CheckSQL: func(q string) error { return sqlguard.Read(sqlguard.Generic, q) },
}

// Describe describes a table (its columns from INFORMATION_SCHEMA.COLUMNS,
// its key from SHOW PRIMARY KEYS) or a query.
func (c *Connector) Describe(ctx context.Context, conn sdk.Connection, src sdk.Source) (*sdk.Description, error) {
	src, _, err := c.resolve(ctx, conn, src)
	if err != nil {
		return nil, err
	}
	return c.src.Describe(ctx, conn, src)
}

// Read reads a table or a query in one SELECT.
func (c *Connector) Read(ctx context.Context, req sdk.ReadRequest) (array.RecordReader, error) {
	src, cols, err := c.resolve(ctx, req.Conn, req.Source)
	if err != nil {
		return nil, err
	}
	req.Source = src
	if cols != nil {
		req.Columns = slices.Clone(req.Columns)
		for i, n := range req.Columns {
			req.Columns[i] = columnName(cols, n)
		}
		if req.Range != nil {
			rf := *req.Range
			rf.Column = columnName(cols, rf.Column)
			req.Range = &rf
		}
		req.OrderBy = slices.Clone(req.OrderBy)
		for i := range req.OrderBy {
			req.OrderBy[i].Column = columnName(cols, req.OrderBy[i].Column)
		}
	}
	return c.src.Read(ctx, req)
}

// Bounds computes a column's MIN, MAX and counts in one SELECT.
func (c *Connector) Bounds(ctx context.Context, req sdk.BoundsRequest) (*sdk.Bounds, error) {
	src, cols, err := c.resolve(ctx, req.Conn, req.Source)
	if err != nil {
		return nil, err
	}
	req.Source = src
	if cols != nil {
		req.Column = columnName(cols, req.Column)
		if req.Range != nil {
			rf := *req.Range
			rf.Column = columnName(cols, rf.Column)
			req.Range = &rf
		}
	}
	return c.src.Bounds(ctx, req)
}

// ListObjects lists the tables and views of a schema (the connection's
// by default).
func (c *Connector) ListObjects(ctx context.Context, conn sdk.Connection, schema string) ([]sdk.ObjectInfo, error) {
	return c.src.ListObjects(ctx, conn, schema)
}

func listObjects(ctx context.Context, db *sql.DB, schema string) ([]sdk.ObjectInfo, error) {
	if schema == "" {
		var err error
		if schema, err = currentSchema(ctx, db); err != nil {
			return nil, err
		}
	}
	return sqlsource.QueryObjects(ctx, db, TablesQuery, fold(schema))
}

// fold is a name as Snowflake stores it when written unquoted: upper case
// if an unquoted identifier could spell it, else exactly as given (see
// ident).
func fold(name string) string {
	q := ident(name)
	return strings.ReplaceAll(q[1:len(q)-1], `""`, `"`)
}

func currentSchema(ctx context.Context, db *sql.DB) (string, error) {
	var s sql.NullString
	if err := db.QueryRowContext(ctx, CurrentSchemaQuery).Scan(&s); err != nil {
		return "", fmt.Errorf("reading the current schema: %w", err)
	}
	if !s.Valid || s.String == "" {
		return "", sdk.InvalidArgumentf("the session has no current schema: name the table's schema (schema.table) or give one in the DSN")
	}
	return s.String, nil
}

// db is a pool for conn, kept for the life of the plugin as the reader's
// own pools are.
func (c *Connector) db(conn sdk.Connection) (*sql.DB, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if db, ok := c.dbs[conn.DSN]; ok {
		return db, nil
	}
	db, err := openSource(conn)
	if err != nil {
		return nil, err
	}
	c.dbs[conn.DSN] = db
	return db, nil
}

// resolve spells a table as the catalog does: its schema (the session's
// when none is given) and name folded as Snowflake folds unquoted names,
// else exactly as given. It returns the table's columns too.
func (c *Connector) resolve(ctx context.Context, conn sdk.Connection, src sdk.Source) (sdk.Source, []sqlsource.ColumnMeta, error) {
	if src.Object == nil {
		return src, nil, nil
	}
	db, err := c.db(conn)
	if err != nil {
		return src, nil, err
	}
	ref := *src.Object
	if ref.Schema == "" {
		if ref.Schema, err = currentSchema(ctx, db); err != nil {
			return src, nil, classify(err, conn.DSN)
		}
	}
	// A table's columns are read before its rows, by a statement of
	// their own: a read is one SELECT all the same.
	for _, s := range uniq(fold(ref.Schema), ref.Schema) {
		for _, n := range uniq(fold(ref.Name), ref.Name) {
			r := sdk.ObjectRef{Schema: s, Name: n}
			cols, err := columns(ctx, db, r)
			if err == nil {
				return sdk.Source{Object: &r}, cols, nil
			}
			if !errors.Is(err, sdk.ErrNotFound) {
				return src, nil, classify(err, conn.DSN)
			}
		}
	}
	return src, nil, sdk.NotFoundf("table %s does not exist (or this role may not see it)", src.Object)
}

func uniq(a, b string) []string {
	if a == b {
		return []string{a}
	}
	return []string{a, b}
}

// columnName is the catalog's spelling of a column the user named: as
// given, else folded.
func columnName(cols []sqlsource.ColumnMeta, name string) string {
	for _, n := range uniq(name, fold(name)) {
		for _, m := range cols {
			if m.Name == n {
				return n
			}
		}
	}
	return name
}

func columns(ctx context.Context, db *sql.DB, ref sdk.ObjectRef) ([]sqlsource.ColumnMeta, error) {
	rows, err := db.QueryContext(ctx, ColumnsQuery, ref.Schema, ref.Name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []sqlsource.ColumnMeta
	for rows.Next() {
		var (
			m                     sqlsource.ColumnMeta
			nullable              string
			prec, scale, datetime sql.NullInt64
			length                sql.NullInt64
		)
		if err := rows.Scan(&m.Name, &m.NativeType, &nullable, &prec, &scale, &datetime, &length); err != nil {
			return nil, err
		}
		m.Nullable = nullable != "NO"
		switch {
		case m.NativeType == "NUMBER" && prec.Valid:
			m.Precision, m.Scale, m.HasPrecision = prec.Int64, scale.Int64, true
			m.NativeType = fmt.Sprintf("NUMBER(%d,%d)", prec.Int64, scale.Int64)
		case datetime.Valid && strings.HasPrefix(m.NativeType, "TIME"): // TIME, TIMESTAMP_*
			m.Precision, m.HasPrecision = datetime.Int64, true
			m.NativeType = fmt.Sprintf("%s(%d)", m.NativeType, datetime.Int64)
		case length.Valid && (m.NativeType == "TEXT" || m.NativeType == "BINARY"):
			// The length, for PlanTable; NativeType stays the catalog's.
			m.Precision, m.HasPrecision = length.Int64, true
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, sdk.NotFoundf("table %s does not exist", ref)
	}
	return out, nil
}

// primaryKey reads SHOW PRIMARY KEYS: Snowflake keeps primary keys
// (without enforcing them) for tools such as hp.
func primaryKey(ctx context.Context, db *sql.DB, ref sdk.ObjectRef) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SHOW PRIMARY KEYS IN TABLE "+sqlsource.QuoteDouble(ref.Schema)+"."+sqlsource.QuoteDouble(ref.Name))
	if err != nil {
		return nil, err
	}
	type key struct {
		seq  int
		name string
	}
	var keys []key
	err = eachRow(rows, func(m map[string]sql.NullString) error {
		seq, err := strconv.Atoi(m["key_sequence"].String)
		if err != nil {
			return fmt.Errorf("SHOW PRIMARY KEYS: key_sequence %q", m["key_sequence"].String)
		}
		keys = append(keys, key{seq, m["column_name"].String})
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(keys, func(a, b key) int { return a.seq - b.seq })
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.name
	}
	return out, nil
}

// baseType is a type's name without its arguments, for the catalog's
// DATA_TYPE (NUMBER, TEXT, ...) and the driver's rowtype (FIXED, REAL, ...).
func baseType(native string) string {
	t, _, _ := strings.Cut(strings.ToUpper(strings.TrimSpace(native)), "(")
	return strings.TrimSpace(t)
}

// fracUnit is the Arrow unit that holds a time's fractional digits
// exactly: microseconds up to 6, nanoseconds beyond (and when the digits
// are unknown: Snowflake's default is 9).
func fracUnit(m sqlsource.ColumnMeta) arrow.TimeUnit {
	if m.HasPrecision && m.Precision <= 6 {
		return arrow.Microsecond
	}
	return arrow.Nanosecond
}

func mapType(m sqlsource.ColumnMeta) (sqlsource.Mapping, error) {
	switch baseType(m.NativeType) {
	case "NUMBER", "FIXED", "DECIMAL", "NUMERIC":
		p, s := m.Precision, m.Scale
		if !m.HasPrecision {
			p, s = 38, 0
		}
		t, err := sqlsource.DecimalType(p, s)
		return sqlsource.Mapping{Type: t, Decode: sqlsource.DecodeDecimal}, err
	case "FLOAT", "REAL", "DOUBLE":
		return sqlsource.Mapping{Type: arrow.PrimitiveTypes.Float64, Decode: sqlsource.DecodeFloat64}, nil
	case "TEXT", "VARCHAR", "STRING", "CHAR", "VARIANT", "OBJECT", "ARRAY":
		return sqlsource.Mapping{Type: arrow.BinaryTypes.String, Decode: sqlsource.DecodeString}, nil
	case "BINARY", "VARBINARY":
		return sqlsource.Mapping{Type: arrow.BinaryTypes.Binary, Decode: sqlsource.DecodeBinary}, nil
	case "BOOLEAN":
		return sqlsource.Mapping{Type: arrow.FixedWidthTypes.Boolean, Decode: sqlsource.DecodeBool}, nil
	case "DATE":
		return sqlsource.Mapping{Type: arrow.FixedWidthTypes.Date32, Decode: sqlsource.DecodeDate32}, nil
	case "TIME":
		unit := fracUnit(m)
		return sqlsource.Mapping{Type: &arrow.Time64Type{Unit: unit}, Decode: decodeTime(unit)}, nil
	case "TIMESTAMP_NTZ", "DATETIME":
		return sqlsource.Mapping{Type: &arrow.TimestampType{Unit: fracUnit(m)}, Decode: sqlsource.DecodeTimestamp}, nil
	case "TIMESTAMP_LTZ":
		return sqlsource.Mapping{Type: &arrow.TimestampType{Unit: fracUnit(m), TimeZone: "UTC"}, Decode: sqlsource.DecodeTimestamp}, nil
	case "TIMESTAMP_TZ":
		return sqlsource.Mapping{Type: sqlsource.TimestampWithOffset(fracUnit(m)), Decode: func(b array.Builder, v driver.Value) error {
			return sqlsource.DecodeOffsetTime(b, v, nil)
		}}, nil
	}
	return sqlsource.Mapping{}, sdk.Errorf(sdk.ErrUnsupportedType, "Snowflake type %s has no Arrow mapping: read it through --query as TO_VARCHAR(col) (GEOGRAPHY, GEOMETRY: ST_ASWKB(col))", m.NativeType)
}

// decodeTime appends a TIME, which gosnowflake hands over as that time of
// day on 0001-01-01.
func decodeTime(unit arrow.TimeUnit) sqlsource.Decoder {
	return func(b array.Builder, v driver.Value) error {
		t, ok := v.(time.Time)
		if !ok {
			return fmt.Errorf("unexpected %T for a time", v)
		}
		ns := int64(t.Hour())*int64(time.Hour) + int64(t.Minute())*int64(time.Minute) + int64(t.Second())*int64(time.Second) + int64(t.Nanosecond())
		if unit == arrow.Microsecond {
			ns /= 1000
		}
		b.(*array.Time64Builder).Append(arrow.Time64(ns))
		return nil
	}
}

// literal writes a range bound into the SQL as a literal of the column's
// own type, so that the column is compared as itself: a TIMESTAMP_NTZ
// bound as wall time, TIMESTAMP_LTZ and TIMESTAMP_TZ bounds as instants.
func literal(v *sdk.Value, col sqlsource.ColumnMeta) (string, bool) {
	switch v.Kind {
	case sdk.KindInt64:
		return strconv.FormatInt(v.Int, 10), true
	case sdk.KindUint64:
		return strconv.FormatUint(v.Uint, 10), true
	case sdk.KindDecimal:
		if _, err := sqlsource.ParseDecimal(v.Str, 38); err != nil {
			return "", false
		}
		return v.Str, true
	case sdk.KindFloat64:
		if math.IsNaN(v.Float) || math.IsInf(v.Float, 0) {
			return "", false
		}
		return sqlString(strconv.FormatFloat(v.Float, 'g', -1, 64)) + "::FLOAT", true
	case sdk.KindString:
		return sqlString(v.Str), true
	case sdk.KindBool:
		return strings.ToUpper(strconv.FormatBool(v.Bool)), true
	case sdk.KindDate:
		return sqlString(time.Unix(v.Int*86400, 0).UTC().Format("2006-01-02")) + "::DATE", true
	case sdk.KindTimestamp:
		t := v.Time.UTC()
		if baseType(col.NativeType) == "TIMESTAMP_NTZ" {
			return sqlString(t.Format("2006-01-02 15:04:05.000000000")) + "::TIMESTAMP_NTZ(9)", true
		}
		return sqlString(t.Format("2006-01-02 15:04:05.000000000 -07:00")) + "::TIMESTAMP_TZ(9)", true
	}
	return "", false
}
