package odbcdriver

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// TestWithoutBlockCursors plays drivers without block cursors: one that
// refuses SQL_ATTR_ROW_ARRAY_SIZE (one row per SQLFetch) and one that
// keeps a smaller size than asked (SQLSTATE 01S02). Through the actual
// PostgreSQL and MariaDB drivers, every row still arrives in order with
// its values, in the number of fetches the kept size allows.
func TestWithoutBlockCursors(t *testing.T) {
	const rows = 3000
	servers := []struct{ name, connStr, query string }{
		{"PostgreSQL", "Driver={PostgreSQL Unicode};Server=127.0.0.1;Port=5432;Database=test;UID=postgres;BoolsAsChar=0;",
			"SELECT n, CAST('r' || n AS varchar(20)), CASE WHEN n %% 7 = 0 THEN NULL ELSE CAST(n / 4.0 AS numeric(20,2)) END FROM generate_series(1, %d) n ORDER BY n"},
		{"MariaDB", "Driver={MariaDB Unicode};Server=127.0.0.1;Port=3306;Database=test;UID=root;PWD=;",
			"SELECT seq, CAST(CONCAT('r', seq) AS CHAR(20)), CASE WHEN seq %% 7 = 0 THEN NULL ELSE CAST(seq / 4.0 AS DECIMAL(20,2)) END FROM seq_1_to_%d ORDER BY seq"},
	}
	actual := setRowArraySize
	t.Cleanup(func() { setRowArraySize = actual })
	drivers := []struct {
		name string
		set  func(s *statement, n int) bool
		kept int
	}{
		{"refused", func(*statement, int) bool { return false }, 1},
		{"smaller", func(s *statement, _ int) bool { return actual(s, 7) }, 7},
	}
	for _, srv := range servers {
		c, err := (&Connector{ConnStr: srv.connStr}).Connect(context.Background())
		if err != nil {
			testkit.NeedService(t, srv.name+" through ODBC", err)
			continue
		}
		conn := c.(*Conn)
		for _, d := range drivers {
			t.Run(srv.name+"/"+d.name, func(t *testing.T) {
				setRowArraySize = d.set
				defer func() { setRowArraySize = actual }()
				res, err := conn.QueryContext(context.Background(), fmt.Sprintf(srv.query, rows), nil)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Close()
				r := res.(*Rows)
				if r.RowsetSize() != d.kept {
					t.Fatalf("rowset of %d rows, want the %d the driver kept", r.RowsetSize(), d.kept)
				}
				dest := make([]driver.Value, 3)
				n := int64(0)
				for {
					if err := res.Next(dest); err == io.EOF {
						break
					} else if err != nil {
						t.Fatal(err)
					}
					n++
					var amount any
					if n%7 != 0 {
						amount = fmt.Sprintf("%d.%02d", n/4, n%4*25)
					}
					got := []any{dest[0], dest[1], dest[2]}
					if b, ok := dest[2].([]byte); ok {
						got[2] = string(b)
					}
					if want := []any{n, fmt.Sprint("r", n), amount}; fmt.Sprint(got) != fmt.Sprint(want) {
						t.Fatalf("row %d: %v, want %v", n, got, want)
					}
				}
				if want := (rows+d.kept-1)/d.kept + 1; n != rows || r.Fetches() != want {
					t.Fatalf("%d rows in %d fetches, want %d in %d", n, r.Fetches(), rows, want)
				}
			})
		}
		conn.Close()
	}
}

// TestLongColumnsRowByRow reads a result whose long columns (text, blob)
// sit before and after short ones, and checks every value. Through
// psqlodbc (SQL_GD_BLOCK, _BOUND, _ANY_ORDER, _ANY_COLUMN) every column is
// bound and rows come in rowsets; MariaDB's driver, which claims
// SQL_GD_BLOCK yet reads the rowset's first row after SQLSetPos, reads
// every column from the first long one with SQLGetData, one row per fetch.
func TestLongColumnsRowByRow(t *testing.T) {
	const rows = 5000
	servers := []struct {
		name, connStr, query string
	}{
		{"PostgreSQL", "Driver={PostgreSQL Unicode};Server=127.0.0.1;Port=5432;Database=test;UID=postgres;BoolsAsChar=0;",
			"SELECT repeat('é' || n, n %% 50)::text, n, CASE WHEN n %% 7 = 0 THEN NULL ELSE decode(repeat('ff00', n %% 900), 'hex') END, CAST('r' || n AS varchar(20)) FROM generate_series(1, %d) n ORDER BY n"},
		{"MariaDB", "Driver={MariaDB Unicode};Server=127.0.0.1;Port=3306;Database=test;UID=root;PWD=;",
			"SELECT CAST(REPEAT(CONCAT('é', seq), seq %% 50) AS CHAR(10000)), seq, CASE WHEN seq %% 7 = 0 THEN NULL ELSE REPEAT(UNHEX('ff00'), seq %% 900) END, CAST(CONCAT('r', seq) AS CHAR(20)) FROM seq_1_to_%d ORDER BY seq"},
	}
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			c, err := (&Connector{ConnStr: srv.connStr}).Connect(context.Background())
			if err != nil {
				testkit.NeedService(t, srv.name+" through ODBC", err)
				return
			}
			defer c.Close()
			res, err := c.(*Conn).QueryContext(context.Background(), fmt.Sprintf(srv.query, rows), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Close()
			r := res.(*Rows)
			if srv.name == "MariaDB" && (r.bound != 0 || r.RowsetSize() != 1) {
				t.Fatalf("%d columns bound, rowsets of %d rows; want none bound, one row a fetch", r.bound, r.RowsetSize())
			}
			if srv.name == "PostgreSQL" && (r.bound != 4 || r.RowsetSize() < 50) {
				t.Fatalf("%d columns bound, rowsets of %d rows; want all bound, rowsets of many rows", r.bound, r.RowsetSize())
			}
			dest := make([]driver.Value, 4)
			n := int64(0)
			for {
				if err := res.Next(dest); err == io.EOF {
					break
				} else if err != nil {
					t.Fatal(err)
				}
				n++
				var blob any = strings.Repeat("\xff\x00", int(n%900))
				if n%7 == 0 {
					blob = nil
				} else {
					dest[2] = string(dest[2].([]byte))
				}
				if want := []any{strings.Repeat(fmt.Sprint("é", n), int(n%50)), n, blob, fmt.Sprint("r", n)}; fmt.Sprintf("%q", dest) != fmt.Sprintf("%q", want) {
					t.Fatalf("row %d: %.80q, want %.80q", n, dest, want)
				}
			}
			if want := (rows+r.RowsetSize()-1)/r.RowsetSize() + 1; n != rows || r.Fetches() != want {
				t.Fatalf("%d rows in %d fetches, want %d in %d", n, r.Fetches(), rows, want)
			}
		})
	}
}

