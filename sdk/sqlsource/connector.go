package sqlsource

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/batch"
	"github.com/halfpipe-io/halfpipe/sdk/sqlguard"
)

// Connector implements the sdk interfaces over a Dialect. Connection pools
// are kept per DSN for the life of the plugin.
type Connector struct {
	info    sdk.Info
	dialect *Dialect

	mu  sync.Mutex
	dbs map[string]*sql.DB

	groups groups
}

// New returns a connector. info is served as is (add CapReadQuery to
// Features: the generic reader runs queries).
func New(info sdk.Info, d *Dialect) *Connector {
	return &Connector{info: info, dialect: d, dbs: map[string]*sql.DB{}}
}

// Info implements sdk.Connector.
func (c *Connector) Info() sdk.Info { return c.info }

func (c *Connector) db(conn sdk.Connection) (*sql.DB, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := conn.DSN + fmt.Sprint(conn.Options)
	if db, ok := c.dbs[key]; ok {
		return db, nil
	}
	db, err := c.dialect.Open(conn)
	if err != nil {
		return nil, c.dialect.classify(err, conn.DSN)
	}
	c.dbs[key] = db
	return db, nil
}

// Check implements sdk.Connector.
func (c *Connector) Check(ctx context.Context, conn sdk.Connection) (string, error) {
	db, err := c.db(conn)
	if err != nil {
		return "", err
	}
	var v string
	if err := db.QueryRowContext(ctx, c.dialect.VersionQuery).Scan(&v); err != nil {
		return "", c.dialect.classify(err, conn.DSN)
	}
	return v, nil
}

// ListObjects implements sdk.ObjectLister.
func (c *Connector) ListObjects(ctx context.Context, conn sdk.Connection, schema string) ([]sdk.ObjectInfo, error) {
	db, err := c.db(conn)
	if err != nil {
		return nil, err
	}
	objs, err := c.dialect.ListObjects(ctx, db, schema)
	return objs, c.dialect.classify(err, conn.DSN)
}

// Exec implements sdk.Executor.
func (c *Connector) Exec(ctx context.Context, conn sdk.Connection, statements []string) (int64, error) {
	db, err := c.db(conn)
	if err != nil {
		return 0, err
	}
	sc, err := db.Conn(ctx)
	if err != nil {
		return 0, c.dialect.classify(err, conn.DSN)
	}
	defer sc.Close()
	total := int64(0)
	for i, st := range statements {
		res, err := sc.ExecContext(ctx, st)
		if err != nil {
			return total, fmt.Errorf("statement %d: %w", i+1, c.dialect.classify(err, conn.DSN))
		}
		if n, err := res.RowsAffected(); err == nil {
			total += n
		}
	}
	return total, nil
}

// columns returns the metadata of a table (projected) or nil for a query.
func (c *Connector) columns(ctx context.Context, db *sql.DB, src sdk.Source, names []string) ([]ColumnMeta, error) {
	if src.Object == nil {
		return nil, nil
	}
	all, err := c.dialect.Columns(ctx, db, *src.Object)
	if (err == nil && len(all) == 0) || errors.Is(err, sdk.ErrNotFound) {
		// PostgreSQL allows a table without columns, which a catalog
		// reports like a missing one: only a probe tells them apart.
		if _, perr := db.ExecContext(ctx, "SELECT * FROM "+c.dialect.table(*src.Object)+" WHERE 1=0"); perr == nil {
			return nil, sdk.InvalidArgumentf("table %s has no columns: there is nothing to read", src.Object)
		}
	}
	if err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return nil, sdk.NotFoundf("table %s does not exist", src.Object)
	}
	if len(names) == 0 {
		return all, nil
	}
	out := make([]ColumnMeta, 0, len(names))
	for _, n := range names {
		found := false
		for _, m := range all {
			if m.Name == n {
				out, found = append(out, m), true
				break
			}
		}
		if !found {
			return nil, sdk.NotFoundf("table %s has no column %q", src.Object, n)
		}
	}
	return out, nil
}

func (c *Connector) mappings(cols []ColumnMeta) (*arrow.Schema, []Mapping, error) {
	fields := make([]arrow.Field, len(cols))
	maps := make([]Mapping, len(cols))
	for i, m := range cols {
		mp, err := c.dialect.Map(m)
		if err != nil {
			return nil, nil, fmt.Errorf("column %q (%s): %w", m.Name, m.NativeType, err)
		}
		maps[i] = mp
		fields[i] = arrow.Field{Name: m.Name, Type: mp.Type, Nullable: m.Nullable}
	}
	return arrow.NewSchema(fields, nil), maps, nil
}

