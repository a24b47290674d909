// Command shapebench measures hp against each database's own client on
// every benchmark table shape (testkit.Shapes): the client's CSV export,
// then hp to uncompressed CSV and to Parquet (zstd), in alternating
// rounds, and prints the medians as a table of the goals: hp's CSV at
// least as fast as the client, its Parquet within 1.2x of the client's
// time, hp and its plugin under 200 MB peak RSS.
//
//	shapebench -hp bin/hp -db postgres,mysql -shapes text,wide -rounds 3 -scale 0.5
//
// Tables are hp_bench_<shape> (-prefix), generated inside the servers when their row
// count differs from the shape's (times -scale). On MariaDB running on this
// machine it also reports the server thread serving each CSV export: its
// CPU and its wait for a CPU (mariadbd's busiest thread over the run).
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/halfpipe-io/halfpipe/testkit"
	"github.com/halfpipe-io/halfpipe/testkit/measure"
)

const (
	pgDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	myDSN = "mysql://root@127.0.0.1:3306/test"
)

var myArgs = []string{"-h127.0.0.1", "-P3306", "-uroot", "test"}

// database is one server: its client's export is the baseline.
type database struct {
	name, dialect, conn, env string
	client                   string
}

var databases = []database{
	{"PostgreSQL", "postgres", "pg", "HP_PG_DSN=" + pgDSN, "psql \\copy to CSV"},
	{"MariaDB", "mysql", "my", "HP_MY_DSN=" + myDSN, "mariadb --batch --quick"},
}

// cell is the medians of one shape on one database.
type cell struct {
	db                   database
	shape                testkit.Shape
	rows                 int
	client, csv, parquet time.Duration
	// CPU seconds (user + sys) of the client, and of hp with its plugin:
	// the comparison that holds on a machine shared with other work.
	clientCPU, csvCPU, parquetCPU time.Duration
	csvBytes                      int64
	// clientServer and csvServer are the server thread of the client's
	// and hp's CSV export (MariaDB on this machine only).
	clientServer, csvServer measure.ThreadTime
	server                  bool
	rss                     int64 // hp + plugin, the larger of the two runs
	hpRSS, pluginRSS        int64 // the parts of rss
}

func main() {
	hp := flag.String("hp", "bin/hp", "hp binary (its plugins beside it in plugins/)")
	dbs := flag.String("db", "postgres,mysql", "databases: postgres, mysql")
	shapes := flag.String("shapes", "", "shapes, comma-separated (default: all)")
	rounds := flag.Int("rounds", 3, "rounds; medians are reported")
	scale := flag.Float64("scale", 1, "multiplies each shape's row count")
	prefix := flag.String("prefix", "hp_bench_", "table name prefix: tables of its own on servers other benchmarks share")
	flag.Parse()
	var cells []cell
	for _, db := range databases {
		if !slices.Contains(strings.Split(*dbs, ","), db.dialect) {
			continue
		}
		for _, s := range testkit.Shapes {
			if *shapes != "" && !slices.Contains(strings.Split(*shapes, ","), s.Name) {
				continue
			}
			c, err := measureShape(*hp, db, s, *prefix+s.Name, max(1, int(float64(s.Rows)**scale)), *rounds)
			if err != nil {
				fmt.Fprintf(os.Stderr, "shapebench: %s %s: %v\n", db.name, s.Name, err)
				os.Exit(1)
			}
			cells = append(cells, c)
		}
	}
	printTable(cells)
	printCPU(cells)
}

