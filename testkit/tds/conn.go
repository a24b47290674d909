package tds

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
)

// Token types ([MS-TDS] 2.2.7).
const (
	tokColMetadata  = 0x81
	tokError        = 0xAA
	tokLoginAck     = 0xAD
	tokRow          = 0xD1
	tokNBCRow       = 0xD2
	tokEnvChange    = 0xE3
	tokReturnStatus = 0x79
	tokReturnValue  = 0xAC
	tokDone         = 0xFD
	tokDoneProc     = 0xFE
	tokDoneInProc   = 0xFF
)

// DONE status bits.
const (
	doneFinal = 0x00
	doneMore  = 0x01
	doneError = 0x02
	doneCount = 0x10
	doneAttn  = 0x20
)

// TDS versions as LOGIN7 and LOGINACK carry them.
const (
	tdsVersion73A = 0x730A0003 // SQL Server 2008: date and time types
	tdsVersion74  = 0x74000004
)

type conn struct {
	s          *Server
	id         uint64 // Query.Session
	c          net.Conn
	msgs       chan message
	pending    *message
	packetSize int
	tranID     uint64
	tdsVersion uint32 // negotiated
	// calls is the response message of a request of several RPC calls,
	// moreCalls whether calls follow the one being answered.
	calls      *msgWriter
	moreCalls  bool
	prepared   map[int32]prepared // sp_prepare's statements by handle
	nextHandle int32
	database   string

	bulkStmt string              // the accepted INSERT BULK awaiting its BULKLOAD
	temp     map[string][]Column // #temporary tables
	inTx     bool
	created  []string // tables created in the open transaction
}

func (s *Server) serve(c net.Conn) error {
	cn := &conn{s: s, c: c, id: s.sessions.Add(1), msgs: make(chan message, 16), packetSize: defaultPktSize, temp: map[string][]Column{}, prepared: map[int32]prepared{}}
	go readMessages(c, cn.msgs)
	s.mu.Lock()
	s.temps[cn.id] = cn.temp
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.temps, cn.id)
		s.mu.Unlock()
		c.Close()
		for range cn.msgs { // let the reader finish
		}
		// A connection that goes away rolls back its open transaction, as
		// the handler of an explicit ROLLBACK sees it: a driver whose
		// context was cancelled may drop the connection without one.
		if cn.inTx {
			for _, k := range cn.created {
				cn.dropTable(k)
			}
			q := Query{SQL: "ROLLBACK TRANSACTION", Session: cn.id}
			if fn := s.handlerFor(q); fn != nil {
				fn(q)
			}
			s.count(func(st *Stats) { st.AbortedTransactions++ })
		}
	}()
	ok, err := cn.handshake()
	if err != nil || !ok {
		return err
	}
	for {
		m, err := cn.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		switch m.typ {
		case pktSQLBatch:
			q, err := parseBatch(m.data)
			if err != nil {
				return err
			}
			s.logf("tds: batch %q", q.SQL)
			err = cn.respond(q, false, nil)
			if err != nil {
				return err
			}
		case pktRPC:
			if err := cn.rpc(m.data); err != nil {
				return err
			}
		case pktAttention:
			s.count(func(st *Stats) { st.Attentions++ })
			// The response already ended; acknowledge in its own message.
			if err := cn.sendDone(tokDone, doneAttn, 0, 0); err != nil {
				return err
			}
		case pktTransMgr:
			if err := cn.transMgr(m.data); err != nil {
				return err
			}
		case pktBulkLoad:
			if err := cn.bulkLoad(m.data); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unexpected packet type %d", m.typ)
		}
	}
}

func (cn *conn) next() (message, error) {
	if cn.pending != nil {
		m := *cn.pending
		cn.pending = nil
		return m, nil
	}
	m, ok := <-cn.msgs
	if !ok {
		return message{}, io.EOF
	}
	if m.err != nil {
		return message{}, m.err
	}
	return m, nil
}

