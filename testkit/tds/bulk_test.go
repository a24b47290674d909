package tds_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	mssql "github.com/microsoft/go-mssqldb"

	"github.com/halfpipe-io/halfpipe/testkit/tds"
)

// bulkCopy loads rows into table in one transaction through the driver's
// bulk copy, as a client program would.
func bulkCopy(ctx context.Context, db *sql.DB, table string, cols []string, rows [][]any) (int64, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, mssql.CopyIn(table, mssql.BulkOptions{KeepNulls: true}, cols...))
	if err != nil {
		return 0, err
	}
	for _, r := range rows {
		if _, err := stmt.ExecContext(ctx, r...); err != nil {
			return 0, err
		}
	}
	res, err := stmt.ExecContext(ctx)
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	return n, tx.Commit()
}

func sqlTexts(qs []tds.Query) []string {
	var out []string
	for _, q := range qs {
		if q.Bulk != nil {
			out = append(out, fmt.Sprintf("<bulk load: %d rows>", len(q.Bulk.Rows)))
			continue
		}
		out = append(out, q.SQL)
	}
	return out
}

func TestBulkLoadEveryType(t *testing.T) {
	s := tds.Start(t)
	db := open(t, s.DSN("u", "p", "db"))
	ctx := context.Background()
	const ddl = "CREATE TABLE [dbo].[Every Type] ([bi] bigint NOT NULL, [i] int NULL, [si] smallint, [ti] tinyint, [b] bit, " +
		"[f] float, [r] real, [d] decimal(38,10), [n] numeric(20, 0), [m] money, [nv] nvarchar(max), [nv10] nvarchar(10), [vc] varchar(20), " +
		"[vb] varbinary(max), [bn] varbinary(4), [da] date, [tm] time(7), [dt2] datetime2(7), [dto] datetimeoffset(7), [dt] datetime, [g] uniqueidentifier, PRIMARY KEY ([bi]))"
	if _, err := db.Exec(ddl); err != nil {
		t.Fatal(err)
	}
	cols, ok := s.Table("[every TYPE]") // names are case-insensitive; dbo is the default schema
	if !ok || len(cols) != 21 || cols[0].Nullable || !cols[1].Nullable || cols[7] != (tds.Column{Name: "d", Type: tds.Decimal, Nullable: true, Precision: 38, Scale: 10}) ||
		cols[10].Length != tds.Max || cols[11].Length != 10 || cols[16].Scale != 7 || !cols[0].PrimaryKey || cols[1].PrimaryKey {
		t.Fatalf("catalog after CREATE TABLE: %v %+v", ok, cols)
	}

	big := bytes.Repeat([]byte{0, 1, 0xFE, 0xFF}, 300_000) // 1.2 MB: many packets, PLP
	long := strings.Repeat("ünïcødé ✓ 漢字 ", 50_000)
	ist := time.FixedZone("", 5*3600+30*60)
	dt2 := time.Date(2024, 2, 29, 23, 59, 58, 123456700, time.UTC)
	dto := time.Date(2023, 12, 31, 22, 15, 1, 999999900, ist)
	tm := time.Date(1, 1, 1, 23, 59, 59, 999999900, time.UTC)
	guid := []byte{0xFF, 0x19, 0x96, 0x6F, 0x86, 0x8B, 0x11, 0xD0, 0xB4, 0x2D, 0x00, 0xC0, 0x4F, 0xD4, 0x30, 0xC8}
	names := []string{"bi", "i", "si", "ti", "b", "f", "r", "d", "n", "m", "nv", "nv10", "vc", "vb", "bn", "da", "tm", "dt2", "dto", "dt", "g"}
	rows := [][]any{
		{int64(-9223372036854775808), int64(-2147483648), int64(-32768), int64(255), true, 1.5e300, float64(float32(3.25)),
			"-1234567890123456789012345678.0123456789", "99999999999999999999", "922337203685477.5807", long, "ñandú", "cafe",
			big, []byte{1, 2, 3, 4}, time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), tm, dt2, dto,
			time.Date(1999, 12, 31, 23, 59, 59, 997000000, time.UTC), guid},
		{int64(9223372036854775807), nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil},
		{int64(0), int64(2147483647), int64(32767), int64(0), false, -0.0, float64(float32(-1e-30)),
			"0.0000000001", "0", "-0.0001", "", "", "", []byte{}, []byte{0}, time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC),
			time.Date(1, 1, 1, 0, 0, 0, 100, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999999900, time.UTC),
			time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1753, 1, 1, 0, 0, 0, 0, time.UTC), guid},
	}
	s.ResetQueries()
	n, err := bulkCopy(ctx, db, "[dbo].[Every Type]", names, rows)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("rows affected = %d, want 3 (the server's DONE count)", n)
	}
	const insertBulk = "INSERT BULK [dbo].[Every Type] ([bi] bigint, [i] int, [si] smallint, [ti] tinyint, [b] bit, [f] float, [r] real, " +
		"[d] decimal(38, 10), [n] numeric(20, 0), [m] money, [nv] nvarchar(max), [nv10] nvarchar(10), [vc] varchar(20), [vb] varbinary(max), " +
		"[bn] varbinary(4), [da] date, [tm] time, [dt2] datetime2(7), [dto] datetimeoffset(7), [dt] datetime, [g] uniqueidentifier) WITH (KEEP_NULLS)"
	want := []string{"BEGIN TRANSACTION", "SET FMTONLY ON", "select * from [dbo].[Every Type] SET FMTONLY OFF", insertBulk, "<bulk load: 3 rows>", "COMMIT TRANSACTION"}
	if got := sqlTexts(s.Queries()); !reflect.DeepEqual(got, want) {
		t.Fatalf("queries:\n%q\nwant\n%q", got, want)
	}
	bulks := s.Bulks()
	if len(bulks) != 1 || bulks[0].Table != "[dbo].[Every Type]" || bulks[0].SQL != insertBulk {
		t.Fatalf("bulks = %+v", bulks)
	}
	b := bulks[0]
	cols[0].PrimaryKey = false // a bulk load's metadata has no keys
	for i := range cols {
		// The table's text columns take the database's collation; a
		// bulk load's metadata names none.
		if want := map[bool]string{true: tds.DefaultCollation}[cols[i].Type == tds.NVarChar || cols[i].Type == tds.VarChar]; cols[i].Collation != want {
			t.Errorf("column %s: collation %q, want %q", cols[i].Name, cols[i].Collation, want)
		}
		cols[i].Collation = ""
	}
	if !reflect.DeepEqual(b.Columns, cols) {
		t.Errorf("bulk columns:\n%+v\nwant the table's\n%+v", b.Columns, cols)
	}
	wantRows := [][]any{
		{int64(-9223372036854775808), int64(-2147483648), int64(-32768), int64(255), true, 1.5e300, 3.25,
			"-1234567890123456789012345678.0123456789", "99999999999999999999", "922337203685477.5807", long, "ñandú", "cafe",
			big, []byte{1, 2, 3, 4}, time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), tm, dt2, dto,
			// datetime counts 1/300 s: .997 is tick 299.
			time.Date(1999, 12, 31, 23, 59, 59, 996666667, time.UTC), "6F9619FF-8B86-D011-B42D-00C04FD430C8"},
		rows[1],
		{int64(0), int64(2147483647), int64(32767), int64(0), false, 0.0, float64(float32(-1e-30)),
			"0.0000000001", "0", "-0.0001", "", "", "", []byte{}, []byte{0}, time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC),
			time.Date(1, 1, 1, 0, 0, 0, 100, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999999900, time.UTC),
			time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1753, 1, 1, 0, 0, 0, 0, time.UTC), "6F9619FF-8B86-D011-B42D-00C04FD430C8"},
	}
	if len(b.Rows) != len(wantRows) {
		t.Fatalf("%d rows", len(b.Rows))
	}
	for r := range wantRows {
		for c := range wantRows[r] {
			g, w := b.Rows[r][c], wantRows[r][c]
			same := reflect.DeepEqual(g, w)
			if wt, ok := w.(time.Time); ok {
				gt, ok := g.(time.Time)
				_, wo := wt.Zone()
				_, gor := gt.Zone()
				same = ok && gt.Equal(wt) && wo == gor
			}
			if !same {
				gs, ws := fmt.Sprintf("%#v", g), fmt.Sprintf("%#v", w)
				t.Errorf("row %d column %s = %.80s, want %.80s", r, names[c], gs, ws)
			}
		}
	}
}

