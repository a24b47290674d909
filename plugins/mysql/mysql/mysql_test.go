package mysql_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	gomysql "github.com/go-sql-driver/mysql"

	"github.com/halfpipe-io/halfpipe/plugins/mysql/mysql"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/conformance"
	"github.com/halfpipe-io/halfpipe/sdk/plugintest"
	"github.com/halfpipe-io/halfpipe/testkit"
)

// testDSN is the real server: HP_TEST_MYSQL_DSN, or the MariaDB every
// machine of this project runs on 127.0.0.1.
func testDSN() string {
	if d := os.Getenv("HP_TEST_MYSQL_DSN"); d != "" {
		return d
	}
	return "mysql://root@127.0.0.1:3306/test"
}

// database creates a fresh database, dropped when the test ends.
func database(t testing.TB) (*sql.DB, string) {
	t.Helper()
	cfg := gomysql.NewConfig()
	cfg.Net, cfg.Addr, cfg.User, cfg.DBName = "tcp", "127.0.0.1:3306", "root", "test"
	c, _ := gomysql.NewConnector(cfg)
	db := sql.OpenDB(c)
	if err := db.Ping(); err != nil {
		testkit.NeedService(t, "MariaDB", err)
	}
	name := fmt.Sprintf("hp_test_%d", time.Now().UnixNano())
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = db.Exec("DROP DATABASE " + name)
		db.Close()
	})
	return db, name
}

