package mysql_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/halfpipe-io/halfpipe/plugins/mysql/mysql"
	"github.com/halfpipe-io/halfpipe/sdk"
)

var kv = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "v", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

// rows is a stream of batches of (id, v) that fails with err after the
// batches when err is set; next is called before each batch.
type rows struct {
	batches [][]row
	err     error
	next    func(i int)
	i       int
	cur     arrow.RecordBatch
	refs    atomic.Int64
}

type row struct {
	id *int64
	v  string
}

func ids(from, to int64, v string) []row {
	var out []row
	for i := from; i <= to; i++ {
		id := i
		out = append(out, row{&id, v})
	}
	return out
}

func (r *rows) Schema() *arrow.Schema { return kv }
func (r *rows) Retain()               { r.refs.Add(1) }
func (r *rows) Release()              {}
func (r *rows) Record() arrow.RecordBatch {
	return r.cur
}
func (r *rows) RecordBatch() arrow.RecordBatch { return r.cur }
func (r *rows) Err() error {
	if r.i > len(r.batches) {
		return r.err
	}
	return nil
}

func (r *rows) Next() bool {
	if r.next != nil {
		r.next(r.i)
	}
	if r.i >= len(r.batches) {
		r.i = len(r.batches) + 1
		return false
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, kv)
	defer b.Release()
	for _, x := range r.batches[r.i] {
		if x.id == nil {
			b.Field(0).AppendNull()
		} else {
			b.Field(0).(*array.Int64Builder).Append(*x.id)
		}
		b.Field(1).(*array.StringBuilder).Append(x.v)
	}
	r.cur = b.NewRecordBatch()
	r.i++
	return true
}

func tableRows(t *testing.T, db *sql.DB, table string) string {
	t.Helper()
	rs, err := db.Query("SELECT id, v FROM " + table + " ORDER BY id, v")
	if err != nil {
		if strings.Contains(err.Error(), "doesn't exist") {
			return "(no table)"
		}
		t.Fatal(err)
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		var id sql.NullInt64
		var v string
		if err := rs.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%d=%s", id.Int64, v))
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, ",")
}

// TestWriteFailureLeavesTheTableAsItWas: a write that fails part-way — the
// stream breaks, the context is cancelled, a value does not fit — leaves
// the table exactly as it was, in every mode, and a table the write
// created is gone again. hp always asks for create_table, which MariaDB
// once committed implicitly in the middle of the transaction.
func TestWriteFailureLeavesTheTableAsItWas(t *testing.T) {
	db, d := database(t)
	c := mysql.New()
	conn := sdk.Connection{DSN: testDSN()}
	faults := map[string]func(*rows, context.CancelFunc){
		"stream breaks": func(r *rows, _ context.CancelFunc) { r.err = errors.New("the source went away") },
		"cancelled": func(r *rows, cancel context.CancelFunc) {
			r.next = func(i int) {
				if i == 2 {
					cancel()
				}
			}
		},
		"value too long": func(r *rows, _ context.CancelFunc) {
			r.batches = append(r.batches, []row{{v: strings.Repeat("x", 30)}})
			id := int64(999)
			r.batches[len(r.batches)-1][0].id = &id
		},
	}
	for _, mode := range []sdk.WriteMode{sdk.Replace, sdk.Append, sdk.Merge} {
		for name, fault := range faults {
			for _, exists := range []bool{true, false} {
				if name == "value too long" && !exists {
					continue // a created table takes any length
				}
				t.Run(fmt.Sprintf("%s/%s/exists=%v", mode, name, exists), func(t *testing.T) {
					table := fmt.Sprintf("t_%d", time.Now().UnixNano())
					ref := sdk.ObjectRef{Schema: d, Name: table}
					full := d + "." + table
					if exists {
						execAll(t, db,
							"CREATE TABLE "+full+" (id BIGINT PRIMARY KEY, v VARCHAR(20) NOT NULL)",
							"INSERT INTO "+full+" VALUES (1, 'old'), (2, 'old'), (5000, 'old')")
					}
					before := tableRows(t, db, full)
					ctx, cancel := context.WithCancel(context.Background())
					defer cancel()
					r := &rows{batches: [][]row{ids(1, 500, "new"), ids(501, 1000, "new"), ids(1001, 1500, "new")}}
					fault(r, cancel)
					_, err := c.Write(ctx, sdk.WriteRequest{Conn: conn, Table: ref, Mode: mode, Keys: []string{"id"}, CreateTable: true}, r)
					if err == nil {
						t.Fatal("the write succeeded")
					}
					if after := tableRows(t, db, full); after != before {
						t.Fatalf("the table changed: before %.80s, after %.80s", before, after)
					}
				})
			}
		}
	}
}

