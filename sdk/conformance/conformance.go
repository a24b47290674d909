// Package conformance is the test suite every halfpipe connector must
// pass. Run it from the connector's own tests against the connector served
// in-process (package plugintest) or against a built plugin (package
// host), so it exercises the protocol as hp uses it:
//
//	func TestConformance(t *testing.T) {
//		remote := plugintest.Serve(t, myconnector.New())
//		conformance.RunSourceSuite(t, remote, conformance.SourceFixture{...})
//	}
//
// Subtests have stable names (info, check, describe, read_all, ...) so a
// connector's CI can see exactly which promise it breaks. A subtest whose
// capability the connector lacks, or whose fixture is not given, is skipped
// with the reason; every other subtest must pass.
package conformance

import (
	"slices"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// capabilities returns what a connector can do: from GetInfo when it came
// over the protocol, derived from its interfaces when it is a Go value.
func capabilities(c sdk.Connector) []sdk.Capability {
	if caps := c.Info().Capabilities; len(caps) > 0 {
		return caps
	}
	return sdk.CapabilitiesOf(c)
}

func has(c sdk.Connector, cp sdk.Capability) bool { return slices.Contains(capabilities(c), cp) }
