package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/halfpipe-io/halfpipe/plugins/sqlite/sqlite"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// failing is a record reader whose stream breaks after its batches.
type failing struct {
	array.RecordReader
	err error
}

func (f failing) Err() error {
	if err := f.RecordReader.Err(); err != nil {
		return err
	}
	return f.err
}

// TestMergeKeyedLastWins: a table created for a merge is keyed by the
// merge keys; within one load the last row of a key wins; a merge whose
// stream breaks changes nothing, and neither does a NULL key.
func TestMergeKeyedLastWins(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	c := sqlite.New()
	conn := sdk.Connection{DSN: "sqlite://" + path + "?mode=rwc"}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "v", Type: arrow.BinaryTypes.String},
	}, nil)
	batch := func(ids []int64, vs ...string) arrow.RecordBatch {
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		defer b.Release()
		for i, id := range ids {
			if id < 0 {
				b.Field(0).AppendNull()
			} else {
				b.Field(0).(*array.Int64Builder).Append(id)
			}
			b.Field(1).(*array.StringBuilder).Append(vs[i])
		}
		return b.NewRecordBatch()
	}
	merge := func(err error, recs ...arrow.RecordBatch) error {
		rr, rerr := array.NewRecordReader(schema, recs)
		if rerr != nil {
			t.Fatal(rerr)
		}
		_, werr := c.Write(context.Background(), sdk.WriteRequest{Conn: conn, Table: sdk.ObjectRef{Name: "m"}, Mode: sdk.Merge, Keys: []string{"id"}, CreateTable: true}, failing{rr, err})
		return werr
	}
	if err := merge(nil, batch([]int64{1, 2, 3}, "a", "a", "a")); err != nil {
		t.Fatal(err)
	}
	if err := merge(nil, batch([]int64{2, 4, 2}, "b", "b", "c"), batch([]int64{4}, "last")); err != nil {
		t.Fatal(err)
	}
	if err := merge(errors.New("the source went away"), batch([]int64{1, 5}, "x", "x")); err == nil {
		t.Fatal("a broken stream merged")
	}
	if err := merge(nil, batch([]int64{3, -1}, "y", "y")); err == nil || !strings.Contains(err.Error(), `"id" is NULL`) {
		t.Fatalf("a NULL key: %v", err)
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var got string
	if err := db.QueryRow("SELECT group_concat(id || '=' || v, ',') FROM (SELECT * FROM m ORDER BY id)").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != "1=a,2=c,3=a,4=last" {
		t.Fatalf("after the merges: %s", got)
	}
	var pk int
	if err := db.QueryRow("SELECT pk FROM pragma_table_info('m') WHERE name = 'id'").Scan(&pk); err != nil || pk != 1 {
		t.Fatalf("id is not the primary key (pk=%d, %v)", pk, err)
	}
}
