package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/halfpipe-io/halfpipe/plugins/postgres/postgres"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/plugintest"
)

// syncRows is a stream of (Code, id[, v]) rows, each "code/id[/v]"; a code
// of "-" is NULL.
func syncRows(t *testing.T, withValue bool, rows ...string) array.RecordReader {
	t.Helper()
	fields := []arrow.Field{{Name: "Code", Type: arrow.BinaryTypes.String, Nullable: true}, {Name: "id", Type: arrow.PrimitiveTypes.Int32}}
	if withValue {
		fields = append(fields, arrow.Field{Name: "v", Type: arrow.BinaryTypes.String, Nullable: true})
	}
	s := arrow.NewSchema(fields, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, s)
	defer b.Release()
	for _, r := range rows {
		p := strings.Split(r, "/")
		if p[0] == "-" {
			b.Field(0).AppendNull()
		} else {
			b.Field(0).(*array.StringBuilder).Append(p[0])
		}
		var id int32
		for _, c := range p[1] {
			id = id*10 + c - '0'
		}
		b.Field(1).(*array.Int32Builder).Append(id)
		if withValue {
			b.Field(2).(*array.StringBuilder).Append(p[2])
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	rr, err := array.NewRecordReader(s, []arrow.RecordBatch{rec})
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

func syncTable(t *testing.T, db *sql.DB, table string) string {
	t.Helper()
	rs, err := db.Query(`SELECT "Code", id, v FROM ` + table + ` ORDER BY "Code" COLLATE "C", id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		var code, id, v string
		if err := rs.Scan(&code, &id, &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, code+"/"+id+"/"+v)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, ",")
}

// TestSyncDeletesAndUpsertsAtomically: a sync (through the protocol) on
// a composite key with a mixed-case column upserts by COPY and deletes in
// one transaction, on a table with a primary key (ON CONFLICT) and on one
// without (DELETE and INSERT); a value too long for its column, a NULL key
// to delete or a delete stream that breaks leaves the table as it was.
func TestSyncDeletesAndUpsertsAtomically(t *testing.T) {
	db, s := schemaFor(t)
	r := plugintest.Serve(t, postgres.New())
	if !r.Info().Has(sdk.CapWriteSync) {
		t.Fatalf("capabilities %v lack write_sync", r.Info().Capabilities)
	}
	for _, pk := range []string{`, PRIMARY KEY ("Code", id)`, ""} {
		table := s + ".keyed"
		if pk == "" {
			table = s + ".heap"
		}
		ref := sdk.ObjectRef{Schema: s, Name: strings.TrimPrefix(table, s+".")}
		t.Run(ref.Name, func(t *testing.T) {
			if _, err := db.Exec(`CREATE TABLE ` + table + ` ("Code" text NOT NULL, id integer NOT NULL, v varchar(5) NOT NULL` + pk + `);
				INSERT INTO ` + table + ` VALUES ('a', 1, 'old'), ('A', 1, 'old'), ('á', 1, 'old'), ('b', 2, 'old'), ('b', 3, 'old')`); err != nil {
				t.Fatal(err)
			}
			req := sdk.WriteRequest{Conn: sdk.Connection{DSN: testDSN()}, Table: ref, Mode: sdk.Sync, Keys: []string{"Code", "id"}}
			sync := func(up array.RecordReader, del func() (array.RecordReader, error)) (*sdk.SyncResult, error) {
				return r.Sync(context.Background(), req, up, del)
			}
			res, err := sync(syncRows(t, true, "A/1/new", "c/9/new"), func() (array.RecordReader, error) { return syncRows(t, false, "á/1", "b/3"), nil })
			if err != nil {
				t.Fatal(err)
			}
			want := "A/1/new,a/1/old,b/2/old,c/9/new"
			if got := syncTable(t, db, table); got != want || res.RowsWritten != 2 || res.RowsDeleted != 2 {
				t.Fatalf("after the sync: %s (%+v), want %s, 2 written, 2 deleted", got, res, want)
			}
			for name, tc := range map[string]struct {
				up   array.RecordReader
				del  func() (array.RecordReader, error)
				want string
			}{
				"value too long": {syncRows(t, true, "a/1/toolong"), func() (array.RecordReader, error) { return syncRows(t, false, "b/2"), nil }, "too long"},
				"NULL key":       {syncRows(t, true, "a/1/z"), func() (array.RecordReader, error) { return syncRows(t, false, "b/2", "-/1"), nil }, "NULL"},
				"deletes break":  {syncRows(t, true, "a/1/z"), func() (array.RecordReader, error) { return nil, errors.New("the diff went away") }, "the diff went away"},
			} {
				t.Run(name, func(t *testing.T) {
					if _, err := sync(tc.up, tc.del); err == nil || !strings.Contains(err.Error(), tc.want) {
						t.Fatalf("sync: %v, want an error with %q", err, tc.want)
					}
					if got := syncTable(t, db, table); got != want {
						t.Fatalf("the table changed: %s, want %s", got, want)
					}
				})
			}
		})
	}
}
