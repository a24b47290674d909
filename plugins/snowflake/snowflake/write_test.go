package snowflake_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/halfpipe-io/halfpipe/plugins/snowflake/snowflake"
	"github.com/halfpipe-io/halfpipe/sdk"
)

func records(t *testing.T, batches ...[]row) array.RecordReader {
	t.Helper()
	var recs []arrow.RecordBatch
	for _, rows := range batches {
		b := array.NewRecordBuilder(memory.DefaultAllocator, ordersSchema)
		for _, r := range rows {
			b.Field(0).(*array.Int64Builder).Append(r.id)
			if r.name == nil {
				b.Field(1).AppendNull()
			} else {
				b.Field(1).(*array.StringBuilder).Append(*r.name)
			}
		}
		recs = append(recs, b.NewRecordBatch())
		b.Release()
	}
	rr, err := array.NewRecordReader(ordersSchema, recs)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

// broken is a stream that fails after its first batch.
type broken struct {
	array.RecordReader
	n int
}

func (b *broken) Next() bool { b.n++; return b.n == 1 && b.RecordReader.Next() }
func (b *broken) Err() error { return errors.New("source connection reset") }

var putPath = regexp.MustCompile(`'file://[^']*/(part-\d+\.parquet)'`)
var subDir = regexp.MustCompile(`hp_[0-9A-F]+/`)

func TestWriteThroughTableStage(t *testing.T) {
	e := newEnv(t, false) // no S3: PUT goes to the table's own stage
	c := snowflake.New()
	ctx := context.Background()
	req := func(mode sdk.WriteMode, keys ...string) sdk.WriteRequest {
		return sdk.WriteRequest{Conn: sdk.Connection{DSN: e.dsn("etl", password, "")}, Table: sdk.ObjectRef{Schema: "PUBLIC", Name: "W"},
			Mode: mode, Keys: keys, CreateTable: true}
	}
	res, err := c.Write(ctx, req(sdk.Replace), records(t, []row{{1, s("one")}, {2, nil}}, []row{{3, s("three")}}))
	if err != nil || res.RowsWritten != 3 {
		t.Fatalf("replace: %+v, %v", res, err)
	}
	var got []string
	for _, q := range statements(e) {
		got = append(got, subDir.ReplaceAllString(putPath.ReplaceAllString(q, "'file://<tmp>/$1'"), "hp_*/"))
	}
	pin(t, "write replace", got,
		`CREATE TABLE "PUBLIC"."W" ("ID" NUMBER(19,0), "NAME" VARCHAR)`,
		`PUT 'file://<tmp>/part-00001.parquet' @"PUBLIC".%"W"/hp_*/ AUTO_COMPRESS=FALSE SOURCE_COMPRESSION=NONE OVERWRITE=TRUE`,
		`BEGIN`, `DELETE FROM "PUBLIC"."W"`,
		`COPY INTO "PUBLIC"."W" FROM @"PUBLIC".%"W"/hp_*/ FILES=('part-00001.parquet') FILE_FORMAT=(TYPE=PARQUET) MATCH_BY_COLUMN_NAME=CASE_INSENSITIVE ON_ERROR=ABORT_STATEMENT FORCE=TRUE`,
		`COMMIT`, `REMOVE @"PUBLIC".%"W"/hp_*/`)
	if got, want := contents(t, e, "PUBLIC.W"), "1|one 2|NULL 3|three"; got != want {
		t.Errorf("after replace: %s, want %s", got, want)
	}
	if _, err := c.Write(ctx, req(sdk.Merge, "id"), records(t, []row{{2, s("two-a")}, {4, s("four")}, {2, s("two-b")}})); err != nil {
		t.Fatal(err)
	}
	if got, want := contents(t, e, "PUBLIC.W"), "1|one 2|two-b 3|three 4|four"; got != want {
		t.Errorf("after merge: %s, want %s", got, want)
	}
	if _, err := c.Write(ctx, req(sdk.Append), records(t, []row{{5, s("five")}})); err != nil {
		t.Fatal(err)
	}
	want := "1|one 2|two-b 3|three 4|four 5|five"
	if got := contents(t, e, "PUBLIC.W"); got != want {
		t.Errorf("after append: %s, want %s", got, want)
	}
	statements(e)
	// A broken stream fails before Snowflake hears of it.
	_, err = c.Write(ctx, req(sdk.Replace), &broken{RecordReader: records(t, []row{{9, s("nine")}})})
	if err == nil || !strings.Contains(err.Error(), "source connection reset") {
		t.Errorf("broken stream: %v", err)
	}
	if st := statements(e); len(st) != 0 {
		t.Errorf("a broken stream reached Snowflake: %v", st)
	}
	// A failed COPY leaves the table as it was.
	e.srv.FailNext("COPY", "000603", "injected failure")
	if _, err := c.Write(ctx, req(sdk.Replace), records(t, []row{{9, s("nine")}})); err == nil {
		t.Error("a write whose COPY failed succeeded")
	}
	if got := contents(t, e, "PUBLIC.W"); got != want {
		t.Errorf("after a failed write: %s, want %s", got, want)
	}
}
