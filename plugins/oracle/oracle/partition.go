package oracle

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

// SCNQuery reads the database's current SCN, once per partitioned read
// (SELECT on V$DATABASE: SELECT_CATALOG_ROLE or GRANT SELECT ON
// V_$DATABASE).
const SCNQuery = `SELECT CURRENT_SCN FROM V$DATABASE`

// ExtentsQuery lists the extents of a table's segments (one for a plain
// table, one per partition or subpartition of a partitioned one), each
// with its segment's data object id (the object number a ROWID holds) and
// whether its tablespace is a bigfile one. DBA_EXTENTS is the only view
// with the extents' files and blocks (USER_EXTENTS has neither), so this
// needs SELECT_CATALOG_ROLE, SELECT ANY DICTIONARY or SELECT on
// DBA_EXTENTS and DBA_TABLESPACES, whoever owns the table.
const ExtentsQuery = `SELECT o.DATA_OBJECT_ID, e.RELATIVE_FNO, e.BLOCK_ID, e.BLOCKS, t.BIGFILE ` +
	`FROM DBA_EXTENTS e JOIN ALL_OBJECTS o ON o.OWNER = e.OWNER AND o.OBJECT_NAME = e.SEGMENT_NAME AND o.OBJECT_TYPE = e.SEGMENT_TYPE ` +
	`AND (o.SUBOBJECT_NAME = e.PARTITION_NAME OR o.SUBOBJECT_NAME IS NULL AND e.PARTITION_NAME IS NULL) ` +
	`JOIN DBA_TABLESPACES t ON t.TABLESPACE_NAME = e.TABLESPACE_NAME ` +
	`WHERE e.OWNER = :1 AND e.SEGMENT_NAME = :2 AND e.SEGMENT_TYPE IN ('TABLE', 'TABLE PARTITION', 'TABLE SUBPARTITION') ` +
	`ORDER BY o.DATA_OBJECT_ID, e.RELATIVE_FNO, e.BLOCK_ID`

// TableKindQuery says, for a table without extents, why: index-organized
// (IOT_TYPE), temporary, clustered, or external. No row: a view.
const TableKindQuery = `SELECT t.IOT_TYPE, t.TEMPORARY, t.CLUSTER_NAME, ` +
	`(SELECT COUNT(*) FROM ALL_EXTERNAL_TABLES x WHERE x.OWNER = t.OWNER AND x.TABLE_NAME = t.TABLE_NAME) ` +
	`FROM ALL_TABLES t WHERE t.OWNER = :1 AND t.TABLE_NAME = :2`

// SliceBoundsSQL reads the key's bounds at the slices' SCN.
func SliceBoundsSQL(table, col, asOf string) string {
	q := "SELECT MIN(" + col + "), MAX(" + col + ") FROM " + table
	if asOf != "" {
		q += " " + asOf
	}
	return q
}

// splitTable cuts a table into count slices, each read AS OF one SCN (read
// once, before anything else, so that all slices see one point in time
// without sharing a transaction), in the first way that works:
//
//  1. ROWID ranges: the table's extents (ExtentsQuery), ordered by data
//     object, file and block, cut into count runs of about equal block
//     counts; a slice reads ROWID BETWEEN the first row of its first block
//     and the last of its last block in each segment and file it covers.
//     Any heap table splits so, with or without a key.
//  2. Ranges of the first primary-key column when that is an integer
//     NUMBER (scale 0), from MIN to MAX at the SCN (the first range open
//     below, the last above).
//  3. Whole: the first slice reads the table in its READ ONLY
//     transaction (not AS OF the SCN), the others nothing.
//
// Each step down is logged with why (no SCN, no privilege on DBA_EXTENTS,
// an index-organized, clustered, temporary or external table, a view, a
// bigfile tablespace, no integer key). Without access to V$DATABASE the
// slices read each in its own READ ONLY transaction, consistent each by
// itself only, and never by ROWID: extents listed without an SCN before
// them could miss rows inserted into new extents meanwhile.
func splitTable(ctx context.Context, db *sql.DB, ref sdk.ObjectRef, count int) (*sqlsource.Slicing, error) {
	s := &sqlsource.Slicing{}
	var scn string
	var why string // why not by ROWID ranges
	switch err := db.QueryRowContext(ctx, SCNQuery).Scan(&scn); {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case err != nil:
		slog.Warn("cannot read the current SCN (SELECT on V$DATABASE): the slices of this partitioned read are each consistent, but not at one point in time",
			"table", ref.String(), "error", err.Error())
		why = "no SCN to read the table's extents at"
	case !isDigits(scn):
		return nil, fmt.Errorf("the current SCN %q is not a number", scn)
	default:
		s.AsOf = "AS OF SCN " + scn
		where, reason, err := rowidSlices(ctx, db, ref, count)
		if err != nil {
			return nil, err
		}
		if where != nil {
			s.Where = where
			return s, nil
		}
		why = reason
	}
	where, err := keySlices(ctx, db, ref, count, s.AsOf)
	if err != nil {
		return nil, err
	}
	if where != nil {
		slog.Warn("cannot split the table by ROWID ranges: splitting it by ranges of its integer key instead", "table", ref.String(), "reason", why)
		s.Where = where
		return s, nil
	}
	slog.Warn("cannot split the table by ROWID ranges, and it has no integer primary key: one slice reads it whole", "table", ref.String(), "reason", why)
	// One read-only transaction is one point in time by itself; and an
	// external table refuses AS OF SCN (ORA-08188).
	return &sqlsource.Slicing{Where: sqlsource.Whole(count)}, nil
}

