package sdk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	pb "github.com/halfpipe-io/halfpipe/sdk/internal/proto/connectorv1"
	"github.com/halfpipe-io/halfpipe/sdk/internal/wire"
	"github.com/halfpipe-io/halfpipe/sdk/profile"
)

func init() {
	// plugintest serves connectors in-process through wire, which cannot
	// import this package.
	wire.NewServer = func(c any) (pb.ConnectorServiceServer, error) { return newServer(c.(Connector)) }
}

func serve(c Connector) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
	slog.SetDefault(slog.New(newPluginLogHandler(os.Stderr)))
	srv, err := newServer(c)
	if err != nil {
		// Before the handshake: the host reports the plugin's exit with
		// this, its last line on stderr.
		slog.Error(err.Error())
		os.Exit(1)
	}
	// The host's first call comes after go-plugin has swapped os.Stderr.
	stderr := os.Stderr
	srv.firstCall = func() { reclaimStderr(stderr) }
	// plugin.Serve returns when the host closes the plugin.
	stopProfile := profile.Start(filepath.Base(os.Args[0]))
	defer stopProfile()
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: wire.Handshake(ProtocolVersion),
		VersionedPlugins: map[int]plugin.PluginSet{
			ProtocolVersion: {wire.PluginKey: &wire.Plugin{Service: srv}},
		},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(opts, wire.ServerOptions()...)...)
		},
	})
}

type server struct {
	pb.UnimplementedConnectorServiceServer
	c    Connector
	info Info

	// firstCall, when set, runs once before the first call is served.
	firstCall func()
	once      sync.Once
}

func newServer(c Connector) (*server, error) {
	info := c.Info()
	// Both are the SDK's to fill in; one a connector set would be
	// overwritten here, silently, and could only be a mistake.
	if info.ProtocolVersion != 0 {
		return nil, fmt.Errorf("connector %q sets Info.ProtocolVersion (%d): leave it zero, the SDK fills it in", info.Name, info.ProtocolVersion)
	}
	if len(info.Capabilities) > 0 {
		return nil, fmt.Errorf("connector %q sets Info.Capabilities %v: leave it empty, the SDK derives it from the interfaces the connector implements (declare %s and %s in Info.Features)", info.Name, info.Capabilities, CapReadQuery, CapReadPartitions)
	}
	info.ProtocolVersion = ProtocolVersion
	info.Capabilities = CapabilitiesOf(c)
	return &server{c: c, info: info}, nil
}

// guard converts a panic in connector code into an INTERNAL error, so a bug
// in one call is reported with its stack instead of killing the plugin.
func guard(err *error, dsn string) {
	if r := recover(); r != nil {
		panicked(err, r, dsn)
	}
}

// guardLate is guard for a DSN known only once the call has read its
// request; recover only works in the deferred function itself.
func guardLate(err *error, dsn *string) {
	if r := recover(); r != nil {
		panicked(err, r, *dsn)
	}
}

func panicked(err *error, r any, dsn string) {
	slog.Error("connector panicked", "panic", MaskIn(fmt.Sprint(r), dsn), "stack", string(debug.Stack()))
	*err = toStatus(fmt.Errorf("connector panicked: %v", r))
}

// maskStatus masks the secrets of the call's DSN in the error it returns,
// keeping its status code: drivers may echo DSNs or passwords in errors.
func maskStatus(err *error, dsn string) {
	if *err == nil || dsn == "" {
		return
	}
	if st, ok := status.FromError(*err); ok {
		if msg := MaskIn(st.Message(), dsn); msg != st.Message() {
			*err = status.Error(st.Code(), msg)
		}
		return
	}
	*err = MaskErr(*err, dsn)
}

func unimplemented(what string) error {
	return toStatus(Errorf(ErrUnimplemented, "%s is not supported by this connector", what))
}

func (s *server) GetInfo(context.Context, *pb.GetInfoRequest) (*pb.GetInfoResponse, error) {
	// GetInfo is always the host's first call.
	if s.firstCall != nil {
		s.once.Do(s.firstCall)
	}
	return infoToProto(s.info), nil
}