func measureShape(hp string, db database, s testkit.Shape, table string, rows, rounds int) (cell, error) {
	c := cell{db: db, shape: s, rows: rows}
	if err := ensureTable(db, s.Name, table, rows); err != nil {
		return c, err
	}
	var client, csv, parquet, clientCPU, csvCPU, parquetCPU []time.Duration
	var clientServer, csvServer []measure.ThreadTime
	server := 0
	if db.dialect == "mysql" {
		server = measure.FindProcess("mariadbd", "mysqld")
	}
	c.server = server != 0
	for r := 1; r <= rounds; r++ {
		tmp, err := os.MkdirTemp("", "shapebench")
		if err != nil {
			return c, err
		}
		var u measure.Usage
		var size int64
		t, err := serverThread(server, func() error {
			var err error
			u, size, err = runClient(db, table, filepath.Join(tmp, "client.csv"))
			return err
		})
		if err != nil {
			return c, fmt.Errorf("%s: %w", db.client, err)
		}
		clientServer = append(clientServer, t)
		client = append(client, u.Elapsed)
		clientCPU = append(clientCPU, u.CPU)
		report(fmt.Sprintf("%s %s: %s", db.name, s.Name, db.client), rows, u, size, false)
		for _, f := range []struct{ format, compression string }{{"csv", "none"}, {"parquet", "zstd"}} {
			out := filepath.Join(tmp, f.format)
			cmd := exec.Command(hp, "cp", "snap", db.conn+"."+table, "out.bench", "--format", f.format, "--compression", f.compression, "--log-level", "warn")
			cmd.Env = append(os.Environ(), db.env, "HP_OUT_DSN="+out)
			cmd.Stderr = os.Stderr
			var u measure.Usage
			t, err := serverThread(server, func() error {
				var err error
				u, err = measure.Run(cmd)
				return err
			})
			if err != nil {
				return c, fmt.Errorf("hp → %s: %w", f.format, err)
			}
			size := measure.DirSize(out)
			report(fmt.Sprintf("%s %s: hp → %s (%s)", db.name, s.Name, f.format, f.compression), rows, u, size, true)
			if u.PeakRSS+u.ChildRSS > c.rss {
				c.rss, c.hpRSS, c.pluginRSS = u.PeakRSS+u.ChildRSS, u.PeakRSS, u.ChildRSS
			}
			if f.format == "csv" {
				csv = append(csv, u.Elapsed)
				csvCPU = append(csvCPU, u.CPU)
				csvServer = append(csvServer, t)
				c.csvBytes = size
			} else {
				parquet = append(parquet, u.Elapsed)
				parquetCPU = append(parquetCPU, u.CPU)
			}
		}
		os.RemoveAll(tmp)
	}
	c.client, c.csv, c.parquet = median(client), median(csv), median(parquet)
	c.clientCPU, c.csvCPU, c.parquetCPU = median(clientCPU), median(csvCPU), median(parquetCPU)
	c.clientServer, c.csvServer = medianThread(clientServer), medianThread(csvServer)
	return c, nil
}

// serverThread runs run and returns the busiest thread of process pid
// over it (nothing when pid is 0).
func serverThread(pid int, run func() error) (measure.ThreadTime, error) {
	if pid == 0 {
		return measure.ThreadTime{}, run()
	}
	before, err := measure.ThreadTimes(pid)
	if err != nil {
		return measure.ThreadTime{}, fmt.Errorf("server process %d: %w", pid, err)
	}
	if err := run(); err != nil {
		return measure.ThreadTime{}, err
	}
	after, err := measure.ThreadTimes(pid)
	if err != nil {
		return measure.ThreadTime{}, fmt.Errorf("server process %d: %w", pid, err)
	}
	return measure.Busiest(before, after), nil
}

// ensureTable generates table unless it holds rows rows already.
func ensureTable(db database, shape, table string, rows int) error {
	var count *exec.Cmd
	if db.dialect == "postgres" {
		count = exec.Command("psql", pgDSN, "-Atc", "select count(*) from "+table)
	} else {
		count = exec.Command("mariadb", append(myArgs, "-N", "-e", "select count(*) from "+table)...)
	}
	if out, err := count.Output(); err == nil && strings.TrimSpace(string(out)) == fmt.Sprint(rows) {
		return nil
	}
	fmt.Printf("== loading %d %s rows into %s\n", rows, shape, db.name)
	q, err := testkit.ShapeSQL(db.dialect, shape, table, rows)
	if err != nil {
		return err
	}
	var load *exec.Cmd
	if db.dialect == "postgres" {
		load = exec.Command("psql", pgDSN, "-q", "-v", "ON_ERROR_STOP=1")
	} else {
		load = exec.Command("mariadb", myArgs...)
	}
	load.Stdin = strings.NewReader(q)
	if out, err := load.CombinedOutput(); err != nil {
		return fmt.Errorf("loading %s: %v: %s", table, err, out)
	}
	return nil
}