// queryFallbacks refuses a query's column that needs a Mapping.Select
// fallback: the query sent the native values, which Decode would misread.
func (c *Connector) queryFallbacks(cols []ColumnMeta, maps []Mapping) error {
	for i, mp := range maps {
		if mp.Select != nil {
			q := c.dialect.quote(cols[i].Name)
			return sdk.Errorf(sdk.ErrUnsupportedType, "column %q (%s) cannot be read as the query returns it: select %s AS %s instead",
				cols[i].Name, cols[i].NativeType, mp.Select(q), q)
		}
	}
	return nil
}

// Describe implements sdk.Describer.
func (c *Connector) Describe(ctx context.Context, conn sdk.Connection, src sdk.Source) (*sdk.Description, error) {
	return c.DescribeColumns(ctx, conn, src, nil)
}

// DescribeColumns is Describe of a table restricted to the named columns,
// in that order (all when names is empty); only those are mapped, so a
// column whose type has no Arrow mapping fails only a read that asks for
// it. An unknown name is an sdk.ErrNotFound error. Queries ignore names.
func (c *Connector) DescribeColumns(ctx context.Context, conn sdk.Connection, src sdk.Source, names []string) (*sdk.Description, error) {
	db, err := c.db(conn)
	if err != nil {
		return nil, err
	}
	var cols []ColumnMeta
	if src.Object != nil {
		if cols, err = c.columns(ctx, db, src, names); err != nil {
			return nil, c.dialect.classify(err, conn.DSN)
		}
	} else {
		rr, err := c.Read(ctx, sdk.ReadRequest{Conn: conn, Source: src, Where: "1=0"})
		if err != nil {
			return nil, err
		}
		defer rr.Release()
		d := &sdk.Description{Schema: rr.Schema()}
		for _, m := range rr.(*reader).cols {
			d.Columns = append(d.Columns, sdk.Column{Name: m.Name, NativeType: m.NativeType, Nullable: m.Nullable})
		}
		return d, nil
	}
	schema, _, err := c.mappings(cols)
	if err != nil {
		return nil, err
	}
	d := &sdk.Description{Schema: schema}
	for _, m := range cols {
		d.Columns = append(d.Columns, sdk.Column{Name: m.Name, NativeType: m.NativeType, Nullable: m.Nullable})
	}
	if c.dialect.PrimaryKey != nil {
		if d.PrimaryKey, err = c.dialect.PrimaryKey(ctx, db, *src.Object); err != nil {
			return nil, c.dialect.classify(err, conn.DSN)
		}
	}
	return d, nil
}

// selectSQL builds the statement of a read or bounds query.
func (c *Connector) selectSQL(src sdk.Source, selectList, where string, rf *sdk.RangeFilter, order []sdk.OrderBy, meta []ColumnMeta) (string, []any, error) {
	return c.selectAsOfSQL(src, "", selectList, where, rf, order, meta)
}

