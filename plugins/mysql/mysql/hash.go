package mysql

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

// checksumSQL is MySQL's and MariaDB's part of hp diff --hash.
var checksumSQL = &sqlsource.ChecksumSQL{
	Canonical: canonical,
	HexToInt:  func(hex string) string { return "CAST(CONV(" + hex + ", 16, 10) AS UNSIGNED)" },
	Bucket: func(key string, lower, width int64, wide bool) string {
		if wide {
			return fmt.Sprintf("(CAST(%s AS DECIMAL(20)) - (%d)) DIV %d", key, lower, width)
		}
		return fmt.Sprintf("(%s - (%d)) DIV %d", key, lower, width)
	},
}

// canonical is the canonical text of sdk.RangeChecksummer. The session's
// zone is UTC (see open), so TIMESTAMP formats as its UTC instant.
func canonical(q string, col sqlsource.ColumnMeta, t arrow.DataType) (string, bool) {
	native := strings.ToLower(col.NativeType)
	switch {
	case arrow.IsInteger(t.ID()):
		return "CAST(" + q + " AS CHAR)", !strings.HasPrefix(native, "bit")
	case t.ID() == arrow.DECIMAL128 || t.ID() == arrow.DECIMAL256:
		s := "CAST(" + q + " AS CHAR)"
		if t.(arrow.DecimalType).GetScale() > 0 {
			s = "TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM " + s + "))"
		}
		return s, true
	case t.ID() == arrow.BOOL:
		return "IF(" + q + ", '1', '0')", !strings.HasPrefix(native, "bit")
	case t.ID() == arrow.STRING || t.ID() == arrow.LARGE_STRING:
		ok := strings.HasPrefix(native, "char") || strings.HasPrefix(native, "varchar") || strings.HasSuffix(native, "text") || strings.HasPrefix(native, "enum")
		return "CONVERT(" + q + " USING utf8mb4)", ok
	case t.ID() == arrow.BINARY || t.ID() == arrow.LARGE_BINARY:
		ok := strings.HasPrefix(native, "binary") || strings.HasPrefix(native, "varbinary") || strings.HasSuffix(native, "blob")
		return "LOWER(HEX(" + q + "))", ok
	case t.ID() == arrow.DATE32:
		return "DATE_FORMAT(" + q + ", '%Y-%m-%d')", true
	case t.ID() == arrow.TIMESTAMP:
		return "DATE_FORMAT(" + q + ", '%Y-%m-%d %H:%i:%s.%f')", true
	}
	return "", false
}
