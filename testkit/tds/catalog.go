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
	switch c.Type {
	case Bit:
		return "bit", 1, 1, 0
	case TinyInt:
		return "tinyint", 1, 3, 0
	case SmallInt:
		return "smallint", 2, 5, 0
	case Int:
		return "int", 4, 10, 0
	case BigInt:
		return "bigint", 8, 19, 0
	case Real:
		return "real", 4, 24, 0
	case Float:
		return "float", 8, 53, 0
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
		return map[Type]string{Decimal: "decimal", Numeric: "numeric"}[c.Type], size, p, int(c.Scale)
	case Money:
		return "money", 8, 19, 4
	case SmallMoney:
		return "smallmoney", 4, 10, 4
	case NVarChar:
		return "nvarchar", length(8000, 2), 0, 0
	case VarChar:
		return "varchar", length(8000, 1), 0, 0
	case VarBinary:
		return "varbinary", length(8000, 1), 0, 0
	case Date:
		return "date", 3, 10, 0
	case Time:
		return "time", 5, 16, int(c.Scale)
	case DateTime2:
		return "datetime2", 8, 27, int(c.Scale)
	case DateTimeOffset:
		return "datetimeoffset", 10, 34, int(c.Scale)
	case DateTime:
		return "datetime", 8, 23, 3
	case SmallDateTime:
		return "smalldatetime", 4, 16, 0
	case UniqueIdentifier:
		return "uniqueidentifier", 16, 0, 0
	case XML:
		return "xml", -1, 0, 0
	}
	panic(fmt.Sprintf("tds: no catalog type for %+v", c))
}