// selectAsOfSQL is selectSQL with asOf after a table's name.
func (c *Connector) selectAsOfSQL(src sdk.Source, asOf, selectList, where string, rf *sdk.RangeFilter, order []sdk.OrderBy, meta []ColumnMeta) (string, []any, error) {
	d := c.dialect
	if src.Object == nil && selectList == "*" && where == "" && rf == nil && len(order) == 0 {
		// Run the user's query as written, so its errors read as its own.
		return src.Query, nil, nil
	}
	var from string
	if src.Object != nil {
		from = d.table(*src.Object)
		if asOf != "" {
			from += " " + asOf
		}
	} else {
		from = "(" + strings.TrimRight(strings.TrimSpace(src.Query), ";") + ") hp_q"
	}
	var conds []string
	var args []any
	if where != "" {
		conds = append(conds, "("+where+")")
	}
	if rf != nil {
		if err := d.ordered(rf.Column, meta); err != nil {
			return "", nil, err
		}
		col := ColumnMeta{Name: rf.Column}
		for _, m := range meta {
			if m.Name == rf.Column {
				col = m
			}
		}
		bind := func(v *sdk.Value) string {
			if d.Literal != nil {
				if lit, ok := d.Literal(v, col); ok {
					return lit
				}
			}
			if d.Arg != nil {
				args = append(args, d.Arg(v, col))
			} else {
				args = append(args, v.Arg())
			}
			return d.placeholder(len(args))
		}
		if rf.Lower != nil {
			op := ">"
			if rf.LowerInclusive {
				op = ">="
			}
			conds = append(conds, fmt.Sprintf("%s %s %s", d.quote(rf.Column), op, bind(rf.Lower)))
		}
		if rf.Upper != nil {
			op := "<"
			if rf.UpperInclusive {
				op = "<="
			}
			conds = append(conds, fmt.Sprintf("%s %s %s", d.quote(rf.Column), op, bind(rf.Upper)))
		}
		if len(rf.Spans) > 0 {
			conds = append(conds, SpansSQL(d.quote(rf.Column), rf.Spans))
		}
	}
	q := "SELECT " + selectList + " FROM " + from
	if len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}
	if len(order) > 0 {
		parts := make([]string, len(order))
		for i, o := range order {
			if err := d.ordered(o.Column, meta); err != nil {
				return "", nil, err
			}
			var err error
			if parts[i], err = d.orderColumn(o); err != nil {
				return "", nil, err
			}
			switch {
			case o.Descending && d.NullsLast:
				parts[i] += " DESC NULLS LAST"
			case o.Descending:
				parts[i] += " DESC"
			case d.NullsLast:
				parts[i] += " NULLS FIRST"
			}
		}
		q += " ORDER BY " + strings.Join(parts, ", ")
	}
	return q, args, nil
}

// ordered refuses a range or an ordering on a column the server orders
// otherwise than its values (Mapping.Unordered).
func (d *Dialect) ordered(column string, meta []ColumnMeta) error {
	for _, m := range meta {
		if m.Name != column || d.Map == nil {
			continue
		}
		if mp, err := d.Map(m); err == nil && mp.Unordered != "" {
			return sdk.InvalidArgumentf("column %q cannot bound a range or order rows: %s", column, mp.Unordered)
		}
	}
	return nil
}

// orderColumn is the expression an OrderBy entry sorts by: the column,
// or for Binary its text as UTF-8 bytes.
func (d *Dialect) orderColumn(o sdk.OrderBy) (string, error) {
	q := d.quote(o.Column)
	if !o.Binary {
		return q, nil
	}
	switch d.SQL {
	case sqlguard.Postgres:
		return q + ` COLLATE "C"`, nil
	case sqlguard.MySQL:
		// Bytes of the UTF-8 text, whatever the column's character set,
		// and without PAD SPACE: utf8mb4_bin ignores trailing spaces.
		return "CAST(CONVERT(" + q + " USING utf8mb4) AS BINARY)", nil
	case sqlguard.SQLite:
		return q + " COLLATE BINARY", nil
	case sqlguard.SQLServer:
		return q + " COLLATE Latin1_General_100_BIN2", nil
	case sqlguard.Oracle:
		// The bytes of the database character set: UTF-8 under AL32UTF8.
		return "NLSSORT(" + q + ", 'NLS_SORT=BINARY')", nil
	}
	return "", sdk.InvalidArgumentf("ordering %q by its bytes is not supported by this connector", o.Column)
}

func (c *Connector) selectList(cols []ColumnMeta, names []string) string {
	if cols == nil && len(names) == 0 {
		return "*"
	}
	parts := make([]string, 0, len(cols))
	for _, m := range cols {
		q := c.dialect.quote(m.Name)
		// A Map error is left to the read, which reports it with the column.
		if c.dialect.Map != nil {
			if mp, err := c.dialect.Map(m); err == nil && mp.Select != nil {
				q = mp.Select(q) + " AS " + q
			}
		}
		parts = append(parts, q)
	}
	if cols == nil {
		for _, n := range names {
			parts = append(parts, c.dialect.quote(n))
		}
	}
	return strings.Join(parts, ", ")
}

