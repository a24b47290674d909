package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
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
	t.Parallel() // its own TDS server
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
	t.Parallel() // its own TDS and S3 servers
	deltaTimeToS3(t, "datetime2", []any{true, 8, 27, 7}, func(k int64) time.Time { return time.Unix(0, k).UTC() },
		func(x time.Time) string { return x.Format("2006-01-02T15:04:05.000000000") })
}

// TestDeltaSQLServerDatetimeoffsetToS3: the same over a datetimeoffset(7)
// driver whose rows carry different offsets: bounds and marks are the
// instants (as SQL Server compares them), the range goes out as
// datetimeoffset parameters, and the files keep each row's offset.
func TestDeltaSQLServerDatetimeoffsetToS3(t *testing.T) {
	t.Parallel() // its own TDS and S3 servers
	zones := []*time.Location{time.FixedZone("", 5*3600+30*60), time.FixedZone("", -(9*3600 + 30*60)), time.FixedZone("", 14*3600)}
	deltaTimeToS3(t, "datetimeoffset", []any{true, 10, 34, 7}, func(k int64) time.Time { return time.Unix(0, k).In(zones[k/60e9%3]) },
		func(x time.Time) string { return x.Format("2006-01-02T15:04:05.000000000-07:00") })
}

// deltaTimeToS3 runs hp cp delta over a (typ)(7) driver played by the TDS
// server: enc gives a key's value as the server sends it, render its text
// in the published CSV.
func deltaTimeToS3(t *testing.T, typ string, catalog []any, enc func(int64) time.Time, render func(time.Time) string) {
	bin := testkit.Build(t, "mssql")
	srv, env := s3Target(t, "")
	db := tds.Start(t, tds.WithLogin("etl", "pw"))
	wire := map[string]tds.Type{"datetime2": tds.DateTime2, "datetimeoffset": tds.DateTimeOffset}[typ]
	src := &deltaSource{t: t, driver: tds.Column{Type: wire, Scale: 7}, decl: typ,
		enc: func(k int64) any { return enc(k) },
		dec: func(v any) int64 {
			tm, ok := v.(time.Time)
			if !ok {
				t.Errorf("%s value %T %v, want a time", typ, v, v)
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
	src.serve(db, "events", "updated_at", typ, catalog)

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

	ts := func(k int64) string { return render(enc(k)) }
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
		`c.is_nullable, CAST(c.max_length AS int), CAST(c.precision AS int), CAST(c.scale AS int), c.collation_name ` +
		`FROM sys.columns c JOIN sys.types t ON t.user_type_id = c.user_type_id ` +
		`WHERE c.object_id = OBJECT_ID(@p1) ORDER BY c.column_id`
	mssqlKeyQuery = `SELECT c.name FROM sys.indexes i ` +
		`JOIN sys.index_columns ic ON ic.object_id = i.object_id AND ic.index_id = i.index_id ` +
		`JOIN sys.columns c ON c.object_id = ic.object_id AND c.column_id = ic.column_id ` +
		`WHERE i.object_id = OBJECT_ID(@p1) AND i.is_primary_key = 1 ORDER BY ic.key_ordinal`
)

// mssqlTable makes the TDS server describe a table: columns as the
// catalog reports them (name, type, nullable, max_length, precision,
// scale; the collation, NULL unless given) and its primary key.
func mssqlTable(db *tds.Server, object string, columns [][]any, key ...string) {
	for i, c := range columns {
		if len(c) == 6 {
			columns[i] = append(c[:6:6], nil)
		}
	}
	db.HandleArgs(mssqlColumnsQuery, []any{object}, tds.Response{Columns: tds.SysColumns, Rows: columns})
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

// msColumn is one column of a table the TDS server plays: its catalog row
// and how its values go over the wire.
type msColumn struct {
	name, typ                string
	nullable                 bool
	maxLen, precision, scale int
	wire                     tds.Column
}

// serveTable makes the TDS server describe [dbo].[object] and answer the
// table read hp sends with rows.
func serveTable(db *tds.Server, object string, cols []msColumn, rows [][]any) {
	var catalog [][]any
	var names []string
	wire := make([]tds.Column, len(cols))
	for i, c := range cols {
		catalog = append(catalog, []any{c.name, c.typ, c.nullable, c.maxLen, c.precision, c.scale})
		names = append(names, "["+strings.ReplaceAll(c.name, "]", "]]")+"]")
		wire[i] = c.wire
		wire[i].Name, wire[i].Nullable = c.name, c.nullable
	}
	mssqlTable(db, "[dbo].["+object+"]", catalog, cols[0].name)
	db.Handle("SELECT "+strings.Join(names, ", ")+" FROM [dbo].["+object+"]", tds.Response{Columns: wire, Rows: rows})
}

// msAllTypes has every SQL Server type the connector maps, as the catalog
// reports them, with the Parquet logical type each must arrive as ("" for
// none).
var msAllTypes = []struct {
	msColumn
	logical string
}{
	{msColumn{"id", "int", false, 4, 10, 0, tds.Column{Type: tds.Int}}, "INT(32,true)"},
	{msColumn{"b", "bit", true, 1, 1, 0, tds.Column{Type: tds.Bit}}, ""},
	{msColumn{"ti", "tinyint", true, 1, 3, 0, tds.Column{Type: tds.TinyInt}}, "INT(8,false)"},
	{msColumn{"si", "smallint", true, 2, 5, 0, tds.Column{Type: tds.SmallInt}}, "INT(16,true)"},
	{msColumn{"i", "int", true, 4, 10, 0, tds.Column{Type: tds.Int}}, "INT(32,true)"},
	{msColumn{"bi", "bigint", true, 8, 19, 0, tds.Column{Type: tds.BigInt}}, "INT(64,true)"},
	{msColumn{"d38", "decimal", true, 17, 38, 18, tds.Column{Type: tds.Decimal, Precision: 38, Scale: 18}}, "DECIMAL(38,18)"},
	{msColumn{"d38z", "numeric", true, 17, 38, 0, tds.Column{Type: tds.Numeric, Precision: 38}}, "DECIMAL(38,0)"},
	{msColumn{"n", "numeric", true, 9, 10, 4, tds.Column{Type: tds.Numeric, Precision: 10, Scale: 4}}, "DECIMAL(10,4)"},
	{msColumn{"m", "money", true, 8, 19, 4, tds.Column{Type: tds.Money}}, "DECIMAL(19,4)"},
	{msColumn{"sm", "smallmoney", true, 4, 10, 4, tds.Column{Type: tds.SmallMoney}}, "DECIMAL(10,4)"},
	{msColumn{"r", "real", true, 4, 24, 0, tds.Column{Type: tds.Real}}, ""},
	{msColumn{"f", "float", true, 8, 53, 0, tds.Column{Type: tds.Float}}, ""},
	{msColumn{"c", "char", true, 10, 0, 0, tds.Column{Type: tds.VarChar, Length: 10}}, "STRING"},
	{msColumn{"vc", "varchar", true, 40, 0, 0, tds.Column{Type: tds.VarChar, Length: 40}}, "STRING"},
	{msColumn{"nc", "nchar", true, 10, 0, 0, tds.Column{Type: tds.NVarChar, Length: 5}}, "STRING"},
	{msColumn{"nv", "nvarchar", true, 200, 0, 0, tds.Column{Type: tds.NVarChar, Length: 100}}, "STRING"},
	{msColumn{"nvmax", "nvarchar", true, -1, 0, 0, tds.Column{Type: tds.NVarChar, Length: tds.Max}}, "STRING"},
	{msColumn{"vcmax", "varchar", true, -1, 0, 0, tds.Column{Type: tds.VarChar, Length: tds.Max}}, "STRING"},
	{msColumn{"tx", "text", true, 16, 0, 0, tds.Column{Type: tds.VarChar, Length: tds.Max}}, "STRING"},
	{msColumn{"ntx", "ntext", true, 16, 0, 0, tds.Column{Type: tds.NVarChar, Length: tds.Max}}, "STRING"},
	{msColumn{"bn", "binary", true, 4, 0, 0, tds.Column{Type: tds.VarBinary, Length: 4}}, ""},
	{msColumn{"vb", "varbinary", true, 16, 0, 0, tds.Column{Type: tds.VarBinary, Length: 16}}, ""},
	{msColumn{"vbmax", "varbinary", true, -1, 0, 0, tds.Column{Type: tds.VarBinary, Length: tds.Max}}, ""},
	{msColumn{"img", "image", true, 16, 0, 0, tds.Column{Type: tds.VarBinary, Length: tds.Max}}, ""},
	{msColumn{"da", "date", true, 3, 10, 0, tds.Column{Type: tds.Date}}, "DATE"},
	{msColumn{"tm", "time", true, 5, 16, 7, tds.Column{Type: tds.Time, Scale: 7}}, "TIME(isAdjustedToUTC=false,unit=NANOS)"},
	{msColumn{"dt2", "datetime2", true, 8, 27, 7, tds.Column{Type: tds.DateTime2, Scale: 7}}, "TIMESTAMP(isAdjustedToUTC=false,unit=NANOS)"},
	{msColumn{"dt26", "datetime2", true, 8, 26, 6, tds.Column{Type: tds.DateTime2, Scale: 6}}, "TIMESTAMP(isAdjustedToUTC=false,unit=MICROS)"},
	{msColumn{"dt", "datetime", true, 8, 23, 3, tds.Column{Type: tds.DateTime}}, "TIMESTAMP(isAdjustedToUTC=false,unit=MICROS)"},
	{msColumn{"sdt", "smalldatetime", true, 4, 16, 0, tds.Column{Type: tds.SmallDateTime}}, "TIMESTAMP(isAdjustedToUTC=false,unit=MICROS)"},
	{msColumn{"dto", "datetimeoffset", true, 10, 34, 7, tds.Column{Type: tds.DateTimeOffset, Scale: 7}}, "TIMESTAMP(isAdjustedToUTC=true,unit=NANOS), INT(16,true)"},
	{msColumn{"g", "uniqueidentifier", true, 16, 0, 0, tds.Column{Type: tds.UniqueIdentifier}}, "STRING"},
	{msColumn{"x", "xml", true, -1, 0, 0, tds.Column{Type: tds.XML}}, "STRING"},
	{msColumn{"rv", "timestamp", false, 8, 0, 0, tds.Column{Type: tds.VarBinary, Length: 8}}, "INT(64,false)"},
	{msColumn{"na]me", "nvarchar", true, 40, 0, 0, tds.Column{Type: tds.NVarChar, Length: 20}}, "STRING"},
}

// msAllTypesRows: typical values (with a 10 MB varbinary(max) and
// surrogate pairs in nvarchar(max)), NULLs, the maxima and the minima.
func msAllTypesRows() [][]any {
	big := make([]byte, 10<<20)
	for i := range big {
		big[i] = byte(i*31 + i>>13)
	}
	utc := time.UTC
	at := func(y int, mo time.Month, d, h, mi, s, ns int, loc *time.Location) time.Time {
		return time.Date(y, mo, d, h, mi, s, ns, loc)
	}
	ist, west, east := time.FixedZone("", 5*3600+30*60), time.FixedZone("", -8*3600), time.FixedZone("", 14*3600)
	rv := func(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
	nulls := make([]any, len(msAllTypes))
	nulls[0], nulls[len(nulls)-2] = 2, rv(1002)
	return [][]any{
		{1, true, 7, 1234, 123456, int64(1234567890123), "-12345678901234567890.123456789012345678", "12345678901234567890123456789012345678",
			"-12345.6789", "1234.5600", "-12.3400", float32(1.5), 3.141592653589793,
			"abc       ", `café, "quoted"`, "ñandú", "say \"hi\", then\nleave ✓", strings.Repeat("héllo 😀 漢字 ", 1<<16), strings.Repeat("abc,", 100_000),
			"legacy text", "ünïcode ntext 漢字", []byte{0, 1, 2, 0xFF}, []byte{0xDE, 0xAD}, big, []byte{0x89, 'P', 'N', 'G'},
			at(2024, 2, 29, 0, 0, 0, 0, utc), at(1, 1, 1, 13, 14, 15, 123456700, utc), at(2024, 2, 29, 23, 59, 58, 123456700, utc),
			at(2024, 2, 29, 23, 59, 58, 123456000, utc), at(1999, 12, 31, 23, 59, 59, 997000000, utc), at(2024, 2, 29, 13, 14, 0, 0, utc),
			at(2023, 12, 31, 22, 15, 1, 999999900, ist), "6f9619ff-8b86-d011-b42d-00c04fd430c8", `<a b="1">x &amp; y</a>`, rv(1001), "quoted ] name"},
		nulls,
		{3, true, 255, 32767, 2147483647, int64(math.MaxInt64), "99999999999999999999.999999999999999999", "99999999999999999999999999999999999999",
			"999999.9999", "922337203685477.5807", "214748.3647", float32(math.MaxFloat32), math.MaxFloat64,
			"zzzzzzzzzz", "", "😀😀", "", "", "", "", "", []byte{0xFF, 0xFF, 0xFF, 0xFF}, []byte{}, []byte{}, []byte{},
			at(9999, 12, 31, 0, 0, 0, 0, utc), at(1, 1, 1, 23, 59, 59, 999999900, utc), at(2262, 4, 11, 23, 47, 16, 854775800, utc),
			at(9999, 12, 31, 23, 59, 59, 999999000, utc), at(9999, 12, 31, 23, 59, 59, 997000000, utc), at(2079, 6, 6, 23, 59, 0, 0, utc),
			at(2262, 4, 12, 13, 47, 16, 854775800, east), "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF", "<r/>", rv(1<<63 | 1), ""},
		{4, false, 0, -32768, -2147483648, int64(math.MinInt64), "-99999999999999999999.999999999999999999", "-99999999999999999999999999999999999999",
			"-999999.9999", "-922337203685477.5808", "-214748.3648", float32(1.17549435e-38), -math.MaxFloat64,
			"          ", "x", "a", "😀 emoji", "😀", "a", "t", "漢", []byte{0, 0, 0, 0}, []byte{0}, []byte{0}, []byte{0},
			at(1, 1, 1, 0, 0, 0, 0, utc), at(1, 1, 1, 0, 0, 0, 0, utc), at(1677, 9, 21, 0, 12, 43, 145224200, utc),
			at(1, 1, 1, 0, 0, 0, 0, utc), at(1753, 1, 1, 0, 0, 0, 0, utc), at(1900, 1, 1, 0, 0, 0, 0, utc),
			at(1969, 12, 31, 16, 0, 0, 100, west), "00000000-0000-0000-0000-000000000000", "<e>ü</e>", rv(0), "x"},
	}
}

// msText is a value's expected text, derived from what the server sent:
// as hp writes it to CSV, and as msParquetAsText renders the Parquet
// leaves (timestamps and times there are the stored integers, except
// microsecond timestamps, which it formats; datetimeoffset is a group of
// the instant and the offset in minutes).
func msText(c msColumn, v any) (csvText string, parquetText []string) {
	if v == nil {
		if c.typ == "datetimeoffset" {
			return `\N`, []string{`\N`, `\N`}
		}
		return `\N`, []string{`\N`}
	}
	same := func(s string) (string, []string) { return s, []string{s} }
	two := func(c, p string) (string, []string) { return c, []string{p} }
	switch x := v.(type) {
	case bool, int, int64:
		return same(fmt.Sprint(x))
	case float32:
		return same(strconv.FormatFloat(float64(x), 'g', -1, 32))
	case float64:
		return same(strconv.FormatFloat(x, 'g', -1, 64))
	case string:
		if c.typ == "uniqueidentifier" {
			return same(strings.ToUpper(x))
		}
		return same(x)
	case []byte:
		if c.typ == "timestamp" {
			u := binary.BigEndian.Uint64(x)
			return two(strconv.FormatUint(u, 10), strconv.FormatInt(int64(u), 10)) // parquet-go prints INT64 signed
		}
		return same(base64.StdEncoding.EncodeToString(x))
	case time.Time:
		u := x.UTC()
		wall := time.Date(x.Year(), x.Month(), x.Day(), x.Hour(), x.Minute(), x.Second(), x.Nanosecond(), time.UTC)
		switch {
		case c.typ == "date":
			return two(x.Format(time.DateOnly), fmt.Sprint(wall.Unix()/86400))
		case c.typ == "time":
			ns := wall.Sub(time.Date(x.Year(), x.Month(), x.Day(), 0, 0, 0, 0, time.UTC))
			return two(x.Format("15:04:05.000000000"), fmt.Sprint(ns.Nanoseconds()))
		case c.typ == "datetimeoffset":
			// The local time with its offset; Parquet has both fields.
			_, off := x.Zone()
			return x.Format("2006-01-02T15:04:05.000000000-07:00"), []string{fmt.Sprint(u.UnixNano()), fmt.Sprint(off / 60)}
		case c.scale == 7:
			return two(wall.Format("2006-01-02T15:04:05.000000000"), fmt.Sprint(wall.UnixNano()))
		default:
			return two(wall.Format("2006-01-02T15:04:05.000000"), wall.Format("2006-01-02T15:04:05.000000Z"))
		}
	}
	panic(fmt.Sprintf("no expectation for %T", v))
}

// TestSnapSQLServerAllTypes: every SQL Server type, with edge values, from
// the TDS test server through the mssql plugin into CSV and Parquet files
// (locally and on S3), compared value for value with what the server sent;
// Parquet columns carry the mapping's logical types.
func TestSnapSQLServerAllTypes(t *testing.T) {
	t.Parallel() // its own TDS and S3 servers
	bin := testkit.Build(t, "mssql")
	srv, env := s3Target(t, "")
	db := tds.Start(t, tds.WithLogin("etl", "pw"))
	cols := make([]msColumn, len(msAllTypes))
	for i, c := range msAllTypes {
		cols[i] = c.msColumn
	}
	rows := msAllTypesRows()
	serveTable(db, "all_types", cols, rows)
	msDTO := -1
	for i, c := range cols {
		if c.name == "dto" {
			msDTO = i
		}
	}
	env = append(env, "HP_MS_DSN="+db.DSN("etl", "pw", "Sales"))

	header := make([]string, len(cols))
	var leaves []string // Parquet's columns: a datetimeoffset is two
	for i, c := range cols {
		header[i] = c.name
		if c.typ == "datetimeoffset" {
			leaves = append(leaves, c.name+".timestamp", c.name+".offset_minutes")
		} else {
			leaves = append(leaves, c.name)
		}
	}
	wantCSV, wantParquet := [][]string{header}, [][]string{leaves}
	for _, r := range rows {
		var c, p []string
		for i, v := range r {
			ct, pt := msText(cols[i], v)
			c, p = append(c, ct), append(p, pt...)
		}
		wantCSV, wantParquet = append(wantCSV, c), append(wantParquet, p)
	}

	for _, run := range []struct{ target, format string }{{"out.all", "csv"}, {"out.all", "parquet"}, {"s3.all", "csv"}, {"out.all", "jsonl"}} {
		out := t.TempDir() // each local run its own root: one manifest under it
		res := bin.Run(t, append(env, "HP_OUT_DSN="+out), append([]string{"cp", "snap", "ms.dbo.all_types", run.target, "--format", run.format, "--compression", "none"}, csvNull(run.format)...)...)
		if res.Code != 0 {
			t.Fatalf("%s: exit %d\n%s", run.target, res.Code, res.Stderr)
		}
		dir := out
		if strings.HasPrefix(run.target, "s3.") {
			dir = download(t, srv, "lake", "raw/all/")
		}
		m, _ := readManifest(t, dir)
		if m.TotalRows != int64(len(rows)) {
			t.Fatalf("%s: %d rows", run.target, m.TotalRows)
		}
		var got, want [][]string
		jsonRow := 0
		for _, f := range m.Files {
			path := filepath.Join(dir, f.Path)
			if run.format == "jsonl" {
				// Only datetimeoffset here: a string as in CSV, or null.
				text, _ := os.ReadFile(path)
				for _, line := range strings.Split(strings.TrimSpace(string(text)), "\n") {
					jsonRow++
					var obj map[string]any
					if err := json.Unmarshal([]byte(line), &obj); err != nil {
						t.Fatalf("jsonl line %d: %v", jsonRow, err)
					}
					var w any = wantCSV[jsonRow][msDTO]
					if w == `\N` {
						w = nil
					}
					if obj["dto"] != w {
						t.Errorf("jsonl line %d dto = %#v, want %#v", jsonRow, obj["dto"], w)
					}
				}
				continue
			}
			if run.format == "parquet" {
				got, want = append(got, parquetAsText(t, path)...), wantParquet
				checkLogicalTypes(t, path)
				continue
			}
			text, _ := os.ReadFile(path)
			recs, err := csv.NewReader(bytes.NewReader(text)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			got, want = append(got, recs...), wantCSV
		}
		if run.format == "jsonl" && jsonRow != len(rows) {
			t.Fatalf("jsonl: %d lines, want %d", jsonRow, len(rows))
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d lines, want %d", run.target, len(got), len(want))
		}
		for r := range want {
			for c := range want[r] {
				if c >= len(got[r]) || got[r][c] != want[r][c] {
					g := "(missing)"
					if c < len(got[r]) {
						g = abbrev(got[r][c])
					}
					t.Errorf("%s line %d column %s: got %s, want %s", run.target, r+1, want[0][c], g, abbrev(want[r][c]))
				}
			}
		}
	}
	noUploadsLeft(t, srv)
}

// checkLogicalTypes compares a Parquet file's logical types with
// msAllTypes (a group's: its leaves' joined by ", ").
func checkLogicalTypes(t *testing.T, path string) {
	t.Helper()
	pf := openParquet(t, path)
	fields := pf.Schema().Fields()
	if len(fields) != len(msAllTypes) {
		t.Fatalf("%d Parquet columns, want %d", len(fields), len(msAllTypes))
	}
	for i, f := range fields {
		got := ""
		if l := f.Type().LogicalType(); l != nil {
			got = l.String()
		}
		if !f.Leaf() {
			var ls []string
			for _, c := range f.Fields() {
				ls = append(ls, leafLogical(pf, []string{f.Name(), c.Name()}))
			}
			got = strings.Join(ls, ", ")
		}
		if got != msAllTypes[i].logical {
			t.Errorf("Parquet column %s: logical type %q, want %q", f.Name(), got, msAllTypes[i].logical)
		}
	}
}

// abbrev shortens long values in failure messages.
func abbrev(s string) string {
	if len(s) > 80 {
		return fmt.Sprintf("%q... (%d bytes)", s[:80], len(s))
	}
	return fmt.Sprintf("%q", s)
}

// TestSnapSQLServerUnrepresentable: a datetime2(7) value outside
// timestamp[ns] fails the run as an unsupported type (exit 2), naming the
// column, the value and the way out, with nothing published; the
// suggested query then copies the value. Spatial, hierarchyid and
// sql_variant columns are read through the server's fallback expressions.
func TestSnapSQLServerUnrepresentable(t *testing.T) {
	t.Parallel() // its own TDS server
	bin := testkit.Build(t, "mssql")
	db := tds.Start(t, tds.WithLogin("etl", "pw"))
	id := msColumn{"id", "int", false, 4, 10, 0, tds.Column{Type: tds.Int}}
	serveTable(db, "far", []msColumn{id, {"d7", "datetime2", true, 8, 27, 7, tds.Column{Type: tds.DateTime2, Scale: 7}}},
		[][]any{{1, time.Date(2024, 1, 2, 3, 4, 5, 600, time.UTC)}, {2, time.Date(9999, 1, 1, 12, 0, 0, 123456700, time.UTC)}})
	env := []string{"HP_MS_DSN=" + db.DSN("etl", "pw", "Sales")}

	out := t.TempDir()
	res := bin.Run(t, append(env, "HP_OUT_DSN="+out), "cp", "snap", "ms.dbo.far", "out.x", "--compression", "none")
	if res.Code != 2 {
		t.Fatalf("exit %d, want 2\n%s", res.Code, res.Stderr)
	}
	testkit.Contains(t, "far", res.Stderr, `row 2, column "d7" (datetime2(7))`, "9999-01-01T12:00:00.1234567", "CAST(col AS datetime2(6))", "nothing was published")
	assertNothingPublished(t, out)

	// Fallbacks: the catalog's types, the expressions hp must send and the
	// values the server computes (POINT(1 2) as WKB).
	mssqlTable(db, "[dbo].[places]", [][]any{
		{"id", "int", false, 4, 10, 0}, {"loc", "geography", true, -1, 0, 0},
		{"node", "hierarchyid", true, 892, 0, 0}, {"v", "sql_variant", true, 8016, 0, 0},
	}, "id")
	wkb := []byte{1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F, 0, 0, 0, 0, 0, 0, 0, 0x40}
	db.Handle("SELECT [id], [loc].AsBinaryZM() AS [loc], [node].ToString() AS [node], "+
		"CASE CAST(SQL_VARIANT_PROPERTY([v], 'BaseType') AS sysname) WHEN 'float' THEN CONVERT(nvarchar(max), [v], 3) "+
		"WHEN 'real' THEN CONVERT(nvarchar(max), [v], 3) WHEN 'binary' THEN CONVERT(nvarchar(max), [v], 1) "+
		"WHEN 'varbinary' THEN CONVERT(nvarchar(max), [v], 1) ELSE CONVERT(nvarchar(max), [v], 126) END AS [v] FROM [dbo].[places]",
		tds.Response{Columns: []tds.Column{{Name: "id", Type: tds.Int}, {Name: "loc", Type: tds.VarBinary, Length: tds.Max, Nullable: true},
			{Name: "node", Type: tds.NVarChar, Length: 4000, Nullable: true}, {Name: "v", Type: tds.NVarChar, Length: tds.Max, Nullable: true}},
			Rows: [][]any{{1, wkb, "/1/2/", "12.5"}, {2, nil, nil, nil}}})
	want := [][]string{{"id", "loc", "node", "v"}, {"1", base64.StdEncoding.EncodeToString(wkb), "/1/2/", "12.5"}, {"2", `\N`, `\N`, `\N`}}
	for _, format := range []string{"csv", "parquet"} {
		out := t.TempDir()
		res := bin.Run(t, append(env, "HP_OUT_DSN="+out), append([]string{"cp", "snap", "ms.dbo.places", "out.p", "--format", format, "--compression", "none"}, csvNull(format)...)...)
		if res.Code != 0 {
			t.Fatalf("%s: exit %d\n%s", format, res.Code, res.Stderr)
		}
		m, _ := readManifest(t, out)
		path := filepath.Join(out, m.Files[0].Path)
		var got [][]string
		if format == "parquet" {
			got = parquetAsText(t, path)
		} else {
			text, _ := os.ReadFile(path)
			for _, line := range strings.Split(strings.TrimSpace(string(text)), "\n") {
				got = append(got, strings.Split(line, ","))
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s:\n got  %q\n want %q", format, got, want)
		}
	}

	// The way out: a query casting to datetime2(6), microseconds for any year.
	const q = "SELECT id, CAST(d7 AS datetime2(6)) AS d6 FROM dbo.far"
	db.Handle(q, tds.Response{Columns: []tds.Column{{Name: "id", Type: tds.Int}, {Name: "d6", Type: tds.DateTime2, Scale: 6, Nullable: true}},
		Rows: [][]any{{2, time.Date(9999, 1, 1, 12, 0, 0, 123457000, time.UTC)}}})
	out = t.TempDir()
	res = bin.Run(t, append(env, "HP_OUT_DSN="+out), "cp", "snap", "ms.dbo.far", "out.x", "--query", q, "--compression", "none")
	if res.Code != 0 {
		t.Fatalf("query: exit %d\n%s", res.Code, res.Stderr)
	}
	m, _ := readManifest(t, out)
	text, _ := os.ReadFile(filepath.Join(out, m.Files[0].Path))
	if got := string(text); got != "id,d6\n2,9999-01-01T12:00:00.123457\n" {
		t.Fatalf("query output %q", got)
	}
}
