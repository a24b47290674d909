package oracle

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

// SCNQuery reads the database's current SCN, once per partitioned read
// (SELECT on V$DATABASE: SELECT_CATALOG_ROLE or GRANT SELECT ON
// V_$DATABASE).
const SCNQuery = `SELECT CURRENT_SCN FROM V$DATABASE`

// SliceBoundsSQL reads the key's bounds at the slices' SCN.
func SliceBoundsSQL(table, col, asOf string) string {
	q := "SELECT MIN(" + col + "), MAX(" + col + ") FROM " + table
	if asOf != "" {
		q += " " + asOf
	}
	return q
}

// splitTable cuts a table into count ranges of its first primary-key
// column when that is an integer NUMBER (scale 0), from MIN to MAX (the
// first range open below, the last above); other tables (and views) are
// read whole by the first slice. The SCN is read once and every slice
// reads the table AS OF SCN it, so all see one point in time without
// sharing a transaction. Without access to V$DATABASE the slices read
// each in its own READ ONLY transaction, consistent each by itself only;
// that is logged.
func splitTable(ctx context.Context, db *sql.DB, ref sdk.ObjectRef, count int) (*sqlsource.Slicing, error) {
	whole := &sqlsource.Slicing{Where: sqlsource.Whole(count)}
	keys, err := sqlsource.QueryStrings(ctx, db, PrimaryKeyQuery, ref.Schema, ref.Name)
	if err != nil || len(keys) == 0 {
		return whole, err
	}
	cols, err := columns(ctx, db, ref)
	if err != nil {
		return nil, err
	}
	integer := false
	for _, c := range cols {
		if c.Name == keys[0] {
			integer = c.NativeType == "NUMBER(*,0)" || c.HasPrecision && c.Scale == 0 && strings.HasPrefix(c.NativeType, "NUMBER(")
		}
	}
	if !integer {
		return whole, nil
	}
	s := &sqlsource.Slicing{}
	var scn string
	switch err := db.QueryRowContext(ctx, SCNQuery).Scan(&scn); {
	case err != nil:
		slog.Warn("cannot read the current SCN (SELECT on V$DATABASE): the slices of this partitioned read are each consistent, but not at one point in time",
			"table", ref.String(), "error", err.Error())
	case !isDigits(scn):
		return nil, fmt.Errorf("the current SCN %q is not a number", scn)
	default:
		s.AsOf = "AS OF SCN " + scn
	}
	table, col := quoteIdent(ref.Schema)+"."+quoteIdent(ref.Name), quoteIdent(keys[0])
	var lo, hi sql.NullString
	if err := db.QueryRowContext(ctx, SliceBoundsSQL(table, col, s.AsOf)).Scan(&lo, &hi); err != nil {
		return nil, fmt.Errorf("bounds of %s.%s: %w", ref, keys[0], err)
	}
	l, lerr := strconv.ParseInt(lo.String, 10, 64)
	h, herr := strconv.ParseInt(hi.String, 10, 64)
	if !lo.Valid || lerr != nil || herr != nil {
		// Empty, or beyond int64: one slice, still at the SCN.
		s.Where = sqlsource.Whole(count)
		return s, nil
	}
	s.Where = sqlsource.RangeWhere(col, sqlsource.KeyRanges(l, h, count), func(v int64) string { return strconv.FormatInt(v, 10) })
	return s, nil
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}
