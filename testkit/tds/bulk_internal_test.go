package tds

import (
	"reflect"
	"testing"
	"time"
)

// TestParseBulkRoundTrip decodes what the server's own encoder writes,
// ROW and NBCROW alike, for every column type.
func TestParseBulkRoundTrip(t *testing.T) {
	cols := []Column{
		{Name: "bit", Type: Bit, Nullable: true}, {Name: "ti", Type: TinyInt}, {Name: "si", Type: SmallInt}, {Name: "i", Type: Int},
		{Name: "bi", Type: BigInt}, {Name: "r", Type: Real}, {Name: "f", Type: Float}, {Name: "d", Type: Decimal, Precision: 38, Scale: 6},
		{Name: "n", Type: Numeric, Precision: 5, Scale: 2}, {Name: "m", Type: Money}, {Name: "sm", Type: SmallMoney},
		{Name: "nv", Type: NVarChar, Length: 20}, {Name: "nvmax", Type: NVarChar, Length: Max}, {Name: "vc", Type: VarChar, Length: 8},
		{Name: "vb", Type: VarBinary, Length: 8}, {Name: "vbmax", Type: VarBinary, Length: Max}, {Name: "da", Type: Date},
		{Name: "tm", Type: Time, Scale: 3}, {Name: "dt2", Type: DateTime2, Scale: 7}, {Name: "dto", Type: DateTimeOffset, Scale: 7},
		{Name: "dt", Type: DateTime}, {Name: "sdt", Type: SmallDateTime}, {Name: "g", Type: UniqueIdentifier}, {Name: "x", Type: XML, Length: Max},
	}
	zone := time.FixedZone("", -90*60)
	full := []any{true, int64(255), int64(-32768), int64(-2147483648), int64(-9223372036854775808), 0.5, -1e-300,
		"-12345678901234567890123456789012.123456", "-999.99", "-922337203685477.5808", "214748.3647",
		"ünï ✓", "ünï ✓ max", "latin é", []byte{0, 1}, []byte{}, time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC),
		time.Date(1, 1, 1, 13, 14, 15, 123000000, time.UTC), time.Date(2024, 2, 29, 1, 2, 3, 400, time.UTC),
		time.Date(2024, 2, 29, 1, 2, 3, 400, zone), time.Date(1900, 1, 1, 0, 0, 1, 0, time.UTC),
		time.Date(2079, 6, 6, 23, 59, 0, 0, time.UTC), "6F9619FF-8B86-D011-B42D-00C04FD430C8", "<a/>"}
	nulls := make([]any, len(cols))
	nulls[1] = int64(0)
	var b tokBuf
	if err := b.colMetadata(cols); err != nil {
		t.Fatal(err)
	}
	for _, r := range [][]any{full, nulls} {
		if err := b.row(cols, r); err != nil {
			t.Fatal(err)
		}
	}
	b.done(tokDone, doneFinal, 0, 0)
	got, err := parseBulk(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Columns, cols) {
		t.Errorf("columns:\n%+v\nwant\n%+v", got.Columns, cols)
	}
	for i, w := range full {
		g := got.Rows[0][i]
		same := reflect.DeepEqual(g, w)
		if wt, ok := w.(time.Time); ok {
			gt, _ := g.(time.Time)
			_, wo := wt.Zone()
			_, gof := gt.Zone()
			same = gt.Equal(wt) && wo == gof
		}
		if !same {
			t.Errorf("column %s = %#v, want %#v", cols[i].Name, g, w)
		}
	}
	if !reflect.DeepEqual(got.Rows[1], nulls) {
		t.Errorf("NBCROW = %#v", got.Rows[1])
	}
	// Damaged messages are errors, not panics.
	for _, cut := range []int{1, 10, len(b) / 2, len(b) - 3} {
		if _, err := parseBulk(b[:cut]); err == nil {
			t.Errorf("a message cut at %d bytes parsed", cut)
		}
	}
}
