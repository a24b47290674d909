package sdk_test

import (
	"context"
	"testing"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/plugintest"
)

// optConnector declares options, one of them secret, and reports the
// options it received.
type optConnector struct{}

func (optConnector) Info() sdk.Info {
	return sdk.Info{Name: "opt", Schemes: []string{"opt"}, Options: []sdk.OptionSpec{
		{Name: "token", Type: "string", Secret: true, Required: true, Description: "API token"},
		{Name: "rows", Type: "int", Default: "10"},
	}}
}

func (optConnector) Check(_ context.Context, c sdk.Connection) (string, error) {
	return "rows=" + c.Option("rows", "default"), nil
}

// The spec's Secret flag and the connection's options cross the protocol.
func TestOptionsCrossTheWire(t *testing.T) {
	r := plugintest.Serve(t, optConnector{})
	opts := r.Info().Options
	if len(opts) != 2 || !opts[0].Secret || !opts[0].Required || opts[1].Secret || opts[1].Default != "10" {
		t.Fatalf("options after the round trip: %+v", opts)
	}
	got, err := r.Check(t.Context(), sdk.Connection{DSN: "opt://", Options: map[string]string{"rows": "7"}})
	if err != nil || got != "rows=7" {
		t.Fatalf("Check = %q, %v", got, err)
	}
}
