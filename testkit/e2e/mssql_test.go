package e2e

import (
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/testkit"
	"github.com/halfpipe-io/halfpipe/testkit/tds"
)

// deltaSource plays a SQL Server table whose driver column orders as an
// int64 key (a rowversion's counter, a datetime2's nanoseconds): the TDS
// server answers hp's bounds and range reads from rows that change between
// runs, as SQL would.
type deltaSource struct {
	t      *testing.T
	mu     sync.Mutex
	rows   []deltaRow
	driver tds.Column      // the driver's wire type
	enc    func(int64) any // key → driver value as the server sends it
	dec    func(any) int64 // range parameter → key (reports a wrong type)
	decl   string          // the parameters' declared type, e.g. "datetime2"
	params []any           // range parameters received, in order
}

type deltaRow struct {
	id  int
	v   string
	key *int64 // nil: a NULL driver
}

func (d *deltaSource) set(id int, v string, key *int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := range d.rows {
		if d.rows[i].id == id {
			d.rows[i].v, d.rows[i].key = v, key
			return
		}
	}
	d.rows = append(d.rows, deltaRow{id, v, key})
}

// serve registers [dbo].[object] (id int, v nvarchar, <column> <typ>) and
// the bounds and range reads hp cp delta sends.
func (d *deltaSource) serve(db *tds.Server, object, column, typ string, catalog []any) {
	table, col := "[dbo].["+object+"]", "["+column+"]"
	mssqlTable(db, table, [][]any{{"id", "int", false, 4, 10, 0}, {"v", "nvarchar", true, 40, 0, 0}, append([]any{column, typ}, catalog...)}, "id")
	wire := d.driver
	wire.Nullable = true
	db.HandleFunc(fmt.Sprintf("SELECT MIN(%[1]s), MAX(%[1]s), COUNT_BIG(*), COUNT_BIG(%[1]s) FROM %[2]s", col, table), func(tds.Query) tds.Response {
		d.mu.Lock()
		defer d.mu.Unlock()
		var lo, hi, n int64
		for _, r := range d.rows {
			if r.key != nil {
				if n == 0 || *r.key < lo {
					lo = *r.key
				}
				if n == 0 || *r.key > hi {
					hi = *r.key
				}
				n++
			}
		}
		row := []any{nil, nil, int64(len(d.rows)), n}
		if n > 0 {
			row[0], row[1] = d.enc(lo), d.enc(hi)
		}
		return tds.Response{Columns: []tds.Column{wire, wire, {Type: tds.BigInt}, {Type: tds.BigInt}}, Rows: [][]any{row}}
	})
	read := func(q tds.Query) tds.Response {
		d.mu.Lock()
		defer d.mu.Unlock()
		args := q.Args()
		for i := range args {
			if !strings.Contains(q.Decl, fmt.Sprintf("@p%d %s", i+1, d.decl)) {
				d.t.Errorf("range parameter %d is not declared %s: %q", i+1, d.decl, q.Decl)
			}
		}
		d.params = append(d.params, args...)
		lo, hi := int64(0), d.dec(args[len(args)-1])
		if len(args) == 2 {
			lo = d.dec(args[0])
		}
		resp := tds.Response{Columns: []tds.Column{{Name: "id", Type: tds.Int}, {Name: "v", Type: tds.NVarChar, Length: 20, Nullable: true}, wire}}
		resp.Columns[2].Name = column
		for _, r := range d.rows {
			if r.key != nil && (len(args) == 1 || *r.key > lo) && *r.key <= hi {
				resp.Rows = append(resp.Rows, []any{r.id, r.v, d.enc(*r.key)})
			}
		}
		return resp
	}
	sel := fmt.Sprintf("SELECT [id], [v], %s FROM %s WHERE %s ", col, table, col)
	db.HandleFunc(sel+"<= @p1", read)
	db.HandleFunc(sel+"> @p1 AND "+col+" <= @p2", read)
}

