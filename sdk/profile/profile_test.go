package profile

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// With HP_CPUPROFILE set, Start writes <name>-<pid>.cpu.pprof there when
// stopped; without it, nothing.
func TestStart(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(Env, "")
	Start("quiet")()
	t.Setenv(Env, dir)
	stop := Start("hp")
	for i := 0; i < 1e6; i++ {
		_ = filepath.Base("a/b")
	}
	stop()
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	want := filepath.Join(dir, "hp-"+strconv.Itoa(os.Getpid())+".cpu.pprof")
	if len(files) != 1 || files[0] != want {
		t.Fatalf("files %v, want [%s]", files, want)
	}
	if fi, err := os.Stat(want); err != nil || fi.Size() == 0 {
		t.Fatalf("profile %s: %v, %v", want, fi, err)
	}
}
