// Package measure reads process statistics for benchmarks.
package measure

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// PeakRSS returns the peak resident set size (VmHWM) of a live process in
// bytes, from /proc.
func PeakRSS(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				break
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmHWM for pid %d", pid)
}

// MB formats bytes as megabytes.
func MB(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/1e6) }

// Thousands formats n with thousands separators.
func Thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	var out []byte
	for i, c := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, c)
	}
	return string(out)
}

// Usage is what Run measured of a command.
type Usage struct {
	Elapsed time.Duration
	// PeakRSS is the command's own peak resident set size, ChildRSS the
	// largest of its children's (hp's plugins), in bytes.
	PeakRSS, ChildRSS int64
	// CPU is the user and system time of the command and of the children
	// it waited for (hp's plugins): on a machine shared with other work,
	// the figure to compare builds by, where wall time compares nothing.
	CPU time.Duration
}

// Run runs cmd to its end, sampling the peak RSS of the process and of
// its children every 20 ms.
func Run(cmd *exec.Cmd) (Usage, error) {
	var u Usage
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return u, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			u.Elapsed = time.Since(start)
			if ps := cmd.ProcessState; ps != nil {
				u.CPU = ps.UserTime() + ps.SystemTime()
			}
			return u, err
		case <-tick.C:
			if v, err := PeakRSS(cmd.Process.Pid); err == nil {
				u.PeakRSS = max(u.PeakRSS, v)
			}
			for _, c := range children(cmd.Process.Pid) {
				if v, err := PeakRSS(c); err == nil {
					u.ChildRSS = max(u.ChildRSS, v)
				}
			}
		}
	}
}

// children lists the child processes of every thread of pid.
func children(pid int) []int {
	var out []int
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

// DirSize is the total size of the files under dir.
func DirSize(dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n += info.Size()
		}
		return nil
	})
	return n
}

// ThreadTime is a thread's time on a CPU and waiting on a run queue for
// one (its schedstat): a server thread's wait says how much of the run it
// was ready but other processes held both cores.
type ThreadTime struct{ CPU, Wait time.Duration }

// ThreadTimes reads the times of each thread of pid, by thread id.
func ThreadTimes(pid int) (map[string]ThreadTime, error) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := make(map[string]ThreadTime, len(tasks))
	for _, t := range tasks {
		data, err := os.ReadFile(filepath.Join(dir, t.Name(), "schedstat"))
		if err != nil {
			continue // the thread has exited
		}
		f := strings.Fields(string(data))
		if len(f) < 2 {
			return nil, fmt.Errorf("%s/%s/schedstat: %q", dir, t.Name(), data)
		}
		run, err1 := strconv.ParseInt(f[0], 10, 64)
		wait, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%s/%s/schedstat: %q", dir, t.Name(), data)
		}
		out[t.Name()] = ThreadTime{CPU: time.Duration(run), Wait: time.Duration(wait)}
	}
	return out, nil
}

// Busiest is the thread that used the most CPU between two snapshots of
// ThreadTimes: its CPU and wait over the interval. On a server with one
// thread per connection, that of the benchmark's read, unless another
// session's was busier.
func Busiest(before, after map[string]ThreadTime) ThreadTime {
	var best ThreadTime
	for id, a := range after {
		d := ThreadTime{CPU: a.CPU - before[id].CPU, Wait: a.Wait - before[id].Wait}
		if d.CPU > best.CPU {
			best = d
		}
	}
	return best
}

// FindProcess returns the pid of a process whose command name is one of
// names, or 0.
func FindProcess(names ...string) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err == nil && slices.Contains(names, strings.TrimSpace(string(comm))) {
			return pid
		}
	}
	return 0
}
