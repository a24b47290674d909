package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

// Write implements sdk.Writer on one connection and in one transaction:
// rows travel by COPY ... FROM STDIN (FORMAT binary), encoded straight from
// the Arrow arrays for the target column's own type (see encoderFor).
//
//   - append: COPY into the table.
//   - replace: DELETE every row, then COPY. DELETE rather than TRUNCATE:
//     TRUNCATE holds an ACCESS EXCLUSIVE lock until commit, blocking every
//     reader for the whole load, and is not MVCC-safe (a transaction whose
//     snapshot predates the commit sees an empty table). With DELETE,
//     readers see the old rows until the new ones are committed.
//   - merge: COPY into a temporary table, then INSERT ... ON CONFLICT (keys)
//     DO UPDATE when the table has a unique index or constraint on exactly
//     the keys; otherwise DELETE the rows whose keys arrive, then INSERT.
//     When a key arrives twice, the last row wins.
//
// Any failure, including a broken incoming stream, rolls everything back.
func (c *Connector) Write(ctx context.Context, req sdk.WriteRequest, records array.RecordReader) (*sdk.WriteResult, error) {
	schema := records.Schema()
	keys, err := mergeKeys(req, schema)
	if err != nil {
		return nil, err
	}
	conn, err := connectWrite(ctx, req.Conn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, writeErr(err, req.Conn.DSN)
	}
	w := &writer{conn: conn, req: req, schema: schema, keys: keys}
	n, err := w.run(ctx, records)
	if err != nil {
		_ = tx.Rollback(context.Background())
		return nil, writeErr(err, req.Conn.DSN)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, writeErr(err, req.Conn.DSN)
	}
	return &sdk.WriteResult{RowsWritten: n}, nil
}

// connectWrite opens the one connection of a write.
func connectWrite(ctx context.Context, c sdk.Connection) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(c.DSN)
	if err != nil {
		return nil, sdk.InvalidArgumentf("PostgreSQL DSN %s is malformed: %s", sdk.MaskDSN(c.DSN), sdk.MaskIn(err.Error(), c.DSN))
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		if te := tlsError(err, c.DSN); te != nil {
			return nil, te
		}
		return nil, writeErr(err, c.DSN)
	}
	if err := checkClient(ctx, conn); err != nil {
		conn.Close(context.Background())
		return nil, writeErr(err, c.DSN)
	}
	return conn, nil
}

// checkClient makes the server poll the write's socket during long
// statements (PostgreSQL 14 and later), so that a killed hp or plugin
// ends its transaction within a second rather than when the server next
// sends to it. A non-zero value the DSN set is kept; a platform where the server
// cannot poll refuses any value but 0 (SQLSTATE 22023), and then the
// server notices at its next send, as before.
func checkClient(ctx context.Context, conn *pgx.Conn) error {
	_, err := conn.Exec(ctx, `SELECT set_config(name, '1s', false) FROM pg_settings
		WHERE name = 'client_connection_check_interval' AND setting = '0'`)
	var pg *pgconn.PgError
	if errors.As(err, &pg) && pg.Code == "22023" {
		return nil
	}
	return err
}