// attention polls for an ATTENTION message without blocking. It reports
// true if the client cancelled or the connection failed.
func (cn *conn) attention() bool {
	if cn.pending != nil {
		return false
	}
	select {
	case m, ok := <-cn.msgs:
		if !ok || m.err != nil {
			return true
		}
		if m.typ == pktAttention {
			cn.s.count(func(st *Stats) { st.Attentions++ })
			return true
		}
		cn.pending = &m
	default:
	}
	return false
}

func (cn *conn) writer() *msgWriter {
	w := newMsgWriter(cn.c, cn.packetSize)
	w.sent = func(n int) { cn.s.count(func(st *Stats) { st.Packets += n }) }
	return w
}

// handshake runs PRELOGIN and LOGIN7. ok is false when the login failed.
func (cn *conn) handshake() (ok bool, err error) {
	m, err := cn.next()
	if err != nil {
		return false, err
	}
	if m.typ != pktPrelogin {
		return false, fmt.Errorf("expected PRELOGIN, got packet type %d", m.typ)
	}
	opts, err := parsePrelogin(m.data)
	if err != nil {
		return false, err
	}
	if e, ok := opts[1]; ok && len(e) == 1 && e[0] == 4 {
		return false, errors.New("client requires strict encryption")
	}
	// Whatever the client wants, encryption is not supported: the driver
	// proceeds without TLS for off/not-sup and fails clearly ("server does
	// not support encryption") when it requires encryption.
	w := cn.writer()
	w.Write(preloginResponse())
	if err := w.finish(); err != nil {
		return false, err
	}

	m, err = cn.next()
	if err != nil {
		return false, err
	}
	if m.typ != pktLogin7 {
		return false, fmt.Errorf("expected LOGIN7, got packet type %d", m.typ)
	}
	l, err := parseLogin7(m.data)
	if err != nil {
		return false, err
	}
	if l.packetSize >= minPacketSize && l.packetSize <= maxPacketSize {
		cn.packetSize = l.packetSize
	}
	w = cn.writer()
	var b tokBuf
	if pw, known := cn.s.logins[l.user]; len(cn.s.logins) > 0 && (!known || pw != l.password) {
		cn.s.logf("tds: login failed for %q", l.user)
		cn.s.count(func(st *Stats) { st.FailedLogins++ })
		b.errorToken(&Error{Number: 18456, State: 1, Class: 14, Message: fmt.Sprintf("Login failed for user '%s'.", l.user)})
		b.done(tokDone, doneError, 0, 0)
		w.Write(b)
		return false, w.finish()
	}
	cn.s.count(func(st *Stats) { st.Logins++ })
	db := l.database
	if db == "" {
		db = "master"
	}
	cn.database = db
	b.envChangeStr(1, db, "master")
	b.envChangeStr(4, strconv.Itoa(cn.packetSize), strconv.Itoa(l.packetSize))
	// The server speaks the client's version up to 7.4, as SQL Server does.
	cn.tdsVersion = min(max(l.tdsVersion, 0x71000001), tdsVersion74)
	b.loginAck(cn.tdsVersion)
	b.done(tokDone, doneFinal, 0, 0)
	w.Write(b)
	return true, w.finish()
}

func (cn *conn) sendDone(tok byte, status uint16, curCmd uint16, count uint64) error {
	var b tokBuf
	b.done(tok, status, curCmd, count)
	w := cn.response()
	w.Write(b)
	return cn.end(w)
}

func (cn *conn) sendError(e *Error, rpc bool) error {
	return cn.finishWithError(cn.response(), e, rpc)
}

// response is the writer of the response message: the one being built
// for a request of several RPC calls, else a new one.
func (cn *conn) response() *msgWriter {
	if cn.calls != nil {
		return cn.calls
	}
	return cn.writer()
}

// end finishes the response message unless more calls of the request
// are to answer in it.
func (cn *conn) end(w *msgWriter) error {
	if cn.calls != nil {
		return w.err
	}
	return w.finish()
}

// procDone is the status of a call's DONEPROC: more follow it until the
// request's last call.
func (cn *conn) procDone(status uint16) uint16 {
	if cn.moreCalls {
		status |= doneMore
	}
	return status
}

