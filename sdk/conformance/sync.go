package conformance

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/batch"
	"github.com/halfpipe-io/halfpipe/sdk/host"
	"github.com/halfpipe-io/halfpipe/sdk/plugintest"
)

// syncSuite holds a Syncer in-process and behind the protocol.
type syncSuite struct {
	*targetSuite
	local  sdk.Syncer
	remote *host.Remote
}

// keysOf is a stream of keys to delete, in batches of 2; a nil id is
// NULL. With fail the stream fails once it has delivered them all.
func keysOf(ids []*int64, fail bool) array.RecordReader {
	nullable := false
	for _, id := range ids {
		nullable = nullable || id == nil
	}
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: nullable}}, nil)
	i := 0
	fill := func(b *batch.Builder) (bool, error) {
		if i >= len(ids) {
			if fail {
				return false, errSourceBroke
			}
			return false, nil
		}
		for ; i < len(ids); i++ {
			if ids[i] == nil {
				b.Field(0).AppendNull()
			} else {
				b.Field(0).(*array.Int64Builder).Append(*ids[i])
			}
			if b.EndRow() {
				i++
				return i < len(ids) || fail, nil
			}
		}
		return fail, nil
	}
	return batch.NewReader(schema, fill, nil, batch.WithMaxRows(2))
}

func ids(v ...int64) []*int64 {
	out := make([]*int64, len(v))
	for i := range v {
		out[i] = &v[i]
	}
	return out
}

// sync checks a Syncer: upserts and deletes applied together over the
// protocol, and a sync whose upserts or deletes break, or whose keys to
// delete hold a NULL, leaves the table exactly as it was.
func (s *targetSuite) sync(t *testing.T, c sdk.Connector) {
	sy, ok := c.(sdk.Syncer)
	if !ok {
		t.Skip("connector cannot sync (no " + string(sdk.CapWriteSync) + ")")
	}
	ss := &syncSuite{targetSuite: s, local: sy, remote: plugintest.Serve(t, c)}
	t.Run("applies", ss.applies)
	t.Run("broken_upserts", func(t *testing.T) {
		ss.broken(t, recordsOf(rows(7, 30, "x"), brokenRows, nil), keysOf(ids(2), false))
	})
	t.Run("broken_deletes", func(t *testing.T) {
		ss.broken(t, recordsOf(rows(8, 12, "x"), -1, nil), keysOf(ids(2, 3, 5), true))
	})
	t.Run("null_delete_key", func(t *testing.T) {
		ss.broken(t, recordsOf(rows(8, 12, "x"), -1, nil), keysOf(append(ids(2, 3), nil), false))
	})
}

// base creates a keyed table holding rows 1-10.
func (ss *syncSuite) base(t *testing.T) sdk.ObjectRef {
	t.Helper()
	table := ss.f.NewTable(t)
	if _, err := ss.write(table, sdk.Merge, rows(1, 10, "a"), []string{"id"}); err != nil {
		t.Fatal(err)
	}
	return table
}

func (ss *syncSuite) request(table sdk.ObjectRef) sdk.WriteRequest {
	return sdk.WriteRequest{Conn: ss.f.Conn, Table: table, Mode: sdk.Sync, Keys: []string{"id"}}
}

func (ss *syncSuite) applies(t *testing.T) {
	table := ss.base(t)
	// Rows 8-10 change, 11-14 are new, 2, 3 and 5 go.
	res, err := ss.remote.Sync(context.Background(), ss.request(table), recordsOf(rows(8, 14, "s"), -1, nil),
		func() (array.RecordReader, error) { return keysOf(ids(2, 3, 5), false), nil })
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if res.RowsWritten != 7 || res.RowsDeleted != 3 {
		t.Errorf("Sync wrote %d and deleted %d rows, want 7 and 3", res.RowsWritten, res.RowsDeleted)
	}
	want := append(append(rows(1, 1, "a"), rows(4, 4, "a")...), rows(6, 7, "a")...)
	ss.expect(t, table, append(want, rows(8, 14, "s")...))
}

// broken runs a Sync in-process that must fail, and checks the table.
func (ss *syncSuite) broken(t *testing.T, upserts, deletes array.RecordReader) {
	table := ss.base(t)
	defer deletes.Release()
	_, err := ss.local.Sync(context.Background(), ss.request(table), upserts, func() (array.RecordReader, error) { return deletes, nil })
	if err == nil {
		t.Fatalf("Sync of %s succeeded, want an error", table)
	}
	ss.expect(t, table, rows(1, 10, "a"))
}
