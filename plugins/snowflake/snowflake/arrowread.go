package snowflake

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	sf "github.com/snowflakedb/gosnowflake"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// The session asks for JSON results, but a result may come in Arrow all
// the same (gosnowflake's default format, and what an account answers
// when the parameter is not honoured). gosnowflake's row-by-row Arrow
// conversion is lossy: a NUMBER with a scale sent as a scaled int64 is
// divided as a float64 (NUMBER(18,4) 99999999999999.9999 reads as
// 100000000000000.0000). So a read asks for Arrow results as batches of
// Snowflake's own encoding (higher precision: NUMBER unscaled; original
// timestamps) and turns them into values here, exactly; a JSON result is
// read as before. The driver takes those options from the query's
// context, and reads them again while converting JSON rows, where higher
// precision would make a NUMBER a 127-bit float: the context drops them
// once the result is known to be JSON.

// switchCtx is a context whose values come from on while set, else from
// base.
type switchCtx struct {
	context.Context
	on    context.Context
	arrow atomic.Bool
}

func (c *switchCtx) Value(k any) any {
	if c.arrow.Load() {
		return c.on.Value(k)
	}
	return c.Context.Value(k)
}

// openSource is open for reads: every query of its pool (a table's rows,
// a --query, the bounds of a delta) reads its result exactly in either
// format.
func openSource(conn sdk.Connection) (*sql.DB, error) {
	cfg, err := parseDSN(conn.DSN)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(exactConnector{sf.NewConnector(sf.SnowflakeDriver{}, *cfg)}), nil
}

type exactConnector struct{ driver.Connector }

func (c exactConnector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &exactConn{dc}, nil
}

// exactConn is gosnowflake's connection with queries read by query; the
// rest it passes on.
type exactConn struct{ driver.Conn }

func (c *exactConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	qc, ok := c.Conn.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	return query(ctx, qc, q, args)
}

func (c *exactConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	if x, ok := c.Conn.(driver.ExecerContext); ok {
		return x.ExecContext(ctx, q, args)
	}
	return nil, driver.ErrSkip
}

func (c *exactConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	if x, ok := c.Conn.(driver.ConnPrepareContext); ok {
		return x.PrepareContext(ctx, q)
	}
	return c.Prepare(q)
}

func (c *exactConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if x, ok := c.Conn.(driver.ConnBeginTx); ok {
		return x.BeginTx(ctx, opts)
	}
	return c.Begin() //nolint:staticcheck // the driver's own fallback
}

func (c *exactConn) Ping(ctx context.Context) error {
	if x, ok := c.Conn.(driver.Pinger); ok {
		return x.Ping(ctx)
	}
	return nil
}

func (c *exactConn) CheckNamedValue(v *driver.NamedValue) error {
	if x, ok := c.Conn.(driver.NamedValueChecker); ok {
		return x.CheckNamedValue(v)
	}
	return driver.ErrSkip
}

// query runs one query, its result read exactly in either format.
func query(ctx context.Context, qc driver.QueryerContext, q string, args []driver.NamedValue) (driver.Rows, error) {
	sc := &switchCtx{Context: ctx, on: sf.WithArrowBatchesTimestampOption(sf.WithHigherPrecision(sf.WithArrowBatches(ctx)), sf.UseOriginalTimestamp)}
	sc.arrow.Store(true)
	rows, err := qc.QueryContext(sc, q, args)
	if err != nil {
		return nil, err
	}
	sr, ok := rows.(sf.SnowflakeRows)
	if !ok {
		sc.arrow.Store(false)
		return rows, nil
	}
	batches, err := sr.GetArrowBatches()
	if err != nil { // a JSON result
		sc.arrow.Store(false)
		return rows, nil
	}
	for _, b := range batches {
		b.WithContext(ctx) // chunk downloads stop with the read
	}
	ar := &arrowRows{Rows: rows, batches: batches}
	for i := range rows.Columns() {
		c := arrowCol{typ: "TEXT"}
		if tn, ok := rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
			c.typ = tn.ColumnTypeDatabaseTypeName(i)
		}
		ar.cols = append(ar.cols, c)
	}
	return ar, nil
}

type arrowCol struct {
	typ   string // the rowtype's type: FIXED, TIMESTAMP_TZ, ...
	scale int
}

// arrowRows are the rows of an Arrow result's batches.
type arrowRows struct {
	driver.Rows
	batches []*sf.ArrowBatch
	cols    []arrowCol
	recs    []arrow.Record
	rec     arrow.Record
	row     int
}

func (r *arrowRows) Next(dest []driver.Value) error {
	for r.rec == nil || r.row >= int(r.rec.NumRows()) {
		if len(r.recs) == 0 {
			if len(r.batches) == 0 {
				return io.EOF
			}
			recs, err := r.batches[0].Fetch()
			if err != nil {
				return err
			}
			r.batches = r.batches[1:]
			if recs != nil {
				r.recs = *recs
			}
			continue
		}
		r.rec, r.recs, r.row = r.recs[0], r.recs[1:], 0
		if err := r.scales(); err != nil {
			return err
		}
	}
	for i, col := range r.rec.Columns() {
		v, err := arrowValue(r.cols[i], col, r.row)
		if err != nil {
			return fmt.Errorf("column %q (%s): %w", r.rec.ColumnName(i), r.cols[i].typ, err)
		}
		dest[i] = v
	}
	r.row++
	return nil
}

