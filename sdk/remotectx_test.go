package sdk_test

import (
	"context"
	"errors"
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

// serveOnSocket serves c as plugintest does and returns the target.
func serveOnSocket(t *testing.T, c any) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "hp-sdk-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ln, err := net.Listen("unix", filepath.Join(dir, "s"))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := wire.NewServer(c)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(wire.ServerOptions()...)
	pb.RegisterConnectorServiceServer(srv, svc)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return "unix://" + filepath.Join(dir, "s")
}

// TestRemoteContextPerCall: a Remote keeps no context. Its Info is
// fetched under the context given when connecting, and every later call
// runs under its own, so a context that ended after connecting does not
// end the calls that follow.
func TestRemoteContextPerCall(t *testing.T) {
	target := serveOnSocket(t, &memConnector{})

	gone, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := host.Connect(gone, target); !errors.Is(err, context.Canceled) {
		t.Fatalf("Connect under a cancelled context: %v, want an error wrapping context.Canceled", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	r, conn, err := host.Connect(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cancel()
	if r.Info().Name != "mem" {
		t.Fatalf("Info after the connect context ended: %+v", r.Info())
	}
	if v, err := r.Check(t.Context(), sdk.Connection{DSN: "mem://"}); err != nil || v != "mem 1" {
		t.Fatalf("Check after the connect context ended: %q, %v", v, err)
	}
}
