package odbc_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/halfpipe-io/halfpipe/plugins/odbc/odbc"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/plugintest"
	"github.com/halfpipe-io/halfpipe/testkit/tds"
)

// freeTDS starts the project's TDS test server and returns it with the
// odbc+sqlserver DSN that reaches it through FreeTDS (Debian's tdsodbc
// registers the driver as "FreeTDS"); attrs are further query parameters.
func freeTDS(t *testing.T, attrs string) (*tds.Server, sdk.Connection) {
	t.Helper()
	db := tds.Start(t, tds.WithLogin("etl", "pw;x"))
	dsn := "odbc+sqlserver://etl:pw%3Bx@" + db.Addr + "/Sales?driver=FreeTDS" + attrs
	return db, sdk.Connection{DSN: dsn}
}

// msType is one column of the table the TDS server plays: its catalog
// description, its wire type, a value, and what hp must read.
type msType struct {
	cat       tds.CatalogColumn
	wire      tds.Column
	value     any
	arrowType string
	want      string
}

var n38 = "1234567890123456789012345678.9012345678"

func msTypes() []msType {
	ist := time.FixedZone("", 5*3600+30*60)
	long := strings.Repeat("héllo 😀 漢字 ", 20000)
	return []msType{
		{tds.CatalogColumn{Name: "id", Type: "int", MaxLength: 4, Precision: 10}, tds.Column{Type: tds.Int}, 1, "int32", "1"},
		{tds.CatalogColumn{Name: "b", Type: "bit", MaxLength: 1, Precision: 1}, tds.Column{Type: tds.Bit}, true, "bool", "true"},
		{tds.CatalogColumn{Name: "ti", Type: "tinyint", MaxLength: 1, Precision: 3}, tds.Column{Type: tds.TinyInt}, 255, "uint8", "255"},
		{tds.CatalogColumn{Name: "si", Type: "smallint", MaxLength: 2, Precision: 5}, tds.Column{Type: tds.SmallInt}, -32768, "int16", "-32768"},
		{tds.CatalogColumn{Name: "bi", Type: "bigint", MaxLength: 8, Precision: 19}, tds.Column{Type: tds.BigInt}, int64(-9223372036854775808), "int64", "-9223372036854775808"},
		{tds.CatalogColumn{Name: "d38", Type: "decimal", MaxLength: 17, Precision: 38, Scale: 10}, tds.Column{Type: tds.Decimal, Precision: 38, Scale: 10}, n38, "decimal(38, 10)", n38},
		{tds.CatalogColumn{Name: "n", Type: "numeric", MaxLength: 9, Precision: 10, Scale: 4}, tds.Column{Type: tds.Numeric, Precision: 10, Scale: 4}, "-0.0001", "decimal(10, 4)", "-0.0001"},
		{tds.CatalogColumn{Name: "m", Type: "money", MaxLength: 8, Precision: 19, Scale: 4}, tds.Column{Type: tds.Money}, "-922337203685477.5808", "decimal(19, 4)", "-922337203685477.5808"},
		{tds.CatalogColumn{Name: "r", Type: "real", MaxLength: 4, Precision: 24}, tds.Column{Type: tds.Real}, float32(1.5), "float32", "1.5"},
		{tds.CatalogColumn{Name: "f", Type: "float", MaxLength: 8, Precision: 53}, tds.Column{Type: tds.Float}, 0.1, "float64", "0.1"},
		{tds.CatalogColumn{Name: "c", Type: "char", MaxLength: 4}, tds.Column{Type: tds.VarChar, Length: 4}, "ab  ", "utf8", "ab  "},
		{tds.CatalogColumn{Name: "nv", Type: "nvarchar", MaxLength: 40}, tds.Column{Type: tds.NVarChar, Length: 20}, "a😀b𝄞", "utf8", "a😀b𝄞"},
		{tds.CatalogColumn{Name: "nvmax", Type: "nvarchar", MaxLength: -1}, tds.Column{Type: tds.NVarChar, Length: tds.Max}, long, "utf8", long},
		{tds.CatalogColumn{Name: "vb", Type: "varbinary", MaxLength: 4}, tds.Column{Type: tds.VarBinary, Length: 4}, []byte{0, 0xFF, 0x10}, "binary", "00ff10"},
		{tds.CatalogColumn{Name: "da", Type: "date", MaxLength: 3, Precision: 10}, tds.Column{Type: tds.Date}, time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), "date32", "0001-01-01"},
		{tds.CatalogColumn{Name: "dt2", Type: "datetime2", MaxLength: 8, Precision: 27, Scale: 7}, tds.Column{Type: tds.DateTime2, Scale: 7}, time.Date(2024, 2, 29, 23, 59, 58, 123456700, time.UTC), "timestamp[ns]", "2024-02-29T23:59:58.1234567"},
		{tds.CatalogColumn{Name: "dt26", Type: "datetime2", MaxLength: 8, Precision: 26, Scale: 6}, tds.Column{Type: tds.DateTime2, Scale: 6}, time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC), "timestamp[us]", "9999-12-31T23:59:59.999999"},
		{tds.CatalogColumn{Name: "dt", Type: "datetime", MaxLength: 8, Precision: 23, Scale: 3}, tds.Column{Type: tds.DateTime}, time.Date(1999, 12, 31, 23, 59, 59, 997000000, time.UTC), "timestamp[us]", "1999-12-31T23:59:59.997"},
		{tds.CatalogColumn{Name: "dto", Type: "datetimeoffset", MaxLength: 10, Precision: 34, Scale: 7}, tds.Column{Type: tds.DateTimeOffset, Scale: 7}, time.Date(2023, 12, 31, 22, 15, 1, 999999900, ist), "extension<arrow.timestamp_with_offset>", "2023-12-31 22:15:01.9999999 +0530 UTC+05:30"},
		{tds.CatalogColumn{Name: "tm", Type: "time", MaxLength: 5, Precision: 16, Scale: 7}, tds.Column{Type: tds.Time, Scale: 7}, time.Date(1, 1, 1, 13, 14, 15, 123456700, time.UTC), "time64[ns]", "13:14:15.123456700"},
		{tds.CatalogColumn{Name: "g", Type: "uniqueidentifier", MaxLength: 16}, tds.Column{Type: tds.UniqueIdentifier}, "6f9619ff-8b86-d011-b42d-00c04fd430c8", "utf8", "6F9619FF-8B86-D011-B42D-00C04FD430C8"},
		{tds.CatalogColumn{Name: "rv", Type: "timestamp", MaxLength: 8}, tds.Column{Type: tds.Rowversion}, []byte{0x80, 0, 0, 0, 0, 0, 0, 1}, "uint64", "9223372036854775809"},
	}
}

