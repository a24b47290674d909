package mysql

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

// maintainSQL keeps the shadow current with row triggers. TRUNCATE fires
// none and InnoDB gives the truncated table a new id: the id recorded at
// install tells. Triggers see the writer's session time zone, so a table
// with TIMESTAMP columns hashes them with the zone set to UTC. Each
// appends its row's deltas to the blocks (the old hash out, the new one
// in) before it writes the shadow, the order the blocks' fill locks them.
var maintainSQL = &sqlsource.MaintainSQL{
	Triggers: func(m sqlsource.Maintained) []string {
		in := fmt.Sprintf("(%s, 1, %s)", m.Block("NEW."+m.Key), m.Hash("NEW."))
		old := fmt.Sprintf("(%s, -1, -CAST(%s AS SIGNED))", m.Block("OLD."+m.Key), m.Hash("OLD."))
		deltas := func(rows ...string) string {
			return fmt.Sprintf("INSERT INTO %s (b, n, s) VALUES %s;\n", m.Blocks, strings.Join(rows, ", "))
		}
		upsert := fmt.Sprintf("INSERT INTO %s (k, h) VALUES (NEW.%s, %s) ON DUPLICATE KEY UPDATE h = VALUES(h);", m.Shadow, m.Key, m.Hash("NEW."))
		hashes := func(body string) string {
			for _, c := range m.Columns {
				if strings.HasPrefix(strings.ToLower(c.NativeType), "timestamp") {
					return "BEGIN\nDECLARE hp_zone VARCHAR(64) DEFAULT @@session.time_zone;\nSET time_zone = '+00:00';\n" + body + "\nSET time_zone = hp_zone;\nEND"
				}
			}
			return "BEGIN\n" + body + "\nEND"
		}
		trigger := func(event, on, body string) string {
			return fmt.Sprintf("CREATE TRIGGER %s AFTER %s ON %s FOR EACH ROW %s", m.Object(m.TriggerName(event)), on, m.Table, body)
		}
		return []string{
			trigger("ins", "INSERT", hashes(deltas(in)+upsert)),
			// Row by row the key is unique at every step, so the old key's
			// hash is no other row's.
			trigger("upd", "UPDATE", hashes(deltas(old, in)+fmt.Sprintf("IF NEW.%s <> OLD.%s THEN DELETE FROM %s WHERE k = OLD.%s; END IF;\n", m.Key, m.Key, m.Shadow, m.Key)+upsert)),
			trigger("del", "DELETE", hashes(deltas(old)+fmt.Sprintf("DELETE FROM %s WHERE k = OLD.%s;", m.Shadow, m.Key))),
		}
	},
	DropTriggers: func(m sqlsource.Maintained) []string {
		var out []string
		for _, e := range triggerEvents {
			out = append(out, "DROP TRIGGER IF EXISTS "+m.Object(m.TriggerName(e)))
		}
		return out
	},
	// A locking read sees the latest committed row and holds it until the
	// fill commits, so a write racing the fill lands after it, through its
	// trigger.
	Fill: func(m sqlsource.Maintained, sel string) string {
		return "INSERT INTO " + m.Shadow + " (k, h) " + sel + " LOCK IN SHARE MODE ON DUPLICATE KEY UPDATE h = VALUES(h)"
	},
	Check: func(ctx context.Context, db *sql.DB, m sqlsource.Maintained, stamp string) (string, error) {
		var names string
		err := db.QueryRowContext(ctx, `SELECT COALESCE(GROUP_CONCAT(TRIGGER_NAME SEPARATOR '\n'), '') FROM information_schema.TRIGGERS
			WHERE TRIGGER_SCHEMA = COALESCE(NULLIF(?, ''), DATABASE()) AND EVENT_OBJECT_TABLE = ?`, m.Ref.Schema, m.Ref.Name).Scan(&names)
		if err != nil {
			return "", err
		}
		for _, e := range triggerEvents {
			if !slices.Contains(strings.Split(names, "\n"), m.TriggerName(e)) {
				return fmt.Sprintf("trigger %s of %s is missing: install the checksums again", m.TriggerName(e), m.Table), nil
			}
		}
		now, err := tableStamp(ctx, db, m)
		if err != nil || now != stamp {
			return fmt.Sprintf("%s was truncated or rebuilt since the checksums were installed (TRUNCATE fires no trigger): install them again", m.Table), err
		}
		if err := refuse(ctx, db, m); errors.Is(err, sdk.ErrInvalidArgument) {
			return err.Error(), nil
		} else if err != nil {
			return "", err
		}
		return "", nil
	},
	Stamp:  tableStamp,
	Refuse: refuse,
	// MOD takes the sign of the key: a negative key not on a block's edge
	// lies in the block below its quotient.
	BlockOf: func(key string, shift int) string {
		return fmt.Sprintf("(%s DIV %d - (%s MOD %d < 0))", key, int64(1)<<shift, key, int64(1)<<shift)
	},
	BlockTable: func(m sqlsource.Maintained) []string {
		return []string{"CREATE TABLE " + m.Blocks + " (id BIGINT AUTO_INCREMENT PRIMARY KEY, b BIGINT NOT NULL, n BIGINT NOT NULL, s DECIMAL(65, 0) NOT NULL, KEY (b))"}
	},
	// The rows to fold are copied by a consistent read (no locks: read
	// committed), and exactly those are deleted by id, so a delta a writer
	// commits meanwhile stays, whatever its id.
	Compact: func(m sqlsource.Maintained) []string {
		return []string{"DROP TEMPORARY TABLE IF EXISTS hp_compact",
			"CREATE TEMPORARY TABLE hp_compact AS SELECT id, b, n, s FROM " + m.Blocks,
			fmt.Sprintf("INSERT INTO %s (b, n, s) SELECT b, SUM(n), SUM(s) FROM hp_compact GROUP BY b HAVING SUM(n) <> 0 OR SUM(s) <> 0", m.Blocks),
			fmt.Sprintf("DELETE k FROM %s AS k JOIN hp_compact AS c ON k.id = c.id", m.Blocks),
			"DROP TEMPORARY TABLE hp_compact"}
	},
}

