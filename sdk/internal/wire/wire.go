// Package wire is the plumbing shared by the two ends of the connector
// protocol: the go-plugin handshake and plugin binding, the gRPC options
// both ends must use (message limits and the Arrow chunk codec), and the
// Arrow IPC framing of Read and Write streams.
//
// It sits below package sdk (the author's API, which serves a connector)
// and package host (hp's side), and imports neither, so that both can use
// it. Nothing here is API: connector authors see package sdk, hosts see
// package host.
package wire

import (
	"bytes"
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "github.com/halfpipe-io/halfpipe/sdk/internal/proto/connectorv1"
)

// PluginKey is the name of the connector service in go-plugin's plugin
// set, on both ends.
const PluginKey = "connector"

// Handshake is the go-plugin handshake of the given protocol version,
// shared by hp and every plugin. The magic cookie only guards against
// running a plugin binary by hand; it is not a security measure.
func Handshake(protocolVersion int) plugin.HandshakeConfig {
	return plugin.HandshakeConfig{
		ProtocolVersion:  uint(protocolVersion),
		MagicCookieKey:   "HALFPIPE_PLUGIN",
		MagicCookieValue: "c0nnect0r",
	}
}

// ServerOptions are the options of a plugin's gRPC server.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxMessageSize), grpc.MaxSendMsgSize(MaxMessageSize),
		grpc.ForceServerCodecV2(codec),
	}
}

// DialOptions are the options of a host's connection to a plugin.
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithDefaultCallOptions(
		grpc.MaxCallRecvMsgSize(MaxMessageSize), grpc.MaxCallSendMsgSize(MaxMessageSize),
		grpc.ForceCodecV2(codec))}
}

// Plugin binds the connector service into go-plugin. On the plugin's side
// Service is the service; on the host's side, Service is nil and go-plugin
// dispenses the *grpc.ClientConn to the plugin.
type Plugin struct {
	plugin.NetRPCUnsupportedPlugin
	Service pb.ConnectorServiceServer
}

// GRPCServer registers the connector service.
func (p *Plugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterConnectorServiceServer(s, p.Service)
	return nil
}

// GRPCClient returns the connection itself: package host builds its
// client on it.
func (p *Plugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, cc *grpc.ClientConn) (any, error) {
	return cc, nil
}

// NewServer returns the connector service serving a connector, an
// sdk.Connector, or an error when the connector's Info is invalid.
// Package sdk sets it when it is initialised: the service needs sdk's
// types, and sdk imports this package, so the reference can only point
// this way. Package plugintest serves connectors through it.
var NewServer func(connector any) (pb.ConnectorServiceServer, error)

// SchemaToIPC serialises a schema as an IPC stream holding only the schema.
func SchemaToIPC(s *arrow.Schema) ([]byte, error) {
	if s == nil {
		return nil, nil
	}
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(s))
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encode schema: %w", err)
	}
	return buf.Bytes(), nil
}

// SchemaFromIPC reads a schema serialised by SchemaToIPC; nil for none.
func SchemaFromIPC(b []byte) (*arrow.Schema, error) {
	if len(b) == 0 {
		return nil, nil
	}
	r, err := ipc.NewReader(bytes.NewReader(b), ipc.WithAllocator(memory.DefaultAllocator))
	if err != nil {
		return nil, fmt.Errorf("decode schema: %w", err)
	}
	defer r.Release()
	return r.Schema(), nil
}
