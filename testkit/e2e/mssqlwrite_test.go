package e2e

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/testkit"
	"github.com/halfpipe-io/halfpipe/testkit/tds"
)

const mswSource = "hp_e2e_msw_src"

// mswRows creates the PostgreSQL source: integers, decimals (38 digits),
// floats, unicode text (surrogate pairs, quotes, newlines), bytes, dates
// and timestamps at SQL Server's extremes, times, uuids; NULL in every
// nullable column of every seventh row. It returns the rows as text in
// the forms mswText renders the bulk values in, NULL as nil.
func mswRows(t *testing.T, n int) [][]*string {
	t.Helper()
	pgExec(t, fmt.Sprintf(`drop table if exists %[1]s;
		create table %[1]s (id bigint primary key, i int, s smallint, n numeric(15,2), big numeric(38,10), r real, d double precision,
			t text, vc varchar(20), b boolean, by bytea, dt date, ts timestamp(6), tz timestamptz(6), tm time(6), u uuid);
		insert into %[1]s select g, (g * 1000 - 7) * (1 - 2 * (g %% 2)), (g %% 30000 - 100)::smallint, g * 1.25 - 100,
			(g * 123456789.0123456789 - 1e25)::numeric(38,10), (g / 3.0)::real, g / 7.0,
			'row ' || g || E' ünï ✓ 😀 "q" \\ \t' || E'\n' || 'end', 'v' || g, g %% 2 = 0, decode(md5(g::text), 'hex'),
			case g when 1 then date '0001-01-01' when 2 then date '9999-12-31' else date '1999-12-31' + g end,
			case g when 3 then timestamp '0001-01-01 00:00:00' when 4 then timestamp '9999-12-31 23:59:59.999999'
				else timestamp '2000-01-01 00:00:00.123456' + g * interval '1 hour 1.000001 sec' end,
			timestamptz '2024-03-31 00:59:59.999999+00' + g * interval '1 sec 1 microsecond',
			case g when 5 then time '23:59:59.999999' else time '00:00:00.000001' + g * interval '1 min 1.5 sec' end,
			md5(g::text)::uuid
		from generate_series(1, %[2]d) g;
		update %[1]s set i = null, s = null, n = null, big = null, r = null, d = null, t = null, vc = null, b = null, by = null,
			dt = null, ts = null, tz = null, tm = null, u = null where id %% 7 = 0`, mswSource, n))
	out := pgExec(t, `select json_agg(json_build_array(id::text, i::text, s::text, n::text, big::text, r::text, d::text, t, vc, b::text,
		encode(by, 'hex'), to_char(dt, 'YYYY-MM-DD'), to_char(ts, 'YYYY-MM-DD"T"HH24:MI:SS.US'),
		to_char(tz at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), to_char(date '2000-01-01' + tm, 'HH24:MI:SS.US'), u::text) order by id)
		from `+mswSource)
	var rows [][]*string
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("%v: %.200s", err, out)
	}
	return rows
}

// mswText renders a value the TDS server decoded from a bulk load as
// PostgreSQL renders the source value in mswRows.
func mswText(t *testing.T, c tds.Column, v any) *string {
	t.Helper()
	var s string
	switch x := v.(type) {
	case nil:
		return nil
	case int64:
		s = strconv.FormatInt(x, 10)
	case bool:
		s = strconv.FormatBool(x)
	case float64:
		bits := 64
		if c.Type == tds.Real {
			bits = 32
		}
		s = strconv.FormatFloat(x, 'g', -1, bits)
	case string:
		s = x
	case []byte:
		s = hex.EncodeToString(x)
	case time.Time:
		switch c.Type {
		case tds.Date:
			s = x.Format(time.DateOnly)
		case tds.Time:
			s = x.Format("15:04:05.000000")
		default:
			s = x.UTC().Format("2006-01-02T15:04:05.000000")
		}
	default:
		t.Fatalf("column %s: unexpected %T", c.Name, v)
	}
	return &s
}

