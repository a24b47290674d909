package sqlsource

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// ChecksumSQL is a dialect's part of [Connector.ChecksumRanges]. The rest
// of the statement is SQL that PostgreSQL and MySQL share (CONCAT,
// CONCAT_WS, CHAR_LENGTH, MD5, SUBSTRING, CASE, SUM, GROUP BY, BETWEEN).
type ChecksumSQL struct {
	// Canonical returns the expression of a non-NULL value's canonical
	// text (see sdk.RangeChecksummer) of the column (quoted) whose Arrow
	// type is t; false when the dialect cannot produce it exactly.
	Canonical func(quoted string, col ColumnMeta, t arrow.DataType) (string, bool)
	// HexToInt returns the exact integer spelled by an expression of 15
	// hexadecimal digits, one SUM can add without loss.
	HexToInt func(hex string) string
	// Bucket returns floor((key - lower) / width) for key >= lower; with
	// wide, key - lower may exceed the range of int64 and must not
	// overflow (else integer arithmetic is fine, and much faster).
	Bucket func(key string, lower, width int64, wide bool) string
	// JoinSpans, when set, keeps the rows of a request's spans by a join
	// with the list of spans (SpansFrom) rather than by SpansSQL's
	// condition: PostgreSQL plans an index range scan per span for the
	// join, but for an OR of many spans scans the whole key range around
	// them and tests each row against every span.
	JoinSpans bool
	// SpansSession are statements (SET LOCAL) run before a request with
	// spans, in its transaction: PostgreSQL guesses the join's rows a
	// hundred times too many, and the JIT compilation that guess starts
	// costs more than the query.
	SpansSession []string
}

// ChecksumRanges implements sdk.RangeChecksummer with one grouped query:
// the database hashes every row and sums the hashes per range, or sums
// the hashes it maintains (MaintainChecksums) when they hash the same
// columns and can be trusted.
func (c *Connector) ChecksumRanges(ctx context.Context, req sdk.ChecksumRangesRequest) (*sdk.ChecksumRangesResult, error) {
	d := c.dialect
	if d.Checksum == nil {
		return nil, sdk.Errorf(sdk.ErrUnimplemented, "the %s connector computes no checksums", c.info.Name)
	}
	if err := d.checkWhere(req.Where); err != nil {
		return nil, err
	}
	db, err := c.db(req.Conn)
	if err != nil {
		return nil, err
	}
	src := sdk.Source{Object: &req.Table}
	meta, err := c.columns(ctx, db, src, append([]string{req.Key}, req.Columns...))
	if err != nil {
		return nil, d.classify(err, req.Conn.DSN)
	}
	res := &sdk.ChecksumRangesResult{}
	var q string
	if d.Maintain != nil {
		m, note, err := c.usableShadow(ctx, db, req)
		if err != nil {
			return nil, d.classify(err, req.Conn.DSN)
		}
		switch {
		case m != nil && aligned(req, m.BlockWidth):
			q, res.Maintained = blocksSQL(d, req, *m), true
		case m != nil:
			q, res.Maintained = rangesSQL(d, req, d.quote("k"), d.quote("h"), m.Shadow), true
		}
		res.Note = note
	}
	if q == "" {
		if q, err = c.checksumSQL(req, meta); err != nil {
			return nil, err
		}
	}
	if err := d.checkSQL(q); err != nil {
		return nil, err
	}
	query := db.QueryContext
	if len(req.Spans) > 0 && len(d.Checksum.SpansSession) > 0 {
		tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			return nil, d.classify(err, req.Conn.DSN)
		}
		defer func() { _ = tx.Rollback() }() // read only: nothing to keep
		for _, s := range d.Checksum.SpansSession {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				return nil, d.classify(fmt.Errorf("%s: %w", s, err), req.Conn.DSN)
			}
		}
		query = tx.QueryContext
	}
	rows, err := query(ctx, q)
	if err != nil {
		return nil, d.classify(err, req.Conn.DSN)
	}
	defer rows.Close()
	for rows.Next() {
		var r sdk.RangeChecksum
		var idx string
		if err := rows.Scan(&idx, &r.Rows, &r.Checksum); err != nil {
			return nil, d.classify(err, req.Conn.DSN)
		}
		if r.Index, err = strconv.ParseInt(idx, 10, 64); err != nil {
			return nil, fmt.Errorf("range index %q: %w", idx, err)
		}
		res.Ranges = append(res.Ranges, r)
	}
	if err := rows.Err(); err != nil {
		return nil, d.classify(err, req.Conn.DSN)
	}
	return res, nil
}

