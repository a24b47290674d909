package sqlsource

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// MaintainSQL is a dialect's part of maintained checksums
// (sdk.ChecksumMaintainer, hp checksums): a shadow table (k BIGINT
// PRIMARY KEY, h BIGINT) holding each row's hash as ChecksumRanges
// computes it, kept current by triggers, and a table hp_checksums beside
// it recording what is hashed. The dialect needs Checksum too, and the
// connector lists sdk.CapMaintainChecksums in its Info.Features.
type MaintainSQL struct {
	// Lock, when set, is the statement that keeps writers out of the
	// table until the install's transaction ends: the install then runs
	// in one transaction (PostgreSQL). Without it the statements run one
	// by one, triggers before the fill, which must then be an upsert that
	// reads the rows' latest committed values.
	Lock func(table string) string
	// Triggers returns the statements creating the triggers that keep the
	// shadow current; DropTriggers those removing them (whether or not
	// they exist).
	Triggers, DropTriggers func(m Maintained) []string
	// Fill inserts the rows of sel (key, hash) into the shadow.
	Fill func(m Maintained, sel string) string
	// Check returns why the installed triggers cannot be trusted (missing,
	// disabled, the table changed under them), "" when they can; stamp is
	// what Stamp returned at install.
	Check func(ctx context.Context, db *sql.DB, m Maintained, stamp string) (string, error)
	// Stamp, when set, returns what identifies the table's storage now,
	// recorded at install for Check (e.g. to detect a TRUNCATE that fires
	// no trigger).
	Stamp func(ctx context.Context, db *sql.DB, m Maintained) (string, error)
	// Refuse, when set, fails an install the triggers could not keep
	// current (e.g. rows changed by a cascading foreign key).
	Refuse func(ctx context.Context, db *sql.DB, m Maintained) error
	// BlockOf returns floor(key / 2^shift) of an integer expression.
	BlockOf func(key string, shift int) string
	// BlockTable creates the blocks' table m.Blocks (b, n, s): rows
	// appended by the triggers, never updated, so that writers of nearby
	// keys do not wait for each other; a block's count and hash sum are
	// the sums of n and s over its rows, read through an index on b.
	BlockTable func(m Maintained) []string
	// Compact folds each block's rows into one, in one read-committed
	// transaction that holds the table's record, losing no row a trigger
	// appends meanwhile and taking no lock such a trigger waits for.
	Compact func(m Maintained) []string
}

// Maintained names a table's maintained checksums for a dialect.
type Maintained struct {
	Ref sdk.ObjectRef
	// Table and Shadow are quoted (with the schema when Ref has one),
	// ShadowName is not.
	Table, Shadow, ShadowName string
	// Key is the key column, quoted.
	Key string
	// Hash returns the row's hash with every column referred to as
	// prefix + its quoted name ("NEW." in a row trigger).
	Hash    func(prefix string) string
	Columns []ColumnMeta
	// Object returns the quoted name of an object named name in the
	// table's schema; Quote quotes a name.
	Object func(name string) string
	Quote  func(name string) string
	// Blocks is the blocks' table, quoted; BlockWidth their key width (a
	// power of two; 0: none, an installation that predates them); Block
	// returns the block of a key expression.
	Blocks     string
	BlockWidth int64
	Block      func(key string) string
}

// withBlocks is m with blocks of width w.
func (c *Connector) withBlocks(m Maintained, w int64) Maintained {
	m.BlockWidth = w
	m.Block = func(key string) string { return c.dialect.Maintain.BlockOf(key, bits.TrailingZeros64(uint64(w))) }
	return m
}

// TriggerName is the name of the shadow's trigger (or function) for
// event, e.g. "ins".
func (m Maintained) TriggerName(event string) string { return m.ShadowName + "_" + event }

// literal is s as an SQL string literal.
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

const (
	metaTable    = "hp_checksums"
	shadowPrefix = "hp_checksums_"
	// maxName leaves room for a trigger's suffix ("_trunc") within
	// PostgreSQL's 63 bytes (MySQL's 64 characters).
	maxName = 57
	// blockWidthColumn is hp_checksums' column of the blocks' width.
	blockWidthColumn = "block_width"
)

// installed is a table's row of hp_checksums.
type installed struct {
	key                string
	columns, signature []string
	stamp              string
	blockWidth         int64
}