// queryColumn describes a query's column as the server types it, from a
// read of no rows, so a range over it is typed like a table column's.
func (c *Connector) queryColumn(ctx context.Context, db *sql.DB, query, col string) (ColumnMeta, error) {
	m := ColumnMeta{Name: col, Nullable: true}
	q := "SELECT " + c.dialect.quote(col) + " FROM (" + strings.TrimRight(strings.TrimSpace(query), ";") + ") hp_q WHERE 1=0"
	if err := c.dialect.checkSQL(q); err != nil {
		return m, err
	}
	sc, err := db.Conn(ctx)
	if err != nil {
		return m, err
	}
	defer sc.Close()
	err = c.dialect.readOnlyRaw(ctx, sc, func(dc any) error {
		rows, err := Query(ctx, dc, q, nil)
		if err != nil {
			return err
		}
		defer rows.Close()
		if r, ok := rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
			m.NativeType = r.ColumnTypeDatabaseTypeName(0)
		}
		if r, ok := rows.(driver.RowsColumnTypePrecisionScale); ok {
			m.Precision, m.Scale, m.HasPrecision = r.ColumnTypePrecisionScale(0)
		}
		return nil
	})
	return m, err
}

// Read implements sdk.Reader.
func (c *Connector) Read(ctx context.Context, req sdk.ReadRequest) (array.RecordReader, error) {
	if req.Source.Object == nil && req.Source.Query == "" {
		return nil, sdk.InvalidArgumentf("nothing to read: no table and no query")
	}
	if err := c.dialect.checkWhere(req.Where); err != nil {
		return nil, err
	}
	db, err := c.db(req.Conn)
	if err != nil {
		return nil, err
	}
	slice, err := c.Slice(ctx, req)
	if err != nil {
		return nil, err
	}
	begin, asOf := c.dialect.readOnly, ""
	if slice != nil {
		defer slice.Abandon()
		req.Where, begin, asOf = slice.Filter(req.Where), slice.Begin, slice.AsOf
	}
	meta, err := c.columns(ctx, db, req.Source, req.Columns)
	if err != nil {
		return nil, c.dialect.classify(err, req.Conn.DSN)
	}
	// The range column's type decides its bounds' type, read or not.
	rangeMeta := meta
	if rf := req.Range; rf != nil && req.Source.Object != nil && len(req.Columns) > 0 && !slices.Contains(req.Columns, rf.Column) {
		if rangeMeta, err = c.columns(ctx, db, req.Source, []string{rf.Column}); err != nil {
			return nil, c.dialect.classify(err, req.Conn.DSN)
		}
	}
	if rf := req.Range; rf != nil && req.Source.Object == nil && (c.dialect.Arg != nil || c.dialect.Literal != nil) {
		m, err := c.queryColumn(ctx, db, req.Source.Query, rf.Column)
		if err != nil {
			return nil, c.dialect.classify(fmt.Errorf("describing the query's column %q: %w", rf.Column, err), req.Conn.DSN)
		}
		rangeMeta = []ColumnMeta{m}
	}
	q, args, err := c.selectAsOfSQL(req.Source, asOf, c.selectList(meta, req.Columns), req.Where, req.Range, req.OrderBy, rangeMeta)
	if err != nil {
		return nil, err
	}
	if err := c.dialect.checkSQL(q); err != nil {
		return nil, err
	}
	r := &reader{c: c, dsn: req.Conn.DSN, meta: meta, begin: begin, first: make(chan error, 1), batches: make(chan arrow.RecordBatch, 1)}
	r.ctx, r.cancel = context.WithCancel(ctx)
	r.opts = []batch.Option{batch.WithMaxRows(req.BatchMaxRows), batch.WithMaxBytes(req.BatchMaxBytes)}
	// The batches queued for the reader and being sent hold at most two
	// batches' bytes, and a huge one travels alone.
	r.flight = batch.NewFlight(2 * req.BatchMaxBytes)
	sc, err := db.Conn(r.ctx)
	if err != nil {
		r.cancel()
		return nil, c.dialect.classify(err, req.Conn.DSN)
	}
	r.conn = sc
	r.done = make(chan struct{})
	go r.produce(q, args)
	if err := <-r.first; err != nil {
		r.Release()
		return nil, err
	}
	return r, nil
}

// reader streams rows decoded on a producer goroutine that holds the raw
// driver connection (database/sql's Conn.Raw forbids using it after its
// callback returns, so the whole query runs inside the callback).
type reader struct {
	c       *Connector
	dsn     string
	ctx     context.Context
	cancel  context.CancelFunc
	conn    *sql.Conn
	begin   func(ctx context.Context, conn any) (func() error, error)
	opts    []batch.Option
	flight  *batch.Flight
	meta    []ColumnMeta
	cols    []ColumnMeta
	schema  *arrow.Schema
	first   chan error
	batches chan arrow.RecordBatch
	done    chan struct{}
	err     error
	ended   bool
	cur     arrow.RecordBatch
	once    sync.Once
	refs    int64
}

