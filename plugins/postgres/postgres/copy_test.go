package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/testkit"
)

func dsn() string {
	if d := os.Getenv("HP_TEST_POSTGRES_DSN"); d != "" {
		return d
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

func TestCopyCoversCommonTypes(t *testing.T) {
	for _, native := range []string{"smallint", "integer", "bigint", "real", "double precision", "numeric(38,10)", "numeric",
		"text", "character varying(20)", "character(3)", "bytea", "boolean", "date", "timestamp without time zone",
		"timestamp with time zone", "timestamp(3) with time zone", "time without time zone", "time(3) without time zone", "uuid", "json", "jsonb", "interval", "interval year to month", "inet", "cidr",
		"macaddr", "macaddr8", "integer[]", "text[]", "numeric(10,2)[]", "timestamp with time zone[]", "uuid[]", "interval[]"} {
		if binaryDecoder(native) == nil {
			t.Errorf("%s has no binary decoder: reads of it fall back to the slow path", native)
		}
	}
	// Read as PostgreSQL's text form, cast to text in the COPY.
	for _, native := range []string{"integer[][]", "time with time zone", "money", "mood[]"} {
		if binaryDecoder(native) != nil {
			t.Errorf("%s has a binary decoder", native)
		}
	}
}

// TestCopyNumericsAgreeWithServerText reads numerics through COPY BINARY and
// compares them with the server's own text rendering.
func TestCopyNumericsAgreeWithServerText(t *testing.T) {
	db, err := sql.Open("pgx", dsn())
	if err == nil {
		err = db.Ping()
	}
	if err != nil {
		testkit.NeedService(t, "PostgreSQL", err)
	}
	defer db.Close()
	table := fmt.Sprintf("hp_numeric_%d", time.Now().UnixNano())
	values := []string{"0", "0.0001", "-0.5", "1e-20", "100000000", "-123456789012345678901234567890.5", "9999999999999999.99", "12345.678901234567890123"}
	if _, err := db.Exec("CREATE TABLE " + table + " (id int PRIMARY KEY, n numeric, s numeric(38,8))"); err != nil {
		t.Fatal(err)
	}
	defer db.Exec("DROP TABLE " + table)
	for i, v := range values {
		if _, err := db.Exec("INSERT INTO "+table+" VALUES ($1, $2::numeric, round($2::numeric, 8))", i, v); err != nil {
			t.Fatal(err)
		}
	}
	c := New()
	rr, err := c.Read(context.Background(), sdk.ReadRequest{Conn: sdk.Connection{DSN: dsn()}, Source: sdk.Source{Object: &sdk.ObjectRef{Name: table}}, OrderBy: []sdk.OrderBy{{Column: "id"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	if !rr.Next() {
		t.Fatal(rr.Err())
	}
	rec := rr.RecordBatch()
	n, s := rec.Column(1).(*array.String), rec.Column(2).(*array.Decimal128)
	for i := range values {
		var wantN, wantS string
		if err := db.QueryRow("SELECT n::text, s::text FROM "+table+" WHERE id = $1", i).Scan(&wantN, &wantS); err != nil {
			t.Fatal(err)
		}
		if n.Value(i) != wantN {
			t.Errorf("numeric %s: got %s, server says %s", values[i], n.Value(i), wantN)
		}
		if got := s.Value(i).ToString(8); got != wantS {
			t.Errorf("numeric(38,8) %s: got %s, server says %s", values[i], got, wantS)
		}
	}
}
