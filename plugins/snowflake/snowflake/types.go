package snowflake

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// columnType is the Snowflake column type hp creates for an Arrow field.
func columnType(f arrow.Field) (string, error) {
	if ext, ok := f.Type.(arrow.ExtensionType); ok {
		switch ext.ExtensionName() {
		case "arrow.json":
			return "VARIANT", nil
		case "arrow.uuid":
			return "VARCHAR(36)", nil
		case "arrow.timestamp_with_offset":
			digits := 9
			if st, ok := ext.StorageType().(*arrow.StructType); ok && st.NumFields() > 0 {
				if ts, ok := st.Field(0).Type.(*arrow.TimestampType); ok {
					digits = fracDigits(ts.Unit)
				}
			}
			return fmt.Sprintf("TIMESTAMP_TZ(%d)", digits), nil
		}
		return columnType(arrow.Field{Name: f.Name, Type: ext.StorageType()})
	}
	switch t := f.Type.(type) {
	case *arrow.BooleanType:
		return "BOOLEAN", nil
	case *arrow.Int8Type, *arrow.Int16Type, *arrow.Int32Type, *arrow.Int64Type,
		*arrow.Uint8Type, *arrow.Uint16Type, *arrow.Uint32Type:
		return "NUMBER(19,0)", nil
	case *arrow.Uint64Type:
		return "NUMBER(20,0)", nil
	case *arrow.Float16Type, *arrow.Float32Type, *arrow.Float64Type:
		return "FLOAT", nil
	case *arrow.Decimal128Type:
		return fmt.Sprintf("NUMBER(%d,%d)", t.Precision, t.Scale), nil
	case *arrow.Decimal256Type:
		if t.Precision > 38 {
			return "", sdk.Errorf(sdk.ErrUnsupportedType, "column %q: decimal(%d,%d) has more digits than Snowflake's NUMBER (38)", f.Name, t.Precision, t.Scale)
		}
		return fmt.Sprintf("NUMBER(%d,%d)", t.Precision, t.Scale), nil
	case *arrow.StringType, *arrow.LargeStringType, *arrow.StringViewType:
		return "VARCHAR", nil
	case *arrow.BinaryType, *arrow.LargeBinaryType, *arrow.BinaryViewType, *arrow.FixedSizeBinaryType:
		return "BINARY", nil
	case *arrow.Date32Type, *arrow.Date64Type:
		return "DATE", nil
	case *arrow.Time32Type:
		return fmt.Sprintf("TIME(%d)", fracDigits(t.Unit)), nil
	case *arrow.Time64Type:
		return fmt.Sprintf("TIME(%d)", fracDigits(t.Unit)), nil
	case *arrow.TimestampType:
		if t.TimeZone == "" {
			return fmt.Sprintf("TIMESTAMP_NTZ(%d)", fracDigits(t.Unit)), nil
		}
		// An instant: Snowflake shows it in the session's zone.
		return fmt.Sprintf("TIMESTAMP_LTZ(%d)", fracDigits(t.Unit)), nil
	}
	return "", sdk.Errorf(sdk.ErrUnsupportedType, "column %q: Arrow type %s has no Snowflake column type", f.Name, f.Type)
}

// fracDigits is the fractional-second precision that holds a unit: no
// more, so that hp reads the column back in the same unit (a TIMESTAMP(9)
// is read at nanoseconds, which cannot hold years before 1677).
func fracDigits(u arrow.TimeUnit) int {
	return [...]int{arrow.Second: 0, arrow.Millisecond: 3, arrow.Microsecond: 6, arrow.Nanosecond: 9}[u]
}

// ident quotes a name as Snowflake stores it: a name an unquoted
// identifier could spell (letters, digits, _ and $, not starting with a
// digit) is folded to upper case as Snowflake folds unquoted names, so
// that id, ID and "ID" are one column; any other name is kept exactly.
func ident(name string) string {
	simple := name != ""
	for i, r := range name {
		ok := r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && (r >= '0' && r <= '9' || r == '$')
		if !ok {
			simple = false
			break
		}
	}
	if simple {
		name = strings.ToUpper(name)
	}
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// tableName is schema.name quoted, or name alone.
func tableName(ref sdk.ObjectRef) string {
	if ref.Schema == "" {
		return ident(ref.Name)
	}
	return ident(ref.Schema) + "." + ident(ref.Name)
}

// createTable is the CREATE TABLE hp runs for a schema.
func createTable(ref sdk.ObjectRef, schema *arrow.Schema, temporary bool, extra ...string) (string, error) {
	var cols []string
	for _, f := range schema.Fields() {
		typ, err := columnType(f)
		if err != nil {
			return "", err
		}
		cols = append(cols, ident(f.Name)+" "+typ)
	}
	cols = append(cols, extra...)
	kind := "TABLE "
	if temporary {
		kind = "TEMPORARY TABLE "
	}
	return "CREATE " + kind + tableName(ref) + " (" + strings.Join(cols, ", ") + ")", nil
}
