package odbcdriver_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/plugins/odbc/odbc/odbcdriver"
	"github.com/halfpipe-io/halfpipe/testkit"
)

const pgConnStr = "Driver={PostgreSQL Unicode};Server=127.0.0.1;Port=5432;Database=test;UID=postgres;BoolsAsChar=0;"

func connect(t *testing.T, cs string) *odbcdriver.Conn {
	t.Helper()
	c, err := (&odbcdriver.Connector{ConnStr: cs}).Connect(context.Background())
	if err != nil {
		testkit.NeedService(t, "PostgreSQL through ODBC", err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*odbcdriver.Conn)
}

// TestBlockFetch reads 10,000 rows and checks that they came in rowsets
// of many rows, not one SQLFetch per row, with every value in place.
func TestBlockFetch(t *testing.T) {
	c := connect(t, pgConnStr)
	rows, err := c.QueryContext(context.Background(), "SELECT n, n::numeric(20,2) / 4, CAST('r' || n AS varchar(20)), n % 3 = 0 FROM generate_series(1, 10000) n", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	r := rows.(*odbcdriver.Rows)
	if r.RowsetSize() < 100 {
		t.Fatalf("rowset of %d rows, want a block", r.RowsetSize())
	}
	dest := make([]driver.Value, 4)
	n := int64(0)
	for {
		if err := rows.Next(dest); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		n++
		if dest[0] != n || dest[2] != "r"+itoa(n) || dest[3] != (n%3 == 0) {
			t.Fatalf("row %d: %v", n, dest)
		}
	}
	if want := (10000+r.RowsetSize()-1)/r.RowsetSize() + 1; n != 10000 || r.Fetches() != want {
		t.Fatalf("%d rows in %d fetches, want 10000 in %d", n, r.Fetches(), want)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestParametersRoundTrip binds every parameter type and reads it back.
func TestParametersRoundTrip(t *testing.T) {
	c := connect(t, pgConnStr+"ConnSettings={SET TIME ZONE 'UTC'};")
	at := time.Date(2024, 2, 29, 23, 59, 59, 123456000, time.UTC)
	args := []driver.NamedValue{
		{Ordinal: 1, Value: "a😀b𝄞"}, {Ordinal: 2, Value: odbcdriver.Decimal("-1234567890123456789012345678.9012345678")},
		{Ordinal: 3, Value: at}, {Ordinal: 4, Value: odbcdriver.Date(19782)}, {Ordinal: 5, Value: []byte{0, 0xff}},
		{Ordinal: 6, Value: uint64(18446744073709551615)}, {Ordinal: 7, Value: nil}, {Ordinal: 8, Value: strings.Repeat("x", 100000)},
	}
	rows, err := c.QueryContext(context.Background(), "SELECT CAST(? AS text), CAST(? AS numeric(38,10)), CAST(? AS timestamp), CAST(? AS date), CAST(? AS bytea), CAST(? AS numeric(20,0)), CAST(? AS integer), length(CAST(? AS text))", args)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	dest := make([]driver.Value, 8)
	if err := rows.Next(dest); err != nil {
		t.Fatal(err)
	}
	got := []string{dest[0].(string), string(dest[1].([]byte)), dest[2].(time.Time).Format(time.RFC3339Nano), dest[3].(time.Time).Format(time.DateOnly),
		string(dest[4].([]byte)), string(dest[5].([]byte))}
	want := []string{"a😀b𝄞", "-1234567890123456789012345678.9012345678", "2024-02-29T23:59:59.123456Z", "2024-02-29", "\x00\xff", "18446744073709551615"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("parameter %d: got %q, want %q", i+1, got[i], want[i])
		}
	}
	if dest[6] != nil || dest[7] != int64(100000) {
		t.Errorf("NULL and long parameters: %v %v", dest[6], dest[7])
	}
}

// TestDiagnostics turns a server error into an *Error with its SQLSTATE.
func TestDiagnostics(t *testing.T) {
	c := connect(t, pgConnStr)
	_, err := c.QueryContext(context.Background(), "SELECT * FROM odbc_no_such_table", nil)
	var e *odbcdriver.Error
	if !errors.As(err, &e) || e.SQLState() != "42P01" || !strings.Contains(e.Error(), "odbc_no_such_table") {
		t.Fatalf("got %v", err)
	}
	if !c.IsValid() {
		t.Fatal("a statement error marked the connection bad")
	}
}

// TestDriverNames lists odbcinst.ini.
func TestDriverNames(t *testing.T) {
	names, err := odbcdriver.DriverNames()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"PostgreSQL Unicode", "MariaDB Unicode", "FreeTDS"} {
		if !strings.Contains(strings.Join(names, "|"), want) {
			t.Errorf("drivers %v lack %q (scripts/debs.sh installs it)", names, want)
		}
	}
}
