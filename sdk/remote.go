package sdk

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	pb "github.com/halfpipe-io/halfpipe/sdk/internal/proto/connectorv1"
)

// Remote is the host side of a connector: it implements [Connector] and
// every capability interface by calling a plugin over gRPC. Calls for a
// capability the plugin lacks return an error wrapping [ErrUnimplemented].
// Errors from the plugin keep their kind (errors.Is(err, ErrNotFound)).
//
// hp obtains a Remote from package host; tests obtain one from package
// plugintest. The zero value is not usable.
type Remote struct {
	ctx    context.Context
	client pb.ConnectorServiceClient

	once sync.Once
	info Info
	err  error

	// WrapErr, when set, is applied to every error the Remote returns. The
	// host uses it to replace a bare transport error with the cause: the
	// plugin process exited, with its status and last stderr lines.
	WrapErr func(error) error
}

func newRemote(ctx context.Context, c pb.ConnectorServiceClient) *Remote {
	return &Remote{ctx: ctx, client: c}
}

var (
	_ Connector    = (*Remote)(nil)
	_ ObjectLister = (*Remote)(nil)
	_ Describer    = (*Remote)(nil)
	_ Reader       = (*Remote)(nil)
	_ Bounder      = (*Remote)(nil)
	_ Writer       = (*Remote)(nil)
	_ Loader       = (*Remote)(nil)
	_ Executor     = (*Remote)(nil)
)

func (r *Remote) fail(err error) error {
	err = fromStatus(err)
	if r.WrapErr != nil {
		err = r.WrapErr(err)
	}
	return err
}

// FetchInfo calls GetInfo once and caches the answer.
func (r *Remote) FetchInfo(ctx context.Context) (Info, error) {
	r.once.Do(func() {
		resp, err := r.client.GetInfo(ctx, &pb.GetInfoRequest{})
		if err != nil {
			r.err = r.fail(err)
			return
		}
		r.info = infoFromProto(resp)
	})
	return r.info, r.err
}

// Info returns the plugin's Info, or a zero Info if GetInfo failed (use
// FetchInfo to see the error).
func (r *Remote) Info() Info {
	info, _ := r.FetchInfo(r.ctx)
	return info
}

func (r *Remote) Check(ctx context.Context, conn Connection) (string, error) {
	resp, err := r.client.Check(ctx, &pb.CheckRequest{Connection: connToProto(conn)})
	if err != nil {
		return "", r.fail(err)
	}
	return resp.GetServerVersion(), nil
}

func (r *Remote) ListObjects(ctx context.Context, conn Connection, schema string) ([]ObjectInfo, error) {
	resp, err := r.client.ListObjects(ctx, &pb.ListObjectsRequest{Connection: connToProto(conn), Schema: schema})
	if err != nil {
		return nil, r.fail(err)
	}
	out := make([]ObjectInfo, 0, len(resp.GetObjects()))
	for _, o := range resp.GetObjects() {
		out = append(out, ObjectInfo{Ref: refFromProto(o.GetRef()), Kind: o.GetKind()})
	}
	return out, nil
}

func (r *Remote) Describe(ctx context.Context, conn Connection, src Source) (*Description, error) {
	resp, err := r.client.Describe(ctx, &pb.DescribeRequest{Connection: connToProto(conn), Source: sourceToProto(src)})
	if err != nil {
		return nil, r.fail(err)
	}
	schema, err := schemaFromIPC(resp.GetArrowSchema())
	if err != nil {
		return nil, err
	}
	d := &Description{Schema: schema, PrimaryKey: resp.GetPrimaryKey()}
	for _, c := range resp.GetColumns() {
		d.Columns = append(d.Columns, Column{Name: c.GetName(), NativeType: c.GetNativeType(), Nullable: c.GetNullable()})
	}
	return d, nil
}

// Read starts a Read and returns once the schema has arrived, so that an
// unknown table or a connection failure is an error here, not on the
// first Next. Cancelling ctx ends the stream on both sides.
func (r *Remote) Read(ctx context.Context, req ReadRequest) (array.RecordReader, error) {
	p := &pb.ReadRequest{
		Connection: connToProto(req.Conn), Source: sourceToProto(req.Source), Columns: req.Columns,
		Where: req.Where, Range: rangeToProto(req.Range),
		BatchMaxRows: req.BatchMaxRows, BatchMaxBytes: req.BatchMaxBytes,
	}
	for _, o := range req.OrderBy {
		p.OrderBy = append(p.OrderBy, &pb.OrderBy{Column: o.Column, Descending: o.Descending})
	}
	if req.Partition != nil {
		p.Partition = &pb.Partition{Index: uint32(req.Partition.Index), Count: uint32(req.Partition.Count)}
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
	ir, err := readStream(readResponseArrow, recv, memory.DefaultAllocator)
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

func (r *Remote) Bounds(ctx context.Context, req BoundsRequest) (*Bounds, error) {
	resp, err := r.client.Bounds(ctx, &pb.BoundsRequest{
		Connection: connToProto(req.Conn), Source: sourceToProto(req.Source), Column: req.Column,
		Where: req.Where, Range: rangeToProto(req.Range),
	})
	if err != nil {
		return nil, r.fail(err)
	}
	return &Bounds{Min: valueFromProto(resp.GetMin()), Max: valueFromProto(resp.GetMax()), Count: resp.GetCount(), NullCount: resp.GetNullCount()}, nil
}

// Write streams records to the plugin. If records fails (Err after Next),
// the stream is cancelled so the plugin commits nothing.
func (r *Remote) Write(ctx context.Context, req WriteRequest, records array.RecordReader) (*WriteResult, error) {
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
	err = writeStream(records, writeRequestArrow, stream.SendMsg)
	if err != nil {
		if errors.Is(err, io.EOF) {
			// The server ended the stream early; its status says why.
			return nil, r.writeFailure(stream, err)
		}
		cancel()
		return nil, err
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return nil, r.fail(err)
	}
	return &WriteResult{RowsWritten: resp.GetRowsWritten()}, nil
}

func (r *Remote) writeFailure(stream pb.ConnectorService_WriteClient, sendErr error) error {
	if _, err := stream.CloseAndRecv(); err != nil {
		return r.fail(err)
	}
	return r.fail(sendErr)
}

func (r *Remote) Load(ctx context.Context, req LoadRequest) (*LoadResult, error) {
	schema, err := schemaToIPC(req.Schema)
	if err != nil {
		return nil, err
	}
	resp, err := r.client.Load(ctx, &pb.LoadRequest{
		Connection: connToProto(req.Conn), Table: refToProto(req.Table), Mode: modeToProto(req.Mode),
		Keys: req.Keys, Uris: req.URIs, Format: req.Format, FormatOptions: req.FormatOptions,
		ArrowSchema: schema, CreateTable: req.CreateTable,
	})
	if err != nil {
		return nil, r.fail(err)
	}
	return &LoadResult{RowsLoaded: resp.GetRowsLoaded()}, nil
}

func (r *Remote) Exec(ctx context.Context, conn Connection, statements []string) (int64, error) {
	resp, err := r.client.Exec(ctx, &pb.ExecRequest{Connection: connToProto(conn), Statements: statements})
	if err != nil {
		return 0, r.fail(err)
	}
	return resp.GetRowsAffected(), nil
}
