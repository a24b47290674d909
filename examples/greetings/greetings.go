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

// Read streams the rows in batches sized by the batch package.
func (*Greetings) Read(ctx context.Context, req sdk.ReadRequest) (array.RecordReader, error) {
	if err := table(req.Source); err != nil {
		return nil, err
	}
	if req.Where != "" || req.Range != nil || len(req.Columns) > 0 {
		return nil, sdk.InvalidArgumentf("greetings supports whole-table reads only")
	}
	rows, err := rowsOf(req.Conn)
	if err != nil {
		return nil, err
	}
	next := int64(1)
	fill := func(b *batch.Builder) (bool, error) {
		ids := b.Field(0).(*array.Int64Builder)
		text := b.Field(1).(*array.StringBuilder)
		for ; next <= rows; next++ {
			if err := ctx.Err(); err != nil {
				return false, err
			}
			ids.Append(next)
			if next%7 == 0 {
				text.AppendNull()
			} else {
				text.Append(fmt.Sprintf("%s #%d", words[next%int64(len(words))], next))
			}
			if b.RowDone() {
				next++
				return next > rows, nil
			}
		}
		return true, nil
	}
	return batch.NewReader(schema, fill, nil, batch.WithMaxRows(req.BatchMaxRows), batch.WithMaxBytes(req.BatchMaxBytes)), nil
}
