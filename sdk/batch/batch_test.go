package batch

import (
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
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
					if b.EndRow() {
						left--
						return left > 0, nil
					}
				}
				return false, nil
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

// Each batch's builders start at the size of the one before, so they do
// not grow by doubling through every batch; values stay what was appended
// and nothing reserved outlives the builder.
func TestNextBatchSizedLikeThePrevious(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "n", Type: arrow.PrimitiveTypes.Int64},
		{Name: "s", Type: arrow.BinaryTypes.String},
	}, nil)
	b := NewBuilder(schema, WithAllocator(mem), WithMaxRows(1000))
	defer b.Release()
	for batch := 0; batch < 3; batch++ {
		if batch > 0 {
			if c := b.Field(0).Cap(); c < 1000 {
				t.Fatalf("batch %d: int builder holds %d rows before the first append, want 1000", batch, c)
			}
			if c := b.Field(1).(*array.StringBuilder).DataCap(); c < 5000 {
				t.Fatalf("batch %d: string builder holds %d bytes before the first append, want 5000", batch, c)
			}
			if b.Field(0).Len() != 0 || b.Field(1).Len() != 0 {
				t.Fatalf("batch %d: a new batch already has values", batch)
			}
		}
		for i := 0; ; i++ {
			b.Field(0).(*array.Int64Builder).Append(int64(batch*1000 + i))
			b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("v%04d", i))
			if b.EndRow() {
				break
			}
		}
		rec := b.NewBatch()
		if rec.NumRows() != 1000 {
			t.Fatalf("batch %d has %d rows", batch, rec.NumRows())
		}
		ns, ss := rec.Column(0).(*array.Int64), rec.Column(1).(*array.String)
		for _, i := range []int{0, 999} {
			if ns.Value(i) != int64(batch*1000+i) || ss.Value(i) != fmt.Sprintf("v%04d", i) {
				t.Fatalf("batch %d row %d: %d %q", batch, i, ns.Value(i), ss.Value(i))
			}
		}
		rec.Release()
	}
}

// TestFillReportsMore: a fill function stops when EndRow reports the batch
// full and says whether more rows follow; the reader calls it again only
// then, and delivers the rows of the last call that said no more.
func TestFillReportsMore(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "n", Type: arrow.PrimitiveTypes.Int64}}, nil)
	const rows = 12
	next, calls := 0, 0
	rr := NewReader(schema, func(b *Builder) (more bool, err error) {
		calls++
		for next < rows {
			b.Field(0).(*array.Int64Builder).Append(int64(next))
			next++
			if b.EndRow() {
				return next < rows, nil
			}
		}
		return false, nil
	}, nil, WithMaxRows(5))
	defer rr.Release()
	var sizes []int64
	for rr.Next() {
		sizes = append(sizes, rr.RecordBatch().NumRows())
	}
	if err := rr.Err(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(sizes) != "[5 5 2]" || calls != 3 {
		t.Fatalf("batches %v from %d calls, want [5 5 2] from 3", sizes, calls)
	}
}

// A wide row of fixed-width columns counts by its bytes too: 200 int64
// columns (1,600 bytes a row) under a 1 MiB budget make batches of about
// 650 rows, not of the 128 Ki row limit.
func TestWideRowsCutByBytes(t *testing.T) {
	fields := make([]arrow.Field, 200)
	for i := range fields {
		fields[i] = arrow.Field{Name: fmt.Sprintf("c%d", i), Type: arrow.PrimitiveTypes.Int64}
	}
	b := NewBuilder(arrow.NewSchema(fields, nil), WithMaxBytes(1<<20))
	defer b.Release()
	for r := 0; ; r++ {
		for i := range fields {
			b.Field(i).(*array.Int64Builder).Append(int64(r))
		}
		if b.EndRow() {
			break
		}
		if r > 10_000 {
			t.Fatal("no batch end after 10,000 wide rows")
		}
	}
	rec := b.NewBatch()
	defer rec.Release()
	perRow := 200*8 + 200/8
	if n := int(rec.NumRows()); n*perRow < 1<<20 || n*perRow > (1<<20)+checkEvery*perRow {
		t.Fatalf("batch of %d rows (%d bytes), want the first row past 1 MiB", n, n*perRow)
	}
}

// TestBatchCutByBytesHoldsItsRows: batches cut by the byte budget hold
// memory for about their rows, not for the next power of two (3,227 rows
// of 200 columns held 4,096 rows' worth), from the second batch on: the
// first is built by doubling. An array's buffer is trimmed to its length
// by reslicing, so what it holds is the capacity under it.
func TestBatchCutByBytesHoldsItsRows(t *testing.T) {
	fields := make([]arrow.Field, 200)
	for i := range fields {
		fields[i] = arrow.Field{Name: fmt.Sprintf("c%d", i), Type: arrow.PrimitiveTypes.Int64}
	}
	b := NewBuilder(arrow.NewSchema(fields, nil), WithMaxBytes(5<<20))
	defer b.Release()
	for batch := range 4 {
		for r := 0; ; r++ {
			for i := range fields {
				b.Field(i).(*array.Int64Builder).Append(int64(r))
			}
			if b.EndRow() {
				break
			}
		}
		rec := b.NewBatch()
		rows := int(rec.NumRows())
		held := 0
		for _, c := range rec.Columns() {
			for _, buf := range c.Data().Buffers() {
				if buf != nil {
					held += cap(buf.Buf())
				}
			}
		}
		rec.Release()
		want := len(fields) * ((rows+rows/8+1)*8 + rows/8 + 256)
		if batch > 0 && held > want {
			t.Fatalf("batch %d of %d rows holds %d bytes of buffers, want at most %d", batch, rows, held, want)
		}
	}
}

// TestLargeValuesDoNotDoubleTheData: a batch of 1.5 MiB values ends past
// its 4 MiB budget (4.5 MiB); the next batch's data buffer is reserved
// for that, not at the budget, where the third value doubled it to 8 MiB.
func TestLargeValuesDoNotDoubleTheData(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String}}, nil)
	b := NewBuilder(schema, WithMaxBytes(4<<20))
	defer b.Release()
	v := strings.Repeat("x", 3<<19)
	for batch := range 4 {
		for {
			b.Field(0).(*array.StringBuilder).Append(v)
			if b.EndRow() {
				break
			}
		}
		rec := b.NewBatch()
		held := cap(rec.Column(0).Data().Buffers()[2].Buf())
		rows := rec.NumRows()
		rec.Release()
		if rows != 3 {
			t.Fatalf("batch %d has %d rows, want 3", batch, rows)
		}
		if batch > 0 && held > 6<<20+64 {
			t.Fatalf("batch %d of 4.5 MiB data holds %d bytes for it, want at most 6 MiB", batch, held)
		}
	}
}
