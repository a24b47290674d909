package tds

import "fmt"

// SysColumn returns c as sys.columns and sys.types describe it: the type
// name, max_length in bytes (-1 for max), precision and scale. Tests use
// it to answer a connector's catalog query from the server's tables.
func (c Column) SysColumn() (typ string, maxLength, precision, scale int) {
	length := func(def, unit int) int {
		switch c.Length {
		case Max:
			return -1
		case 0:
			return def
		}
		return c.Length * unit
	}
	if f, ok := fixedSysTypes[c.Type]; ok {
		return f.name, f.maxLength, f.precision, f.scale
	}
	switch c.Type {
	case Decimal, Numeric:
		p := int(c.Precision)
		if p == 0 {
			p = 18
		}
		size := 17
		switch {
		case p <= 9:
			size = 5
		case p <= 19:
			size = 9
		case p <= 28:
			size = 13
		}
		name := "decimal"
		if c.Type == Numeric {
			name = "numeric"
		}
		return name, size, p, int(c.Scale)
	case NVarChar:
		return "nvarchar", length(8000, 2), 0, 0
	case VarChar:
		return "varchar", length(8000, 1), 0, 0
	case VarBinary:
		return "varbinary", length(8000, 1), 0, 0
	case Time:
		return "time", 5, 16, int(c.Scale)
	case DateTime2:
		return "datetime2", 8, 27, int(c.Scale)
	case DateTimeOffset:
		return "datetimeoffset", 10, 34, int(c.Scale)
	}
	panic(fmt.Sprintf("tds: no catalog type for %+v", c))
}

// sysType is a type as sys.types and sys.columns describe it.
type sysType struct {
	name                        string
	maxLength, precision, scale int
}

// fixedSysTypes are the types whose description takes nothing from the
// column's length, precision or scale.
var fixedSysTypes = map[Type]sysType{
	Bit:              {"bit", 1, 1, 0},
	TinyInt:          {"tinyint", 1, 3, 0},
	SmallInt:         {"smallint", 2, 5, 0},
	Int:              {"int", 4, 10, 0},
	BigInt:           {"bigint", 8, 19, 0},
	Real:             {"real", 4, 24, 0},
	Float:            {"float", 8, 53, 0},
	Money:            {"money", 8, 19, 4},
	SmallMoney:       {"smallmoney", 4, 10, 4},
	Date:             {"date", 3, 10, 0},
	DateTime:         {"datetime", 8, 23, 3},
	SmallDateTime:    {"smalldatetime", 4, 16, 0},
	UniqueIdentifier: {"uniqueidentifier", 16, 0, 0},
	XML:              {"xml", -1, 0, 0},
	Rowversion:       {"timestamp", 8, 0, 0},
}

// SysColumns are the result columns of a catalog query that describes a
// table's columns as SysColumn does: name, type, is_nullable, max_length,
// precision, scale and collation_name (NULL but for character columns).
var SysColumns = []Column{
	{Name: "name", Type: NVarChar, Length: 128},
	{Name: "type", Type: NVarChar, Length: 128},
	{Name: "is_nullable", Type: Bit},
	{Name: "max_length", Type: Int},
	{Name: "precision", Type: Int},
	{Name: "scale", Type: Int},
	{Name: "collation_name", Type: NVarChar, Length: 128, Nullable: true},
}

// HandleCatalog answers query, whose first argument names a table, from
// the server's tables (what CREATE TABLE batches and CreateTable made):
// one SysColumns row per column, as sys.columns would describe it.
func (s *Server) HandleCatalog(query string) {
	s.HandleFunc(query, func(q Query) Response {
		r := Response{Columns: SysColumns}
		name, _ := q.Args()[0].(string)
		cols, _ := s.Table(name)
		for _, c := range cols {
			typ, maxLen, prec, scale := c.SysColumn()
			var coll any
			if c.isChar() {
				coll = c.Collation
			}
			r.Rows = append(r.Rows, []any{c.Name, typ, c.Nullable, maxLen, prec, scale, coll})
		}
		return r
	})
}