func (r *reader) produce(q string, args []any) {
	defer close(r.done)
	defer close(r.batches)
	sent := false
	err := beginRaw(r.ctx, r.conn, r.begin, func(dc any) error {
		run := r.c.dialect.Query
		if run == nil {
			run = func(ctx context.Context, dc any, q string, args []any, _ []ColumnMeta) (driver.Rows, error) {
				return Query(ctx, dc, q, args)
			}
		}
		rows, err := run(r.ctx, dc, q, args, r.meta)
		if err != nil {
			return err
		}
		defer rows.Close()
		cols, err := r.resolveColumns(rows)
		if err != nil {
			return err
		}
		schema, maps, err := r.c.mappings(cols)
		if err != nil {
			return err
		}
		if r.meta == nil {
			if err := r.c.queryFallbacks(cols, maps); err != nil {
				return err
			}
		}
		r.cols, r.schema = cols, schema
		r.first <- nil
		sent = true
		return r.stream(rows, maps)
	})
	if err != nil {
		err = r.c.dialect.classify(err, r.dsn)
		if r.ctx.Err() != nil {
			err = errors.Join(r.ctx.Err(), err)
		}
		if !sent {
			r.first <- err
			return
		}
		r.err = err
	}
}

// resolveColumns uses the catalog's metadata for tables and the driver's
// column types for queries.
func (r *reader) resolveColumns(rows driver.Rows) ([]ColumnMeta, error) {
	names := rows.Columns()
	if r.meta != nil {
		if len(names) != len(r.meta) {
			return nil, fmt.Errorf("query returned %d columns, expected %d", len(names), len(r.meta))
		}
		return r.meta, nil
	}
	cols := make([]ColumnMeta, len(names))
	for i, n := range names {
		m := ColumnMeta{Name: n, Nullable: true}
		if t, ok := rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
			m.NativeType = t.ColumnTypeDatabaseTypeName(i)
		}
		if t, ok := rows.(driver.RowsColumnTypePrecisionScale); ok {
			if p, s, ok := t.ColumnTypePrecisionScale(i); ok {
				m.Precision, m.Scale, m.HasPrecision = p, s, true
			}
		}
		if t, ok := rows.(driver.RowsColumnTypeNullable); ok {
			if nullable, ok := t.ColumnTypeNullable(i); ok {
				m.Nullable = nullable
			}
		}
		cols[i] = m
	}
	return cols, nil
}

func (r *reader) stream(rows driver.Rows, maps []Mapping) error {
	b := batch.NewBuilder(r.schema, r.opts...)
	defer b.Release()
	fields := b.Fields()
	dest := make([]driver.Value, len(maps))
	raw, _ := rows.(RawRows)
	appender, _ := rows.(AppendRows)
	var texts [][]byte
	textDecoders := make([]TextDecoder, len(maps))
	_, binary := rows.(BinaryRows)
	if raw != nil {
		texts = make([][]byte, len(maps))
		for i, m := range maps {
			textDecoders[i] = m.DecodeText
			if binary && m.DecodeBinary != nil {
				textDecoders[i] = m.DecodeBinary
			}
			if textDecoders[i] == nil {
				dec := m.Decode
				textDecoders[i] = func(b array.Builder, t []byte) error { return dec(b, t) }
			}
		}
	}
	row := int64(0)
	failed := func(i int, err error) error {
		return fmt.Errorf("row %d, column %q (%s): %w", row, r.cols[i].Name, r.cols[i].NativeType, err)
	}
	// rowBytes is the last batch's bytes per row: the size expected of
	// a row a driver decodes before it is seen (RawRows show theirs).
	rowBytes := 0
	send := func() error {
		rowBytes = b.EstimatedBytes() / b.Rows()
		rec := r.flight.Track(b.NewBatch())
		select {
		case r.batches <- rec:
			return nil
		case <-r.ctx.Done():
			rec.Release()
			return r.ctx.Err()
		}
	}
	for {
		if row&1023 == 0 {
			if err := r.ctx.Err(); err != nil {
				return err
			}
		}
		var err error
		size := 0
		switch {
		case appender != nil:
			size, err = appender.AppendRow(fields, textDecoders)
		case raw != nil:
			err = raw.NextRaw(texts)
		default:
			err = rows.Next(dest)
		}
		if err == io.EOF {
			break
		}
		row++
		if err != nil {
			var ce *ColumnError
			if errors.As(err, &ce) && ce.Column >= 0 && ce.Column < len(maps) {
				return failed(ce.Column, ce.Err)
			}
			return err
		}
		if b.Rows() == 0 {
			// An appended row is in the builders already: the wait
			// holds back the batch it begins all the same.
			next := rowBytes
			switch {
			case appender != nil:
				next = size
			case raw != nil:
				next = 0
				for _, t := range texts {
					next += len(t)
				}
			}
			if err := r.flight.Wait(r.ctx, int64(next)); err != nil {
				return err
			}
		}
		switch {
		case appender != nil: // appended by AppendRow
		case raw != nil:
			for i, t := range texts {
				if t == nil {
					fields[i].AppendNull()
				} else if err := textDecoders[i](fields[i], t); err != nil {
					return failed(i, err)
				}
			}
		default:
			for i, v := range dest {
				if v == nil {
					fields[i].AppendNull()
				} else if err := maps[i].Decode(fields[i], v); err != nil {
					return failed(i, err)
				}
			}
		}
		if b.EndRow() {
			if err := send(); err != nil {
				return err
			}
		}
	}
	if b.Rows() > 0 {
		return send()
	}
	return nil
}

