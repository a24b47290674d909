// Package plugintest runs a connector in-process behind the real gRPC
// protocol, so a connector's tests (and the conformance suite) exercise
// the same encoding, streaming and error mapping as a plugin process
// without building a binary:
//
//	func TestConformance(t *testing.T) {
//		remote := plugintest.Serve(t, myconnector.New())
//		conformance.RunSourceSuite(t, remote, fixture)
//	}
//
// What it leaves out is the process: go-plugin's handshake, the plugin's
// environment and its stderr. To test those, build the plugin and launch
// it with package host.
package plugintest

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/grpc"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/host"
	pb "github.com/halfpipe-io/halfpipe/sdk/internal/proto/connectorv1"
	"github.com/halfpipe-io/halfpipe/sdk/internal/wire"
)

// Serve serves c over gRPC on a unix socket, as sdk.Serve does in a
// plugin, and returns the host side, which has already fetched c's Info.
// The server stops when the test ends.
func Serve(t testing.TB, c sdk.Connector) *host.Remote {
	t.Helper()
	// A short directory: a socket's path must fit in about 100 bytes,
	// which t.TempDir's need not.
	dir, err := os.MkdirTemp("", "hp-plugintest-")
	if err != nil {
		t.Fatalf("plugintest: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "s")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatalf("plugintest: listening on %s: %v", sock, err)
	}
	svc, err := wire.NewServer(c)
	if err != nil {
		t.Fatalf("plugintest: %v", err)
	}
	srv := grpc.NewServer(wire.ServerOptions()...)
	pb.RegisterConnectorServiceServer(srv, svc)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	r, conn, err := host.Connect(t.Context(), "unix://"+sock)
	if err != nil {
		t.Fatalf("plugintest: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return r
}
