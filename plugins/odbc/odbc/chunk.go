package odbc

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/halfpipe-io/halfpipe/plugins/odbc/odbc/odbcdriver"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

// MariaDB Connector/ODBC 3.1 (Debian 12's 3.1.15) stores every result
// whole in the client and has no streaming option (NO_CACHE came in
// 3.1.17), so a MySQL/MariaDB table read goes in chunks by its primary
// key: `... WHERE <key> > <last key> ORDER BY <key> LIMIT n`, every chunk
// in the read's one transaction (REPEATABLE READ, WITH CONSISTENT
// SNAPSHOT): the chunks together are the table at one point in time,
// each row exactly once.

// defaultChunkRows bounds the driver's memory to about n rows of the
// table (lineitem: 160 bytes a row in the driver).
const defaultChunkRows = 50000

// chunkQueries counts the chunk statements run (tests).
var chunkQueries atomic.Int64

type chunkKey struct{}

// chunkPlan is a chunked read's key and chunk size.
type chunkPlan struct {
	keys     []string // column names, in key order
	quoted   []string
	rows     int
	hasWhere bool // the read's statement has a WHERE already
}

// chunkRows is the chunk size of conn: the chunk_rows option, or the
// default; 0 turns chunking off.
func chunkRows(conn sdk.Connection) (int, error) {
	v := conn.Option("chunk_rows", "")
	if v == "" {
		return defaultChunkRows, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, sdk.InvalidArgumentf("chunk_rows %q is not a number of rows", v)
	}
	return n, nil
}

// planChunks decides whether a MySQL/MariaDB read goes in chunks and
// returns ctx carrying the plan (and req without an ORDER BY the chunks
// already give). A read that cannot be chunked runs as one query, with a
// warning where it is a table read: the driver holds its whole result.
func (t *target) planChunks(ctx context.Context, req sdk.ReadRequest) (context.Context, sdk.ReadRequest, error) {
	n, err := chunkRows(req.Conn)
	if err != nil || n == 0 || req.Source.Object == nil || req.Partition != nil {
		return ctx, req, err
	}
	obj := *req.Source.Object
	whole := func(why string) (context.Context, sdk.ReadRequest, error) {
		slog.Warn("reading the table in one query: MariaDB Connector/ODBC holds its whole result in memory", "table", obj.String(), "reason", why)
		return ctx, req, nil
	}
	keys, err := t.primaryKey(ctx, t.db, obj)
	if err != nil {
		return ctx, req, t.classify(err)
	}
	if len(keys) == 0 {
		return whole("no primary key")
	}
	if len(req.Columns) > 0 {
		for _, k := range keys {
			if !slices.Contains(req.Columns, k) {
				return whole("key column " + k + " is not read")
			}
		}
	}
	cols, err := t.columns(ctx, t.db, obj)
	if err != nil {
		return ctx, req, t.classify(err)
	}
	for _, k := range keys {
		i := slices.IndexFunc(cols, func(m sqlsource.ColumnMeta) bool { return m.Name == k })
		if i < 0 {
			return whole("key column " + k + " not described")
		}
		if why := t.keyTypeProblem(cols[i].NativeType); why != "" {
			return whole("key column " + k + ": " + why)
		}
	}
	if len(req.OrderBy) > 0 {
		if len(req.OrderBy) > len(keys) {
			return whole("ordered by more than the key")
		}
		for i, o := range req.OrderBy {
			if o.Column != keys[i] || o.Descending || o.Binary {
				return whole("ordered otherwise than by the key")
			}
		}
		// The chunks come in key order.
		req.OrderBy = nil
	}
	p := &chunkPlan{keys: keys, rows: n, hasWhere: req.Where != "" || (req.Range != nil && (req.Range.Lower != nil || req.Range.Upper != nil))}
	for _, k := range keys {
		p.quoted = append(p.quoted, t.fl.quote(k))
	}
	return context.WithValue(ctx, chunkKey{}, p), req, nil
}

// keyTypeProblem says why a key column of this type cannot bound chunks:
// its values must come back from the driver and go back as parameters
// that compare exactly as the server orders the column. TIMESTAMP is
// out (its session-time-zone text repeats in a DST fold), and so are
// floats, BIT, ENUM (ordered by index, compared as text) and SET.
func (t *target) keyTypeProblem(native string) string {
	v, ok := t.types.Load(native)
	if !ok {
		return "type " + native + " unknown"
	}
	name := strings.ToLower(native)
	for _, bad := range []string{"timestamp", "enum", "set", "bit", "year"} {
		if strings.HasPrefix(name, bad) {
			return "type " + native
		}
	}
	switch v.(typeInfo).sqlType {
	case sqlTinyint, sqlSmallint, sqlInteger, sqlBigint, sqlDecimal, sqlNumeric,
		sqlChar, sqlVarchar, sqlWChar, sqlWVarchar, sqlBinary, sqlVarbinary, sqlTypeDate, sqlTypeTimestamp:
		return ""
	}
	return "type " + native
}

