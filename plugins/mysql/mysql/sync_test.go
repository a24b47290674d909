package mysql_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	gomysql "github.com/go-sql-driver/mysql"

	"github.com/halfpipe-io/halfpipe/plugins/mysql/mysql"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/plugintest"
)

// keys is a stream of one batch of delete keys (id); a nil id is NULL.
func keys(t *testing.T, ids ...*int64) array.RecordReader {
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for _, id := range ids {
		if id == nil {
			b.Field(0).AppendNull()
		} else {
			b.Field(0).(*array.Int64Builder).Append(*id)
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	rr, err := array.NewRecordReader(schema, []arrow.RecordBatch{rec})
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

func id(i int64) *int64 { return &i }

// TestSyncUnderCaseInsensitiveKeys: under MariaDB's default collation 'a'
// and 'A' are one key, so a sync that upserts key 'a' and deletes key 'A'
// (byte order sees two keys) must delete first: the row of 'a' is there
// afterwards.
func TestSyncUnderCaseInsensitiveKeys(t *testing.T) {
	db, d := database(t)
	r := plugintest.Serve(t, mysql.New())
	full := d + ".sync_ci"
	execAll(t, db, "CREATE TABLE "+full+" (id BIGINT, v VARCHAR(20) NOT NULL PRIMARY KEY) COLLATE utf8mb4_general_ci",
		"INSERT INTO "+full+" VALUES (1, 'A'), (2, 'b')")
	vs := arrow.NewSchema([]arrow.Field{{Name: "v", Type: arrow.BinaryTypes.String}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, vs)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).Append("A")
	rec := b.NewRecordBatch()
	defer rec.Release()
	del, err := array.NewRecordReader(vs, []arrow.RecordBatch{rec})
	if err != nil {
		t.Fatal(err)
	}
	req := sdk.WriteRequest{Conn: sdk.Connection{DSN: testDSN()}, Table: sdk.ObjectRef{Schema: d, Name: "sync_ci"}, Mode: sdk.Sync, Keys: []string{"v"}}
	if _, err := r.Sync(context.Background(), req, &rows{batches: [][]row{ids(3, 3, "a")}}, func() (array.RecordReader, error) { return del, nil }); err != nil {
		t.Fatal(err)
	}
	if got := tableRows(t, db, full); got != "2=b,3=a" {
		t.Fatalf("after the sync: %s, want 2=b,3=a", got)
	}
}

// TestSyncDeletesAndUpsertsAtomically: a sync (through the protocol)
// upserts and deletes in one transaction; when anything fails — a value
// too long for its column, a NULL key to delete, the delete stream
// breaking after the upserts were merged — the table is as it was.
func TestSyncDeletesAndUpsertsAtomically(t *testing.T) {
	db, d := database(t)
	r := plugintest.Serve(t, mysql.New())
	if !r.Info().Has(sdk.CapWriteSync) {
		t.Fatalf("capabilities %v lack write_sync", r.Info().Capabilities)
	}
	conn := sdk.Connection{DSN: testDSN()}
	ref := sdk.ObjectRef{Schema: d, Name: "sync_t"}
	full := d + ".sync_t"
	execAll(t, db, "CREATE TABLE "+full+" (id BIGINT PRIMARY KEY, v VARCHAR(20) NOT NULL)",
		"INSERT INTO "+full+" VALUES (1, 'old'), (2, 'old'), (3, 'old'), (4, 'old'), (5, 'old')")
	req := sdk.WriteRequest{Conn: conn, Table: ref, Mode: sdk.Sync, Keys: []string{"id"}}
	sync := func(up *rows, del func() (array.RecordReader, error)) (*sdk.SyncResult, error) {
		return r.Sync(context.Background(), req, up, del)
	}

	res, err := sync(&rows{batches: [][]row{ids(2, 2, "new"), ids(6, 7, "new")}}, func() (array.RecordReader, error) { return keys(t, id(4), id(5)), nil })
	if err != nil {
		t.Fatal(err)
	}
	want := "1=old,2=new,3=old,6=new,7=new"
	if got := tableRows(t, db, full); got != want || res.RowsWritten != 3 || res.RowsDeleted != 2 {
		t.Fatalf("after the sync: %s (%+v), want %s, 3 written, 2 deleted", got, res, want)
	}

	for name, tc := range map[string]struct {
		up   *rows
		del  func() (array.RecordReader, error)
		want string
	}{
		"value too long": {&rows{batches: [][]row{ids(3, 3, strings.Repeat("x", 30))}}, func() (array.RecordReader, error) { return keys(t, id(1)), nil }, "Data too long"},
		"NULL key":       {&rows{batches: [][]row{ids(3, 3, "z")}}, func() (array.RecordReader, error) { return keys(t, id(1), nil), nil }, "NULL"},
		"deletes break":  {&rows{batches: [][]row{ids(3, 9, "z")}}, func() (array.RecordReader, error) { return nil, errors.New("the diff went away") }, "the diff went away"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := sync(tc.up, tc.del)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("sync: %v, want an error with %q", err, tc.want)
			}
			if got := tableRows(t, db, full); got != want {
				t.Fatalf("the table changed: %s, want %s", got, want)
			}
		})
	}

	// Nothing to upsert, only deletes (one of a key the table lacks).
	res, err = sync(&rows{}, func() (array.RecordReader, error) { return keys(t, id(1), id(7), id(100)), nil })
	if err != nil {
		t.Fatal(err)
	}
	if got := tableRows(t, db, full); got != "2=new,3=old,6=new" || res.RowsDeleted != 2 || res.RowsWritten != 0 {
		t.Fatalf("after deleting only: %s (%+v)", got, res)
	}
}

// TestSyncCancelKillsQuery: a sync cancelled while the server runs its
// statement (a trigger sleeping in the merge's INSERT) is killed on the
// server (KILL QUERY), not only cut off: its statement is gone from the
// process list at once and its locks with it, so the next write does not
// wait. MariaDB alone would notice the closed connection only within 5 s
// (its SLEEP polls), a long statement not before its end.
func TestSyncCancelKillsQuery(t *testing.T) {
	db, d := database(t)
	full := d + ".sync_kill"
	execAll(t, db, "CREATE TABLE "+full+" (id BIGINT PRIMARY KEY, v VARCHAR(20) NOT NULL)",
		"CREATE TRIGGER "+d+".sync_kill_stall BEFORE INSERT ON "+full+" FOR EACH ROW SET @hp_stall_kill = IF(NEW.id = 2, SLEEP(30), 0)")
	req := sdk.WriteRequest{Conn: sdk.Connection{DSN: testDSN()}, Table: sdk.ObjectRef{Schema: d, Name: "sync_kill"}, Mode: sdk.Sync, Keys: []string{"id"}}
	ctx, cancel := context.WithCancel(context.Background())
	running := func() int {
		var n int
		// While the trigger runs, the process list shows its statement.
		if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SET @hp_stall_kill%' OR INFO LIKE ?", "INSERT INTO %"+d+"%sync_kill%").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	started := make(chan bool, 1)
	go func() {
		deadline := time.Now().Add(20 * time.Second)
		for running() == 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		started <- time.Now().Before(deadline)
		cancel()
	}()
	_, err := mysql.New().Sync(ctx, req, &rows{batches: [][]row{ids(1, 3, "new")}}, func() (array.RecordReader, error) { return keys(t), nil })
	if err == nil {
		t.Fatal("a cancelled sync succeeded")
	}
	if !<-started {
		t.Fatalf("the stalled INSERT never showed in the process list; the sync: %v", err)
	}
	waitStatementGone(t, running, err)
	if got := tableRows(t, db, full); got != "" {
		t.Fatalf("a cancelled sync left %q", got)
	}
}

// waitStatementGone fails t unless running() falls to 0 within 2 s of a
// cancelled sync's return (with err): its statement was stopped on the
// server, not left to run with its locks.
func waitStatementGone(t *testing.T, running func() int, err error) {
	t.Helper()
	stopped := time.Now()
	for running() > 0 {
		if time.Since(stopped) > 2*time.Second {
			t.Fatalf("the cancelled sync's statement still runs on the server %s after the sync returned (%v)", time.Since(stopped).Round(time.Millisecond), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// limitedUser creates a user of database d who may hold n connections at
// once, and returns its DSN.
func limitedUser(t *testing.T, db *sql.DB, d string, n int) string {
	t.Helper()
	user := fmt.Sprintf("hp_trust_%d", time.Now().UnixNano()%1e9)
	execAll(t, db, fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY 'pw' WITH MAX_USER_CONNECTIONS %d", user, n),
		fmt.Sprintf("GRANT ALL ON %s.* TO '%s'@'%%'", d, user))
	t.Cleanup(func() { _, _ = db.Exec(fmt.Sprintf("DROP USER '%s'@'%%'", user)) })
	return fmt.Sprintf("mysql://%s:pw@127.0.0.1:3306/%s", user, d)
}

// TestSyncCancelKillsQueryAtConnectionLimit: the KILL of a cancelled
// sync's statement comes from a connection taken when the sync began, so
// it still goes out when the user's connection limit has been reached
// meanwhile (here by another client of the same user taking the last
// free connection): a KILL opened only on cancelling found none, failed
// unseen, and the statement ran on, holding its locks.
func TestSyncCancelKillsQueryAtConnectionLimit(t *testing.T) {
	db, d := database(t)
	full := d + ".sync_kill_lim"
	dsn := limitedUser(t, db, d, 2)
	user := strings.Split(strings.TrimPrefix(dsn, "mysql://"), ":")[0]
	// The trigger runs as the user: one running as its definer (root)
	// makes the thread root's, which the user may not KILL.
	execAll(t, db, "CREATE TABLE "+full+" (id BIGINT PRIMARY KEY, v VARCHAR(20) NOT NULL)",
		"CREATE DEFINER = '"+user+"'@'%' TRIGGER "+d+".sync_kill_lim_stall BEFORE INSERT ON "+full+" FOR EACH ROW SET @hp_stall_lim = IF(NEW.id = 2, SLEEP(30), 0)")
	req := sdk.WriteRequest{Conn: sdk.Connection{DSN: dsn}, Table: sdk.ObjectRef{Schema: d, Name: "sync_kill_lim"}, Mode: sdk.Sync, Keys: []string{"id"}}
	running := func() int {
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SET @hp_stall_lim%' OR INFO LIKE ?", "INSERT INTO %"+d+"%sync_kill_lim%").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan bool, 1)
	go func() {
		deadline := time.Now().Add(20 * time.Second)
		for running() == 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		// Another client of the user takes what connections are left.
		cfg := gomysql.NewConfig()
		cfg.Net, cfg.Addr, cfg.User, cfg.Passwd, cfg.DBName = "tcp", "127.0.0.1:3306", user, "pw", d
		c, _ := gomysql.NewConnector(cfg)
		other := sql.OpenDB(c)
		t.Cleanup(func() { other.Close() })
		for range 2 {
			conn, err := other.Conn(context.Background())
			if err != nil {
				break
			}
			t.Cleanup(func() { conn.Close() })
		}
		started <- time.Now().Before(deadline)
		cancel()
	}()
	_, err := mysql.New().Sync(ctx, req, &rows{batches: [][]row{ids(1, 3, "new")}}, func() (array.RecordReader, error) { return keys(t), nil })
	if err == nil {
		t.Fatal("a cancelled sync succeeded")
	}
	if !<-started {
		t.Fatalf("the stalled INSERT never showed in the process list; the sync: %v", err)
	}
	waitStatementGone(t, running, err)
}

// TestSyncAtOneConnection: a user who may hold one connection can still
// sync: the KILL's connection is not to be had, which the sync goes on
// without (warned).
func TestSyncAtOneConnection(t *testing.T) {
	db, d := database(t)
	full := d + ".sync_one"
	execAll(t, db, "CREATE TABLE "+full+" (id BIGINT PRIMARY KEY, v VARCHAR(20) NOT NULL)", "INSERT INTO "+full+" VALUES (9, 'old')")
	dsn := limitedUser(t, db, d, 1)
	req := sdk.WriteRequest{Conn: sdk.Connection{DSN: dsn}, Table: sdk.ObjectRef{Schema: d, Name: "sync_one"}, Mode: sdk.Sync, Keys: []string{"id"}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := mysql.New().Sync(ctx, req, &rows{batches: [][]row{ids(1, 2, "new")}}, func() (array.RecordReader, error) { return keys(t, id(9)), nil })
	if err != nil {
		t.Fatal(err)
	}
	if res.RowsWritten != 2 || res.RowsDeleted != 1 {
		t.Errorf("sync: %+v", res)
	}
	if got := tableRows(t, db, full); got != "1=new,2=new" {
		t.Errorf("after the sync: %q", got)
	}
}