// serveMSTypes makes the server describe [dbo].[types] and answer the
// read hp sends with a row of values and a row of NULLs.
func serveMSTypes(db *tds.Server, types []msType) {
	var cat []tds.CatalogColumn
	var wire []tds.Column
	var names []string
	row, nulls := make([]any, len(types)), make([]any, len(types))
	for i, c := range types {
		c.cat.Nullable = i > 0
		cat = append(cat, c.cat)
		w := c.wire
		w.Name, w.Nullable = c.cat.Name, i > 0
		wire = append(wire, w)
		names = append(names, "["+c.cat.Name+"]")
		row[i] = c.value
	}
	nulls[0] = 2
	db.DescribeTable("[dbo].[types]", cat, "id")
	db.Handle("SELECT "+strings.Join(names, ", ")+" FROM [dbo].[types]", tds.Response{Columns: wire, Rows: [][]any{row, nulls}})
}

// TestFreeTDSReadsSQLServerTypes: odbc+sqlserver through FreeTDS against
// the TDS test server, at TDS 7.4 and 7.3: Check names SQL Server,
// ListObjects and Describe come from sp_tables, sp_columns and sp_pkeys,
// and every type reads with its Arrow type and exact value (a
// NUMERIC(38,10) with 38 digits, text with surrogate pairs read in
// pieces; time, datetimeoffset, uniqueidentifier and rowversion as the
// mssql connector reads them), inside the read-only transaction FreeTDS
// begins with a transaction manager request.
func TestFreeTDSReadsSQLServerTypes(t *testing.T) {
	for _, version := range []string{"", "&TDS_Version=7.3"} {
		t.Run("tds"+strings.TrimPrefix(version, "&TDS_Version="), func(t *testing.T) {
			t.Parallel()
			db, conn := freeTDS(t, version)
			types := msTypes()
			serveMSTypes(db, types)
			remote := plugintest.Serve(t, odbc.New())
			ctx := context.Background()
			if v, err := remote.Check(ctx, conn); err != nil || !strings.HasPrefix(v, "Microsoft SQL Server") {
				t.Fatalf("check: %q, %v", v, err)
			}
			objs, err := remote.ListObjects(ctx, conn, "")
			if err != nil || len(objs) != 1 || objs[0].Ref.String() != "dbo.types" {
				t.Fatalf("list: %v, %v", objs, err)
			}
			ref := &sdk.ObjectRef{Schema: "dbo", Name: "types"}
			d, err := remote.Describe(ctx, conn, sdk.Source{Object: ref})
			if err != nil {
				t.Fatal(err)
			}
			if len(d.PrimaryKey) != 1 || d.PrimaryKey[0] != "id" {
				t.Errorf("primary key %v", d.PrimaryKey)
			}
			schema, rows := readAll(t, sdk.ReadRequest{Conn: conn, Source: sdk.Source{Object: ref}})
			if len(rows) != 2 {
				t.Fatalf("%d rows", len(rows))
			}
			for i, c := range types {
				if typ := schema.Field(i).Type.String(); typ != c.arrowType || d.Schema.Field(i).Type.String() != typ {
					t.Errorf("%s %s: read as %s, described as %s, want %s", c.cat.Name, c.cat.Type, typ, d.Schema.Field(i).Type, c.arrowType)
				}
				if got := rows[0][i]; got != c.want {
					t.Errorf("%s %s = %.80q, want %.80q", c.cat.Name, c.cat.Type, got, c.want)
				}
				if got := rows[1][i]; i > 0 && got != "NULL" {
					t.Errorf("%s %s = %q, want NULL", c.cat.Name, c.cat.Type, got)
				}
			}
			// A query reads the same from the result set's description.
			var wire []tds.Column
			row := make([]any, len(types))
			for i, c := range types {
				w := c.wire
				w.Name, w.Nullable = c.cat.Name, true
				wire = append(wire, w)
				row[i] = c.value
			}
			db.Handle("SELECT * FROM types", tds.Response{Columns: wire, Rows: [][]any{row}})
			qschema, qrows := readAll(t, sdk.ReadRequest{Conn: conn, Source: sdk.Source{Query: "SELECT * FROM types"}})
			for i, c := range types {
				if typ := qschema.Field(i).Type.String(); typ != c.arrowType || qrows[0][i] != c.want {
					t.Errorf("query: %s %s = %s %.80q, want %s %.80q", c.cat.Name, c.cat.Type, typ, qrows[0][i], c.arrowType, c.want)
				}
			}
			var sawBegin bool
			for _, q := range db.Queries() {
				sawBegin = sawBegin || q.SQL == "BEGIN TRANSACTION"
			}
			if !sawBegin {
				t.Errorf("the read began no transaction")
			}
		})
	}
}

