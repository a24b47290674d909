package sqlsource

import (
	"context"
	"database/sql"
	"strings"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// Catalog helpers for dialects whose catalog answers with plain queries.

// QueryColumns runs a query returning (name, native type, nullable) rows.
// No rows means the table does not exist: the error names ref and wraps
// sdk.ErrNotFound.
func QueryColumns(ctx context.Context, db *sql.DB, ref sdk.ObjectRef, query string, args ...any) ([]ColumnMeta, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ColumnMeta
	for rows.Next() {
		var m ColumnMeta
		if err := rows.Scan(&m.Name, &m.NativeType, &m.Nullable); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, sdk.NotFoundf("table %s does not exist", ref)
	}
	return out, nil
}

// QueryStrings runs a query returning one text column, e.g. key columns.
func QueryStrings(ctx context.Context, db *sql.DB, query string, args ...any) ([]string, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// QueryObjects runs a query returning (schema, name, kind) rows; a kind
// containing "VIEW" (any case) is a view, anything else a table.
func QueryObjects(ctx context.Context, db *sql.DB, query string, args ...any) ([]sdk.ObjectInfo, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []sdk.ObjectInfo
	for rows.Next() {
		var s, n, kind string
		if err := rows.Scan(&s, &n, &kind); err != nil {
			return nil, err
		}
		k := "table"
		if strings.Contains(strings.ToLower(kind), "view") {
			k = "view"
		}
		out = append(out, sdk.ObjectInfo{Ref: sdk.ObjectRef{Schema: s, Name: n}, Kind: k})
	}
	return out, rows.Err()
}