// mergeKeys checks the keys of a merge against the stream, dropping
// repeats.
func mergeKeys(req sdk.WriteRequest, schema *arrow.Schema) ([]string, error) {
	if req.Mode != sdk.Merge {
		return nil, nil
	}
	if len(req.Keys) == 0 {
		return nil, sdk.InvalidArgumentf("merge into %s needs key columns", req.Table)
	}
	var keys []string
	for _, k := range req.Keys {
		if len(schema.FieldIndices(k)) != 1 {
			return nil, sdk.NotFoundf("merge key %q is not a column of the stream", k)
		}
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// writeErr classifies a server error, names where it happened (COPY's
// context names the line and column), and masks the DSN.
func writeErr(err error, dsn string) error {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		// Keep what was said around the server's error (classify
		// rebuilds it from the message alone).
		context := strings.TrimSuffix(err.Error(), pg.Error())
		kind := classify(pg)
		if strings.HasPrefix(pg.Code, "22") || strings.HasPrefix(pg.Code, "23") {
			// A data exception or constraint violation: the rows do not
			// fit the table, and retrying will not change that.
			kind = fmt.Errorf("%w: %s (SQLSTATE %s)", sdk.ErrInvalidArgument, pg.Message, pg.Code)
		}
		err = fmt.Errorf("%s%w", context, kind)
		if pg.Where != "" {
			err = fmt.Errorf("%w (%s)", err, pg.Where)
		}
	} else {
		err = classify(err)
	}
	return sdk.MaskErr(err, dsn)
}

// target is a column of the table being written.
type target struct {
	name string
	typ  pgType
	// full is the declared type (format_type, with its modifier); base
	// the same without the modifier.
	full, base string
}

type writer struct {
	conn   *pgx.Conn
	req    sdk.WriteRequest
	schema *arrow.Schema
	keys   []string
	table  string // schema-qualified and quoted, once resolved
	// beforeMerge, when set, runs once a merge's rows are staged, before
	// they are merged (a sync's deletes).
	beforeMerge func(context.Context) error
}

func (w *writer) run(ctx context.Context, records array.RecordReader) (int64, error) {
	if w.req.CreateTable {
		if err := w.create(ctx); err != nil {
			return 0, err
		}
	}
	oid, cols, err := w.describe(ctx)
	if err != nil {
		return 0, err
	}
	// Each stream column is encoded for its target column's type; a text
	// column the encoders cannot put into its target's binary form travels
	// as text and is cast by the server (see castChecks).
	encoders := make([]makeEncoder, len(cols))
	casts := make([]bool, len(cols))
	staged := w.req.Mode == sdk.Merge
	for i, f := range w.schema.Fields() {
		enc, err := encoderFor(f.Type, cols[i].typ)
		if err != nil {
			return 0, fmt.Errorf("column %q: %w", f.Name, err)
		}
		if enc == nil {
			if enc = textEncoder(f.Type, cols[i].typ); enc == nil {
				return 0, sdk.Errorf(sdk.ErrUnsupportedType, "column %q: %s cannot be written into %s %s", f.Name, f.Type, w.table, cols[i].full)
			}
			casts[i], staged = true, true
		}
		encoders[i] = enc
	}
	if w.req.Mode == sdk.Replace {
		if _, err := w.conn.Exec(ctx, "DELETE FROM "+w.table); err != nil {
			return 0, err
		}
	}
	names := make([]string, len(cols))
	for i, col := range cols {
		names[i] = sqlsource.QuoteDouble(col.name)
	}
	if !staged {
		return w.copy(ctx, "COPY "+w.table+" ("+strings.Join(names, ", ")+") FROM STDIN (FORMAT binary)", encoders, false, records)
	}
	// The stage's columns are c1..cN (the stream's own names might clash
	// with the ordinal's), typed as the target's, or text to be cast.
	defs := make([]string, len(cols))
	stage := make([]string, len(cols))
	for i, col := range cols {
		stage[i] = fmt.Sprintf("c%d", i+1)
		switch {
		case !casts[i]:
			defs[i] = stage[i] + " " + col.full
		case col.typ.elem != nil:
			defs[i] = stage[i] + " text[]"
		default:
			defs[i] = stage[i] + " text"
		}
	}
	if _, err := w.conn.Exec(ctx, "CREATE TEMPORARY TABLE hp_stage ("+strings.Join(defs, ", ")+", hp_ord bigint) ON COMMIT DROP"); err != nil {
		return 0, fmt.Errorf("creating the staging table: %w", err)
	}
	n, err := w.copy(ctx, "COPY hp_stage FROM STDIN (FORMAT binary)", encoders, true, records)
	if err != nil {
		return 0, err
	}
	values := make([]string, len(cols))
	for i, col := range cols {
		values[i] = stage[i]
		if casts[i] {
			if err := w.castCheck(ctx, stage[i], col); err != nil {
				return 0, err
			}
			values[i] = stage[i] + "::" + col.full
		}
	}
	insert := "INSERT INTO " + w.table + " (" + strings.Join(names, ", ") + ") "
	if w.req.Mode != sdk.Merge {
		_, err := w.conn.Exec(ctx, insert+"SELECT "+strings.Join(values, ", ")+" FROM hp_stage")
		return n, err
	}
	if w.beforeMerge != nil {
		if err := w.beforeMerge(ctx); err != nil {
			return 0, err
		}
	}
	return n, w.merge(ctx, oid, insert, names, values)
}

// create creates the table from the stream's schema if it does not exist;
// a merge declares its keys as the primary key, for ON CONFLICT.
func (w *writer) create(ctx context.Context) error {
	defs := make([]string, 0, w.schema.NumFields()+1)
	for _, f := range w.schema.Fields() {
		t, err := ddlType(f.Type)
		if err != nil {
			return fmt.Errorf("column %q: %w", f.Name, err)
		}
		def := sqlsource.QuoteDouble(f.Name) + " " + t
		if !f.Nullable {
			def += " NOT NULL"
		}
		defs = append(defs, def)
	}
	if len(w.keys) > 0 {
		quoted := make([]string, len(w.keys))
		for i, k := range w.keys {
			quoted[i] = sqlsource.QuoteDouble(k)
		}
		defs = append(defs, "PRIMARY KEY ("+strings.Join(quoted, ", ")+")")
	}
	if _, err := w.conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+quoteTable(w.req.Table)+" ("+strings.Join(defs, ", ")+")"); err != nil {
		return fmt.Errorf("creating %s: %w", w.req.Table, err)
	}
	return nil
}

