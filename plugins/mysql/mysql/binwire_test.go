package mysql

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
	"github.com/halfpipe-io/halfpipe/testkit"
)

// Reads with floats are prepared on the socket: their values come back as
// the protocol's bytes, and each statement is closed after its rows, so
// that a pooled connection does not collect them.
func TestBinaryWireClosesStatements(t *testing.T) {
	dsn := serverDSN()
	db, err := open(sdk.Connection{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		testkit.NeedService(t, "MariaDB", err)
	}
	defer conn.Close()
	status := func() (prepared, closed int) {
		rows, err := conn.QueryContext(ctx, "SHOW SESSION STATUS WHERE Variable_name IN ('Com_stmt_prepare', 'Com_stmt_close')")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var name string
			var n int
			if err := rows.Scan(&name, &n); err != nil {
				t.Fatal(err)
			}
			if name == "Com_stmt_prepare" {
				prepared = n
			} else {
				closed = n
			}
		}
		return prepared, closed
	}
	p0, c0 := status()
	cols := []sqlsource.ColumnMeta{{Name: "f", NativeType: "double"}, {Name: "n", NativeType: "bigint"}}
	for i := 0; i < 3; i++ {
		err := conn.Raw(func(dc any) error {
			rows, err := query(ctx, dc, "SELECT 1.5e0 AS f, CAST(-2 AS SIGNED) AS n", nil, cols)
			if err != nil {
				return err
			}
			defer rows.Close()
			if _, ok := rows.(sqlsource.BinaryRows); !ok {
				t.Fatalf("rows %T are not binary rows read off the socket", rows)
			}
			raw := make([][]byte, 2)
			if err := rows.(sqlsource.RawRows).NextRaw(raw); err != nil {
				return err
			}
			if len(raw[0]) != 8 || math.Float64frombits(binary.LittleEndian.Uint64(raw[0])) != 1.5 {
				t.Errorf("double 1.5 as %x", raw[0])
			}
			var n int64 // sign-extended from the column's width
			for j := len(raw[1]) - 1; j >= 0; j-- {
				n = n<<8 | int64(raw[1][j])
			}
			if w := 64 - 8*len(raw[1]); len(raw[1]) == 0 || n<<w>>w != -2 {
				t.Errorf("bigint -2 as %x", raw[1])
			}
			if err := rows.(sqlsource.RawRows).NextRaw(raw); err != io.EOF {
				t.Errorf("after the row: %v", err)
			}
			return rows.Close()
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// The status queries are prepared too (database/sql prepares what
	// the connection does not run directly): the second's prepare and
	// the first's close are counted besides the reads'.
	p1, c1 := status()
	if p1-p0 != 4 || c1-c0 != 4 {
		t.Errorf("3 reads and a status query prepared %d statements and closed %d, want 4 and 4", p1-p0, c1-c0)
	}
}

// Table reads on the socket are prepared, in the binary protocol, with or
// without floats; the text protocol is what TextOnSocket asks for.
func TestReadsOnTheSocketAreBinary(t *testing.T) {
	dsn := serverDSN()
	db, err := open(sdk.Connection{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		testkit.NeedService(t, "MariaDB", err)
	}
	defer conn.Close()
	cols := []sqlsource.ColumnMeta{{Name: "n", NativeType: "bigint"}, {Name: "d", NativeType: "date"}}
	for _, text := range []bool{false, true} {
		textOnSocket = text
		err := conn.Raw(func(dc any) error {
			rows, err := query(ctx, dc, "SELECT CAST(-2 AS SIGNED) AS n, DATE '2024-02-29' AS d", nil, cols)
			if err != nil {
				return err
			}
			defer rows.Close()
			switch rows.(type) {
			case *binRows:
				if text {
					t.Errorf("with TextOnSocket: binary rows")
				}
			case *textRows:
				if !text {
					t.Errorf("text rows, want binary ones")
				}
			default:
				t.Errorf("rows %T are not read off the socket", rows)
			}
			raw := make([][]byte, 2)
			if err := rows.(sqlsource.RawRows).NextRaw(raw); err != nil {
				return err
			}
			if text && (string(raw[0]) != "-2" || string(raw[1]) != "2024-02-29") || !text && (len(raw[0]) < 4 || raw[0][0] != 0xfe || len(raw[1]) != 4) {
				t.Errorf("text %v: values %q", text, raw)
			}
			for rows.(sqlsource.RawRows).NextRaw(raw) == nil {
			}
			return rows.Close()
		})
		textOnSocket = false
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestReadAfterAlterTable: a table altered between describe and read
// (the read's columns were described before) fails the read with an error
// naming the table and the column, in the text protocol and in the binary
// one, where a string's bytes would otherwise be read as an integer's
// (an unsigned integer's as a signed one's, a double's as an integer's).
func TestReadAfterAlterTable(t *testing.T) {
	dsn := serverDSN()
	ctx := context.Background()
	pool, err := open(sdk.Connection{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := pool.PingContext(ctx); err != nil {
		testkit.NeedService(t, "MariaDB", err)
	}
	d := fmt.Sprintf("hp_trust_alt_%d", time.Now().UnixNano())
	execAll := func(qs ...string) {
		t.Helper()
		for _, q := range qs {
			if _, err := pool.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	execAll("CREATE DATABASE "+d, "CREATE TABLE "+d+".alt (id INT NOT NULL, f DOUBLE, n BIGINT)", "INSERT INTO "+d+".alt VALUES (1, 1.5, 2)")
	t.Cleanup(func() { _, _ = pool.ExecContext(ctx, "DROP DATABASE "+d) })
	ref := sdk.ObjectRef{Schema: d, Name: "alt"}
	described, err := columns(ctx, pool, ref)
	if err != nil {
		t.Fatal(err)
	}
	text, bin := "SELECT `id`, `n` FROM "+d+".alt", "SELECT `id`, `f`, `n` FROM "+d+".alt"
	read := func(q string, cols []sqlsource.ColumnMeta) error {
		// Table reads on the socket are binary; the text protocol is
		// still read on the socket when textOnSocket asks for it.
		textOnSocket = q == text
		defer func() { textOnSocket = false }()
		conn, err := pool.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.Raw(func(dc any) error {
			rows, err := query(ctx, dc, q, nil, cols)
			if err != nil {
				return err
			}
			defer rows.Close()
			raw := make([][]byte, len(cols))
			for {
				if err := rows.(sqlsource.RawRows).NextRaw(raw); err != nil {
					if err == io.EOF {
						return nil
					}
					return err
				}
			}
		})
	}
	cols := map[string][]sqlsource.ColumnMeta{text: {described[0], described[2]}, bin: described}
	for _, q := range []string{text, bin} {
		if err := read(q, cols[q]); err != nil {
			t.Fatalf("%s before the ALTER: %v", q, err)
		}
	}
	for _, alter := range []string{"MODIFY n VARCHAR(20)", "MODIFY n BIGINT UNSIGNED", "MODIFY n DOUBLE"} {
		execAll("ALTER TABLE "+d+".alt "+alter, "UPDATE "+d+".alt SET n = 12345678")
		for _, q := range []string{text, bin} {
			err := read(q, cols[q])
			if !errors.Is(err, sdk.ErrFailedPrecondition) || !strings.Contains(err.Error(), d+".alt") || !strings.Contains(err.Error(), `column "n"`) {
				t.Errorf("%s, then %s: %v", alter, q, err)
			}
		}
	}
}

// serverDSN is the real server: HP_TEST_MYSQL_DSN, or the MariaDB every
// machine of this project runs on 127.0.0.1 (testDSN of the external
// tests, which this package cannot see).
func serverDSN() string {
	if d := os.Getenv("HP_TEST_MYSQL_DSN"); d != "" {
		return d
	}
	return "mysql://root@127.0.0.1:3306/test"
}