// scales reads each column's scale from its field's metadata, where
// Snowflake puts it.
func (r *arrowRows) scales() error {
	for i, f := range r.rec.Schema().Fields() {
		c := &r.cols[i]
		switch c.typ {
		case "FIXED", "TIME", "TIMESTAMP_NTZ", "TIMESTAMP_LTZ", "TIMESTAMP_TZ":
			s, ok := f.Metadata.GetValue("scale")
			n, err := strconv.Atoi(s)
			if !ok || err != nil || n < 0 || n > 37 || c.typ != "FIXED" && n > 9 {
				return fmt.Errorf("column %q (%s): the Arrow result gives no scale (metadata %v)", f.Name, c.typ, f.Metadata)
			}
			c.scale = n
		}
	}
	return nil
}

var pow10 = func() [19]int64 {
	p := [19]int64{1}
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// decimalText is unscaled/10^scale, exactly.
func decimalText(unscaled *big.Int, scale int) string {
	s := new(big.Int).Abs(unscaled).String()
	if scale > 0 {
		if len(s) <= scale {
			s = strings.Repeat("0", scale-len(s)+1) + s
		}
		s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	}
	if unscaled.Sign() < 0 {
		s = "-" + s
	}
	return s
}

// instant is seconds and nanoseconds from a value scaled by 10^scale.
func instant(v int64, scale int) time.Time {
	sec, frac := v/pow10[scale], v%pow10[scale]
	return time.Unix(sec, frac*pow10[9-scale])
}

func arrowValue(c arrowCol, col arrow.Array, i int) (driver.Value, error) {
	if col.IsNull(i) {
		return nil, nil
	}
	switch c.typ {
	case "FIXED":
		var n *big.Int
		switch a := col.(type) {
		case *array.Int8:
			n = big.NewInt(int64(a.Value(i)))
		case *array.Int16:
			n = big.NewInt(int64(a.Value(i)))
		case *array.Int32:
			n = big.NewInt(int64(a.Value(i)))
		case *array.Int64:
			n = big.NewInt(a.Value(i))
		case *array.Decimal128:
			n = a.Value(i).BigInt()
		default:
			return nil, fmt.Errorf("unexpected Arrow type %s", col.DataType())
		}
		return decimalText(n, c.scale), nil
	case "TIME":
		a, ok := col.(*array.Time64) // the driver casts the scaled integer as it is
		if !ok {
			return nil, fmt.Errorf("unexpected Arrow type %s", col.DataType())
		}
		return time.Time{}.Add(time.Duration(int64(a.Value(i)) * pow10[9-c.scale])), nil
	case "DATE":
		a, ok := col.(*array.Date32)
		if !ok {
			return nil, fmt.Errorf("unexpected Arrow type %s", col.DataType())
		}
		return time.Unix(int64(a.Value(i))*86400, 0).UTC(), nil
	case "TIMESTAMP_NTZ", "TIMESTAMP_LTZ":
		switch a := col.(type) {
		case *array.Int64:
			return instant(a.Value(i), c.scale).UTC(), nil
		case *array.Struct:
			if a.NumField() == 2 {
				ep, ok1 := a.Field(0).(*array.Int64)
				fr, ok2 := a.Field(1).(*array.Int32)
				if ok1 && ok2 {
					return time.Unix(ep.Value(i), int64(fr.Value(i))).UTC(), nil
				}
			}
		}
		return nil, fmt.Errorf("unexpected Arrow type %s", col.DataType())
	case "TIMESTAMP_TZ":
		a, ok := col.(*array.Struct)
		if !ok {
			return nil, fmt.Errorf("unexpected Arrow type %s", col.DataType())
		}
		var t time.Time
		var tz *array.Int32
		switch a.NumField() {
		case 2:
			ep, ok1 := a.Field(0).(*array.Int64)
			tz, ok = a.Field(1).(*array.Int32)
			if !ok1 || !ok {
				return nil, fmt.Errorf("unexpected Arrow type %s", col.DataType())
			}
			t = instant(ep.Value(i), c.scale)
		case 3:
			ep, ok1 := a.Field(0).(*array.Int64)
			fr, ok2 := a.Field(1).(*array.Int32)
			tz, ok = a.Field(2).(*array.Int32)
			if !ok1 || !ok2 || !ok {
				return nil, fmt.Errorf("unexpected Arrow type %s", col.DataType())
			}
			t = time.Unix(ep.Value(i), int64(fr.Value(i)))
		default:
			return nil, fmt.Errorf("unexpected Arrow type %s", col.DataType())
		}
		return t.In(sf.Location(int(tz.Value(i)) - 1440)), nil
	}
	switch a := col.(type) {
	case *array.Float64:
		return a.Value(i), nil
	case *array.Boolean:
		return a.Value(i), nil
	case *array.Binary:
		return append([]byte(nil), a.Value(i)...), nil
	case *array.String:
		return a.Value(i), nil
	}
	return nil, fmt.Errorf("unexpected Arrow type %s", col.DataType())
}

// The driver's column types, which a query's schema comes from.

func (r *arrowRows) ColumnTypeDatabaseTypeName(i int) string { return r.cols[i].typ }

func (r *arrowRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if x, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return x.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}

func (r *arrowRows) ColumnTypeNullable(i int) (bool, bool) {
	if x, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return x.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *arrowRows) ColumnTypeLength(i int) (int64, bool) {
	if x, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return x.ColumnTypeLength(i)
	}
	return 0, false
}
