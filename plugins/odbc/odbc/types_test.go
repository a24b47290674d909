package odbc_test

import (
	"context"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/plugins/odbc/odbc"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/plugintest"
)

// readAll reads a source through the plugin protocol into one value per
// column of each row, rendered by Arrow (ValueStr), with the schema.
func readAll(t *testing.T, req sdk.ReadRequest) (*arrow.Schema, [][]string) {
	t.Helper()
	remote := plugintest.Serve(t, odbc.New())
	rr, err := remote.Read(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	var rows [][]string
	for rr.Next() {
		rec := rr.RecordBatch()
		for r := 0; r < int(rec.NumRows()); r++ {
			row := make([]string, rec.NumCols())
			for c, col := range rec.Columns() {
				row[c] = render(col, r)
			}
			rows = append(rows, row)
		}
	}
	if err := rr.Err(); err != nil {
		t.Fatal(err)
	}
	return rr.Schema(), rows
}

// render is a value as text: decimals in full, binary in hex.
func render(a arrow.Array, i int) string {
	if a.IsNull(i) {
		return "NULL"
	}
	switch x := a.(type) {
	case *array.Decimal128:
		return x.Value(i).ToString(x.DataType().(*arrow.Decimal128Type).Scale)
	case *array.Decimal256:
		return x.Value(i).ToString(x.DataType().(*arrow.Decimal256Type).Scale)
	case *array.Binary:
		return hex.EncodeToString(x.Value(i))
	}
	return a.ValueStr(i)
}

// TestExactTypes reads each server's types through its ODBC driver and
// checks the Arrow type and the exact value: a NUMERIC(38,10) with 38
// significant digits (which a float64, as the common Go ODBC bridge
// returns it, cannot hold), integer widths and signs, fractional seconds,
// GUIDs and text with surrogate pairs.
func TestExactTypes(t *testing.T) {
	const n38 = "1234567890123456789012345678.9012345678"
	if f, _ := strconv.ParseFloat(n38, 64); strconv.FormatFloat(f, 'f', 10, 64) == n38 {
		t.Fatal("the test value must not survive a float64")
	}
	type col struct{ ddl, value, arrowType, want string }
	cases := map[string][]col{
		"postgres": {
			{"numeric(38,10)", "'" + n38 + "'", "decimal(38, 10)", n38},
			{"numeric(38,10)", "'-0.0000000001'", "decimal(38, 10)", "-0.0000000001"},
			{"numeric(76,20)", "'" + strings.Repeat("9", 56) + "." + strings.Repeat("9", 20) + "'", "decimal256(76, 20)", strings.Repeat("9", 56) + "." + strings.Repeat("9", 20)},
			{"numeric", "'12345678901234567890123456789012345678901234567890.5'", "utf8", "12345678901234567890123456789012345678901234567890.5"},
			{"smallint", "-32768", "int16", "-32768"},
			{"integer", "2147483647", "int32", "2147483647"},
			{"bigint", "-9223372036854775808", "int64", "-9223372036854775808"},
			{"timestamp(3)", "'2024-02-29 23:59:59.123'", "timestamp[us]", "2024-02-29T23:59:59.123"},
			{"timestamptz", "'2024-02-29 23:59:59.123456+02'", "timestamp[us, tz=UTC]", "2024-02-29T21:59:59.123456Z"},
			{"uuid", "'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'", "utf8", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
			{"varchar(10)", "'a😀b𝄞'", "utf8", "a😀b𝄞"},
			{"text", "'" + strings.Repeat("😀", 70000) + "'", "utf8", strings.Repeat("😀", 70000)},
			{"bytea", `'\x00ff10'`, "binary", "00ff10"},
			{"boolean", "true", "bool", "true"},
			{"real", "1.5", "float32", "1.5"},
			{"date", "'0001-01-01'", "date32", "0001-01-01"},
		},
		"mariadb": {
			{"DECIMAL(38,10)", n38, "decimal(38, 10)", n38},
			{"DECIMAL(65,30)", "-" + strings.Repeat("9", 35) + "." + strings.Repeat("9", 30), "decimal256(65, 30)", "-" + strings.Repeat("9", 35) + "." + strings.Repeat("9", 30)},
			{"TINYINT", "-128", "int8", "-128"},
			{"TINYINT UNSIGNED", "255", "uint8", "255"},
			{"SMALLINT UNSIGNED", "65535", "uint16", "65535"},
			{"INT UNSIGNED", "4294967295", "uint32", "4294967295"},
			{"BIGINT UNSIGNED", "18446744073709551615", "uint64", "18446744073709551615"},
			{"BIGINT", "-9223372036854775808", "int64", "-9223372036854775808"},
			{"DATETIME(6)", "'2024-02-29 23:59:59.000001'", "timestamp[us, tz=UTC]", "2024-02-29T23:59:59.000001Z"},
			{"VARCHAR(10)", "'a😀b𝄞'", "utf8", "a😀b𝄞"},
			{"LONGTEXT", "REPEAT('😀', 70000)", "utf8", strings.Repeat("😀", 70000)},
			{"VARBINARY(4)", "x'00ff10'", "binary", "00ff10"},
			{"DOUBLE", "0.1", "float64", "0.1"},
		},
	}
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			db, d := s.open(t)
			var ddl, vals []string
			for i, c := range cases[s.name] {
				ddl = append(ddl, s.q("c"+strconv.Itoa(i))+" "+c.ddl)
				vals = append(vals, c.value)
			}
			tbl := s.q(d) + "." + s.q("types")
			exec(t, db, "CREATE TABLE "+tbl+" ("+strings.Join(ddl, ", ")+")", "INSERT INTO "+tbl+" VALUES ("+strings.Join(vals, ", ")+")")
			for _, src := range []sdk.Source{
				{Object: &sdk.ObjectRef{Schema: d, Name: "types"}},
				{Query: "SELECT * FROM " + tbl},
			} {
				schema, rows := readAll(t, sdk.ReadRequest{Conn: s.conn(), Source: src})
				if len(rows) != 1 {
					t.Fatalf("%s: %d rows, want 1", src, len(rows))
				}
				for i, c := range cases[s.name] {
					got := rows[0][i]
					if typ := schema.Field(i).Type.String(); typ != c.arrowType || got != c.want {
						if len(got) > 80 {
							got = got[:80] + "…"
						}
						t.Errorf("%s %s: %s %q, want %s %.80q", src, c.ddl, typ, got, c.arrowType, c.want)
					}
				}
			}
		})
	}
}

