// Package odbc is the ODBC connector: any database with an ODBC driver
// registered in unixODBC's odbcinst.ini, read and written through the
// package's own cgo layer (odbcdriver) with the generic SQL connector
// (sdk/sqlsource). The dialect (quoting, read-only transactions, catalog
// scope, DDL) is chosen per DSN from odbc+<protocol>:// or from the
// server's SQL_DBMS_NAME.
package odbc

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/plugins/odbc/odbc/odbcdriver"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/sqlguard"
	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

// Version is the connector's version.
const Version = "0.1.0"

// Connector serves every ODBC DSN; each DSN gets its own sqlsource
// connector with the dialect of its database.
type Connector struct {
	mu      sync.Mutex
	targets map[string]*target
}

// New returns the connector.
func New() *Connector { return &Connector{targets: map[string]*target{}} }

// target is one DSN: its pool, flavor and the SQL types of the type names
// its driver reported (catalog and result sets name types alike).
type target struct {
	dsn   string
	fl    *flavor
	db    *sql.DB
	src   *sqlsource.Connector
	types sync.Map // type name → typeInfo
}

type typeInfo struct {
	sqlType  int
	unsigned bool
}

// Info implements sdk.Connector.
func (c *Connector) Info() sdk.Info { return info }

func (c *Connector) target(ctx context.Context, conn sdk.Connection) (*target, error) {
	key := conn.DSN + fmt.Sprint(conn.Options)
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.targets[key]; ok {
		return t, nil
	}
	cf, err := parseDSN(conn.DSN, registeredDrivers)
	if err != nil {
		return nil, err
	}
	oc := &odbcdriver.Connector{ConnStr: cf.connStr}
	if v := conn.Option("login_timeout", ""); v != "" {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, sdk.InvalidArgumentf("login_timeout %q is not a duration", v)
		}
		oc.LoginTimeout = int((time.Duration(ms)*time.Millisecond + time.Second - 1) / time.Second)
	}
	t := &target{dsn: conn.DSN, db: sql.OpenDB(oc)}
	if fl, ok := flavors[cf.protocol]; ok {
		t.fl = fl
	} else {
		name, _, err := t.dbms(ctx)
		if err != nil {
			_ = t.db.Close()
			return nil, err
		}
		t.fl = flavorOfDBMS(name)
	}
	t.src = sqlsource.New(info, t.dialect())
	c.targets[key] = t
	return t, nil
}

// raw runs fn on one of the pool's ODBC connections.
func (t *target) raw(ctx context.Context, db *sql.DB, fn func(c *odbcdriver.Conn) error) error {
	sc, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer sc.Close()
	return sc.Raw(func(dc any) error { return fn(dc.(*odbcdriver.Conn)) })
}

func (t *target) dbms(ctx context.Context) (name, version string, err error) {
	err = t.raw(ctx, t.db, func(c *odbcdriver.Conn) error {
		name, version, err = c.DBMS()
		return err
	})
	return name, version, t.classify(err)
}

func (t *target) classify(err error) error {
	if err == nil {
		return nil
	}
	return sdk.MaskErr(classify(err), t.dsn)
}

func (t *target) dialect() *sqlsource.Dialect {
	fl := t.fl
	d := &sqlsource.Dialect{
		Open:             func(sdk.Connection) (*sql.DB, error) { return t.db, nil },
		QuoteIdent:       fl.quote,
		ListObjects:      t.listObjects,
		Columns:          t.columns,
		PrimaryKey:       t.primaryKey,
		Map:              t.mapType,
		Arg:              arg,
		DDLType:          fl.ddlType,
		KeyType:          fl.keyType,
		Classify:         classify,
		Query:            t.query,
		NullsLast:        fl.nullsLast,
		SQL:              fl.sql,
		ReadOnly:         t.readOnly,
		TransactionalDDL: fl.transactionalDDL,
		WriteSession:     fl.writeSession,
		MergeDelete:      fl.mergeDelete,
		TempTable:        fl.tempTable,
		InsertBatch: func(ctx context.Context, dc any, table string, columns []string, rec arrow.RecordBatch, seq int64) error {
			q := "INSERT INTO " + table + " (" + strings.Join(columns, ", ") + ") VALUES (" + strings.TrimSuffix(strings.Repeat("?, ", len(columns)), ", ") + ")"
			return dc.(*odbcdriver.Conn).InsertRecord(ctx, q, rec, seq)
		},
	}
	if fl.checkSQL {
		d.CheckSQL = func(q string) error { return sqlguard.Read(fl.sql, q) }
	}
	return d
}