// execAll runs the statements in order on db, failing the test at the
// first error.
func execAll(t testing.TB, db *sql.DB, qs ...string) {
	t.Helper()
	for _, q := range qs {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

var schema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "big_u", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "amount", Type: &arrow.Decimal128Type{Precision: 38, Scale: 10}, Nullable: true},
	{Name: "at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	{Name: "flag", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "raw", Type: arrow.BinaryTypes.Binary, Nullable: true},
	{Name: "color", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

func seed(t *testing.T, db *sql.DB, d string, rows int) arrow.RecordBatch {
	t.Helper()
	for _, q := range []string{
		"CREATE TABLE " + d + ".t (id BIGINT NOT NULL PRIMARY KEY, big_u BIGINT UNSIGNED, name VARCHAR(200), amount DECIMAL(38,10), at DATETIME(6), day DATE, flag BIT(1), raw BLOB, color ENUM('red','green','blue'))",
		"CREATE TABLE " + d + ".empty LIKE " + d + ".t",
		"CREATE TABLE " + d + ".big (id BIGINT NOT NULL PRIMARY KEY)",
		"INSERT INTO " + d + ".big WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 150000) SELECT n FROM s",
	} {
		if _, err := db.Exec("SET SESSION cte_max_recursion_depth = 1000000"); err != nil && !strings.Contains(err.Error(), "Unknown system variable") {
			t.Fatal(err)
		}
		if _, err := db.Exec("SET SESSION max_recursive_iterations = 1000000"); err != nil && !strings.Contains(err.Error(), "Unknown system variable") {
			t.Fatal(err)
		}
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	names := []string{"plain", "", `quote " and, comma`, "new\nline", "unicode é 漢字", "back`tick"}
	colors := []string{"red", "green", "blue"}
	for i := 1; i <= rows; i++ {
		id := int64(i) * 5
		b.Field(0).(*array.Int64Builder).Append(id)
		if i%7 == 0 {
			for c := 1; c < len(schema.Fields()); c++ {
				b.Field(c).AppendNull()
			}
			if _, err := db.Exec("INSERT INTO "+d+".t (id) VALUES (?)", id); err != nil {
				t.Fatal(err)
			}
			continue
		}
		u := uint64(math.MaxUint64) - uint64(i)
		amount := decimal128.FromI64(int64(i) * -123456789)
		amountText := amount.ToString(10)
		if i%3 == 0 {
			amountText = strings.Repeat("9", 28) + "." + strings.Repeat("9", 10)
			amount, _ = decimal128.FromString(amountText, 38, 10)
		}
		at := time.Date(2038, 1, 19, 3, 14, 7, 0, time.UTC).Add(time.Duration(i) * 1234567 * time.Microsecond)
		day := time.Date(1000+i*10, 12, 31, 0, 0, 0, 0, time.UTC)
		raw := []byte{0, byte(i), 0, 0xff}
		b.Field(1).(*array.Uint64Builder).Append(u)
		b.Field(2).(*array.StringBuilder).Append(names[i%len(names)])
		b.Field(3).(*array.Decimal128Builder).Append(amount)
		b.Field(4).(*array.TimestampBuilder).Append(arrow.Timestamp(at.UnixMicro()))
		b.Field(5).(*array.Date32Builder).Append(arrow.Date32FromTime(day))
		b.Field(6).(*array.BooleanBuilder).Append(i%2 == 0)
		b.Field(7).(*array.BinaryBuilder).Append(raw)
		b.Field(8).(*array.StringBuilder).Append(colors[i%3])
		bit := 0
		if i%2 == 0 {
			bit = 1
		}
		_, err := db.Exec("INSERT INTO "+d+".t VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", id, fmt.Sprint(u), names[i%len(names)], amountText,
			at.Format("2006-01-02 15:04:05.000000"), day.Format("2006-01-02"), bit, raw, colors[i%3])
		if err != nil {
			t.Fatal(err)
		}
	}
	return b.NewRecordBatch()
}

func TestConformance(t *testing.T) {
	db, d := database(t)
	expected := seed(t, db, d, 40)
	defer expected.Release()
	conn := sdk.Connection{DSN: testDSN()}
	remote := plugintest.Serve(t, mysql.New())
	conformance.RunSourceSuite(t, remote, conformance.SourceFixture{
		Conn: conn, Table: sdk.ObjectRef{Schema: d, Name: "t"}, Expected: expected, KeyColumn: "id", OrderColumn: "amount",
		Empty: sdk.ObjectRef{Schema: d, Name: "empty"}, Large: sdk.ObjectRef{Schema: d, Name: "big"},
		Missing: sdk.ObjectRef{Schema: d, Name: "missing"},
	})
	n := 0
	conformance.RunTargetSuite(t, mysql.New(), conformance.TargetFixture{Conn: conn, NewTable: func(t *testing.T) sdk.ObjectRef {
		n++
		return sdk.ObjectRef{Schema: d, Name: fmt.Sprintf("target %d", n)}
	}})
}

func TestZeroDatesAndErrors(t *testing.T) {
	db, d := database(t)
	execAll(t, db,
		"SET SESSION sql_mode = ''",
		"CREATE TABLE "+d+".z (id INT NOT NULL PRIMARY KEY, d DATE, dt DATETIME)",
		"INSERT INTO "+d+".z VALUES (1, '0000-00-00', '0000-00-00 00:00:00'), (2, '2024-02-29', '2024-02-29 23:59:59')",
	)
	c := mysql.New()
	conn := sdk.Connection{DSN: testDSN()}
	rr, err := c.Read(context.Background(), sdk.ReadRequest{Conn: conn, Source: sdk.Source{Object: &sdk.ObjectRef{Schema: d, Name: "z"}}, OrderBy: []sdk.OrderBy{{Column: "id"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	if !rr.Next() {
		t.Fatal(rr.Err())
	}
	rec := rr.RecordBatch()
	if !rec.Column(1).IsNull(0) || !rec.Column(2).IsNull(0) || rec.Column(1).IsNull(1) {
		t.Fatalf("zero dates: %v", rec)
	}
	_, err = c.Read(context.Background(), sdk.ReadRequest{Conn: conn, Source: sdk.Source{Object: &sdk.ObjectRef{Schema: d, Name: "x`; DROP TABLE z; --"}}})
	if !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("injection name: %v", err)
	}
	_, err = c.Check(context.Background(), sdk.Connection{DSN: "mysql://root:Wr0ngPassw0rd@127.0.0.1:3306/test"})
	if !errors.Is(err, sdk.ErrUnauthenticated) || strings.Contains(err.Error(), "Wr0ngPassw0rd") {
		t.Fatalf("wrong password: %v", err)
	}
}

// MariaDB prints FLOAT with six digits in the text protocol; the connector
// must read the stored single-precision value, from tables and queries.
func TestFloatsExact(t *testing.T) {
	db, d := database(t)
	execAll(t, db,
		"CREATE TABLE "+d+".f (id INT NOT NULL PRIMARY KEY, f FLOAT, g DOUBLE)",
		"INSERT INTO "+d+".f VALUES (1, 3.4028234e38, 1.7976931348623157e308), (2, 16777217, 5e-324), (3, 1.4e-45, 0.1), (4, -0.1, NULL)",
	)
	want32 := []float32{math.MaxFloat32, 16777216, math.SmallestNonzeroFloat32, -0.1}
	want64 := []float64{math.MaxFloat64, math.SmallestNonzeroFloat64, 0.1}
	c := mysql.New()
	conn := sdk.Connection{DSN: testDSN()}
	for _, src := range []sdk.Source{{Object: &sdk.ObjectRef{Schema: d, Name: "f"}}, {Query: "SELECT id, f, g FROM " + d + ".f"}} {
		rr, err := c.Read(context.Background(), sdk.ReadRequest{Conn: conn, Source: src, OrderBy: []sdk.OrderBy{{Column: "id"}}})
		if err != nil {
			t.Fatal(err)
		}
		if !rr.Next() {
			t.Fatal(rr.Err())
		}
		rec := rr.RecordBatch()
		f, g := rec.Column(1).(*array.Float32), rec.Column(2).(*array.Float64)
		for i, w := range want32 {
			if f.Value(i) != w {
				t.Errorf("%v: FLOAT row %d: %v, want %v", src, i+1, f.Value(i), w)
			}
		}
		for i, w := range want64 {
			if g.Value(i) != w {
				t.Errorf("%v: DOUBLE row %d: %v, want %v", src, i+1, g.Value(i), w)
			}
		}
		if !g.IsNull(3) {
			t.Errorf("%v: NULL DOUBLE read as %v", src, g.Value(3))
		}
		rr.Release()
	}
}

// A date with a zero month or day has no Arrow value: the read fails
// naming the column and the value; year 0 is a real (proleptic) year.
func TestZeroInDateRefused(t *testing.T) {
	db, d := database(t)
	execAll(t, db,
		"SET SESSION sql_mode = ''",
		"CREATE TABLE "+d+".z (id INT NOT NULL PRIMARY KEY, d DATE, dt DATETIME(6))",
		"INSERT INTO "+d+".z VALUES (1, '0000-01-01', '0000-01-01 00:00:00.000001'), (2, '2024-00-15', NULL), (3, NULL, '2024-02-00 10:00:00'), (4, '0000-00-00', '0000-00-00')",
		// a float makes reads binary-protocol ones
		"CREATE VIEW "+d+".zf AS SELECT z.*, 0.5e0 AS f FROM "+d+".z",
	)
	for _, table := range []string{"z", "zf"} {
		zeroInDateRefused(t, d, table)
	}
	restore := mysql.TextOnSocket()
	defer restore()
	zeroInDateRefused(t, d, "z") // in the text protocol
}

func zeroInDateRefused(t *testing.T, d, table string) {
	c := mysql.New()
	conn := sdk.Connection{DSN: testDSN()}
	read := func(where string) (arrow.RecordBatch, error) {
		rr, err := c.Read(context.Background(), sdk.ReadRequest{Conn: conn, Source: sdk.Source{Object: &sdk.ObjectRef{Schema: d, Name: table}}, Where: where})
		if err != nil {
			return nil, err
		}
		defer rr.Release()
		if !rr.Next() {
			return nil, rr.Err()
		}
		rec := rr.RecordBatch()
		rec.Retain()
		return rec, nil
	}
	rec, err := read("id = 1")
	if err != nil {
		t.Fatal(err)
	}
	day := rec.Column(1).(*array.Date32).Value(0).ToTime()
	at := rec.Column(2).(*array.Timestamp).Value(0).ToTime(arrow.Microsecond)
	if day.Year() != 0 || day.YearDay() != 1 || at.Year() != 0 || at.Nanosecond() != 1000 {
		t.Errorf("%s: year 0: %v, %v", table, day, at)
	}
	rec.Release()
	if rec, err = read("id = 4"); err != nil || !rec.Column(1).IsNull(0) || !rec.Column(2).IsNull(0) {
		t.Fatalf("%s: zero dates: %v, %v", table, rec, err)
	}
	rec.Release()
	for where, want := range map[string][]string{"id = 2": {`column "d"`, "2024-00-15"}, "id = 3": {`column "dt"`, "2024-02-00 10:00:00"}} {
		_, err := read(where)
		if !errors.Is(err, sdk.ErrUnsupportedType) {
			t.Errorf("%s %s: %v, want an unsupported-type error", table, where, err)
			continue
		}
		testkit.Contains(t, table+" "+where, err.Error(), want...)
	}
}

// Geometry values are bytes (SRID + WKB), not text: as text they were
// invalid UTF-8.
func TestGeometryAsBinary(t *testing.T) {
	db, d := database(t)
	execAll(t, db,
		"CREATE TABLE "+d+".g (id INT NOT NULL PRIMARY KEY, g GEOMETRY, p POINT)",
		"INSERT INTO "+d+".g VALUES (1, ST_GeomFromText('LINESTRING(0 0, 1 1)', 4326), POINT(1, 2))",
	)
	var wantG, wantP []byte
	if err := db.QueryRow("SELECT g, p FROM "+d+".g").Scan(&wantG, &wantP); err != nil {
		t.Fatal(err)
	}
	c := mysql.New()
	for _, src := range []sdk.Source{{Object: &sdk.ObjectRef{Schema: d, Name: "g"}}, {Query: "SELECT id, g, p FROM " + d + ".g"}} {
		rr, err := c.Read(context.Background(), sdk.ReadRequest{Conn: sdk.Connection{DSN: testDSN()}, Source: src})
		if err != nil {
			t.Fatal(err)
		}
		if !rr.Next() {
			t.Fatal(rr.Err())
		}
		rec := rr.RecordBatch()
		g, okG := rec.Column(1).(*array.Binary)
		p, okP := rec.Column(2).(*array.Binary)
		if !okG || !okP || string(g.Value(0)) != string(wantG) || string(p.Value(0)) != string(wantP) || len(wantP) != 25 {
			t.Errorf("%v: geometry read as %s %s, want the server's bytes %x %x", src, rec.Column(1).DataType(), rec.Column(2).DataType(), wantG, wantP)
		}
		rr.Release()
	}
}

// Tables are read in the binary protocol on the socket (in the text
// protocol there when TextOnSocket), a read with a parameter in the
// binary one by the driver (a string bound is never written into the
// SQL): all must give the same values for every type, NULLs, extremes
// and zero dates included.
func TestTextAndBinaryProtocolsAgree(t *testing.T) {
	db, d := database(t)
	execAll(t, db,
		"SET SESSION sql_mode = ''",
		`CREATE TABLE `+d+`.a (id INT NOT NULL PRIMARY KEY, ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, mi MEDIUMINT UNSIGNED,
			bi BIGINT, bu BIGINT UNSIGNED, d1 DECIMAL(15,2), d2 DECIMAL(65,30), c CHAR(5), v VARCHAR(20), tx TEXT, bl BLOB, vb VARBINARY(8),
			dt DATE, dtm DATETIME(6), ts TIMESTAMP(3) NULL, tm TIME(2), y YEAR, b1 BIT(1), b9 BIT(9), e ENUM('x','y'), s SET('p','q'), j JSON, g POINT,
			tm0 TIME, tm6 TIME(6), dt0 DATETIME, ts0 TIMESTAMP NULL, mu MEDIUMINT, iu INT UNSIGNED, su SMALLINT UNSIGNED,
			i INT, d3 DECIMAL(38,10))`,
		`INSERT INTO `+d+`.a VALUES
			(1, -128, 255, -32768, 16777215, -9223372036854775808, 18446744073709551615, -1234567890123.45, 12345678901234567890123456789012345.123456789012345678901234567890,
			 'ab', 'żółw 🐢', REPEAT('t', 300), X'00FF00', X'', '0001-01-01', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.999', '-838:59:59.99', 1901, b'1', b'100000001', 'y', 'p,q', '{"a": [1, null]}', POINT(1.5, -2),
			 '-100:00:01', '837:12:13.000001', '2024-02-29 12:34:56', '1970-01-01 00:00:01', -8388608, 4294967295, 65535,
			 -2147483648, -9999999999999999999999999999.9999999999),
			(2, 127, 0, 32767, 0, 9223372036854775807, 0, 0.01, -0.000000000000000000000000000001, '', '', '', '', X'0102', '0000-00-00', '0000-00-00 00:00:00', NULL, '00:00:00', 0, b'0', b'0', 'x', '', 'null', NULL,
			 '-00:00:00.5', '00:00:00', '0000-00-00 00:00:00', NULL, 8388607, 0, 0,
			 2147483647, 0.0000000001),
			(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
			 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
		// with a float, so that table reads take the binary protocol
		"CREATE VIEW "+d+".af AS SELECT a.*, CAST(id AS DOUBLE) / 3 AS f, CAST(id / 7 AS FLOAT) AS f32 FROM "+d+".a",
	)
	c := mysql.New()
	conn := sdk.Connection{DSN: testDSN()}
	read := func(table string, rf *sdk.RangeFilter) arrow.RecordBatch {
		rr, err := c.Read(context.Background(), sdk.ReadRequest{Conn: conn, Source: sdk.Source{Object: &sdk.ObjectRef{Schema: d, Name: table}},
			Range: rf, OrderBy: []sdk.OrderBy{{Column: "id"}}})
		if err != nil {
			t.Fatal(err)
		}
		defer rr.Release()
		if !rr.Next() {
			t.Fatal(rr.Err())
		}
		rec := rr.RecordBatch()
		rec.Retain()
		return rec
	}
	// text protocol rows read off the socket (wire.go), which reads
	// without floats took before binary rows were read there
	restore := mysql.TextOnSocket()
	text := read("a", nil)
	restore()
	defer text.Release()
	everything := &sdk.RangeFilter{Column: "id", Lower: &sdk.Value{Kind: sdk.KindString, Str: "0"}, LowerInclusive: true}
	binary := read("a", everything)
	defer binary.Release()
	// binary protocol rows read off the socket (binwire.go), with and
	// without a float, and by the driver (a read with a parameter)
	wireA, wire, driver := read("a", nil), read("af", nil), read("af", everything)
	defer wireA.Release()
	defer wire.Release()
	defer driver.Release()
	if text.NumRows() != 3 || binary.NumRows() != 3 || wireA.NumRows() != 3 || wire.NumRows() != 3 || driver.NumRows() != 3 {
		t.Fatalf("rows: text %d, binary %d, binary off the socket %d and %d, binary by the driver %d", text.NumRows(), binary.NumRows(), wireA.NumRows(), wire.NumRows(), driver.NumRows())
	}
	for i, f := range text.Schema().Fields() {
		if !array.Equal(text.Column(i), binary.Column(i)) {
			t.Errorf("column %s (%s): text protocol %v, binary protocol %v", f.Name, f.Type, text.Column(i), binary.Column(i))
		}
		if !array.Equal(text.Column(i), wire.Column(i)) {
			t.Errorf("column %s (%s): text protocol %v, binary protocol off the socket %v", f.Name, f.Type, text.Column(i), wire.Column(i))
		}
		if !array.Equal(text.Column(i), wireA.Column(i)) {
			t.Errorf("column %s (%s): text protocol %v, binary protocol off the socket without floats %v", f.Name, f.Type, text.Column(i), wireA.Column(i))
		}
	}
	for i, f := range wire.Schema().Fields() {
		if !array.Equal(driver.Column(i), wire.Column(i)) {
			t.Errorf("column %s (%s): binary protocol by the driver %v, off the socket %v", f.Name, f.Type, driver.Column(i), wire.Column(i))
		}
	}
	if got := wire.Column(34).(*array.Float64).Value(1); got != 2.0/3 {
		t.Errorf("double 2/3 read as %v", got)
	}
	if tm, tm6 := wire.Column(25).(*array.String), wire.Column(26).(*array.String); tm.Value(0) != "-100:00:01" || tm6.Value(0) != "837:12:13.000001" || tm6.Value(1) != "00:00:00.000000" {
		t.Errorf("time(0), time(6): %v %v", tm, tm6)
	}
	// Spot checks that the two do not agree on something wrong.
	if got := text.Column(6).(*array.Uint64).Value(0); got != math.MaxUint64 {
		t.Errorf("bigint unsigned max: %d", got)
	}
	if got := text.Column(32).(*array.Int32).Value(0); got != math.MinInt32 {
		t.Errorf("int min: %d", got)
	}
	if got := text.Column(33).(*array.Decimal128).Value(0); got.BigInt().String() != "-"+strings.Repeat("9", 38) {
		t.Errorf("decimal(38,10) min: %v", got.BigInt())
	}
	if got := text.Column(8).(*array.Decimal256).Value(1); got.Sign() >= 0 {
		t.Errorf("decimal(65,30) -1e-30 read as %v", got)
	}
	if got := text.Column(15).(*array.Timestamp).Value(0); got != arrow.Timestamp(253402300799999999) {
		t.Errorf("datetime(6) max: %d", got)
	}
	if !text.Column(14).IsNull(1) || text.Column(10).(*array.String).Value(0) != "żółw 🐢" || text.Column(17).(*array.String).Value(0) != "-838:59:59.99" {
		t.Errorf("zero date, utf8 or time: %v %v %v", text.Column(14), text.Column(10), text.Column(17))
	}
}

// Table reads run on the socket (wire.go): rows that span protocol
// packets come back whole, and a value can be as large as the server sends.
func TestWireRowsSpanningPackets(t *testing.T) {
	db, d := database(t)
	execAll(t, db, "CREATE TABLE "+d+".w (id INT NOT NULL PRIMARY KEY, b LONGBLOB)")
	// A row packet holds "1" (2 bytes), the blob's 4-byte length, then the
	// blob: payloads just under, at and just over 2^24-1 bytes, where the
	// protocol splits packets.
	const maxPayload = 1<<24 - 1
	sizes := map[int]int{1: maxPayload - 6 - 1, 2: maxPayload - 6, 3: maxPayload - 6 + 1, 4: 0, 5: 250, 6: 70000}
	for id, n := range sizes {
		if _, err := db.Exec("INSERT INTO "+d+".w SELECT ?, CONCAT(REPEAT('x', ?), CHAR(?))", id, max(n-1, 0), '0'+id); err != nil {
			if strings.Contains(err.Error(), "max_allowed_packet") {
				t.Logf("row %d of %d bytes: %v", id, n, err)
				delete(sizes, id)
				continue
			}
			t.Fatal(err)
		}
	}
	if _, err := db.Exec("UPDATE " + d + ".w SET b = '' WHERE id = 4"); err != nil {
		t.Fatal(err)
	}
	if _, ok := sizes[2]; !ok {
		t.Fatal("the server did not take a row of exactly one packet's payload")
	}
	// wf's float makes its reads binary-protocol ones
	execAll(t, db, "CREATE VIEW "+d+".wf AS SELECT w.*, id / 2e0 AS f FROM "+d+".w")
	for _, table := range []string{"w", "wf"} {
		readSpanning(t, d, table, sizes)
	}
	restore := mysql.TextOnSocket()
	defer restore()
	readSpanning(t, d, "w", sizes)
}

func readSpanning(t *testing.T, d, table string, sizes map[int]int) {
	rr, err := mysql.New().Read(context.Background(), sdk.ReadRequest{Conn: sdk.Connection{DSN: testDSN()},
		Source: sdk.Source{Object: &sdk.ObjectRef{Schema: d, Name: table}}, OrderBy: []sdk.OrderBy{{Column: "id"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	got := 0
	for rr.Next() {
		rec := rr.RecordBatch()
		ids, bs := rec.Column(0).(*array.Int32), rec.Column(1).(*array.Binary)
		for i := 0; i < int(rec.NumRows()); i++ {
			id, v := int(ids.Value(i)), bs.Value(i)
			if len(v) != sizes[id] || bs.IsNull(i) || (len(v) > 0 && (v[len(v)-1] != byte('0'+id) || strings.Trim(string(v[:len(v)-1]), "x") != "")) {
				t.Errorf("%s row %d: %d bytes ending %q, want %d bytes of x then %q", table, id, len(v), v[max(len(v)-1, 0):], sizes[id], string(rune('0'+id)))
			}
			got++
		}
	}
	if rr.Err() != nil || got != len(sizes) {
		t.Fatalf("%s: read %d rows of %d: %v", table, got, len(sizes), rr.Err())
	}
}

// A read abandoned mid-result drops its connection rather than draining
// it, an error the server sends after some rows ends the read with the
// server's message, and the connector's pool serves further reads either way.
func TestWireAbandonedReadsAndLateErrors(t *testing.T) {
	// tables without floats in the text protocol, those with in the binary one
	defer mysql.TextOnSocket()()
	db, d := database(t)
	for _, q := range []string{
		"SET SESSION cte_max_recursion_depth = 1000000",
		"SET SESSION max_recursive_iterations = 1000000",
	} {
		_, _ = db.Exec(q) // one of the two exists, MySQL's or MariaDB's
	}
	execAll(t, db,
		"CREATE TABLE "+d+".big (id BIGINT NOT NULL PRIMARY KEY, s VARCHAR(40))",
		"INSERT INTO "+d+".big WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 200000) SELECT n, MD5(n) FROM s",
		// The subquery returns two rows for id 150000 only.
		"CREATE VIEW "+d+".late AS SELECT id, IF(id = 150000, (SELECT b2.id FROM "+d+".big b2 WHERE b2.id IN (1, 2) AND big.id = 150000), id) AS x FROM "+d+".big",
		// with floats, read in the binary protocol
		"CREATE VIEW "+d+".bigf AS SELECT big.*, id / 3e0 AS f FROM "+d+".big",
		"CREATE VIEW "+d+".latef AS SELECT late.*, id / 3e0 AS f FROM "+d+".late",
	)
	c := mysql.New()
	conn := sdk.Connection{DSN: testDSN()}
	read := func(table string, batches int) (int64, error) {
		rr, err := c.Read(context.Background(), sdk.ReadRequest{Conn: conn, Source: sdk.Source{Object: &sdk.ObjectRef{Schema: d, Name: table}}, BatchMaxRows: 10000})
		if err != nil {
			return 0, err
		}
		defer rr.Release()
		rows := int64(0)
		for n := 0; (batches == 0 || n < batches) && rr.Next(); n++ {
			rows += rr.RecordBatch().NumRows()
		}
		return rows, rr.Err()
	}
	for i := 0; i < 4; i++ {
		start := time.Now()
		f := []string{"", "f"}[i%2]
		if n, err := read("big"+f, 1); err != nil || n != 10000 {
			t.Fatalf("abandoned read %d of big%s: %d rows, %v", i, f, n, err)
		}
		if n, err := read("late"+f, 0); err == nil || !strings.Contains(err.Error(), "Subquery returns more than 1 row") || n == 0 || n >= 150000 {
			t.Fatalf("late error in late%s: %d rows, %v", f, n, err)
		}
		if n, err := read("big"+f, 0); err != nil || n != 200000 {
			t.Fatalf("full read of big%s after abandoned ones: %d rows, %v", f, n, err)
		}
		t.Logf("round %d: %v", i, time.Since(start))
	}
}

// Cancelling a read that waits for the server's first row ends it at once
// (the socket's deadline is moved), and the pool still serves reads.
func TestWireCancelWhileServerWorks(t *testing.T) {
	// tables without floats in the text protocol, those with in the binary one
	defer mysql.TextOnSocket()()
	db, d := database(t)
	execAll(t, db,
		"CREATE TABLE "+d+".one (id INT NOT NULL PRIMARY KEY)",
		"INSERT INTO "+d+".one VALUES (1)",
		"CREATE VIEW "+d+".slow AS SELECT id, SLEEP(3) AS s FROM "+d+".one",
		// with a float: prepared, in the binary protocol
		"CREATE VIEW "+d+".slowf AS SELECT id, SLEEP(3) AS s, 0.5e0 AS f FROM "+d+".one",
		"CREATE VIEW "+d+".onef AS SELECT id, 0.5e0 AS f FROM "+d+".one",
	)
	c := mysql.New()
	conn := sdk.Connection{DSN: testDSN()}
	for _, f := range []string{"", "f"} {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		start := time.Now()
		rr, err := c.Read(ctx, sdk.ReadRequest{Conn: conn, Source: sdk.Source{Object: &sdk.ObjectRef{Schema: d, Name: "slow" + f}}})
		if err == nil {
			for rr.Next() {
			}
			err = rr.Err()
			rr.Release()
		}
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
			t.Fatalf("cancelled read of slow%s: %v after %v", f, err, time.Since(start))
		}
		rr, err = c.Read(context.Background(), sdk.ReadRequest{Conn: conn, Source: sdk.Source{Object: &sdk.ObjectRef{Schema: d, Name: "one" + f}}})
		if err != nil {
			t.Fatal(err)
		}
		if !rr.Next() || rr.RecordBatch().NumRows() != 1 {
			t.Fatalf("read of one%s after a cancelled one: %v", f, rr.Err())
		}
		rr.Release()
	}
}

// Range bounds written into the SQL (integers, decimals, dates and
// timestamps) select what the parameters did: exclusive and inclusive
// ends at exact values, microseconds included.
func TestRangeLiterals(t *testing.T) {
	db, d := database(t)
	execAll(t, db, "CREATE TABLE "+d+".r (id BIGINT NOT NULL PRIMARY KEY, at DATETIME(6), ts TIMESTAMP(6) NULL, day DATE, amt DECIMAL(10,2), u BIGINT UNSIGNED)")
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(i int) time.Time {
		return base.Add(time.Duration(i)*time.Second + time.Duration(i)*time.Microsecond)
	}
	for i := 1; i <= 5; i++ {
		if _, err := db.Exec("INSERT INTO "+d+".r VALUES (?, ?, ?, ?, ?, ?)", i, at(i).Format("2006-01-02 15:04:05.000000"), at(i).Format("2006-01-02 15:04:05.000000"),
			base.AddDate(0, 0, i).Format("2006-01-02"), fmt.Sprintf("%d.50", i), uint64(math.MaxUint64)-uint64(5-i)); err != nil {
			t.Fatal(err)
		}
	}
	c := mysql.New()
	for col, bounds := range map[string][2]sdk.Value{
		"id":  {{Kind: sdk.KindInt64, Int: 2}, {Kind: sdk.KindInt64, Int: 4}},
		"u":   {{Kind: sdk.KindUint64, Uint: math.MaxUint64 - 3}, {Kind: sdk.KindUint64, Uint: math.MaxUint64 - 1}},
		"at":  {{Kind: sdk.KindTimestamp, Time: at(2)}, {Kind: sdk.KindTimestamp, Time: at(4)}},
		"ts":  {{Kind: sdk.KindTimestamp, Time: at(2)}, {Kind: sdk.KindTimestamp, Time: at(4)}},
		"day": {{Kind: sdk.KindDate, Int: base.AddDate(0, 0, 2).Unix() / 86400}, {Kind: sdk.KindDate, Int: base.AddDate(0, 0, 4).Unix() / 86400}},
		"amt": {{Kind: sdk.KindDecimal, Str: "2.50"}, {Kind: sdk.KindDecimal, Str: "4.5"}},
	} {
		rr, err := c.Read(context.Background(), sdk.ReadRequest{Conn: sdk.Connection{DSN: testDSN()}, Source: sdk.Source{Object: &sdk.ObjectRef{Schema: d, Name: "r"}},
			Range: &sdk.RangeFilter{Column: col, Lower: &bounds[0], Upper: &bounds[1], UpperInclusive: true}, OrderBy: []sdk.OrderBy{{Column: "id"}}})
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for rr.Next() {
			c := rr.RecordBatch().Column(0).(*array.Int64)
			for i := 0; i < c.Len(); i++ {
				ids = append(ids, c.Value(i))
			}
		}
		if err := rr.Err(); err != nil {
			t.Fatal(err)
		}
		rr.Release()
		if fmt.Sprint(ids) != "[3 4]" {
			t.Errorf("%s in (%v, %v]: ids %v, want [3 4]", col, &bounds[0], &bounds[1], ids)
		}
	}
}
