package e2e

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/halfpipe-io/halfpipe/testkit"
)

const pgDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// pgPool holds the tests' own sessions on the test PostgreSQL server: a
// psql process and a new server backend for each statement of setup and
// checking had cost the package's run 688 processes and 38 CPU-s of psql.
var pgPool = sync.OnceValues(func() (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(pgDSN)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = 16
	cfg.MaxConnIdleTime = 10 * time.Second
	return pgxpool.NewWithConfig(context.Background(), cfg)
})

// pgRun runs sql, one or more statements, as psql -c would (one simple
// query: the statements run in one implicit transaction) in a session of
// its own as far as it can tell: the session's settings and any open
// transaction are discarded afterwards. It returns the rows of every
// statement as psql -At prints them: fields joined by sep, NULL empty, a
// line per row.
func pgRun(ctx context.Context, sql, sep string) (string, error) {
	pool, err := pgPool()
	if err != nil {
		return "", err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Release()
	pc := conn.Conn().PgConn()
	results, err := pc.Exec(ctx, sql).ReadAll()
	if pc.TxStatus() != 'I' {
		err = errors.Join(err, pc.Exec(ctx, "rollback").Close())
	}
	if pc.Exec(ctx, "discard all").Close() != nil {
		_ = pc.Close(ctx) // a session that cannot be reset is not reused
	}
	var out strings.Builder
	for _, r := range results {
		for _, row := range r.Rows {
			for i, v := range row {
				if i > 0 {
					out.WriteString(sep)
				}
				out.Write(v)
			}
			out.WriteByte('\n')
		}
	}
	return out.String(), err
}

// pgExec runs SQL on the test PostgreSQL server and returns its rows as
// psql -At prints them (fields joined by |), trimmed; an error fails the
// test, and an unreachable server fails it in CI and skips it elsewhere.
func pgExec(t *testing.T, sql string) string {
	t.Helper()
	return strings.TrimSpace(pgRows(t, sql, "|"))
}

// pgRows is pgExec with fields joined by sep, untrimmed.
func pgRows(t *testing.T, sql, sep string) string {
	t.Helper()
	out, err := pgRun(context.Background(), sql, sep)
	if err != nil {
		pgFailed(t, err, sql)
	}
	return out
}

// pgTabbed is pgRows with fields joined by tabs, for values that hold |.
func pgTabbed(t *testing.T, sql string) string {
	t.Helper()
	return pgRows(t, sql, "\t")
}

// pgFailed fails the test on err from running what (SQL, or what it was
// for); an unreachable server fails it in CI and skips it elsewhere.
func pgFailed(t *testing.T, err error, what string) {
	t.Helper()
	var connect *pgconn.ConnectError
	if errors.As(err, &connect) {
		testkit.NeedService(t, "PostgreSQL", err)
		return
	}
	t.Fatalf("PostgreSQL: %v\nin: %s", err, what)
}

// pgCleanup runs SQL at the end of the test, ignoring its errors (a
// cleanup that finds nothing to drop is not a failure).
func pgCleanup(t *testing.T, sql string) {
	t.Cleanup(func() { _, _ = pgRun(context.Background(), sql, "|") })
}

// TestPgRunAsPsql checks the helpers against what the tests relied on from
// psql -At: every statement's rows, NULL empty, one implicit transaction,
// and nothing of one call's session left for the next.
func TestPgRunAsPsql(t *testing.T) {
	t.Parallel()
	table := "hp_e2e_pgrun_" + strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "")
	pgCleanup(t, "drop table if exists "+table)
	if got, want := pgRows(t, "select 1, null, 'a'; create temp table x (a int); select 2 where false; select e'x\\ny', true", "\t"), "1\t\ta\nx\ny\tt\n"; got != want {
		t.Errorf("rows %q, want %q", got, want)
	}
	before := pgExec(t, "show timezone")
	pgExec(t, "set timezone = 'Asia/Kathmandu'; create temp table y (a int)")
	if got := pgExec(t, "show timezone"); got != before {
		t.Errorf("timezone %q after another call set it, want %q", got, before)
	}
	if got := pgExec(t, "select count(*) from pg_tables where tablename = 'y' and schemaname like 'pg_temp%'"); got != "0" {
		t.Errorf("a temporary table outlived its call: %s", got)
	}
	_, err := pgRun(context.Background(), "create table "+table+" (a int); select 1/0", "|")
	if err == nil || !strings.Contains(err.Error(), "division by zero") {
		t.Fatalf("error %v, want division by zero", err)
	}
	if got := pgExec(t, "select count(*) from pg_tables where tablename = '"+table+"'"); got != "0" {
		t.Errorf("the statements before the failing one were committed")
	}
	pgExec(t, "begin; create table "+table+" (a int)")
	if got := pgExec(t, "select count(*) from pg_tables where tablename = '"+table+"'"); got != "0" {
		t.Errorf("a transaction left open was committed")
	}
}