func (s *server) Check(ctx context.Context, req *pb.CheckRequest) (_ *pb.CheckResponse, err error) {
	defer maskStatus(&err, req.GetConnection().GetDsn())
	defer guard(&err, req.GetConnection().GetDsn())
	v, err := s.c.Check(ctx, connFromProto(req.GetConnection()))
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.CheckResponse{ServerVersion: v}, nil
}

func (s *server) ListObjects(ctx context.Context, req *pb.ListObjectsRequest) (_ *pb.ListObjectsResponse, err error) {
	defer maskStatus(&err, req.GetConnection().GetDsn())
	defer guard(&err, req.GetConnection().GetDsn())
	l, ok := s.c.(ObjectLister)
	if !ok {
		return nil, unimplemented("listing objects")
	}
	objs, err := l.ListObjects(ctx, connFromProto(req.GetConnection()), req.GetSchema())
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &pb.ListObjectsResponse{}
	for _, o := range objs {
		resp.Objects = append(resp.Objects, &pb.ObjectInfo{Ref: refToProto(o.Ref), Kind: o.Kind})
	}
	return resp, nil
}

func (s *server) Describe(ctx context.Context, req *pb.DescribeRequest) (_ *pb.DescribeResponse, err error) {
	defer maskStatus(&err, req.GetConnection().GetDsn())
	defer guard(&err, req.GetConnection().GetDsn())
	d, ok := s.c.(Describer)
	if !ok {
		return nil, unimplemented("describe")
	}
	src, err := sourceFromProto(req.GetSource())
	if err != nil {
		return nil, toStatus(err)
	}
	desc, err := d.Describe(ctx, connFromProto(req.GetConnection()), src)
	if err != nil {
		return nil, toStatus(err)
	}
	schema, err := wire.SchemaToIPC(desc.Schema)
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &pb.DescribeResponse{ArrowSchema: schema, PrimaryKey: desc.PrimaryKey}
	for _, c := range desc.Columns {
		resp.Columns = append(resp.Columns, &pb.Column{Name: c.Name, NativeType: c.NativeType, Nullable: c.Nullable})
	}
	return resp, nil
}

func (s *server) Read(req *pb.ReadRequest, stream pb.ConnectorService_ReadServer) (err error) {
	defer maskStatus(&err, req.GetConnection().GetDsn())
	defer guard(&err, req.GetConnection().GetDsn())
	r, ok := s.c.(Reader)
	if !ok {
		return unimplemented("reading")
	}
	src, err := sourceFromProto(req.GetSource())
	if err != nil {
		return toStatus(err)
	}
	rr := ReadRequest{
		Conn: connFromProto(req.GetConnection()), Source: src, Columns: req.GetColumns(),
		Where: req.GetWhere(), Range: rangeFromProto(req.GetRange()),
		BatchMaxRows: req.GetBatchMaxRows(), BatchMaxBytes: req.GetBatchMaxBytes(),
	}
	if rr.Range != nil {
		if err := checkSpans(s.c, rr.Range.Spans); err != nil {
			return toStatus(err)
		}
	}
	for _, o := range req.GetOrderBy() {
		rr.OrderBy = append(rr.OrderBy, OrderBy{Column: o.GetColumn(), Descending: o.GetDescending(), Binary: o.GetBinary()})
	}
	if p := req.GetPartition(); p.GetCount() > 0 {
		rr.Partition = &Partition{Index: int(p.GetIndex()), Count: int(p.GetCount()), Group: p.GetGroup()}
	}
	ctx := stream.Context()
	records, err := r.Read(ctx, rr)
	if err != nil {
		return toStatus(err)
	}
	defer records.Release()
	err = wire.WriteStream(records, wire.ReadResponseArrow, stream.SendMsg)
	if err != nil && ctx.Err() != nil {
		err = errors.Join(ctx.Err(), err)
	}
	return toStatus(err)
}

