package main

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/conformance"
	"github.com/halfpipe-io/halfpipe/sdk/plugintest"
)

// TestConformance runs the SDK's source suite against the connector,
// served in-process behind the real protocol.
func TestConformance(t *testing.T) {
	const rows = 40
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for id := int64(1); id <= rows; id++ {
		appendValue(b.Field(0), 0, id)
		appendValue(b.Field(1), 1, id)
	}
	expected := b.NewRecordBatch()
	defer expected.Release()
	conformance.RunSourceSuite(t, plugintest.Serve(t, &Greetings{}), conformance.SourceFixture{
		Conn: sdk.Connection{DSN: "greetings://?rows=40"}, Table: sdk.ObjectRef{Name: "greetings"},
		Expected: expected, KeyColumn: "id",
		Large: sdk.ObjectRef{Name: "greetings"}, LargeConn: sdk.Connection{DSN: "greetings://?rows=1000000"},
	})
}
