package odbc_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	execpkg "os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/halfpipe-io/halfpipe/plugins/odbc/odbc"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/plugintest"
)

func TestWrongPassword(t *testing.T) {
	s := servers[1] // PostgreSQL trusts every local login; MariaDB's root has a password of none
	s.open(t)
	remote := plugintest.Serve(t, odbc.New())
	dsn := strings.Replace(s.dsn, "root@", "root:n0t-the-Passw0rd@", 1)
	_, err := remote.Check(context.Background(), sdk.Connection{DSN: dsn})
	if !errors.Is(err, sdk.ErrUnauthenticated) || strings.Contains(err.Error(), "n0t-the-Passw0rd") {
		t.Fatalf("got %v, want an authentication error without the password", err)
	}
}

func TestUnknownDriverListsRegistered(t *testing.T) {
	remote := plugintest.Serve(t, odbc.New())
	_, err := remote.Check(context.Background(), sdk.Connection{DSN: "odbc+postgres://u:s3cret@127.0.0.1/test?driver=Oracle+21"})
	if !errors.Is(err, sdk.ErrInvalidArgument) || !strings.Contains(err.Error(), `"Oracle 21" is not registered`) ||
		!strings.Contains(err.Error(), "MariaDB Unicode, PostgreSQL ANSI, PostgreSQL Unicode") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("got %v", err)
	}
}

// TestMissingDriverLibrary registers a driver whose library is not there
// (ODBCSYSINI points unixODBC at the test's odbcinst.ini).
// unixODBC reads odbcinst.ini once per process: the test runs itself in
// a child process with that variable.
func TestMissingDriverLibrary(t *testing.T) {
	if os.Getenv("ODBCSYSINI") == "" {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "odbcinst.ini"), []byte("[Gone]\nDriver=/nonexistent/libgoneodbc.so\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := execpkg.Command(os.Args[0], "-test.run=^TestMissingDriverLibrary$", "-test.count=1")
		cmd.Env = append(os.Environ(), "ODBCSYSINI="+dir)
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "PASS") {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	remote := plugintest.Serve(t, odbc.New())
	_, err := remote.Check(context.Background(), sdk.Connection{DSN: "Driver={Gone};Server=127.0.0.1;UID=u;PWD=s3cret"})
	if !errors.Is(err, sdk.ErrFailedPrecondition) || !strings.Contains(err.Error(), "libgoneodbc.so") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("got %v, want an error naming the missing library", err)
	}
}

// TestNoResultSet reads a statement that returns no rows at all, and runs
// one that changes none (SQL_NO_DATA).
func TestNoResultSet(t *testing.T) {
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			db, d := s.open(t)
			tbl := s.q(d) + "." + s.q("n")
			exec(t, db, "CREATE TABLE "+tbl+" (id INTEGER)")
			remote := plugintest.Serve(t, odbc.New())
			n, err := remote.Exec(context.Background(), s.conn(), []string{"DELETE FROM " + tbl + " WHERE id = 1"})
			if err != nil || n != 0 {
				t.Fatalf("DELETE of no rows: %d, %v", n, err)
			}
			q := "SET search_path TO public"
			if s.mysql {
				q = "SET @x = 1"
			}
			rr, err := remote.Read(context.Background(), sdk.ReadRequest{Conn: s.conn(), Source: sdk.Source{Query: q}})
			if err == nil {
				rr.Release()
			}
			if !errors.Is(err, sdk.ErrInvalidArgument) || !strings.Contains(err.Error(), "no result set") {
				t.Fatalf("got %v", err)
			}
		})
	}
}

// TestServerGoneMidRead cuts the connection while rows stream: the read
// fails with an unavailable error, after some batches and before the end.
func TestServerGoneMidRead(t *testing.T) {
	s := servers[0]
	db, d := s.open(t)
	tbl := s.q(d) + "." + s.q("g")
	exec(t, db, "CREATE TABLE "+tbl+" (id BIGINT, pad VARCHAR(100))",
		"INSERT INTO "+tbl+" SELECT n, repeat('x', 100) FROM generate_series(1, 300000) n")
	p := startProxy(t, "127.0.0.1:5432")
	dsn := strings.Replace(s.dsn, "127.0.0.1:5432", p.addr, 1)
	remote := plugintest.Serve(t, odbc.New())
	rr, err := remote.Read(context.Background(), sdk.ReadRequest{Conn: sdk.Connection{DSN: dsn}, Source: sdk.Source{Object: &sdk.ObjectRef{Schema: d, Name: "g"}}, BatchMaxRows: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	rows := int64(0)
	for rr.Next() {
		rows += rr.RecordBatch().NumRows()
		if rows == 1000 {
			p.cut()
		}
	}
	if err := rr.Err(); !errors.Is(err, sdk.ErrUnavailable) || rows >= 300000 {
		t.Fatalf("after %d rows: %v, want an unavailable error", rows, err)
	}
}

// proxy forwards TCP connections to a server until cut.
type proxy struct {
	addr  string
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func startProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{addr: ln.Addr().String(), ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(s, c); s.Close() }()
			go func() { _, _ = io.Copy(c, s); c.Close() }()
		}
	}()
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) cut() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}
