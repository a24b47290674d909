package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	_ "modernc.org/sqlite"

	"github.com/halfpipe-io/halfpipe/plugins/sqlite/sqlite"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/conformance"
	"github.com/halfpipe-io/halfpipe/sdk/plugintest"
)

const ddl = `CREATE TABLE t (
	id INTEGER NOT NULL PRIMARY KEY,
	name TEXT,
	amount DECIMAL TEXT(38,10),
	ratio REAL,
	created TIMESTAMP,
	day DATE,
	active BOOLEAN,
	payload BLOB
)`

var schema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "amount", Type: &arrow.Decimal128Type{Precision: 38, Scale: 10}, Nullable: true},
	{Name: "ratio", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "created", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	{Name: "active", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "payload", Type: arrow.BinaryTypes.Binary, Nullable: true},
}, nil)

var names = []string{"plain", "", "comma, inside", `quote " inside`, "new\nline", "unicode é 漢字 🚀", "NULL"}

// seed creates the test database and returns the record a read must give.
func seed(t *testing.T, rows int) (string, arrow.RecordBatch) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range []string{ddl, strings.Replace(ddl, "CREATE TABLE t", "CREATE TABLE empty", 1), "CREATE TABLE big (id INTEGER NOT NULL PRIMARY KEY, v TEXT)"} {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	tx, _ := db.Begin()
	for i := 1; i <= rows; i++ {
		id := int64(i * 3)
		b.Field(0).(*array.Int64Builder).Append(id)
		if i%5 == 0 {
			for c := 1; c < 8; c++ {
				b.Field(c).AppendNull()
			}
			if _, err := tx.Exec("INSERT INTO t (id) VALUES (?)", id); err != nil {
				t.Fatal(err)
			}
			continue
		}
		name := names[i%len(names)]
		unscaled, _ := new(big.Int).SetString(strings.Repeat(fmt.Sprint(i%9+1), 38), 10)
		if i%2 == 0 {
			unscaled.Neg(unscaled)
		}
		amountText := decimal128.FromBigInt(unscaled).ToString(10)
		if i%3 == 0 {
			unscaled = big.NewInt(int64(i) * 123400) // 12.34-style values stored as REAL by SQLite
			amountText = fmt.Sprintf("%d.%04d", i*1234/100, i*1234%100*100)
			unscaled, _ = new(big.Int).SetString(strings.Replace(amountText, ".", "", 1)+"000000", 10)
		}
		ratio := float64(i%11) / 7 // in neither order by id, for OrderColumn
		created := time.Date(2024, 3, 31, 1, 0, 0, 0, time.UTC).Add(time.Duration(i) * 1234567 * time.Microsecond)
		day := time.Date(1950+i%100, 12, 31, 0, 0, 0, 0, time.UTC)
		payload := []byte{0, byte(i), 0, 255}
		b.Field(1).(*array.StringBuilder).Append(name)
		b.Field(2).(*array.Decimal128Builder).Append(decimal128.FromBigInt(unscaled))
		b.Field(3).(*array.Float64Builder).Append(ratio)
		b.Field(4).(*array.TimestampBuilder).Append(arrow.Timestamp(created.UnixMicro()))
		b.Field(5).(*array.Date32Builder).Append(arrow.Date32FromTime(day))
		b.Field(6).(*array.BooleanBuilder).Append(i%2 == 0)
		b.Field(7).(*array.BinaryBuilder).Append(payload)
		_, err := tx.Exec("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?)", id, name, amountText, ratio,
			created.Format("2006-01-02 15:04:05.000000"), day.Format("2006-01-02"), i%2 == 0, payload)
		if err != nil {
			t.Fatal(err)
		}
	}
	stmt, _ := tx.Prepare("INSERT INTO big VALUES (?, ?)")
	for i := 0; i < 120000; i++ {
		if _, err := stmt.Exec(i, "row"); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return "sqlite://" + path, b.NewRecordBatch()
}

func TestConformance(t *testing.T) {
	dsn, expected := seed(t, 60)
	defer expected.Release()
	remote := plugintest.Serve(t, sqlite.New())
	conformance.RunSourceSuite(t, remote, conformance.SourceFixture{
		Conn: sdk.Connection{DSN: dsn}, Table: sdk.ObjectRef{Name: "t"}, Expected: expected, KeyColumn: "id",
		// Not amount: a DECIMAL TEXT column orders and bounds as text.
		OrderColumn: "ratio",
		Empty:       sdk.ObjectRef{Name: "empty"}, Large: sdk.ObjectRef{Name: "big"},
	})
	n := 0
	conformance.RunTargetSuite(t, sqlite.New(), conformance.TargetFixture{Conn: sdk.Connection{DSN: dsn}, NewTable: func(t *testing.T) sdk.ObjectRef {
		n++
		return sdk.ObjectRef{Name: fmt.Sprintf("target %d", n)}
	}})
}

func TestNamesAreNeverSQL(t *testing.T) {
	dsn, expected := seed(t, 3)
	defer expected.Release()
	c := sqlite.New()
	for _, name := range []string{`x"; DROP TABLE t; --`, "t; DROP TABLE t", `t" --`} {
		_, err := c.Read(context.Background(), sdk.ReadRequest{Conn: sdk.Connection{DSN: dsn}, Source: sdk.Source{Object: &sdk.ObjectRef{Name: name}}})
		if !errors.Is(err, sdk.ErrNotFound) {
			t.Errorf("table %q: %v, want not found", name, err)
		}
	}
	rr, err := c.Read(context.Background(), sdk.ReadRequest{Conn: sdk.Connection{DSN: dsn}, Source: sdk.Source{Object: &sdk.ObjectRef{Name: "t"}}})
	if err != nil {
		t.Fatalf("table t was harmed: %v", err)
	}
	rr.Release()
}

func TestQueryAndErrors(t *testing.T) {
	dsn, expected := seed(t, 10)
	defer expected.Release()
	c := sqlite.New()
	rr, err := c.Read(context.Background(), sdk.ReadRequest{Conn: sdk.Connection{DSN: dsn}, Source: sdk.Source{Query: "SELECT id, amount FROM t WHERE id > 6 ORDER BY id"}})
	if err != nil {
		t.Fatal(err)
	}
	if !arrow.TypeEqual(rr.Schema().Field(1).Type, &arrow.Decimal128Type{Precision: 38, Scale: 10}) {
		t.Errorf("query column type %s, want the declared decimal", rr.Schema().Field(1).Type)
	}
	n := int64(0)
	for rr.Next() {
		n += rr.RecordBatch().NumRows()
	}
	if rr.Err() != nil {
		t.Fatal(rr.Err())
	}
	rr.Release()
	if n != 8 {
		t.Errorf("query returned %d rows, want 8", n)
	}
	_, err = c.Read(context.Background(), sdk.ReadRequest{Conn: sdk.Connection{DSN: dsn}, Source: sdk.Source{Query: "SELEC nonsense"}})
	if !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Errorf("bad SQL: %v", err)
	}
	_, err = c.Check(context.Background(), sdk.Connection{DSN: "sqlite:///no/such/file.db"})
	if !errors.Is(err, sdk.ErrNotFound) || !strings.Contains(err.Error(), "/no/such/file.db") {
		t.Errorf("missing file: %v", err)
	}
	_, err = c.Read(context.Background(), sdk.ReadRequest{Conn: sdk.Connection{DSN: dsn}, Source: sdk.Source{Object: &sdk.ObjectRef{Name: "t"}}, Columns: []string{"nope"}})
	if !errors.Is(err, sdk.ErrNotFound) || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown column: %v", err)
	}
}