func quoteTable(ref sdk.ObjectRef) string {
	if ref.Schema == "" {
		return sqlsource.QuoteDouble(ref.Name)
	}
	return sqlsource.QuoteDouble(ref.Schema) + "." + sqlsource.QuoteDouble(ref.Name)
}

// describe resolves the table once (later statements name its schema, so
// the temporary stage cannot shadow it) and returns, in stream order, the
// target columns with their types; domains are described by their base
// type, whose binary form they take.
func (w *writer) describe(ctx context.Context) (uint32, []target, error) {
	var oid uint32
	var nsp, rel string
	err := w.conn.QueryRow(ctx, `SELECT c.oid, n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.oid = to_regclass($1) AND c.relkind IN ('r', 'p', 'f', 'v')`, quoteTable(w.req.Table)).Scan(&oid, &nsp, &rel)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, sdk.NotFoundf("table %s does not exist (create it, or let hp create it)", w.req.Table)
	}
	if err != nil {
		return 0, nil, err
	}
	w.table = sqlsource.QuoteDouble(nsp) + "." + sqlsource.QuoteDouble(rel)
	rows, err := w.conn.Query(ctx, `
		SELECT a.attname, format_type(a.atttypid, a.atttypmod), format_type(a.atttypid, NULL),
		       CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END,
		       b.typname, b.typtype, COALESCE(e.oid, 0), COALESCE(eb.typname, ''), COALESCE(eb.typtype, '')
		FROM pg_attribute a
		JOIN pg_type t ON t.oid = a.atttypid
		JOIN pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
		LEFT JOIN pg_type e ON e.oid = b.typelem AND b.typcategory = 'A'
		LEFT JOIN pg_type eb ON eb.oid = CASE WHEN e.typtype = 'd' THEN e.typbasetype ELSE e.oid END
		WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped`, oid)
	if err != nil {
		return 0, nil, err
	}
	all := map[string]target{}
	for rows.Next() {
		var t target
		var typmod int32
		var name, kind, ename, ekind string
		var eoid uint32
		if err := rows.Scan(&t.name, &t.full, &t.base, &typmod, &name, &kind, &eoid, &ename, &ekind); err != nil {
			return 0, nil, err
		}
		t.typ = pgType{name: name, kind: kind, typmod: typmod}
		if eoid != 0 {
			t.typ.elem = &pgType{name: ename, kind: ekind, typmod: typmod, oid: eoid}
		}
		all[t.name] = t
	}
	if err := rows.Err(); err != nil {
		return 0, nil, err
	}
	cols := make([]target, w.schema.NumFields())
	for i, f := range w.schema.Fields() {
		t, ok := all[f.Name]
		if !ok {
			return 0, nil, sdk.NotFoundf("table %s has no column %q", w.req.Table, f.Name)
		}
		cols[i] = t
	}
	return oid, cols, nil
}

// castCheck casts one staged text column to its target type on its own,
// so that a value the type refuses fails naming the column; for a type
// with a modifier, it also refuses values the cast would round or cut
// (text to numeric(10,2) rounds, to varchar(3) truncates).
func (w *writer) castCheck(ctx context.Context, col string, t target) error {
	var bad int64
	var sample *string
	q := "SELECT count(" + col + "::" + t.full + "), NULL::text FROM hp_stage"
	if t.full != t.base {
		q = "SELECT count(*), min(" + col + "::text) FROM hp_stage WHERE " + col + "::" + t.full + " IS DISTINCT FROM " + col + "::" + t.base
	}
	if err := w.conn.QueryRow(ctx, q).Scan(&bad, &sample); err != nil {
		return fmt.Errorf("column %q (%s): %w", t.name, t.full, err)
	}
	if t.full != t.base && bad > 0 {
		return sdk.InvalidArgumentf("column %q: %d values such as %q do not fit %s exactly", t.name, bad, *sample, t.full)
	}
	return nil
}

