package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/internal/batchmem"
	pb "github.com/halfpipe-io/halfpipe/sdk/internal/proto/connectorv1"
	"github.com/halfpipe-io/halfpipe/sdk/internal/wire"
)

// Remote is the host side of a connector: it implements [sdk.Connector]
// and every capability interface by calling a plugin over gRPC. Calls for
// a capability the plugin lacks return an error wrapping
// [sdk.ErrUnimplemented]. Errors from the plugin keep their kind
// (errors.Is(err, sdk.ErrNotFound)).
//
// hp obtains a Remote from a launched plugin ([Instance]); tests obtain
// one from package plugintest. The zero value is not usable.
type Remote struct {
	client pb.ConnectorServiceClient
	info   sdk.Info
	// wrap, when set, is applied to every error the Remote returns: an
	// Instance replaces a bare transport error with the cause, the plugin
	// process exited, with its status and last stderr lines.
	wrap func(error) error
}

// Connect returns the host side of a connector served at target, a gRPC
// target such as "unix:///tmp/dir/socket", by a server that is not a
// plugin process of this host: package plugintest serves a connector
// in-process and connects to it so. (Host launches plugin processes and
// connects to them itself.) It asks the connector for its Info under ctx,
// so that Info needs no context later. Close the returned closer when
// done.
func Connect(ctx context.Context, target string) (*Remote, io.Closer, error) {
	cc, err := grpc.NewClient(target, append(wire.DialOptions(), grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to the connector at %s: %w", target, err)
	}
	r, err := newRemote(ctx, pb.NewConnectorServiceClient(cc), nil)
	if err != nil {
		cc.Close()
		return nil, nil, fmt.Errorf("connector at %s: %w", target, err)
	}
	return r, cc, nil
}

func newRemote(ctx context.Context, c pb.ConnectorServiceClient, wrap func(error) error) (*Remote, error) {
	r := &Remote{client: c, wrap: wrap}
	resp, err := c.GetInfo(ctx, &pb.GetInfoRequest{})
	if err != nil {
		return nil, fmt.Errorf("GetInfo: %w", r.fail(err))
	}
	r.info = infoFromProto(resp)
	return r, nil
}

var (
	_ sdk.Connector    = (*Remote)(nil)
	_ sdk.ObjectLister = (*Remote)(nil)
	_ sdk.Describer    = (*Remote)(nil)
	_ sdk.Reader       = (*Remote)(nil)
	_ sdk.Bounder      = (*Remote)(nil)
	_ sdk.Writer       = (*Remote)(nil)
	_ sdk.Syncer       = (*Remote)(nil)
	_ sdk.Loader       = (*Remote)(nil)
	_ sdk.Executor     = (*Remote)(nil)
	_ sdk.TablePlanner = (*Remote)(nil)
)

func (r *Remote) fail(err error) error {
	err = fromStatus(err)
	if r.wrap != nil {
		err = r.wrap(err)
	}
	return err
}

// Info returns the Info the plugin reported when the Remote was made,
// with the protocol version and capabilities the SDK filled in.
func (r *Remote) Info() sdk.Info { return r.info }

func (r *Remote) Check(ctx context.Context, conn sdk.Connection) (string, error) {
	resp, err := r.client.Check(ctx, &pb.CheckRequest{Connection: connToProto(conn)})
	if err != nil {
		return "", r.fail(err)
	}
	return resp.GetServerVersion(), nil
}

func (r *Remote) ListObjects(ctx context.Context, conn sdk.Connection, schema string) ([]sdk.ObjectInfo, error) {
	resp, err := r.client.ListObjects(ctx, &pb.ListObjectsRequest{Connection: connToProto(conn), Schema: schema})
	if err != nil {
		return nil, r.fail(err)
	}
	out := make([]sdk.ObjectInfo, 0, len(resp.GetObjects()))
	for _, o := range resp.GetObjects() {
		out = append(out, sdk.ObjectInfo{Ref: refFromProto(o.GetRef()), Kind: o.GetKind()})
	}
	return out, nil
}

func (r *Remote) Describe(ctx context.Context, conn sdk.Connection, src sdk.Source) (*sdk.Description, error) {
	resp, err := r.client.Describe(ctx, &pb.DescribeRequest{Connection: connToProto(conn), Source: sourceToProto(src)})
	if err != nil {
		return nil, r.fail(err)
	}
	schema, err := wire.SchemaFromIPC(resp.GetArrowSchema())
	if err != nil {
		return nil, err
	}
	d := &sdk.Description{Schema: schema, PrimaryKey: resp.GetPrimaryKey()}
	for _, c := range resp.GetColumns() {
		d.Columns = append(d.Columns, sdk.Column{Name: c.GetName(), NativeType: c.GetNativeType(), Nullable: c.GetNullable()})
	}
	return d, nil
}

// Read starts a Read and returns once the schema has arrived, so that an
// unknown table or a connection failure is an error here, not on the
// first Next. Cancelling ctx ends the stream on both sides.
func (r *Remote) Read(ctx context.Context, req sdk.ReadRequest) (array.RecordReader, error) {
	p := &pb.ReadRequest{
		Connection: connToProto(req.Conn), Source: sourceToProto(req.Source), Columns: req.Columns,
		Where: req.Where, Range: rangeToProto(req.Range),
		BatchMaxRows: req.BatchMaxRows, BatchMaxBytes: req.BatchMaxBytes,
	}
	for _, o := range req.OrderBy {
		p.OrderBy = append(p.OrderBy, &pb.OrderBy{Column: o.Column, Descending: o.Descending, Binary: o.Binary})
	}
	if req.Partition != nil {
		p.Partition = &pb.Partition{Index: uint32(req.Partition.Index), Count: uint32(req.Partition.Count), Group: req.Partition.Group}
	}
	ctx, cancel := context.WithCancel(ctx)
	stream, err := r.client.Read(ctx, p)
	if err != nil {
		cancel()
		return nil, r.fail(err)
	}
	var recvErr error
	recv := func(m any) error {
		err := stream.RecvMsg(m)
		if err != nil && err != io.EOF {
			recvErr = r.fail(err)
			return recvErr
		}
		return err
	}
	ir, err := wire.ReadStream(wire.ReadResponseArrow, recv, batchmem.Overwritten())
	if err != nil {
		cancel()
		if recvErr != nil {
			return nil, recvErr
		}
		return nil, r.fail(err)
	}
	return &remoteRecords{Reader: ir, cancel: cancel, recvErr: &recvErr}, nil
}

// remoteRecords reports the plugin's error (with its kind) rather than the
// IPC reader's generic one, and cancels the stream on Release.
type remoteRecords struct {
	*ipc.Reader
	cancel  context.CancelFunc
	recvErr *error
}

func (r *remoteRecords) Err() error {
	if *r.recvErr != nil {
		return *r.recvErr
	}
	return r.Reader.Err()
}

func (r *remoteRecords) Release() {
	r.cancel()
	r.Reader.Release()
}

func (r *Remote) Bounds(ctx context.Context, req sdk.BoundsRequest) (*sdk.Bounds, error) {
	resp, err := r.client.Bounds(ctx, &pb.BoundsRequest{
		Connection: connToProto(req.Conn), Source: sourceToProto(req.Source), Column: req.Column,
		Where: req.Where, Range: rangeToProto(req.Range), ChecksumColumns: req.ChecksumColumns,
	})
	if err != nil {
		return nil, r.fail(err)
	}
	return &sdk.Bounds{Min: valueFromProto(resp.GetMin()), Max: valueFromProto(resp.GetMax()), Count: resp.GetCount(), NullCount: resp.GetNullCount(), Maintained: resp.GetMaintained()}, nil
}

// Write streams records to the plugin. If records fails (Err after Next),
// the write is aborted: the plugin commits nothing, and Write returns once
// it has rolled back.
func (r *Remote) Write(ctx context.Context, req sdk.WriteRequest, records array.RecordReader) (*sdk.WriteResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := r.client.Write(ctx)
	if err != nil {
		return nil, r.fail(err)
	}
	header := &pb.WriteHeader{
		Connection: connToProto(req.Conn), Table: refToProto(req.Table), Mode: modeToProto(req.Mode),
		Keys: req.Keys, CreateTable: req.CreateTable,
	}
	if err := stream.Send(&pb.WriteRequest{Kind: &pb.WriteRequest_Header{Header: header}}); err != nil {
		return nil, r.writeFailure(stream, err)
	}
	err = wire.WriteStream(records, wire.WriteRequestArrow, stream.SendMsg)
	if err != nil {
		if errors.Is(err, io.EOF) {
			// The server ended the stream early; its status says why.
			return nil, r.writeFailure(stream, err)
		}
		return nil, r.abort(stream, cancel, err)
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return nil, r.fail(err)
	}
	return &sdk.WriteResult{RowsWritten: resp.GetRowsWritten()}, nil
}

// Sync sends a Write in WRITE_MODE_SYNC: the upserts, then the stream
// deleteKeys returns once they are sent (Sync releases it). If either
// stream fails, the Write is aborted so the plugin changes nothing.
func (r *Remote) Sync(ctx context.Context, req sdk.WriteRequest, upserts array.RecordReader, deleteKeys func() (array.RecordReader, error)) (*sdk.SyncResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := r.client.Write(ctx)
	if err != nil {
		return nil, r.fail(err)
	}
	header := &pb.WriteHeader{Connection: connToProto(req.Conn), Table: refToProto(req.Table), Mode: pb.WriteMode_WRITE_MODE_SYNC, Keys: req.Keys}
	if err := stream.Send(&pb.WriteRequest{Kind: &pb.WriteRequest_Header{Header: header}}); err != nil {
		return nil, r.writeFailure(stream, err)
	}
	err = wire.WriteStream(upserts, wire.WriteRequestArrow, stream.SendMsg)
	if err == nil {
		var deletes array.RecordReader
		if deletes, err = deleteKeys(); err == nil {
			err = wire.WriteStream(deletes, wire.WriteRequestDeleteKeys, stream.SendMsg)
			deletes.Release()
		}
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, r.writeFailure(stream, err)
		}
		return nil, r.abort(stream, cancel, err)
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return nil, r.fail(err)
	}
	return &sdk.SyncResult{RowsWritten: resp.GetRowsWritten(), RowsDeleted: resp.GetRowsDeleted()}, nil
}