// extent is count blocks from block in relative file file, of the segment
// whose data object id is obj.
type extent struct{ obj, file, block, blocks int64 }

// rowidSlices returns the slices' ROWID predicates, or nil and why the
// table cannot be split so. It runs after the SCN was read: every row the
// table held at the SCN lies in an extent listed now (new rows only add
// extents; what moves rows or frees extents, MOVE, TRUNCATE, partition
// DDL, makes a flashback query fail with ORA-01466 instead).
func rowidSlices(ctx context.Context, db *sql.DB, ref sdk.ObjectRef, count int) ([]string, string, error) {
	rows, err := db.QueryContext(ctx, ExtentsQuery, ref.Schema, ref.Name)
	if err != nil {
		if ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
		if c := code(err); c == 942 || c == 1031 {
			return nil, "no SELECT on DBA_EXTENTS and DBA_TABLESPACES (grant SELECT_CATALOG_ROLE or SELECT ANY DICTIONARY): " + err.Error(), nil
		}
		if errorsIsConn(classify(err)) {
			return nil, "", fmt.Errorf("reading the extents of %s (DBA_EXTENTS): %w", ref, err)
		}
		// Whatever else keeps the catalog query from working (a lockdown
		// profile, a view that differs) leaves the other splits.
		return nil, "cannot read the extents (DBA_EXTENTS): " + err.Error(), nil
	}
	defer rows.Close()
	var exts []extent
	bigfile := false
	for rows.Next() {
		var obj, file, block, blocks sql.NullInt64
		var big sql.NullString
		if err := rows.Scan(&obj, &file, &block, &blocks, &big); err != nil {
			return nil, "", fmt.Errorf("reading the extents of %s: %w", ref, err)
		}
		if !obj.Valid || !file.Valid || !block.Valid || !blocks.Valid || blocks.Int64 < 1 {
			return nil, "", fmt.Errorf("reading the extents of %s: an extent without a data object, file, block or size", ref)
		}
		bigfile = bigfile || big.String == "YES"
		exts = append(exts, extent{obj.Int64, file.Int64, block.Int64, blocks.Int64})
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("reading the extents of %s: %w", ref, err)
	}
	if bigfile {
		// A bigfile tablespace's ROWIDs carry no relative file number
		// (DBA_EXTENTS says 1024): DBMS_ROWID.ROWID_CREATE's smallfile
		// form does not address its blocks.
		return nil, "the table has extents in a bigfile tablespace", nil
	}
	if len(exts) == 0 {
		return nil, noExtents(ctx, db, ref), nil
	}
	where := rowidRanges(exts, count)
	for _, w := range where {
		if n := strings.Count(w, " OR ") + 1; n > maxRowidRanges {
			return nil, fmt.Sprintf("a slice would need %d ROWID ranges (one per partition and file it covers; at most %d)", n, maxRowidRanges), nil
		}
	}
	return where, "", nil
}

// maxRowidRanges bounds the ROWID ranges ORed in one slice's predicate: a
// table of thousands of partitions or files is split by key instead
// rather than sending statements of hundreds of kilobytes.
const maxRowidRanges = 1000