// merge moves the stage into the table. Rows are deduplicated on the keys
// first, the last one arriving winning, so that ON CONFLICT never meets a
// key twice; rows with NULL keys never match a row of the table.
func (w *writer) merge(ctx context.Context, oid uint32, insert string, names, values []string) error {
	keyNames := make([]string, len(w.keys))
	keyIdx := make([]int, len(w.keys))
	for i, k := range w.keys {
		keyNames[i] = sqlsource.QuoteDouble(k)
		keyIdx[i] = slices.Index(names, keyNames[i])
	}
	projected := make([]string, len(values))
	for i, v := range values {
		projected[i] = v + " AS " + names[i]
	}
	ord := "hp_ord" // named apart from the columns beside it
	for slices.Contains(names, sqlsource.QuoteDouble(ord)) {
		ord += "_"
	}
	ord = sqlsource.QuoteDouble(ord)
	latest := "SELECT DISTINCT ON (" + strings.Join(keyNames, ", ") + ") " + strings.Join(names, ", ") +
		" FROM (SELECT " + strings.Join(projected, ", ") + ", hp_ord AS " + ord + " FROM hp_stage) s ORDER BY " + strings.Join(keyNames, ", ") + ", " + ord + " DESC"
	var unique bool
	err := w.conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_index i
		WHERE i.indrelid = $1 AND i.indisunique AND i.indimmediate AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL
		  AND i.indnkeyatts = cardinality($2::text[])
		  AND ARRAY(SELECT a.attname::text FROM pg_attribute a
		            WHERE a.attrelid = i.indrelid AND a.attnum = ANY ((i.indkey::int2[])[0:i.indnkeyatts - 1])) <@ $2::text[])`,
		oid, w.keys).Scan(&unique)
	if err != nil {
		return err
	}
	if unique {
		var set []string
		for _, n := range names {
			if !slices.Contains(keyNames, n) {
				set = append(set, n+" = EXCLUDED."+n)
			}
		}
		action := "DO NOTHING"
		if len(set) > 0 {
			action = "DO UPDATE SET " + strings.Join(set, ", ")
		}
		_, err := w.conn.Exec(ctx, insert+latest+" ON CONFLICT ("+strings.Join(keyNames, ", ")+") "+action)
		return err
	}
	// No unique index on the keys, so ON CONFLICT has no arbiter: delete
	// the rows the stage replaces, then insert.
	conds := make([]string, len(w.keys))
	for i, k := range keyNames {
		conds[i] = "hp_t." + k + " = s." + values[keyIdx[i]] // values start with the stage column
	}
	if _, err := w.conn.Exec(ctx, "DELETE FROM "+w.table+" hp_t USING hp_stage s WHERE "+strings.Join(conds, " AND ")); err != nil {
		return err
	}
	_, err = w.conn.Exec(ctx, insert+latest)
	return err
}

// copy runs one COPY FROM STDIN, fed by a copySource, and returns the rows
// sent. An encoding or stream error is returned as such, not as the
// server's "COPY from stdin failed".
func (w *writer) copy(ctx context.Context, q string, encoders []makeEncoder, ordinal bool, records array.RecordReader) (int64, error) {
	src := &copySource{records: records, schema: w.schema, makers: encoders, ordinal: ordinal}
	_, err := w.conn.PgConn().CopyFrom(ctx, src, q)
	src.close()
	if src.err != nil {
		return 0, src.err
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) && ordinal {
		// The server names the stage's columns: name the stream's.
		pg.Where = stageColumn.ReplaceAllStringFunc(pg.Where, func(m string) string {
			i, _ := strconv.Atoi(m[len("column c"):])
			return "column " + sqlsource.QuoteDouble(w.schema.Field(i-1).Name)
		})
	}
	if err != nil {
		return 0, err
	}
	return src.rows, nil
}

// stageColumn matches the server's name of a stage column in an error's context.
var stageColumn = regexp.MustCompile(`column c[0-9]+$`)
