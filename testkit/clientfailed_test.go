package testkit_test

import (
	"fmt"
	"os/exec"
	"testing"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// recorder is a TB that records how a helper ended the test.
type recorder struct {
	testing.TB
	how string
}

func (r *recorder) Helper()                           {}
func (r *recorder) Skipf(format string, args ...any)  { r.how = "skip" }
func (r *recorder) Fatalf(format string, args ...any) { r.how = "fatal" }

// An SQL error in a test's own statement fails the test; only a server
// that cannot be reached is a missing service (a skip outside CI).
func TestClientFailed(t *testing.T) {
	if out, err := exec.Command("psql", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "-qAtc", "select 1").CombinedOutput(); err != nil {
		testkit.NeedService(t, "PostgreSQL (psql)", fmt.Errorf("%v: %s", err, out))
	}
	t.Setenv("CI", "false") // a missing service is then a skip, which the recorder sees
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "-v", "ON_ERROR_STOP=1", "-qAtc", "selec 1"}, "fatal"},
		{[]string{"postgres://postgres@127.0.0.1:1/test", "-qAtc", "select 1"}, "skip"},
	} {
		out, err := exec.Command("psql", c.args...).CombinedOutput()
		if err == nil {
			t.Fatalf("psql %v succeeded", c.args)
		}
		r := &recorder{TB: t}
		testkit.ClientFailed(r, "PostgreSQL", err, string(out))
		if r.how != c.want {
			t.Errorf("psql %v (%v: %s): %s, want %s", c.args, err, out, r.how, c.want)
		}
	}
	r := &recorder{TB: t}
	testkit.ClientFailed(r, "nothing", fmt.Errorf("run: %w", exec.ErrNotFound), "")
	if r.how != "skip" {
		t.Errorf("a missing client: %s, want skip", r.how)
	}
}