// usableShadow returns the table's maintained checksums when they serve
// req, else why not when they are installed.
func (c *Connector) usableShadow(ctx context.Context, db *sql.DB, req sdk.ChecksumRangesRequest) (*Maintained, string, error) {
	st, m, err := c.checksumsState(ctx, db, req.Table)
	switch {
	case err != nil || !st.Installed:
		return nil, "", err
	case st.Stale:
		return nil, "maintained checksums are stale: " + st.Note, nil
	case req.Where != "":
		return nil, "maintained checksums hash every row, and a where needs the rows themselves: computed", nil
	case st.Key != req.Key || !slices.Equal(append([]string{st.Key}, st.Columns...), req.Columns):
		return nil, fmt.Sprintf("maintained checksums hash %s (key %s), not the compared %s: computed", strings.Join(append([]string{st.Key}, st.Columns...), ","), st.Key, strings.Join(req.Columns, ",")), nil
	}
	return m, "", nil
}

// checksumSQL builds the grouped query; meta holds the key, then the
// columns.
func (c *Connector) checksumSQL(req sdk.ChecksumRangesRequest, meta []ColumnMeta) (string, error) {
	d := c.dialect
	key, err := d.Map(meta[0])
	if err != nil {
		return "", fmt.Errorf("column %q (%s): %w", meta[0].Name, meta[0].NativeType, err)
	}
	if !arrow.IsInteger(key.Type.ID()) {
		return "", sdk.InvalidArgumentf("key %q is %s: checksum ranges split an integer key", req.Key, meta[0].NativeType)
	}
	h, err := c.hashExpr(meta[1:], "")
	if err != nil {
		return "", err
	}
	return rangesSQL(d, req, d.quote(req.Key), h, d.table(req.Table)), nil
}

// rangesSQL sums hash (an expression) per range of key (quoted) in from.
func rangesSQL(d *Dialect, req sdk.ChecksumRangesRequest, key, hash, from string) string {
	var conds []string
	if in := clipSpans(req.Spans, req.Lower, req.Upper); len(in) > 0 && d.Checksum.JoinSpans {
		// The spans, clipped, hold the bounds: PostgreSQL, given the bounds
		// as well, scans them whole and joins each row with the spans.
		from = SpansFrom(from, key, req.Where, in)
	} else {
		conds = append(conds, fmt.Sprintf("%s >= %d AND %s <= %d", key, req.Lower, key, req.Upper))
		if len(req.Spans) > 0 {
			conds = append(conds, SpansSQL(key, req.Spans))
		}
		if req.Where != "" {
			conds = append(conds, "("+req.Where+")")
		}
	}
	if len(conds) > 0 {
		from += " WHERE " + strings.Join(conds, " AND ")
	}
	return fmt.Sprintf("SELECT %s AS hp_range, COUNT(*), SUM(%s) FROM %s GROUP BY 1 ORDER BY 1",
		d.Checksum.Bucket(key, req.Lower, req.Width, req.Upper-req.Lower < 0), hash, from)
}

// clipSpans is the parts of spans within [lower, upper].
func clipSpans(spans []sdk.KeySpan, lower, upper int64) []sdk.KeySpan {
	var out []sdk.KeySpan
	for _, s := range spans {
		if s.Lower <= upper && s.Upper >= lower {
			out = append(out, sdk.KeySpan{Lower: max(s.Lower, lower), Upper: min(s.Upper, upper)})
		}
	}
	return out
}

// RangeSpans is r's spans clipped to its bounds, which they then hold
// (for SpansFrom); nil when r is nil or has no spans, when a bound is not
// an int64 or when no key lies within the bounds. Only the first span can
// start at MinInt64 (they ascend), whose literal SpansFrom casts.
func RangeSpans(r *sdk.RangeFilter) []sdk.KeySpan {
	if r == nil {
		return nil
	}
	lower, upper := int64(math.MinInt64), int64(math.MaxInt64)
	if b := r.Lower; b != nil {
		if b.Kind != sdk.KindInt64 || !r.LowerInclusive && b.Int == math.MaxInt64 {
			return nil
		}
		lower = b.Int
		if !r.LowerInclusive {
			lower++
		}
	}
	if b := r.Upper; b != nil {
		if b.Kind != sdk.KindInt64 || !r.UpperInclusive && b.Int == math.MinInt64 {
			return nil
		}
		upper = b.Int
		if !r.UpperInclusive {
			upper--
		}
	}
	return clipSpans(r.Spans, lower, upper)
}

// aligned: every range of req is made of whole blocks of width w, and so
// are its spans.
func aligned(req sdk.ChecksumRangesRequest, w int64) bool {
	edge := func(lower, upper int64) bool {
		return lower&(w-1) == 0 && (upper == math.MaxInt64 || (upper+1)&(w-1) == 0)
	}
	if w < 1 || req.Lower > req.Upper || !edge(req.Lower, req.Upper) || (req.Width&(w-1) != 0 && !oneRange(req)) {
		return false
	}
	for _, s := range req.Spans {
		if !edge(s.Lower, s.Upper) {
			return false
		}
	}
	return true
}

// oneRange: req's ranges are one, [Lower, Upper].
func oneRange(req sdk.ChecksumRangesRequest) bool {
	return uint64(req.Upper-req.Lower) < uint64(req.Width)
}

