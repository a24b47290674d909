package mysql

import (
	"context"
	"encoding/binary"
	"io"
	"math"
	"os"
	"testing"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
	"github.com/halfpipe-io/halfpipe/testkit"
)

// Reads with floats are prepared on the socket: their values come back as
// the protocol's bytes, and each statement is closed after its rows, so
// that a pooled connection does not collect them.
func TestBinaryWireClosesStatements(t *testing.T) {
	dsn := os.Getenv("HP_TEST_MYSQL_DSN")
	if dsn == "" {
		dsn = "mysql://root@127.0.0.1:3306/test"
	}
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
	dsn := os.Getenv("HP_TEST_MYSQL_DSN")
	if dsn == "" {
		dsn = "mysql://root@127.0.0.1:3306/test"
	}
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
