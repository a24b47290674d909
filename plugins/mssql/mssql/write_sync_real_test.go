package mssql

import (
	"context"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/plugintest"
)

// TestRealServerSync: on a real SQL Server, a sync with a composite text
// key under the database's (usually case-insensitive) collation deletes
// first, so the upsert of ('a', 1) survives the delete of ('A', 1); a
// value too long for its column fails the sync after its DELETE and
// leaves the table as it was.
func TestRealServerSync(t *testing.T) {
	conn, db := realServer(t)
	full, ref := realTable(t, db, "sync", "region nvarchar(20) NOT NULL, id bigint NOT NULL, note nvarchar(10) NOT NULL, PRIMARY KEY (region, id)")
	realExec(t, db, "INSERT INTO "+full+" VALUES (N'A', 1, N'x'), (N'b', 2, N'x'), (N'é', 3, N'x')")
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "region", Type: arrow.BinaryTypes.String},
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "note", Type: arrow.BinaryTypes.String},
	}, nil)
	keys := arrow.NewSchema(schema.Fields()[:2], nil)
	reader := func(s *arrow.Schema, rows [][]any) array.RecordReader {
		rr, err := array.NewRecordReader(s, []arrow.RecordBatch{plugintest.Rows(t, s, rows)})
		if err != nil {
			t.Fatal(err)
		}
		return rr
	}
	dump := func() string {
		rows, err := db.Query("SELECT region, id, note FROM " + full + " ORDER BY region COLLATE Latin1_General_100_BIN2, id")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var r, note string
			var id int64
			if err := rows.Scan(&r, &id, &note); err != nil {
				t.Fatal(err)
			}
			out = append(out, r+"/"+note)
		}
		return strings.Join(out, " ")
	}
	req := sdk.WriteRequest{Conn: conn, Table: *ref, Mode: sdk.Sync, Keys: []string{"region", "id"}}
	sync := func(up, del [][]any) (*sdk.SyncResult, error) {
		return New().Sync(context.Background(), req, reader(schema, up), func() (array.RecordReader, error) { return reader(keys, del), nil })
	}
	before := dump()
	if _, err := sync([][]any{{"b", int64(2), "far too long a note"}}, [][]any{{"é", int64(3)}}); err == nil {
		t.Fatal("a value too long synced")
	}
	if got := dump(); got != before {
		t.Fatalf("a failed sync left %q, want %q", got, before)
	}
	res, err := sync([][]any{{"a", int64(1), "lower"}, {"z", int64(4), "new"}}, [][]any{{"A", int64(1)}, {"é", int64(3)}})
	if err != nil {
		t.Fatal(err)
	}
	if res.RowsWritten != 2 || res.RowsDeleted != 2 {
		t.Errorf("result %+v, want 2 written, 2 deleted", res)
	}
	if got, want := dump(), "a/lower b/x z/new"; got != want {
		t.Fatalf("table %q, want %q", got, want)
	}
}

// TestRealServerSyncCollation: on a real SQL Server, a key column whose
// collation is not tempdb's (a binary one, or a case-sensitive one when
// tempdb's is binary) syncs: the staged keys take the column's collation,
// where a #table's default (tempdb's) would fail the DELETE's join with
// error 468. Under it 'A' and 'a' are two keys.
func TestRealServerSyncCollation(t *testing.T) {
	conn, db := realServer(t)
	var tempdb string
	if err := db.QueryRow("SELECT CONVERT(nvarchar(128), DATABASEPROPERTYEX('tempdb', 'Collation'))").Scan(&tempdb); err != nil {
		t.Fatal(err)
	}
	coll := "Latin1_General_100_BIN2"
	if strings.EqualFold(tempdb, coll) {
		coll = "Latin1_General_100_CS_AS"
	}
	full, ref := realTable(t, db, "synccoll", "code nvarchar(20) COLLATE "+coll+" NOT NULL, note nvarchar(10) NULL, PRIMARY KEY (code)")
	realExec(t, db, "INSERT INTO "+full+" VALUES (N'A', N'x'), (N'a', N'x'), (N'b', N'x')")
	schema := arrow.NewSchema([]arrow.Field{{Name: "code", Type: arrow.BinaryTypes.String}, {Name: "note", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	keys := arrow.NewSchema(schema.Fields()[:1], nil)
	reader := func(s *arrow.Schema, rows [][]any) array.RecordReader {
		rr, err := array.NewRecordReader(s, []arrow.RecordBatch{plugintest.Rows(t, s, rows)})
		if err != nil {
			t.Fatal(err)
		}
		return rr
	}
	req := sdk.WriteRequest{Conn: conn, Table: *ref, Mode: sdk.Sync, Keys: []string{"code"}}
	res, err := New().Sync(context.Background(), req, reader(schema, [][]any{{"a", "new"}, {"B", "new"}}), func() (array.RecordReader, error) {
		return reader(keys, [][]any{{"A"}}), nil
	})
	if err != nil {
		t.Fatalf("sync into a column of collation %s (tempdb's is %s): %v", coll, tempdb, err)
	}
	if res.RowsWritten != 2 || res.RowsDeleted != 1 {
		t.Errorf("result %+v, want 2 written, 1 deleted", res)
	}
	rows, err := db.Query("SELECT code + '=' + note FROM " + full + " ORDER BY code COLLATE Latin1_General_100_BIN2")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	if strings.Join(got, " ") != "B=new a=new b=x" {
		t.Fatalf("table %q, want B=new a=new b=x", got)
	}
}