// rpc answers an RPC request's calls in one response message.
func (cn *conn) rpc(data []byte) error {
	calls, err := parseRPC(data)
	if err != nil {
		q := Query{RPC: true}
		if len(calls) > 0 {
			q = calls[len(calls)-1].query()
		}
		cn.s.logf("tds: rpc %q: %v", q.SQL, err)
		return cn.sendError(&Error{Number: 50000, State: 1, Class: 16, Message: "tds test server: cannot decode RPC request: " + err.Error()}, true)
	}
	if len(calls) > 1 {
		cn.calls = cn.writer()
		defer func() { cn.calls, cn.moreCalls = nil, false }()
	}
	for i, c := range calls {
		cn.moreCalls = i < len(calls)-1
		if err := cn.call(c); err != nil {
			return err
		}
	}
	if cn.calls != nil {
		return cn.calls.finish()
	}
	return nil
}

// prepared is a statement sp_prepare prepared.
type prepared struct{ sql, decl string }

// call answers one RPC call: sp_prepare, sp_execute, sp_prepexec and
// sp_unprepare (FreeTDS's prepared statements, and its parameter arrays)
// as SQL Server does, every other call with its registered response.
func (cn *conn) call(c rpcCall) error {
	p := c.params
	str := func(i int) string {
		if i < len(p) {
			s, _ := p[i].Value.(string)
			return s
		}
		return ""
	}
	switch c.procID {
	case procPrepare, procPrepExec:
		// @handle OUTPUT, @params, @stmt[, values ... | @options]
		if len(p) < 3 {
			return cn.sendError(&Error{Number: 201, State: 4, Class: 16, Message: "Procedure or function 'sp_prepare' expects parameter '@stmt', which was not supplied."}, true)
		}
		cn.nextHandle++
		h := cn.nextHandle
		cn.prepared[h] = prepared{sql: str(2), decl: str(1)}
		var ret tokBuf
		ret.returnValue(p[0].Name, h)
		if c.procID == procPrepare {
			var b tokBuf
			b = append(b, tokReturnStatus, 0, 0, 0, 0)
			b = append(b, ret...)
			b.done(tokDoneProc, cn.procDone(doneFinal), 0, 0)
			w := cn.response()
			w.Write(b)
			return cn.end(w)
		}
		q := Query{RPC: true, SQL: str(2), Decl: str(1), Params: p[3:]}
		cn.s.logf("tds: sp_prepexec %q %v", q.SQL, q.Args())
		return cn.respond(q, true, ret)
	case procExecute:
		h, _ := toInt(paramValue(p, 0))
		st, ok := cn.prepared[int32(h)]
		if !ok {
			return cn.sendError(&Error{Number: 8179, State: 4, Class: 16, Message: fmt.Sprintf("Could not find prepared statement with handle %d.", h)}, true)
		}
		q := Query{RPC: true, SQL: st.sql, Decl: st.decl, Params: p[1:]}
		cn.s.logf("tds: sp_execute %q %v", q.SQL, q.Args())
		return cn.respond(q, true, nil)
	case procUnprepare:
		h, _ := toInt(paramValue(p, 0))
		delete(cn.prepared, int32(h))
		var b tokBuf
		b = append(b, tokReturnStatus, 0, 0, 0, 0)
		b.done(tokDoneProc, cn.procDone(doneFinal), 0, 0)
		w := cn.response()
		w.Write(b)
		return cn.end(w)
	}
	q := c.query()
	cn.s.logf("tds: rpc %q %v", q.SQL, q.Args())
	return cn.respond(q, true, nil)
}

func paramValue(p []Param, i int) any {
	if i < len(p) {
		return p[i].Value
	}
	return nil
}

