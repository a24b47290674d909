package e2e

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/testkit"
	"github.com/halfpipe-io/halfpipe/testkit/tds"
)

// snapFiles runs hp cp snap of src in format (CSV with NULL as \N) and
// returns its data files' contents in the manifest's order.
func snapFiles(t *testing.T, bin *testkit.Binaries, env []string, src, format string) [][]byte {
	t.Helper()
	out := t.TempDir()
	res := bin.Run(t, append(env, "HP_OUT_DSN="+out), append([]string{"cp", "snap", src, "out.t", "--format", format, "--compression", "none"}, csvNull(format)...)...)
	if res.Code != 0 {
		t.Fatalf("hp cp snap %s --format %s: exit %d\n%s", src, format, res.Code, res.Stderr)
	}
	m, _ := readManifest(t, out)
	var files [][]byte
	for _, f := range m.Files {
		data, err := os.ReadFile(filepath.Join(out, f.Path))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, data)
	}
	return files
}

// snapCSV runs hp cp snap of src to CSV and returns the records of its
// files, the header once.
func snapCSV(t *testing.T, bin *testkit.Binaries, env []string, src string) [][]string {
	t.Helper()
	var recs [][]string
	for _, text := range snapFiles(t, bin, env, src, "csv") {
		r, err := csv.NewReader(bytes.NewReader(text)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) > 0 {
			r = r[1:]
		}
		recs = append(recs, r...)
	}
	return recs
}

// TestODBCFreeTDSMatchesNativeMSSQL: every SQL Server type the mssql
// connector reads, with edge values, from one table of the TDS test
// server, read by hp through the mssql plugin (go-mssqldb) and through
// the odbc plugin over FreeTDS (odbc+sqlserver://, the original
// Halfpipe's path): the CSV files agree value for value and the Parquet
// files byte for byte (time, datetimeoffset, uniqueidentifier and
// rowversion included: the odbc connector's SQL Server dialect reads them
// as the mssql connector does).
func TestODBCFreeTDSMatchesNativeMSSQL(t *testing.T) {
	t.Parallel() // its own TDS server
	bin := testkit.Build(t, "mssql", "odbc")
	db := tds.Start(t, tds.WithLogin("etl", "pw"))
	cols := make([]msColumn, len(msAllTypes))
	cat := make([]tds.CatalogColumn, len(msAllTypes))
	for i, c := range msAllTypes {
		cols[i] = c.msColumn
		cat[i] = tds.CatalogColumn{Name: c.name, Type: c.typ, Nullable: c.nullable, MaxLength: c.maxLen, Precision: c.precision, Scale: c.scale}
	}
	serveTable(db, "all_types", cols, msAllTypesRows())
	db.DescribeTable("[dbo].[all_types]", cat, "id")
	env := []string{"HP_MS_DSN=" + db.DSN("etl", "pw", "Sales"), "HP_OD_DSN=odbc+sqlserver://etl:pw@" + db.Addr + "/Sales?driver=FreeTDS"}

	native := snapCSV(t, bin, env, "ms.dbo.all_types")
	odbc := snapCSV(t, bin, env, "od.dbo.all_types")
	if len(native) != len(odbc) || len(odbc) != 5 {
		t.Fatalf("%d native lines, %d ODBC lines", len(native), len(odbc))
	}
	for r := range native {
		for c := range native[r] {
			if c >= len(odbc[r]) || odbc[r][c] != native[r][c] {
				g := "(missing)"
				if c < len(odbc[r]) {
					g = abbrev(odbc[r][c])
				}
				t.Errorf("line %d column %s: ODBC %s, native %s", r+1, native[0][c], g, abbrev(native[r][c]))
			}
		}
	}
	nativePq, odbcPq := snapFiles(t, bin, env, "ms.dbo.all_types", "parquet"), snapFiles(t, bin, env, "od.dbo.all_types", "parquet")
	if len(nativePq) != len(odbcPq) {
		t.Fatalf("%d native Parquet files, %d ODBC", len(nativePq), len(odbcPq))
	}
	for i := range nativePq {
		if !bytes.Equal(nativePq[i], odbcPq[i]) {
			t.Errorf("Parquet file %d: the ODBC connector's differs from the native connector's (%d and %d bytes)", i+1, len(odbcPq[i]), len(nativePq[i]))
		}
	}
}