// abortWait bounds the wait for a plugin's roll-back and clean-up after an
// abort.
var abortWait = time.Minute

// abort ends a write whose records failed with err, which it returns. A
// plugin with sdk.CapWriteAbort is told; it rolls back, removes what it
// created and answers. Waiting for that answer (at most abortWait) means
// that stopping the plugin next cannot cut its clean-up short. Others are
// cancelled.
func (r *Remote) abort(stream pb.ConnectorService_WriteClient, cancel context.CancelFunc, err error) error {
	if r.info.Has(sdk.CapWriteAbort) && stream.Send(&pb.WriteRequest{Kind: &pb.WriteRequest_Abort{Abort: "its records failed"}}) == nil {
		t := time.AfterFunc(abortWait, cancel)
		_, _ = stream.CloseAndRecv()
		t.Stop()
	}
	cancel()
	return err
}

func (r *Remote) writeFailure(stream pb.ConnectorService_WriteClient, sendErr error) error {
	if _, err := stream.CloseAndRecv(); err != nil {
		return r.fail(err)
	}
	return r.fail(sendErr)
}

func (r *Remote) Load(ctx context.Context, req sdk.LoadRequest) (*sdk.LoadResult, error) {
	pr, err := loadToProto(req)
	if err != nil {
		return nil, err
	}
	resp, err := r.client.Load(ctx, pr)
	if err != nil {
		return nil, r.fail(err)
	}
	return &sdk.LoadResult{RowsLoaded: resp.GetRowsLoaded()}, nil
}

