package sdk_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/plugintest"
)

// echoConnector is a careless driver: its errors repeat the DSN and the
// bare password, and it panics with the DSN.
type echoConnector struct{}

func (echoConnector) Info() sdk.Info {
	return sdk.Info{Name: "echo", Version: "1", Schemes: []string{"echo"}, DSNExample: "echo://"}
}

func echo(dsn string) string {
	pw := dsn[strings.Index(dsn, "sslpassword=")+len("sslpassword="):]
	return "cannot connect to " + dsn + " with " + pw
}

func (echoConnector) Check(_ context.Context, c sdk.Connection) (string, error) {
	if strings.Contains(c.DSN, "panic") {
		panic(echo(c.DSN))
	}
	return "", sdk.Errorf(sdk.ErrUnauthenticated, "%s", echo(c.DSN))
}

func (echoConnector) Read(_ context.Context, req sdk.ReadRequest) (array.RecordReader, error) {
	return nil, errors.New(echo(req.Conn.DSN))
}

func (echoConnector) Write(_ context.Context, req sdk.WriteRequest, _ array.RecordReader) (*sdk.WriteResult, error) {
	if strings.Contains(req.Conn.DSN, "panic") {
		panic(echo(req.Conn.DSN))
	}
	return nil, errors.New(echo(req.Conn.DSN))
}

// The plugin edge masks the run's DSN secrets in every error it returns,
// whatever the connector put in them, and keeps the error's kind.
func TestPluginEdgeMasksEchoedSecrets(t *testing.T) {
	const c = "Zq7canary"
	r := plugintest.Serve(t, echoConnector{})
	conn := sdk.Connection{DSN: "echo://bob@db/app?sslpassword=" + c}
	_, err := r.Check(t.Context(), conn)
	if err == nil || strings.Contains(err.Error(), c) || !errors.Is(err, sdk.ErrUnauthenticated) || !strings.Contains(err.Error(), "cannot connect") {
		t.Errorf("Check: %v", err)
	}
	_, err = r.Check(t.Context(), sdk.Connection{DSN: conn.DSN + "&x=panic"})
	if err == nil || strings.Contains(err.Error(), c) {
		t.Errorf("Check panicking: %v", err)
	}
	_, err = r.Read(t.Context(), sdk.ReadRequest{Conn: conn, Source: sdk.Source{Object: &sdk.ObjectRef{Name: "t"}}})
	if err == nil || strings.Contains(err.Error(), c) {
		t.Errorf("Read: %v", err)
	}
	rr, _ := array.NewRecordReader(memSchema, []arrow.RecordBatch{})
	_, err = r.Write(t.Context(), sdk.WriteRequest{Conn: conn, Table: sdk.ObjectRef{Name: "t"}, Mode: sdk.Append}, rr)
	if err == nil || strings.Contains(err.Error(), c) {
		t.Errorf("Write: %v", err)
	}
	rr, _ = array.NewRecordReader(memSchema, []arrow.RecordBatch{})
	_, err = r.Write(t.Context(), sdk.WriteRequest{Conn: sdk.Connection{DSN: conn.DSN + "&x=panic"}, Table: sdk.ObjectRef{Name: "t"}, Mode: sdk.Append}, rr)
	if err == nil || strings.Contains(err.Error(), c) || !strings.Contains(err.Error(), "panicked") {
		t.Errorf("Write panicking: %v", err)
	}
}
