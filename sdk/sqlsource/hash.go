package sqlsource

import (
	"context"
	"fmt"
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
}

// ChecksumRanges implements sdk.RangeChecksummer with one grouped query:
// the database hashes every row and sums the hashes per range.
func (c *Connector) ChecksumRanges(ctx context.Context, req sdk.ChecksumRangesRequest) ([]sdk.RangeChecksum, error) {
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
	q, err := c.checksumSQL(req, meta)
	if err != nil {
		return nil, err
	}
	if err := d.checkSQL(q); err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, d.classify(err, req.Conn.DSN)
	}
	defer rows.Close()
	var out []sdk.RangeChecksum
	for rows.Next() {
		var r sdk.RangeChecksum
		var idx string
		if err := rows.Scan(&idx, &r.Rows, &r.Checksum); err != nil {
			return nil, d.classify(err, req.Conn.DSN)
		}
		if r.Index, err = strconv.ParseInt(idx, 10, 64); err != nil {
			return nil, fmt.Errorf("range index %q: %w", idx, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, d.classify(err, req.Conn.DSN)
	}
	return out, nil
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
	parts := make([]string, 0, len(meta)-1)
	for _, m := range meta[1:] {
		mp, err := d.Map(m)
		if err != nil {
			return "", fmt.Errorf("column %q (%s): %w", m.Name, m.NativeType, err)
		}
		q := d.quote(m.Name)
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
	k := d.quote(req.Key)
	conds := []string{fmt.Sprintf("%s >= %d AND %s <= %d", k, req.Lower, k, req.Upper)}
	if len(req.Spans) > 0 {
		conds = append(conds, SpansSQL(k, req.Spans))
	}
	if req.Where != "" {
		conds = append(conds, "("+req.Where+")")
	}
	return fmt.Sprintf("SELECT %s AS hp_range, COUNT(*), SUM(%s) FROM %s WHERE %s GROUP BY 1 ORDER BY 1",
		d.Checksum.Bucket(k, req.Lower, req.Width, req.Upper-req.Lower < 0), d.Checksum.HexToInt("SUBSTRING(MD5("+text+"), 1, 15)"),
		d.table(req.Table), strings.Join(conds, " AND ")), nil
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
