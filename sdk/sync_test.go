package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/batch"
	"github.com/halfpipe-io/halfpipe/sdk/plugintest"
)

// syncConnector is memConnector plus a Sync that records what it got.
type syncConnector struct {
	memConnector
	req               sdk.WriteRequest
	upserted, deleted []int64
}

func (s *syncConnector) Sync(ctx context.Context, req sdk.WriteRequest, upserts array.RecordReader, deleteKeys func() (array.RecordReader, error)) (*sdk.SyncResult, error) {
	ids := func(rr array.RecordReader) ([]int64, error) {
		var got []int64
		for rr.Next() {
			got = append(got, rr.RecordBatch().Column(0).(*array.Int64).Int64Values()...)
		}
		return got, rr.Err()
	}
	up, err := ids(upserts)
	if err != nil {
		return nil, fmt.Errorf("upserts broke: %w", err)
	}
	dk, err := deleteKeys()
	if err != nil {
		return nil, err
	}
	if f := dk.Schema().Fields(); len(f) != 1 || f[0].Name != "id" {
		return nil, fmt.Errorf("delete keys' schema is %v", dk.Schema())
	}
	del, err := ids(dk)
	if err != nil {
		return nil, fmt.Errorf("delete keys broke: %w", err)
	}
	s.req, s.upserted, s.deleted = req, up, del
	return &sdk.SyncResult{RowsWritten: int64(len(up)), RowsDeleted: int64(len(del))}, nil
}

var keySchema = arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}}, nil)

func int64Reader(t *testing.T, schema *arrow.Schema, ids ...int64) array.RecordReader {
	bld := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer bld.Release()
	for _, id := range ids {
		bld.Field(0).(*array.Int64Builder).Append(id)
		for i := 1; i < schema.NumFields(); i++ {
			bld.Field(i).AppendNull()
		}
	}
	rec := bld.NewRecordBatch()
	defer rec.Release()
	rr, err := array.NewRecordReader(schema, []arrow.RecordBatch{rec})
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

// TestRemoteSync: a Write in WRITE_MODE_SYNC carries the upserts, then
// the keys to delete, to a Syncer; a connector that is not one refuses it.
func TestRemoteSync(t *testing.T) {
	s := &syncConnector{}
	r := plugintest.Serve(t, s)
	if !r.Info().Has(sdk.CapWriteSync) {
		t.Fatalf("capabilities %v lack %s", r.Info().Capabilities, sdk.CapWriteSync)
	}
	req := sdk.WriteRequest{Table: sdk.ObjectRef{Name: "t"}, Mode: sdk.Sync, Keys: []string{"id"}}
	res, err := r.Sync(t.Context(), req, int64Reader(t, memSchema, 1, 2, 3), func() (array.RecordReader, error) {
		return int64Reader(t, keySchema, 7, 9), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.RowsWritten != 3 || res.RowsDeleted != 2 || !slices.Equal(s.upserted, []int64{1, 2, 3}) || !slices.Equal(s.deleted, []int64{7, 9}) {
		t.Fatalf("result %+v, upserted %v, deleted %v", res, s.upserted, s.deleted)
	}
	if s.req.Mode != sdk.Sync || !slices.Equal(s.req.Keys, []string{"id"}) || s.req.Table.Name != "t" {
		t.Fatalf("request = %+v", s.req)
	}

	// A delete stream that breaks fails the sync before the connector
	// finishes: it sees the broken stream.
	s.upserted, s.deleted = nil, nil
	bad := batch.NewReader(keySchema, func(*batch.Builder) (bool, error) { return false, errors.New("diff died") }, nil)
	_, err = r.Sync(t.Context(), req, int64Reader(t, memSchema, 4), func() (array.RecordReader, error) { return bad, nil })
	if err == nil || !strings.Contains(err.Error(), "diff died") || s.deleted != nil {
		t.Fatalf("Sync with a failing delete stream: %v (deleted %v)", err, s.deleted)
	}

	m := plugintest.Serve(t, &memConnector{})
	if m.Info().Has(sdk.CapWriteSync) {
		t.Fatal("memConnector declares write_sync")
	}
	_, err = m.Sync(t.Context(), req, int64Reader(t, memSchema, 1), func() (array.RecordReader, error) { return int64Reader(t, keySchema), nil })
	if !errors.Is(err, sdk.ErrUnimplemented) {
		t.Fatalf("Sync on a connector that cannot: %v", err)
	}
}
