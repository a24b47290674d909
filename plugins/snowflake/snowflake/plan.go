package snowflake

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

// Snowflake's largest VARCHAR and BINARY, the lengths of a VARCHAR or
// BINARY declared without one.
const (
	maxVarchar = 16777216
	maxBinary  = 8388608
)

// PlanTable implements sdk.TablePlanner (hp cp meta): the CREATE TABLE of
// a missing table in the types Write creates, with NOT NULL and the
// primary key (kept, not enforced, by Snowflake); for an existing table
// the ALTER TABLE statements that add the columns it lacks and widen the
// ones Snowflake can widen in place (a NUMBER's precision at the same
// scale, a VARCHAR's length), and with AllowDrop DROP COLUMN for the
// columns the schema lacks. Whatever else differs is a note.
func (c *Connector) PlanTable(ctx context.Context, req sdk.PlanTableRequest) (*sdk.TablePlan, error) {
	if req.Schema == nil || req.Schema.NumFields() == 0 {
		return nil, sdk.InvalidArgumentf("a plan for %s needs at least one column", req.Table)
	}
	for _, k := range req.PrimaryKey {
		if len(req.Schema.FieldIndices(k)) != 1 {
			return nil, sdk.InvalidArgumentf("primary key column %q is not a column of the schema", k)
		}
	}
	// A type Snowflake cannot hold fails before anything is read.
	create, err := planCreate(req.Table, req.Schema, req.PrimaryKey)
	if err != nil {
		return nil, err
	}
	src, existing, err := c.resolve(ctx, req.Conn, sdk.Source{Object: &req.Table})
	if errors.Is(err, sdk.ErrNotFound) {
		return &sdk.TablePlan{Statements: []string{create}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the columns of %s: %w", req.Table, err)
	}
	ref := src.Object
	table := sqlsource.QuoteDouble(ref.Schema) + "." + sqlsource.QuoteDouble(ref.Name)
	plan := &sdk.TablePlan{Exists: true}
	matched := map[string]bool{}
	for _, f := range req.Schema.Fields() {
		name := columnName(existing, f.Name)
		var m *sqlsource.ColumnMeta
		for i := range existing {
			if existing[i].Name == name {
				m = &existing[i]
			}
		}
		if m == nil {
			typ, _ := columnType(f) // checked by planCreate
			// Nullable whatever the field says: the rows already there
			// have no value for it.
			plan.Statements = append(plan.Statements, "ALTER TABLE "+table+" ADD COLUMN "+ident(f.Name)+" "+typ)
			if !f.Nullable {
				plan.Notes = append(plan.Notes, fmt.Sprintf("column %q is added nullable: the existing rows have no value for it", f.Name))
			}
			continue
		}
		matched[m.Name] = true
		stmt, note := widen(table, f, *m)
		if stmt != "" {
			plan.Statements = append(plan.Statements, stmt)
		}
		if note != "" {
			plan.Notes = append(plan.Notes, note)
		}
		if !m.Nullable && f.Nullable {
			plan.Notes = append(plan.Notes, fmt.Sprintf("column %q is NOT NULL and the schema's is nullable: left as is (rows with NULL will fail to load)", m.Name))
		}
	}
	for _, m := range existing {
		if matched[m.Name] {
			continue
		}
		if req.AllowDrop {
			plan.Statements = append(plan.Statements, "ALTER TABLE "+table+" DROP COLUMN "+sqlsource.QuoteDouble(m.Name))
		} else {
			plan.Notes = append(plan.Notes, fmt.Sprintf("column %q is not in the schema: kept (allow dropping to drop it)", m.Name))
		}
	}
	return plan, nil
}

// planCreate is the CREATE TABLE of cp meta: Write's types, NOT NULL for
// the fields that are not nullable, and the primary key.
func planCreate(ref sdk.ObjectRef, schema *arrow.Schema, keys []string) (string, error) {
	var cols []string
	for _, f := range schema.Fields() {
		typ, err := columnType(f)
		if err != nil {
			return "", err
		}
		col := ident(f.Name) + " " + typ
		if !f.Nullable {
			col += " NOT NULL"
		}
		cols = append(cols, col)
	}
	if len(keys) > 0 {
		q := make([]string, len(keys))
		for i, k := range keys {
			q[i] = ident(k)
		}
		cols = append(cols, "PRIMARY KEY ("+strings.Join(q, ", ")+")")
	}
	return "CREATE TABLE " + tableName(ref) + " (" + strings.Join(cols, ", ") + ")", nil
}

// snowType is a Snowflake type as the catalog names it (DATA_TYPE: TEXT
// for VARCHAR) with its precision and scale, a TIME's or TIMESTAMP's
// digits (in scale) or a TEXT's or BINARY's length (in prec).
type snowType struct {
	base        string
	prec, scale int64
}

// parseType reads a type columnType writes.
func parseType(decl string) snowType {
	base, args, _ := strings.Cut(strings.TrimSuffix(decl, ")"), "(")
	var n []int64
	for _, a := range strings.Split(args, ",") {
		if v, err := strconv.ParseInt(strings.TrimSpace(a), 10, 64); err == nil {
			n = append(n, v)
		}
	}
	t := snowType{base: base}
	switch base {
	case "NUMBER":
		t.prec, t.scale = n[0], n[1]
	case "VARCHAR":
		t.base, t.prec = "TEXT", maxVarchar
		if len(n) > 0 {
			t.prec = n[0]
		}
	case "BINARY":
		t.prec = maxBinary
	case "TIME", "TIMESTAMP_NTZ", "TIMESTAMP_LTZ", "TIMESTAMP_TZ":
		t.scale = n[0]
	}
	return t
}

// digits is how many fractional digits of a second a field's values
// carry: a column with as many holds them.
func digits(t arrow.DataType) int64 {
	unit := arrow.Nanosecond
	switch x := t.(type) {
	case *arrow.TimestampType:
		unit = x.Unit
	case *arrow.Time32Type:
		unit = x.Unit
	case *arrow.Time64Type:
		unit = x.Unit
	case arrow.ExtensionType:
		if st, ok := x.StorageType().(*arrow.StructType); ok && st.NumFields() > 0 {
			return digits(st.Field(0).Type)
		}
	}
	return int64(unit) * 3
}

// widen returns the ALTER that lets column m of table hold field f, or a
// note saying why it is left as is; both empty when m holds f already.
// Snowflake changes a column's type in place only to a NUMBER of more
// precision at the same scale or a longer VARCHAR.
func widen(table string, f arrow.Field, m sqlsource.ColumnMeta) (stmt, note string) {
	decl, _ := columnType(f)
	want := parseType(decl)
	have := snowType{base: baseType(m.NativeType), prec: m.Precision, scale: m.Scale}
	if want.base == "NUMBER" && have.base == "NUMBER" && !m.HasPrecision {
		have.prec, have.scale = 38, 0
	}
	alter := func(typ string) string {
		return "ALTER TABLE " + table + " ALTER COLUMN " + sqlsource.QuoteDouble(m.Name) + " SET DATA TYPE " + typ
	}
	if have.base == "VARCHAR" || have.base == "STRING" {
		have.base = "TEXT"
	}
	if want.base != have.base {
		return "", fmt.Sprintf("column %q is %s, the schema's %s needs %s: left as is", m.Name, m.NativeType, f.Type, decl)
	}
	switch want.base {
	case "NUMBER":
		intDigits := max(have.prec-have.scale, want.prec-want.scale)
		switch {
		case have.prec-have.scale >= want.prec-want.scale && have.scale >= want.scale:
			return "", ""
		case have.scale < want.scale:
			return "", fmt.Sprintf("column %q is %s, the schema's %s has more fraction digits: Snowflake cannot change a NUMBER's scale in place, left as is", m.Name, m.NativeType, decl)
		case intDigits+have.scale > 38:
			return "", fmt.Sprintf("column %q is %s: the schema's %s needs %d digits at scale %d, more than 38; left as is", m.Name, m.NativeType, decl, intDigits+have.scale, have.scale)
		}
		return alter(fmt.Sprintf("NUMBER(%d,%d)", intDigits+have.scale, have.scale)), ""
	case "TEXT":
		if m.HasPrecision && m.Precision < want.prec {
			return alter(decl), ""
		}
	case "BINARY":
		if m.HasPrecision && m.Precision < want.prec {
			return "", fmt.Sprintf("column %q is %s(%d), shorter than Snowflake's largest BINARY: left as is, longer values will fail to load", m.Name, m.NativeType, m.Precision)
		}
	case "TIME", "TIMESTAMP_NTZ", "TIMESTAMP_LTZ", "TIMESTAMP_TZ":
		if need := digits(f.Type); m.HasPrecision && m.Precision < need {
			return "", fmt.Sprintf("column %q is %s, the schema's %s has %d fractional digits: Snowflake cannot change them in place, left as is", m.Name, m.NativeType, f.Type, need)
		}
	}
	return "", ""
}
