// Package snowflake is an in-process Snowflake test server for the real
// github.com/snowflakedb/gosnowflake driver, which talks to it with
// protocol=http on 127.0.0.1. It speaks the driver's REST protocol (login,
// query submission with bind variables, result sets typed in their
// rowtype in JSON or in Snowflake's Arrow format (Config.ResultFormat),
// large ones in gzipped chunks, heartbeat, session close) and executes the statements hp sends over a small
// in-memory table store: CREATE/DROP TABLE (temporary tables per session),
// ALTER TABLE ADD/DROP COLUMN and the in-place type changes Snowflake allows,
// INSERT, DELETE, SELECT (with WHERE, ORDER BY and MIN/MAX/COUNT, over
// tables, subqueries and INFORMATION_SCHEMA.COLUMNS/TABLES), SHOW PRIMARY
// KEYS, BEGIN/COMMIT/ROLLBACK (DDL commits an open
// transaction, as in Snowflake), DESC STAGE, COPY INTO from external stages
// that point at an S3 server (Parquet and CSV files, with Snowflake's load
// history per table; over Parquet also the transformation hp sends) and
// MERGE. Every statement is recorded.
//
// Errors carry Snowflake's error codes and SQL states, so the driver turns
// them into *gosnowflake.SnowflakeError as it would for the real service.
package snowflake

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TB is the part of testing.TB the server needs.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// User is an account the server accepts.
type User struct {
	Name string
	// Password, when set, allows password logins.
	Password string
	// PublicKey, when set, allows key-pair (SNOWFLAKE_JWT) logins signed
	// by its private key.
	PublicKey *rsa.PublicKey
	// OAuthToken, when set, allows OAUTH logins with this token.
	OAuthToken string
}

// Config configures a server.
type Config struct {
	// Account is the account name logins must name (case-insensitive).
	Account string
	Users   []User
	// Database and Schema are a session's defaults when the login names
	// none.
	Database, Schema string
	// S3 reads the files of external stages.
	S3 *s3.Client
	// ChunkRows is the most rows a result sends in its response; the
	// rest are chunks of as many rows the driver downloads, gzipped, as
	// Snowflake sends large results. Default 10,000.
	ChunkRows int
	// ResultFormat is how SELECT results are sent: "json" (the default)
	// always as JSON rowsets; "arrow" always in Snowflake's Arrow format
	// (base64 rowsetBase64 and Arrow IPC chunks; see arrowStream), as a
	// real account answers a driver that asks for Arrow; "session" in the
	// format the session asked for at login (GO_QUERY_RESULT_FORMAT,
	// ARROW unless set). Statements that change rows answer in JSON, as
	// Snowflake's do.
	ResultFormat string
}

// Statement is one statement the server received, with its bindings.
type Statement struct {
	Session  int64
	SQL      string
	Bindings []string
	// Err is the error code returned, "" on success.
	Err string
	// ResultFormat is the result format the session asked for at login:
	// JSON, or ARROW (gosnowflake's default); Config.ResultFormat decides
	// what the server answers.
	ResultFormat string
	// Sent is the format of the answer: "json" or "arrow".
	Sent string
}

// Server is a Snowflake test server on 127.0.0.1.
type Server struct {
	// Host and Port are where it listens.
	Host string
	Port int

	cfg      Config
	stageDir string // table stages
	ln       net.Listener
	http     *http.Server
	seq      atomic.Int64

	mu       sync.Mutex
	store    *store
	sessions map[string]*session
	stages   map[string]string
	log      []Statement
	fail     []failRule
	chunks   map[string][]byte // gzipped JSON chunks by id
	served   int               // chunks served
}

type failRule struct {
	prefix string
	err    *Error
}

