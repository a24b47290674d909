package batch

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

func TestBatchesBoundedByRowsAndBytes(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String}}, nil)
	big := strings.Repeat("x", 10_000)
	for _, tc := range []struct {
		name          string
		opts          []Option
		value         string
		maxRows       int64
		wantBatchRows int64
	}{
		{"rows", []Option{WithMaxRows(100)}, "a", 100, 100},
		// 10 kB values and a 1 MB cap: batches stop at about 100 rows.
		{"bytes", []Option{WithMaxBytes(1 << 20)}, big, 0, 106},
		// 3 MB values and a 4 MB cap: a batch ends at the row that crosses
		// the cap, however few rows that is.
		{"huge values", []Option{WithMaxBytes(4 << 20)}, strings.Repeat("y", 3<<20), 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			left := 1000
			rr := NewReader(schema, func(b *Builder) (bool, error) {
				for ; left > 0; left-- {
					b.Field(0).(*array.StringBuilder).Append(tc.value)
					if b.RowDone() {
						left--
						return left == 0, nil
					}
				}
				return true, nil
			}, nil, tc.opts...)
			defer rr.Release()
			total := int64(0)
			for rr.Next() {
				n := rr.RecordBatch().NumRows()
				if n > tc.wantBatchRows {
					t.Fatalf("batch of %d rows, want at most %d", n, tc.wantBatchRows)
				}
				total += n
			}
			if total != 1000 || rr.Err() != nil {
				t.Fatalf("read %d rows, err %v", total, rr.Err())
			}
		})
	}
}
