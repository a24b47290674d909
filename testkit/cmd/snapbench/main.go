// Command snapbench times `hp cp snap` runs as a user would run them and
// samples the peak RSS of hp and of its plugin processes from /proc.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/halfpipe-io/halfpipe/testkit/measure"
)

func main() {
	hp := flag.String("hp", "bin/hp", "hp binary")
	label := flag.String("label", "", "row label")
	rows := flag.Int64("rows", 0, "rows in the source (for rows/s)")
	flag.Parse()
	if err := run(*hp, *label, *rows, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "snapbench:", err)
		os.Exit(1)
	}
}

func run(hp, label string, rows int64, args []string) error {
	out, err := os.MkdirTemp("", "snapbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(out)
	cmd := exec.Command(hp, args...)
	cmd.Env = append(os.Environ(), "HP_OUT_DSN="+out)
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var hpRSS, pluginRSS int64
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			elapsed := time.Since(start)
			if err != nil {
				return fmt.Errorf("hp failed: %w", err)
			}
			size := dirSize(out)
			fmt.Printf("%-44s %11d rows %7.2fs %11s rows/s %8.1f MB/s out  peak RSS hp %s, plugin %s\n", label, rows, elapsed.Seconds(),
				measure.Thousands(int64(float64(rows)/elapsed.Seconds())), float64(size)/1e6/elapsed.Seconds(), measure.MB(hpRSS), measure.MB(pluginRSS))
			return nil
		case <-tick.C:
			if v, err := measure.PeakRSS(cmd.Process.Pid); err == nil {
				hpRSS = max(hpRSS, v)
			}
			for _, c := range children(cmd.Process.Pid) {
				if v, err := measure.PeakRSS(c); err == nil {
					pluginRSS = max(pluginRSS, v)
				}
			}
		}
	}
}

func children(pid int) []int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(data)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	// Children of other threads of hp.
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, t := range tasks {
		data, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "task", t.Name(), "children"))
		for _, f := range strings.Fields(string(data)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n += info.Size()
		}
		return nil
	})
	return n
}