// Start starts a server that stops when the test ends.
func Start(t TB, cfg Config) *Server {
	t.Helper()
	if cfg.Database == "" {
		cfg.Database = "TEST_DB"
	}
	if cfg.Schema == "" {
		cfg.Schema = "PUBLIC"
	}
	switch strings.ToLower(cfg.ResultFormat) {
	case "", "json", "arrow", "session":
	default:
		t.Fatalf("snowflake test server: ResultFormat %q is not json, arrow or session", cfg.ResultFormat)
	}
	if cfg.ChunkRows <= 0 {
		cfg.ChunkRows = 10_000
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("snowflake test server: %v", err)
	}
	dir, err := os.MkdirTemp("", "hp-snowflake-stages-")
	if err != nil {
		t.Fatalf("snowflake test server: %v", err)
	}
	s := &Server{cfg: cfg, stageDir: dir, ln: ln, store: newStore(), sessions: map[string]*session{}, stages: map[string]string{}, chunks: map[string][]byte{}}
	addr := ln.Addr().(*net.TCPAddr)
	s.Host, s.Port = "127.0.0.1", addr.Port
	mux := http.NewServeMux()
	mux.HandleFunc("/session/v1/login-request", s.login)
	mux.HandleFunc("/queries/v1/query-request", s.query)
	mux.HandleFunc("/session/heartbeat", s.heartbeat)
	mux.HandleFunc("/session/token-request", s.heartbeat)
	mux.HandleFunc("/session", s.closeSession)
	mux.HandleFunc("/chunks/", s.chunk)
	mux.HandleFunc("/telemetry/send", func(w http.ResponseWriter, _ *http.Request) { reply(w, map[string]any{}) })
	s.http = &http.Server{Handler: mux}
	go func() { _ = s.http.Serve(ln) }()
	t.Cleanup(func() {
		_ = s.http.Close()
		_ = os.RemoveAll(dir)
	})
	return s
}

// Addr is host:port.
func (s *Server) Addr() string { return fmt.Sprintf("%s:%d", s.Host, s.Port) }

// AddStage declares an external stage (by its unquoted name; the server
// keeps stages by name alone, whatever the schema) at url,
// s3://bucket/prefix/.
func (s *Server) AddStage(name, url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stages[strings.ToUpper(name)] = url
}

// Stage returns the URL of a stage and whether it exists.
func (s *Server) Stage(name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.stages[strings.ToUpper(name)]
	return u, ok
}

// FailNext makes the next statement that starts with prefix (compared
// case-insensitively, after trimming) fail with the given code and
// message, once.
func (s *Server) FailNext(prefix, code, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = append(s.fail, failRule{strings.ToUpper(prefix), &Error{Code: code, SQLState: "XX000", Message: message}})
}

// Exec runs statements in a session of their own, committing each, as a
// test sets up its tables: CREATE TABLE (with PRIMARY KEY), INSERT with
// literal values, and anything else the server runs. They are not
// recorded among Statements.
func (s *Server) Exec(statements ...string) error {
	sess := &session{db: s.cfg.Database, sch: s.cfg.Schema, temps: map[string]*table{}}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, q := range statements {
		if _, e := s.run(context.Background(), sess, q, nil); e != nil {
			return fmt.Errorf("%s: %w", q, e)
		}
	}
	return nil
}

// ChunksServed is how many result chunks the driver downloaded.
func (s *Server) ChunksServed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.served
}

// Statements returns the statements received so far, in order.
func (s *Server) Statements() []Statement {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Statement(nil), s.log...)
}

// ResetStatements forgets the statements received so far.
func (s *Server) ResetStatements() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = nil
}

// Rows returns the committed rows of a table (SCHEMA.NAME, as stored:
// unquoted names in upper case), each value as the server holds it (nil
// for NULL), in insertion order, and whether the table exists.
func (s *Server) Rows(table string) ([][]*string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tb, ok := s.store.tables[table]
	if !ok {
		return nil, false
	}
	out := make([][]*string, len(tb.rows))
	copy(out, tb.rows)
	return out, true
}

// Columns returns the columns of a committed table as name TYPE.
func (s *Server) Columns(table string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	tb, ok := s.store.tables[table]
	if !ok {
		return nil
	}
	var out []string
	for _, c := range tb.cols {
		out = append(out, c.name+" "+c.typ)
	}
	return out
}

// Tables lists the committed tables.
func (s *Server) Tables() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.store.tables {
		out = append(out, k)
	}
	return out
}

// Error is a Snowflake error as the service reports it.
type Error struct {
	Code     string // e.g. "002003"
	SQLState string // e.g. "42S02"
	Message  string
}

func (e *Error) Error() string { return e.Code + " (" + e.SQLState + "): " + e.Message }

func errorf(code, state, format string, args ...any) *Error {
	return &Error{Code: code, SQLState: state, Message: fmt.Sprintf(format, args...)}
}

