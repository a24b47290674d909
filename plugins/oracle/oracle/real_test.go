package oracle

import (
	"context"
	"database/sql"
	"fmt"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/godror/godror"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/conformance"
)

// The real-server suite runs against the Oracle Database named by
// HP_TEST_ORACLE_DSN with the Oracle client libraries installed, e.g.
//
//	HP_TEST_ORACLE_DSN='oracle://hp/hp@//127.0.0.1:1521/FREEPDB1' go test -run TestRealServer -v ./plugins/oracle/...
//
// creating and dropping its own HP_TEST_* tables in the user's schema (see
// NOTES.md for a one-command container). No Oracle server or client can
// run on this project's machines or in CI, so there every test of the
// suite reports itself as skipped, by name: it has never run here.

func realServer(t *testing.T) (sdk.Connection, *sql.DB) {
	t.Helper()
	dsn := os.Getenv("HP_TEST_ORACLE_DSN")
	if dsn == "" {
		t.Skip("HP_TEST_ORACLE_DSN is not set: no Oracle Database to run the real-server suite against")
	}
	conn := sdk.Connection{DSN: dsn}
	db, err := openGodror(conn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return conn, db
}

// realTable creates HP_TEST_<suffix>_<n> and drops it when the test ends.
func realTable(t *testing.T, db *sql.DB, suffix, columns string) sdk.ObjectRef {
	t.Helper()
	name := fmt.Sprintf("HP_TEST_%s_%d", suffix, time.Now().UnixNano()%1e9)
	realExec(t, db, "CREATE TABLE "+name+" ("+columns+")")
	t.Cleanup(func() { _, _ = db.Exec("DROP TABLE " + name + " PURGE") })
	return sdk.ObjectRef{Name: name}
}

func realExec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// Every mapped type with edge values, read through godror.
func TestRealServerTypes(t *testing.T) {
	conn, db := realServer(t)
	ref := realTable(t, db, "TYPES", `ID NUMBER(10) PRIMARY KEY, AMOUNT NUMBER(38,10), BIG NUMBER, NEGS NUMBER(5,-2), F BINARY_FLOAT, D BINARY_DOUBLE,
		DT DATE, TS TIMESTAMP(6), TS9 TIMESTAMP(9), TSTZ TIMESTAMP(6) WITH TIME ZONE, TSLTZ TIMESTAMP(6) WITH LOCAL TIME ZONE,
		YM INTERVAL YEAR(3) TO MONTH, DS INTERVAL DAY(3) TO SECOND(6), NAME VARCHAR2(100 CHAR), NOTE CLOB, RAWV RAW(16), BLOBV BLOB,
		DOC XMLTYPE, C CHAR(3)`)
	realExec(t, db, `INSERT INTO `+ref.Name+` VALUES (1, -1234567890123456789012345678.0123456789, 1.5E+125, -9999900, BINARY_FLOAT_NAN, -BINARY_DOUBLE_INFINITY,
		TO_DATE('2024-02-29 23:59:59', 'YYYY-MM-DD HH24:MI:SS'), TIMESTAMP '0001-01-01 00:00:00', TIMESTAMP '2262-04-11 23:47:16.854775807',
		TIMESTAMP '2024-06-01 12:00:00.123456 -03:30', TIMESTAMP '2024-06-01 12:00:00 +02:00',
		INTERVAL '-1-2' YEAR TO MONTH, INTERVAL '3 04:05:06.000007' DAY TO SECOND, 'héllo', TO_CLOB(RPAD('x', 30000, 'x')) || TO_CLOB(RPAD('y', 30000, 'y')),
		HEXTORAW('000102'), TO_BLOB(HEXTORAW('00FF07')), XMLTYPE('<a>1</a>'), 'ab')`)
	realExec(t, db, `INSERT INTO `+ref.Name+` (ID, F, D, TS) VALUES (2, BINARY_FLOAT_INFINITY, BINARY_DOUBLE_NAN, TIMESTAMP '9999-12-31 23:59:59.999999')`)
	_, rows, err := readAll(t, New(), sdk.ReadRequest{Conn: conn, Source: sdk.Source{Object: &ref}, OrderBy: []sdk.OrderBy{{Column: "ID"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"1", "-1234567890123456789012345678.0123456789", "(big)", "-9999900", "NaN", "-Inf",
			"2024-02-29T23:59:59", "0001-01-01T00:00:00", "2262-04-11T23:47:16.854775807",
			"2024-06-01 12:00:00.123456 -0330 UTC-03:30", "2024-06-01T10:00:00Z",
			`{"months":-14,"days":0,"nanoseconds":0}`, `{"months":0,"days":3,"nanoseconds":14706000007000}`,
			"héllo", "(60 kB)", "[0 1 2]", "[0 255 7]", "<a>1</a>", "ab "},
		{"2", "(null)", "(null)", "(null)", "+Inf", "NaN", "(null)", "9999-12-31T23:59:59.999999", "(null)", "(null)", "(null)",
			"(null)", "(null)", "(null)", "(null)", "(null)", "(null)", "(null)", "(null)"},
	}
	if len(rows) != 2 {
		t.Fatalf("%d rows", len(rows))
	}
	// NUMBER without precision is exact text; its form is Oracle's.
	want15, _ := new(big.Rat).SetString("1.5e125")
	if v, ok := new(big.Rat).SetString(rows[0][2]); !ok || v.Cmp(want15) != 0 {
		t.Errorf("BIG = %s, want 1.5E+125 exactly", rows[0][2])
	}
	rows[0][2] = "(big)"
	for r := range want {
		if got := strings.Join(rows[r], "|"); got != strings.Join(want[r], "|") {
			t.Errorf("row %d\n got %s\nwant %s", r+1, got, strings.Join(want[r], "|"))
		}
	}
}

// Delta drivers: bounds and the next range read of DATE, TIMESTAMP and
// NUMBER columns, compared as their own types.
func TestRealServerDelta(t *testing.T) {
	conn, db := realServer(t)
	ref := realTable(t, db, "DELTA", "ID NUMBER(10) PRIMARY KEY, DT DATE, TS TIMESTAMP(6), N NUMBER")
	for i := 1; i <= 10; i++ {
		realExec(t, db, "INSERT INTO "+ref.Name+" VALUES (:1, DATE '2024-01-01' + :2, TIMESTAMP '2024-01-01 00:00:00.000001' + NUMTODSINTERVAL(:3, 'SECOND'), :4 / 8)", i, i, i, i)
	}
	c := New()
	for _, col := range []string{"dt", "ts", "n", "id"} {
		b, err := c.Bounds(context.Background(), sdk.BoundsRequest{Conn: conn, Source: sdk.Source{Object: &ref}, Column: col})
		if err != nil || b.Count != 10 || b.Min == nil {
			t.Fatalf("%s: %+v %v", col, b, err)
		}
		// Rows above the fifth smallest: five.
		mid, err := c.Bounds(context.Background(), sdk.BoundsRequest{Conn: conn, Source: sdk.Source{Object: &ref}, Column: col, Where: "ID <= 5"})
		if err != nil {
			t.Fatal(err)
		}
		_, rows, err := readAll(t, c, sdk.ReadRequest{Conn: conn, Source: sdk.Source{Object: &ref}, Columns: []string{"ID"},
			Range: &sdk.RangeFilter{Column: col, Lower: mid.Max, Upper: b.Max, UpperInclusive: true}})
		if err != nil || len(rows) != 5 {
			t.Errorf("%s above %s: %d rows, %v", col, mid.Max, len(rows), err)
		}
	}
}

// Append, replace and merge round trips, and a broken stream that changes
// nothing.
func TestRealServerWrites(t *testing.T) {
	conn, db := realServer(t)
	name := fmt.Sprintf("HP_TEST_W_%d", time.Now().UnixNano()%1e9)
	t.Cleanup(func() { _, _ = db.Exec(`DROP TABLE "` + name + `" PURGE`) })
	c := New()
	ref := sdk.ObjectRef{Name: name}
	write := func(mode sdk.WriteMode, rows [][]any, broken bool) error {
		_, err := c.Write(context.Background(), sdk.WriteRequest{Conn: conn, Table: ref, Mode: mode, Keys: []string{"id"}, CreateTable: true}, reader(t, rows, broken))
		return err
	}
	count := func() int {
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM "` + name + `"`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if err := write(sdk.Merge, [][]any{{int64(1), day, "1.00", "a"}, {int64(2), nil, nil, "b"}, {int64(1), day, "2.00", "c"}}, false); err != nil {
		t.Fatal(err)
	}
	var note string
	if err := db.QueryRow(`SELECT "note" FROM "` + name + `" WHERE "id" = 1`).Scan(&note); err != nil || note != "c" || count() != 2 {
		t.Fatalf("merge: note %q, %d rows, %v", note, count(), err)
	}
	if err := write(sdk.Append, [][]any{{int64(3), day, "3.00", "d"}}, false); err != nil || count() != 3 {
		t.Fatalf("append: %d rows, %v", count(), err)
	}
	for _, mode := range []sdk.WriteMode{sdk.Append, sdk.Replace, sdk.Merge} {
		if err := write(mode, [][]any{{int64(9), day, "9.00", "z"}}, true); err == nil || count() != 3 {
			t.Fatalf("broken %s stream: %d rows, %v", mode, count(), err)
		}
	}
	if err := write(sdk.Replace, [][]any{{int64(7), day, "7.00", "r"}}, false); err != nil || count() != 1 {
		t.Fatalf("replace: %d rows, %v", count(), err)
	}
}

// The SDK's target suite against the server; ints come back as NUMBER,
// and ” as NULL.
func TestRealServerConformance(t *testing.T) {
	conn, db := realServer(t)
	c := New()
	conformance.RunTargetSuite(t, c, conformance.TargetFixture{
		Conn:              conn,
		EmptyStringIsNull: true,
		NewTable: func(t *testing.T) sdk.ObjectRef {
			name := fmt.Sprintf("HP_TEST_C_%d", time.Now().UnixNano()%1e9)
			t.Cleanup(func() { _, _ = db.Exec(`DROP TABLE "` + name + `" PURGE`) })
			return sdk.ObjectRef{Name: name}
		},
		ReadBack: func(t *testing.T, ref sdk.ObjectRef) arrow.RecordBatch {
			rows, err := db.Query(`SELECT "id", "name", "score" FROM "` + ref.Name + `" ORDER BY "id"`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			b := array.NewRecordBuilder(memory.DefaultAllocator, conformance.TargetSchema)
			defer b.Release()
			for rows.Next() {
				var id int64
				var name sql.NullString
				var score sql.NullFloat64
				if err := rows.Scan(&id, &name, &score); err != nil {
					t.Fatal(err)
				}
				b.Field(0).(*array.Int64Builder).Append(id)
				if name.Valid {
					b.Field(1).(*array.StringBuilder).Append(name.String)
				} else {
					b.Field(1).AppendNull()
				}
				if score.Valid {
					b.Field(2).(*array.Float64Builder).Append(score.Float64)
				} else {
					b.Field(2).AppendNull()
				}
			}
			return b.NewRecordBatch()
		},
	})
}

// The SDK's source suite against the server, on the tables the fake's run
// (TestConformanceSourceOnFake) serves from SQLite.
func TestRealServerSourceConformance(t *testing.T) {
	conn, db := realServer(t)
	cols := `ID NUMBER(10) PRIMARY KEY, V NUMBER(10), NAME VARCHAR2(100 CHAR)`
	table := realTable(t, db, "SRC", cols)
	expected, rows := sourceRows()
	defer expected.Release()
	for _, r := range rows {
		realExec(t, db, `INSERT INTO `+table.Name+` VALUES (:1, :2, :3)`, r...)
	}
	empty := realTable(t, db, "SRCE", cols)
	large := realTable(t, db, "SRCL", cols)
	realExec(t, db, `INSERT INTO `+large.Name+` SELECT LEVEL, MOD(LEVEL, 97), 'large ' || LEVEL FROM DUAL CONNECT BY LEVEL <= 120000`)
	big := realTable(t, db, "SRCB", `ID NUMBER(10) PRIMARY KEY, DOC CLOB`)
	realExec(t, db, `INSERT INTO `+big.Name+` VALUES (1, :1)`, godror.Lob{IsClob: true, Reader: strings.NewReader(largeValue)})
	realExec(t, db, `INSERT INTO `+big.Name+` VALUES (2, 'small')`)
	conformance.RunSourceSuite(t, New(), conformance.SourceFixture{
		Conn: conn, Table: table, Expected: expected, KeyColumn: "ID", OrderColumn: "V",
		Empty: empty, Large: large, LargeValues: big,
	})
}
