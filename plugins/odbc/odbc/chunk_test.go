package odbc_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/plugins/odbc/odbc"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/plugintest"
)

// mariadb is the MariaDB server of servers.
func mariadb(t *testing.T) server {
	for _, s := range servers {
		if s.mysql {
			return s
		}
	}
	t.Fatal("no MariaDB server")
	return server{}
}

// chunkRead reads table d.name with chunks of n rows, returning the rows
// as text (see readAll) and the chunk statements run.
func chunkRead(t *testing.T, s server, d, name string, n int, req sdk.ReadRequest) ([][]string, int64) {
	t.Helper()
	req.Conn = sdk.Connection{DSN: s.dsn, Options: map[string]string{"chunk_rows": fmt.Sprint(n)}}
	req.Source = sdk.Source{Object: &sdk.ObjectRef{Schema: d, Name: name}}
	before := odbc.ChunkQueries.Load()
	_, rows := readAll(t, req)
	return rows, odbc.ChunkQueries.Load() - before
}

// sameRows fails unless got holds exactly the rows of want, each once.
func sameRows(t *testing.T, got, want [][]string) {
	t.Helper()
	join := func(rows [][]string) []string {
		out := make([]string, len(rows))
		for i, r := range rows {
			out[i] = strings.Join(r, "|")
		}
		slices.Sort(out)
		return out
	}
	g, w := join(got), join(want)
	if !slices.Equal(g, w) {
		t.Fatalf("got %d rows, want %d:\ngot  %q\nwant %q", len(g), len(w), g, w)
	}
}

// TestChunkedReads reads MariaDB tables in chunks by primary key (chunk
// sizes that end exactly on the last row, one short of it and one past
// it) and checks every row arrives exactly once: an integer key with
// gaps, and composite keys whose parts look alike (text equal but for
// case, accent or a trailing space under a binary NO PAD collation, equal prefixes, decimals,
// dates and datetimes to the microsecond).
func TestChunkedReads(t *testing.T) {
	s := mariadb(t)
	db, d := s.open(t)
	tbl := func(n string) string { return s.q(d) + "." + s.q(n) }
	exec(t, db,
		"CREATE TABLE "+tbl("odbc17_int")+" (id BIGINT NOT NULL PRIMARY KEY, v VARCHAR(10))",
		"INSERT INTO "+tbl("odbc17_int")+" SELECT seq * 3, CONCAT('v', seq) FROM seq_1_to_30",
		"CREATE TABLE "+tbl("odbc17_comp")+" (s VARCHAR(10) COLLATE utf8mb4_nopad_bin NOT NULL, d DECIMAL(10,2) NOT NULL, day DATE NOT NULL, at DATETIME(6) NOT NULL, n INT, PRIMARY KEY (s, d, day, at))",
		"INSERT INTO "+tbl("odbc17_comp")+` VALUES
			('a', 1.00, '2024-01-01', '2024-01-01 00:00:00.000001', 1), ('a', 1.00, '2024-01-01', '2024-01-01 00:00:00.000002', 2),
			('a', 1.00, '2024-01-02', '2024-01-01 00:00:00.000001', 3), ('a', 1.01, '2024-01-01', '2024-01-01 00:00:00.000001', 4),
			('a', 10.00, '2024-01-01', '2024-01-01 00:00:00', 5), ('A', 1.00, '2024-01-01', '2024-01-01 00:00:00.000001', 6),
			('á', 1.00, '2024-01-01', '2024-01-01 00:00:00.000001', 7), ('a ', 1.00, '2024-01-01', '2024-01-01 00:00:00.000001', 8),
			('ab', -1.00, '1969-12-31', '1969-12-31 23:59:59.999999', 9), ('ab', -1.00, '1969-12-31', '1970-01-01 00:00:00', 10),
			('b', 0.00, '2024-02-29', '2024-02-29 12:00:00', 11), ('😀', 0.00, '2024-02-29', '2024-02-29 12:00:00', 12)`,
		"CREATE TABLE "+tbl("odbc17_pair")+" (a INT NOT NULL, b INT NOT NULL, PRIMARY KEY (a, b))",
		// (1, 23) and (12, 3) look alike once concatenated.
		"INSERT INTO "+tbl("odbc17_pair")+" VALUES (1, 23), (12, 3), (1, 2), (12, 1), (2, 1), (1, 3)",
		// latin1_swedish_ci sorts å, ä, ö after z, Unicode collations
		// beside a and o: the key's own collation must decide.
		"CREATE TABLE "+tbl("odbc17_latin1")+" (s VARCHAR(10) CHARACTER SET latin1 COLLATE latin1_swedish_ci NOT NULL PRIMARY KEY)",
		"INSERT INTO "+tbl("odbc17_latin1")+" VALUES ('a'), ('å'), ('ä'), ('ö'), ('o'), ('z'), ('y'), ('b')",
		// Unsigned values past int64 and bytes that differ after a zero.
		"CREATE TABLE "+tbl("odbc17_ubin")+" (u BIGINT UNSIGNED NOT NULL, b VARBINARY(4) NOT NULL, PRIMARY KEY (u, b))",
		"INSERT INTO "+tbl("odbc17_ubin")+" VALUES (18446744073709551615, X'00'), (18446744073709551615, X'0000'), (18446744073709551614, X'FF'), (9223372036854775808, X''), (9223372036854775808, X'00FF'), (0, X'01')",
	)
	want := func(name string) [][]string {
		t.Helper()
		_, rows := readAll(t, sdk.ReadRequest{Conn: sdk.Connection{DSN: s.dsn, Options: map[string]string{"chunk_rows": "0"}}, Source: sdk.Source{Object: &sdk.ObjectRef{Schema: d, Name: name}}})
		return rows
	}
	for _, tc := range []struct {
		table string
		rows  int
	}{{"odbc17_int", 30}, {"odbc17_comp", 12}, {"odbc17_pair", 6}, {"odbc17_latin1", 8}, {"odbc17_ubin", 6}} {
		all := want(tc.table)
		if len(all) != tc.rows {
			t.Fatalf("%s: %d rows in one query, want %d", tc.table, len(all), tc.rows)
		}
		for _, n := range []int{1, 2, 5, tc.rows - 1, tc.rows, tc.rows + 1} {
			got, chunks := chunkRead(t, s, d, tc.table, n, sdk.ReadRequest{})
			sameRows(t, got, all)
			// Every full chunk asks for the next one.
			if wantChunks := int64(tc.rows/n + 1); chunks != wantChunks {
				t.Errorf("%s in chunks of %d: %d chunk statements, want %d", tc.table, n, chunks, wantChunks)
			}
		}
	}

	// A read's own filter, range and key order stay with the chunks.
	got, _ := chunkRead(t, s, d, "odbc17_int", 4, sdk.ReadRequest{Where: "id % 2 = 0", Range: &sdk.RangeFilter{Column: "id", Lower: sdk.Int64Value(10), LowerInclusive: true},
		OrderBy: []sdk.OrderBy{{Column: "id"}}, Columns: []string{"v", "id"}})
	var ids []string
	for _, r := range got {
		ids = append(ids, r[1])
	}
	if w := "12 18 24 30 36 42 48 54 60 66 72 78 84 90"; strings.Join(ids, " ") != w {
		t.Fatalf("filtered chunks: ids %v, want %s in order", ids, w)
	}

	// A table without a primary key, or keyed by a type that orders
	// otherwise than it compares (ENUM: by index), is read in one query,
	// every row.
	exec(t, db, "CREATE TABLE "+tbl("odbc17_nokey")+" (id INT, v VARCHAR(5))", "INSERT INTO "+tbl("odbc17_nokey")+" VALUES (1, 'x'), (1, 'x'), (NULL, 'y')",
		"CREATE TABLE "+tbl("odbc17_enum")+" (e ENUM('b', 'a', 'c') NOT NULL PRIMARY KEY)", "INSERT INTO "+tbl("odbc17_enum")+" VALUES ('a'), ('b'), ('c')")
	got, chunks := chunkRead(t, s, d, "odbc17_nokey", 1, sdk.ReadRequest{})
	sameRows(t, got, [][]string{{"1", "x"}, {"1", "x"}, {"NULL", "y"}})
	if chunks != 0 {
		t.Errorf("a table without a key ran %d chunk statements", chunks)
	}
	got, chunks = chunkRead(t, s, d, "odbc17_enum", 1, sdk.ReadRequest{})
	sameRows(t, got, [][]string{{"a"}, {"b"}, {"c"}})
	if chunks != 0 {
		t.Errorf("a table keyed by an ENUM ran %d chunk statements", chunks)
	}
}

