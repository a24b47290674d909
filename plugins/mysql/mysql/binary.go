package mysql

import (
	"context"
	"database/sql/driver"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

// binaryConnector runs database/sql's queries as prepared statements, so
// results come in the binary protocol (reads choose in query, below): in the text protocol MariaDB prints FLOAT with six
// significant digits, which is not the stored value (3.4028234e38 reads as
// 3.40282e38). Other types arrive as the same text in both protocols.
type binaryConnector struct {
	driver.Connector
	// wire: the config dials through dial, so reads can use the socket
	wire                      bool
	readTimeout, writeTimeout time.Duration
}

// fullConn is what database/sql uses of go-sql-driver's connection.
// binaryConn forwards all but QueryerContext: without it, database/sql
// prepares every query.
type fullConn interface {
	driver.Conn
	driver.QueryerContext
	driver.ConnPrepareContext
	driver.ConnBeginTx
	driver.ExecerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
	driver.NamedValueChecker
}

func (c binaryConnector) Connect(ctx context.Context) (driver.Conn, error) {
	var nc net.Conn
	if c.wire {
		ctx = context.WithValue(ctx, dialedKey{}, &nc)
	}
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	fc, ok := conn.(fullConn)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("MySQL driver connection %T lacks the interfaces the connector forwards", conn)
	}
	bc := binaryConn{c: fc}
	if nc != nil {
		bc.wire = &wire{nc: nc, readTimeout: c.readTimeout, writeTimeout: c.writeTimeout}
	}
	return bc, nil
}

type binaryConn struct {
	c    fullConn
	wire *wire // nil: reads go through the driver
}

func (b binaryConn) Prepare(q string) (driver.Stmt, error) { return b.c.Prepare(q) }
func (b binaryConn) Close() error                          { return b.c.Close() }
func (b binaryConn) Begin() (driver.Tx, error) {
	return b.c.BeginTx(context.Background(), driver.TxOptions{})
}
func (b binaryConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	return b.c.PrepareContext(ctx, q)
}
func (b binaryConn) BeginTx(ctx context.Context, o driver.TxOptions) (driver.Tx, error) {
	return b.c.BeginTx(ctx, o)
}
func (b binaryConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	return b.c.ExecContext(ctx, q, args)
}
func (b binaryConn) Ping(ctx context.Context) error              { return b.c.Ping(ctx) }
func (b binaryConn) ResetSession(ctx context.Context) error      { return b.c.ResetSession(ctx) }
func (b binaryConn) IsValid() bool                               { return b.c.IsValid() }
func (b binaryConn) CheckNamedValue(nv *driver.NamedValue) error { return b.c.CheckNamedValue(nv) }

// textOnSocket makes query read tables whose columns are all exact in
// text in the text protocol on the socket, as it did before binary rows
// were read there: tests set it to compare the two protocols.
var textOnSocket = false

// query reads tables on the socket as prepared statements, in the binary
// protocol: integers, floats, dates and datetimes then come as their
// bytes, which the server does not format as text nor the plugin parse
// back (on 10 bigint columns, 27% of the plugin's CPU and 40% of the
// server thread's; docs/benchmarks.md, History, 2026-12-07). Without the
// socket (TLS, compression), a table whose columns are all exact in text
// is read in the text protocol, which the driver does not box as it does
// binary rows; everything else, queries of unknown columns and reads with
// arguments included, is prepared through the driver.
func query(ctx context.Context, dc any, q string, args []any, cols []sqlsource.ColumnMeta) (driver.Rows, error) {
	bc, ok := dc.(binaryConn)
	if !ok || len(args) > 0 {
		return sqlsource.Query(ctx, dc, q, args)
	}
	exact := textExact(cols)
	if bc.wire != nil && len(cols) > 0 && !(textOnSocket && exact) {
		bin := make([]bool, len(cols))
		for i, c := range cols {
			m, err := mapType(c)
			if err != nil {
				return sqlsource.Query(ctx, dc, q, args)
			}
			bin[i] = m.DecodeBinary != nil
		}
		rows, err := bc.wire.prepared(ctx, bc.c, q, bin, describedTypes(cols))
		if err != nil {
			return nil, err // not a nil *binRows in a non-nil driver.Rows
		}
		return rows, nil
	}
	if exact {
		if bc.wire != nil {
			rows, err := bc.wire.query(ctx, bc.c, q, describedTypes(cols))
			if err != nil {
				return nil, err // not a nil *textRows in a non-nil driver.Rows
			}
			return rows, nil
		}
		return bc.c.QueryContext(ctx, q, nil)
	}
	return sqlsource.Query(ctx, dc, q, args)
}

// textExact reports whether the columns are known and none reads as a
// float, which MariaDB's text protocol rounds.
func textExact(cols []sqlsource.ColumnMeta) bool {
	if len(cols) == 0 {
		return false
	}
	for _, c := range cols {
		m, err := mapType(c)
		if err != nil {
			return false
		}
		switch m.Type.ID() {
		case arrow.FLOAT16, arrow.FLOAT32, arrow.FLOAT64:
			return false
		}
	}
	return true
}

// literal writes integer, decimal, date and timestamp filter values into
// the SQL, so that range reads take the text protocol too. Each is text
// the driver would send as the same parameter: integers as integers,
// decimals and times as strings (the driver sends time.Time as a string).
func literal(v *sdk.Value, _ sqlsource.ColumnMeta) (string, bool) {
	switch v.Kind {
	case sdk.KindInt64:
		return strconv.FormatInt(v.Int, 10), true
	case sdk.KindUint64:
		return strconv.FormatUint(v.Uint, 10), true
	case sdk.KindDecimal:
		if v.Str == "" || strings.Trim(v.Str, "0123456789.+-eE") != "" {
			return "", false
		}
		return "'" + v.Str + "'", true
	case sdk.KindTimestamp, sdk.KindDate:
		t, ok := v.Arg().(time.Time)
		if !ok || t.IsZero() || t.UTC().Year() < 1 || t.UTC().Year() > 9999 {
			return "", false // the driver has its own ways with these
		}
		t = t.UTC()
		if t.Equal(t.Truncate(24 * time.Hour)) {
			return "'" + t.Format("2006-01-02") + "'", true // as the driver writes midnight
		}
		return "'" + t.Format("2006-01-02 15:04:05.999999999") + "'", true
	}
	return "", false
}