// CheckLoad implements sdk.LoadChecker (for a plugin with
// sdk.CapCheckLoad).
func (r *Remote) CheckLoad(ctx context.Context, req sdk.LoadRequest) error {
	pr, err := loadToProto(req)
	if err != nil {
		return err
	}
	if _, err := r.client.CheckLoad(ctx, &pb.CheckLoadRequest{Load: pr}); err != nil {
		return r.fail(err)
	}
	return nil
}

func loadToProto(req sdk.LoadRequest) (*pb.LoadRequest, error) {
	schema, err := wire.SchemaToIPC(req.Schema)
	if err != nil {
		return nil, err
	}
	return &pb.LoadRequest{
		Connection: connToProto(req.Conn), Table: refToProto(req.Table), Mode: modeToProto(req.Mode),
		Keys: req.Keys, Uris: req.URIs, Format: req.Format, FormatOptions: req.FormatOptions,
		ArrowSchema: schema, CreateTable: req.CreateTable,
	}, nil
}

func (r *Remote) Exec(ctx context.Context, conn sdk.Connection, statements []string) (int64, error) {
	resp, err := r.client.Exec(ctx, &pb.ExecRequest{Connection: connToProto(conn), Statements: statements})
	if err != nil {
		return 0, r.fail(err)
	}
	return resp.GetRowsAffected(), nil
}

func (r *Remote) PlanTable(ctx context.Context, req sdk.PlanTableRequest) (*sdk.TablePlan, error) {
	schema, err := wire.SchemaToIPC(req.Schema)
	if err != nil {
		return nil, err
	}
	resp, err := r.client.PlanTable(ctx, &pb.PlanTableRequest{
		Connection: connToProto(req.Conn), Table: refToProto(req.Table), ArrowSchema: schema,
		PrimaryKey: req.PrimaryKey, AllowDrop: req.AllowDrop,
	})
	if err != nil {
		return nil, r.fail(err)
	}
	return &sdk.TablePlan{Statements: resp.GetStatements(), Exists: resp.GetExists(), Notes: resp.GetNotes()}, nil
}
