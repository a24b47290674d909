package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	pq "github.com/parquet-go/parquet-go"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// runRows reads every data file of the one run published in the
// directory dir (checked against its manifest) with independent readers,
// one string per row.
func runRows(t *testing.T, dir, format string) []string {
	t.Helper()
	m, _ := readManifest(t, dir)
	var rows []string
	for _, f := range m.Files {
		path := filepath.Join(dir, f.Path)
		switch format {
		case "csv":
			r := csv.NewReader(bytes.NewReader(decompressed(t, path)))
			header := true
			for {
				rec, err := r.Read()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("%s: %v", f.Path, err)
				}
				if header {
					header = false
					continue
				}
				rows = append(rows, strings.Join(rec, "\x1f"))
			}
		case "parquet":
			r := pq.NewReader(openParquet(t, path))
			buf := make([]pq.Row, 256)
			for {
				n, err := r.ReadRows(buf)
				for _, row := range buf[:n] {
					parts := make([]string, len(row))
					for i, v := range row {
						parts[i] = v.String()
						if v.IsNull() {
							parts[i] = "NULL"
						}
					}
					rows = append(rows, strings.Join(parts, "\x1f"))
				}
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("%s: %v", f.Path, err)
				}
			}
			_ = r.Close()
		}
	}
	if int64(len(rows)) != m.TotalRows {
		t.Fatalf("%s: read %d rows, the manifest says %d", dir, len(rows), m.TotalRows)
	}
	return rows
}