// mswSame fails unless a bulk load carried want's rows (in any order:
// the source is read without ORDER BY), value for value, in the source's
// column order (extra columns after them, such as a
// staging table's arrival number, are returned for the caller to check).
func mswSame(t *testing.T, b tds.Bulk, names []string, want [][]*string) [][]any {
	t.Helper()
	if len(b.Columns) < len(names) {
		t.Fatalf("bulk load into %s has columns %+v", b.Table, b.Columns)
	}
	for i, n := range names {
		if b.Columns[i].Name != n {
			t.Fatalf("bulk column %d is %q, want %q", i, b.Columns[i].Name, n)
		}
	}
	if len(b.Rows) != len(want) {
		t.Fatalf("bulk load into %s: %d rows, want %d", b.Table, len(b.Rows), len(want))
	}
	byID := map[string][]*string{}
	for _, w := range want {
		byID[*w[0]] = w
	}
	var extra [][]any
	for r, row := range b.Rows {
		id := *mswText(t, b.Columns[0], row[0])
		w, ok := byID[id]
		if !ok {
			t.Fatalf("%s row %d: id %s not in the source, or sent twice", b.Table, r+1, id)
		}
		delete(byID, id)
		for i := range names {
			got, w := mswText(t, b.Columns[i], row[i]), w[i]
			if (got == nil) != (w == nil) || got != nil && *got != *w {
				show := func(p *string) string {
					if p == nil {
						return "NULL"
					}
					return strconv.Quote(*p)
				}
				t.Errorf("%s row %d column %s: got %s, want %s", b.Table, r+1, names[i], show(got), show(w))
			}
		}
		extra = append(extra, row[len(names):])
	}
	return extra
}

// mswStatements lists what the server received since from, bulk loads as
// "<bulk N rows into T>", catalog reads as "<columns of T>", and
// #temporary names with their random suffix cut.
func mswStatements(db *tds.Server, from int) []string {
	var out []string
	for _, q := range db.Queries()[from:] {
		s := q.SQL
		switch {
		case q.Bulk != nil:
			s = fmt.Sprintf("<bulk %d rows into %s>", len(q.Bulk.Rows), q.Bulk.Table)
		case s == mssqlColumnsQuery:
			s = fmt.Sprintf("<columns of %v>", q.Args()[0])
		}
		for {
			i := strings.Index(s, "#hp_merge_")
			if i < 0 || len(s) < i+26 || s[i+10] == '*' {
				break
			}
			s = s[:i+10] + "*" + s[i+26:]
		}
		out = append(out, s)
	}
	return out
}

