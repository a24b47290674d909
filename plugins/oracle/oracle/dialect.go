package oracle

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/godror/godror"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/sqlguard"
	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

// The catalog queries the dialect sends. Owners and names are bound as
// the catalog spells them (resolved first, see resolve).
const (
	// ColumnsQuery returns name, type, type owner (object types),
	// precision, scale and nullability (Y/N) of a table's visible columns.
	ColumnsQuery = `SELECT COLUMN_NAME, DATA_TYPE, DATA_TYPE_OWNER, DATA_PRECISION, DATA_SCALE, NULLABLE FROM ALL_TAB_COLUMNS ` +
		`WHERE OWNER = :1 AND TABLE_NAME = :2 ORDER BY COLUMN_ID`
	// PrimaryKeyQuery returns the primary key's columns in key order.
	PrimaryKeyQuery = `SELECT cc.COLUMN_NAME FROM ALL_CONSTRAINTS c JOIN ALL_CONS_COLUMNS cc ` +
		`ON cc.OWNER = c.OWNER AND cc.CONSTRAINT_NAME = c.CONSTRAINT_NAME ` +
		`WHERE c.OWNER = :1 AND c.TABLE_NAME = :2 AND c.CONSTRAINT_TYPE = 'P' ORDER BY cc.POSITION`
	// ObjectsQuery lists the tables and views of an owner, given as typed
	// (:1) and folded to upper case (:2).
	ObjectsQuery = `SELECT OWNER, OBJECT_NAME, OBJECT_TYPE FROM ALL_OBJECTS ` +
		`WHERE OWNER IN (:1, :2) AND OBJECT_TYPE IN ('TABLE', 'VIEW') AND SECONDARY = 'N' AND OBJECT_NAME NOT LIKE 'BIN$%' ` +
		`ORDER BY OWNER, OBJECT_NAME`
	// ResolveQuery finds the tables, views and synonyms an owner (:1, :2)
	// and name (:3, :4), each as typed and in upper case, may mean.
	ResolveQuery = `SELECT OWNER, OBJECT_NAME, OBJECT_TYPE FROM ALL_OBJECTS ` +
		`WHERE OWNER IN (:1, :2, 'PUBLIC') AND OBJECT_NAME IN (:3, :4) AND OBJECT_TYPE IN ('TABLE', 'VIEW', 'SYNONYM')`
	// ObjectTypeQuery says what a synonym's target is.
	ObjectTypeQuery = `SELECT OBJECT_TYPE FROM ALL_OBJECTS WHERE OWNER = :1 AND OBJECT_NAME = :2 AND OBJECT_TYPE IN ('TABLE', 'VIEW', 'SYNONYM')`
	// SynonymQuery returns what a synonym names.
	SynonymQuery = `SELECT TABLE_OWNER, TABLE_NAME, DB_LINK FROM ALL_SYNONYMS WHERE OWNER = :1 AND SYNONYM_NAME = :2`
	// CurrentSchemaQuery is the schema unqualified names resolve in.
	CurrentSchemaQuery = `SELECT SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA') FROM DUAL`
	// VersionQuery is what Check runs.
	VersionQuery = `SELECT BANNER FROM V$VERSION WHERE ROWNUM = 1`
)

// newDialect returns the dialect for one pair of fetch options; open
// connects (godror in production, a registered test driver in tests).
func newDialect(open func(sdk.Connection) (*sql.DB, error), prefetch, arraySize int) *sqlsource.Dialect {
	return &sqlsource.Dialect{
		Open:         open,
		QuoteIdent:   quoteIdent,
		Placeholder:  func(n int) string { return ":" + strconv.Itoa(n) },
		VersionQuery: VersionQuery,
		ListObjects:  listObjects,
		Columns:      columns,
		PrimaryKey: func(ctx context.Context, db *sql.DB, ref sdk.ObjectRef) ([]string, error) {
			return sqlsource.QueryStrings(ctx, db, PrimaryKeyQuery, ref.Schema, ref.Name)
		},
		Map:       mapType,
		Arg:       arg,
		Literal:   literal,
		DDLType:   ddlType,
		KeyType:   func(t arrow.DataType, _ int) (string, error) { return keyDDLType(t) },
		Classify:  classify,
		Query:     fetchQuery(prefetch, arraySize),
		NullsLast: true,
		SQL:       sqlguard.Oracle,
		Slices:    splitTable,
		// The default read-only transaction is Oracle's SET TRANSACTION
		// READ ONLY: every statement in it sees the database as of the
		// transaction's start, so a read is one point in time.
	}
}