func TestBulkLoadErrors(t *testing.T) {
	s := tds.Start(t)
	db := open(t, s.DSN("u", "p", ""))
	ctx := context.Background()

	// Unknown table: the driver's metadata query fails with 208.
	_, err := bulkCopy(ctx, db, "missing", []string{"a"}, [][]any{{int64(1)}})
	var me mssql.Error
	if !errors.As(err, &me) || me.Number != 208 || !strings.Contains(me.Message, "Invalid object name '[missing]'") {
		t.Fatalf("unknown table: %v", err)
	}

	s.CreateTable("t", []tds.Column{{Name: "a", Type: tds.BigInt}})
	// The statement can be refused like any other.
	s.Handle("INSERT BULK [t] ([a] bigint) WITH (KEEP_NULLS)", tds.Response{Err: &tds.Error{Number: 4834, State: 1, Class: 16, Message: "You do not have permission to use the bulk load statement."}})
	_, err = bulkCopy(ctx, db, "t", []string{"a"}, [][]any{{int64(1)}})
	if !errors.As(err, &me) || me.Number != 4834 {
		t.Fatalf("refused INSERT BULK: %v", err)
	}
	if len(s.Bulks()) != 0 {
		t.Fatalf("a refused INSERT BULK was followed by a load: %+v", s.Bulks())
	}
	s.Handle("INSERT BULK [t] ([a] bigint) WITH (KEEP_NULLS)", tds.Response{})

	// The load itself can fail, e.g. on a key.
	s.HandleBulk(func(b tds.Bulk) *tds.Error {
		if len(b.Rows) > 1 {
			return &tds.Error{Number: 2627, State: 1, Class: 14, Message: "Violation of PRIMARY KEY constraint 'PK_t'."}
		}
		return nil
	})
	s.ResetQueries()
	_, err = bulkCopy(ctx, db, "t", []string{"a"}, [][]any{{int64(1)}, {int64(1)}})
	if !errors.As(err, &me) || me.Number != 2627 {
		t.Fatalf("failed load: %v", err)
	}
	if got := sqlTexts(s.Queries()); got[len(got)-1] != "ROLLBACK TRANSACTION" || got[len(got)-2] != "<bulk load: 2 rows>" {
		t.Fatalf("queries after a failed load: %q", got)
	}
	if n, err := bulkCopy(ctx, db, "t", []string{"a"}, [][]any{{int64(7)}}); err != nil || n != 1 {
		t.Fatalf("the connection is usable after a failed load: %d, %v", n, err)
	}

	// A commit can fail too.
	s.Handle("COMMIT TRANSACTION", tds.Response{Err: &tds.Error{Number: 3902, State: 1, Message: "The COMMIT TRANSACTION request has no corresponding BEGIN TRANSACTION."}})
	if _, err := bulkCopy(ctx, db, "t", []string{"a"}, [][]any{{int64(8)}}); !errors.As(err, &me) || me.Number != 3902 {
		t.Fatalf("failed commit: %v", err)
	}
}