// Snowflake's codes for the errors the server reports.
func syntaxErr(format string, args ...any) *Error {
	return errorf("001003", "42000", "SQL compilation error:\n"+format, args...)
}

func notFound(what string) *Error {
	return errorf("002003", "42S02", "SQL compilation error:\n%s does not exist or not authorized.", what)
}

type session struct {
	id        int64
	token     string
	db, sch   string
	tx        *store // working copy while a transaction is open
	temps     map[string]*table
	closed    bool
	inTxStmts int
	// resultFormat is the format the session asked for
	// (GO_QUERY_RESULT_FORMAT, ARROW unless set).
	resultFormat string
}

func reply(w http.ResponseWriter, data any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"data": data, "success": true, "code": nil, "message": nil})
}

func replyErr(w http.ResponseWriter, e *Error, data map[string]any) {
	if data == nil {
		data = map[string]any{}
	}
	data["errorCode"] = e.Code
	data["sqlState"] = e.SQLState
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"data": data, "success": false, "code": e.Code, "message": e.Message})
}

func randToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

type loginRequest struct {
	Data struct {
		AccountName   string `json:"ACCOUNT_NAME"`
		LoginName     string `json:"LOGIN_NAME"`
		Password      string `json:"PASSWORD"`
		Authenticator string `json:"AUTHENTICATOR"`
		Token         string `json:"TOKEN"`
		// SessionParameters are the driver's session parameters.
		SessionParameters map[string]any `json:"SESSION_PARAMETERS"`
	} `json:"data"`
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		replyErr(w, errorf("390100", "08004", "bad login request: %v", err), nil)
		return
	}
	d := req.Data
	if !strings.EqualFold(d.AccountName, s.cfg.Account) {
		replyErr(w, errorf("390201", "08004", "The requested account %q does not exist.", d.AccountName), nil)
		return
	}
	if err := s.authenticate(d.AccountName, d.LoginName, d.Authenticator, d.Password, d.Token); err != nil {
		replyErr(w, err, nil)
		return
	}
	q := r.URL.Query()
	sess := &session{id: s.seq.Add(1), token: randToken(), db: s.cfg.Database, sch: s.cfg.Schema, temps: map[string]*table{}, resultFormat: "ARROW"}
	for k, v := range d.SessionParameters {
		if f, ok := v.(string); ok && strings.EqualFold(k, "GO_QUERY_RESULT_FORMAT") {
			sess.resultFormat = strings.ToUpper(f)
		}
	}
	if v := q.Get("databaseName"); v != "" {
		sess.db = normIdent(v)
	}
	if v := q.Get("schemaName"); v != "" {
		sess.sch = normIdent(v)
	}
	s.mu.Lock()
	s.sessions[sess.token] = sess
	s.mu.Unlock()
	reply(w, map[string]any{
		"token": sess.token, "validityInSeconds": 3600, "masterToken": randToken(), "masterValidityInSeconds": 14400,
		"displayUserName": strings.ToUpper(d.LoginName), "serverVersion": "9.0.0-hp-test", "sessionId": sess.id,
		"healthCheckInterval": 45, "parameters": []any{},
		"sessionInfo": map[string]string{"databaseName": sess.db, "schemaName": sess.sch, "warehouseName": q.Get("warehouse"), "roleName": q.Get("roleName")},
	})
}

func (s *Server) authenticate(account, name, authenticator, password, token string) *Error {
	bad := errorf("390100", "08004", "Incorrect username or password was specified.")
	if name == "" && strings.EqualFold(authenticator, "SNOWFLAKE_JWT") {
		name = jwtUser(token) // key-pair logins name the user in the token only
	}
	for _, u := range s.cfg.Users {
		if !strings.EqualFold(u.Name, name) {
			continue
		}
		switch strings.ToUpper(authenticator) {
		case "SNOWFLAKE_JWT":
			if u.PublicKey == nil {
				return errorf("394304", "08004", "JWT token is invalid: no public key is registered for user %s.", strings.ToUpper(name))
			}
			if err := verifyJWT(token, u.PublicKey, account, name); err != nil {
				return errorf("390144", "08004", "JWT token is invalid: %v", err)
			}
			return nil
		case "OAUTH":
			if u.OAuthToken == "" || token != u.OAuthToken {
				return errorf("390303", "08004", "Invalid OAuth access token.")
			}
			return nil
		case "", "SNOWFLAKE":
			if u.Password == "" || password != u.Password {
				return bad
			}
			return nil
		default:
			return errorf("390100", "08004", "authenticator %s is not supported by the test server", authenticator)
		}
	}
	if strings.EqualFold(authenticator, "SNOWFLAKE_JWT") {
		return errorf("390144", "08004", "JWT token is invalid.")
	}
	return bad
}

