package mssql_test

import (
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/halfpipe-io/halfpipe/plugins/mssql/mssql"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/conformance"
	"github.com/halfpipe-io/halfpipe/sdk/plugintest"
	"github.com/halfpipe-io/halfpipe/testkit/tds"
)

// confColumns is the source table: every column but the key nullable.
var confColumns = []tds.Column{
	{Name: "id", Type: tds.BigInt},
	{Name: "name", Type: tds.NVarChar, Length: 50, Nullable: true},
	{Name: "amount", Type: tds.Decimal, Precision: 18, Scale: 4, Nullable: true},
	{Name: "at", Type: tds.DateTime2, Scale: 7, Nullable: true},
	{Name: "flag", Type: tds.Bit, Nullable: true},
	{Name: "data", Type: tds.VarBinary, Length: tds.Max, Nullable: true},
}

func TestConformance(t *testing.T) {
	s, conn := start(t)
	st := tds.NewStore(s, tds.StoreQueries{Columns: mssql.ColumnsQuery, PrimaryKey: mssql.PrimaryKeyQuery, Version: mssql.VersionQuery})
	s.Handle(mssql.ObjectsQuery, tds.Response{
		Columns: []tds.Column{{Type: tds.NVarChar, Length: 128}, {Type: tds.NVarChar, Length: 128}, {Type: tds.NVarChar, Length: 60}},
		Rows:    [][]any{{"dbo", "big", "USER_TABLE"}, {"dbo", "conf", "USER_TABLE"}, {"dbo", "empty", "USER_TABLE"}},
	})

	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "amount", Type: &arrow.Decimal128Type{Precision: 18, Scale: 4}, Nullable: true},
		{Name: "at", Type: &arrow.TimestampType{Unit: arrow.Nanosecond}, Nullable: true},
		{Name: "flag", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "data", Type: arrow.BinaryTypes.Binary, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	var rows [][]any
	for i := int64(1); i <= 24; i++ {
		id := i * 7 % 25 // not in key order
		r := []any{id, nil, nil, nil, nil, nil}
		b.Field(0).(*array.Int64Builder).Append(id)
		if id%4 != 0 {
			r[1] = fmt.Sprintf("naïve ✓ %d", id)
			b.Field(1).(*array.StringBuilder).Append(r[1].(string))
		} else {
			b.Field(1).AppendNull()
		}
		if id%3 != 0 {
			unscaled := -(id%5 + 1) * 123456789 // in neither order by id, for OrderColumn
			r[2] = big.NewRat(unscaled, 10000)
			b.Field(2).(*array.Decimal128Builder).Append(decimal128.FromI64(unscaled))
		} else {
			b.Field(2).AppendNull()
		}
		if id%5 != 0 {
			at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(id) * (time.Hour + 100))
			r[3] = at
			b.Field(3).(*array.TimestampBuilder).Append(arrow.Timestamp(at.UnixNano()))
		} else {
			b.Field(3).AppendNull()
		}
		if id%2 == 0 {
			r[4] = id%4 == 0
			b.Field(4).(*array.BooleanBuilder).Append(id%4 == 0)
		} else {
			b.Field(4).AppendNull()
		}
		if id%6 != 0 {
			r[5] = []byte{byte(id), 0, 0xFF}
			b.Field(5).(*array.BinaryBuilder).Append(r[5].([]byte))
		} else {
			b.Field(5).AppendNull()
		}
		rows = append(rows, r)
	}
	expected := b.NewRecordBatch()
	defer expected.Release()
	st.Add("[dbo].[conf]", confColumns, rows)
	st.Add("[dbo].[empty]", confColumns, nil)
	var bigRows [][]any
	for i := int64(0); i < 120_000; i++ {
		bigRows = append(bigRows, []any{i, "row", nil, nil, nil, nil})
	}
	st.Add("[dbo].[big]", confColumns, bigRows)
	blob := make([]byte, 5<<20)
	for i := range blob {
		blob[i] = byte(i)
	}
	st.Add("[dbo].[blobs]", confColumns, [][]any{{int64(1), nil, nil, nil, nil, blob}})

	remote := plugintest.Serve(t, mssql.New())
	conformance.RunSourceSuite(t, remote, conformance.SourceFixture{
		Conn: conn, Table: dbo("conf"), Expected: expected, KeyColumn: "id", OrderColumn: "amount",
		Empty: dbo("empty"), Large: dbo("big"), LargeValues: dbo("blobs"), Missing: dbo("missing"),
	})
	n := 0
	conformance.RunTargetSuite(t, mssql.New(), conformance.TargetFixture{Conn: conn, NewTable: func(t *testing.T) sdk.ObjectRef {
		n++
		return dbo(fmt.Sprintf("Target %d", n))
	}})
}