// respond answers a batch or RPC with its registered response, streaming
// rows and stopping early on ATTENTION; an RPC's ret tokens (RETURNVALUE)
// follow its return status.
func (cn *conn) respond(q Query, rpc bool, ret tokBuf) error {
	q.Session = cn.id
	r := cn.s.lookup(q, cn.builtin)
	if r.Err == nil && isInsertBulk(q.SQL) {
		cn.bulkStmt = q.SQL
	}
	if r.Delay > 0 {
		t := time.NewTimer(r.Delay)
		defer t.Stop()
	wait:
		for {
			select {
			case <-t.C:
				break wait
			case <-time.After(5 * time.Millisecond):
				if cn.attention() {
					return cn.sendDone(tokDone, doneAttn, 0, 0)
				}
			}
		}
	}
	w := cn.response()
	attn := false
	w.onFull = func() {
		if !attn && cn.attention() {
			attn = true
		}
	}
	var b tokBuf
	var count uint64
	const curSelect = 0xC1
	if len(r.Columns) > 0 {
		if err := cn.speaks(r.Columns); err != nil {
			return cn.sendError(&Error{Number: 50000, State: 1, Class: 16, Message: "tds test server: " + err.Error()}, rpc)
		}
		if err := b.colMetadata(r.Columns); err != nil {
			return cn.sendError(&Error{Number: 50000, State: 1, Class: 16, Message: "tds test server: " + err.Error()}, rpc)
		}
		total := len(r.Rows) + r.NumRows
		for i := 0; i < total && !attn; i++ {
			var row []any
			if i < len(r.Rows) {
				row = r.Rows[i]
			} else {
				row = r.RowFunc(i - len(r.Rows))
			}
			mark := len(b)
			if err := b.row(r.Columns, row); err != nil {
				w.Write(b[:mark])
				// Abandon the result: report the bad value to the client.
				return cn.finishWithError(w, &Error{Number: 50000, State: 1, Class: 16, Message: fmt.Sprintf("tds test server: row %d: %v", i, err)}, rpc)
			}
			count++
			if len(b) >= 2048 {
				w.Write(b)
				b = b[:0]
			}
		}
	}
	if attn {
		// Rows already written end on a token boundary; confirm the cancel.
		b.done(tokDone, doneAttn, 0, 0)
		w.Write(b)
		return cn.end(w)
	}
	if r.Err != nil {
		w.Write(b)
		return cn.finishWithError(w, r.Err, rpc)
	}
	cmd := uint16(curSelect)
	if len(r.Columns) == 0 {
		count = uint64(r.RowsAffected)
		cmd = 0xC3
	}
	if rpc {
		b.done(tokDoneInProc, doneMore|doneCount, cmd, count)
		b = append(b, tokReturnStatus, 0, 0, 0, 0)
		b = append(b, ret...)
		b.done(tokDoneProc, cn.procDone(doneFinal), 0, 0)
	} else {
		b.done(tokDone, doneCount, cmd, count)
	}
	w.Write(b)
	return cn.end(w)
}

// speaks checks that the negotiated TDS version has the columns' types:
// before 7.3 there are no date, time, datetime2 and datetimeoffset (which
// SQL Server would send as nvarchar; the test server does not convert).
func (cn *conn) speaks(cols []Column) error {
	if cn.tdsVersion >= tdsVersion73A {
		return nil
	}
	for _, c := range cols {
		switch c.Type {
		case Date, Time, DateTime2, DateTimeOffset:
			return fmt.Errorf("column %q: TDS %X has no date and time types (7.3 has)", c.Name, cn.tdsVersion)
		}
	}
	return nil
}

func (cn *conn) finishWithError(w *msgWriter, e *Error, rpc bool) error {
	var b tokBuf
	b.errorToken(e)
	if rpc {
		b.done(tokDoneProc, cn.procDone(doneError), 0, 0)
	} else {
		b.done(tokDone, doneError, 0, 0)
	}
	w.Write(b)
	return cn.end(w)
}

