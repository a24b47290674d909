package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/testkit"
	"github.com/halfpipe-io/halfpipe/testkit/tds"
)

// TestSQLServerWriteInterrupted: replace, append and merge into SQL
// Server (the protocol-level double), interrupted while the server holds
// the bulk load (the rows are sent, nothing is committed) by SIGINT to
// hp, SIGKILL of hp, SIGKILL of the mssql plugin or the server killing
// the connection: no COMMIT reaches the server, the transaction is
// rolled back (by ROLLBACK or by the connection closing), and the table
// the write created is gone with it.
func TestSQLServerWriteInterrupted(t *testing.T) {
	t.Parallel() // a TDS server of its own per case
	bin := testkit.Build(t, "gen", "mssql")
	faults := []struct {
		name string
		do   func(hp, plugin int, db *tds.Server)
	}{
		{"SIGINT hp", func(hp, _ int, _ *tds.Server) { _ = syscall.Kill(hp, syscall.SIGINT) }},
		{"SIGKILL hp", func(hp, _ int, _ *tds.Server) { _ = syscall.Kill(hp, syscall.SIGKILL) }},
		{"SIGKILL plugin", func(_, plugin int, _ *tds.Server) { _ = syscall.Kill(plugin, syscall.SIGKILL) }},
		{"KILL connection", func(_, _ int, db *tds.Server) { db.KillConnections() }},
	}
	for _, mode := range []string{"replace", "append", "merge"} {
		for _, f := range faults {
			t.Run(mode+"/"+f.name, func(t *testing.T) {
				db := tds.Start(t, tds.WithLogin("etl", "pw"))
				db.HandleCatalog(mssqlColumnsQuery)
				for _, verb := range []string{"DELETE FROM ", "MERGE "} {
					db.HandleMatch(func(sql string) bool { return strings.HasPrefix(sql, verb) }, func(tds.Query) tds.Response { return tds.Response{} })
				}
				reached, release := make(chan struct{}, 1), make(chan struct{})
				db.HandleBulk(func(tds.Bulk) *tds.Error {
					select {
					case reached <- struct{}{}:
					default:
					}
					<-release
					return nil
				})
				args := []string{"cp", "snap", "gen.narrow", "ms.dbo.t_" + mode, "--write-mode", mode}
				if mode == "merge" {
					args = append(args, "--primary-keys", "id")
				}
				r := startHP(t, bin, []string{"HP_GEN_DSN=gen://?rows=5000", "HP_MS_DSN=" + db.DSN("etl", "pw", "Sales")}, time.Minute, args...)
				cmd := r.cmd
				select {
				case <-reached:
				case <-time.After(30 * time.Second):
					close(release)
					_, _ = r.wait(t)
					t.Fatalf("no bulk load reached the server: %s", r.stderr.String())
				}
				f.do(cmd.Process.Pid, pluginChild(cmd.Process.Pid, "mssql"), db)
				time.Sleep(200 * time.Millisecond)
				close(release)
				code, _ := r.wait(t)
				for deadline := time.Now().Add(20 * time.Second); db.OpenConnections() > 0; time.Sleep(20 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatalf("%d connections to the server are still open", db.OpenConnections())
					}
				}
				stmts := strings.Join(mswStatements(db, 0), "\n")
				if code == 0 || strings.Contains(stmts, "COMMIT") {
					t.Fatalf("exit %d; statements:\n%s\n%s", code, stmts, r.stderr.String())
				}
				if !strings.Contains(stmts, "ROLLBACK TRANSACTION") && db.Stats().AbortedTransactions == 0 {
					t.Fatalf("the transaction was neither rolled back nor ended with its connection:\n%s", stmts)
				}
				if _, ok := db.Table("[dbo].[t_" + mode + "]"); ok {
					t.Fatalf("the table the interrupted write created remains:\n%s", stmts)
				}
			})
		}
	}
}