// refuse fails for a table whose rows can change without its triggers.
func refuse(ctx context.Context, db *sql.DB, m sqlsource.Maintained) error {
	var parts int
	err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.PARTITIONS
		WHERE TABLE_SCHEMA = COALESCE(NULLIF(?, ''), DATABASE()) AND TABLE_NAME = ? AND PARTITION_NAME IS NOT NULL`, m.Ref.Schema, m.Ref.Name).Scan(&parts)
	if err != nil {
		return err
	}
	if parts > 0 {
		return sdk.InvalidArgumentf("%s is partitioned: TRUNCATE PARTITION and the like fire no trigger and leave the table's id as it was, so its maintained checksums would go stale unseen", m.Table)
	}
	return cascades(ctx, db, m)
}

var triggerEvents = []string{"ins", "upd", "del"}

// tableStamp identifies the table's storage: its InnoDB table id (new
// after a TRUNCATE) where the server shows it, and its creation time.
func tableStamp(ctx context.Context, db *sql.DB, m sqlsource.Maintained) (string, error) {
	var created, id sql.NullString
	q := `SELECT CREATE_TIME, (SELECT TABLE_ID FROM information_schema.INNODB_SYS_TABLES WHERE NAME = CONCAT(t.TABLE_SCHEMA, '/', t.TABLE_NAME))
		FROM information_schema.TABLES t WHERE TABLE_SCHEMA = COALESCE(NULLIF(?, ''), DATABASE()) AND TABLE_NAME = ?`
	if err := db.QueryRowContext(ctx, q, m.Ref.Schema, m.Ref.Name).Scan(&created, &id); err != nil {
		// MySQL 8 has no INNODB_SYS_TABLES: the creation time alone.
		q = `SELECT CREATE_TIME, NULL FROM information_schema.TABLES WHERE TABLE_SCHEMA = COALESCE(NULLIF(?, ''), DATABASE()) AND TABLE_NAME = ?`
		if err := db.QueryRowContext(ctx, q, m.Ref.Schema, m.Ref.Name).Scan(&created, &id); err != nil {
			return "", err
		}
	}
	return created.String + " " + id.String, nil
}

// cascades fails for the child of a foreign key that cascades: InnoDB
// changes its rows without firing triggers.
func cascades(ctx context.Context, db *sql.DB, m sqlsource.Maintained) error {
	var name, rule string
	err := db.QueryRowContext(ctx, `SELECT CONSTRAINT_NAME, CONCAT('ON DELETE ', DELETE_RULE, ' ON UPDATE ', UPDATE_RULE) FROM information_schema.REFERENTIAL_CONSTRAINTS
		WHERE CONSTRAINT_SCHEMA = COALESCE(NULLIF(?, ''), DATABASE()) AND TABLE_NAME = ?
		AND (DELETE_RULE IN ('CASCADE', 'SET NULL') OR UPDATE_RULE IN ('CASCADE', 'SET NULL')) LIMIT 1`, m.Ref.Schema, m.Ref.Name).Scan(&name, &rule)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	return sdk.InvalidArgumentf("%s is the child of foreign key %s (%s), whose changes to its rows fire no trigger: its maintained checksums would go stale unseen", m.Table, name, rule)
}