// TestBlockCursorsAndRanges reads a table of many rows whose columns all
// bind, in batches, with a typed decimal range.
func TestBlockCursorsAndRanges(t *testing.T) {
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			db, d := s.open(t)
			tbl := s.q(d) + "." + s.q("r")
			exec(t, db, "CREATE TABLE "+tbl+" (id INTEGER NOT NULL PRIMARY KEY, amount DECIMAL(38,10))")
			if s.mysql {
				exec(t, db, "SET SESSION max_recursive_iterations = 100000",
					"INSERT INTO "+tbl+" WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 5000) SELECT n, CAST(n AS DECIMAL(38,10)) * 1000000000000000000 + 0.0000000001 FROM s")
			} else {
				exec(t, db, "INSERT INTO "+tbl+" SELECT n, CAST(n AS DECIMAL(38,10)) * 1000000000000000000 + 0.0000000001 FROM generate_series(1, 5000) n")
			}
			lo := sdk.DecimalValue("1000000000000000000000.0000000001")
			hi := sdk.DecimalValue("4000000000000000000000.0000000001")
			_, rows := readAll(t, sdk.ReadRequest{Conn: s.conn(), Source: sdk.Source{Object: &sdk.ObjectRef{Schema: d, Name: "r"}},
				Range: &sdk.RangeFilter{Column: "amount", Lower: lo, LowerInclusive: false, Upper: hi, UpperInclusive: true}})
			if len(rows) != 3000 || rows[0][1] != "1001000000000000000000.0000000001" || rows[len(rows)-1][1] != "4000000000000000000000.0000000001" {
				t.Fatalf("%d rows, first %v, last %v", len(rows), rows[0], rows[len(rows)-1])
			}
		})
	}
}