// transMgr answers transaction manager requests ([MS-TDS] 2.2.6.9). They
// are recorded as queries named "BEGIN TRANSACTION", "COMMIT TRANSACTION"
// and "ROLLBACK TRANSACTION", which a handler may fail.
func (cn *conn) transMgr(data []byte) error {
	data, err := skipAllHeaders(data)
	if err != nil {
		return err
	}
	if len(data) < 2 {
		return errors.New("short transaction manager request")
	}
	var b tokBuf
	var tid [8]byte
	req := binary.LittleEndian.Uint16(data)
	name := map[uint16]string{5: "BEGIN TRANSACTION", 7: "COMMIT TRANSACTION", 8: "ROLLBACK TRANSACTION"}[req]
	if name == "" {
		// Other requests (savepoints, DTC) are just acknowledged.
		return cn.sendDone(tokDone, doneFinal, 0, 0)
	}
	q := Query{SQL: name, Session: cn.id}
	if req == 5 && len(data) > 2 {
		q.Isolation = data[2]
	}
	if fn := cn.s.handlerFor(q); fn != nil {
		if r := fn(q); r.Err != nil {
			return cn.sendError(r.Err, false)
		}
	}
	switch req {
	case 5: // TM_BEGIN_XACT
		cn.tranID++
		cn.inTx, cn.created = true, nil
		binary.LittleEndian.PutUint64(tid[:], cn.tranID)
		b.envChangeBytes(8, tid[:], nil)
	case 7, 8: // TM_COMMIT_XACT, TM_ROLLBACK_XACT
		binary.LittleEndian.PutUint64(tid[:], cn.tranID)
		typ := byte(9)
		if req == 8 {
			typ = 10
			// DDL is transactional in SQL Server.
			for _, k := range cn.created {
				cn.dropTable(k)
			}
		}
		cn.inTx, cn.created = false, nil
		b.envChangeBytes(typ, nil, tid[:])
	}
	b.done(tokDone, doneFinal, 0, 0)
	w := cn.writer()
	w.Write(b)
	return w.finish()
}

// builtin answers the statements the server handles itself: SET FMTONLY,
// the driver's bulk copy metadata query, CREATE TABLE, DROP TABLE and
// INSERT BULK.
func (cn *conn) builtin(q Query) (Response, bool) {
	sql := strings.TrimSpace(q.SQL)
	up := strings.ToUpper(sql)
	switch {
	case q.RPC:
		return cn.catalogProc(q)
	case up == "SELECT SCHEMA_NAME()":
		return Response{Columns: []Column{{Type: NVarChar, Length: 128, Nullable: true}}, Rows: [][]any{{"dbo"}}}, true
	case up == "SET FMTONLY ON" || up == "SET FMTONLY OFF":
		return Response{}, true
	case strings.HasPrefix(up, "SELECT * FROM ") && strings.HasSuffix(up, " SET FMTONLY OFF"):
		name := strings.TrimSpace(sql[len("SELECT * FROM ") : len(sql)-len(" SET FMTONLY OFF")])
		cols, ok := cn.table(name)
		if !ok {
			return Response{Err: invalidObject(name)}, true
		}
		return Response{Columns: cols}, true
	case isInsertBulk(sql):
		return Response{}, true
	case strings.HasPrefix(up, "DROP TABLE "):
		name := strings.TrimSpace(strings.TrimSuffix(sql[len("DROP TABLE "):], ";"))
		if !cn.dropTable(tableKey(name)) {
			return Response{Err: &Error{Number: 3701, State: 5, Class: 11, Message: fmt.Sprintf("Cannot drop the table '%s', because it does not exist or you do not have permission.", name)}}, true
		}
		return Response{}, true
	}
	name, cols, ifMissing, ok, err := parseCreateTable(sql)
	if !ok {
		return Response{}, false
	}
	if err != nil {
		return Response{Err: &Error{Number: 102, State: 1, Class: 15, Message: "tds test server: " + err.Error()}}, true
	}
	if _, exists := cn.table(name); exists {
		if ifMissing {
			return Response{}, true
		}
		return Response{Err: &Error{Number: 2714, State: 6, Class: 16, Message: fmt.Sprintf("There is already an object named '%s' in the database.", name)}}, true
	}
	k := tableKey(name)
	if strings.HasPrefix(k, "#") {
		cn.temp[k] = cn.s.collate(cols, true)
	} else {
		cn.s.CreateTable(name, cols)
	}
	if cn.inTx {
		cn.created = append(cn.created, k)
	}
	return Response{}, true
}

func isInsertBulk(sql string) bool {
	return len(sql) > 12 && strings.EqualFold(sql[:12], "INSERT BULK ")
}

func invalidObject(name string) *Error {
	return &Error{Number: 208, State: 1, Class: 16, Message: fmt.Sprintf("Invalid object name '%s'.", name)}
}