func (c *Connector) metaRef(ref sdk.ObjectRef) sdk.ObjectRef {
	return sdk.ObjectRef{Schema: ref.Schema, Name: metaTable}
}

// readInstalled returns the table's record, nil when it has none; exists
// says whether hp_checksums exists at all.
func (c *Connector) readInstalled(ctx context.Context, db *sql.DB, ref sdk.ObjectRef) (in *installed, exists bool, err error) {
	d := c.dialect
	cols, err := d.Columns(ctx, db, c.metaRef(ref))
	if errors.Is(err, sdk.ErrNotFound) || (err == nil && len(cols) == 0) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	// An hp_checksums of before the blocks has no block_width.
	width := "0"
	if slices.ContainsFunc(cols, func(m ColumnMeta) bool { return m.Name == blockWidthColumn }) {
		width = d.quote(blockWidthColumn)
	}
	meta := d.table(c.metaRef(ref))
	var key, columns, sig, stamp string
	var bw int64
	err = db.QueryRowContext(ctx, "SELECT "+d.quote("key_column")+", "+d.quote("hashed_columns")+", "+d.quote("signature")+", "+d.quote("stamp")+", "+width+
		" FROM "+meta+" WHERE "+d.quote("table_name")+" = "+d.placeholder(1), ref.Name).Scan(&key, &columns, &sig, &stamp, &bw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, true, nil
	}
	if err != nil {
		return nil, true, fmt.Errorf("reading %s: %w", meta, err)
	}
	return &installed{key: key, columns: strings.Split(columns, "\n"), signature: strings.Split(sig, "\n"), stamp: stamp, blockWidth: bw}, true, nil
}

// shadowOf names the shadow of ref and what lies beside it.
func (c *Connector) shadowOf(ref sdk.ObjectRef) (Maintained, error) {
	d := c.dialect
	name := shadowPrefix + ref.Name
	if len(name) > maxName {
		return Maintained{}, sdk.InvalidArgumentf("table name %q is too long for its checksum table %q (at most %d bytes)", ref.Name, name, maxName)
	}
	object := func(n string) string { return d.table(sdk.ObjectRef{Schema: ref.Schema, Name: n}) }
	return Maintained{Ref: ref, Table: d.table(ref), Shadow: object(name), ShadowName: name, Object: object, Quote: d.quote, Blocks: object(name + "_blk")}, nil
}

// maintained is shadowOf with the hash of cols (the key first).
func (c *Connector) maintained(ref sdk.ObjectRef, cols []ColumnMeta) (Maintained, error) {
	m, err := c.shadowOf(ref)
	if err != nil {
		return m, err
	}
	if _, err := c.hashExpr(cols, ""); err != nil {
		return m, err
	}
	m.Key, m.Columns = c.dialect.quote(cols[0].Name), cols
	m.Hash = func(prefix string) string {
		h, _ := c.hashExpr(cols, prefix)
		return h
	}
	return m, nil
}

// signature is what the hash depends on of each column: its native type.
func signature(cols []ColumnMeta) []string {
	out := make([]string, len(cols))
	for i, m := range cols {
		out[i] = m.NativeType
	}
	return out
}

func names(cols []ColumnMeta) []string {
	out := make([]string, len(cols))
	for i, m := range cols {
		out[i] = m.Name
	}
	return out
}

// checksumsState returns the table's state and, when installed and its
// columns still exist, its parts.
func (c *Connector) checksumsState(ctx context.Context, db *sql.DB, ref sdk.ObjectRef) (sdk.ChecksumsState, *Maintained, error) {
	in, _, err := c.readInstalled(ctx, db, ref)
	if err != nil || in == nil {
		return sdk.ChecksumsState{}, nil, err
	}
	st := sdk.ChecksumsState{Installed: true, Shadow: shadowPrefix + ref.Name, Key: in.key, Columns: in.columns[1:], BlockWidth: in.blockWidth}
	cols, err := c.columns(ctx, db, sdk.Source{Object: &ref}, in.columns)
	if errors.Is(err, sdk.ErrNotFound) {
		st.Stale, st.Note = true, err.Error()
		return st, nil, nil
	}
	if err != nil {
		return st, nil, err
	}
	if now := signature(cols); !slices.Equal(now, in.signature) {
		for i := range now {
			if now[i] != in.signature[i] {
				st.Stale, st.Note = true, fmt.Sprintf("column %q was %s when the checksums were installed and is %s now: install them again", cols[i].Name, in.signature[i], now[i])
				return st, nil, nil
			}
		}
	}
	m, err := c.maintained(ref, cols)
	if err != nil {
		st.Stale, st.Note = true, err.Error()
		return st, nil, nil
	}
	m = c.withBlocks(m, in.blockWidth)
	note, err := c.dialect.Maintain.Check(ctx, db, m, in.stamp)
	if err != nil {
		return st, nil, fmt.Errorf("checking the triggers of %s: %w", m.Shadow, err)
	}
	st.Stale, st.Note = note != "", note
	return st, &m, nil
}