// quoteIdent quotes an identifier; Oracle identifiers cannot hold '"'.
func quoteIdent(id string) string { return sqlsource.QuoteDouble(id) }

// fetchQuery runs a read with godror's statement options: prefetch rows
// (sent with the execute) and fetch array size (rows per round trip).
func fetchQuery(prefetch, arraySize int) func(ctx context.Context, dc any, q string, args []any, _ []sqlsource.ColumnMeta) (driver.Rows, error) {
	opts := []godror.Option{godror.PrefetchCount(prefetch), godror.FetchArraySize(arraySize)}
	return func(ctx context.Context, dc any, q string, args []any, _ []sqlsource.ColumnMeta) (driver.Rows, error) {
		pc, ok := dc.(driver.ConnPrepareContext)
		if !ok {
			return nil, fmt.Errorf("driver connection %T cannot prepare statements", dc)
		}
		st, err := pc.PrepareContext(ctx, q)
		if err != nil {
			return nil, err
		}
		if nc, ok := st.(driver.NamedValueChecker); ok {
			for _, o := range opts {
				// godror applies an Option to the statement and drops it.
				if err := nc.CheckNamedValue(&driver.NamedValue{Value: o}); err != nil && !errors.Is(err, driver.ErrRemoveArgument) {
					st.Close()
					return nil, err
				}
			}
		}
		named := make([]driver.NamedValue, len(args))
		for i, a := range args {
			named[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
		}
		rows, err := st.(driver.StmtQueryContext).QueryContext(ctx, named)
		if err != nil {
			st.Close()
			return nil, err
		}
		return sqlsource.StmtRows(rows, st), nil
	}
}

func listObjects(ctx context.Context, db *sql.DB, schema string) ([]sdk.ObjectInfo, error) {
	if schema == "" {
		var err error
		if schema, err = currentSchema(ctx, db); err != nil {
			return nil, err
		}
	}
	return sqlsource.QueryObjects(ctx, db, ObjectsQuery, schema, strings.ToUpper(schema))
}

func currentSchema(ctx context.Context, db *sql.DB) (string, error) {
	var s string
	if err := db.QueryRowContext(ctx, CurrentSchemaQuery).Scan(&s); err != nil {
		return "", fmt.Errorf("reading the current schema: %w", err)
	}
	return s, nil
}

// columns describes a resolved table's columns. NativeType is the type as
// declared: NUMBER(10,2), VARCHAR2, TIMESTAMP(6) WITH TIME ZONE, FLOAT(126),
// MDSYS.SDO_GEOMETRY for object types.
func columns(ctx context.Context, db *sql.DB, ref sdk.ObjectRef) ([]sqlsource.ColumnMeta, error) {
	rows, err := db.QueryContext(ctx, ColumnsQuery, ref.Schema, ref.Name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []sqlsource.ColumnMeta
	for rows.Next() {
		var (
			m               sqlsource.ColumnMeta
			typ, nullable   string
			owner           sql.NullString
			precision, scle sql.NullInt64
		)
		if err := rows.Scan(&m.Name, &typ, &owner, &precision, &scle, &nullable); err != nil {
			return nil, err
		}
		m.Nullable = nullable != "N"
		switch {
		case owner.Valid && owner.String != "" && typ != "XMLTYPE":
			m.NativeType = owner.String + "." + typ
		case typ == "NUMBER" && precision.Valid:
			m.NativeType = fmt.Sprintf("NUMBER(%d,%d)", precision.Int64, scle.Int64)
			m.Precision, m.Scale, m.HasPrecision = precision.Int64, scle.Int64, true
		case typ == "NUMBER" && scle.Valid: // NUMBER(*,s), e.g. INTEGER
			m.NativeType = fmt.Sprintf("NUMBER(*,%d)", scle.Int64)
		case typ == "FLOAT":
			m.NativeType = fmt.Sprintf("FLOAT(%d)", precision.Int64)
		default:
			m.NativeType = typ
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

// resolve finds the table or view a name means, as Oracle resolves it: an
// unquoted name is folded to upper case, so hp tries the name as typed,
// then in upper case (the owner likewise; no owner is the current
// schema). A synonym (private, then PUBLIC when no owner is given) is
// followed to its table. The result is spelt as the catalog spells it.
func resolve(ctx context.Context, db *sql.DB, ref sdk.ObjectRef) (sdk.ObjectRef, error) {
	owner := ref.Schema
	if owner == "" {
		var err error
		if owner, err = currentSchema(ctx, db); err != nil {
			return ref, err
		}
	}
	rows, err := db.QueryContext(ctx, ResolveQuery, owner, strings.ToUpper(owner), ref.Name, strings.ToUpper(ref.Name))
	if err != nil {
		return ref, err
	}
	type object struct{ owner, name, kind string }
	var found []object
	for rows.Next() {
		var o object
		if err := rows.Scan(&o.owner, &o.name, &o.kind); err != nil {
			rows.Close()
			return ref, err
		}
		found = append(found, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return ref, err
	}
	// The best match: owner as typed over upper case over PUBLIC (only
	// for names without an owner), then the name as typed.
	rank := func(o object) int {
		r := 0
		switch {
		case o.owner == owner:
		case o.owner == strings.ToUpper(owner):
			r += 2
		case o.owner == "PUBLIC" && ref.Schema == "" && o.kind == "SYNONYM":
			r += 4
		default:
			return -1
		}
		if o.name != ref.Name {
			r++
		}
		return r
	}
	best := -1
	for i, o := range found {
		if rank(o) >= 0 && (best < 0 || rank(o) < rank(found[best])) {
			best = i
		}
	}
	if best < 0 {
		return ref, sdk.NotFoundf("table %s does not exist (Oracle folds unquoted names to upper case: hp looked for %s.%s as typed and in upper case, and for synonyms)", ref, owner, ref.Name)
	}
	o := found[best]
	for hops := 0; o.kind == "SYNONYM"; hops++ {
		if hops == 8 {
			return ref, sdk.InvalidArgumentf("synonym %s: more than 8 synonyms in a chain", ref)
		}
		var link sql.NullString
		var to object
		if err := db.QueryRowContext(ctx, SynonymQuery, o.owner, o.name).Scan(&to.owner, &to.name, &link); err != nil {
			return ref, fmt.Errorf("resolving synonym %s.%s: %w", o.owner, o.name, err)
		}
		if link.Valid && link.String != "" {
			return ref, sdk.Errorf(sdk.ErrUnimplemented, "synonym %s.%s names %s.%s@%s over a database link, whose columns the local catalog does not describe: read it through --query", o.owner, o.name, to.owner, to.name, link.String)
		}
		// What a synonym names is spelt exactly: it is a table, a view or
		// another synonym.
		to.kind = "TABLE"
		if err := db.QueryRowContext(ctx, ObjectTypeQuery, to.owner, to.name).Scan(&to.kind); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return ref, sdk.NotFoundf("synonym %s.%s names %s.%s, which does not exist or is not visible to this user", o.owner, o.name, to.owner, to.name)
			}
			return ref, err
		}
		o = to
	}
	return sdk.ObjectRef{Schema: o.owner, Name: o.name}, nil
}

// resolveColumn finds a column as Oracle would: as typed, else in upper
// case (an unquoted name).
func resolveColumn(cols []sqlsource.ColumnMeta, name string) string {
	for _, m := range cols {
		if m.Name == name {
			return name
		}
	}
	for _, m := range cols {
		if m.Name == strings.ToUpper(name) {
			return m.Name
		}
	}
	return name
}

// arg binds a range value in the column's own type: NUMBER bounds as
// godror.Number (Oracle NUMBER, not text converted by NLS settings).
func arg(v *sdk.Value, col sqlsource.ColumnMeta) any {
	if v.Kind == sdk.KindDecimal || (v.Kind == sdk.KindString && isNumber(col)) {
		return godror.Number(v.Str)
	}
	return v.Arg()
}

func isNumber(col sqlsource.ColumnMeta) bool {
	t := strings.ToUpper(col.NativeType)
	return strings.HasPrefix(t, "NUMBER") || strings.HasPrefix(t, "FLOAT(")
}

// literal writes a time bound as a typed literal of the column's own type,
// so that the column is compared as itself (an index on it serves), never
// converted to the bound's type: a DATE as TO_DATE, a TIMESTAMP as a
// TIMESTAMP literal, a zoned column as a TIMESTAMP WITH TIME ZONE in UTC.
func literal(v *sdk.Value, col sqlsource.ColumnMeta) (string, bool) {
	if v.Kind != sdk.KindTimestamp {
		return "", false
	}
	t := v.Time.UTC()
	typ := strings.ToUpper(col.NativeType)
	switch {
	case typ == "DATE" && t.Nanosecond() == 0:
		return "TO_DATE('" + t.Format("2006-01-02 15:04:05") + "', 'YYYY-MM-DD HH24:MI:SS')", true
	case strings.HasSuffix(typ, "TIME ZONE"):
		return "TIMESTAMP '" + t.Format("2006-01-02 15:04:05.999999999") + " +00:00'", true
	}
	return "TIMESTAMP '" + t.Format("2006-01-02 15:04:05.999999999") + "'", true
}