// chunked runs the plan's first chunk of q and returns rows that run the
// next ones as they are read.
func (p *chunkPlan) chunked(ctx context.Context, c *odbcdriver.Conn, q string, args []driver.NamedValue) (*chunkedRows, error) {
	r := &chunkedRows{ctx: ctx, c: c, p: p, q: q, args: args}
	first, err := r.query(nil)
	if err != nil {
		return nil, err
	}
	r.cur = first
	names := first.Columns()
	r.names = names
	info := first.ColumnsInfo()
	for _, k := range p.keys {
		i := slices.Index(names, k)
		if i < 0 {
			first.Close()
			return nil, fmt.Errorf("the key column %q is not in the result", k)
		}
		r.keyIdx = append(r.keyIdx, i)
		r.keyCols = append(r.keyCols, info[i])
	}
	r.last = make([]driver.Value, len(p.keys))
	return r, nil
}

// chunkedRows reads the chunks of one read one after the other.
type chunkedRows struct {
	ctx     context.Context
	c       *odbcdriver.Conn
	p       *chunkPlan
	q       string
	args    []driver.NamedValue
	keyIdx  []int
	keyCols []odbcdriver.Column
	names   []string
	cur     *odbcdriver.Rows
	n       int            // rows read of the current chunk
	last    []driver.Value // the key of the last row read
}

// query runs the chunk after the key after (nil: the first).
func (r *chunkedRows) query(after []any) (*odbcdriver.Rows, error) {
	q, args := r.q, slices.Clone(r.args)
	if after != nil {
		// k1 > ? OR (k1 = ? AND k2 > ?) OR ...: ranges the server's
		// optimizer reads off the primary key (a row comparison it may
		// not).
		var ors []string
		for i := range r.p.quoted {
			var ands []string
			for j := 0; j <= i; j++ {
				op := " = ?"
				if j == i {
					op = " > ?"
				}
				ands = append(ands, r.p.quoted[j]+op)
				args = append(args, driver.NamedValue{Ordinal: len(args) + 1, Value: after[j]})
			}
			ors = append(ors, "("+strings.Join(ands, " AND ")+")")
		}
		if r.p.hasWhere {
			q += " AND (" + strings.Join(ors, " OR ") + ")"
		} else {
			q += " WHERE " + strings.Join(ors, " OR ")
		}
	}
	q += " ORDER BY " + strings.Join(r.p.quoted, ", ") + " LIMIT " + strconv.Itoa(r.p.rows)
	chunkQueries.Add(1)
	rows, err := r.c.QueryContext(r.ctx, q, args)
	if err != nil {
		return nil, err
	}
	return rows.(*odbcdriver.Rows), nil
}

// Next implements driver.Rows.
func (r *chunkedRows) Next(dest []driver.Value) error {
	for {
		err := r.cur.Next(dest)
		if err == io.EOF && r.n == r.p.rows {
			// A full chunk: there may be more. dest still holds the last
			// row (Rows.Next leaves it alone at the end).
			after, err := r.keyArgs()
			if err != nil {
				return err
			}
			r.cur.Close()
			r.cur, r.n = nil, 0
			if r.cur, err = r.query(after); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		r.n++
		for j, i := range r.keyIdx {
			r.last[j] = dest[i]
		}
		return nil
	}
}

// keyArgs turns the last row's key into parameters that compare with the
// key columns exactly.
func (r *chunkedRows) keyArgs() ([]any, error) {
	out := make([]any, len(r.last))
	for j, v := range r.last {
		col := r.keyCols[j]
		switch x := v.(type) {
		case int64, uint64, string:
			out[j] = x
		case []byte:
			if isDecimal(col.SQLType) {
				out[j] = odbcdriver.Decimal(string(x))
			} else {
				out[j] = slices.Clone(x)
			}
		case time.Time:
			if col.SQLType == sqlTypeDate {
				out[j] = odbcdriver.Date(x.Unix() / 86400)
			} else {
				out[j] = x
			}
		default:
			return nil, fmt.Errorf("key column %q: cannot continue after a %T value", col.Name, v)
		}
	}
	return out, nil
}

// Columns implements driver.Rows.
func (r *chunkedRows) Columns() []string { return r.names }

// Close implements driver.Rows.
func (r *chunkedRows) Close() error {
	if r.cur == nil {
		return nil
	}
	err := r.cur.Close()
	r.cur = nil
	return err
}