// readOnly begins a transaction in SQL_MODE_READ_ONLY, made sure of with
// the flavor's statement where it has one.
func (t *target) readOnly(ctx context.Context, dc any) (func() error, error) {
	c := dc.(*odbcdriver.Conn)
	tx, err := c.BeginTx(ctx, driver.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	for _, q := range t.fl.readOnly {
		if _, err := c.ExecContext(ctx, q, nil); err != nil {
			return nil, errors.Join(fmt.Errorf("making the transaction read-only: %w", err), tx.Rollback())
		}
	}
	return tx.Rollback, nil
}

// query runs a read and records the types its columns report.
func (t *target) query(ctx context.Context, dc any, q string, args []any, _ []sqlsource.ColumnMeta) (driver.Rows, error) {
	named := make([]driver.NamedValue, len(args))
	for i, a := range args {
		named[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	var rows driver.Rows
	var err error
	var first *odbcdriver.Rows
	if p, ok := ctx.Value(chunkKey{}).(*chunkPlan); ok {
		cr, err := p.chunked(ctx, dc.(*odbcdriver.Conn), q, named)
		if err != nil {
			return nil, err
		}
		rows, first = cr, cr.cur
	} else {
		if rows, err = dc.(*odbcdriver.Conn).QueryContext(ctx, q, named); err != nil {
			return nil, err
		}
		first = rows.(*odbcdriver.Rows)
	}
	if len(rows.Columns()) == 0 {
		rows.Close()
		return nil, sdk.InvalidArgumentf("the statement returned no result set: a read must be a query that returns rows")
	}
	for _, col := range first.ColumnsInfo() {
		ti := typeInfo{sqlType: col.SQLType, unsigned: col.Unsigned}
		if t.fl.catalogType != nil {
			if fixed, _, ok := t.fl.catalogType(col.TypeName, col.Size); ok {
				ti = fixed
			}
		}
		t.types.LoadOrStore(odbcdriver.NativeType(col.TypeName, col.SQLType, col.Size, col.Digits, col.Unsigned), ti)
	}
	return rows, nil
}

// arg binds range bounds with their exact type: decimals as SQL_NUMERIC,
// dates as SQL_TYPE_DATE.
func arg(v *sdk.Value, _ sqlsource.ColumnMeta) any {
	switch v.Kind {
	case sdk.KindDecimal:
		return odbcdriver.Decimal(v.Str)
	case sdk.KindDate:
		return odbcdriver.Date(v.Int)
	}
	return v.Arg()
}

// Check implements sdk.Connector: the DBMS name and version the driver
// reports.
func (c *Connector) Check(ctx context.Context, conn sdk.Connection) (string, error) {
	t, err := c.target(ctx, conn)
	if err != nil {
		return "", err
	}
	name, version, err := t.dbms(ctx)
	if err != nil {
		return "", err
	}
	return name + " " + version, nil
}

// ListObjects implements sdk.ObjectLister.
func (c *Connector) ListObjects(ctx context.Context, conn sdk.Connection, schema string) ([]sdk.ObjectInfo, error) {
	t, err := c.target(ctx, conn)
	if err != nil {
		return nil, err
	}
	return t.src.ListObjects(ctx, conn, schema)
}

// Describe implements sdk.Describer.
func (c *Connector) Describe(ctx context.Context, conn sdk.Connection, src sdk.Source) (*sdk.Description, error) {
	t, err := c.target(ctx, conn)
	if err != nil {
		return nil, err
	}
	return t.src.Describe(ctx, conn, src)
}

// Read implements sdk.Reader.
func (c *Connector) Read(ctx context.Context, req sdk.ReadRequest) (array.RecordReader, error) {
	t, err := c.target(ctx, req.Conn)
	if err != nil {
		return nil, err
	}
	if t.fl.chunked {
		if ctx, req, err = t.planChunks(ctx, req); err != nil {
			return nil, err
		}
	}
	return t.src.Read(ctx, req)
}

// Bounds implements sdk.Bounder.
func (c *Connector) Bounds(ctx context.Context, req sdk.BoundsRequest) (*sdk.Bounds, error) {
	t, err := c.target(ctx, req.Conn)
	if err != nil {
		return nil, err
	}
	return t.src.Bounds(ctx, req)
}

// Write implements sdk.Writer.
func (c *Connector) Write(ctx context.Context, req sdk.WriteRequest, records array.RecordReader) (*sdk.WriteResult, error) {
	t, err := c.target(ctx, req.Conn)
	if err != nil {
		return nil, err
	}
	return t.src.Write(ctx, req, records)
}

// PlanTable implements sdk.TablePlanner.
func (c *Connector) PlanTable(ctx context.Context, req sdk.PlanTableRequest) (*sdk.TablePlan, error) {
	t, err := c.target(ctx, req.Conn)
	if err != nil {
		return nil, err
	}
	return t.src.PlanTable(ctx, req)
}

// Exec implements sdk.Executor.
func (c *Connector) Exec(ctx context.Context, conn sdk.Connection, statements []string) (int64, error) {
	t, err := c.target(ctx, conn)
	if err != nil {
		return 0, err
	}
	return t.src.Exec(ctx, conn, statements)
}
