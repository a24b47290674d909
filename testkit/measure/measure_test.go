package measure

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
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