// noExtents says why a table has no extents of its own.
func noExtents(ctx context.Context, db *sql.DB, ref sdk.ObjectRef) string {
	var iot, temporary, cluster sql.NullString
	var external int64
	err := db.QueryRowContext(ctx, TableKindQuery, ref.Schema, ref.Name).Scan(&iot, &temporary, &cluster, &external)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "a view has no extents of its own"
	case err != nil:
		return "the table has no extents in DBA_EXTENTS (and ALL_TABLES cannot say why: " + err.Error() + ")"
	case iot.Valid && iot.String != "":
		return "an index-organized table has no physical ROWIDs"
	case external > 0:
		return "an external table has no physical ROWIDs"
	case temporary.String == "Y":
		return "a temporary table's rows are in its sessions' own segments"
	case cluster.Valid && cluster.String != "":
		return "a clustered table's rows are in the segment of cluster " + cluster.String
	}
	return "the table has no extents in DBA_EXTENTS (empty, without a segment yet)"
}

// rowidRanges cuts extents into count slices of about equal block counts:
// ordered by data object, file and block, the blocks are numbered one
// after another and slice i takes blocks [total*i/count,
// total*(i+1)/count), cutting inside an extent where a bound falls. A
// slice's blocks in one data object and file become one ROWID BETWEEN,
// from row 0 of its first block to row 32767 (beyond the last row any
// block holds) of its last: the blocks between two of a slice's extents
// hold no rows of that data object, and the ranges never span two files
// or data objects, so they are disjoint and cover every block of every
// extent. A slice given no blocks (more slices than blocks) reads nothing.
func rowidRanges(exts []extent, count int) []string {
	exts = slices.Clone(exts)
	slices.SortFunc(exts, func(a, b extent) int {
		return cmp.Or(cmp.Compare(a.obj, b.obj), cmp.Compare(a.file, b.file), cmp.Compare(a.block, b.block))
	})
	var total int64
	for _, e := range exts {
		total += e.blocks
	}
	type piece struct{ obj, file, first, last int64 }
	pieces := make([][]piece, count)
	var at int64 // blocks before the extent
	for _, e := range exts {
		for i := range count {
			lo, hi := total*int64(i)/int64(count), total*int64(i+1)/int64(count)
			lo, hi = max(lo, at), min(hi, at+e.blocks)
			if lo >= hi {
				continue
			}
			p := piece{e.obj, e.file, e.block + lo - at, e.block + hi - at - 1}
			ps := pieces[i]
			if n := len(ps); n > 0 && ps[n-1].obj == p.obj && ps[n-1].file == p.file {
				ps[n-1].last = p.last
			} else {
				pieces[i] = append(ps, p)
			}
		}
		at += e.blocks
	}
	where := make([]string, count)
	for i, ps := range pieces {
		if len(ps) == 0 {
			where[i] = "1=0"
			continue
		}
		terms := make([]string, len(ps))
		for j, p := range ps {
			terms[j] = "(ROWID BETWEEN " + rowidCreate(p.obj, p.file, p.first, 0) + " AND " + rowidCreate(p.obj, p.file, p.last, 32767) + ")"
		}
		where[i] = strings.Join(terms, " OR ")
	}
	return where
}

// rowidCreate is the SQL of an extended ROWID.
func rowidCreate(obj, file, block, row int64) string {
	return fmt.Sprintf("DBMS_ROWID.ROWID_CREATE(1, %d, %d, %d, %d)", obj, file, block, row)
}

// keySlices cuts a table into count ranges of its first primary-key
// column when that is an integer NUMBER (scale 0), from MIN to MAX (the
// first range open below, the last above), read asOf; nil for other
// tables and views.
func keySlices(ctx context.Context, db *sql.DB, ref sdk.ObjectRef, count int, asOf string) ([]string, error) {
	keys, err := sqlsource.QueryStrings(ctx, db, PrimaryKeyQuery, ref.Schema, ref.Name)
	if err != nil || len(keys) == 0 {
		return nil, err
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
		return nil, nil
	}
	table, col := quoteIdent(ref.Schema)+"."+quoteIdent(ref.Name), quoteIdent(keys[0])
	var lo, hi sql.NullString
	if err := db.QueryRowContext(ctx, SliceBoundsSQL(table, col, asOf)).Scan(&lo, &hi); err != nil {
		return nil, fmt.Errorf("bounds of %s.%s: %w", ref, keys[0], err)
	}
	l, lerr := strconv.ParseInt(lo.String, 10, 64)
	h, herr := strconv.ParseInt(hi.String, 10, 64)
	if !lo.Valid || lerr != nil || herr != nil {
		// Empty, or beyond int64: one slice, still at the SCN.
		return sqlsource.Whole(count), nil
	}
	return sqlsource.RangeWhere(col, sqlsource.KeyRanges(l, h, count), func(v int64) string { return strconv.FormatInt(v, 10) }), nil
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}
