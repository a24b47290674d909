// Command snapbench times `hp cp snap` runs (or any hp command) as a user
// would run them and samples the peak RSS of hp and of its plugin
// processes from /proc.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"

	"github.com/halfpipe-io/halfpipe/testkit"
	"github.com/halfpipe-io/halfpipe/testkit/measure"
)

// benchTB lets a program use the test kit's service helpers: failures
// end the program, cleanups run at exit.
type benchTB struct {
	cleanups []func()
	failed   bool
}

func (b *benchTB) Helper() {}
func (b *benchTB) Fatal(args ...any) {
	b.fail(fmt.Sprint(args...))
}
func (b *benchTB) Fatalf(format string, args ...any) { b.fail(fmt.Sprintf(format, args...)) }
func (b *benchTB) Skipf(format string, args ...any)  { b.fail(fmt.Sprintf(format, args...)) }
func (b *benchTB) Errorf(format string, args ...any) {
	b.failed = true
	fmt.Fprintf(os.Stderr, "snapbench: "+format+"\n", args...)
}
func (b *benchTB) Logf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
func (b *benchTB) Failed() bool                    { return b.failed }
func (b *benchTB) Cleanup(f func())                { b.cleanups = append(b.cleanups, f) }
func (b *benchTB) TempDir() string {
	dir, err := os.MkdirTemp("", "snapbench")
	if err != nil {
		b.fail(err.Error())
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func (b *benchTB) fail(msg string) {
	b.failed = true
	fmt.Fprintln(os.Stderr, "snapbench:", msg)
	b.cleanup()
	os.Exit(1)
}

func (b *benchTB) cleanup() {
	for i := len(b.cleanups) - 1; i >= 0; i-- {
		b.cleanups[i]()
	}
	b.cleanups = nil
}

func main() {
	hp := flag.String("hp", "bin/hp", "hp binary")
	label := flag.String("label", "", "row label")
	rows := flag.Int64("rows", 0, "rows in the source (for rows/s)")
	toS3 := flag.Bool("s3", false, "write to a real S3 server (versitygw, started here) instead of a local directory")
	okExit := flag.Int("ok-exit", 0, "a non-zero exit code that is success too (hp diff exits 1 on differences)")
	flag.Parse()
	tb := &benchTB{}
	err := run(tb, *hp, *label, *rows, *toS3, *okExit, flag.Args())
	tb.cleanup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "snapbench:", err)
		os.Exit(1)
	}
}

func run(tb *benchTB, hp, label string, rows int64, toS3 bool, okExit int, args []string) error {
	out := tb.TempDir()
	env := append(os.Environ(), "HP_OUT_DSN="+out)
	if toS3 {
		srv := testkit.StartS3(tb)
		srv.CreateBucket(tb, "bench")
		out = srv.Dir
		env = append(append(os.Environ(), srv.Env()...), "HP_OUT_DSN=s3://bench/run?endpoint="+srv.Endpoint)
	}
	cmd := exec.Command(hp, args...)
	cmd.Env = env
	cmd.Stderr = os.Stderr
	u, err := measure.Run(cmd)
	if okExit != 0 && cmd.ProcessState != nil && cmd.ProcessState.ExitCode() == okExit {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("hp failed: %w", err)
	}
	secs := u.Elapsed.Seconds()
	fmt.Printf("%-44s %11d rows %7.2fs %11s rows/s %8.1f MB/s out  peak RSS hp %s, plugin %s  CPU hp + plugins %.2fs\n", label, rows, secs,
		measure.Thousands(int64(float64(rows)/secs)), float64(measure.DirSize(out))/1e6/secs, measure.MB(u.PeakRSS), measure.MB(u.ChildRSS), u.CPU.Seconds())
	return nil
}