func TestTablesAndTransactions(t *testing.T) {
	s := tds.Start(t)
	db := open(t, s.DSN("u", "p", ""))
	ctx := context.Background()
	exec := func(c interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
	}, q string) error {
		_, err := c.ExecContext(ctx, q)
		return err
	}
	const create = "CREATE TABLE [sales].[t]]x] ([a] bigint NOT NULL, [b] nvarchar(max) NULL)"
	const ifMissing = "IF OBJECT_ID(N'[sales].[t]]x]', N'U') IS NULL " + create

	// A rolled-back CREATE TABLE leaves nothing.
	tx, _ := db.BeginTx(ctx, nil)
	if err := exec(tx, create); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Table("sales.[t]]x]"); !ok {
		t.Fatal("table not created")
	}
	tx.Rollback()
	if _, ok := s.Table("[sales].[t]]x]"); ok {
		t.Fatal("a rolled-back CREATE TABLE left its table")
	}
	// Committed, it stays; creating it again fails unless guarded.
	if err := exec(db, ifMissing); err != nil {
		t.Fatal(err)
	}
	if err := exec(db, ifMissing); err != nil {
		t.Fatalf("guarded CREATE TABLE of an existing table: %v", err)
	}
	var me mssql.Error
	if err := exec(db, create); !errors.As(err, &me) || me.Number != 2714 {
		t.Fatalf("CREATE TABLE of an existing table: %v", err)
	}
	if err := exec(db, "DROP TABLE [sales].[t]]x]"); err != nil {
		t.Fatal(err)
	}
	if err := exec(db, "DROP TABLE [sales].[t]]x]"); !errors.As(err, &me) || me.Number != 3701 {
		t.Fatalf("DROP TABLE of a missing table: %v", err)
	}

	// #temporary tables belong to their connection.
	c1, _ := db.Conn(ctx)
	defer c1.Close()
	c2, _ := db.Conn(ctx)
	defer c2.Close()
	if err := exec(c1, "CREATE TABLE [#hp_tmp] ([k] int NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	if err := exec(c2, "DROP TABLE [#hp_tmp]"); !errors.As(err, &me) || me.Number != 3701 {
		t.Fatalf("another connection sees a #temporary table: %v", err)
	}
	if _, ok := s.Table("#hp_tmp"); ok {
		t.Fatal("a #temporary table is in the shared catalog")
	}
	tx, _ = c1.BeginTx(ctx, nil)
	stmt, err := tx.PrepareContext(ctx, mssql.CopyIn("#hp_tmp", mssql.BulkOptions{}, "k"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stmt.ExecContext(ctx, int64(5)); err != nil {
		t.Fatal(err)
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if b := s.Bulks(); len(b) != 1 || b[0].Table != "[#hp_tmp]" || !reflect.DeepEqual(b[0].Rows, [][]any{{int64(5)}}) {
		t.Fatalf("bulk into a #temporary table: %+v", b)
	}

	// Statements nobody registered exactly can be matched.
	s.HandleMatch(func(q string) bool { return strings.HasPrefix(q, "MERGE ") }, func(q tds.Query) tds.Response {
		return tds.Response{RowsAffected: int64(len(q.SQL))}
	})
	const merge = "MERGE [t] USING [#x] AS s ON 1 = 0 WHEN NOT MATCHED THEN INSERT DEFAULT VALUES;"
	res, err := db.ExecContext(ctx, merge)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != int64(len(merge)) {
		t.Fatalf("rows affected = %d", n)
	}
}

// TestCreateTablePrimaryKey: a PRIMARY KEY constraint marks its columns,
// and is refused, as SQL Server refuses it, on a nullable or (max) column.
func TestCreateTablePrimaryKey(t *testing.T) {
	s := tds.Start(t)
	db := open(t, s.DSN("u", "p", "db"))
	if _, err := db.Exec("CREATE TABLE [k] ([a] bigint NOT NULL, [b] nvarchar(450) NOT NULL, [c] int NULL, CONSTRAINT [pk] PRIMARY KEY CLUSTERED ([a], [b]))"); err != nil {
		t.Fatal(err)
	}
	cols, _ := s.Table("k")
	if len(cols) != 3 || !cols[0].PrimaryKey || !cols[1].PrimaryKey || cols[2].PrimaryKey {
		t.Fatalf("columns: %+v", cols)
	}
	for ddl, want := range map[string]string{
		"CREATE TABLE [n] ([a] bigint NULL, PRIMARY KEY ([a]))":                "nullable column",
		"CREATE TABLE [m] ([a] nvarchar(max) NOT NULL, PRIMARY KEY ([a]))":     "invalid for use as a key column",
		"CREATE TABLE [x] ([a] bigint NOT NULL, PRIMARY KEY ([a], [missing]))": "does not exist",
	} {
		if _, err := db.Exec(ddl); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", ddl, err, want)
		}
	}
}