func (s *Server) sessionOf(r *http.Request) *session {
	h := r.Header.Get("Authorization")
	tok := strings.TrimSuffix(strings.TrimPrefix(h, `Snowflake Token="`), `"`)
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.sessions[tok]
	if sess == nil || sess.closed {
		return nil
	}
	return sess
}

func (s *Server) heartbeat(w http.ResponseWriter, r *http.Request) {
	if s.sessionOf(r) == nil {
		replyErr(w, errorf("390112", "08001", "Your session has expired. Please login again."), nil)
		return
	}
	reply(w, map[string]any{})
}

func (s *Server) closeSession(w http.ResponseWriter, r *http.Request) {
	if sess := s.sessionOf(r); sess != nil {
		s.mu.Lock()
		sess.closed, sess.tx = true, nil // an open transaction rolls back
		delete(s.sessions, sess.token)
		s.mu.Unlock()
	}
	reply(w, map[string]any{})
}

type bindParam struct {
	Type  string          `json:"type"`
	Value json.RawMessage `json:"value"`
}

type queryRequest struct {
	SQLText  string               `json:"sqlText"`
	Bindings map[string]bindParam `json:"bindings"`
}

func (s *Server) query(w http.ResponseWriter, r *http.Request) {
	sess := s.sessionOf(r)
	if sess == nil {
		replyErr(w, errorf("390112", "08001", "Your session has expired. Please login again."), nil)
		return
	}
	var req queryRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		replyErr(w, errorf("000900", "42000", "bad query request: %v", err), nil)
		return
	}
	binds, err := bindValues(req.Bindings)
	if err != nil {
		replyErr(w, errorf("002049", "42601", "%v", err), nil)
		return
	}
	queryID := fmt.Sprintf("01b0-%08d-%s", s.seq.Add(1), randToken()[:8])
	// A bug in the server is an error for the test to see, not a dropped
	// connection the driver retries for a minute.
	defer func() {
		if p := recover(); p != nil {
			replyErr(w, errorf("000603", "XX000", "test server panic: %v", p), map[string]any{"queryId": queryID})
		}
	}()
	res, e := s.execute(r.Context(), sess, req.SQLText, binds)
	if e != nil {
		replyErr(w, e, map[string]any{"queryId": queryID})
		return
	}
	format := s.format(sess, res)
	encode := jsonChunk
	if format == "arrow" {
		encode = func(rows [][]*string) ([]byte, error) { return arrowStream(res.cols, rows) }
	}
	first, chunks, err := s.splitChunks(queryID, res.rows, encode)
	if err != nil {
		replyErr(w, errorf("000603", "XX000", "test server: encoding the result: %v", err), map[string]any{"queryId": queryID})
		return
	}
	data := map[string]any{
		"queryId": queryID, "rowtype": res.rowtype(), "rowset": first, "total": len(res.rows), "returned": len(first), "chunks": chunks,
		"statementTypeId": res.stmtType, "queryResultFormat": format, "finalDatabaseName": sess.db, "finalSchemaName": sess.sch,
		"parameters": []any{},
	}
	if first == nil {
		data["rowset"] = [][]*string{}
	}
	if format == "arrow" {
		delete(data, "rowset")
		data["rowsetBase64"] = ""
		if len(first) > 0 {
			b, err := arrowStream(res.cols, first)
			if err != nil {
				replyErr(w, errorf("000603", "XX000", "test server: encoding the result: %v", err), map[string]any{"queryId": queryID})
				return
			}
			data["rowsetBase64"] = base64.StdEncoding.EncodeToString(b)
		}
	}
	for k, v := range res.extra {
		data[k] = v
	}
	reply(w, data)
}

