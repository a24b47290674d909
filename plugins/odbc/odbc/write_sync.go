package odbc

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// Sync implements sdk.Syncer through sqlsource, as Write: the upserts
// staged as a merge stages them, the keys to delete in a temporary table
// of the flavor's kind, all in one transaction.
func (c *Connector) Sync(ctx context.Context, req sdk.WriteRequest, upserts array.RecordReader, deleteKeys func() (array.RecordReader, error)) (*sdk.SyncResult, error) {
	t, err := c.target(ctx, req.Conn)
	if err != nil {
		return nil, err
	}
	return t.src.Sync(ctx, req, upserts, deleteKeys)
}