// TestFreeTDSWrongPassword: a refused login is an authentication error
// that does not show the password.
func TestFreeTDSWrongPassword(t *testing.T) {
	t.Parallel()
	_, conn := freeTDS(t, "")
	conn.DSN = strings.Replace(conn.DSN, "pw%3Bx", "n0t-the-Passw0rd", 1)
	_, err := plugintest.Serve(t, odbc.New()).Check(context.Background(), conn)
	if !errors.Is(err, sdk.ErrUnauthenticated) || strings.Contains(err.Error(), "n0t-the-Passw0rd") {
		t.Fatalf("got %v, want an authentication error without the password", err)
	}
}

// TestFreeTDSDeltaRange: the bounds and range reads of a delta run go to
// SQL Server through FreeTDS as sp_executesql with typed parameters
// (bigint, numeric(38,10), datetime2 to the 100 ns, date), and the bounds
// come back exact.
func TestFreeTDSDeltaRange(t *testing.T) {
	t.Parallel()
	db, conn := freeTDS(t, "")
	types := msTypes()
	serveMSTypes(db, types)
	at := time.Date(2024, 2, 29, 23, 59, 58, 123456700, time.UTC)
	db.Handle("SELECT MIN([dt2]), MAX([dt2]), COUNT(*), COUNT([dt2]) FROM [dbo].[types]", tds.Response{
		Columns: []tds.Column{{Type: tds.DateTime2, Scale: 7, Nullable: true}, {Type: tds.DateTime2, Scale: 7, Nullable: true}, {Type: tds.Int}, {Type: tds.Int}},
		Rows:    [][]any{{at, at.Add(100), 3, 2}},
	})
	remote := plugintest.Serve(t, odbc.New())
	ref := &sdk.ObjectRef{Schema: "dbo", Name: "types"}
	b, err := remote.Bounds(context.Background(), sdk.BoundsRequest{Conn: conn, Source: sdk.Source{Object: ref}, Column: "dt2"})
	if err != nil {
		t.Fatal(err)
	}
	if !b.Min.Time.Equal(at) || !b.Max.Time.Equal(at.Add(100)) || b.Count != 3 || b.NullCount != 1 {
		t.Fatalf("bounds %v %v %d %d", b.Min, b.Max, b.Count, b.NullCount)
	}

	for _, c := range []struct {
		column, decl string
		lower, upper *sdk.Value
		want         []any
	}{
		{"id", "@P1 BIGINT,@P2 BIGINT", sdk.Int64Value(1), sdk.Int64Value(3), []any{int64(1), int64(3)}},
		{"d38", "@P1 NUMERIC(38,10),@P2 NUMERIC(2,1)", sdk.DecimalValue("-" + n38), sdk.DecimalValue("-1.5"), []any{"-" + n38, "-1.5"}},
		{"dt2", "@P1 DATETIME2,@P2 DATETIME2", b.Min, b.Max, []any{at, at.Add(100)}},
		{"da", "@P1 DATE,@P2 DATE", sdk.DateValue(19000), sdk.DateValue(19001), []any{time.Date(2022, 1, 8, 0, 0, 0, 0, time.UTC), time.Date(2022, 1, 9, 0, 0, 0, 0, time.UTC)}},
	} {
		q := "SELECT [id], [" + c.column + "] FROM [dbo].[types] WHERE [" + c.column + "] > @P1 AND [" + c.column + "] <= @P2"
		var got tds.Query
		db.HandleFunc(q, func(q tds.Query) tds.Response {
			got = q
			return tds.Response{Columns: []tds.Column{{Name: "id", Type: tds.Int}, {Name: c.column, Type: tds.Int, Nullable: true}}, Rows: [][]any{{7, nil}}}
		})
		_, rows := readAll(t, sdk.ReadRequest{Conn: conn, Source: sdk.Source{Object: ref}, Columns: []string{"id", c.column},
			Range: &sdk.RangeFilter{Column: c.column, Lower: c.lower, Upper: c.upper, UpperInclusive: true}})
		if len(rows) != 1 || rows[0][0] != "7" {
			t.Errorf("%s: rows %v", c.column, rows)
		}
		if !got.RPC || got.Decl != c.decl || len(got.Params) != 2 {
			t.Errorf("%s: sent %+v, want sp_executesql declaring %s", c.column, got, c.decl)
			continue
		}
		for i, w := range c.want {
			g := got.Params[i].Value
			if wt, ok := w.(time.Time); ok {
				if gt, ok := g.(time.Time); !ok || !gt.Equal(wt) {
					t.Errorf("%s: parameter %d = %v, want %v", c.column, i+1, g, w)
				}
			} else if g != w {
				t.Errorf("%s: parameter %d = %#v, want %#v", c.column, i+1, g, w)
			}
		}
	}
}