// SQLite compares DECIMAL TEXT as text ("10" < "9"): a delta or an
// ordering on such a column would skip or misplace rows, so it is refused.
func TestDecimalTextNeverBoundsOrOrders(t *testing.T) {
	dsn, expected := seed(t, 3)
	defer expected.Release()
	c := sqlite.New()
	conn := sdk.Connection{DSN: dsn}
	src := sdk.Source{Object: &sdk.ObjectRef{Name: "t"}}
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, sdk.ErrInvalidArgument) || !strings.Contains(err.Error(), `"amount"`) || !strings.Contains(err.Error(), "as text") {
			t.Errorf("%s on DECIMAL TEXT: %v, want a refusal naming the column and why", what, err)
		}
	}
	_, err := c.Bounds(context.Background(), sdk.BoundsRequest{Conn: conn, Source: src, Column: "amount"})
	check("bounds", err)
	_, err = c.Read(context.Background(), sdk.ReadRequest{Conn: conn, Source: src, Range: &sdk.RangeFilter{Column: "amount", Lower: sdk.DecimalValue("9")}})
	check("range", err)
	_, err = c.Read(context.Background(), sdk.ReadRequest{Conn: conn, Source: src, OrderBy: []sdk.OrderBy{{Column: "amount"}}})
	check("order", err)
	if _, err := c.Bounds(context.Background(), sdk.BoundsRequest{Conn: conn, Source: src, Column: "ratio"}); err != nil {
		t.Errorf("bounds of a REAL column: %v", err)
	}
}
