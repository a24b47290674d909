package postgres_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/plugins/postgres/postgres"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/plugintest"
)

// noTLSServer answers every SSLRequest with 'N', as a PostgreSQL server
// without ssl does, and returns its address.
func noTLSServer(t *testing.T) string {
	return fakeServer(t, func(c net.Conn) {
		req := make([]byte, 8)
		if _, err := io.ReadFull(c, req); err == nil && string(req[4:]) == "\x04\xd2\x16\x2f" {
			_, _ = c.Write([]byte("N"))
		}
		_, _ = io.Copy(io.Discard, c)
	})
}

func TestTLSRequiredButNotOffered(t *testing.T) {
	dsn := "postgres://etl:Secr3tPw@" + noTLSServer(t) + "/test?sslmode=require&connect_timeout=5"
	check := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: no error", what)
		}
		msg := err.Error()
		if !errors.Is(err, sdk.ErrInvalidArgument) || !strings.Contains(msg, "TLS/SSL") || !strings.Contains(msg, sdk.MaskDSN(dsn)) ||
			strings.Contains(msg, "Secr3tPw") {
			t.Errorf("%s: %v", what, err)
		}
	}
	conn := sdk.Connection{DSN: dsn}
	src := sdk.Source{Object: &sdk.ObjectRef{Name: "t"}}
	c := postgres.New()
	_, err := c.Check(context.Background(), conn)
	check("check", err)
	_, err = c.Read(context.Background(), sdk.ReadRequest{Conn: conn, Source: src})
	check("read", err)
	// The kind crosses the plugin boundary, so hp exits 2.
	remote := plugintest.Serve(t, postgres.New())
	_, err = remote.Check(context.Background(), conn)
	check("plugin check", err)
	_, err = remote.Read(context.Background(), sdk.ReadRequest{Conn: conn, Source: src})
	check("plugin read", err)
}

// TestTLSCertificateRejected asks the real server for verify-full: its
// certificate (self-signed on test machines) or its lack of TLS fails the
// connection as a configuration error naming TLS/SSL.
func TestTLSCertificateRejected(t *testing.T) {
	db, _ := schemaFor(t) // skips without the server
	_ = db
	u, err := url.Parse(testDSN())
	if err != nil || u.Scheme == "" {
		t.Skip("the test DSN is not a URL")
	}
	u.User = url.UserPassword(u.User.Username(), "Secr3tPw")
	q := u.Query()
	q.Set("sslmode", "verify-full")
	u.RawQuery = q.Encode()
	dsn := u.String()
	_, err = postgres.New().Check(context.Background(), sdk.Connection{DSN: dsn})
	if !errors.Is(err, sdk.ErrInvalidArgument) || !strings.Contains(err.Error(), "TLS/SSL") ||
		!strings.Contains(err.Error(), sdk.MaskDSN(dsn)) || strings.Contains(err.Error(), "Secr3tPw") {
		t.Errorf("verify-full: %v", err)
	}
}