// MaintainChecksums implements sdk.ChecksumMaintainer.
func (c *Connector) MaintainChecksums(ctx context.Context, req sdk.MaintainChecksumsRequest) (*sdk.MaintainChecksumsResult, error) {
	d := c.dialect
	if d.Maintain == nil || d.Checksum == nil {
		return nil, sdk.Errorf(sdk.ErrUnimplemented, "the %s connector maintains no checksums", c.info.Name)
	}
	db, err := c.db(req.Conn)
	if err != nil {
		return nil, err
	}
	res, err := c.maintainChecksums(ctx, db, req)
	if err != nil {
		return nil, d.classify(err, req.Conn.DSN)
	}
	return res, nil
}

func (c *Connector) maintainChecksums(ctx context.Context, db *sql.DB, req sdk.MaintainChecksumsRequest) (*sdk.MaintainChecksumsResult, error) {
	st, m, err := c.checksumsState(ctx, db, req.Table)
	if err != nil {
		return nil, err
	}
	res := &sdk.MaintainChecksumsResult{State: st}
	switch req.Action {
	case sdk.ChecksumsStatus:
		if st.Installed {
			shadow := c.dialect.table(sdk.ObjectRef{Schema: req.Table.Schema, Name: st.Shadow})
			err = db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+shadow).Scan(&res.State.Rows)
		}
		if err == nil && st.BlockWidth > 0 {
			err = db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+c.dialect.table(sdk.ObjectRef{Schema: req.Table.Schema, Name: st.Shadow + "_blk"})).Scan(&res.State.BlockRows)
		}
		return res, err
	case sdk.ChecksumsCompact:
		res.Statements, err = c.compactChecksums(ctx, db, req, st, m)
	case sdk.ChecksumsDrop:
		res.Statements, err = c.dropChecksums(ctx, db, req)
	case sdk.ChecksumsInstall:
		res.Statements, err = c.installChecksums(ctx, db, req)
	default:
		return nil, sdk.InvalidArgumentf("unknown checksums action %d", req.Action)
	}
	if err != nil || req.DryRun {
		return res, err
	}
	after, err := c.maintainChecksums(ctx, db, sdk.MaintainChecksumsRequest{Conn: req.Conn, Table: req.Table, Action: sdk.ChecksumsStatus, Key: req.Key})
	if err != nil {
		return nil, err
	}
	res.State = after.State
	return res, nil
}

// runAll runs the statements in order, in one transaction when tx is
// not nil.
func (c *Connector) runAll(ctx context.Context, db *sql.DB, stmts []string, tx *sql.TxOptions) (err error) {
	var ex interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
	} = db
	if tx != nil {
		t, err := db.BeginTx(ctx, tx)
		if err != nil {
			return err
		}
		defer func() {
			if err == nil {
				err = t.Commit()
			} else {
				_ = t.Rollback()
			}
		}()
		ex = t
	}
	for _, q := range stmts {
		if _, err := ex.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", firstLine(q), err)
		}
	}
	return nil
}

func firstLine(q string) string {
	if i := strings.IndexByte(q, '\n'); i >= 0 {
		return q[:i] + " …"
	}
	return q
}