// TestChunkedReadIsOneSnapshot changes a MariaDB table while a chunked
// read of it is under way: the read returns the table as it was when it
// began, each row once.
func TestChunkedReadIsOneSnapshot(t *testing.T) {
	s := mariadb(t)
	db, d := s.open(t)
	tbl := s.q(d) + "." + s.q("odbc17_snap")
	exec(t, db, "CREATE TABLE "+tbl+" (id INT NOT NULL PRIMARY KEY, v INT NOT NULL)", "INSERT INTO "+tbl+" SELECT seq, 0 FROM seq_1_to_2000")
	remote := plugintest.Serve(t, odbc.New())
	rr, err := remote.Read(context.Background(), sdk.ReadRequest{Conn: sdk.Connection{DSN: s.dsn, Options: map[string]string{"chunk_rows": "10"}},
		Source: sdk.Source{Object: &sdk.ObjectRef{Schema: d, Name: "odbc17_snap"}}, BatchMaxRows: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	if !rr.Next() {
		t.Fatal(rr.Err())
	}
	seen := map[int64]int{}
	count := func() {
		ids := rr.RecordBatch().Column(0)
		for i := 0; i < ids.Len(); i++ {
			seen[int64(ids.GetOneForMarshal(i).(int32))]++
		}
	}
	count()
	// Rows moved ahead of the read, rows deleted and added behind it.
	exec(t, db, "UPDATE "+tbl+" SET id = id + 10000 WHERE id BETWEEN 1500 AND 1600", "DELETE FROM "+tbl+" WHERE id > 1900", "INSERT INTO "+tbl+" SELECT seq + 5000, 1 FROM seq_1_to_10")
	for rr.Next() {
		count()
	}
	if err := rr.Err(); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2000 {
		t.Errorf("%d distinct rows, want the 2000 the table held", len(seen))
	}
	for id, n := range seen {
		if n != 1 || id < 1 || id > 2000 {
			t.Fatalf("row %d seen %d times", id, n)
		}
	}
}
