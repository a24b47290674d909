// Package tds is an in-process fake SQL Server speaking enough of the TDS 7.4
// protocol ([MS-TDS]) for the github.com/microsoft/go-mssqldb driver with
// encrypt=disable, and for FreeTDS's ODBC driver (tdsodbc) without
// encryption. Tests register canned responses per SQL text with
// Server.Handle and inspect what the client sent with Server.Queries.
//
// Supported: PRELOGIN (no TLS), LOGIN7 with SQL authentication (TDS 7.1 to
// 7.4: the server answers in the client's version, and refuses to send
// the 7.3 date and time types below 7.3), SQL batches, RPC requests
// (sp_executesql, procedures called by name, and prepared statements:
// sp_prepare, sp_execute, sp_prepexec, sp_unprepare; several calls in one
// request, as FreeTDS sends arrays of parameters), ATTENTION (cancel),
// transaction manager requests (recorded as "BEGIN TRANSACTION",
// "COMMIT TRANSACTION" and "ROLLBACK TRANSACTION" queries, which handlers
// may answer with an error), result sets split across packets of the
// negotiated size, and bulk loads (INSERT BULK followed by a BULKLOAD
// message; see [Server.HandleBulk]).
//
// The server keeps a catalog of table columns only, for the driver's bulk
// copy and the catalog procedures ODBC drivers call (sp_tables,
// sp_columns, sp_pkeys; and SELECT SCHEMA_NAME(), which is dbo): CREATE
// TABLE batches (optionally behind IF OBJECT_ID(...) IS NULL) and DROP
// TABLE batches maintain it, #temporary tables per connection, and a
// rolled-back transaction (or one left open when its connection closes)
// forgets the tables it created; [Server.DescribeTable] adds a table's
// description. It holds no rows: tests answer other statements with
// handlers.
package tds

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// TB is the part of testing.TB the server needs; testing.TB and
// testkit.TB both satisfy it.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Cleanup(func())
}

// Server is a fake SQL Server listening on 127.0.0.1.
type Server struct {
	// Addr is host:port of the listener.
	Addr string

	ln     net.Listener
	logins map[string]string
	logf   func(format string, args ...any)

	sessions atomic.Uint64

	mu       sync.Mutex
	handlers map[string][]handler
	matchers []matcher
	tables   map[string][]Column
	// tableNames are the tables' names as created: schema and name.
	tableNames map[string][2]string
	described  map[string]catalogTable
	// temps are the sessions' #temporary tables (each connection's own
	// map, which only its goroutine changes).
	temps  map[uint64]map[string][]Column
	bulkFn func(Bulk) *Error
	// collation and tempdbCollation are the database's and tempdb's
	// default collations.
	collation, tempdbCollation string
	queries                    []Query
	conns                      map[net.Conn]struct{}
	closed                     bool
	wg                         sync.WaitGroup
	stats                      Stats
}

// Stats counts protocol events since the server started.
type Stats struct {
	Logins       int // successful logins
	FailedLogins int
	Attentions   int // ATTENTION (cancel) requests received
	Packets      int // packets sent to clients
	// AbortedTransactions counts connections closed with a transaction
	// open, which the server rolled back.
	AbortedTransactions int
}

// Stats returns the protocol counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