func (c *Connector) dropChecksums(ctx context.Context, db *sql.DB, req sdk.MaintainChecksumsRequest) ([]string, error) {
	m, err := c.shadowOf(req.Table)
	if err != nil {
		return nil, err
	}
	_, exists, err := c.readInstalled(ctx, db, req.Table)
	if err != nil {
		return nil, err
	}
	stmts := c.dropStatements(m)
	// hp_checksums stays, even empty: an install of another table may
	// have created it and not yet written its record (MariaDB commits each
	// DDL statement), and dropping it then failed that install.
	if exists {
		meta := c.dialect.table(c.metaRef(req.Table))
		stmts = append(stmts, fmt.Sprintf("DELETE FROM %s WHERE %s = %s", meta, c.dialect.quote("table_name"), literal(req.Table.Name)))
	}
	if req.DryRun {
		return stmts, nil
	}
	return stmts, c.runAll(ctx, db, stmts, c.installTx())
}

// installTx is the transaction of an install or drop: one when the
// dialect locks the table for it.
func (c *Connector) installTx() *sql.TxOptions {
	if c.dialect.Maintain.Lock != nil {
		return &sql.TxOptions{}
	}
	return nil
}

// dropStatements remove the triggers, the shadow and the blocks of m.
func (c *Connector) dropStatements(m Maintained) []string {
	return append(c.dialect.Maintain.DropTriggers(m), "DROP TABLE IF EXISTS "+m.Shadow, "DROP TABLE IF EXISTS "+m.Blocks)
}

// blockFill recomputes the blocks from the shadow. It deletes the blocks'
// rows before reading the shadow, as the triggers append to the blocks
// before they write the shadow: a writer waits for it, or it for the
// writer, in the same order, and none is counted twice or lost.
func (c *Connector) blockFill(m Maintained) []string {
	k := c.dialect.quote("k")
	return []string{"DELETE FROM " + m.Blocks,
		fmt.Sprintf("INSERT INTO %s (b, n, s) SELECT %s, COUNT(*), SUM(%s) FROM %s GROUP BY %s", m.Blocks, m.Block(k), c.dialect.quote("h"), m.Shadow, m.Block(k))}
}

// repeatable is the isolation of the blocks' fill: its reads lock what
// they read (MariaDB), so that no delta slips between reading and
// writing.
var repeatable = &sql.TxOptions{Isolation: sql.LevelRepeatableRead}

