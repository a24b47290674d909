package odbc

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/halfpipe-io/halfpipe/plugins/odbc/odbc/odbcdriver"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

// readAll drains a catalog result set into rows of strings ("" for NULL).
func readAll(rows driver.Rows, err error) ([][]string, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	dest := make([]driver.Value, len(rows.Columns()))
	var out [][]string
	for {
		if err := rows.Next(dest); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		row := make([]string, len(dest))
		for i, v := range dest {
			switch x := v.(type) {
			case nil:
			case []byte:
				row[i] = string(x)
			default:
				row[i] = fmt.Sprint(x)
			}
		}
		out = append(out, row)
	}
}

// scope turns the user's schema into the catalog and schema arguments of
// the catalog functions; an empty schema is the connection's current one
// where the flavor knows how to ask.
func (t *target) scope(ctx context.Context, c *odbcdriver.Conn, schema string) (catalog, schem odbcdriver.Arg, err error) {
	if schema == "" && t.fl.currentSchema != "" {
		rows, err := readAll(c.QueryContext(ctx, t.fl.currentSchema, nil))
		if err != nil {
			return nil, nil, fmt.Errorf("asking for the current schema: %w", err)
		}
		if len(rows) == 1 {
			schema = rows[0][0]
		}
	}
	if schema == "" {
		return nil, nil, nil
	}
	if t.fl.catalogIsSchema {
		return odbcdriver.Str(schema), nil, nil
	}
	return nil, odbcdriver.Str(schema), nil
}

// pattern escapes a name for a catalog function's search pattern.
func pattern(c *odbcdriver.Conn, name string) (odbcdriver.Arg, error) {
	esc, err := c.SearchEscape()
	if err != nil {
		return nil, err
	}
	if esc != "" {
		r := strings.NewReplacer(esc, esc+esc, "_", esc+"_", "%", esc+"%")
		name = r.Replace(name)
	}
	return odbcdriver.Str(name), nil
}

func (t *target) listObjects(ctx context.Context, db *sql.DB, schema string) ([]sdk.ObjectInfo, error) {
	var objs []sdk.ObjectInfo
	err := t.raw(ctx, db, func(c *odbcdriver.Conn) error {
		cat, sch, err := t.scope(ctx, c, schema)
		if err != nil {
			return err
		}
		if sch != nil {
			if sch, err = pattern(c, *sch); err != nil {
				return err
			}
		}
		rows, err := readAll(c.Tables(ctx, cat, sch, odbcdriver.Str("%"), odbcdriver.Str("TABLE,VIEW")))
		if err != nil {
			return err
		}
		for _, r := range rows {
			ref := sdk.ObjectRef{Schema: r[1], Name: r[2]}
			if t.fl.catalogIsSchema {
				ref.Schema = r[0]
			}
			kind := "table"
			if strings.Contains(strings.ToUpper(r[3]), "VIEW") {
				kind = "view"
			}
			objs = append(objs, sdk.ObjectInfo{Ref: ref, Kind: kind})
		}
		return nil
	})
	return objs, err
}

// columns is SQLColumns of the table: name, DATA_TYPE, TYPE_NAME,
// COLUMN_SIZE, DECIMAL_DIGITS and NULLABLE, in ordinal order.
func (t *target) columns(ctx context.Context, db *sql.DB, ref sdk.ObjectRef) ([]sqlsource.ColumnMeta, error) {
	var cols []sqlsource.ColumnMeta
	err := t.raw(ctx, db, func(c *odbcdriver.Conn) error {
		cat, sch, err := t.scope(ctx, c, ref.Schema)
		if err != nil {
			return err
		}
		if sch != nil {
			if sch, err = pattern(c, *sch); err != nil {
				return err
			}
		}
		tab, err := pattern(c, ref.Name)
		if err != nil {
			return err
		}
		rows, err := readAll(c.Columns(ctx, cat, sch, tab, nil))
		if err != nil {
			return err
		}
		type ordered struct {
			pos int
			m   sqlsource.ColumnMeta
		}
		var found []ordered
		first := ""
		for _, r := range rows {
			// Patterns are exact after escaping, but a driver may match
			// case-insensitively; and without a schema, keep one.
			owner := r[1]
			if t.fl.catalogIsSchema {
				owner = r[0]
			}
			if r[2] != ref.Name {
				continue
			}
			if first == "" {
				first = owner
			}
			if owner != first {
				continue
			}
			sqlType, _ := strconv.Atoi(r[4])
			m := sqlsource.ColumnMeta{Name: r[3], Nullable: r[10] != "0"}
			if p, err := strconv.ParseInt(r[6], 10, 64); err == nil {
				m.Precision = p
				m.Scale, _ = strconv.ParseInt(r[8], 10, 64)
				m.HasPrecision = r[8] != "" || !isDecimal(sqlType)
			}
			ti := typeInfo{sqlType: sqlType, unsigned: strings.Contains(strings.ToLower(r[5]), "unsigned")}
			if t.fl.catalogType != nil {
				if fixed, digits, ok := t.fl.catalogType(r[5], m.Precision); ok {
					ti, m.Scale, m.HasPrecision = fixed, digits, true
				}
			}
			m.NativeType = odbcdriver.NativeType(r[5], ti.sqlType, m.Precision, int(m.Scale), false)
			t.types.LoadOrStore(m.NativeType, ti)
			pos, _ := strconv.Atoi(r[16])
			found = append(found, ordered{pos, m})
		}
		slices.SortStableFunc(found, func(a, b ordered) int { return a.pos - b.pos })
		for _, f := range found {
			cols = append(cols, f.m)
		}
		return nil
	})
	if err == nil && len(cols) == 0 {
		return nil, sdk.NotFoundf("table %s does not exist", ref)
	}
	return cols, err
}

func (t *target) primaryKey(ctx context.Context, db *sql.DB, ref sdk.ObjectRef) ([]string, error) {
	var keys []string
	err := t.raw(ctx, db, func(c *odbcdriver.Conn) error {
		cat, sch, err := t.scope(ctx, c, ref.Schema)
		if err != nil {
			return err
		}
		rows, err := readAll(c.PrimaryKeys(ctx, cat, sch, odbcdriver.Str(ref.Name)))
		if err != nil {
			return err
		}
		slices.SortStableFunc(rows, func(a, b []string) int {
			x, _ := strconv.Atoi(a[4])
			y, _ := strconv.Atoi(b[4])
			return x - y
		})
		for _, r := range rows {
			keys = append(keys, r[3])
		}
		return nil
	})
	if err != nil && !errors.Is(err, sdk.ErrNotFound) {
		return nil, err
	}
	return keys, nil
}
