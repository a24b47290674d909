package tds

import (
	"sort"
	"strings"
)

// CatalogColumn is a column as sys.columns and sys.types describe it: a
// row of SysColumns.
type CatalogColumn struct {
	Name string
	// Type is the SQL Server type name: "int", "nchar", "timestamp", ...
	Type     string
	Nullable bool
	// MaxLength is in bytes, -1 for (max); Precision and Scale as
	// sys.columns has them.
	MaxLength, Precision, Scale int
}

// catalogTable is a table the catalog procedures list.
type catalogTable struct {
	schema, name string
	cols         []CatalogColumn
	key          []string
}

// DescribeTable makes the catalog procedures ODBC drivers call (sp_tables,
// sp_columns, sp_pkeys; FreeTDS's SQLTables, SQLColumns, SQLPrimaryKeys)
// describe table name, a one- or two-part name (no schema means dbo),
// with these columns and primary key. It declares no wire columns: tests
// answer reads with handlers. Tables made by CREATE TABLE are described
// without it, from their columns.
func (s *Server) DescribeTable(name string, cols []CatalogColumn, key ...string) {
	parts, _ := splitName(strings.TrimSpace(name))
	t := catalogTable{schema: "dbo", cols: cols, key: key}
	if len(parts) > 0 {
		t.name = parts[len(parts)-1]
	}
	if len(parts) > 1 {
		t.schema = parts[len(parts)-2]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.described[tableKey(name)] = t
}

// catalogTables lists the described tables and those CREATE TABLE made,
// ordered by schema and name.
func (s *Server) catalogTables() []catalogTable {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []catalogTable
	for k, cols := range s.tables {
		if _, ok := s.described[k]; ok {
			continue
		}
		schema, name, _ := strings.Cut(k, ".")
		if n, ok := s.tableNames[k]; ok {
			schema, name = n[0], n[1]
		}
		t := catalogTable{schema: schema, name: name}
		for _, c := range cols {
			typ, maxLen, prec, scale := c.SysColumn()
			t.cols = append(t.cols, CatalogColumn{Name: c.Name, Type: typ, Nullable: c.Nullable, MaxLength: maxLen, Precision: prec, Scale: scale})
			if c.PrimaryKey {
				t.key = append(t.key, c.Name)
			}
		}
		out = append(out, t)
	}
	for _, t := range s.described {
		out = append(out, t)
	}
	// Case-insensitively, as the default collation orders.
	sort.Slice(out, func(i, j int) bool {
		a := strings.ToLower(out[i].schema + "." + out[i].name)
		return a < strings.ToLower(out[j].schema+"."+out[j].name)
	})
	return out
}

// odbcType is how sp_columns (@ODBCVer = 3) describes a column: DATA_TYPE,
// PRECISION, LENGTH, SCALE, RADIX, SQL_DATA_TYPE, SQL_DATETIME_SUB,
// CHAR_OCTET_LENGTH (nil: NULL) and SS_DATA_TYPE.
type odbcType struct {
	dataType, precision, length int
	scale, radix                any
	sqlDataType                 int
	sub, octets                 any
	ssType                      int
}

// odbcTypeOf describes c as SQL Server's sp_columns does. sp_columns (not
// sp_columns_100, which only Microsoft's drivers call) reports the types
// SQL Server 2008 added (date, time, datetime2, datetimeoffset) to
// down-level clients as nvarchar: DATA_TYPE SQL_WVARCHAR, PRECISION their
// length in characters, SCALE NULL, with their own TYPE_NAME.
func odbcTypeOf(c CatalogColumn) odbcType {
	num := func(dt, prec, length, scale, radix, ss int) odbcType {
		return odbcType{dataType: dt, precision: prec, length: length, scale: int16(scale), radix: int16(radix), sqlDataType: dt, ssType: ss}
	}
	approx := func(dt, prec, length, ss int) odbcType {
		return odbcType{dataType: dt, precision: prec, length: length, radix: int16(2), sqlDataType: dt, ssType: ss}
	}
	text := func(dt, chars, bytes, ss int) odbcType {
		return odbcType{dataType: dt, precision: chars, length: bytes, sqlDataType: dt, octets: int64(bytes), ssType: ss}
	}
	chars := func(unit int) int {
		if c.MaxLength < 0 {
			return 0 // (max): no limit to report, as sp_columns_100 says
		}
		return c.MaxLength / unit
	}
	downlevel := func(chars int) odbcType {
		return odbcType{dataType: -9, precision: chars, length: 2 * chars, sqlDataType: -9, octets: int64(2 * chars), ssType: 39}
	}
	fraction := func(base int) int {
		if c.Scale == 0 {
			return base
		}
		return base + 1 + c.Scale
	}
	switch c.Type {
	case "bit":
		return odbcType{dataType: -7, precision: 1, length: 1, sqlDataType: -7, ssType: 50}
	case "tinyint":
		return num(-6, 3, 1, 0, 10, 38)
	case "smallint":
		return num(5, 5, 2, 0, 10, 38)
	case "int":
		return num(4, 10, 4, 0, 10, 38)
	case "bigint":
		return num(-5, 19, 8, 0, 10, 108)
	case "real":
		return approx(7, 24, 4, 109)
	case "float":
		return approx(6, 53, 8, 109)
	case "decimal":
		return num(3, c.Precision, c.Precision+2, c.Scale, 10, 106)
	case "numeric":
		return num(2, c.Precision, c.Precision+2, c.Scale, 10, 108)
	case "money":
		return num(3, 19, 21, 4, 10, 110)
	case "smallmoney":
		return num(3, 10, 12, 4, 10, 110)
	case "char":
		return text(1, chars(1), chars(1), 47)
	case "varchar":
		return text(12, chars(1), chars(1), 39)
	case "text":
		return text(-1, 2147483647, 2147483647, 35)
	case "nchar":
		return text(-8, chars(2), chars(2)*2, 47)
	case "nvarchar":
		return text(-9, chars(2), chars(2)*2, 39)
	case "ntext":
		return text(-10, 1073741823, 2147483646, 35)
	case "binary", "timestamp":
		return text(-2, chars(1), chars(1), 45)
	case "varbinary":
		return text(-3, chars(1), chars(1), 37)
	case "image":
		return text(-4, 2147483647, 2147483647, 34)
	case "xml":
		return text(-10, 0, 0, 0)
	case "uniqueidentifier":
		return text(-11, 36, 16, 0)
	case "datetime":
		return odbcType{dataType: 93, precision: 23, length: 16, scale: int16(3), sqlDataType: 9, sub: int16(3), ssType: 111}
	case "smalldatetime":
		return odbcType{dataType: 93, precision: 16, length: 16, scale: int16(0), sqlDataType: 9, sub: int16(3), ssType: 111}
	case "date":
		return downlevel(10)
	case "time":
		return downlevel(fraction(8))
	case "datetime2":
		return downlevel(fraction(19))
	case "datetimeoffset":
		return downlevel(fraction(26))
	}
	return text(-9, chars(2), chars(2)*2, 39)
}

// Result columns of the catalog procedures, as SQL Server names them
// (FreeTDS renames a few for ODBC 3).
var (
	sysname       = Column{Type: NVarChar, Length: 128}
	tablesColumns = []Column{named("TABLE_QUALIFIER", sysname), named("TABLE_OWNER", sysname), named("TABLE_NAME", sysname),
		{Name: "TABLE_TYPE", Type: VarChar, Length: 32}, {Name: "REMARKS", Type: VarChar, Length: 254, Nullable: true}}
	columnsColumns = []Column{named("TABLE_QUALIFIER", sysname), named("TABLE_OWNER", sysname), named("TABLE_NAME", sysname),
		named("COLUMN_NAME", sysname), {Name: "DATA_TYPE", Type: SmallInt}, named("TYPE_NAME", sysname),
		{Name: "PRECISION", Type: Int, Nullable: true}, {Name: "LENGTH", Type: Int, Nullable: true},
		{Name: "SCALE", Type: SmallInt, Nullable: true}, {Name: "RADIX", Type: SmallInt, Nullable: true},
		{Name: "NULLABLE", Type: SmallInt}, {Name: "REMARKS", Type: VarChar, Length: 254, Nullable: true},
		{Name: "COLUMN_DEF", Type: NVarChar, Length: 4000, Nullable: true}, {Name: "SQL_DATA_TYPE", Type: SmallInt},
		{Name: "SQL_DATETIME_SUB", Type: SmallInt, Nullable: true}, {Name: "CHAR_OCTET_LENGTH", Type: Int, Nullable: true},
		{Name: "ORDINAL_POSITION", Type: Int}, {Name: "IS_NULLABLE", Type: VarChar, Length: 254}, {Name: "SS_DATA_TYPE", Type: TinyInt}}
	pkeysColumns = []Column{named("TABLE_QUALIFIER", sysname), named("TABLE_OWNER", sysname), named("TABLE_NAME", sysname),
		named("COLUMN_NAME", sysname), {Name: "KEY_SEQ", Type: SmallInt}, named("PK_NAME", sysname)}
)

func named(name string, c Column) Column {
	c.Name = name
	return c
}

// catalogProc answers the catalog procedures from the server's catalog;
// ok is false for other RPCs.
func (cn *conn) catalogProc(q Query) (r Response, ok bool) {
	args := map[string]any{}
	for _, p := range q.Params {
		args[strings.ToLower(p.Name)] = p.Value
	}
	arg := func(name string) (string, bool) {
		s, ok := args[name].(string)
		return s, ok && s != ""
	}
	// A pattern argument left out or NULL matches everything.
	matches := func(param, value string) bool {
		p, ok := arg(param)
		return !ok || like(p, value)
	}
	inScope := func(t catalogTable) bool {
		if qual, ok := arg("@table_qualifier"); ok && !strings.EqualFold(qual, cn.database) {
			return false
		}
		return matches("@table_owner", t.schema)
	}
	switch strings.ToLower(q.SQL) {
	case "sp_tables":
		r = Response{Columns: tablesColumns}
		if types, ok := arg("@table_type"); ok && !strings.Contains(strings.ToUpper(types), "'TABLE'") {
			return r, true
		}
		for _, t := range cn.s.catalogTables() {
			if inScope(t) && matches("@table_name", t.name) {
				r.Rows = append(r.Rows, []any{cn.database, t.schema, t.name, "TABLE", nil})
			}
		}
		return r, true
	case "sp_columns":
		r = Response{Columns: columnsColumns}
		for _, t := range cn.s.catalogTables() {
			if !inScope(t) || !matches("@table_name", t.name) {
				continue
			}
			for i, c := range t.cols {
				if !matches("@column_name", c.Name) {
					continue
				}
				o := odbcTypeOf(c)
				nullable, isNullable := int16(0), "NO"
				if c.Nullable {
					nullable, isNullable = 1, "YES"
				}
				r.Rows = append(r.Rows, []any{cn.database, t.schema, t.name, c.Name, int16(o.dataType), c.Type,
					int64(o.precision), int64(o.length), o.scale, o.radix, nullable, nil, nil,
					int16(o.sqlDataType), o.sub, o.octets, int64(i + 1), isNullable, int64(o.ssType)})
			}
		}
		return r, true
	case "sp_pkeys":
		r = Response{Columns: pkeysColumns}
		name, ok := arg("@table_name")
		if !ok {
			return Response{Err: &Error{Number: 201, State: 4, Class: 16, Message: "Procedure or function 'sp_pkeys' expects parameter '@table_name', which was not supplied."}}, true
		}
		for _, t := range cn.s.catalogTables() {
			if !inScope(t) || !strings.EqualFold(t.name, name) {
				continue
			}
			for i, k := range t.key {
				r.Rows = append(r.Rows, []any{cn.database, t.schema, t.name, k, int16(i + 1), "PK_" + t.name})
			}
		}
		return r, true
	}
	return Response{}, false
}

// like matches s against a LIKE pattern (% and _ wildcards, [...] one of
// the characters listed, \ escaping the next character), case-insensitively
// as SQL Server's default collation does.
func like(pattern, s string) bool {
	p, v := []rune(strings.ToLower(pattern)), []rune(strings.ToLower(s))
	var match func(i, j int) bool
	match = func(i, j int) bool {
		for i < len(p) {
			switch p[i] {
			case '%':
				for k := j; k <= len(v); k++ {
					if match(i+1, k) {
						return true
					}
				}
				return false
			case '_':
				if j >= len(v) {
					return false
				}
			case '[':
				end := i + 1
				for end < len(p) && p[end] != ']' {
					end++
				}
				if end == len(p) || j >= len(v) || !strings.ContainsRune(string(p[i+1:end]), v[j]) {
					return false
				}
				i = end
			case '\\':
				if i+1 < len(p) {
					i++
				}
				fallthrough
			default:
				if j >= len(v) || v[j] != p[i] {
					return false
				}
			}
			i++
			j++
		}
		return j == len(v)
	}
	return match(0, 0)
}