func (cn *conn) table(name string) ([]Column, bool) {
	if c, ok := cn.temp[tableKey(name)]; ok {
		return c, true
	}
	return cn.s.Table(name)
}

func (cn *conn) dropTable(k string) bool {
	if _, ok := cn.temp[k]; ok {
		delete(cn.temp, k)
		return true
	}
	cn.s.mu.Lock()
	defer cn.s.mu.Unlock()
	_, ok := cn.s.tables[k]
	delete(cn.s.tables, k)
	delete(cn.s.tableNames, k)
	return ok
}

// tokBuf accumulates tokens.
type tokBuf []byte

func (b *tokBuf) u8(v byte)     { *b = append(*b, v) }
func (b *tokBuf) u16(v uint16)  { *b = binary.LittleEndian.AppendUint16(*b, v) }
func (b *tokBuf) u32(v uint32)  { *b = binary.LittleEndian.AppendUint32(*b, v) }
func (b *tokBuf) u64(v uint64)  { *b = binary.LittleEndian.AppendUint64(*b, v) }
func (b *tokBuf) raw(p []byte)  { *b = append(*b, p...) }
func (b *tokBuf) ucs2(s string) { *b = appendUCS2(*b, s) }

// bvarchar writes a B_VARCHAR (character count byte + UCS-2).
func (b *tokBuf) bvarchar(s string) {
	u := utf16.Encode([]rune(s))
	if len(u) > 255 {
		u = u[:255]
	}
	b.u8(byte(len(u)))
	for _, c := range u {
		b.u16(c)
	}
}

func (b *tokBuf) usvarchar(s string) {
	u := utf16.Encode([]rune(s))
	if len(u) > 65535 {
		u = u[:65535]
	}
	b.u16(uint16(len(u)))
	for _, c := range u {
		b.u16(c)
	}
}

func appendUCS2(dst []byte, s string) []byte {
	for _, c := range utf16.Encode([]rune(s)) {
		dst = binary.LittleEndian.AppendUint16(dst, c)
	}
	return dst
}

func (b *tokBuf) done(tok byte, status, curCmd uint16, count uint64) {
	b.u8(tok)
	b.u16(status)
	b.u16(curCmd)
	b.u64(count)
}

func (b *tokBuf) errorToken(e *Error) {
	var body tokBuf
	body.u32(uint32(e.Number))
	body.u8(e.State)
	class := e.Class
	if class == 0 {
		class = 16
	}
	body.u8(class)
	body.usvarchar(e.Message)
	body.bvarchar("halfpipe-tds")
	body.bvarchar("")
	body.u32(1)
	b.u8(tokError)
	b.u16(uint16(len(body)))
	b.raw(body)
}

func (b *tokBuf) envChangeStr(typ byte, newV, oldV string) {
	var body tokBuf
	body.u8(typ)
	body.bvarchar(newV)
	body.bvarchar(oldV)
	b.u8(tokEnvChange)
	b.u16(uint16(len(body)))
	b.raw(body)
}

// returnValue writes a RETURNVALUE token of an int output parameter.
func (b *tokBuf) returnValue(name string, v int32) {
	b.u8(tokReturnValue)
	b.u16(0) // ordinal
	b.bvarchar(name)
	b.u8(0x01) // output parameter
	b.u32(0)   // user type
	b.u16(0x01)
	b.raw([]byte{tInt, 4, 4})
	b.u32(uint32(v))
}

func (b *tokBuf) envChangeBytes(typ byte, newV, oldV []byte) {
	var body tokBuf
	body.u8(typ)
	body.u8(byte(len(newV)))
	body.raw(newV)
	body.u8(byte(len(oldV)))
	body.raw(oldV)
	b.u8(tokEnvChange)
	b.u16(uint16(len(body)))
	b.raw(body)
}

func (b *tokBuf) loginAck(version uint32) {
	var body tokBuf
	body.u8(1) // SQL_TSQL
	body = binary.BigEndian.AppendUint32(body, version)
	body.bvarchar("Microsoft SQL Server")
	body.raw([]byte{16, 0, 0x10, 0x00}) // 16.0.4096
	b.u8(tokLoginAck)
	b.u16(uint16(len(body)))
	b.raw(body)
}
