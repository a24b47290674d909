package postgres

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

// checksumSQL is PostgreSQL's part of hp diff --hash.
var checksumSQL = &sqlsource.ChecksumSQL{
	Canonical: canonical,
	HexToInt:  func(hex string) string { return "('x' || " + hex + ")::bit(60)::bigint" },
	Bucket: func(key string, lower, width int64, wide bool) string {
		if wide {
			return fmt.Sprintf("div(%s::numeric - (%d), %d)", key, lower, width)
		}
		return fmt.Sprintf("(%s::bigint - (%d)) / %d", key, lower, width)
	},
}

// canonical is the canonical text of sdk.RangeChecksummer.
func canonical(q string, col sqlsource.ColumnMeta, t arrow.DataType) (string, bool) {
	native := strings.ToLower(col.NativeType)
	switch {
	case arrow.IsInteger(t.ID()):
		return q + "::text", true
	case t.ID() == arrow.DECIMAL128 || t.ID() == arrow.DECIMAL256:
		return "trim_scale(" + q + ")::text", true
	case t.ID() == arrow.BOOL:
		return "CASE WHEN " + q + " THEN '1' ELSE '0' END", true
	case t.ID() == arrow.STRING || t.ID() == arrow.LARGE_STRING:
		// char(n) drops its padding as text, which a read keeps: left out.
		ok := native == "text" || strings.HasPrefix(native, "character varying") || strings.HasPrefix(native, "varchar") || native == "uuid"
		return q + "::text", ok
	case t.ID() == arrow.BINARY || t.ID() == arrow.LARGE_BINARY:
		return "encode(" + q + ", 'hex')", native == "bytea"
	case t.ID() == arrow.DATE32:
		return "to_char(" + q + ", 'YYYY-MM-DD')", true
	case t.ID() == arrow.TIMESTAMP:
		if strings.Contains(native, "with time zone") || native == "timestamptz" {
			q += " AT TIME ZONE 'UTC'"
		}
		return "to_char(" + q + ", 'YYYY-MM-DD HH24:MI:SS.US')", true
	}
	return "", false
}
