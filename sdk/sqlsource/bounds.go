package sqlsource

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/extensions"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// Bounds implements sdk.Bounder.
func (c *Connector) Bounds(ctx context.Context, req sdk.BoundsRequest) (*sdk.Bounds, error) {
	if err := c.dialect.checkWhere(req.Where); err != nil {
		return nil, err
	}
	db, err := c.db(req.Conn)
	if err != nil {
		return nil, err
	}
	if b, err := c.maintainedBounds(ctx, db, req); b != nil || err != nil {
		return b, c.dialect.classify(err, req.Conn.DSN)
	}
	meta, err := c.columns(ctx, db, req.Source, []string{req.Column})
	if err != nil {
		return nil, c.dialect.classify(err, req.Conn.DSN)
	}
	if err := c.dialect.ordered(req.Column, meta); err != nil {
		return nil, err
	}
	col := c.dialect.quote(req.Column)
	list := fmt.Sprintf("MIN(%s), MAX(%s), COUNT(*), COUNT(%s)", col, col, col)
	q, args, err := c.selectSQL(req.Source, list, req.Where, req.Range, nil, meta)
	if err != nil {
		return nil, err
	}
	if err := c.dialect.checkSQL(q); err != nil {
		return nil, err
	}
	lo, hi, count, nonNull, err := c.boundsRow(ctx, db, q, args)
	if err != nil {
		return nil, c.dialect.classify(err, req.Conn.DSN)
	}
	b := &sdk.Bounds{Count: count, NullCount: count - nonNull}
	if meta == nil {
		// A query's column: its type is known only from a read.
		meta = []ColumnMeta{{Name: req.Column, Nullable: true}}
	}
	mp, err := c.dialect.Map(meta[0])
	if err != nil {
		return nil, fmt.Errorf("column %q: %w", req.Column, err)
	}
	if b.Min, err = toValue(mp, lo); err != nil {
		return nil, fmt.Errorf("min of %q: %w", req.Column, err)
	}
	if b.Max, err = toValue(mp, hi); err != nil {
		return nil, fmt.Errorf("max of %q: %w", req.Column, err)
	}
	if unconstrainedDecimal(meta[0]) {
		for _, v := range []*sdk.Value{b.Min, b.Max} {
			if err := exactDecimal(v, req.Column); err != nil {
				return nil, err
			}
		}
	}
	return b, nil
}

// unconstrainedDecimal: a numeric without precision, read as text so any
// value fits; its bounds are still numbers.
func unconstrainedDecimal(m ColumnMeta) bool {
	t := strings.ToLower(strings.TrimSpace(m.NativeType))
	return (t == "numeric" || t == "decimal") && !m.HasPrecision
}

// exactDecimal turns a text bound of an unconstrained numeric into an
// exact decimal, so its literal compares as a number. NaN and infinities
// sort above every number: as a mark they would end every later delta.
func exactDecimal(v *sdk.Value, col string) error {
	if v == nil || v.Kind != sdk.KindString {
		return nil
	}
	// 16383: PostgreSQL's most digits after the point.
	if _, err := ParseDecimal(v.Str, 16383); err != nil {
		return sdk.InvalidArgumentf("column %q holds %s, which cannot bound a delta range: filter it out (--where \"%s <> 'NaN'\") or choose another driver", col, v.Str, col)
	}
	v.Kind = sdk.KindDecimal
	return nil
}

// boundsRow runs the bounds query in a read-only transaction and returns
// its one row.
func (c *Connector) boundsRow(ctx context.Context, db *sql.DB, q string, args []any) (lo, hi any, count, nonNull int64, err error) {
	sc, err := db.Conn(ctx)
	if err != nil {
		return nil, nil, 0, 0, err
	}
	defer sc.Close()
	err = c.dialect.readOnlyRaw(ctx, sc, func(dc any) error {
		rows, err := Query(ctx, dc, q, args)
		if err != nil {
			return err
		}
		defer rows.Close()
		row := make([]driver.Value, 4)
		if err := rows.Next(row); err != nil {
			if err == io.EOF {
				return errors.New("bounds query returned no row")
			}
			return err
		}
		// Bytes are only valid until the next call on rows.
		for i, v := range row[:2] {
			if b, ok := v.([]byte); ok {
				row[i] = append([]byte(nil), b...)
			}
		}
		lo, hi = row[0], row[1]
		if count, err = asInt64(row[2]); err != nil {
			return fmt.Errorf("COUNT(*): %w", err)
		}
		if nonNull, err = asInt64(row[3]); err != nil {
			return fmt.Errorf("COUNT of the column: %w", err)
		}
		return nil
	})
	return lo, hi, count, nonNull, err
}

