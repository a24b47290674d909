package host

import (
	"context"

	"github.com/halfpipe-io/halfpipe/sdk"
	pb "github.com/halfpipe-io/halfpipe/sdk/internal/proto/connectorv1"
)

// ChecksumRanges implements sdk.RangeChecksummer.
func (r *Remote) ChecksumRanges(ctx context.Context, req sdk.ChecksumRangesRequest) ([]sdk.RangeChecksum, error) {
	resp, err := r.client.ChecksumRanges(ctx, &pb.ChecksumRangesRequest{
		Connection: connToProto(req.Conn), Table: refToProto(req.Table), Columns: req.Columns, Where: req.Where,
		Key: req.Key, Lower: req.Lower, Upper: req.Upper, Width: req.Width, Spans: spansToProto(req.Spans),
	})
	if err != nil {
		return nil, r.fail(err)
	}
	out := make([]sdk.RangeChecksum, len(resp.GetRanges()))
	for i, g := range resp.GetRanges() {
		out[i] = sdk.RangeChecksum{Index: g.GetIndex(), Rows: g.GetRows(), Checksum: g.GetChecksum()}
	}
	return out, nil
}
