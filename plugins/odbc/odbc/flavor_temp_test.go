package odbc

import "testing"

// TestSQLServerTempCollation: the sqlserver flavor's #tables declare text
// columns in the database's collation (a #table's default is tempdb's,
// which conflicts with the table's in the merge's joins); other columns
// and names that merely contain "char" are left alone.
func TestSQLServerTempCollation(t *testing.T) {
	got := sqlServerTemp.Create("[#hp_merge_stage]", []string{"[region] nvarchar(max) NOT NULL", "[code] varchar(20)", "[c] nchar(3) NOT NULL",
		"[char] bigint NOT NULL", "[a]]b] nvarchar(450) NOT NULL", "[hp_seq] BIGINT NOT NULL PRIMARY KEY"})
	want := "CREATE TABLE [#hp_merge_stage] ([region] nvarchar(max) COLLATE DATABASE_DEFAULT NOT NULL, [code] varchar(20) COLLATE DATABASE_DEFAULT, " +
		"[c] nchar(3) COLLATE DATABASE_DEFAULT NOT NULL, [char] bigint NOT NULL, [a]]b] nvarchar(450) COLLATE DATABASE_DEFAULT NOT NULL, [hp_seq] BIGINT NOT NULL PRIMARY KEY)"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}