// TestSnapPostgresIntoSQLServer: hp cp snap from PostgreSQL into SQL
// Server (the TDS test server) creates the table with the stream's types,
// replaces, appends and merges in one transaction each, and the bulk loads
// carry the source rows value for value.
func TestSnapPostgresIntoSQLServer(t *testing.T) {
	t.Parallel() // its own table and TDS server
	bin := testkit.Build(t)
	const n = 200
	want := mswRows(t, n)
	pgCleanup(t, "drop table if exists "+mswSource)
	names := []string{"id", "i", "s", "n", "big", "r", "d", "t", "vc", "b", "by", "dt", "ts", "tz", "tm", "u"}

	db := tds.Start(t, tds.WithLogin("etl", "pw"))
	// The catalog query answered from the server's tables (what CREATE
	// TABLE made), as sys.columns would.
	db.HandleCatalog(mssqlColumnsQuery)
	db.HandleMatch(func(sql string) bool { return strings.HasPrefix(sql, "DELETE FROM ") }, func(tds.Query) tds.Response {
		return tds.Response{RowsAffected: n}
	})
	db.HandleMatch(func(sql string) bool { return strings.HasPrefix(sql, "MERGE ") }, func(tds.Query) tds.Response {
		return tds.Response{RowsAffected: n}
	})
	env := []string{"HP_PG_DSN=" + pgDSN, "HP_MS_DSN=" + db.DSN("etl", "pw", "Sales")}
	const target = "[dbo].[orders]"
	snap := func(flags ...string) (testkit.Result, []string, []tds.Bulk) {
		t.Helper()
		from, bulks := len(db.Queries()), len(db.Bulks())
		res := bin.Run(t, env, append([]string{"cp", "snap", "pg." + mswSource, "ms.dbo.orders"}, flags...)...)
		return res, mswStatements(db, from), db.Bulks()[bulks:]
	}
	create := "IF OBJECT_ID(N'" + target + "', N'U') IS NULL CREATE TABLE " + target + " ([id] bigint NOT NULL, [i] int NULL, [s] smallint NULL, " +
		"[n] decimal(15,2) NULL, [big] decimal(38,10) NULL, [r] real NULL, [d] float NULL, [t] nvarchar(max) NULL, [vc] nvarchar(max) NULL, " +
		"[b] bit NULL, [by] varbinary(max) NULL, [dt] date NULL, [ts] datetime2(6) NULL, [tz] datetimeoffset(6) NULL, [tm] time(6) NULL, " +
		"[u] nvarchar(max) NULL)"
	bulkInto := func(table string) []string {
		return []string{"SET FMTONLY ON", "select * from " + table + " SET FMTONLY OFF", "<bulk>", fmt.Sprintf("<bulk %d rows into %s>", n, table)}
	}
	check := func(mode string, res testkit.Result, got, want []string) {
		t.Helper()
		if res.Code != 0 || !strings.Contains(res.Stderr, fmt.Sprintf("%d rows into ms.dbo.orders", n)) {
			t.Fatalf("%s: exit %d\n%s", mode, res.Code, res.Stderr)
		}
		for i := range got {
			if strings.HasPrefix(got[i], "insert bulk ") || strings.HasPrefix(got[i], "INSERT BULK ") {
				got[i] = "<bulk>" // checked through the bulk load's columns
			}
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: statements\n%s\nwant\n%s", mode, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}

	// Replace (the default) into a table that does not exist: created,
	// emptied, loaded, in one transaction.
	res, stmts, bulks := snap()
	check("replace", res, stmts, append(append([]string{"BEGIN TRANSACTION", create, "<columns of " + target + ">", "DELETE FROM " + target},
		bulkInto(target)...), "COMMIT TRANSACTION"))
	if len(bulks) != 1 {
		t.Fatalf("replace: %d bulk loads", len(bulks))
	}
	mswSame(t, bulks[0], names, want)
	if cols, ok := db.Table(target); !ok || len(cols) != len(names) || cols[0].Nullable || !cols[1].Nullable {
		t.Errorf("created table: %+v", cols)
	}

	// Append: the table exists; no DELETE.
	res, stmts, bulks = snap("--write-mode", "append")
	check("append", res, stmts, append(append([]string{"BEGIN TRANSACTION", create, "<columns of " + target + ">"}, bulkInto(target)...), "COMMIT TRANSACTION"))
	if len(bulks) != 1 {
		t.Fatalf("append: %d bulk loads", len(bulks))
	}
	mswSame(t, bulks[0], names, want)

	// Merge on id: the rows are staged in a #temporary table with their
	// arrival number, MERGEd (the last row of a key wins) and dropped.
	res, stmts, bulks = snap("--write-mode", "merge", "--primary-keys", "id")
	var set, ins, vals []string
	for _, c := range names {
		ins, vals = append(ins, "["+c+"]"), append(vals, "s.["+c+"]")
		if c != "id" {
			set = append(set, "t.["+c+"] = s.["+c+"]")
		}
	}
	merge := "MERGE " + target + " WITH (HOLDLOCK) AS t USING (SELECT " + strings.Join(ins, ", ") +
		" FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY [id] ORDER BY [hp_seq] DESC) AS [hp_rn] FROM [#hp_merge_*]) AS d WHERE [hp_rn] = 1) AS s" +
		" ON t.[id] = s.[id] WHEN MATCHED THEN UPDATE SET " + strings.Join(set, ", ") +
		" WHEN NOT MATCHED THEN INSERT (" + strings.Join(ins, ", ") + ") VALUES (" + strings.Join(vals, ", ") + ");"
	// Its text columns take the table's columns' collation (the server's
	// default), not tempdb's.
	staging := strings.Replace(strings.TrimPrefix(create[strings.Index(create, "CREATE TABLE"):], "CREATE TABLE "+target),
		"[u] nvarchar(max) NULL)", "[u] nvarchar(max) NULL, [hp_seq] bigint NOT NULL)", 1)
	staging = strings.ReplaceAll(staging, " nvarchar(max) NULL", " nvarchar(max) COLLATE "+tds.DefaultCollation+" NULL")
	// A table created for a merge has the keys as its primary key.
	keyed := strings.Replace(create, "[u] nvarchar(max) NULL)", "[u] nvarchar(max) NULL, PRIMARY KEY ([id]))", 1)
	check("merge", res, stmts, append(append([]string{"BEGIN TRANSACTION", keyed, "<columns of " + target + ">",
		"CREATE TABLE [#hp_merge_*]" + staging}, bulkInto("[#hp_merge_*]")...), merge, "DROP TABLE [#hp_merge_*]", "COMMIT TRANSACTION"))
	if len(bulks) != 1 {
		t.Fatalf("merge: %d bulk loads", len(bulks))
	}
	for i, seq := range mswSame(t, bulks[0], names, want) {
		if len(seq) != 1 || seq[0] != int64(i) {
			t.Fatalf("staged row %d: arrival number %v", i+1, seq)
		}
	}

	// A failing MERGE rolls the transaction back and fails the run.
	db.HandleMatch(func(sql string) bool { return strings.HasPrefix(sql, "MERGE ") }, func(tds.Query) tds.Response {
		return tds.Response{Err: &tds.Error{Number: 2627, State: 1, Class: 14, Message: "Violation of PRIMARY KEY constraint 'pk_orders'."}}
	})
	res, stmts, _ = snap("--write-mode", "merge", "--primary-keys", "id")
	if res.Code == 0 || !strings.Contains(res.Stderr, "Violation of PRIMARY KEY constraint") {
		t.Fatalf("failed merge: exit %d\n%s", res.Code, res.Stderr)
	}
	if last := stmts[len(stmts)-1]; last != "ROLLBACK TRANSACTION" || strings.Contains(strings.Join(stmts, "\n"), "COMMIT") {
		t.Errorf("failed merge: statements\n%s", strings.Join(stmts, "\n"))
	}
}

// TestSnapSQLServerOffsetsIntoSQLServer: datetimeoffset copied from SQL
// Server to SQL Server (two TDS test servers) through
// arrow.timestamp_with_offset: the created columns are datetimeoffset of
// the read's unit, and the bulk load carries each row's instant and offset.
func TestSnapSQLServerOffsetsIntoSQLServer(t *testing.T) {
	t.Parallel() // its own TDS servers
	bin := testkit.Build(t, "mssql")
	src := tds.Start(t, tds.WithLogin("etl", "pw"))
	ist, west := time.FixedZone("", 5*3600+30*60), time.FixedZone("", -(9*3600+30*60))
	rows := [][]any{
		{1, time.Date(2023, 12, 31, 22, 15, 1, 999999900, ist), time.Date(9999, 12, 31, 14, 29, 59, 999000000, west)},
		{2, nil, nil},
		{3, time.Date(1969, 12, 31, 14, 30, 0, 100, west), time.Date(1, 1, 1, 5, 30, 0, 0, ist)},
	}
	serveTable(src, "offsets", []msColumn{
		{"id", "int", false, 4, 10, 0, tds.Column{Type: tds.Int}},
		{"at", "datetimeoffset", true, 10, 34, 7, tds.Column{Type: tds.DateTimeOffset, Scale: 7}},
		{"at3", "datetimeoffset", true, 9, 30, 3, tds.Column{Type: tds.DateTimeOffset, Scale: 3}},
	}, rows)
	dst := tds.Start(t, tds.WithLogin("etl", "pw"))
	dst.HandleCatalog(mssqlColumnsQuery)
	dst.HandleMatch(func(sql string) bool { return strings.HasPrefix(sql, "DELETE FROM ") }, func(tds.Query) tds.Response { return tds.Response{} })
	env := []string{"HP_MS_DSN=" + src.DSN("etl", "pw", "Sales"), "HP_DST_DSN=" + dst.DSN("etl", "pw", "Sales")}
	res := bin.Run(t, env, "cp", "snap", "ms.dbo.offsets", "dst.dbo.copy")
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Stderr)
	}
	const create = "IF OBJECT_ID(N'[dbo].[copy]', N'U') IS NULL CREATE TABLE [dbo].[copy] ([id] int NOT NULL, [at] datetimeoffset(7) NULL, [at3] datetimeoffset(6) NULL)"
	if got := mswStatements(dst, 0); !slices.Contains(got, create) {
		t.Errorf("statements %q lack %s", got, create)
	}
	bulks := dst.Bulks()
	if len(bulks) != 1 || len(bulks[0].Rows) != len(rows) {
		t.Fatalf("bulk loads: %+v", bulks)
	}
	for r, row := range bulks[0].Rows {
		for c := 1; c < 3; c++ {
			w, _ := rows[r][c].(time.Time)
			g, ok := row[c].(time.Time)
			if rows[r][c] == nil {
				if row[c] != nil {
					t.Errorf("row %d column %d = %v, want NULL", r+1, c, row[c])
				}
				continue
			}
			if !ok || g.Format(time.RFC3339Nano) != w.Format(time.RFC3339Nano) {
				t.Errorf("row %d column %d = %v, want %s", r+1, c, row[c], w.Format(time.RFC3339Nano))
			}
		}
	}
}