func (s *server) Bounds(ctx context.Context, req *pb.BoundsRequest) (_ *pb.BoundsResponse, err error) {
	defer maskStatus(&err, req.GetConnection().GetDsn())
	defer guard(&err, req.GetConnection().GetDsn())
	b, ok := s.c.(Bounder)
	if !ok {
		return nil, unimplemented("bounds")
	}
	src, err := sourceFromProto(req.GetSource())
	if err != nil {
		return nil, toStatus(err)
	}
	rf := rangeFromProto(req.GetRange())
	if rf != nil {
		if err := checkSpans(s.c, rf.Spans); err != nil {
			return nil, toStatus(err)
		}
	}
	res, err := b.Bounds(ctx, BoundsRequest{
		Conn: connFromProto(req.GetConnection()), Source: src, Column: req.GetColumn(),
		Where: req.GetWhere(), Range: rf, ChecksumColumns: req.GetChecksumColumns(),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.BoundsResponse{Min: valueToProto(res.Min), Max: valueToProto(res.Max), Count: res.Count, NullCount: res.NullCount, Maintained: res.Maintained}, nil
}

func (s *server) Write(stream pb.ConnectorService_WriteServer) (err error) {
	var dsn string
	defer func() { maskStatus(&err, dsn) }()
	defer guardLate(&err, &dsn)
	first, err := stream.Recv()
	if err != nil {
		return toStatus(err)
	}
	h := first.GetHeader()
	dsn = h.GetConnection().GetDsn()
	if h == nil {
		return toStatus(InvalidArgumentf("write stream must start with a header"))
	}
	mode, err := modeFromProto(h.GetMode())
	if err != nil {
		return toStatus(err)
	}
	if mode == Sync {
		return s.sync(stream, h)
	}
	w, ok := s.c.(Writer)
	if !ok {
		return unimplemented("writing")
	}
	records, err := wire.ReadStream(wire.WriteRequestArrow, stream.RecvMsg, memory.DefaultAllocator)
	if err != nil {
		return toStatus(fmt.Errorf("reading the write stream: %w", err))
	}
	defer records.Release()
	res, err := w.Write(stream.Context(), WriteRequest{
		Conn: connFromProto(h.GetConnection()), Table: refFromProto(h.GetTable()), Mode: mode,
		Keys: h.GetKeys(), CreateTable: h.GetCreateTable(),
	}, records)
	if err != nil {
		return toStatus(err)
	}
	// Drain so the client's CloseAndRecv sees a clean end.
	for records.Next() {
	}
	return stream.SendAndClose(&pb.WriteResponse{RowsWritten: res.RowsWritten})
}

// sync serves a Write in WRITE_MODE_SYNC: the upsert stream, then the
// delete keys' stream.
func (s *server) sync(stream pb.ConnectorService_WriteServer, h *pb.WriteHeader) error {
	sy, ok := s.c.(Syncer)
	if !ok {
		return unimplemented("syncing (WRITE_MODE_SYNC)")
	}
	upserts, err := wire.ReadStream(wire.WriteRequestArrow, stream.RecvMsg, memory.DefaultAllocator)
	if err != nil {
		return toStatus(fmt.Errorf("reading the rows to upsert: %w", err))
	}
	defer upserts.Release()
	var deletes *ipc.Reader
	defer func() {
		if deletes != nil {
			deletes.Release()
		}
	}()
	deleteKeys := func() (array.RecordReader, error) {
		if deletes != nil {
			return nil, fmt.Errorf("the keys to delete were asked for twice")
		}
		if upserts.Next() {
			return nil, fmt.Errorf("the keys to delete were asked for before the rows to upsert were all read")
		}
		if err := upserts.Err(); err != nil {
			return nil, err
		}
		d, err := wire.ReadStream(wire.WriteRequestDeleteKeys, stream.RecvMsg, memory.DefaultAllocator)
		if err != nil {
			return nil, fmt.Errorf("reading the keys to delete: %w", err)
		}
		deletes = d
		return d, nil
	}
	res, err := sy.Sync(stream.Context(), WriteRequest{
		Conn: connFromProto(h.GetConnection()), Table: refFromProto(h.GetTable()), Mode: Sync, Keys: h.GetKeys(),
	}, upserts, deleteKeys)
	if err != nil {
		return toStatus(err)
	}
	if deletes == nil {
		return toStatus(fmt.Errorf("the %s connector returned from Sync without reading the keys to delete", s.c.Info().Name))
	}
	for deletes.Next() {
	}
	return stream.SendAndClose(&pb.WriteResponse{RowsWritten: res.RowsWritten, RowsDeleted: res.RowsDeleted})
}

func (s *server) Load(ctx context.Context, req *pb.LoadRequest) (_ *pb.LoadResponse, err error) {
	defer maskStatus(&err, req.GetConnection().GetDsn())
	defer guard(&err, req.GetConnection().GetDsn())
	l, ok := s.c.(Loader)
	if !ok {
		return nil, unimplemented("loading files")
	}
	lr, err := loadFromProto(req)
	if err != nil {
		return nil, toStatus(err)
	}
	res, err := l.Load(ctx, lr)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.LoadResponse{RowsLoaded: res.RowsLoaded}, nil
}

func (s *server) CheckLoad(ctx context.Context, creq *pb.CheckLoadRequest) (_ *pb.CheckLoadResponse, err error) {
	req := creq.GetLoad()
	defer maskStatus(&err, req.GetConnection().GetDsn())
	defer guard(&err, req.GetConnection().GetDsn())
	l, ok := s.c.(LoadChecker)
	if _, loads := s.c.(Loader); !ok || !loads {
		return nil, unimplemented("checking a load")
	}
	lr, err := loadFromProto(req)
	if err != nil {
		return nil, toStatus(err)
	}
	if err := l.CheckLoad(ctx, lr); err != nil {
		return nil, toStatus(err)
	}
	return &pb.CheckLoadResponse{}, nil
}

func loadFromProto(req *pb.LoadRequest) (LoadRequest, error) {
	mode, err := modeFromProto(req.GetMode())
	if err != nil {
		return LoadRequest{}, err
	}
	schema, err := wire.SchemaFromIPC(req.GetArrowSchema())
	if err != nil {
		return LoadRequest{}, InvalidArgumentf("%v", err)
	}
	return LoadRequest{
		Conn: connFromProto(req.GetConnection()), Table: refFromProto(req.GetTable()), Mode: mode,
		Keys: req.GetKeys(), URIs: req.GetUris(), Format: req.GetFormat(), FormatOptions: req.GetFormatOptions(),
		Schema: schema, CreateTable: req.GetCreateTable(),
	}, nil
}

func (s *server) Exec(ctx context.Context, req *pb.ExecRequest) (_ *pb.ExecResponse, err error) {
	defer maskStatus(&err, req.GetConnection().GetDsn())
	defer guard(&err, req.GetConnection().GetDsn())
	e, ok := s.c.(Executor)
	if !ok {
		return nil, unimplemented("executing statements")
	}
	n, err := e.Exec(ctx, connFromProto(req.GetConnection()), req.GetStatements())
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.ExecResponse{RowsAffected: n}, nil
}

func (s *server) PlanTable(ctx context.Context, req *pb.PlanTableRequest) (_ *pb.PlanTableResponse, err error) {
	defer maskStatus(&err, req.GetConnection().GetDsn())
	defer guard(&err, req.GetConnection().GetDsn())
	p, ok := s.c.(TablePlanner)
	if !ok {
		return nil, unimplemented("planning tables")
	}
	schema, err := wire.SchemaFromIPC(req.GetArrowSchema())
	if err != nil {
		return nil, toStatus(InvalidArgumentf("%v", err))
	}
	plan, err := p.PlanTable(ctx, PlanTableRequest{
		Conn: connFromProto(req.GetConnection()), Table: refFromProto(req.GetTable()), Schema: schema,
		PrimaryKey: req.GetPrimaryKey(), AllowDrop: req.GetAllowDrop(),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.PlanTableResponse{Statements: plan.Statements, Exists: plan.Exists, Notes: plan.Notes}, nil
}
