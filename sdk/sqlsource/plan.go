package sqlsource

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/sqlguard"
)

// PlanTable implements sdk.TablePlanner with the DDL Write runs: the
// CREATE TABLE of a missing table is the one Write would issue (keyed by
// req.PrimaryKey); an existing table, read from the catalog (Columns),
// gets ALTER TABLE … ADD for the columns it lacks, a type change for a
// column whose type holds less than the field's (see holds), and, with
// AllowDrop, DROP COLUMN for the columns the schema lacks. Columns are
// matched by exact name. Types are compared as the native type Write
// would create for each side's Arrow type, so a VARCHAR(20) fits a text
// field: Arrow types carry no lengths.
func (c *Connector) PlanTable(ctx context.Context, req sdk.PlanTableRequest) (*sdk.TablePlan, error) {
	d := c.dialect
	if d.DDLType == nil {
		return nil, sdk.Errorf(sdk.ErrUnimplemented, "%s cannot create tables", c.info.Name)
	}
	if req.Schema == nil || req.Schema.NumFields() == 0 {
		return nil, sdk.InvalidArgumentf("a plan for %s needs at least one column", req.Table)
	}
	for _, k := range req.PrimaryKey {
		if len(req.Schema.FieldIndices(k)) != 1 {
			return nil, sdk.InvalidArgumentf("primary key column %q is not a column of the schema", k)
		}
	}
	db, err := c.db(req.Conn)
	if err != nil {
		return nil, err
	}
	existing, err := d.Columns(ctx, db, req.Table)
	if err != nil && !errors.Is(d.classifyOnly(err), sdk.ErrNotFound) {
		return nil, d.classify(fmt.Errorf("reading the columns of %s: %w", req.Table, err), req.Conn.DSN)
	}
	if err != nil || len(existing) == 0 {
		create, err := d.createSQL(req.Table, req.Schema, req.PrimaryKey)
		if err != nil {
			return nil, err
		}
		return &sdk.TablePlan{Statements: []string{create}}, nil
	}
	plan := &sdk.TablePlan{Exists: true}
	table := d.table(req.Table)
	have := make(map[string]ColumnMeta, len(existing))
	for _, m := range existing {
		have[m.Name] = m
	}
	for _, f := range req.Schema.Fields() {
		m, ok := have[f.Name]
		if !ok {
			t, err := d.fieldType(f, nil)
			if err != nil {
				return nil, err
			}
			// Nullable whatever the field says: the rows already there
			// have no value for it.
			plan.Statements = append(plan.Statements, "ALTER TABLE "+table+" ADD "+d.quote(f.Name)+" "+t)
			if !f.Nullable {
				plan.Notes = append(plan.Notes, fmt.Sprintf("column %q is added nullable: the existing rows have no value for it", f.Name))
			}
			continue
		}
		stmt, note, err := d.changeType(table, f, m)
		if err != nil {
			return nil, err
		}
		if stmt != "" {
			plan.Statements = append(plan.Statements, stmt)
		}
		if note != "" {
			plan.Notes = append(plan.Notes, note)
		}
	}
	for _, m := range existing {
		if len(req.Schema.FieldIndices(m.Name)) > 0 {
			continue
		}
		if req.AllowDrop {
			plan.Statements = append(plan.Statements, "ALTER TABLE "+table+" DROP COLUMN "+d.quote(m.Name))
		} else {
			plan.Notes = append(plan.Notes, fmt.Sprintf("column %q is not in the schema: kept (allow dropping to drop it)", m.Name))
		}
	}
	return plan, nil
}

// changeType returns the statement that widens column m of table to
// hold field f, or a note saying why it is left as is; both are empty
// when m already holds f.
func (d *Dialect) changeType(table string, f arrow.Field, m ColumnMeta) (stmt, note string, err error) {
	want, err := d.fieldType(f, nil)
	if err != nil {
		return "", "", err
	}
	mp, err := d.Map(m)
	if err != nil {
		return "", fmt.Sprintf("column %q (%s) has no Arrow type, so it is not compared: %v", m.Name, m.NativeType, err), nil
	}
	if got, err := d.DDLType(mp.Type); err == nil && got == want {
		return "", "", nil
	}
	switch {
	case holds(mp.Type, f.Type):
		return "", "", nil
	case !holds(f.Type, mp.Type):
		return "", fmt.Sprintf("column %q is %s (%s), the schema's %s: not a widening, left as is", m.Name, m.NativeType, mp.Type, f.Type), nil
	}
	q := d.quote(m.Name)
	switch d.SQL {
	case sqlguard.Postgres:
		return "ALTER TABLE " + table + " ALTER COLUMN " + q + " TYPE " + want, "", nil
	case sqlguard.MySQL:
		stmt = "ALTER TABLE " + table + " MODIFY COLUMN " + q + " " + want
		if !m.Nullable {
			stmt += " NOT NULL" // MODIFY restates the whole column
		}
		return stmt, "", nil
	case sqlguard.SQLServer:
		null := " NULL"
		if !m.Nullable {
			null = " NOT NULL"
		}
		return "ALTER TABLE " + table + " ALTER COLUMN " + q + " " + want + null, "", nil
	}
	return "", fmt.Sprintf("column %q is %s, narrower than the schema's %s, and this database's types are not changed in place", m.Name, m.NativeType, f.Type), nil
}

// holds reports whether every value of type b fits type a unchanged:
// a wider integer, float64 for float32, a decimal with at least as many
// integer and fraction digits, a timestamp as fine and as zoned, a text
// or binary type for another.
func holds(a, b arrow.DataType) bool {
	if arrow.TypeEqual(a, b) {
		return true
	}
	if ab, as, ok := intBits(a); ok {
		bb, bs, ok := intBits(b)
		return ok && (as == bs && ab >= bb || as && !bs && ab > bb)
	}
	switch x := a.(type) {
	case *arrow.Float64Type:
		return b.ID() == arrow.FLOAT32
	case arrow.DecimalType:
		y, ok := b.(arrow.DecimalType)
		return ok && x.GetPrecision()-x.GetScale() >= y.GetPrecision()-y.GetScale() && x.GetScale() >= y.GetScale()
	case *arrow.TimestampType:
		y, ok := b.(*arrow.TimestampType)
		return ok && (x.TimeZone == "") == (y.TimeZone == "") && x.Unit >= y.Unit
	case *arrow.StringType, *arrow.LargeStringType:
		return b.ID() == arrow.STRING || b.ID() == arrow.LARGE_STRING
	case *arrow.BinaryType, *arrow.LargeBinaryType:
		return b.ID() == arrow.BINARY || b.ID() == arrow.LARGE_BINARY || b.ID() == arrow.FIXED_SIZE_BINARY
	}
	return false
}

// intBits returns an integer type's width and whether it is signed.
func intBits(t arrow.DataType) (bits int, signed, ok bool) {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64:
		return t.(arrow.FixedWidthDataType).BitWidth(), true, true
	case arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return t.(arrow.FixedWidthDataType).BitWidth(), false, true
	}
	return 0, false, false
}
