package tds

import "testing"

// TestSysColumn: a column declared in CREATE TABLE reads back as
// sys.columns describes it (max_length in bytes, decimal storage sizes).
func TestSysColumn(t *testing.T) {
	for _, c := range []struct {
		decl, typ    string
		maxLen, p, s int
	}{
		{"[a] nvarchar(10) NOT NULL", "nvarchar", 20, 0, 0},
		{"[a] nvarchar(max)", "nvarchar", -1, 0, 0},
		{"[a] varchar(7)", "varchar", 7, 0, 0},
		{"[a] varbinary(max)", "varbinary", -1, 0, 0},
		{"[a] decimal(9,2)", "decimal", 5, 9, 2},
		{"[a] decimal(15,2)", "decimal", 9, 15, 2},
		{"[a] numeric(28,0)", "numeric", 13, 28, 0},
		{"[a] decimal(38,10)", "decimal", 17, 38, 10},
		{"[a] decimal", "decimal", 9, 18, 0},
		{"[a] datetime2(6)", "datetime2", 8, 27, 6},
		{"[a] datetimeoffset", "datetimeoffset", 10, 34, 7},
		{"[a] time(3)", "time", 5, 16, 3},
		{"[a] float", "float", 8, 53, 0},
		{"[a] float(10)", "real", 4, 24, 0},
		{"[a] smalldatetime", "smalldatetime", 4, 16, 0},
		{"[a] bit", "bit", 1, 1, 0},
	} {
		col, err := parseColumnDef(c.decl)
		if err != nil {
			t.Fatalf("%s: %v", c.decl, err)
		}
		typ, maxLen, p, s := col.SysColumn()
		if typ != c.typ || maxLen != c.maxLen || p != c.p || s != c.s {
			t.Errorf("%s: %s %d %d %d, want %s %d %d %d", c.decl, typ, maxLen, p, s, c.typ, c.maxLen, c.p, c.s)
		}
	}
}

// TestLike: the catalog procedures' search patterns.
func TestLike(t *testing.T) {
	for _, c := range []struct {
		pattern, s string
		want       bool
	}{
		{"%", "", true}, {"%", "any", true}, {"a_c", "abc", true}, {"a_c", "ac", false},
		{"my[_]table", "my_table", true}, {"my[_]table", "myXtable", false},
		{`my\_table`, "my_table", true}, {`my\_table`, "myXtable", false},
		{"ORD%", "orders", true}, {"o%s", "orders", true}, {"o%x", "orders", false}, {"orders", "orders2", false},
	} {
		if got := like(c.pattern, c.s); got != c.want {
			t.Errorf("like(%q, %q) = %v", c.pattern, c.s, got)
		}
	}
}
