package tds_test

import (
	"bytes"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/testkit/tds"
)

// catalogRows runs a catalog procedure by name (an RPC, as ODBC drivers
// call it) and returns its rows as text, NULL as "-".
func catalogRows(t *testing.T, db *sql.DB, proc string, args ...any) (cols []string, rows [][]string) {
	t.Helper()
	rs, err := db.Query(proc, args...)
	if err != nil {
		t.Fatalf("%s: %v", proc, err)
	}
	defer rs.Close()
	cols, _ = rs.Columns()
	for rs.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = "-"
			if v != nil {
				row[i] = fmt.Sprint(v)
			}
		}
		rows = append(rows, row)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return cols, rows
}

// TestCatalogProcedures: sp_tables, sp_columns and sp_pkeys describe the
// tables CREATE TABLE made and those DescribeTable declared, with search
// patterns (FreeTDS escapes a pattern's _ as [_]), in the current
// database only; the SQL Server 2008 date and time types come as
// nvarchar, as SQL Server tells down-level clients.
func TestCatalogProcedures(t *testing.T) {
	s := tds.Start(t)
	db := open(t, s.DSN("u", "p", "Sales"))
	if _, err := db.Exec("CREATE TABLE [dbo].[Orders] (id bigint NOT NULL, note nvarchar(20), amount decimal(12,2), at datetime2(3), CONSTRAINT pk PRIMARY KEY (id))"); err != nil {
		t.Fatal(err)
	}
	s.DescribeTable("[etl].[my_table]", []tds.CatalogColumn{
		{Name: "k", Type: "int", MaxLength: 4, Precision: 10},
		{Name: "c", Type: "char", Nullable: true, MaxLength: 10},
		{Name: "dto", Type: "datetimeoffset", Nullable: true, MaxLength: 10, Precision: 34, Scale: 7},
		{Name: "rv", Type: "timestamp", MaxLength: 8},
	}, "k")
	s.DescribeTable("[etl].[myXtable]", []tds.CatalogColumn{{Name: "x", Type: "int", MaxLength: 4, Precision: 10}})

	_, rows := catalogRows(t, db, "sp_tables", sql.Named("table_name", "%"), sql.Named("table_owner", "%"), sql.Named("table_type", "'TABLE','VIEW'"))
	if got := fmt.Sprint(rows); got != "[[Sales dbo Orders TABLE -] [Sales etl my_table TABLE -] [Sales etl myXtable TABLE -]]" {
		t.Errorf("sp_tables: %s", got)
	}
	if _, rows := catalogRows(t, db, "sp_tables", sql.Named("table_name", "%"), sql.Named("table_owner", "dbo"), sql.Named("table_qualifier", "Other")); len(rows) != 0 {
		t.Errorf("sp_tables in another database: %v", rows)
	}

	cols, rows := catalogRows(t, db, "sp_columns", sql.Named("table_name", "my[_]table"), sql.Named("table_owner", "etl"), sql.Named("ODBCVer", 3))
	if len(cols) != 19 || cols[4] != "DATA_TYPE" || cols[16] != "ORDINAL_POSITION" {
		t.Fatalf("sp_columns columns %v", cols)
	}
	var got []string
	for _, r := range rows {
		// TABLE_NAME COLUMN_NAME DATA_TYPE TYPE_NAME PRECISION LENGTH SCALE NULLABLE ORDINAL_POSITION
		got = append(got, strings.Join([]string{r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[10], r[16]}, " "))
	}
	want := []string{
		"my_table k 4 int 10 4 0 0 1",
		"my_table c 1 char 10 10 - 1 2",
		"my_table dto -9 datetimeoffset 34 68 - 1 3",
		"my_table rv -2 timestamp 8 8 - 0 4",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("sp_columns:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	_, rows = catalogRows(t, db, "sp_columns", sql.Named("table_name", "orders"), sql.Named("table_owner", "dbo"), sql.Named("ODBCVer", 3))
	got = nil
	for _, r := range rows {
		got = append(got, strings.Join([]string{r[2], r[3], r[4], r[5], r[6], r[8]}, " "))
	}
	if s := strings.Join(got, ", "); s != "Orders id -5 bigint 19 0, Orders note -9 nvarchar 20 -, Orders amount 3 decimal 12 2, Orders at -9 datetime2 23 -" {
		t.Errorf("sp_columns of a created table: %s", s)
	}

	_, rows = catalogRows(t, db, "sp_pkeys", sql.Named("table_name", "Orders"), sql.Named("table_owner", "dbo"))
	if fmt.Sprint(rows) != "[[Sales dbo Orders id 1 PK_Orders]]" {
		t.Errorf("sp_pkeys: %v", rows)
	}
	if _, rows = catalogRows(t, db, "sp_pkeys", sql.Named("table_name", "myXtable"), sql.Named("table_owner", "etl")); len(rows) != 0 {
		t.Errorf("sp_pkeys of a table without a key: %v", rows)
	}

	var schema string
	if err := db.QueryRow("SELECT SCHEMA_NAME()").Scan(&schema); err != nil || schema != "dbo" {
		t.Errorf("SCHEMA_NAME() = %q, %v", schema, err)
	}
}

// TestRowversion: a rowversion column goes out as binary(8) with SQL
// Server's user type for it, and reads back as its 8 bytes.
func TestRowversion(t *testing.T) {
	s := tds.Start(t)
	db := open(t, s.DSN("u", "p", ""))
	rv := []byte{0x80, 0, 0, 0, 0, 0, 0x03, 0xE9}
	s.Handle("SELECT rv", tds.Response{Columns: []tds.Column{{Name: "rv", Type: tds.Rowversion}, {Name: "n", Type: tds.Rowversion, Nullable: true}}, Rows: [][]any{{rv, nil}}})
	var got, null []byte
	if err := db.QueryRow("SELECT rv").Scan(&got, &null); err != nil || !bytes.Equal(got, rv) || null != nil {
		t.Fatalf("rowversion %x, NULL %x: %v", got, null, err)
	}
	s.Handle("SELECT short", tds.Response{Columns: []tds.Column{{Name: "rv", Type: tds.Rowversion}}, Rows: [][]any{{[]byte{1}}}})
	if err := db.QueryRow("SELECT short").Scan(&got); err == nil || !strings.Contains(err.Error(), "want 8") {
		t.Fatalf("a rowversion of 1 byte: %v", err)
	}
}
