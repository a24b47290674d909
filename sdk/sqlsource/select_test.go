package sqlsource

import (
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// fallbackDialect maps "shape" through a server-side expression and
// everything else as text.
func fallbackDialect() *Dialect {
	return &Dialect{Map: func(m ColumnMeta) (Mapping, error) {
		switch m.NativeType {
		case "shape":
			return Mapping{Type: arrow.BinaryTypes.Binary, Decode: DecodeBinary, Select: func(q string) string { return "AsWKB(" + q + ")" }}, nil
		case "bad":
			return Mapping{}, sdk.Errorf(sdk.ErrUnsupportedType, "no")
		}
		return Mapping{Type: arrow.BinaryTypes.String, Decode: DecodeString}, nil
	}}
}

func TestSelectListFallback(t *testing.T) {
	c := New(sdk.Info{}, fallbackDialect())
	cols := []ColumnMeta{{Name: "id", NativeType: "int"}, {Name: `g"1`, NativeType: "shape"}, {Name: "x", NativeType: "bad"}}
	q, _, err := c.selectSQL(sdk.Source{Object: &sdk.ObjectRef{Name: "t"}}, c.selectList(cols, nil), "", nil, []sdk.OrderBy{{Column: "id"}}, cols)
	if err != nil {
		t.Fatal(err)
	}
	// The expression keeps the column's name; a column Map refuses is left
	// as is (the read reports it).
	if want := `SELECT "id", AsWKB("g""1") AS "g""1", "x" FROM "t" ORDER BY "id"`; q != want {
		t.Fatalf("got  %s\nwant %s", q, want)
	}
	// A query's column: no rewrite; its fallback is refused, naming it.
	if got := c.selectList(nil, []string{"g"}); got != `"g"` {
		t.Fatalf("query projection %s", got)
	}
	err = c.queryFallbacks([]ColumnMeta{{Name: "id", NativeType: "int"}, {Name: "g", NativeType: "shape"}},
		[]Mapping{{}, {Select: func(q string) string { return "AsWKB(" + q + ")" }}})
	if !errors.Is(err, sdk.ErrUnsupportedType) || !strings.Contains(err.Error(), `select AsWKB("g") AS "g" instead`) {
		t.Fatalf("query fallback error: %v", err)
	}
	if err := c.queryFallbacks(cols[:1], []Mapping{{}}); err != nil {
		t.Fatal(err)
	}
}

// TestNullsLastDialectOrdersNullFirst: a database that sorts NULL last
// is told where NULL goes, so it sorts as ReadRequest.OrderBy requires.
func TestNullsLastDialectOrdersNullFirst(t *testing.T) {
	order := []sdk.OrderBy{{Column: "a"}, {Column: "b", Descending: true}}
	for _, tc := range []struct {
		nullsLast bool
		want      string
	}{
		{false, `SELECT * FROM "t" ORDER BY "a", "b" DESC`},
		{true, `SELECT * FROM "t" ORDER BY "a" NULLS FIRST, "b" DESC NULLS LAST`},
	} {
		c := New(sdk.Info{}, &Dialect{NullsLast: tc.nullsLast})
		q, _, err := c.selectSQL(sdk.Source{Object: &sdk.ObjectRef{Name: "t"}}, "*", "", nil, order, nil)
		if err != nil {
			t.Fatal(err)
		}
		if q != tc.want {
			t.Errorf("NullsLast=%v:\n got  %s\nwant %s", tc.nullsLast, q, tc.want)
		}
	}
}
