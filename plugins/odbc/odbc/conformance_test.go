package odbc_test

import (
	"fmt"
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
	"github.com/halfpipe-io/halfpipe/sdk/conformance"
	"github.com/halfpipe-io/halfpipe/sdk/plugintest"
)

// fixture creates the conformance tables in schema d and returns the rows
// Read must return: every value kind, NULLs, NUMERIC(38,10) with 38
// digits, non-ASCII text (a surrogate pair included), and a long text
// column read with SQLGetData.
func fixture(t *testing.T, s server, d string, rows int) arrow.RecordBatch {
	t.Helper()
	db, _ := s.open(t)
	tbl := func(n string) string { return s.q(d) + "." + s.q(n) }
	ts, flag, raw, text := "timestamp(6) with time zone", "boolean", "bytea", "text"
	tsType := &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	flagType := arrow.DataType(arrow.FixedWidthTypes.Boolean)
	if s.mysql {
		ts, flag, raw, text = "DATETIME(6)", "BIT(1)", "BLOB", "LONGTEXT"
	}
	fields := []arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "small", Type: arrow.PrimitiveTypes.Int16, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "amount", Type: &arrow.Decimal128Type{Precision: 38, Scale: 10}, Nullable: true},
		{Name: "at", Type: tsType, Nullable: true},
		{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "flag", Type: flagType, Nullable: true},
		{Name: "raw", Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "note", Type: arrow.BinaryTypes.String, Nullable: true},
	}
	ddl := fmt.Sprintf("(id BIGINT NOT NULL PRIMARY KEY, small SMALLINT, name VARCHAR(200), amount DECIMAL(38,10), at %s, day DATE, flag %s, raw %s, f DOUBLE PRECISION, note %s)", ts, flag, raw, text)
	if s.mysql {
		fields = append(fields[:2], append([]arrow.Field{{Name: "big_u", Type: arrow.PrimitiveTypes.Uint64, Nullable: true}}, fields[2:]...)...)
		ddl = strings.Replace(ddl, "small SMALLINT,", "small SMALLINT, big_u BIGINT UNSIGNED,", 1)
	}
	schema := arrow.NewSchema(fields, nil)
	exec(t, db, "CREATE TABLE "+tbl("t")+" "+ddl, "CREATE TABLE "+tbl("empty")+" "+ddl, "CREATE TABLE "+tbl("big")+" (id BIGINT NOT NULL PRIMARY KEY)",
		"CREATE TABLE "+tbl("large")+" (id BIGINT NOT NULL PRIMARY KEY, note "+text+", raw "+strings.Replace(raw, "BLOB", "LONGBLOB", 1)+")")
	// Values of several MiB arrive in many SQLGetData pieces.
	big := strings.Repeat("large 😀 value ", 6<<20/18)
	if _, err := db.Exec("INSERT INTO "+tbl("large")+" VALUES (?, ?, ?), (?, ?, ?)", int64(1), big, []byte(big), int64(2), "small", []byte{1}); err != nil {
		t.Fatal(err)
	}
	if s.mysql {
		exec(t, db, "SET SESSION max_recursive_iterations = 1000000",
			"INSERT INTO "+tbl("big")+" WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 150000) SELECT n FROM s")
	} else {
		exec(t, db, "INSERT INTO "+tbl("big")+" SELECT generate_series(1, 150000)")
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	names := []string{"plain", "", `quote " and, comma`, "new\nline", "unicode é 漢字 😀", "back`tick"}
	cols := make([]string, len(fields))
	ph := make([]string, len(fields))
	for i, f := range fields {
		cols[i], ph[i] = s.q(f.Name), "?"
	}
	insert := "INSERT INTO " + tbl("t") + " (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(ph, ", ") + ")"
	for i := 1; i <= rows; i++ {
		id := int64(i) * 5
		args := make([]any, len(fields))
		args[0] = id
		b.Field(0).(*array.Int64Builder).Append(id)
		if i%7 == 0 {
			for c := 1; c < len(fields); c++ {
				b.Field(c).AppendNull()
			}
			if _, err := db.Exec(insert, args...); err != nil {
				t.Fatal(err)
			}
			continue
		}
		c := 1
		next := func(v any) { args[c] = v; c++ }
		small := int16(i*997%65536 - 32768)
		b.Field(c).(*array.Int16Builder).Append(small)
		next(int64(small))
		if s.mysql {
			u := ^uint64(0) - uint64(i)
			b.Field(c).(*array.Uint64Builder).Append(u)
			next(u)
		}
		b.Field(c).(*array.StringBuilder).Append(names[i%len(names)])
		next(names[i%len(names)])
		amount := decimal128.FromI64(int64(i) * -123456789)
		if i%3 == 0 {
			amount, _ = decimal128.FromString(strings.Repeat("9", 28)+"."+strings.Repeat("9", 10), 38, 10)
		}
		if i%4 == 0 {
			amount, _ = decimal128.FromString("-1234567890123456789012345678.9012345678", 38, 10)
		}
		b.Field(c).(*array.Decimal128Builder).Append(amount)
		next(odbcdriver.Decimal(amount.ToString(10)))
		at := time.Date(2038, 1, 19, 3, 14, 7, 0, time.UTC).Add(time.Duration(i) * 1234567 * time.Microsecond)
		b.Field(c).(*array.TimestampBuilder).Append(arrow.Timestamp(at.UnixMicro()))
		next(at)
		day := time.Date(1000+i*10, 12, 31, 0, 0, 0, 0, time.UTC)
		b.Field(c).(*array.Date32Builder).Append(arrow.Date32FromTime(day))
		next(odbcdriver.Date(day.Unix() / 86400))
		b.Field(c).(*array.BooleanBuilder).Append(i%2 == 0)
		next(i%2 == 0)
		raw := []byte{0, byte(i), 0, 0xff}
		b.Field(c).(*array.BinaryBuilder).Append(raw)
		next(raw)
		f := float64(i) / 3
		b.Field(c).(*array.Float64Builder).Append(f)
		next(f)
		note := strings.Repeat("note "+names[i%len(names)]+" ", i*50)
		b.Field(c).(*array.StringBuilder).Append(note)
		next(note)
		if _, err := db.Exec(insert, args...); err != nil {
			t.Fatal(err)
		}
	}
	return b.NewRecordBatch()
}

func TestConformance(t *testing.T) {
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			_, d := s.open(t)
			expected := fixture(t, s, d, 40)
			defer expected.Release()
			remote := plugintest.Serve(t, odbc.New())
			conformance.RunSourceSuite(t, remote, conformance.SourceFixture{
				Conn: s.conn(), Table: sdk.ObjectRef{Schema: d, Name: "t"}, Expected: expected, KeyColumn: "id", OrderColumn: "amount",
				Empty: sdk.ObjectRef{Schema: d, Name: "empty"}, Large: sdk.ObjectRef{Schema: d, Name: "big"},
				Missing: sdk.ObjectRef{Schema: d, Name: "missing"}, LargeValues: sdk.ObjectRef{Schema: d, Name: "large"},
			})
			n := 0
			conformance.RunTargetSuite(t, odbc.New(), conformance.TargetFixture{Conn: s.conn(), NewTable: func(t *testing.T) sdk.ObjectRef {
				n++
				return sdk.ObjectRef{Schema: d, Name: fmt.Sprintf("target %d", n)}
			}})
		})
	}
}