// TestLongValuesAroundTheBound reads long text and binary values shorter
// than, as long as and longer than a bound long column's buffer
// (longBoundBytes), and of several MiB, between short ones, through
// both drivers: the longer ones are read whole with SQLGetData (after
// SQLSetPos within the rowset where the driver binds them).
func TestLongValuesAroundTheBound(t *testing.T) {
	units := []int{10, longBoundBytes/2 - 1, longBoundBytes / 2, longBoundBytes/2 + 1, 0, 3 << 20, 7}
	bytes := []int{3, longBoundBytes - 1, longBoundBytes, longBoundBytes + 1, 0, 5 << 20, 1}
	const rows = 70
	servers := []struct {
		name, connStr, query string
	}{
		{"PostgreSQL", "Driver={PostgreSQL Unicode};Server=127.0.0.1;Port=5432;Database=test;UID=postgres;BoolsAsChar=0;",
			"SELECT n, repeat(chr(97 + n %% 26), (ARRAY%s)[n %% 7 + 1])::text, decode(repeat(lpad(to_hex(n), 2, '0'), (ARRAY%s)[n %% 7 + 1]), 'hex'), 'r' || n FROM generate_series(1, %d) n ORDER BY n"},
		{"MariaDB", "Driver={MariaDB Unicode};Server=127.0.0.1;Port=3306;Database=test;UID=root;PWD=;",
			"SELECT seq, CAST(REPEAT(CHAR(97 + seq %% 26), ELT(seq %% 7 + 1, %s)) AS CHAR(10000000)), REPEAT(CHAR(seq), ELT(seq %% 7 + 1, %s)), CONCAT('r', seq) FROM seq_1_to_%d ORDER BY seq"},
	}
	list := func(ns []int) string {
		var b strings.Builder
		for i, n := range ns {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprint(&b, n)
		}
		return b.String()
	}
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			c, err := (&Connector{ConnStr: srv.connStr}).Connect(context.Background())
			if err != nil {
				testkit.NeedService(t, srv.name+" through ODBC", err)
				return
			}
			defer c.Close()
			u, b := list(units), list(bytes)
			if srv.name == "PostgreSQL" {
				u, b = "["+u+"]", "["+b+"]"
			}
			res, err := c.(*Conn).QueryContext(context.Background(), fmt.Sprintf(srv.query, u, b, rows), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Close()
			if r := res.(*Rows); srv.name == "PostgreSQL" && (r.bound != 4 || r.RowsetSize() < 2) {
				t.Fatalf("%d columns bound, rowsets of %d rows; want all bound, in rowsets", r.bound, r.RowsetSize())
			}
			dest := make([]driver.Value, 4)
			for n := int64(1); n <= rows; n++ {
				if err := res.Next(dest); err != nil {
					t.Fatalf("row %d: %v", n, err)
				}
				text := strings.Repeat(string(rune('a'+n%26)), units[n%7])
				blob := strings.Repeat(string([]byte{byte(n)}), bytes[n%7])
				got, _ := dest[2].([]byte)
				if fmt.Sprint(dest[0]) != fmt.Sprint(n) || dest[1] != text || string(got) != blob || dest[3] != fmt.Sprint("r", n) {
					t.Fatalf("row %d: text of %d, binary of %d bytes, %v; want %d and %d", n, len(fmt.Sprint(dest[1])), len(got), dest[3], len(text), len(blob))
				}
			}
			if err := res.Next(dest); err != io.EOF {
				t.Fatalf("after the last row: %v", err)
			}
		})
	}
}