// TestFreeTDSWrites: append and replace into a table hp creates, through
// FreeTDS's prepared statement (sp_prepare, then one sp_execute a row,
// an array of them in one request) in one transaction: the server sees
// every value with its declared type; a failing row rolls the whole write
// back, the created table with it. Merge stages the rows in a #table
// through the same prepared statement, each with its sequence number, and
// applies the last row of each key with DELETE … JOIN and INSERT … SELECT
// in the same transaction.
func TestFreeTDSWrites(t *testing.T) {
	t.Parallel()
	db, conn := freeTDS(t, "")
	const rows = 5000
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "amount", Type: &arrow.Decimal128Type{Precision: 38, Scale: 10}, Nullable: true},
		{Name: "at", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
		{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "flag", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "raw", Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	at := time.Date(2024, 2, 29, 23, 59, 58, 123456000, time.UTC)
	for i := 0; i < rows; i++ {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		if i%10 == 9 {
			for c := 1; c < schema.NumFields(); c++ {
				b.Field(c).AppendNull()
			}
			continue
		}
		b.Field(1).(*array.StringBuilder).Append(strings.Repeat("a😀b𝄞", i%5))
		amount, _ := decimal128.FromString("-"+n38, 38, 10)
		b.Field(2).(*array.Decimal128Builder).Append(amount)
		b.Field(3).(*array.TimestampBuilder).Append(arrow.Timestamp(at.UnixMicro() + int64(i)))
		b.Field(4).(*array.Date32Builder).Append(arrow.Date32(i))
		b.Field(5).(*array.BooleanBuilder).Append(i%2 == 0)
		b.Field(6).(*array.BinaryBuilder).Append([]byte{byte(i), 0, 0xFF})
		b.Field(7).(*array.Float64Builder).Append(float64(i) / 7)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	insert := func(table string) string {
		return "INSERT INTO [dbo].[" + table + "] ([id], [name], [amount], [at], [day], [flag], [raw], [f]) VALUES (@P1, @P2, @P3, @P4, @P5, @P6, @P7, @P8)"
	}
	var mu sync.Mutex
	var got [][]any
	for _, table := range []string{"Target", "Failing"} {
		db.HandleFunc(insert(table), func(q tds.Query) tds.Response {
			mu.Lock()
			defer mu.Unlock()
			args := q.Args()
			if table == "Failing" && args[0] == int64(4321) {
				return tds.Response{Err: &tds.Error{Number: 2627, State: 1, Message: "Violation of PRIMARY KEY constraint."}}
			}
			got = append(got, args)
			return tds.Response{RowsAffected: 1}
		})
	}
	db.Handle("DELETE FROM [dbo].[Target]", tds.Response{RowsAffected: 7})
	remote := plugintest.Serve(t, odbc.New())
	write := func(mode sdk.WriteMode, table string) (*sdk.WriteResult, error) {
		mu.Lock()
		got = nil
		mu.Unlock()
		db.ResetQueries()
		rr, _ := array.NewRecordReader(schema, []arrow.RecordBatch{rec})
		return remote.Write(context.Background(), sdk.WriteRequest{Conn: conn, Table: sdk.ObjectRef{Schema: "dbo", Name: table}, Mode: mode, Keys: []string{"id"}, CreateTable: true}, rr)
	}
	for _, mode := range []sdk.WriteMode{sdk.Append, sdk.Replace} {
		res, err := write(mode, "Target")
		if err != nil {
			t.Fatalf("%v: %v", mode, err)
		}
		if res.RowsWritten != rows || len(got) != rows {
			t.Fatalf("%v: wrote %d rows, the server received %d, want %d", mode, res.RowsWritten, len(got), rows)
		}
		for i, args := range got {
			want := []any{int64(i), nil, nil, nil, nil, nil, nil, nil}
			if i%10 != 9 {
				want = []any{int64(i), strings.Repeat("a😀b𝄞", i%5), "-" + n38, at.Add(time.Duration(i) * time.Microsecond),
					time.Unix(int64(i)*86400, 0).UTC(), i%2 == 0, []byte{byte(i), 0, 0xFF}, float64(i) / 7}
			}
			if fmt.Sprintf("%#v", args) != fmt.Sprintf("%#v", want) {
				t.Fatalf("%v: row %d arrived as %#v, want %#v", mode, i, args, want)
			}
		}
		var sqls []string
		for _, q := range db.Queries() {
			if q.SQL != insert("Target") {
				sqls = append(sqls, q.SQL)
			} else if !strings.HasPrefix(q.Decl, "@P1 BIGINT,@P2 NVARCHAR(") || !strings.Contains(q.Decl, "@P3 NUMERIC(38,10),@P4 DATETIME2,@P5 DATE,@P6 BIT,@P7 VARBINARY(") {
				t.Fatalf("%v: parameters declared %q", mode, q.Decl)
			}
		}
		// The table is created the first time only; replace deletes first.
		if s := strings.Join(sqls, "; "); !strings.HasPrefix(s, "BEGIN TRANSACTION; sp_columns; ") || !strings.Contains(s, "; COMMIT TRANSACTION") ||
			mode == sdk.Replace && !strings.Contains(s, "sp_columns; DELETE FROM [dbo].[Target]; COMMIT") {
			t.Errorf("%v: statements %s", mode, s)
		}
	}
	if _, ok := db.Table("dbo.target"); !ok {
		t.Fatal("the created table is not in the server's catalog")
	}

	// A failing row: nothing stays, not even the table created for it.
	if _, err := write(sdk.Append, "Failing"); err == nil || !strings.Contains(err.Error(), "Violation of PRIMARY KEY") {
		t.Fatalf("a failing row: %v", err)
	}
	if _, ok := db.Table("dbo.Failing"); ok {
		t.Error("the table created by the failed write is still there")
	}

	// Merge: the staging table is the connection's #table, the statements
	// SQL Server's forms of the merge.
	const (
		stage = "[#hp_merge_stage]"
		last  = "[#hp_merge_last]"
		cols  = "[id], [name], [amount], [at], [day], [flag], [raw], [f]"
	)
	var staged [][]any
	db.HandleFunc("INSERT INTO "+stage+" ("+cols+", [hp_seq]) VALUES (@P1, @P2, @P3, @P4, @P5, @P6, @P7, @P8, @P9)", func(q tds.Query) tds.Response {
		mu.Lock()
		defer mu.Unlock()
		staged = append(staged, q.Args())
		return tds.Response{RowsAffected: 1}
	})
	merge := []string{
		"SELECT [id], MAX([hp_seq]) AS [hp_seq] INTO " + last + " FROM " + stage + " GROUP BY [id]",
		"DELETE t FROM [dbo].[Target] t JOIN " + last + " l ON t.[id] = l.[id]",
		"INSERT INTO [dbo].[Target] (" + cols + ") SELECT s.[id], s.[name], s.[amount], s.[at], s.[day], s.[flag], s.[raw], s.[f] FROM " + stage + " s JOIN " + last + " l ON s.[hp_seq] = l.[hp_seq]",
	}
	for _, q := range merge {
		db.Handle(q, tds.Response{RowsAffected: rows})
	}
	res, err := write(sdk.Merge, "Target")
	if err != nil {
		t.Fatalf("merge: %v", err)
	}
	if res.RowsWritten != rows || len(staged) != rows || len(got) != 0 {
		t.Fatalf("merge: wrote %d rows, staged %d, inserted %d directly; want %d staged", res.RowsWritten, len(staged), len(got), rows)
	}
	for i, args := range staged {
		if args[0] != int64(i) || args[8] != int64(i) {
			t.Fatalf("staged row %d: id %v, sequence %v", i, args[0], args[8])
		}
	}
	var sqls []string
	for _, q := range db.Queries() {
		if !strings.HasPrefix(q.SQL, "INSERT INTO "+stage) {
			sqls = append(sqls, q.SQL)
		}
	}
	want := append([]string{"BEGIN TRANSACTION", "sp_columns",
		"CREATE TABLE " + stage + " ([id] bigint NOT NULL, [name] nvarchar(max) COLLATE DATABASE_DEFAULT, [amount] decimal(38,10), [at] datetime2(7), [day] date, [flag] bit, [raw] varbinary(max), [f] float, [hp_seq] BIGINT NOT NULL PRIMARY KEY)"},
		append(merge, "COMMIT TRANSACTION")...)
	// A rollback after the commit, as FreeTDS's connection is discarded,
	// has nothing left to undo.
	if len(sqls) == len(want)+1 && sqls[len(want)] == "ROLLBACK TRANSACTION" {
		sqls = sqls[:len(want)]
	}
	if strings.Join(sqls, "\n") != strings.Join(want, "\n") {
		t.Fatalf("merge statements:\n%s\nwant:\n%s", strings.Join(sqls, "\n"), strings.Join(want, "\n"))
	}
}

// TestFreeTDSServerGoneMidRead: SQL Server closes the connection (KILL)
// while rows stream through FreeTDS: the read fails as unavailable, after
// some batches and before the end.
func TestFreeTDSServerGoneMidRead(t *testing.T) {
	t.Parallel()
	db, conn := freeTDS(t, "")
	const total = 2000000
	db.DescribeTable("[dbo].[big]", []tds.CatalogColumn{{Name: "id", Type: "bigint", MaxLength: 8, Precision: 19}, {Name: "pad", Type: "varchar", MaxLength: 100}})
	db.Handle("SELECT [id], [pad] FROM [dbo].[big]", tds.Response{
		Columns: []tds.Column{{Name: "id", Type: tds.BigInt}, {Name: "pad", Type: tds.VarChar, Length: 100}},
		RowFunc: func(i int) []any { return []any{int64(i), strings.Repeat("x", 100)} }, NumRows: total,
	})
	remote := plugintest.Serve(t, odbc.New())
	rr, err := remote.Read(context.Background(), sdk.ReadRequest{Conn: conn, Source: sdk.Source{Object: &sdk.ObjectRef{Schema: "dbo", Name: "big"}}, BatchMaxRows: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	rows := int64(0)
	for rr.Next() {
		rows += rr.RecordBatch().NumRows()
		if rows == 1000 && db.KillConnections() == 0 {
			t.Fatal("no connection to kill")
		}
	}
	if err := rr.Err(); !errors.Is(err, sdk.ErrUnavailable) || rows >= total {
		t.Fatalf("after %d rows: %v, want an unavailable error", rows, err)
	}
}
