// Package conformance is the test suite every halfpipe connector must
// pass. Run it from the connector's own tests. The source suite takes the
// connector served in-process (package plugintest) or a built plugin
// (package host), so it exercises the protocol as hp uses it; the target
// suite takes the connector's Go value and serves it itself (see
// [RunTargetSuite]):
//
//	func TestConformance(t *testing.T) {
//		conformance.RunSourceSuite(t, plugintest.Serve(t, myconnector.New()), conformance.SourceFixture{...})
//		conformance.RunTargetSuite(t, myconnector.New(), conformance.TargetFixture{...})
//	}
//
// Subtests have stable names (info, check, describe, read_all, ...) so a
// connector's CI can see exactly which promise it breaks. A subtest whose
// capability the connector lacks, or whose fixture is not given, is skipped
// with the reason; every other subtest must pass.
//
// The contracts the suite holds a connector to, as the sdk package
// documents them:
//
//   - order_by: ReadRequest.OrderBy is honoured in both directions, on
//     the key and on a nullable column whose values, by key, are in
//     neither order (SourceFixture.OrderColumn), ties broken by the next
//     entry.
//     NULL sorts before every other value: first ascending, last
//     descending. The suite sorts Expected itself and compares the order
//     of every row.
//   - bounds: Bounds.Count is the number of rows under the filter, NULL
//     or not; NullCount the number of them in which the column is NULL;
//     Min and Max the extreme non-NULL values. On OrderColumn, which holds
//     NULLs, a Count of values instead of rows fails.
//   - broken_stream: a Write whose input stream fails returns an error
//     and leaves the table exactly as it was, in append, replace and merge
//     mode, and a table it was to create does not exist afterwards. The
//     suite checks this in-process (the reader's Err reports the failure)
//     and over the protocol (hp aborts the call), where it breaks the
//     stream only after the connector has taken the rows before the
//     failure; there the host's Write must return only after the
//     connector's Write has (its rollback and clean-up done), and the
//     table is read back then.
//   - sync: a [sdk.Syncer] upserts and deletes by key in one call (over
//     the protocol); a sync whose upserts or keys to delete break, or
//     whose keys hold a NULL, leaves the table exactly as it was.
//   - checksums: a [sdk.RangeChecksummer] computes, per key range and
//     within key spans, the checksums of [Checksum], the Go reference of
//     the canonical row text, so two databases holding the same rows
//     agree ([RunChecksumSuite], on a table of [ChecksumRows]).
//
// conformance_test.go holds a mutant per promise: a connector with one
// deliberate bug that the suite must fail in the named subtest.
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