// TestDeltaODBCFreeTDSDatetime2: hp cp delta over a datetime2(7) driver
// through odbc+sqlserver and FreeTDS against the TDS test server: the
// bounds come back to the 100 ns, the ranges go out as sp_executesql with
// DATETIME2 parameters equal to the last mark, and every insert and
// update is published exactly once; NULL drivers are counted, never
// extracted.
func TestDeltaODBCFreeTDSDatetime2(t *testing.T) {
	t.Parallel() // its own TDS server
	bin := testkit.Build(t, "odbc")
	db := tds.Start(t, tds.WithLogin("etl", "pw"))
	db.DescribeTable("[dbo].[events]", []tds.CatalogColumn{
		{Name: "id", Type: "int", MaxLength: 4, Precision: 10},
		{Name: "v", Type: "nvarchar", Nullable: true, MaxLength: 40},
		{Name: "updated_at", Type: "datetime2", Nullable: true, MaxLength: 8, Precision: 27, Scale: 7},
	}, "id")
	src := &deltaSource{t: t, driver: tds.Column{Name: "updated_at", Type: tds.DateTime2, Scale: 7, Nullable: true}, decl: "DATETIME2",
		enc: func(k int64) any { return time.Unix(0, k).UTC() },
		dec: func(v any) int64 {
			tm, ok := v.(time.Time)
			if !ok {
				t.Errorf("range parameter %T %v, want a time", v, v)
				return 0
			}
			return tm.UnixNano()
		}}
	const bounds = "SELECT MIN([updated_at]), MAX([updated_at]), COUNT(*), COUNT([updated_at]) FROM [dbo].[events]"
	db.HandleFunc(bounds, func(tds.Query) tds.Response {
		src.mu.Lock()
		defer src.mu.Unlock()
		var keys []int64
		for _, r := range src.rows {
			if r.key != nil {
				keys = append(keys, *r.key)
			}
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
		row := []any{nil, nil, len(src.rows), len(keys)}
		if len(keys) > 0 {
			row[0], row[1] = src.enc(keys[0]), src.enc(keys[len(keys)-1])
		}
		return tds.Response{Columns: []tds.Column{src.driver, src.driver, {Type: tds.Int}, {Type: tds.Int}}, Rows: [][]any{row}}
	})
	read := func(q tds.Query) tds.Response {
		src.mu.Lock()
		defer src.mu.Unlock()
		args := q.Args()
		want := "@P1 DATETIME2"
		if len(args) == 2 {
			want += ",@P2 DATETIME2"
		}
		if q.Decl != want || !q.RPC {
			t.Errorf("range sent as %q (rpc %v), want sp_executesql declaring %q", q.Decl, q.RPC, want)
		}
		src.params = append(src.params, args...)
		lo, hi := int64(0), src.dec(args[len(args)-1])
		if len(args) == 2 {
			lo = src.dec(args[0])
		}
		resp := tds.Response{Columns: []tds.Column{{Name: "id", Type: tds.Int}, {Name: "v", Type: tds.NVarChar, Length: 20, Nullable: true}, src.driver}}
		for _, r := range src.rows {
			if r.key != nil && (len(args) == 1 || *r.key > lo) && *r.key <= hi {
				resp.Rows = append(resp.Rows, []any{r.id, r.v, src.enc(*r.key)})
			}
		}
		return resp
	}
	sel := "SELECT [id], [v], [updated_at] FROM [dbo].[events] WHERE [updated_at] "
	db.HandleFunc(sel+"<= @P1", read)
	db.HandleFunc(sel+"> @P1 AND [updated_at] <= @P2", read)

	base := time.Date(2024, 3, 30, 22, 0, 0, 100, time.UTC)
	at := func(i int) int64 { return base.Add(time.Duration(i) * (time.Minute + 100)).UnixNano() }
	for i := 1; i <= 3; i++ {
		src.set(i, fmt.Sprintf("v%d", i), ptr(at(i)))
	}
	src.set(-1, "no driver", nil)
	out := t.TempDir()
	env := []string{"HP_OD_DSN=odbc+sqlserver://etl:pw@" + db.Addr + "/Sales?driver=FreeTDS", "HP_OUT_DSN=" + out}
	args := []string{"od.dbo.events", "out.events", "--delta-driver", "updated_at", "--primary-keys", "id"}
	mark := func(k int64) string { return time.Unix(0, k).UTC().Format(time.RFC3339Nano) }
	if s := runDelta(t, bin, env, args...); s.Rows != 3 || s.HighWaterMark != mark(at(3)) || s.NullDriver != 1 {
		t.Fatalf("first run: %+v", s)
	}
	src.set(2, "v2 updated", ptr(at(5)))
	src.set(4, "v4", ptr(at(4)))
	src.params = nil
	if s := runDelta(t, bin, env, args...); s.Rows != 2 || s.HighWaterMark != mark(at(5)) {
		t.Fatalf("second run: %+v", s)
	}
	if len(src.params) != 2 || !src.params[0].(time.Time).Equal(time.Unix(0, at(3))) {
		t.Fatalf("second run's range parameters %v, want (%s, %s]", src.params, mark(at(3)), mark(at(5)))
	}
	if s := runDelta(t, bin, env, args...); s.Rows != 0 {
		t.Fatalf("idle run: %+v", s)
	}
	ts := func(k int64) string { return time.Unix(0, k).UTC().Format("2006-01-02T15:04:05.000000000") }
	want := []string{"1|v1|" + ts(at(1)), "2|v2 updated|" + ts(at(5)), "2|v2|" + ts(at(2)), "3|v3|" + ts(at(3)), "4|v4|" + ts(at(4))}
	if got := publishedRows(t, out); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("published\n%v\nwant\n%v", got, want)
	}
}