// publishedRows reads every CSV row of every run published under dir, as
// "id|v|driver", sorted.
func publishedRows(t *testing.T, dir string) []string {
	t.Helper()
	var got []string
	for _, m := range findManifests(t, dir) {
		raw, _ := os.ReadFile(m)
		for _, f := range parseFiles(t, raw) {
			text, _ := os.ReadFile(filepath.Join(dir, f))
			recs, err := csv.NewReader(bytes.NewReader(text)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs[1:] {
				got = append(got, strings.Join(r, "|"))
			}
		}
	}
	sort.Strings(got)
	return got
}

func ptr(v int64) *int64 { return &v }

// TestDeltaSQLServerRowversion: SQL Server's rowversion, the classic
// change-tracking column, drives hp cp delta through the mssql plugin and
// the real driver (against the TDS test server): every insert and update
// is captured exactly once, with the range sent as typed parameters.
func TestDeltaSQLServerRowversion(t *testing.T) {
	bin := testkit.Build(t, "mssql")
	db := tds.Start(t, tds.WithLogin("etl", "pw"))
	src := &deltaSource{t: t, driver: tds.Column{Type: tds.VarBinary, Length: 8}, decl: "varbinary",
		enc: func(k int64) any { return binary.BigEndian.AppendUint64(nil, uint64(k)) },
		dec: func(v any) int64 {
			b, ok := v.([]byte)
			if !ok || len(b) != 8 {
				t.Errorf("rowversion value %T %v, want 8 bytes", v, v)
				return 0
			}
			return int64(binary.BigEndian.Uint64(b))
		}}
	src.set(1, "a", ptr(1001))
	src.set(2, "b", ptr(1002))
	src.set(3, "c", ptr(1003))
	src.serve(db, "orders", "rv", "timestamp", []any{false, 8, 0, 0})

	out := t.TempDir()
	env := []string{"HP_MS_DSN=" + db.DSN("etl", "pw", "Sales"), "HP_OUT_DSN=" + out}
	args := []string{"ms.dbo.orders", "out.orders", "--delta-driver", "rv", "--primary-keys", "id"}
	if s := runDelta(t, bin, env, args...); s.Rows != 3 || s.HighWaterMark != "1003" {
		t.Fatalf("first run: %+v", s)
	}
	src.set(2, "b2", ptr(1004)) // an update bumps the row's rowversion
	src.set(4, "d", ptr(1005))
	if s := runDelta(t, bin, env, args...); s.Rows != 2 || s.HighWaterMark != "1005" {
		t.Fatalf("second run: %+v", s)
	}
	if s := runDelta(t, bin, env, args...); s.Rows != 0 {
		t.Fatalf("idle run: %+v", s)
	}

	// Every version of every row, published once.
	got := publishedRows(t, out)
	want := []string{"1|a|1001", "2|b2|1004", "2|b|1002", "3|c|1003", "4|d|1005"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("published %v, want %v", got, want)
	}
}

// TestDeltaSQLServerDatetime2ToS3: a datetime2(7) driver, to S3. The
// high-water mark keeps 100 ns, the range goes out as datetime2
// parameters equal to the last mark to the 100 ns, and each insert and
// update is published exactly once over several runs; NULL drivers are
// counted and never extracted.
func TestDeltaSQLServerDatetime2ToS3(t *testing.T) {
	bin := testkit.Build(t, "mssql")
	srv, env := s3Target(t, "")
	db := tds.Start(t, tds.WithLogin("etl", "pw"))
	src := &deltaSource{t: t, driver: tds.Column{Type: tds.DateTime2, Scale: 7}, decl: "datetime2",
		enc: func(k int64) any { return time.Unix(0, k).UTC() },
		dec: func(v any) int64 {
			tm, ok := v.(time.Time)
			if !ok {
				t.Errorf("datetime2 value %T %v, want a time", v, v)
				return 0
			}
			return tm.UnixNano()
		}}
	base := time.Date(2024, 3, 30, 22, 0, 0, 100, time.UTC)
	at := func(i int) int64 { return base.Add(time.Duration(i) * (time.Minute + 100)).UnixNano() }
	for i := 1; i <= 5; i++ {
		src.set(i, fmt.Sprintf("v%d", i), ptr(at(i)))
	}
	src.set(-1, "no driver", nil)
	src.serve(db, "events", "updated_at", "datetime2", []any{true, 8, 27, 7})

	env = append(env, "HP_MS_DSN="+db.DSN("etl", "pw", "Sales"))
	args := []string{"ms.dbo.events", "s3.events", "--delta-driver", "updated_at", "--primary-keys", "id"}
	runs := []struct {
		change func()
		rows   int64
		high   int64
	}{
		{func() {}, 5, at(5)},
		{func() { src.set(2, "v2 updated", ptr(at(7))); src.set(6, "v6", ptr(at(6))) }, 2, at(7)},
		{func() {}, 0, at(7)},
		// A row moving to the 100 ns after the mark is new.
		{func() { src.set(3, "v3 updated", ptr(at(7)+100)) }, 1, at(7) + 100},
	}
	var prev []any
	for n, r := range runs {
		r.change()
		s := runDelta(t, bin, env, args...)
		high := time.Unix(0, r.high).UTC().Format(time.RFC3339Nano)
		if s.Rows != r.rows || s.HighWaterMark != high || s.NullDriver != 1 {
			t.Fatalf("run %d: %+v, want %d rows up to %s, 1 NULL driver", n+1, s, r.rows, high)
		}
		src.mu.Lock()
		params := src.params
		src.params = nil
		src.mu.Unlock()
		// Runs after the first start exactly at the last mark.
		if n > 0 && s.Rows > 0 && (len(params) != 2 || !params[0].(time.Time).Equal(prev[len(prev)-1].(time.Time))) {
			t.Fatalf("run %d: range parameters %v, previous run's upper bound %v", n+1, params, prev)
		}
		if len(params) > 0 {
			prev = params
		}
	}

	ts := func(k int64) string { return time.Unix(0, k).UTC().Format("2006-01-02T15:04:05.000000000") }
	want := []string{"2|v2 updated|" + ts(at(7)), "3|v3 updated|" + ts(at(7)+100), "6|v6|" + ts(at(6))}
	for i := 1; i <= 5; i++ {
		want = append(want, fmt.Sprintf("%d|v%d|%s", i, i, ts(at(i))))
	}
	sort.Strings(want)
	if got := publishedRows(t, download(t, srv, "lake", "raw/events/")); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("published\n%v\nwant\n%v", got, want)
	}
	noUploadsLeft(t, srv)
}