func (s *Server) count(f func(*Stats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
}

type matcher struct {
	match func(sql string) bool
	fn    func(Query) Response
}

type handler struct {
	args   []any // nil: any parameters
	anyArg bool
	fn     func(Query) Response
}

// Option configures a Server.
type Option func(*Server)

// WithLogin adds an accepted SQL login. Without any WithLogin option every
// user name and password is accepted. With at least one, other credentials
// fail with error 18456 ("Login failed for user ...").
func WithLogin(user, password string) Option {
	return func(s *Server) { s.logins[user] = password }
}

// WithCollations sets the default collations of the server's database
// and of its tempdb (both [DefaultCollation] otherwise). The character
// columns of tables take the database's unless their definition says
// COLLATE, those of #temporary tables tempdb's; comparing two columns of
// different collations fails with error 468, as a sync or merge that
// stages keys in a #table under a tempdb collation other than the
// table's does on SQL Server.
func WithCollations(database, tempdb string) Option {
	return func(s *Server) { s.collation, s.tempdbCollation = database, tempdb }
}

// collate resolves the collations of a new table's character columns:
// the default of where it is created (tempdb's for a #table) when none
// is named, the database's for DATABASE_DEFAULT.
func (s *Server) collate(cols []Column, temp bool) []Column {
	out := make([]Column, len(cols))
	for i, c := range cols {
		if c.isChar() {
			switch {
			case c.Collation == "" && temp:
				c.Collation = s.tempdbCollation
			case c.Collation == "" || strings.EqualFold(c.Collation, "DATABASE_DEFAULT"):
				c.Collation = s.collation
			}
		}
		out[i] = c
	}
	return out
}

// CollationConflict is SQL Server's error 468, comparing character
// columns of collations a and b with =.
func CollationConflict(a, b string) *Error {
	return &Error{Number: 468, State: 9, Class: 16, Message: fmt.Sprintf("Cannot resolve the collation conflict between \"%s\" and \"%s\" in the equal to operation.", a, b)}
}

// WithLog makes the server log protocol events (connections, queries) via f.
func WithLog(f func(format string, args ...any)) Option {
	return func(s *Server) { s.logf = f }
}

// Query is a request received by the server.
type Query struct {
	// SQL is the batch text, the sp_executesql statement text, or the
	// procedure name of an RPC called by name.
	SQL string
	// Params are the RPC parameters (for sp_executesql without the
	// statement and the declaration string), in order.
	Params []Param
	// Decl is sp_executesql's parameter declaration, e.g. "@p1 bigint".
	Decl string
	// RPC reports whether the query came as an RPC request rather than
	// as a SQL batch.
	RPC bool
	// Bulk is set, and SQL empty, for a BULKLOAD message.
	Bulk *Bulk
	// Session numbers the connection the query came on (from 1), so a
	// handler can keep each connection's transaction apart.
	Session uint64
	// Isolation is the isolation level a BEGIN TRANSACTION request asks
	// for ([MS-TDS] 2.2.6.9): 0 the session's current one, 1 read
	// uncommitted, 2 read committed, 3 repeatable read, 4 serializable,
	// 5 snapshot.
	Isolation byte
}

// Args returns the parameter values in order.
func (q Query) Args() []any {
	out := make([]any, len(q.Params))
	for i, p := range q.Params {
		out[i] = p.Value
	}
	return out
}

// Param is one decoded RPC parameter. Value is nil (NULL), int64, bool,
// float64, string (also decimal, money and uniqueidentifier values, in
// canonical text form), []byte, time.Time, or UnsupportedValue.
type Param struct {
	Name  string // e.g. "@p1"; empty for unnamed parameters
	Value any
}

// UnsupportedValue is the Value of a parameter whose type the server
// does not decode: the TDS type code and the raw value bytes.
type UnsupportedValue struct {
	TypeCode byte
	Raw      []byte
}

// Response is what the server answers to a query.
type Response struct {
	// Columns and Rows form the result set. No Columns means no result set.
	Columns []Column
	// Rows hold Go values: nil for NULL, int64 (or any integer type),
	// float64, string, []byte, time.Time, bool, *big.Rat (decimal, money).
	Rows [][]any
	// RowFunc, when set, produces NumRows more rows after Rows, generated
	// while streaming (for large results).
	RowFunc func(i int) []any
	NumRows int
	// Err, when set, makes the query fail with this server error (after
	// any rows).
	Err *Error
	// RowsAffected is reported for statements without a result set.
	RowsAffected int64
	// Delay is waited before answering.
	Delay time.Duration
}

// Error is a SQL Server error as sent in an ERROR token.
type Error struct {
	Number  int32
	State   uint8
	Class   uint8 // severity; 16 when zero
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("mssql error %d: %s", e.Number, e.Message)
}

// Start starts a server on 127.0.0.1:0 that stops when the test ends.
func Start(t TB, opts ...Option) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("tds: listen: %v", err)
	}
	s := &Server{
		Addr:       ln.Addr().String(),
		ln:         ln,
		logins:     map[string]string{},
		handlers:   map[string][]handler{},
		tables:     map[string][]Column{},
		tableNames: map[string][2]string{},
		described:  map[string]catalogTable{},
		temps:      map[uint64]map[string][]Column{},
		conns:      map[net.Conn]struct{}{},
		logf:       func(string, ...any) {},
		collation:  DefaultCollation,
	}
	s.tempdbCollation = DefaultCollation
	for _, o := range opts {
		o(s)
	}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.Close)
	return s
}

// Close stops the listener and closes all connections.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.ln.Close()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// KillConnections closes every client connection, as KILL does on SQL
// Server; each connection's open transaction is rolled back. It returns
// how many it closed.
func (s *Server) KillConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
	return len(s.conns)
}

// OpenConnections is the number of client connections not yet ended
// (a connection ends after its open transaction is rolled back).
func (s *Server) OpenConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// DSN returns a go-mssqldb connection string for the server
// (encryption disabled).
func (s *Server) DSN(user, password, database string) string {
	u := url.URL{
		Scheme: "sqlserver",
		User:   url.UserPassword(user, password),
		Host:   s.Addr,
	}
	q := url.Values{}
	if database != "" {
		q.Set("database", database)
	}
	q.Set("encrypt", "disable")
	u.RawQuery = q.Encode()
	return u.String()
}

