package oracle

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/plugintest"
)

var syncSchema = arrow.NewSchema([]arrow.Field{
	{Name: "region", Type: arrow.BinaryTypes.String},
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "note", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

var syncKeySchema = arrow.NewSchema([]arrow.Field{
	{Name: "region", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
}, nil)

func recordsFor(t *testing.T, schema *arrow.Schema, rows [][]any) array.RecordReader {
	rr, err := array.NewRecordReader(schema, []arrow.RecordBatch{plugintest.Rows(t, schema, rows)})
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

// syncTable is HP.T_SYNC's rows, in key order.
func syncTable(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT "REGION", "ID", "NOTE" FROM "HP"."T_SYNC" ORDER BY "REGION", "ID"`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var r, id, note any
		if err := rows.Scan(&r, &id, &note); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%v/%v/%v", r, id, note))
	}
	return out
}

var deleteStage = regexp.MustCompile(`HP_DELETE_[0-9A-F]{12}`)

// TestSyncCompositeKeys: on the store, a sync with a composite key
// stages the upserts and the keys to delete in global temporary tables
// created before its transaction, deletes, merges and commits (statements
// pinned); a failing MERGE or a broken stream of keys rolls it all back.
func TestSyncCompositeKeys(t *testing.T) {
	st := newStore(t)
	storeExec(t, st, `CREATE TABLE T_SYNC (REGION VARCHAR2(10 CHAR) NOT NULL, ID NUMBER(10) NOT NULL, NOTE VARCHAR2(20 CHAR) NOT NULL, PRIMARY KEY (REGION, ID))`)
	for _, r := range [][]any{{"a", 1, "x"}, {"a", 2, "x"}, {"b", 1, "x"}, {"b", 2, "x"}} {
		storeExec(t, st, `INSERT INTO T_SYNC VALUES (:1, :2, :3)`, r...)
	}
	f := st.DB()
	c := NewWithDB(open(f))
	req := sdk.WriteRequest{Conn: sdk.Connection{DSN: "oracle://fake"}, Table: sdk.ObjectRef{Name: "T_SYNC"}, Mode: sdk.Sync, Keys: []string{"region", "id"}}
	before := syncTable(t, f.Open())
	statements := func(from int) []string {
		var out []string
		for _, c := range f.Calls()[from:] {
			switch c.SQL {
			case CurrentSchemaQuery, ResolveQuery, ColumnsQuery:
				continue
			}
			out = append(out, deleteStage.ReplaceAllString(stage.ReplaceAllString(c.SQL, "HP_MERGE_X"), "HP_DELETE_X"))
		}
		return out
	}

	// A NOT NULL column refuses the upsert of (b, 2) at the MERGE.
	for name, run := range map[string]func() error{
		"merge fails": func() error {
			_, err := c.Sync(context.Background(), req, recordsFor(t, syncSchema, [][]any{{"b", int64(2), nil}}),
				func() (array.RecordReader, error) { return recordsFor(t, syncKeySchema, [][]any{{"a", int64(1)}}), nil })
			return err
		},
		"keys break": func() error {
			_, err := c.Sync(context.Background(), req, recordsFor(t, syncSchema, [][]any{{"c", int64(1), "new"}}),
				func() (array.RecordReader, error) {
					return &brokenReader{RecordReader: recordsFor(t, syncKeySchema, [][]any{{"a", int64(1)}})}, nil
				})
			return err
		},
		"NULL key": func() error {
			_, err := c.Sync(context.Background(), req, recordsFor(t, syncSchema, [][]any{{"c", int64(1), "new"}}),
				func() (array.RecordReader, error) {
					return recordsFor(t, syncKeySchema, [][]any{{"a", int64(1)}, {nil, int64(2)}}), nil
				})
			return err
		},
	} {
		from := len(f.Calls())
		if err := run(); err == nil {
			t.Errorf("%s: Sync succeeded", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
		if s := statements(from); !slices.Contains(s, "ROLLBACK") || slices.Contains(s, "COMMIT") {
			t.Errorf("%s: statements %q", name, s)
		}
		if got := syncTable(t, f.Open()); !reflect.DeepEqual(got, before) {
			t.Errorf("%s: the table is %q after a failed sync, want %q", name, got, before)
		}
	}

	from := len(f.Calls())
	res, err := c.Sync(context.Background(), req, recordsFor(t, syncSchema, [][]any{{"a", int64(2), "new"}, {"c", int64(1), "ins"}}),
		func() (array.RecordReader, error) { return recordsFor(t, syncKeySchema, [][]any{{"b", int64(1)}}), nil })
	if err != nil {
		t.Fatal(err)
	}
	if res.RowsWritten != 2 || res.RowsDeleted != 1 {
		t.Errorf("result %+v, want 2 written and 1 deleted", res)
	}
	gotSQL := statements(from)
	want := []string{"a/1/x", "a/2/new", "b/2/x", "c/1/ins"}
	if got := syncTable(t, f.Open()); !reflect.DeepEqual(got, want) {
		t.Errorf("table %q, want %q", got, want)
	}
	wantSQL := []string{
		`CREATE GLOBAL TEMPORARY TABLE "HP_MERGE_X" ("REGION" VARCHAR2(4000 CHAR), "ID" NUMBER(19), "NOTE" CLOB, "HP_SEQ" NUMBER(19) NOT NULL) ON COMMIT DELETE ROWS`,
		`CREATE GLOBAL TEMPORARY TABLE "HP_DELETE_X" ON COMMIT DELETE ROWS AS SELECT "REGION", "ID" FROM "HP"."T_SYNC" WHERE 1 = 0`,
		"SET TRANSACTION READ WRITE",
		`INSERT INTO "HP_MERGE_X" ("REGION", "ID", "NOTE", "HP_SEQ") VALUES (:1, :2, :3, :4)`,
		`INSERT INTO "HP_DELETE_X" ("REGION", "ID") VALUES (:1, :2)`,
		`DELETE FROM "HP"."T_SYNC" WHERE ("REGION", "ID") IN (SELECT "REGION", "ID" FROM "HP_DELETE_X")`,
		`MERGE INTO "HP"."T_SYNC" t USING (SELECT "REGION", "ID", "NOTE" FROM "HP_MERGE_X" WHERE "HP_SEQ" IN (SELECT MAX("HP_SEQ") FROM "HP_MERGE_X" GROUP BY "REGION", "ID")) s ` +
			`ON (t."REGION" = s."REGION" AND t."ID" = s."ID") WHEN MATCHED THEN UPDATE SET t."NOTE" = s."NOTE" ` +
			`WHEN NOT MATCHED THEN INSERT ("REGION", "ID", "NOTE") VALUES (s."REGION", s."ID", s."NOTE")`,
		"COMMIT", `DROP TABLE "HP_MERGE_X" PURGE`, `DROP TABLE "HP_DELETE_X" PURGE`,
	}
	if !reflect.DeepEqual(gotSQL, wantSQL) {
		t.Errorf("statements\n got %q\nwant %q", gotSQL, wantSQL)
	}
	if _, err := c.Sync(context.Background(), sdk.WriteRequest{Conn: req.Conn, Table: sdk.ObjectRef{Name: "NOPE"}, Mode: sdk.Sync, Keys: req.Keys},
		recordsFor(t, syncSchema, nil), nil); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("a missing table: %v", err)
	}
}
