package sdk

import (
	"context"

	pb "github.com/halfpipe-io/halfpipe/sdk/internal/proto/connectorv1"
)

// ChecksumMaintainer is implemented by SQL connectors whose database can
// keep the checksums of hp diff --hash up to date (hp checksums): a shadow
// table holding each row's hash (see [RangeChecksummer]), kept current by
// triggers, which ChecksumRanges sums instead of hashing every row. A
// connector declares it by listing [CapMaintainChecksums] in
// [Info.Features] too.
type ChecksumMaintainer interface {
	MaintainChecksums(ctx context.Context, req MaintainChecksumsRequest) (*MaintainChecksumsResult, error)
}

// ChecksumsAction is what MaintainChecksums does.
type ChecksumsAction int

// The actions.
const (
	// ChecksumsStatus reports the state only.
	ChecksumsStatus ChecksumsAction = iota
	// ChecksumsInstall creates the shadow table and its triggers and
	// fills it, replacing an installation of the table.
	ChecksumsInstall
	// ChecksumsDrop removes all of it.
	ChecksumsDrop
)

// MaintainChecksumsRequest asks for an action on the maintained checksums
// of Table.
type MaintainChecksumsRequest struct {
	Conn  Connection
	Table ObjectRef
	// Key is the integer primary-key column (install only).
	Key string
	// Columns are hashed in this order (install only; default: Key, then
	// every other column in table order). ChecksumRanges uses the shadow
	// only for a request naming the same columns.
	Columns []string
	Action  ChecksumsAction
	// DryRun plans only: the statements are returned, not run.
	DryRun bool
}

// MaintainChecksumsResult is what MaintainChecksums ran (or planned) and
// the state after it.
type MaintainChecksumsResult struct {
	Statements []string
	State      ChecksumsState
}

// ChecksumsState is a table's maintained checksums.
type ChecksumsState struct {
	Installed bool     `json:"installed"`
	Shadow    string   `json:"shadow,omitempty"`
	Key       string   `json:"key,omitempty"`
	Columns   []string `json:"columns,omitempty"`
	Rows      int64    `json:"rows"`
	// Stale: the shadow cannot be trusted; Note says why.
	Stale bool   `json:"stale"`
	Note  string `json:"note,omitempty"`
}

var actionToProto = map[ChecksumsAction]pb.ChecksumsAction{
	ChecksumsStatus:  pb.ChecksumsAction_CHECKSUMS_ACTION_STATUS,
	ChecksumsInstall: pb.ChecksumsAction_CHECKSUMS_ACTION_INSTALL,
	ChecksumsDrop:    pb.ChecksumsAction_CHECKSUMS_ACTION_DROP,
}

func (s *server) MaintainChecksums(ctx context.Context, req *pb.MaintainChecksumsRequest) (_ *pb.MaintainChecksumsResponse, err error) {
	defer maskStatus(&err, req.GetConnection().GetDsn())
	defer guard(&err, req.GetConnection().GetDsn())
	c, ok := s.c.(ChecksumMaintainer)
	if !ok || !hasFeature(s.c, CapMaintainChecksums) {
		return nil, unimplemented("maintained checksums")
	}
	action := ChecksumsAction(-1)
	for a, p := range actionToProto {
		if p == req.GetAction() {
			action = a
		}
	}
	if action < 0 || (action == ChecksumsInstall && req.GetKey() == "") {
		return nil, toStatus(InvalidArgumentf("maintained checksums need an action (install, drop or status; not %v), and a key to install", req.GetAction()))
	}
	res, err := c.MaintainChecksums(ctx, MaintainChecksumsRequest{
		Conn: connFromProto(req.GetConnection()), Table: refFromProto(req.GetTable()), Key: req.GetKey(),
		Columns: req.GetColumns(), Action: action, DryRun: req.GetDryRun(),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.MaintainChecksumsResponse{Statements: res.Statements, State: &pb.ChecksumsState{
		Installed: res.State.Installed, Shadow: res.State.Shadow, Key: res.State.Key, Columns: res.State.Columns,
		Rows: res.State.Rows, Stale: res.State.Stale, Note: res.State.Note,
	}}, nil
}