// runClient exports table with the database's own client into path.
func runClient(db database, table, path string) (measure.Usage, int64, error) {
	var cmd *exec.Cmd
	if db.dialect == "postgres" {
		cmd = exec.Command("psql", pgDSN, "-qc", fmt.Sprintf(`\copy (select * from %s) to '%s' csv`, table, path))
	} else {
		f, err := os.Create(path)
		if err != nil {
			return measure.Usage{}, 0, err
		}
		defer f.Close()
		cmd = exec.Command("mariadb", append(myArgs, "--batch", "--quick", "-e", "select * from "+table)...)
		cmd.Stdout = f
	}
	cmd.Stderr = os.Stderr
	u, err := measure.Run(cmd)
	fi, serr := os.Stat(path)
	if err == nil && serr != nil {
		err = serr
	}
	if err != nil {
		return u, 0, err
	}
	return u, fi.Size(), nil
}

func report(label string, rows int, u measure.Usage, size int64, rss bool) {
	secs := u.Elapsed.Seconds()
	line := fmt.Sprintf("%-52s %10d rows %7.2fs %11s rows/s %8.1f MB/s out  CPU %.2fs", label, rows, secs,
		measure.Thousands(int64(float64(rows)/secs)), float64(size)/1e6/secs, u.CPU.Seconds())
	if rss {
		line += fmt.Sprintf("  peak RSS hp %s, plugin %s", measure.MB(u.PeakRSS), measure.MB(u.ChildRSS))
	}
	fmt.Println(line)
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// medianThread is the median of the threads' CPU and, apart, of their
// waits.
func medianThread(ts []measure.ThreadTime) measure.ThreadTime {
	cpu, wait := make([]time.Duration, len(ts)), make([]time.Duration, len(ts))
	for i, t := range ts {
		cpu[i], wait[i] = t.CPU, t.Wait
	}
	return measure.ThreadTime{CPU: median(cpu), Wait: median(wait)}
}

// printTable prints the medians and whether each goal is met, as a
// Markdown table (docs/benchmarks.md keeps the latest).
func printTable(cells []cell) {
	fmt.Println()
	fmt.Println("| Database | Shape | Rows | Client CSV | hp CSV: ≥ 1.00x client speed | hp Parquet zstd: ≤ 1.20x client time | Peak RSS hp + plugin: < 200 MB |")
	fmt.Println("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
	for _, c := range cells {
		csvRatio := c.client.Seconds() / c.csv.Seconds()
		pqRatio := c.parquet.Seconds() / c.client.Seconds()
		fmt.Printf("| %s | %s | %s | %.2fs, %.0f MB/s | %.2fs, %s rows/s: %.2fx %s | %.2fs: %.2fx %s | %s (hp %s, plugin %s) %s |\n",
			c.db.name, c.shape.Name, measure.Thousands(int64(c.rows)), c.client.Seconds(), float64(c.csvBytes)/1e6/c.client.Seconds(),
			c.csv.Seconds(), measure.Thousands(int64(float64(c.rows)/c.csv.Seconds())), csvRatio, verdict(csvRatio >= 1),
			c.parquet.Seconds(), pqRatio, verdict(pqRatio <= 1.2), measure.MB(c.rss), measure.MB(c.hpRSS), measure.MB(c.pluginRSS), verdict(c.rss < 200e6))
	}
}

// printCPU prints the medians' CPU seconds: the client process, hp with
// its plugin, and where measured the server thread of each CSV export
// with, in brackets, its wait for a CPU.
func printCPU(cells []cell) {
	fmt.Println()
	fmt.Println("| Database | Shape | Client CPU | hp + plugin CPU, CSV | hp + plugin CPU, Parquet zstd | Server thread CPU (wait), client CSV | Server thread CPU (wait), hp CSV |")
	fmt.Println("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
	for _, c := range cells {
		clientServer, csvServer := "–", "–"
		if c.server {
			clientServer = fmt.Sprintf("%.2fs (%.2fs)", c.clientServer.CPU.Seconds(), c.clientServer.Wait.Seconds())
			csvServer = fmt.Sprintf("%.2fs (%.2fs)", c.csvServer.CPU.Seconds(), c.csvServer.Wait.Seconds())
		}
		fmt.Printf("| %s | %s | %.2fs | %.2fs | %.2fs | %s | %s |\n", c.db.name, c.shape.Name, c.clientCPU.Seconds(), c.csvCPU.Seconds(), c.parquetCPU.Seconds(), clientServer, csvServer)
	}
}

func verdict(met bool) string {
	if met {
		return "met"
	}
	return "**short**"
}
