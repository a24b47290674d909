// Package profile writes CPU profiles of hp and its plugins when the
// environment asks for them: HP_CPUPROFILE names a directory, and each
// process (hp, every plugin) writes <name>-<pid>.cpu.pprof into it when it
// ends normally. For finding where the time goes, e.g.
//
//	HP_CPUPROFILE=/tmp/prof hp cp snap pg.t out.t
//	go tool pprof -top /tmp/prof/hp-*.cpu.pprof
package profile

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
)

// Env is the variable naming the directory profiles go to. The host
// passes it on to its plugins.
const Env = "HP_CPUPROFILE"

// Start starts a CPU profile of this process, named name, when Env is
// set, and returns the function that stops it and writes the file (a
// no-op when there is none). A profile that cannot start is reported on
// stderr and does not stop the process.
func Start(name string) (stop func()) {
	dir := os.Getenv(Env)
	if dir == "" {
		return func() {}
	}
	path := filepath.Join(dir, fmt.Sprintf("%s-%d.cpu.pprof", name, os.Getpid()))
	f, err := os.Create(path)
	if err == nil {
		if err = pprof.StartCPUProfile(f); err != nil {
			f.Close()
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", Env, err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
