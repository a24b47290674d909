package main

import (
	"context"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/batch"
)

// numbers serves in-memory tables of one schema: "numbers" (id 1..rows,
// and a label that is NULL for every third id), "empty", and "big", one
// row whose label is 5 MiB.
type numbers struct{}

var schema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "label", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

func (numbers) Info() sdk.Info {
	return sdk.Info{
		Name: "numbers", Version: "0.0.1", Description: "Out-of-tree test connector: a table of numbers",
		Schemes: []string{"numbers"}, DSNFormat: "numbers://?rows=N", DSNExample: "numbers://?rows=10",
		Options:      []sdk.OptionSpec{{Name: "rows", Type: "int", Default: "10", Description: "Rows in the numbers table"}},
		TypeMappings: []sdk.TypeMapping{{NativeType: "id", ArrowType: "int64"}, {NativeType: "label", ArrowType: "utf8"}},
	}
}

func (numbers) Check(_ context.Context, conn sdk.Connection) (string, error) {
	_, err := rowsOf(conn)
	return "numbers 1", err
}

func (numbers) ListObjects(context.Context, sdk.Connection, string) ([]sdk.ObjectInfo, error) {
	return []sdk.ObjectInfo{{Ref: sdk.ObjectRef{Name: "numbers"}, Kind: "table"}, {Ref: sdk.ObjectRef{Name: "empty"}, Kind: "table"}, {Ref: sdk.ObjectRef{Name: "big"}, Kind: "table"}}, nil
}

func (numbers) Describe(_ context.Context, _ sdk.Connection, src sdk.Source) (*sdk.Description, error) {
	if _, err := table(src); err != nil {
		return nil, err
	}
	return &sdk.Description{Schema: schema, PrimaryKey: []string{"id"},
		Columns: []sdk.Column{{Name: "id", NativeType: "id"}, {Name: "label", NativeType: "label", Nullable: true}}}, nil
}

func (numbers) Bounds(_ context.Context, req sdk.BoundsRequest) (*sdk.Bounds, error) {
	lo, hi, err := span(req.Conn, req.Source, req.Range)
	if err != nil {
		return nil, err
	}
	if req.Column != "id" {
		return nil, sdk.InvalidArgumentf("bounds of column %q: only id has bounds", req.Column)
	}
	if lo > hi {
		return &sdk.Bounds{}, nil
	}
	return &sdk.Bounds{Min: sdk.Int64Value(lo), Max: sdk.Int64Value(hi), Count: hi - lo + 1}, nil
}

func (numbers) Read(ctx context.Context, req sdk.ReadRequest) (array.RecordReader, error) {
	lo, hi, err := span(req.Conn, req.Source, req.Range)
	if err != nil {
		return nil, err
	}
	if req.Where != "" {
		return nil, sdk.InvalidArgumentf("numbers takes no WHERE predicate")
	}
	cols := []string{"id", "label"}
	if len(req.Columns) > 0 {
		cols = req.Columns
	}
	var fields []arrow.Field
	for _, c := range cols {
		i := schema.FieldIndices(c)
		if len(i) != 1 {
			return nil, sdk.NotFoundf("column %q", c)
		}
		fields = append(fields, schema.Field(i[0]))
	}
	next, step := lo, int64(1)
	for _, o := range req.OrderBy {
		if o.Column == "id" && o.Descending {
			next, step = hi, -1
		}
	}
	name, _ := table(req.Source)
	label := func(id int64) string { return "n" + strconv.FormatInt(id, 10) }
	if name == "big" {
		label = func(int64) string { return strings.Repeat("x", 5<<20) }
	}
	fill := func(b *batch.Builder) (bool, error) {
		for ; next >= lo && next <= hi; next += step {
			if err := ctx.Err(); err != nil {
				return false, err
			}
			for i, c := range cols {
				switch {
				case c == "id":
					b.Field(i).(*array.Int64Builder).Append(next)
				case next%3 == 0:
					b.Field(i).AppendNull()
				default:
					b.Field(i).(*array.StringBuilder).Append(label(next))
				}
			}
			if b.EndRow() {
				next += step
				return next >= lo && next <= hi, nil
			}
		}
		return false, nil
	}
	return batch.NewReader(arrow.NewSchema(fields, nil), fill, nil,
		batch.WithMaxRows(req.BatchMaxRows), batch.WithMaxBytes(req.BatchMaxBytes)), nil
}

func rowsOf(conn sdk.Connection) (int64, error) {
	u, err := url.Parse(conn.DSN)
	if err != nil || u.Scheme != "numbers" {
		return 0, sdk.InvalidArgumentf("DSN %s is not numbers://?rows=N", sdk.MaskDSN(conn.DSN))
	}
	// The rows option (HP_<NAME>_ROWS, or the connections file) wins over
	// the DSN's.
	n, err := strconv.ParseInt(conn.Option("rows", u.Query().Get("rows")), 10, 64)
	if err != nil {
		return 10, nil
	}
	return n, nil
}

func table(src sdk.Source) (string, error) {
	if src.Object == nil || !slices.Contains([]string{"numbers", "empty", "big"}, src.Object.Name) {
		return "", sdk.NotFoundf("table %s does not exist", src)
	}
	return src.Object.Name, nil
}

// span is the ids the source holds under the range, lo > hi when none.
func span(conn sdk.Connection, src sdk.Source, rf *sdk.RangeFilter) (lo, hi int64, err error) {
	name, err := table(src)
	if err != nil {
		return 0, 0, err
	}
	rows, err := rowsOf(conn)
	switch {
	case err != nil || name == "empty":
		return 1, 0, err
	case name == "big":
		rows = 1
	}
	lo, hi = 1, rows
	if rf == nil {
		return lo, hi, nil
	}
	if rf.Column != "id" {
		return 0, 0, sdk.InvalidArgumentf("range on column %q: only id has a range", rf.Column)
	}
	if v := rf.Lower; v != nil {
		lo = max(lo, v.Int)
		if !rf.LowerInclusive {
			lo = max(lo, v.Int+1)
		}
	}
	if v := rf.Upper; v != nil {
		hi = min(hi, v.Int)
		if !rf.UpperInclusive {
			hi = min(hi, v.Int-1)
		}
	}
	return lo, hi, nil
}
