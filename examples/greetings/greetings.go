package main

import (
	"context"
	"fmt"
	"net/url"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/batch"
)

// Greetings serves DSNs like greetings://?rows=100.
type Greetings struct{}

var words = []string{"hello", "bonjour", "hola", "hallo", "ciao", "こんにちは"}

var schema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "greeting", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

// Info is the connector's spec: hp builds its README and help from it.
func (*Greetings) Info() sdk.Info {
	return sdk.Info{
		Name:        "greetings",
		Version:     "1.0.0",
		Description: "Example connector: a table of greetings in several languages",
		Schemes:     []string{"greetings"},
		DSNFormat:   "greetings://?rows=N",
		DSNExample:  "greetings://?rows=100",
		Options:     []sdk.OptionSpec{{Name: "rows", Type: "int", Default: "10", Description: "Rows in the greetings table"}},
		TypeMappings: []sdk.TypeMapping{
			{NativeType: "id", ArrowType: "int64", Notes: "1..rows"},
			{NativeType: "greeting", ArrowType: "utf8", Notes: "NULL on every 7th row"},
		},
		Limits: []string{"Only the table greetings exists."},
	}
}

func rowsOf(conn sdk.Connection) (int64, error) {
	u, err := url.Parse(conn.DSN)
	if err != nil || u.Scheme != "greetings" {
		return 0, sdk.InvalidArgumentf("DSN must look like greetings://?rows=N")
	}
	v := conn.Option("rows", u.Query().Get("rows"))
	if v == "" {
		return 10, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, sdk.InvalidArgumentf("rows=%q is not a row count", v)
	}
	return n, nil
}

// Check validates the DSN; there is no server to reach.
func (*Greetings) Check(_ context.Context, conn sdk.Connection) (string, error) {
	if _, err := rowsOf(conn); err != nil {
		return "", err
	}
	return "greetings 1.0.0", nil
}

// ListObjects lists the one table.
func (*Greetings) ListObjects(context.Context, sdk.Connection, string) ([]sdk.ObjectInfo, error) {
	return []sdk.ObjectInfo{{Ref: sdk.ObjectRef{Name: "greetings"}, Kind: "table"}}, nil
}

func table(src sdk.Source) error {
	if src.Object == nil || src.Object.Name != "greetings" {
		return sdk.NotFoundf("table %s does not exist (the only table is greetings)", src)
	}
	return nil
}

// Describe returns the schema and primary key.
func (*Greetings) Describe(_ context.Context, _ sdk.Connection, src sdk.Source) (*sdk.Description, error) {
	if err := table(src); err != nil {
		return nil, err
	}
	return &sdk.Description{Schema: schema, PrimaryKey: []string{"id"}, Columns: []sdk.Column{
		{Name: "id", NativeType: "id"}, {Name: "greeting", NativeType: "greeting", Nullable: true},
	}}, nil
}

// Read streams the rows in batches sized by the batch package. It honours
// a column projection, a range on id and ordering by id.
func (*Greetings) Read(ctx context.Context, req sdk.ReadRequest) (array.RecordReader, error) {
	if err := table(req.Source); err != nil {
		return nil, err
	}
	if req.Where != "" {
		return nil, sdk.InvalidArgumentf("greetings does not support --where")
	}
	rows, err := rowsOf(req.Conn)
	if err != nil {
		return nil, err
	}
	lo, hi, err := idRange(req.Range, rows)
	if err != nil {
		return nil, err
	}
	cols, err := project(req.Columns)
	if err != nil {
		return nil, err
	}
	next, step := lo, int64(1)
	for _, o := range req.OrderBy {
		if o.Column != "id" {
			return nil, sdk.InvalidArgumentf("greetings orders by id only")
		}
		if o.Descending {
			next, step = hi, -1
		}
	}
	out := arrow.NewSchema(nil, nil)
	for _, c := range cols {
		out = arrow.NewSchema(append(out.Fields(), schema.Field(c)), nil)
	}
	fill := func(b *batch.Builder) (bool, error) {
		for ; next >= lo && next <= hi; next += step {
			if err := ctx.Err(); err != nil {
				return false, err
			}
			for i, c := range cols {
				appendValue(b.Field(i), c, next)
			}
			if b.EndRow() {
				next += step
				return next >= lo && next <= hi, nil
			}
		}
		return false, nil
	}
	return batch.NewReader(out, fill, nil, batch.WithMaxRows(req.BatchMaxRows), batch.WithMaxBytes(req.BatchMaxBytes)), nil
}

// appendValue appends column c of row id.
func appendValue(b array.Builder, c int, id int64) {
	if c == 0 {
		b.(*array.Int64Builder).Append(id)
		return
	}
	if id%7 == 0 {
		b.AppendNull()
		return
	}
	b.(*array.StringBuilder).Append(fmt.Sprintf("%s #%d", words[id%int64(len(words))], id))
}

// idRange applies a range filter on id to 1..rows.
func idRange(rf *sdk.RangeFilter, rows int64) (lo, hi int64, err error) {
	lo, hi = 1, rows
	if rf == nil {
		return lo, hi, nil
	}
	if rf.Column != "id" {
		return 0, 0, sdk.InvalidArgumentf("greetings filters on id only")
	}
	if v := rf.Lower; v != nil {
		if v.Kind != sdk.KindInt64 {
			return 0, 0, sdk.InvalidArgumentf("id bounds are integers")
		}
		if rf.LowerInclusive {
			lo = max(lo, v.Int)
		} else {
			lo = max(lo, v.Int+1)
		}
	}
	if v := rf.Upper; v != nil {
		if v.Kind != sdk.KindInt64 {
			return 0, 0, sdk.InvalidArgumentf("id bounds are integers")
		}
		if rf.UpperInclusive {
			hi = min(hi, v.Int)
		} else {
			hi = min(hi, v.Int-1)
		}
	}
	return lo, hi, nil
}

// project maps requested column names to schema indices.
func project(names []string) ([]int, error) {
	if len(names) == 0 {
		return []int{0, 1}, nil
	}
	var out []int
	for _, n := range names {
		idx := schema.FieldIndices(n)
		if len(idx) != 1 {
			return nil, sdk.NotFoundf("greetings has no column %q", n)
		}
		out = append(out, idx[0])
	}
	return out, nil
}