// TestCreatedTableLeftBehindIsReported: when the table a failed write
// created cannot be dropped again (here the user may create tables but not
// drop them), the error says so and names the table, instead of reporting
// only the write's failure over a table left behind.
func TestCreatedTableLeftBehindIsReported(t *testing.T) {
	db, d := database(t)
	user := fmt.Sprintf("hp_nodrop_%d", time.Now().UnixNano()%1e9)
	execAll(t, db, fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY 'pw'", user),
		fmt.Sprintf("GRANT SELECT, INSERT, UPDATE, DELETE, CREATE ON %s.* TO '%s'@'%%'", d, user))
	t.Cleanup(func() { _, _ = db.Exec(fmt.Sprintf("DROP USER '%s'@'%%'", user)) })
	r := &rows{batches: [][]row{ids(1, 500, "new"), ids(501, 1000, "new")}, err: errors.New("the source went away")}
	conn := sdk.Connection{DSN: fmt.Sprintf("mysql://%s:pw@127.0.0.1:3306/%s", user, d)}
	_, err := mysql.New().Write(context.Background(), sdk.WriteRequest{Conn: conn, Table: sdk.ObjectRef{Schema: d, Name: "t"}, Mode: sdk.Append, CreateTable: true}, r)
	if err == nil {
		t.Fatal("the write succeeded")
	}
	if tableRows(t, db, d+".t") == "(no table)" {
		t.Fatalf("the table was dropped: the test does not test a drop that fails (%v)", err)
	}
	for _, want := range []string{"the source went away", "t, created for this write, could not be dropped", "DROP command denied"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "pw@") {
		t.Errorf("the error shows the password: %v", err)
	}
}

// TestMergeIsSetBasedAndKeyed: a table created for a merge has the merge
// keys as its primary key; merging updates matching keys, the last row of
// a key wins, other rows stay, thousands of rows merge in well under the
// time row-by-row deletes took, and a NULL key is refused by name.
func TestMergeIsSetBasedAndKeyed(t *testing.T) {
	db, d := database(t)
	c := mysql.New()
	conn := sdk.Connection{DSN: testDSN()}
	ref := sdk.ObjectRef{Schema: d, Name: "m"}
	full := d + ".m"
	write := func(r *rows) error {
		_, err := c.Write(context.Background(), sdk.WriteRequest{Conn: conn, Table: ref, Mode: sdk.Merge, Keys: []string{"id"}, CreateTable: true}, r)
		return err
	}
	if err := write(&rows{batches: [][]row{ids(1, 20000, "a")}}); err != nil {
		t.Fatal(err)
	}
	var key string
	if err := db.QueryRow("SELECT GROUP_CONCAT(column_name ORDER BY ordinal_position) FROM information_schema.key_column_usage WHERE table_schema = ? AND table_name = 'm' AND constraint_name = 'PRIMARY'", d).Scan(&key); err != nil {
		t.Fatalf("the created table has no primary key: %v", err)
	}
	if key != "id" {
		t.Fatalf("primary key (%s), want (id)", key)
	}
	start := time.Now()
	if err := write(&rows{batches: [][]row{ids(10001, 30000, "b"), ids(20000, 20000, "c"), ids(30000, 30000, "last")}}); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("merging 20,000 rows took %s", took)
	}
	var n, a, b int
	var v20000, v30000 string
	if err := db.QueryRow("SELECT count(*), sum(v = 'a'), sum(v = 'b'), max(CASE WHEN id = 20000 THEN v END), max(CASE WHEN id = 30000 THEN v END) FROM "+full).Scan(&n, &a, &b, &v20000, &v30000); err != nil {
		t.Fatal(err)
	}
	if n != 30000 || a != 10000 || b != 19998 || v20000 != "c" || v30000 != "last" {
		t.Fatalf("after the merge: %d rows, %d a, %d b, id 20000 = %q, id 30000 = %q", n, a, b, v20000, v30000)
	}
	err := write(&rows{batches: [][]row{ids(1, 3, "x"), {{v: "no key"}}}})
	if err == nil || !strings.Contains(err.Error(), `"id" is NULL`) {
		t.Fatalf("a NULL key: %v", err)
	}
	if got := tableRows(t, db, full+" WHERE id <= 3"); got != "1=a,2=a,3=a" {
		t.Fatalf("the refused merge changed rows: %s", got)
	}
}
