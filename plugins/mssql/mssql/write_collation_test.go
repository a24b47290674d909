package mssql_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/plugins/mssql/mssql"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/testkit/tds"
)

// TestStagingCollations: a sync and a merge stage rows in #tables, whose
// text columns would take tempdb's collation; on a server whose database
// collation differs from tempdb's (and with a key column of a collation
// of its own), comparing staged keys with the table's fails with error
// 468, as the TDS test server's store does. The staging tables declare
// each text column in the table's column's collation, so both succeed,
// and the statements are pinned.
func TestStagingCollations(t *testing.T) {
	const dbColl, tempColl, binColl = "Latin1_General_100_CI_AS_SC_UTF8", "SQL_Latin1_General_CP1_CI_AS", "Latin1_General_100_BIN2"
	s := tds.Start(t, tds.WithLogin("loader", "S3cret!pw"), tds.WithCollations(dbColl, tempColl))
	conn := sdk.Connection{DSN: s.DSN("loader", "S3cret!pw", "warehouse")}
	st := tds.NewStore(s, tds.StoreQueries{Columns: mssql.ColumnsQuery, PrimaryKey: mssql.PrimaryKeyQuery, Version: mssql.VersionQuery})
	st.Add("[dbo].[coll]", []tds.Column{
		{Name: "region", Type: tds.NVarChar, Length: 20},                  // the database's collation
		{Name: "code", Type: tds.VarChar, Length: 10, Collation: binColl}, // its own
		{Name: "id", Type: tds.BigInt},                                    // no collation
		{Name: "note", Type: tds.NVarChar, Length: 50, Nullable: true},    // not a key
	}, [][]any{{"eu", "A", int64(1), "old"}, {"eu", "a", int64(1), "old"}, {"us", "B", int64(2), "old"}})
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "region", Type: arrow.BinaryTypes.String},
		{Name: "code", Type: arrow.BinaryTypes.String},
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "note", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	keys := arrow.NewSchema(schema.Fields()[:3], nil)
	ref := sdk.ObjectRef{Schema: "dbo", Name: "coll"}
	dump := func() string {
		var out []string
		for _, r := range st.Rows("[dbo].[coll]") {
			out = append(out, fmt.Sprintf("%v/%v/%v=%v", r...))
		}
		return strings.Join(out, " ")
	}
	staging := regexp.MustCompile(`^CREATE TABLE \[#hp_(merge|delete)_[0-9a-f]{16}\] `)
	stagingSQL := func() []string {
		var out []string
		for _, q := range texts(s) {
			if m := staging.FindStringSubmatch(q); m != nil {
				out = append(out, m[1]+": "+q[len(m[0]):])
			}
		}
		s.ResetQueries()
		return out
	}
	rowsDDL := "([region] nvarchar(max) COLLATE " + dbColl + " NOT NULL, [code] nvarchar(max) COLLATE " + binColl +
		" NOT NULL, [id] bigint NOT NULL, [note] nvarchar(max) COLLATE " + dbColl + " NULL, [hp_seq] bigint NOT NULL)"

	res, err := mssql.New().Sync(context.Background(), sdk.WriteRequest{Conn: conn, Table: ref, Mode: sdk.Sync, Keys: []string{"region", "code", "id"}},
		readerOf(t, schema, [][]any{{"eu", "a", int64(1), "new"}, {"us", "C", int64(3), "new"}}),
		func() (array.RecordReader, error) { return readerOf(t, keys, [][]any{{"eu", "A", int64(1)}}), nil })
	if err != nil {
		t.Fatalf("sync under a tempdb collation other than the table's: %v", err)
	}
	if res.RowsWritten != 2 || res.RowsDeleted != 1 {
		t.Errorf("sync result %+v, want 2 written and 1 deleted", res)
	}
	if got, want := dump(), "eu/a/1=new us/B/2=old us/C/3=new"; got != want {
		t.Errorf("after the sync: %s, want %s", got, want)
	}
	want := []string{"merge: " + rowsDDL,
		"delete: ([region] nvarchar(max) COLLATE " + dbColl + " NOT NULL, [code] nvarchar(max) COLLATE " + binColl + " NOT NULL, [id] bigint NOT NULL)"}
	if got := stagingSQL(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("sync's staging tables:\n%q\nwant\n%q", got, want)
	}

	// A merge write stages its rows alike.
	if _, err := mssql.New().Write(context.Background(), sdk.WriteRequest{Conn: conn, Table: ref, Mode: sdk.Merge, Keys: []string{"region", "code", "id"}},
		readerOf(t, schema, [][]any{{"us", "B", int64(2), "merged"}})); err != nil {
		t.Fatalf("merge under a tempdb collation other than the table's: %v", err)
	}
	if got, want := dump(), "eu/a/1=new us/B/2=merged us/C/3=new"; got != want {
		t.Errorf("after the merge: %s, want %s", got, want)
	}
	if got := stagingSQL(); fmt.Sprint(got) != fmt.Sprint([]string{"merge: " + rowsDDL}) {
		t.Errorf("merge's staging table: %q", got)
	}
}
