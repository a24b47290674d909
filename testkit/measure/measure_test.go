package measure

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// The test binary run with measureRole=wait starts itself with
// measureRole=spin and waits; spin burns 200ms of its own CPU time.
func TestMain(m *testing.M) {
	switch os.Getenv("measureRole") {
	case "wait":
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), "measureRole=spin")
		if err := cmd.Run(); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	case "spin":
		for ownCPU() < 200*time.Millisecond {
			for i := 0; i < 1e6; i++ {
				_ = i * i
			}
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func ownCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// CPU counts the command's own time and that of the children it waited
// for, as hp's plugins are: here the work is all in the child.
func TestRunCountsChildrenCPU(t *testing.T) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "measureRole=wait")
	u, err := Run(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if u.CPU < 200*time.Millisecond {
		t.Errorf("CPU %v (%v elapsed), want at least the child's 200ms", u.CPU, u.Elapsed)
	}
}

// Busiest finds the thread that burned CPU between two snapshots, with
// its CPU time over the interval, not since it started: the thread spins
// before the first snapshot too.
func TestBusiestThread(t *testing.T) {
	spin := func() time.Duration {
		start := threadCPU()
		for threadCPU()-start < 150*time.Millisecond {
			for i := 0; i < 1e5; i++ {
				_ = i * i
			}
		}
		return threadCPU() - start
	}
	next, done := make(chan struct{}), make(chan time.Duration)
	go func() {
		runtime.LockOSThread()
		spin()
		next <- struct{}{}
		<-next
		done <- spin()
		<-next // the thread ends with the goroutine: not before the snapshot
	}()
	<-next
	before, err := ThreadTimes(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	next <- struct{}{}
	spun := <-done
	after, err := ThreadTimes(os.Getpid())
	close(next)
	if err != nil {
		t.Fatal(err)
	}
	got := Busiest(before, after)
	if got.CPU < spun*9/10 || got.CPU > spun+50*time.Millisecond {
		t.Errorf("busiest thread used %v, the spinning one %v", got.CPU, spun)
	}
	if got.Wait < 0 {
		t.Errorf("negative wait %v", got.Wait)
	}
}

func threadCPU() time.Duration {
	var ts syscall.Timespec
	_, _, _ = syscall.Syscall(syscall.SYS_CLOCK_GETTIME, 3 /* CLOCK_THREAD_CPUTIME_ID */, uintptr(unsafe.Pointer(&ts)), 0)
	return time.Duration(ts.Nano())
}

func TestFindProcess(t *testing.T) {
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	if pid := FindProcess("no-such-process", strings.TrimSpace(string(comm))); pid == 0 {
		t.Errorf("FindProcess(%q) found nothing", comm)
	}
	if pid := FindProcess("no-such-process"); pid != 0 {
		t.Errorf("FindProcess found pid %d for a name no process has", pid)
	}
}
