package gen

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// Expected builds, in one batch, the rows ids from..to (inclusive) of a
// table as a read with the DSN would return them, for tests. It
// calls the same generators as Read, so its value is in agreement, not
// independence: tests of the generators themselves check chosen cells
// against values computed by hand.
func Expected(dsn, tableName string, from, to int64) (arrow.RecordBatch, error) {
	p, err := parse(sdk.Connection{DSN: dsn})
	if err != nil {
		return nil, err
	}
	t, err := table(sdk.Source{Object: &sdk.ObjectRef{Name: tableName}})
	if err != nil {
		return nil, err
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, t.schema())
	defer b.Release()
	for id := from; id <= to; id++ {
		for i, c := range t.columns {
			c.appendTo(b.Field(i), p, id)
		}
	}
	return b.NewRecordBatch(), nil
}
