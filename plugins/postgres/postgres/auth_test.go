package postgres_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/halfpipe-io/halfpipe/plugins/postgres/postgres"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// fakeServer serves each connection with handle on 127.0.0.1 and returns
// its address; it stops when the test ends.
func fakeServer(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// passwordServer is a PostgreSQL server that asks for a password and
// refuses it as a real one does (the local server trusts every login, so
// it cannot show a wrong password).
func passwordServer(t *testing.T) string {
	return fakeServer(t, func(c net.Conn) {
		be := pgproto3.NewBackend(c, c)
		msg, err := be.ReceiveStartupMessage()
		if err != nil {
			return
		}
		if _, ok := msg.(*pgproto3.SSLRequest); ok {
			if _, err := c.Write([]byte("N")); err != nil {
				return
			}
			if msg, err = be.ReceiveStartupMessage(); err != nil {
				return
			}
		}
		user := msg.(*pgproto3.StartupMessage).Parameters["user"]
		be.Send(&pgproto3.AuthenticationCleartextPassword{})
		if err := be.Flush(); err != nil {
			return
		}
		if _, err := be.Receive(); err != nil {
			return
		}
		be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", Code: "28P01", Message: `password authentication failed for user "` + user + `"`})
		_ = be.Flush()
	})
}

func TestConnectionFailures(t *testing.T) {
	c := postgres.New()
	ctx := context.Background()
	addr := passwordServer(t)
	for _, dsn := range []string{
		"postgres://etl:Secr3tPw@" + addr + "/test?sslmode=disable",
		"host=" + strings.Split(addr, ":")[0] + " port=" + strings.Split(addr, ":")[1] + " user=etl password=Secr3tPw dbname=test sslmode=disable",
	} {
		_, err := c.Check(ctx, sdk.Connection{DSN: dsn})
		if !errors.Is(err, sdk.ErrUnauthenticated) || !strings.Contains(err.Error(), `password authentication failed for user "etl"`) || strings.Contains(err.Error(), "Secr3tPw") {
			t.Errorf("wrong password (%s): %v", sdk.MaskDSN(dsn), err)
		}
		// A table read (COPY, its own connection) fails the same way.
		_, err = c.Read(ctx, sdk.ReadRequest{Conn: sdk.Connection{DSN: dsn}, Source: sdk.Source{Object: &sdk.ObjectRef{Name: "t"}}})
		if !errors.Is(err, sdk.ErrUnauthenticated) || strings.Contains(err.Error(), "Secr3tPw") {
			t.Errorf("wrong password, read (%s): %v", sdk.MaskDSN(dsn), err)
		}
	}
	// Nothing listens on port 1.
	_, err := c.Check(ctx, sdk.Connection{DSN: "postgres://etl:Secr3tPw@127.0.0.1:1/test?sslmode=disable&connect_timeout=2"})
	if !errors.Is(err, sdk.ErrUnavailable) || !strings.Contains(err.Error(), "127.0.0.1") || strings.Contains(err.Error(), "Secr3tPw") {
		t.Errorf("server down: %v", err)
	}
}