// digest is an order-independent checksum of rows.
func digest(rows []string) string {
	s := append([]string(nil), rows...)
	sort.Strings(s)
	h := sha256.New()
	for _, r := range s {
		h.Write([]byte(r))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestParallelPostgresEqualsWhole: --parallel 4 (and HP_PARALLEL=4)
// publishes exactly the rows of --parallel 1, in CSV and Parquet; a query
// cannot be split.
func TestParallelPostgresEqualsWhole(t *testing.T) {
	t.Parallel() // its own table
	bin := testkit.Build(t, "postgres")
	const table = "public.hp_e2e_par_eq"
	pgExec(t, "drop table if exists "+table+"; create table "+table+` (id bigint primary key, label text, amount numeric(12,2), at timestamptz);
		insert into `+table+` select g, case when g % 7 = 0 then null else 'label ' || g end, g * 1.25, '2026-01-01'::timestamptz + g * interval '1 minute'
		from generate_series(1, 300000) g`)
	pgCleanup(t, "drop table if exists "+table)
	for _, format := range []string{"csv", "parquet"} {
		var digests []string
		for _, run := range []struct {
			name string
			env  []string
			args []string
		}{
			{"p1", nil, []string{"--parallel", "1"}},
			{"p4", nil, []string{"--parallel", "4"}},
			{"env4", []string{"HP_PARALLEL=4"}, nil},
		} {
			out := t.TempDir()
			env := append([]string{"HP_PG_DSN=" + pgDSN, "HP_OUT_DSN=" + out}, run.env...)
			res := bin.Run(t, env, append([]string{"cp", "snap", "pg." + table, "out.x", "--format", format}, run.args...)...)
			if res.Code != 0 {
				t.Fatalf("%s %s: exit %d\n%s", format, run.name, res.Code, res.Stderr)
			}
			rows := runRows(t, out, format)
			if len(rows) != 300000 {
				t.Fatalf("%s %s: %d rows, want 300000", format, run.name, len(rows))
			}
			digests = append(digests, digest(rows))
		}
		if digests[0] != digests[1] || digests[0] != digests[2] {
			t.Fatalf("%s: the parallel runs' rows differ from the whole read's: %v", format, digests)
		}
	}
	// Into a table: the same rows.
	copyTable := table + "_copy"
	pgCleanup(t, "drop table if exists "+copyTable)
	res := bin.Run(t, []string{"HP_PG_DSN=" + pgDSN}, "cp", "snap", "pg."+table, "pg."+copyTable, "--parallel", "4")
	if res.Code != 0 {
		t.Fatalf("into a table: exit %d\n%s", res.Code, res.Stderr)
	}
	fingerprint := func(tbl string) string {
		return pgExec(t, "select count(*), sum(hashtext(x::text)::bigint) from "+tbl+" x")
	}
	if a, b := fingerprint(table), fingerprint(copyTable); a != b {
		t.Fatalf("the table copied with --parallel 4 differs: %s (rows|hash), source %s", b, a)
	}
	res = bin.Run(t, []string{"HP_PG_DSN=" + pgDSN, "HP_OUT_DSN=" + t.TempDir(), "HP_PARALLEL=3"}, "cp", "snap", "pg."+table, "out.x", "--dry-run")
	if res.Code != 0 || !strings.Contains(res.Stdout, "slices:   3 at once") {
		t.Fatalf("dry run with HP_PARALLEL=3: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	res = bin.Run(t, []string{"HP_PG_DSN=" + pgDSN, "HP_OUT_DSN=" + t.TempDir()}, "cp", "snap", "pg.x", "out.q", "--query", "select 1", "--parallel", "2")
	if res.Code != 2 {
		t.Fatalf("--query with --parallel 2: exit %d, want 2\n%s", res.Code, res.Stderr)
	}
	testkit.Contains(t, "stderr", res.Stderr, "--parallel 2 cannot split a --query read")
}

// TestParallelPostgresUnderWriters: while writers move rows (a delete and
// an insert with a new id, landing on other pages) and transfer amounts
// between rows, every transaction keeping the row count and the sum of
// balances, a --parallel 4 snapshot holds exactly the count and the sum:
// its slices read one point in time.
func TestParallelPostgresUnderWriters(t *testing.T) {
	t.Parallel() // its own table and sessions (application_name)
	bin := testkit.Build(t, "postgres")
	const table, rows, app = "public.hp_e2e_par_w", 200000, "hp_e2e_par_writer"
	pgExec(t, "drop table if exists "+table+"; drop sequence if exists "+table+"_seq; create sequence "+table+"_seq start 1000000; create table "+table+
		" (id bigint primary key, bal bigint not null); insert into "+table+" select g, 0 from generate_series(1, "+strconv.Itoa(rows)+") g; "+
		"drop table if exists "+table+"_stop; create table "+table+"_stop (stop boolean)")
	// Cleanups run last first: the writers go before their table.
	pgCleanup(t, "drop table if exists "+table+", "+table+"_stop; drop sequence if exists "+table+"_seq")
	pgCleanup(t, "select pg_terminate_backend(pid) from pg_stat_activity where application_name = '"+app+"'")
	// Each writer loops until the stop row appears, committing every
	// iteration; statement_timeout bounds it whatever happens to the test.
	loop := `DO $$
DECLARE a bigint; b bigint; k bigint; n int;
BEGIN
  LOOP
    EXIT WHEN EXISTS (SELECT 1 FROM ` + table + `_stop);
    a := 1 + floor(random() * 1000000)::bigint; b := 1 + floor(random() * 1000000)::bigint; k := 1 + floor(random() * 100)::bigint;
    SELECT min(id) INTO a FROM ` + table + ` WHERE id >= a;
    SELECT min(id) INTO b FROM ` + table + ` WHERE id >= b;
    BEGIN
      -- Both rows or neither (the other writer may have moved one), so
      -- that every commit keeps the count and the sum.
      UPDATE ` + table + ` SET bal = bal + CASE WHEN id = a THEN k ELSE -k END WHERE id IN (a, b) AND a <> b;
      GET DIAGNOSTICS n = ROW_COUNT;
      IF n <> 2 THEN RAISE EXCEPTION 'skip'; END IF;
      WITH d AS (DELETE FROM ` + table + ` WHERE id = a RETURNING bal) INSERT INTO ` + table + ` SELECT nextval('` + table + `_seq'), bal FROM d;
    EXCEPTION WHEN raise_exception OR deadlock_detected THEN NULL;
    END;
    COMMIT;
  END LOOP;
END $$`
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var writers []*exec.Cmd
	for range 2 {
		cmd := exec.CommandContext(ctx, "psql", pgDSN+"&application_name="+app+"&options=-c%20statement_timeout%3D180000", "-v", "ON_ERROR_STOP=1", "-qc", loop)
		var errOut bytes.Buffer
		cmd.Stderr = &errOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		writers = append(writers, cmd)
	}
	moved := func() int64 {
		n, err := strconv.ParseInt(pgExec(t, "select last_value from "+table+"_seq"), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	snapUnderWriters(t, ctx, writers, rows, moved,
		func(out string) testkit.Result {
			return bin.Run(t, []string{"HP_PG_DSN=" + pgDSN, "HP_OUT_DSN=" + out}, "cp", "snap", "pg."+table, "out.w", "--parallel", "4", "--format", "csv")
		},
		func() { pgExec(t, "insert into "+table+"_stop values (true)") },
		func() string { return strings.Replace(pgExec(t, "select count(*), sum(bal) from "+table), "|", " ", 1) })
}

// snapUnderWriters waits for the writers to move rows (moved counts
// them), runs snap into a new directory while they go on, stops them
// (stop), checks they kept their own invariant (count, as "rows sum",
// gives rows rows summing to 0) and that the run published exactly such a
// table while rows moved.
func snapUnderWriters(t *testing.T, ctx context.Context, writers []*exec.Cmd, rows int, moved func() int64, snap func(out string) testkit.Result, stop func(), count func() string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); moved() < 1000100; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the writers made no progress within 30s")
		}
	}
	before := moved()
	out := t.TempDir()
	res := snap(out)
	after := moved()
	stop()
	for _, w := range writers {
		if err := w.Wait(); err != nil && ctx.Err() == nil {
			t.Errorf("a writer failed: %v", err)
		}
	}
	if ctx.Err() != nil {
		t.Fatal("the writers did not stop within their time")
	}
	if got := count(); got != strconv.Itoa(rows)+" 0" {
		t.Fatalf("the writers broke their own invariant: count and sum %q", got)
	}
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Stderr)
	}
	if after-before < 50 {
		t.Fatalf("only %d rows moved while hp ran: the writers were not concurrent", after-before)
	}
	balanced(t, out, rows, after-before)
}

// balanced checks the one run published in out: rows rows with distinct
// ids (the first CSV field) whose balances (the second) sum to 0.
func balanced(t *testing.T, out string, rows int, moved int64) {
	t.Helper()
	ids := map[string]bool{}
	var sum int64
	for _, r := range runRows(t, out, "csv") {
		f := strings.Split(r, "\x1f")
		if ids[f[0]] {
			t.Fatalf("id %s published twice", f[0])
		}
		ids[f[0]] = true
		b, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		sum += b
	}
	if len(ids) != rows || sum != 0 {
		t.Fatalf("published %d rows summing to %d, want %d rows summing to 0 (%d rows moved during the run)", len(ids), sum, rows, moved)
	}
}

// TestParallelMariaDBEqualsWhole: key-range slices publish exactly the
// rows of a whole read.
func TestParallelMariaDBEqualsWhole(t *testing.T) {
	t.Parallel() // its own table
	bin := testkit.Build(t, "mysql")
	const table = "hp_e2e_par_my"
	mysqlOut(t, "drop table if exists "+table+"; create table "+table+" (id bigint primary key, label varchar(40), amount decimal(12,2));"+
		"insert into "+table+" select seq, if(seq % 7 = 0, null, concat('label ', seq)), seq * 1.25 from seq_1_to_100000")
	t.Cleanup(func() {
		_ = exec.Command("mysql", "-h127.0.0.1", "-P3306", "-uroot", "test", "-e", "drop table if exists "+table).Run()
	})
	var digests []string
	for _, n := range []string{"1", "3"} {
		out := t.TempDir()
		res := bin.Run(t, []string{"HP_MY_DSN=" + myDSN, "HP_OUT_DSN=" + out}, "cp", "snap", "my."+table, "out.x", "--parallel", n)
		if res.Code != 0 {
			t.Fatalf("--parallel %s: exit %d\n%s", n, res.Code, res.Stderr)
		}
		rows := runRows(t, out, "csv")
		if len(rows) != 100000 {
			t.Fatalf("--parallel %s: %d rows", n, len(rows))
		}
		digests = append(digests, digest(rows))
	}
	if digests[0] != digests[1] {
		t.Fatal("--parallel 3 published other rows than --parallel 1")
	}
}

// TestParallelMariaDBUnderWriters: the MariaDB counterpart of
// TestParallelPostgresUnderWriters: while writers move rows to new ids and
// transfer amounts, each transaction keeping the count and the sum, a
// --parallel 4 snapshot holds exactly the count and the sum (the slices
// start their consistent snapshots under one LOCK TABLES ... READ).
func TestParallelMariaDBUnderWriters(t *testing.T) {
	t.Parallel() // its own tables and procedure
	bin := testkit.Build(t, "mysql")
	const table, rows = "hp_e2e_par_myw", 100000
	mysqlOut(t, "drop table if exists "+table+", "+table+"_stop; drop sequence if exists "+table+"_seq; drop procedure if exists "+table+"_churn;"+
		"create sequence "+table+"_seq start with 1000000 nocache; create table "+table+" (id bigint primary key, bal bigint not null);"+
		"create table "+table+"_stop (stop int); insert into "+table+" select seq, 0 from seq_1_to_"+strconv.Itoa(rows))
	// Each iteration is one transaction, rolled back whole on any error
	// (a deadlock between the writers); the loop ends at the stop row or
	// at its deadline, whatever happens to the test.
	mysqlOut(t, "delimiter //\n"+`create procedure `+table+`_churn(deadline datetime)
begin
  declare a, b, k, n bigint;
  while not exists (select 1 from `+table+`_stop) and now() < deadline do
    begin
      declare exit handler for sqlexception rollback;
      start transaction;
      set a = 1 + floor(rand() * 1000000), b = 1 + floor(rand() * 1000000), k = 1 + floor(rand() * 100);
      select min(id) into a from `+table+` where id >= a;
      select min(id) into b from `+table+` where id >= b;
      set n = 0;
      if a is not null and b is not null and a <> b then
        update `+table+` set bal = bal + if(id = a, k, -k) where id in (a, b);
        set n = row_count();
        if n = 2 then
          insert into `+table+` select nextval(`+table+`_seq), bal from `+table+` where id = a;
          delete from `+table+` where id = a;
        end if;
      end if;
      -- Both rows or neither (the other writer may have moved one).
      if n = 2 then commit; else rollback; end if;
    end;
  end while;
end //`)
	t.Cleanup(func() {
		_ = exec.Command("mysql", "-h127.0.0.1", "-P3306", "-uroot", "test", "-e", "insert into "+table+"_stop values (1)").Run()
		_ = exec.Command("mysql", "-h127.0.0.1", "-P3306", "-uroot", "test", "-e",
			"drop table if exists "+table+", "+table+"_stop; drop sequence if exists "+table+"_seq; drop procedure if exists "+table+"_churn").Run()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var writers []*exec.Cmd
	for range 2 {
		cmd := exec.CommandContext(ctx, "mysql", "-h127.0.0.1", "-P3306", "-uroot", "test", "-e", "call "+table+"_churn(now() + interval 150 second)")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		writers = append(writers, cmd)
	}
	moved := func() int64 {
		n, err := strconv.ParseInt(strings.TrimSpace(mysqlOut(t, "select next_not_cached_value from "+table+"_seq")), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	snapUnderWriters(t, ctx, writers, rows, moved,
		func(out string) testkit.Result {
			return bin.Run(t, []string{"HP_MY_DSN=" + myDSN, "HP_OUT_DSN=" + out}, "cp", "snap", "my."+table, "out.w", "--parallel", "4", "--format", "csv")
		},
		func() { mysqlOut(t, "insert into "+table+"_stop values (1)") },
		func() string {
			return strings.Replace(strings.TrimSpace(mysqlOut(t, "select count(*), sum(bal) from "+table)), "\t", " ", 1)
		})
}

// TestParallelSliceFailurePublishesNothing: a slice whose connection is
// killed mid-read fails the run (exit 1), and nothing is published.
func TestParallelSliceFailurePublishesNothing(t *testing.T) {
	t.Parallel() // its own table and sessions (application_name)
	bin := testkit.Build(t, "postgres")
	const table, app = "public.hp_e2e_par_fail", "hp_e2e_par_fail"
	pgExec(t, "drop table if exists "+table+"; create table "+table+" (id bigint primary key, label text); insert into "+table+
		" select g, 'label ' || g from generate_series(1, 200000) g")
	pgCleanup(t, "drop table if exists "+table)
	out := t.TempDir()
	// Every 200th row sleeps 10 ms: each slice COPYs for about 2.5 s, long
	// enough to be terminated mid-read on a loaded machine.
	r := startHP(t, bin, []string{"HP_PG_DSN=" + pgDSN + "&application_name=" + app, "HP_OUT_DSN=" + out}, 2*time.Minute,
		"cp", "snap", "pg."+table, "out.f", "--parallel", "4", "--where", "id % 200 <> 0 OR pg_sleep(0.01) IS NOT NULL")
	failOneOfFourSlices(t, r, app)
	testkit.Contains(t, "stderr", r.stderr.String(), "slice", "of 4", "nothing was published")
	assertNothingPublished(t, out)
}

// failOneOfFourSlices waits until the run r has four slices copying in
// sessions named app, terminates one, and checks that r exits 1.
func failOneOfFourSlices(t *testing.T, r *runningHP, app string) {
	t.Helper()
	backend := r.until(t, "started its slices", func() string {
		pids := strings.Fields(pgExec(t, "select pid from pg_stat_activity where application_name = '"+app+"' and state = 'active' and query like 'COPY%'"))
		if len(pids) < 4 {
			return ""
		}
		return pids[2]
	})
	pgExec(t, "select pg_terminate_backend("+backend+")")
	if code, _ := r.wait(t); code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, r.stderr.String())
	}
}