// blocksSQL sums the blocks of m per range of req (aligned): a row per
// block and delta rather than per key.
func blocksSQL(d *Dialect, req sdk.ChecksumRangesRequest, m Maintained) string {
	shift := bits.TrailingZeros64(uint64(m.BlockWidth))
	lo, hi := req.Lower>>shift, req.Upper>>shift
	bucket := "0"
	if !oneRange(req) {
		bucket = d.Checksum.Bucket("b", lo, req.Width>>shift, false)
	}
	conds := []string{fmt.Sprintf("b >= %d AND b <= %d", lo, hi)}
	if len(req.Spans) > 0 {
		spans := make([]sdk.KeySpan, len(req.Spans))
		for i, s := range req.Spans {
			spans[i] = sdk.KeySpan{Lower: s.Lower >> shift, Upper: s.Upper >> shift}
		}
		conds = append(conds, SpansSQL("b", spans))
	}
	// A block whose rows were all deleted sums to none.
	return fmt.Sprintf("SELECT %s AS hp_range, SUM(n), SUM(s) FROM %s WHERE %s GROUP BY 1 HAVING SUM(n) <> 0 ORDER BY 1",
		bucket, m.Blocks, strings.Join(conds, " AND "))
}

// hashExpr is the row's hash (sdk.RangeChecksummer) over cols, each
// referred to as prefix + its quoted name.
func (c *Connector) hashExpr(cols []ColumnMeta, prefix string) (string, error) {
	d := c.dialect
	parts := make([]string, 0, len(cols))
	for _, m := range cols {
		mp, err := d.Map(m)
		if err != nil {
			return "", fmt.Errorf("column %q (%s): %w", m.Name, m.NativeType, err)
		}
		q := prefix + d.quote(m.Name)
		canon, ok := d.Checksum.Canonical(q, m, mp.Type)
		if !ok || mp.Select != nil {
			return "", sdk.Errorf(sdk.ErrUnsupportedType, "column %q (%s, %s) has no canonical text both databases produce alike: compare it without --hash, or leave it out with --columns", m.Name, m.NativeType, mp.Type)
		}
		// Only text can hold "," or be "N", so only text needs its length
		// in front: evaluating any other canonical expression twice (once
		// for its length) is what made the query twice as slow.
		if id := mp.Type.ID(); id == arrow.STRING || id == arrow.LARGE_STRING {
			canon = fmt.Sprintf("CONCAT(CHAR_LENGTH(%s), ':', %s)", canon, canon)
		}
		parts = append(parts, fmt.Sprintf("CASE WHEN %s IS NULL THEN 'N' ELSE %s END", q, canon))
	}
	text := "CONCAT_WS(',', " + strings.Join(parts, ", ") + ")"
	return d.Checksum.HexToInt("SUBSTRING(MD5(" + text + "), 1, 15)"), nil
}

// SpansFrom is what to read FROM for the rows of table (quoted) whose
// integer column (quoted) lies in one of spans (disjoint, so no row is
// kept twice) and that meet where (when not ""): a join of the table with
// the list of spans, behind OFFSET 0 so that PostgreSQL plans it alone,
// an index range scan per span (with an ORDER BY beside it, it sorted the
// whole table first). The first span's bounds are cast to BIGINT, which
// types the list's columns: a literal like -9223372036854775808 alone
// would be NUMERIC, whose comparison with the column no index serves.
func SpansFrom(table, quoted, where string, spans []sdk.KeySpan) string {
	var b strings.Builder
	if where != "" {
		// where names the table's columns alone, whatever they are called
		// (hp_lo included); PostgreSQL pulls the subquery up into the join.
		table = "(SELECT * FROM " + table + " WHERE (" + where + "))"
	}
	fmt.Fprintf(&b, "(SELECT hp_t.* FROM %s AS hp_t JOIN (VALUES ", table)
	for i, s := range spans {
		if i == 0 {
			fmt.Fprintf(&b, "(CAST(%d AS BIGINT), CAST(%d AS BIGINT))", s.Lower, s.Upper)
		} else {
			fmt.Fprintf(&b, ", (%d, %d)", s.Lower, s.Upper)
		}
	}
	fmt.Fprintf(&b, ") AS hp_spans (hp_lo, hp_hi) ON hp_t.%s BETWEEN hp_spans.hp_lo AND hp_spans.hp_hi", quoted)
	b.WriteString(" OFFSET 0) AS hp_rows")
	return b.String()
}

// SpansSQL is the condition that the integer column (quoted) lies in one of
// spans: integer literals only, so it is the same SQL in every dialect.
func SpansSQL(quoted string, spans []sdk.KeySpan) string {
	var b strings.Builder
	b.WriteString("(")
	for i, s := range spans {
		if i > 0 {
			b.WriteString(" OR ")
		}
		if s.Lower == s.Upper {
			fmt.Fprintf(&b, "%s = %d", quoted, s.Lower)
		} else {
			fmt.Fprintf(&b, "%s BETWEEN %d AND %d", quoted, s.Lower, s.Upper)
		}
	}
	b.WriteString(")")
	return b.String()
}