// asInt64 reads a count as a driver hands it over.
func asInt64(v driver.Value) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case []byte:
		return strconv.ParseInt(string(x), 10, 64)
	case string:
		return strconv.ParseInt(x, 10, 64)
	case float64:
		return int64(x), nil
	case fmt.Stringer: // a driver's own decimal type, e.g. godror.Number
		return strconv.ParseInt(x.String(), 10, 64)
	}
	return 0, fmt.Errorf("unexpected %T for a count", v)
}

// toValue decodes a driver value the way a read would, then turns the
// Arrow value into an exact sdk.Value.
func toValue(mp Mapping, v any) (*sdk.Value, error) {
	if v == nil {
		return nil, nil
	}
	bld := array.NewBuilder(memory.DefaultAllocator, mp.Type)
	defer bld.Release()
	if err := mp.Decode(bld, driver.Value(v)); err != nil {
		return nil, err
	}
	a := bld.NewArray()
	defer a.Release()
	return ValueAt(a, 0)
}

// ValueAt converts one Arrow value into an sdk.Value.
func ValueAt(a arrow.Array, i int) (*sdk.Value, error) {
	if a.IsNull(i) {
		return nil, nil
	}
	switch x := a.(type) {
	case *array.Int64:
		return sdk.Int64Value(x.Value(i)), nil
	case *array.Int32:
		return sdk.Int64Value(int64(x.Value(i))), nil
	case *array.Int16:
		return sdk.Int64Value(int64(x.Value(i))), nil
	case *array.Uint64:
		return &sdk.Value{Kind: sdk.KindUint64, Uint: x.Value(i)}, nil
	case *array.Float64:
		return &sdk.Value{Kind: sdk.KindFloat64, Float: x.Value(i)}, nil
	case *array.String:
		return sdk.StringValue(x.Value(i)), nil
	case *array.Binary:
		return &sdk.Value{Kind: sdk.KindBytes, Bytes: append([]byte(nil), x.Value(i)...)}, nil
	case *array.Boolean:
		return &sdk.Value{Kind: sdk.KindBool, Bool: x.Value(i)}, nil
	case *array.Decimal128:
		return sdk.DecimalValue(x.Value(i).ToString(x.DataType().(*arrow.Decimal128Type).Scale)), nil
	case *array.Decimal256:
		return sdk.DecimalValue(x.Value(i).ToString(x.DataType().(*arrow.Decimal256Type).Scale)), nil
	case *array.Date32:
		return sdk.DateValue(int32(x.Value(i))), nil
	case *array.Timestamp:
		unit := x.DataType().(*arrow.TimestampType).Unit
		return sdk.TimestampValue(x.Value(i).ToTime(unit)), nil
	case *extensions.TimestampWithOffsetArray:
		// A bound is an instant; the offset does not order values.
		return sdk.TimestampValue(x.Value(i)), nil
	}
	return nil, fmt.Errorf("type %s cannot be a bound", a.DataType())
}

// maintainedBounds answers req from the shadow of maintained checksums
// when req allows it (ChecksumColumns) and they would serve those
// checksums: its keys are the table's, so a count of it (an index only
// scan of two integers a row) stands in for counting the table. nil when
// they do not serve.
func (c *Connector) maintainedBounds(ctx context.Context, db *sql.DB, req sdk.BoundsRequest) (*sdk.Bounds, error) {
	if len(req.ChecksumColumns) == 0 || req.Source.Object == nil || req.Range != nil || c.dialect.Maintain == nil || c.dialect.Checksum == nil {
		return nil, nil
	}
	m, _, err := c.usableShadow(ctx, db, sdk.ChecksumRangesRequest{Table: *req.Source.Object, Columns: req.ChecksumColumns, Key: req.Column, Where: req.Where})
	if m == nil || err != nil {
		return nil, err
	}
	k := c.dialect.quote("k")
	var lo, hi sql.NullInt64
	b := &sdk.Bounds{Maintained: true}
	if err := db.QueryRowContext(ctx, fmt.Sprintf("SELECT MIN(%s), MAX(%s), COUNT(*) FROM %s", k, k, m.Shadow)).Scan(&lo, &hi, &b.Count); err != nil {
		return nil, fmt.Errorf("bounds of %s: %w", m.Shadow, err)
	}
	if lo.Valid {
		b.Min, b.Max = sdk.Int64Value(lo.Int64), sdk.Int64Value(hi.Int64)
	}
	return b, nil
}
