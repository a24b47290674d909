package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/halfpipe-io/halfpipe/sdk"
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
	JoinSpans:    true,
	SpansSession: spansSession,
}

// spansSession are set for a query joining spans (sqlsource.SpansFrom).
// The join is guessed a hundred times its rows, and the JIT compiling for
// that guess costs more than the query. On a large table without
// statistics (a shadow just filled), that guess also made the planner
// scan the whole table once and test every row against every span: 100M
// rows took minutes where an index range scan per span takes
// milliseconds.
var spansSession = []string{"SET LOCAL jit = off", "SET LOCAL enable_seqscan = off"}

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

// maintainSQL keeps the shadow current with statement-level triggers over
// transition tables (one per event: a trigger with transition tables
// serves one event), ENABLE ALWAYS so that a replica's apply
// (session_replication_role = replica) maintains it too. Each appends a
// statement's deltas to the blocks, one row per block it touched: the old
// rows' hashes out, the new rows' in.
var maintainSQL = &sqlsource.MaintainSQL{
	Lock: func(table string) string { return "LOCK TABLE " + table + " IN SHARE ROW EXCLUSIVE MODE" },
	Triggers: func(m sqlsource.Maintained) []string {
		upsert := fmt.Sprintf("INSERT INTO %s (k, h) SELECT n.%s, %s FROM hp_new n ON CONFLICT (k) DO UPDATE SET h = EXCLUDED.h;", m.Shadow, m.Key, m.Hash("n."))
		old := fmt.Sprintf("SELECT %s AS b, -1 AS n, -(%s)::numeric AS s FROM hp_old o", m.Block("o."+m.Key), m.Hash("o."))
		in := fmt.Sprintf("SELECT %s AS b, 1 AS n, (%s)::numeric AS s FROM hp_new n", m.Block("n."+m.Key), m.Hash("n."))
		deltas := func(sel string) string {
			return fmt.Sprintf("INSERT INTO %s (b, n, s) SELECT b, SUM(n), SUM(s) FROM (%s) d GROUP BY b HAVING SUM(n) <> 0 OR SUM(s) <> 0;\n", m.Blocks, sel)
		}
		bodies := []struct{ event, on, ref, body string }{
			{"ins", "INSERT", "REFERENCING NEW TABLE AS hp_new", deltas(in) + upsert},
			{"upd", "UPDATE", "REFERENCING OLD TABLE AS hp_old NEW TABLE AS hp_new", deltas(old+" UNION ALL "+in) +
				fmt.Sprintf("DELETE FROM %s s USING hp_old o WHERE s.k = o.%s AND NOT EXISTS (SELECT 1 FROM hp_new n WHERE n.%s = o.%s);\n", m.Shadow, m.Key, m.Key, m.Key) + upsert},
			{"del", "DELETE", "REFERENCING OLD TABLE AS hp_old", deltas(old) + fmt.Sprintf("DELETE FROM %s s USING hp_old o WHERE s.k = o.%s;", m.Shadow, m.Key)},
			{"trunc", "TRUNCATE", "", "DELETE FROM " + m.Blocks + ";\nDELETE FROM " + m.Shadow + ";"},
		}
		// The functions run as their owner (SECURITY DEFINER), so a role
		// writing the table needs no privilege on the shadow. They keep
		// the installer's search_path, with pg_temp last so that a
		// writer's temporary table cannot stand in for the shadow.
		out := []string{"SELECT set_config('search_path', current_setting('search_path') || ', pg_temp', true)"}
		for _, b := range bodies {
			name := m.TriggerName(b.event)
			out = append(out,
				fmt.Sprintf("CREATE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $hp$\nBEGIN\n%s\nRETURN NULL;\nEND\n$hp$", m.Object(name), b.body),
				fmt.Sprintf("CREATE TRIGGER %s AFTER %s ON %s %s FOR EACH STATEMENT EXECUTE FUNCTION %s()", m.Quote(name), b.on, m.Table, b.ref, m.Object(name)),
				fmt.Sprintf("ALTER TABLE %s ENABLE ALWAYS TRIGGER %s", m.Table, m.Quote(name)))
		}
		return out
	},
	DropTriggers: func(m sqlsource.Maintained) []string {
		var out []string
		for _, e := range triggerEvents {
			out = append(out, fmt.Sprintf("DROP FUNCTION IF EXISTS %s() CASCADE", m.Object(m.TriggerName(e))))
		}
		return out
	},
	Fill: func(m sqlsource.Maintained, sel string) string {
		return "INSERT INTO " + m.Shadow + " (k, h) " + sel
	},
	Check: func(ctx context.Context, db *sql.DB, m sqlsource.Maintained, _ string) (string, error) {
		var names string
		err := db.QueryRowContext(ctx, `SELECT COALESCE(string_agg(tgname::text, E'\n'), '') FROM pg_trigger
			WHERE tgrelid = to_regclass($1) AND tgenabled = 'A' AND NOT tgisinternal`, m.Table).Scan(&names)
		if err != nil {
			return "", err
		}
		for _, e := range triggerEvents {
			if !slices.Contains(strings.Split(names, "\n"), m.TriggerName(e)) {
				return fmt.Sprintf("trigger %s of %s is missing or not enabled ALWAYS: install the checksums again", m.TriggerName(e), m.Table), nil
			}
		}
		if err := inherited(ctx, db, m); errors.Is(err, sdk.ErrInvalidArgument) {
			return err.Error(), nil
		} else if err != nil {
			return "", err
		}
		return "", nil
	},
	Refuse:  inherited,
	BlockOf: func(key string, shift int) string { return fmt.Sprintf("(%s::bigint >> %d)", key, shift) },
	BlockTable: func(m sqlsource.Maintained) []string {
		return []string{"CREATE TABLE " + m.Blocks + " (b bigint NOT NULL, n bigint NOT NULL, s numeric NOT NULL)",
			"CREATE INDEX ON " + m.Blocks + " (b)"}
	},
	// Rows appended meanwhile are not in the DELETE's snapshot: they stay.
	Compact: func(m sqlsource.Maintained) []string {
		return []string{fmt.Sprintf("WITH d AS (DELETE FROM %s RETURNING b, n, s) INSERT INTO %s (b, n, s) SELECT b, SUM(n), SUM(s) FROM d GROUP BY b HAVING SUM(n) <> 0 OR SUM(s) <> 0", m.Blocks, m.Blocks)}
	},
}

// inherited fails for a table with partitions or inheritance children: a
// read of it holds their rows, but a write addressed to one of them fires
// none of its statement triggers.
func inherited(ctx context.Context, db *sql.DB, m sqlsource.Maintained) error {
	var child sql.NullString
	err := db.QueryRowContext(ctx, `SELECT min(inhrelid::regclass::text) FROM pg_inherits WHERE inhparent = to_regclass($1)`, m.Table).Scan(&child)
	if err != nil || !child.Valid {
		return err
	}
	return sdk.InvalidArgumentf("%s has partitions or inheritance children (%s): a write addressed to one fires none of its triggers, so its maintained checksums would go stale unseen", m.Table, child.String)
}

var triggerEvents = []string{"ins", "upd", "del", "trunc"}