// Query runs q on a driver connection: directly when the driver can, else
// as a prepared statement closed with the rows.
func Query(ctx context.Context, dc any, q string, args []any) (driver.Rows, error) {
	named := make([]driver.NamedValue, len(args))
	for i, a := range args {
		named[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	if qc, ok := dc.(driver.QueryerContext); ok {
		rows, err := qc.QueryContext(ctx, q, named)
		if !errors.Is(err, driver.ErrSkip) {
			return rows, err
		}
	}
	// The driver wants a prepared statement (e.g. MySQL with arguments).
	pc, ok := dc.(driver.ConnPrepareContext)
	if !ok {
		return nil, fmt.Errorf("driver connection %T cannot run queries directly", dc)
	}
	st, err := pc.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	sq, ok := st.(driver.StmtQueryContext)
	if !ok {
		st.Close()
		return nil, fmt.Errorf("driver statement %T cannot run queries directly", st)
	}
	rows, err := sq.QueryContext(ctx, named)
	if err != nil {
		st.Close()
		return nil, err
	}
	return StmtRows(rows, st), nil
}

// StmtRows returns rows that close their prepared statement with them,
// for a [Dialect.Query] that prepares its own statements. They forward
// the column-type interfaces the reader uses.
func StmtRows(rows driver.Rows, st driver.Stmt) driver.Rows { return &stmtRows{Rows: rows, stmt: st} }

// stmtRows closes its prepared statement with the rows.
type stmtRows struct {
	driver.Rows
	stmt driver.Stmt
}

func (r *stmtRows) Close() error {
	err := r.Rows.Close()
	if cerr := r.stmt.Close(); err == nil {
		err = cerr
	}
	return err
}

func (r *stmtRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *stmtRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}

func (r *stmtRows) ColumnTypeNullable(i int) (bool, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return true, false
}

func (r *reader) Retain()                        {}
func (r *reader) Schema() *arrow.Schema          { return r.schema }
func (r *reader) RecordBatch() arrow.RecordBatch { return r.cur }
func (r *reader) Record() arrow.RecordBatch      { return r.cur }

func (r *reader) Next() bool {
	if r.cur != nil {
		r.flight.Done(r.cur)
		r.cur.Release()
		r.cur = nil
	}
	rec, ok := <-r.batches
	if !ok {
		<-r.done
		r.ended = true
		return false
	}
	r.cur = rec
	return true
}

func (r *reader) Err() error {
	if r.ended {
		return r.err
	}
	return nil
}

func (r *reader) Release() {
	r.once.Do(func() {
		r.cancel()
		if r.cur != nil {
			r.flight.Done(r.cur)
			r.cur.Release()
		}
		for rec := range r.batches {
			rec.Release()
		}
		<-r.done
		_ = r.conn.Close()
	})
}