func (c *Connector) compactChecksums(ctx context.Context, db *sql.DB, req sdk.MaintainChecksumsRequest, st sdk.ChecksumsState, m *Maintained) ([]string, error) {
	if m == nil || st.BlockWidth == 0 {
		return nil, sdk.Errorf(sdk.ErrFailedPrecondition, "%s has no maintained checksum blocks to compact (installed: %v): install the checksums", c.dialect.table(req.Table), st.Installed)
	}
	d := c.dialect
	meta := d.table(c.metaRef(req.Table))
	// The table's record, locked first, keeps two compactions from folding
	// the same rows twice; the folding itself reads without locks (read
	// committed), so a writer's trigger appending meanwhile never waits
	// for it, nor deadlocks with it.
	lock := "SELECT " + d.quote("key_column") + " FROM " + meta + " WHERE " + d.quote("table_name") + " = " + literal(req.Table.Name) + " FOR UPDATE"
	stmts := append([]string{lock}, d.Maintain.Compact(*m)...)
	if req.DryRun {
		return stmts, nil
	}
	return stmts, c.runAll(ctx, db, stmts, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
}

func (c *Connector) installChecksums(ctx context.Context, db *sql.DB, req sdk.MaintainChecksumsRequest) ([]string, error) {
	d := c.dialect
	cols, err := c.columns(ctx, db, sdk.Source{Object: &req.Table}, nil)
	if err != nil {
		return nil, err
	}
	if slices.Contains(req.Columns, req.Key) {
		return nil, sdk.InvalidArgumentf("key %q is hashed first: leave it out of the columns", req.Key)
	}
	want := append([]string{req.Key}, req.Columns...)
	if len(req.Columns) == 0 {
		for _, m := range cols {
			if m.Name != req.Key {
				want = append(want, m.Name)
			}
		}
	}
	if cols, err = c.columns(ctx, db, sdk.Source{Object: &req.Table}, want); err != nil {
		return nil, err
	}
	for _, n := range append(want, req.Table.Name) {
		if strings.ContainsAny(n, "\\\n") {
			return nil, sdk.InvalidArgumentf("name %q holds a backslash or a line break, which hp_checksums cannot record", n)
		}
	}
	key, err := d.Map(cols[0])
	if err != nil {
		return nil, fmt.Errorf("column %q (%s): %w", cols[0].Name, cols[0].NativeType, err)
	}
	if !arrow.IsInteger(key.Type.ID()) {
		return nil, sdk.InvalidArgumentf("key %q is %s: maintained checksums need an integer key", req.Key, cols[0].NativeType)
	}
	w := req.BlockWidth
	if w == 0 {
		w = sdk.DefaultBlockWidth
	}
	if w < 1 || w > 1<<40 || w&(w-1) != 0 {
		return nil, sdk.InvalidArgumentf("block width %d is not a power of two from 1 to 2^40", w)
	}
	m, err := c.maintained(req.Table, cols)
	if err != nil {
		return nil, err
	}
	m = c.withBlocks(m, w)
	mt := d.Maintain
	if mt.Refuse != nil {
		if err := mt.Refuse(ctx, db, m); err != nil {
			return nil, err
		}
	}
	stamp := ""
	if mt.Stamp != nil && !req.DryRun {
		if stamp, err = mt.Stamp(ctx, db, m); err != nil {
			return nil, fmt.Errorf("reading the storage of %s: %w", m.Table, err)
		}
	}
	meta := d.table(c.metaRef(req.Table))
	var stmts []string
	if mt.Lock != nil {
		stmts = append(stmts, mt.Lock(m.Table))
	}
	bwCol := d.quote(blockWidthColumn) + " BIGINT NOT NULL DEFAULT 0"
	create := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s VARCHAR(255) PRIMARY KEY, %s VARCHAR(255) NOT NULL, %s TEXT NOT NULL, %s TEXT NOT NULL, %s VARCHAR(255) NOT NULL, %s)",
		meta, d.quote("table_name"), d.quote("key_column"), d.quote("hashed_columns"), d.quote("signature"), d.quote("stamp"), bwCol)
	if !req.DryRun {
		// Created first, on its own: in the install's long transaction, a
		// second first install in the schema would wait for it and then
		// fail on PostgreSQL (duplicate key in pg_type). Losing that race
		// here is fine: the table is there.
		if _, err := db.ExecContext(ctx, create); err != nil {
			if mcols, cerr := d.Columns(ctx, db, c.metaRef(req.Table)); cerr != nil || len(mcols) == 0 {
				return nil, fmt.Errorf("creating %s: %w", meta, err)
			}
		}
	}
	stmts = append(stmts, create)
	if mcols, err := d.Columns(ctx, db, c.metaRef(req.Table)); err == nil && len(mcols) > 0 &&
		!slices.ContainsFunc(mcols, func(m ColumnMeta) bool { return m.Name == blockWidthColumn }) {
		stmts = append(stmts, fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s", meta, bwCol))
	}
	stmts = append(stmts, c.dropStatements(m)...)
	stmts = append(stmts,
		fmt.Sprintf("DELETE FROM %s WHERE %s = %s", meta, d.quote("table_name"), literal(req.Table.Name)),
		fmt.Sprintf("CREATE TABLE %s (%s BIGINT PRIMARY KEY, %s BIGINT NOT NULL)", m.Shadow, d.quote("k"), d.quote("h")))
	stmts = append(stmts, mt.BlockTable(m)...)
	stmts = append(stmts, mt.Triggers(m)...)
	stmts = append(stmts, mt.Fill(m, fmt.Sprintf("SELECT %s, %s FROM %s", m.Key, m.Hash(""), m.Table)),
		fmt.Sprintf("INSERT INTO %s VALUES (%s, %s, %s, %s, %s, %d)", meta, literal(req.Table.Name), literal(cols[0].Name),
			literal(strings.Join(names(cols), "\n")), literal(strings.Join(signature(cols), "\n")), literal(stamp), w))
	fill := c.blockFill(m)
	if req.DryRun {
		return append(stmts, fill...), nil
	}
	if tx := c.installTx(); tx != nil {
		// The table is locked: the blocks are filled in the same
		// transaction.
		stmts = append(stmts, fill...)
		return stmts, c.runAll(ctx, db, stmts, tx)
	}
	if err := c.runAll(ctx, db, stmts, nil); err != nil {
		return stmts, err
	}
	return append(stmts, fill...), c.runAll(ctx, db, fill, repeatable)
}
