package tds_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	mssql "github.com/microsoft/go-mssqldb"

	"github.com/halfpipe-io/halfpipe/testkit/tds"
)

func open(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlserver", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestLogin(t *testing.T) {
	s := tds.Start(t, tds.WithLogin("loader", "S3cret!;@x"))
	db := open(t, s.DSN("loader", "S3cret!;@x", "warehouse"))
	if err := db.Ping(); err != nil {
		t.Fatalf("ping: %v", err)
	}
	var name string
	s.Handle("select db_name()", tds.Response{
		Columns: []tds.Column{{Name: "", Type: tds.NVarChar, Length: 128}},
		Rows:    [][]any{{"warehouse"}},
	})
	if err := db.QueryRow("select db_name()").Scan(&name); err != nil || name != "warehouse" {
		t.Fatalf("db_name = %q, %v", name, err)
	}

	bad := open(t, s.DSN("loader", "wrong", "warehouse"))
	err := bad.Ping()
	if err == nil || !strings.Contains(err.Error(), "Login failed") {
		t.Fatalf("wrong password: err = %v, want login failed", err)
	}
	if st := s.Stats(); st.FailedLogins == 0 {
		t.Fatalf("stats = %+v", st)
	}
	unknown := open(t, s.DSN("nobody", "S3cret!;@x", ""))
	if err := unknown.Ping(); err == nil || !strings.Contains(err.Error(), "18456") && !strings.Contains(err.Error(), "Login failed") {
		t.Fatalf("unknown user: err = %v", err)
	}
}

func TestEncryptionRequiredFailsClearly(t *testing.T) {
	s := tds.Start(t)
	dsn := strings.Replace(s.DSN("u", "p", ""), "encrypt=disable", "encrypt=true", 1)
	db := open(t, dsn)
	err := db.Ping()
	if err == nil || !strings.Contains(err.Error(), "encryption") {
		t.Fatalf("err = %v, want an encryption error", err)
	}
}

