package odbc_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/halfpipe-io/halfpipe/plugins/odbc/odbc"
	"github.com/halfpipe-io/halfpipe/plugins/odbc/odbc/odbcdriver"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/plugintest"
)

// TestWriteRoundTrip writes every Arrow type a table can take through the
// plugin (parameter arrays) into a table it creates, reads it back and
// compares value for value.
func TestWriteRoundTrip(t *testing.T) {
	fields := []arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "i16", Type: arrow.PrimitiveTypes.Int16, Nullable: true},
		{Name: "amount", Type: &arrow.Decimal128Type{Precision: 38, Scale: 10}, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "raw", Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: "flag", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}
	const rows = 3000
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			_, d := s.open(t)
			ts := &arrow.TimestampType{Unit: arrow.Microsecond}
			all := append(fields, arrow.Field{Name: "at", Type: ts, Nullable: true})
			if s.mysql {
				all[len(all)-1].Type = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
				all = append(all, arrow.Field{Name: "u", Type: arrow.PrimitiveTypes.Uint64, Nullable: true})
			}
			schema := arrow.NewSchema(all, nil)
			b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
			defer b.Release()
			for i := 0; i < rows; i++ {
				b.Field(0).(*array.Int64Builder).Append(int64(i))
				if i%10 == 9 {
					for c := 1; c < len(all); c++ {
						b.Field(c).AppendNull()
					}
					continue
				}
				b.Field(1).(*array.Int16Builder).Append(int16(i - 1500))
				amount, _ := decimal128.FromString("-1234567890123456789012345678.901234567"+string(rune('0'+i%10)), 38, 10)
				b.Field(2).(*array.Decimal128Builder).Append(amount)
				b.Field(3).(*array.StringBuilder).Append(strings.Repeat("a😀b𝄞", i%50))
				b.Field(4).(*array.BinaryBuilder).Append([]byte{byte(i), 0, 0xff})
				b.Field(5).(*array.BooleanBuilder).Append(i%2 == 0)
				b.Field(6).(*array.Date32Builder).Append(arrow.Date32(i * 7))
				b.Field(7).(*array.Float64Builder).Append(float64(i) / 7)
				b.Field(8).(*array.TimestampBuilder).Append(arrow.Timestamp(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro() + int64(i)*1000001))
				if s.mysql {
					b.Field(9).(*array.Uint64Builder).Append(^uint64(0) - uint64(i))
				}
			}
			rec := b.NewRecordBatch()
			defer rec.Release()
			rr, _ := array.NewRecordReader(schema, []arrow.RecordBatch{rec})
			remote := plugintest.Serve(t, odbc.New())
			ref := sdk.ObjectRef{Schema: d, Name: "written"}
			res, err := remote.Write(context.Background(), sdk.WriteRequest{Conn: s.conn(), Table: ref, Mode: sdk.Append, CreateTable: true}, rr)
			if err != nil {
				t.Fatal(err)
			}
			if res.RowsWritten != rows {
				t.Fatalf("wrote %d rows, want %d", res.RowsWritten, rows)
			}
			got, gotRows := readAll(t, sdk.ReadRequest{Conn: s.conn(), Source: sdk.Source{Object: &ref}, OrderBy: []sdk.OrderBy{{Column: "id"}}})
			if len(gotRows) != rows {
				t.Fatalf("read %d rows, want %d", len(gotRows), rows)
			}
			for c, f := range all {
				if g := got.Field(c).Type; !arrow.TypeEqual(g, f.Type) && f.Name != "flag" {
					t.Errorf("column %s reads back as %s, was %s", f.Name, g, f.Type)
				}
			}
			for r := 0; r < rows; r++ {
				for c := range all {
					want := render(rec.Column(c), r)
					if all[c].Name == "flag" && s.mysql && want != "NULL" {
						// MySQL's BOOLEAN is TINYINT(1).
						want = map[string]string{"true": "1", "false": "0"}[want]
					}
					if gotRows[r][c] != want {
						t.Fatalf("row %d column %s: got %q, want %q", r, all[c].Name, gotRows[r][c], want)
					}
				}
			}
		})
	}
}

// TestParameterArrays checks that a batch goes to the server in arrays of
// parameters, not one execution per row.
func TestParameterArrays(t *testing.T) {
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			db, d := s.open(t)
			tbl := s.q(d) + "." + s.q("p")
			exec(t, db, "CREATE TABLE "+tbl+" (id BIGINT, name VARCHAR(20))")
			schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "name", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
			b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
			defer b.Release()
			for i := 0; i < 10000; i++ {
				b.Field(0).(*array.Int64Builder).Append(int64(i))
				b.Field(1).(*array.StringBuilder).Append("n" + strings.Repeat("😀", i%5))
			}
			rec := b.NewRecordBatch()
			defer rec.Release()
			sc, err := db.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer sc.Close()
			var execs int
			err = sc.Raw(func(dc any) error {
				c := dc.(*odbcdriver.Conn)
				err := c.InsertRecord(context.Background(), "INSERT INTO "+tbl+" (id, name) VALUES (?, ?)", rec, -1)
				execs = c.Executions()
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			var n, sum int64
			if err := db.QueryRow("SELECT COUNT(*), SUM(id) FROM "+tbl).Scan(&n, &sum); err != nil {
				t.Fatal(err)
			}
			if n != 10000 || sum != 49995000 || execs > 10 {
				t.Fatalf("%d rows (sum %d) in %d executions", n, sum, execs)
			}
			var name string
			if err := db.QueryRow("SELECT name FROM " + tbl + " WHERE id = 9999").Scan(&name); err != nil || name != "n😀😀😀😀" {
				t.Fatalf("row 9999: %q, %v", name, err)
			}
		})
	}
}
