package plugintest_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/sdk/plugintest"
)

var rowsSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "small", Type: arrow.PrimitiveTypes.Int16, Nullable: true},
	{Name: "big", Type: arrow.PrimitiveTypes.Uint64},
	{Name: "f", Type: arrow.PrimitiveTypes.Float64},
	{Name: "ok", Type: arrow.FixedWidthTypes.Boolean},
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "b", Type: arrow.BinaryTypes.Binary},
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
	{Name: "d", Type: arrow.FixedWidthTypes.Date32},
	{Name: "dec", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}},
}, nil)

func TestRows(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	day := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	rec := plugintest.Rows(t, rowsSchema, [][]any{
		{int64(1), 7, uint64(1 << 63), 2.5, true, "one", []byte{0, 1}, ts, day, "123.45"},
		{2, nil, 3, 1, false, nil, "raw", ts, day, "-0.01"},
	})
	if rec.NumRows() != 2 || rec.NumCols() != 10 {
		t.Fatalf("%d rows, %d columns", rec.NumRows(), rec.NumCols())
	}
	var got []string
	for i := range int(rec.NumCols()) {
		got = append(got, rec.Column(i).ValueStr(0)+"|"+rec.Column(i).ValueStr(1))
	}
	want := []string{"1|2", "7|(null)", "9223372036854775808|3", "2.5|1", "true|false", "one|(null)",
		"AAE=|cmF3", "2026-01-02T03:04:05.000006Z|2026-01-02T03:04:05.000006Z", "2026-01-02|2026-01-02", "123.45|-0.01"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("values\n got %v\nwant %v", got, want)
	}
	if rec.Column(1).(*array.Int16).Value(0) != 7 {
		t.Fatal("int16 value lost")
	}
}

// fatalTB records the failure Rows reports and stops its goroutine, as
// t.Fatalf would.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper()        {}
func (f *fatalTB) Cleanup(func()) {}
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// TestRowsRejectsWhatDoesNotFit: a value that the field cannot hold
// exactly fails the test, naming the row and field.
func TestRowsRejectsWhatDoesNotFit(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	good := []any{int64(1), 7, uint64(1), 2.5, true, "one", []byte{}, ts, ts.Truncate(24 * time.Hour), "1.00"}
	for name, tc := range map[string]struct {
		field int
		value any
		want  string
	}{
		"null in non-nullable": {0, nil, `field "id"`},
		"int16 overflow":       {1, 40000, "out of the field's range"},
		"negative unsigned":    {2, -1, "out of the field's range"},
		"bool for float":       {3, true, "cannot hold bool"},
		"finer than unit":      {7, ts.Add(time.Nanosecond), "finer than the field's unit"},
		"date not midnight":    {8, ts, "not midnight"},
		"bad decimal":          {9, "abc", `field "dec"`},
	} {
		row := append([]any(nil), good...)
		row[tc.field] = tc.value
		f := &fatalTB{TB: t}
		done := make(chan struct{})
		go func() {
			defer close(done)
			plugintest.Rows(f, rowsSchema, [][]any{good, row})
		}()
		<-done
		if !strings.Contains(f.msg, "row 1") || !strings.Contains(f.msg, tc.want) {
			t.Errorf("%s: failure %q, want one naming row 1 and %q", name, f.msg, tc.want)
		}
	}
}