// The catalog queries the mssql dialect sends to describe a table (pinned
// in plugins/mssql's own tests too).
const (
	mssqlColumnsQuery = `SELECT c.name, COALESCE(CASE WHEN t.is_user_defined = 0 THEN t.name END, TYPE_NAME(c.system_type_id), t.name), ` +
		`c.is_nullable, CAST(c.max_length AS int), CAST(c.precision AS int), CAST(c.scale AS int) ` +
		`FROM sys.columns c JOIN sys.types t ON t.user_type_id = c.user_type_id ` +
		`WHERE c.object_id = OBJECT_ID(@p1) ORDER BY c.column_id`
	mssqlKeyQuery = `SELECT c.name FROM sys.indexes i ` +
		`JOIN sys.index_columns ic ON ic.object_id = i.object_id AND ic.index_id = i.index_id ` +
		`JOIN sys.columns c ON c.object_id = ic.object_id AND c.column_id = ic.column_id ` +
		`WHERE i.object_id = OBJECT_ID(@p1) AND i.is_primary_key = 1 ORDER BY ic.key_ordinal`
)

// mssqlTable makes the TDS server describe a table: columns as the
// catalog reports them (name, type, nullable, max_length, precision,
// scale) and its primary key.
func mssqlTable(db *tds.Server, object string, columns [][]any, key ...string) {
	catalog := []tds.Column{{Name: "name", Type: tds.NVarChar, Length: 128}, {Name: "type", Type: tds.NVarChar, Length: 128},
		{Name: "is_nullable", Type: tds.Bit}, {Name: "max_length", Type: tds.Int}, {Name: "precision", Type: tds.Int}, {Name: "scale", Type: tds.Int}}
	db.HandleArgs(mssqlColumnsQuery, []any{object}, tds.Response{Columns: catalog, Rows: columns})
	var keys [][]any
	for _, k := range key {
		keys = append(keys, []any{k})
	}
	db.HandleArgs(mssqlKeyQuery, []any{object}, tds.Response{Columns: []tds.Column{{Name: "name", Type: tds.NVarChar, Length: 128}}, Rows: keys})
}

// parseFiles lists a manifest's data file paths.
func parseFiles(t *testing.T, raw []byte) []string {
	t.Helper()
	var m manifestDoc
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range m.Files {
		out = append(out, f.Path)
	}
	return out
}
