// Package plugintest runs a connector in-process behind the real gRPC
// protocol, so a connector's tests (and the conformance suite) exercise
// the same encoding, streaming and error mapping as a plugin process
// without building a binary:
//
//	func TestConformance(t *testing.T) {
//		remote := plugintest.Serve(t, myconnector.New())
//		conformance.RunSourceSuite(t, remote, fixture)
//	}
package plugintest

import (
	"testing"

	plugin "github.com/hashicorp/go-plugin"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// Serve serves c over an in-process gRPC connection and returns the host
// side. The connection closes when the test ends.
func Serve(t testing.TB, c sdk.Connector) *sdk.Remote {
	t.Helper()
	client, server := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{sdk.PluginKey: sdk.ServerPlugin(c)})
	t.Cleanup(func() {
		client.Close()
		server.Stop()
	})
	raw, err := client.Dispense(sdk.PluginKey)
	if err != nil {
		t.Fatalf("dispense connector: %v", err)
	}
	r := raw.(*sdk.Remote)
	if _, err := r.FetchInfo(t.Context()); err != nil {
		t.Fatalf("GetInfo: %v", err)
	}
	return r
}