// bindValues turns the driver's positional bindings ("1", "2", ...) into
// values; a JSON null binds NULL.
func bindValues(b map[string]bindParam) ([]*string, error) {
	out := make([]*string, len(b))
	for k, p := range b {
		var i int
		if _, err := fmt.Sscanf(k, "%d", &i); err != nil || i < 1 || i > len(b) {
			return nil, fmt.Errorf("binding %q is not a position 1..%d", k, len(b))
		}
		if string(p.Value) == "null" {
			continue
		}
		var v string
		if err := json.Unmarshal(p.Value, &v); err != nil {
			return nil, fmt.Errorf("binding %s: array bindings are not supported by the test server", k)
		}
		if p.Type == "BINARY" {
			v = strings.ToUpper(v)
		}
		out[i-1] = &v
	}
	return out, nil
}

// execute runs one statement for the session and records it.
func (s *Server) execute(ctx context.Context, sess *session, sqlText string, binds []*string) (*result, *Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Statement{Session: sess.id, SQL: sqlText, ResultFormat: sess.resultFormat}
	for _, b := range binds {
		if b == nil {
			st.Bindings = append(st.Bindings, "NULL")
		} else {
			st.Bindings = append(st.Bindings, *b)
		}
	}
	res, e := s.run(ctx, sess, sqlText, binds)
	if e != nil {
		st.Err = e.Code
	} else {
		st.Sent = s.format(sess, res)
	}
	s.log = append(s.log, st)
	return res, e
}

func (s *Server) run(ctx context.Context, sess *session, sqlText string, binds []*string) (*result, *Error) {
	norm := strings.ToUpper(strings.TrimSpace(sqlText))
	for i, f := range s.fail {
		if strings.HasPrefix(norm, f.prefix) {
			s.fail = append(s.fail[:i], s.fail[i+1:]...)
			return nil, f.err
		}
	}
	stmt, err := parse(sqlText)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, e
		}
		return nil, syntaxErr("%v", err)
	}
	x := &exec{srv: s, sess: sess, binds: binds, ctx: ctx}
	return x.do(stmt)
}

// normIdent is a name as Snowflake stores it: upper case unless quoted.
func normIdent(s string) string {
	if len(s) > 1 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return strings.ToUpper(s)
}

// format is the format a result is sent in: only SELECT-like results
// (rows, not counts of changed rows) go as Arrow.
func (s *Server) format(sess *session, res *result) string {
	if res.stmtType != typeSelect || res.extra != nil || len(res.cols) == 0 {
		return "json"
	}
	switch strings.ToLower(s.cfg.ResultFormat) {
	case "arrow":
		return "arrow"
	case "session":
		if sess.resultFormat == "ARROW" {
			return "arrow"
		}
	}
	return "json"
}

// jsonChunk is JSON rows comma-separated without the enclosing brackets,
// as Snowflake's chunks are.
func jsonChunk(rows [][]*string) ([]byte, error) {
	var raw bytes.Buffer
	for j, r := range rows {
		if j > 0 {
			raw.WriteByte(',')
		}
		b, err := json.Marshal(r)
		if err != nil {
			return nil, err
		}
		raw.Write(b)
	}
	return raw.Bytes(), nil
}

// splitChunks keeps the first ChunkRows rows for the response and stores
// the rest as gzipped chunks, each encoded by encode.
func (s *Server) splitChunks(queryID string, rows [][]*string, encode func([][]*string) ([]byte, error)) ([][]*string, []map[string]any, error) {
	n := s.cfg.ChunkRows
	if len(rows) <= n {
		return rows, nil, nil
	}
	var metas []map[string]any
	for i, start := 0, n; start < len(rows); i, start = i+1, start+n {
		part := rows[start:min(start+n, len(rows))]
		raw, err := encode(part)
		if err != nil {
			return nil, nil, err
		}
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		_, _ = zw.Write(raw)
		_ = zw.Close()
		id := fmt.Sprintf("%s-%d", queryID, i)
		s.mu.Lock()
		s.chunks[id] = gz.Bytes()
		s.mu.Unlock()
		metas = append(metas, map[string]any{"url": fmt.Sprintf("http://%s/chunks/%s", s.Addr(), id), "rowCount": len(part),
			"uncompressedSize": len(raw), "compressedSize": gz.Len()})
	}
	return rows[:n], metas, nil
}

// chunk serves a result chunk once; a chunk served is forgotten.
func (s *Server) chunk(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/chunks/")
	s.mu.Lock()
	b, ok := s.chunks[id]
	delete(s.chunks, id)
	if ok {
		s.served++
	}
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	_, _ = w.Write(b)
}
