package host

import (
	"context"

	"github.com/halfpipe-io/halfpipe/sdk"
	pb "github.com/halfpipe-io/halfpipe/sdk/internal/proto/connectorv1"
)

// ChecksumRanges implements sdk.RangeChecksummer.
func (r *Remote) ChecksumRanges(ctx context.Context, req sdk.ChecksumRangesRequest) (*sdk.ChecksumRangesResult, error) {
	resp, err := r.client.ChecksumRanges(ctx, &pb.ChecksumRangesRequest{
		Connection: connToProto(req.Conn), Table: refToProto(req.Table), Columns: req.Columns, Where: req.Where,
		Key: req.Key, Lower: req.Lower, Upper: req.Upper, Width: req.Width, Spans: spansToProto(req.Spans),
	})
	if err != nil {
		return nil, r.fail(err)
	}
	out := &sdk.ChecksumRangesResult{Ranges: make([]sdk.RangeChecksum, len(resp.GetRanges())), Maintained: resp.GetMaintained(), Note: resp.GetNote()}
	for i, g := range resp.GetRanges() {
		out.Ranges[i] = sdk.RangeChecksum{Index: g.GetIndex(), Rows: g.GetRows(), Checksum: g.GetChecksum()}
	}
	return out, nil
}

// MaintainChecksums implements sdk.ChecksumMaintainer.
func (r *Remote) MaintainChecksums(ctx context.Context, req sdk.MaintainChecksumsRequest) (*sdk.MaintainChecksumsResult, error) {
	action := map[sdk.ChecksumsAction]pb.ChecksumsAction{
		sdk.ChecksumsStatus: pb.ChecksumsAction_CHECKSUMS_ACTION_STATUS, sdk.ChecksumsInstall: pb.ChecksumsAction_CHECKSUMS_ACTION_INSTALL,
		sdk.ChecksumsDrop: pb.ChecksumsAction_CHECKSUMS_ACTION_DROP,
	}[req.Action]
	resp, err := r.client.MaintainChecksums(ctx, &pb.MaintainChecksumsRequest{
		Connection: connToProto(req.Conn), Table: refToProto(req.Table), Key: req.Key, Columns: req.Columns,
		Action: action, DryRun: req.DryRun,
	})
	if err != nil {
		return nil, r.fail(err)
	}
	s := resp.GetState()
	return &sdk.MaintainChecksumsResult{Statements: resp.GetStatements(), State: sdk.ChecksumsState{
		Installed: s.GetInstalled(), Shadow: s.GetShadow(), Key: s.GetKey(), Columns: s.GetColumns(),
		Rows: s.GetRows(), Stale: s.GetStale(), Note: s.GetNote(),
	}}, nil
}
