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

	"github.com/halfpipe-io/halfpipe/testkit"
	"github.com/halfpipe-io/halfpipe/testkit/tds"
)

// TestDeltaSQLServerRowversion: SQL Server's rowversion, the classic
// change-tracking column, drives hp cp delta through the mssql plugin and
// the real driver (against the TDS test server): every insert and update
// is captured exactly once, with the range sent as typed parameters.
func TestDeltaSQLServerRowversion(t *testing.T) {
	bin := testkit.Build(t)
	db := tds.Start(t, tds.WithLogin("etl", "pw"))
	type row struct {
		id int
		v  string
		rv uint64
	}
	var mu sync.Mutex
	table := []row{{1, "a", 1001}, {2, "b", 1002}, {3, "c", 1003}}
	next := uint64(1004)
	rv := func(x uint64) []byte { return binary.BigEndian.AppendUint64(nil, x) }

	mssqlTable(db, "[dbo].[orders]", [][]any{
		{"id", "int", false, 4, 10, 0}, {"v", "nvarchar", true, 40, 0, 0}, {"rv", "timestamp", false, 8, 0, 0}}, "id")
	db.HandleFunc("SELECT MIN([rv]), MAX([rv]), COUNT_BIG(*), COUNT_BIG([rv]) FROM [dbo].[orders]", func(tds.Query) tds.Response {
		mu.Lock()
		defer mu.Unlock()
		lo, hi := table[0].rv, table[0].rv
		for _, r := range table {
			lo, hi = min(lo, r.rv), max(hi, r.rv)
		}
		return tds.Response{Columns: []tds.Column{{Type: tds.VarBinary, Length: 8, Nullable: true}, {Type: tds.VarBinary, Length: 8, Nullable: true},
			{Type: tds.BigInt}, {Type: tds.BigInt}}, Rows: [][]any{{rv(lo), rv(hi), int64(len(table)), int64(len(table))}}}
	})
	read := func(q tds.Query) tds.Response {
		mu.Lock()
		defer mu.Unlock()
		var lo, hi uint64
		args := q.Args()
		bound := func(i int) uint64 {
			b, ok := args[i].([]byte)
			if !ok || len(b) != 8 {
				t.Errorf("range parameter %d is %T %v, want 8 rowversion bytes", i+1, args[i], args[i])
				return 0
			}
			return binary.BigEndian.Uint64(b)
		}
		if len(args) == 2 {
			lo, hi = bound(0), bound(1)
		} else {
			hi = bound(0)
		}
		resp := tds.Response{Columns: []tds.Column{{Name: "id", Type: tds.Int}, {Name: "v", Type: tds.NVarChar, Length: 20, Nullable: true},
			{Name: "rv", Type: tds.VarBinary, Length: 8}}}
		for _, r := range table {
			if (len(args) == 1 || r.rv > lo) && r.rv <= hi {
				resp.Rows = append(resp.Rows, []any{r.id, r.v, rv(r.rv)})
			}
		}
		return resp
	}
	db.HandleFunc("SELECT [id], [v], [rv] FROM [dbo].[orders] WHERE [rv] <= @p1", read)
	db.HandleFunc("SELECT [id], [v], [rv] FROM [dbo].[orders] WHERE [rv] > @p1 AND [rv] <= @p2", read)

	out := t.TempDir()
	env := []string{"HP_MS_DSN=" + db.DSN("etl", "pw", "Sales"), "HP_OUT_DSN=" + out}
	args := []string{"ms.dbo.orders", "out.orders", "--delta-driver", "rv", "--primary-keys", "id"}
	if s := runDelta(t, bin, env, args...); s.Rows != 3 || s.HighWaterMark != "1003" {
		t.Fatalf("first run: %+v", s)
	}
	mu.Lock()
	table[1].v, table[1].rv = "b2", next // an update bumps the row's rowversion
	table = append(table, row{4, "d", next + 1})
	mu.Unlock()
	if s := runDelta(t, bin, env, args...); s.Rows != 2 || s.HighWaterMark != "1005" {
		t.Fatalf("second run: %+v", s)
	}
	if s := runDelta(t, bin, env, args...); s.Rows != 0 {
		t.Fatalf("idle run: %+v", s)
	}

	// Every version of every row, published once.
	var got []string
	for _, m := range findManifests(t, out) {
		raw, _ := os.ReadFile(m)
		for _, f := range parseFiles(t, raw) {
			text, _ := os.ReadFile(filepath.Join(out, f))
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
	want := []string{"1|a|1001", "2|b2|1004", "2|b|1002", "3|c|1003", "4|d|1005"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("published %v, want %v", got, want)
	}
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