func TestAllTypes(t *testing.T) {
	s := tds.Start(t)
	db := open(t, s.DSN("u", "p", "db"))

	bigText := strings.Repeat("héllo wörld ✓ ", 1<<16) // ~1 MB of characters
	bigBin := make([]byte, 1<<20)
	for i := range bigBin {
		bigBin[i] = byte(i * 7)
	}
	ist := time.FixedZone("", 5*3600+30*60)
	dt2 := time.Date(2024, 2, 29, 23, 59, 58, 123456700, time.UTC)
	dto := time.Date(2023, 12, 31, 22, 15, 1, 999999900, ist)
	const guid = "6F9619FF-8B86-D011-B42D-00C04FD430C8"
	dec38 := "-12345678901234567890.123456789012345678"

	cols := []tds.Column{
		{Name: "b", Type: tds.Bit, Nullable: true},
		{Name: "ti", Type: tds.TinyInt, Nullable: true},
		{Name: "si", Type: tds.SmallInt, Nullable: true},
		{Name: "i", Type: tds.Int, Nullable: true},
		{Name: "bi", Type: tds.BigInt, Nullable: true},
		{Name: "r", Type: tds.Real, Nullable: true},
		{Name: "f", Type: tds.Float, Nullable: true},
		{Name: "d38", Type: tds.Decimal, Precision: 38, Scale: 18, Nullable: true},
		{Name: "n", Type: tds.Numeric, Precision: 10, Scale: 4, Nullable: true},
		{Name: "m", Type: tds.Money, Nullable: true},
		{Name: "sm", Type: tds.SmallMoney, Nullable: true},
		{Name: "nv", Type: tds.NVarChar, Length: 50, Nullable: true},
		{Name: "vc", Type: tds.VarChar, Length: 20, Nullable: true},
		{Name: "nvmax", Type: tds.NVarChar, Length: tds.Max, Nullable: true},
		{Name: "vb", Type: tds.VarBinary, Length: 16, Nullable: true},
		{Name: "vbmax", Type: tds.VarBinary, Length: tds.Max, Nullable: true},
		{Name: "da", Type: tds.Date, Nullable: true},
		{Name: "tm", Type: tds.Time, Scale: 7, Nullable: true},
		{Name: "dt2", Type: tds.DateTime2, Scale: 7, Nullable: true},
		{Name: "dto", Type: tds.DateTimeOffset, Scale: 7, Nullable: true},
		{Name: "dt", Type: tds.DateTime, Nullable: true},
		{Name: "sdt", Type: tds.SmallDateTime, Nullable: true},
		{Name: "g", Type: tds.UniqueIdentifier, Nullable: true},
		{Name: "x", Type: tds.XML, Nullable: true},
		{Name: "vcmax", Type: tds.VarChar, Length: tds.Max, Nullable: true},
	}
	row := []any{
		true, int64(255), int64(-32768), int64(-2147483648), int64(9223372036854775807),
		float32(1.5), 3.141592653589793, dec38, "-12345.6789", "922337203685477.5807", new(big.Rat).SetFrac64(-2147483648, 10000),
		"héllo wörld ✓", "café", bigText, []byte{0, 1, 2, 0xFF}, bigBin,
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1, 1, 1, 23, 59, 59, 999999900, time.UTC),
		dt2, dto,
		time.Date(1999, 12, 31, 23, 59, 59, 990000000, time.UTC),
		time.Date(2079, 6, 6, 23, 59, 0, 0, time.UTC),
		guid, "<a b=\"1\">x</a>", strings.Repeat("abc", 100000),
	}
	nulls := make([]any, len(cols))
	s.Handle("select * from all_types", tds.Response{Columns: cols, Rows: [][]any{row, nulls}})

	rows, err := db.Query("select * from all_types")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	names, _ := rows.Columns()
	if len(names) != len(cols) || names[7] != "d38" {
		t.Fatalf("columns = %v", names)
	}
	ct, _ := rows.ColumnTypes()
	if ct[13].DatabaseTypeName() != "NVARCHAR" || ct[7].DatabaseTypeName() != "DECIMAL" {
		t.Errorf("column types: %s %s", ct[13].DatabaseTypeName(), ct[7].DatabaseTypeName())
	}
	if p, sc, ok := ct[7].DecimalSize(); !ok || p != 38 || sc != 18 {
		t.Errorf("decimal size = %d,%d,%v", p, sc, ok)
	}
	if !rows.Next() {
		t.Fatalf("no row: %v", rows.Err())
	}
	var (
		b                  bool
		ti, si, i, bi      int64
		r, f               float64
		d38, n, m, sm      string
		nv, vc, nvmax      string
		vb, vbmax          []byte
		da, tm, dt2g, dtog time.Time
		dt, sdt            time.Time
		g                  mssql.UniqueIdentifier
		x, vcmax           string
	)
	if err := rows.Scan(&b, &ti, &si, &i, &bi, &r, &f, &d38, &n, &m, &sm, &nv, &vc, &nvmax, &vb, &vbmax,
		&da, &tm, &dt2g, &dtog, &dt, &sdt, &g, &x, &vcmax); err != nil {
		t.Fatal(err)
	}
	check := func(name string, got, want any) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	check("bit", b, true)
	check("tinyint", ti, int64(255))
	check("smallint", si, int64(-32768))
	check("int", i, int64(-2147483648))
	check("bigint", bi, int64(9223372036854775807))
	check("real", r, 1.5)
	check("float", f, 3.141592653589793)
	check("decimal(38,18)", d38, dec38)
	check("numeric(10,4)", n, "-12345.6789")
	check("money", m, "922337203685477.5807")
	check("smallmoney", sm, "-214748.3648")
	check("nvarchar", nv, "héllo wörld ✓")
	check("varchar", vc, "café")
	check("nvarchar(max) len", len(nvmax), len(bigText))
	check("nvarchar(max)", nvmax == bigText, true)
	check("varbinary", bytes.Equal(vb, []byte{0, 1, 2, 0xFF}), true)
	check("varbinary(max)", bytes.Equal(vbmax, bigBin), true)
	check("date", da.Format(time.DateOnly), "0001-01-01")
	check("time(7)", tm.Format("15:04:05.0000000"), "23:59:59.9999999")
	check("datetime2(7)", dt2g.Format(time.RFC3339Nano), dt2.Format(time.RFC3339Nano))
	check("datetimeoffset", dtog.Format(time.RFC3339Nano), dto.Format(time.RFC3339Nano))
	check("datetime", dt.Format(time.RFC3339Nano), "1999-12-31T23:59:59.99Z")
	check("smalldatetime", sdt.Format(time.RFC3339), "2079-06-06T23:59:00Z")
	check("uniqueidentifier", g.String(), guid)
	check("xml", x, "<a b=\"1\">x</a>")
	check("varchar(max)", vcmax == strings.Repeat("abc", 100000), true)

	if !rows.Next() {
		t.Fatalf("no null row: %v", rows.Err())
	}
	dest := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range dest {
		ptrs[i] = &dest[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	for i, v := range dest {
		if v != nil {
			t.Errorf("null row column %s = %#v", cols[i].Name, v)
		}
	}
	if rows.Next() {
		t.Fatal("extra row")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestParameterizedQuery(t *testing.T) {
	s := tds.Start(t)
	db := open(t, s.DSN("u", "p", ""))
	const q = "select id, name from items where id > @p1"
	cols := []tds.Column{{Name: "id", Type: tds.BigInt}, {Name: "name", Type: tds.NVarChar, Length: 100, Nullable: true}}
	s.HandleArgs(q, []any{5}, tds.Response{Columns: cols, Rows: [][]any{{6, "six"}, {7, nil}}})
	s.HandleArgs(q, []any{6}, tds.Response{Columns: cols, Rows: [][]any{{7, nil}}})

	rows, err := db.Query(q, 5)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var id int64
		var name sql.NullString
		if err := rows.Scan(&id, &name); err != nil {
			t.Fatal(err)
		}
		got = append(got, name.String)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if strings.Join(got, ",") != "six," {
		t.Fatalf("rows = %q", got)
	}
	var id int64
	if err := db.QueryRow(q, 6).Scan(&id, new(sql.NullString)); err != nil || id != 7 {
		t.Fatalf("id = %d, %v", id, err)
	}
	if _, err := db.Query(q, 99); err == nil || !strings.Contains(err.Error(), "@p1=99") {
		t.Fatalf("unmatched args: err = %v", err)
	}

	// Parameter decoding of the common types.
	ts := time.Date(2024, 5, 6, 7, 8, 9, 123456700, time.FixedZone("", -7*3600))
	const q2 = "select @p1, @p2, @p3, @p4, @p5, @p6, @p7, @p8"
	s.Handle(q2, tds.Response{RowsAffected: 1})
	res, err := db.Exec(q2, "naïve", true, 2.5, []byte{1, 2}, ts, nil, int16(-3), mssql.VarChar("plain"))
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Errorf("rows affected = %d", n)
	}
	qs := s.Queries()
	last := qs[len(qs)-1]
	if last.SQL != q2 || !last.RPC || !strings.HasPrefix(last.Decl, "@p1 nvarchar") {
		t.Fatalf("query = %+v", last)
	}
	args := last.Args()
	if args[0] != "naïve" || args[1] != true || args[2] != 2.5 || !bytes.Equal(args[3].([]byte), []byte{1, 2}) ||
		!args[4].(time.Time).Equal(ts) || args[5] != nil || args[6] != int64(-3) || args[7] != "plain" {
		t.Fatalf("args = %#v", args)
	}
	if _, off := args[4].(time.Time).Zone(); off != -7*3600 {
		t.Errorf("offset = %d", off)
	}
	if last.Params[0].Name != "@p1" {
		t.Errorf("param name = %q", last.Params[0].Name)
	}
	var sawFirst bool
	for _, q := range qs {
		if q.SQL == "select id, name from items where id > @p1" && len(q.Args()) == 1 && q.Args()[0] == int64(5) {
			sawFirst = true
		}
	}
	if !sawFirst {
		t.Errorf("queries = %+v", qs)
	}
}

func TestLargeResultStreams(t *testing.T) {
	s := tds.Start(t)
	db := open(t, s.DSN("u", "p", ""))
	const total = 100_000
	s.Handle("select id, label, amount from big", tds.Response{
		Columns: []tds.Column{
			{Name: "id", Type: tds.BigInt},
			{Name: "label", Type: tds.NVarChar, Length: 40, Nullable: true},
			{Name: "amount", Type: tds.Decimal, Precision: 18, Scale: 2, Nullable: true},
		},
		NumRows: total,
		RowFunc: func(i int) []any {
			if i%10 == 0 {
				return []any{i, nil, nil}
			}
			return []any{i, "label", "12.50"}
		},
	})
	before := s.Stats().Packets
	rows, err := db.Query("select id, label, amount from big")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var n, sum, nulls int64
	for rows.Next() {
		var id int64
		var label, amount sql.NullString
		if err := rows.Scan(&id, &label, &amount); err != nil {
			t.Fatal(err)
		}
		if !label.Valid {
			nulls++
		} else if amount.String != "12.50" {
			t.Fatalf("amount = %q", amount.String)
		}
		n++
		sum += id
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != total || sum != total*(total-1)/2 || nulls != total/10 {
		t.Fatalf("rows = %d sum = %d nulls = %d", n, sum, nulls)
	}
	if pk := s.Stats().Packets - before; pk < 300 {
		t.Fatalf("result sent in %d packets, want many", pk)
	}
}

func TestSmallPacketSize(t *testing.T) {
	s := tds.Start(t)
	db := open(t, s.DSN("u", "p", "")+"&packet+size=512")
	text := strings.Repeat("x", 3000)
	s.Handle("select t", tds.Response{
		Columns: []tds.Column{{Name: "t", Type: tds.NVarChar, Length: 4000}},
		Rows:    [][]any{{text}, {text}},
	})
	before := s.Stats().Packets
	var n int
	rows, err := db.Query("select t")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var got string
		if err := rows.Scan(&got); err != nil || got != text {
			t.Fatalf("got %d chars, %v", len(got), err)
		}
		n++
	}
	if err := rows.Err(); err != nil || n != 2 {
		t.Fatalf("rows = %d, %v", n, err)
	}
	if pk := s.Stats().Packets - before; pk < 24 {
		t.Fatalf("12 KB sent in %d packets of 512 bytes", pk)
	}
}

func TestErrors(t *testing.T) {
	s := tds.Start(t)
	db := open(t, s.DSN("u", "p", ""))
	s.Handle("select * from missing", tds.Response{Err: &tds.Error{Number: 208, State: 1, Class: 16, Message: "Invalid object name 'missing'."}})
	_, err := db.Query("select * from missing")
	var me mssql.Error
	if !errors.As(err, &me) || me.Number != 208 || me.Message != "Invalid object name 'missing'." || me.Class != 16 {
		t.Fatalf("err = %#v", err)
	}

	_, err = db.Query("select nothing_registered from t where x = @p1", 3)
	if err == nil || !strings.Contains(err.Error(), "select nothing_registered from t where x = @p1") {
		t.Fatalf("unregistered: err = %v", err)
	}
	if err := db.Ping(); err != nil {
		t.Fatalf("connection unusable after errors: %v", err)
	}
}

func TestCancelMidStream(t *testing.T) {
	s := tds.Start(t)
	db := open(t, s.DSN("u", "p", ""))
	db.SetMaxOpenConns(1)
	s.Handle("select * from endless", tds.Response{
		Columns: []tds.Column{{Name: "id", Type: tds.BigInt}, {Name: "pad", Type: tds.NVarChar, Length: 100}},
		NumRows: 50_000_000,
		RowFunc: func(i int) []any { return []any{i, "padding padding padding"} },
	})
	s.Handle("select 42", tds.Response{Columns: []tds.Column{{Type: tds.Int}}, Rows: [][]any{{42}}})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rows, err := db.QueryContext(ctx, "select * from endless")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		n++
		if n == 20_000 {
			cancel()
			break
		}
	}
	start := time.Now()
	for rows.Next() {
		n++
	}
	rows.Close()
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("cancel took %v", el)
	}
	if n > 1_000_000 {
		t.Fatalf("read %d rows after cancel", n)
	}
	if err := rows.Err(); err != nil && !errors.Is(err, context.Canceled) {
		t.Logf("rows.Err after cancel: %v", err)
	}
	var v int
	if err := db.QueryRow("select 42").Scan(&v); err != nil || v != 42 {
		t.Fatalf("after cancel: %d, %v", v, err)
	}
	if st := s.Stats(); st.Attentions < 1 || st.Logins != 1 { // the driver may send a second ATTENTION from rows.Close
		t.Fatalf("stats after cancel = %+v, want one attention on one connection", st)
	}

	// Early Close also cancels (go-mssqldb sends ATTENTION).
	rows, err = db.Query("select * from endless")
	if err != nil {
		t.Fatal(err)
	}
	rows.Next()
	rows.Close()
	if err := db.QueryRow("select 42").Scan(&v); err != nil || v != 42 {
		t.Fatalf("after close: %d, %v", v, err)
	}
	if st := s.Stats(); st.Attentions < 2 || st.Logins != 1 {
		t.Fatalf("stats after close = %+v", st)
	}
}

func TestTransactionAndExec(t *testing.T) {
	s := tds.Start(t)
	db := open(t, s.DSN("u", "p", ""))
	s.Handle("delete from t where id = @p1", tds.Response{RowsAffected: 3})
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	res, err := tx.Exec("delete from t where id = @p1", 1)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 3 {
		t.Fatalf("rows affected = %d", n)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var sqls []string
	for _, q := range s.Queries() {
		sqls = append(sqls, q.SQL)
	}
	if got := strings.Join(sqls, "|"); got != "BEGIN TRANSACTION|delete from t where id = @p1|COMMIT TRANSACTION" {
		t.Fatalf("queries = %s", got)
	}
}
