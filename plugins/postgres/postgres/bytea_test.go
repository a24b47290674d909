package postgres_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/plugins/postgres/postgres"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/plugintest"
)

// TestLargeByteaRoundTrip reads 50 MB bytea values back exactly, each in a
// batch of its own: the batch byte budget must end a batch at the first
// huge row, not after the builder's next periodic size estimate.
func TestLargeByteaRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 200 MB")
	}
	db, s := schemaFor(t)
	if _, err := db.Exec(`CREATE TABLE ` + s + `.blobs (id int PRIMARY KEY, b bytea)`); err != nil {
		t.Fatal(err)
	}
	const size = 50 << 20
	want := map[int32][32]byte{}
	for id := int32(1); id <= 2; id++ {
		blob := make([]byte, size)
		rand.Read(blob)
		want[id] = sha256.Sum256(blob)
		if _, err := db.Exec("INSERT INTO "+s+".blobs VALUES ($1, $2)", id, blob); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec("INSERT INTO " + s + ".blobs VALUES (3, '\\x00ff'), (4, NULL), (5, '')"); err != nil {
		t.Fatal(err)
	}
	want[3] = sha256.Sum256([]byte{0, 0xff})
	want[5] = sha256.Sum256(nil)
	req := sdk.ReadRequest{Conn: sdk.Connection{DSN: testDSN()}, Source: sdk.Source{Object: &sdk.ObjectRef{Schema: s, Name: "blobs"}},
		OrderBy: []sdk.OrderBy{{Column: "id"}}}
	for name, c := range map[string]interface {
		Read(context.Context, sdk.ReadRequest) (array.RecordReader, error)
	}{"direct": postgres.New(), "plugin": plugintest.Serve(t, postgres.New())} {
		t.Run(name, func(t *testing.T) {
			rr, err := c.Read(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			defer rr.Release()
			var batchRows []int64
			seen := 0
			for rr.Next() {
				rec := rr.RecordBatch()
				batchRows = append(batchRows, rec.NumRows())
				if len(batchRows) == 1 {
					// Hold the first 50 MB value, which is pgx's own message
					// buffer, while pgx reads the next message: its hash
					// below fails if pgx reused the buffer.
					time.Sleep(time.Second)
				}
				ids, blobs := rec.Column(0).(*array.Int32), rec.Column(1).(*array.Binary)
				for i := 0; i < int(rec.NumRows()); i++ {
					seen++
					id := ids.Value(i)
					if id == 4 {
						if !blobs.IsNull(i) {
							t.Errorf("row 4 is not NULL")
						}
						continue
					}
					if blobs.IsNull(i) || sha256.Sum256(blobs.Value(i)) != want[id] {
						t.Errorf("row %d: %d bytes, sha256 differs", id, len(blobs.Value(i)))
					}
				}
			}
			if err := rr.Err(); err != nil {
				t.Fatal(err)
			}
			if seen != 5 {
				t.Fatalf("%d rows", seen)
			}
			// One 50 MB row per batch, then the small rows together.
			if len(batchRows) != 3 || batchRows[0] != 1 || batchRows[1] != 1 || batchRows[2] != 3 {
				t.Errorf("batches of %v rows, want [1 1 3]", batchRows)
			}
		})
	}
}