// Handle registers the response to sql (exact text; for sp_executesql the
// statement text) with any parameters. A later registration for the same
// text replaces an earlier one.
func (s *Server) Handle(sql string, r Response) {
	s.HandleFunc(sql, func(Query) Response { return r })
}

// HandleArgs registers the response to sql when called with exactly these
// parameter values (compared after normalizing integers to int64 and
// floats to float64). Matches with arguments win over Handle.
func (s *Server) HandleArgs(sql string, args []any, r Response) {
	norm := make([]any, len(args))
	for i, a := range args {
		norm[i] = normalizeArg(a)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	hs := s.handlers[sql]
	for i, h := range hs {
		if !h.anyArg && reflect.DeepEqual(h.args, norm) {
			hs[i].fn = func(Query) Response { return r }
			return
		}
	}
	s.handlers[sql] = append(hs, handler{args: norm, fn: func(Query) Response { return r }})
}

// HandleFunc registers a function computing the response to sql.
func (s *Server) HandleFunc(sql string, f func(Query) Response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	hs := s.handlers[sql]
	for i, h := range hs {
		if h.anyArg {
			hs[i].fn = f
			return
		}
	}
	s.handlers[sql] = append(hs, handler{anyArg: true, fn: f})
}

// HandleMatch registers f for the queries whose text match accepts and
// that have no exact registration (Handle, HandleArgs, HandleFunc). The
// latest matching registration wins.
func (s *Server) HandleMatch(match func(sql string) bool, f func(Query) Response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.matchers = append(s.matchers, matcher{match: match, fn: f})
}

// Queries returns every query received so far, in order.
func (s *Server) Queries() []Query {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Query(nil), s.queries...)
}

// ResetQueries forgets the queries received so far.
func (s *Server) ResetQueries() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queries = nil
}

func normalizeArg(a any) any {
	switch v := a.(type) {
	case nil, string, bool, []byte, time.Time:
		return v
	}
	rv := reflect.ValueOf(a)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return int64(rv.Uint())
	case reflect.Float32, reflect.Float64:
		return rv.Float()
	}
	return a
}

func argsEqual(want, got []any) bool {
	if len(want) != len(got) {
		return false
	}
	for i := range want {
		w, g := want[i], normalizeArg(got[i])
		if wt, ok := w.(time.Time); ok {
			gt, ok := g.(time.Time)
			if !ok || !wt.Equal(gt) {
				return false
			}
			continue
		}
		if !reflect.DeepEqual(w, g) {
			return false
		}
	}
	return true
}

// handlerFor records q and returns its registered handler, or nil.
func (s *Server) handlerFor(q Query) func(Query) Response {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queries = append(s.queries, q)
	hs := s.handlers[q.SQL]
	for _, h := range hs {
		if !h.anyArg && argsEqual(h.args, q.Args()) {
			return h.fn
		}
	}
	var fn func(Query) Response
	for _, h := range hs {
		if h.anyArg {
			fn = h.fn
		}
	}
	if fn != nil {
		return fn
	}
	for i := len(s.matchers) - 1; i >= 0; i-- {
		if s.matchers[i].match(q.SQL) {
			return s.matchers[i].fn
		}
	}
	return nil
}

// lookup records q and finds its response: a handler's, else builtin's
// (statements the server answers itself), else an error.
func (s *Server) lookup(q Query, builtin func(Query) (Response, bool)) Response {
	if fn := s.handlerFor(q); fn != nil {
		return fn(q)
	}
	if isPing(q.SQL) {
		return Response{Columns: []Column{{Type: Int}}, Rows: [][]any{{int64(1)}}}
	}
	if builtin != nil {
		if r, ok := builtin(q); ok {
			return r
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "tds test server: no handler registered for query %q", q.SQL)
	if len(q.Params) > 0 {
		b.WriteString(" with params")
		for _, p := range q.Params {
			fmt.Fprintf(&b, " %s=%#v", p.Name, p.Value)
		}
	}
	return Response{Err: &Error{Number: 50000, State: 1, Class: 16, Message: b.String()}}
}

func isPing(sql string) bool {
	s := strings.ToLower(strings.TrimSpace(sql))
	return s == "select 1;" || s == "select 1"
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			err := s.serve(c)
			if err != nil && !errors.Is(err, net.ErrClosed) {
				s.logf("tds: connection %s: %v", c.RemoteAddr(), err)
			}
		}()
	}
}
