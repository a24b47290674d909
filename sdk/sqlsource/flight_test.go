package sqlsource

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/batch"
)

// bigRows returns n rows of one 3 MiB value each.
type bigRows struct{ i, n int }

func (r *bigRows) Columns() []string { return []string{"a"} }
func (r *bigRows) Close() error      { return nil }
func (r *bigRows) Next(dest []driver.Value) error {
	if r.i == r.n {
		return io.EOF
	}
	r.i++
	dest[0] = strings.Repeat(string(rune('A'+r.i)), 3<<20)
	return nil
}

// Batches of two 3 MiB rows (the byte limit is 4 MiB) go to a slow reader:
// the producer starts a batch only when the batches the reader has not
// moved past leave room for it, so the flight's 8 MiB are never exceeded
// (a channel of one batch plus the one being sent would hold 12).
func TestReaderHoldsBigBatchesWithinBudget(t *testing.T) {
	c := New(sdk.Info{}, &Dialect{
		Open: func(sdk.Connection) (*sql.DB, error) { return sql.OpenDB(&fakeDB{}), nil },
		Map: func(ColumnMeta) (Mapping, error) {
			return Mapping{Type: arrow.BinaryTypes.String, Decode: DecodeString}, nil
		},
		Query: func(context.Context, any, string, []any, []ColumnMeta) (driver.Rows, error) {
			return &bigRows{n: 8}, nil
		},
	})
	rr, err := c.Read(context.Background(), sdk.ReadRequest{Conn: sdk.Connection{DSN: "fake://"}, Source: sdk.Source{Query: "select a from t"}})
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	flight := rr.(*reader).flight
	rows, most := 0, int64(0)
	for rr.Next() {
		time.Sleep(30 * time.Millisecond) // sending it
		most = max(most, flight.InFlight())
		rec := rr.RecordBatch()
		for i := 0; i < int(rec.NumRows()); i++ {
			rows++
			if s := rec.Column(0).(*array.String).Value(i); len(s) != 3<<20 || s[0] != byte('A'+rows) {
				t.Fatalf("row %d: %d bytes, or the wrong ones", rows, len(s))
			}
		}
	}
	if err := rr.Err(); err != nil {
		t.Fatal(err)
	}
	if rows != 8 || most > 2*batch.DefaultMaxBytes {
		t.Fatalf("%d rows, at most %d bytes in flight; want 8 and at most %d", rows, most, 2*batch.DefaultMaxBytes)
	}
}
