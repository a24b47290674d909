package main

import (
	"strings"
	"testing"
)

func TestSummaryGroupsSkipsAndShowsFailures(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"run","Package":"github.com/halfpipe-io/halfpipe/a","Test":"TestOK"}`,
		`{"Action":"pass","Package":"github.com/halfpipe-io/halfpipe/a","Test":"TestOK","Elapsed":2.5}`,
		`{"Action":"pass","Package":"github.com/halfpipe-io/halfpipe/a","Test":"TestOK/sub","Elapsed":9}`,
		`{"Action":"output","Package":"github.com/halfpipe-io/halfpipe/a","Test":"TestGated1","Output":"=== RUN   TestGated1\n"}`,
		`{"Action":"output","Package":"github.com/halfpipe-io/halfpipe/a","Test":"TestGated1","Output":"    real_test.go:42: HP_TEST_X_DSN is not set\n"}`,
		`{"Action":"output","Package":"github.com/halfpipe-io/halfpipe/a","Test":"TestGated1","Output":"--- SKIP: TestGated1 (0.00s)\n"}`,
		`{"Action":"skip","Package":"github.com/halfpipe-io/halfpipe/a","Test":"TestGated1"}`,
		`{"Action":"output","Package":"github.com/halfpipe-io/halfpipe/a","Test":"TestGated2","Output":"    other_test.go:7: HP_TEST_X_DSN is not set\n"}`,
		`{"Action":"skip","Package":"github.com/halfpipe-io/halfpipe/a","Test":"TestGated2"}`,
		`{"Action":"pass","Package":"github.com/halfpipe-io/halfpipe/a","Elapsed":0.5}`,
		`{"Action":"output","Package":"github.com/halfpipe-io/halfpipe/b","Test":"TestBad","Output":"    b_test.go:9: want 1, got 2\n"}`,
		`{"Action":"fail","Package":"github.com/halfpipe-io/halfpipe/b","Test":"TestBad","Elapsed":7.25}`,
		`{"Action":"fail","Package":"github.com/halfpipe-io/halfpipe/b","Elapsed":0.1}`,
		`# a build error line that is not JSON`,
	}, "\n")
	var out strings.Builder
	s := &summary{out: &out, output: map[testKey][]string{}, skipped: map[string][]string{}}
	if err := s.read(strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	if s.report() {
		t.Error("a failed test must make the run fail")
	}
	got := out.String()
	for _, want := range []string{
		"ok  \tgithub.com/halfpipe-io/halfpipe/a\t0.500s\n",
		"b_test.go:9: want 1, got 2",
		"FAIL\tgithub.com/halfpipe-io/halfpipe/b\t0.100s\n",
		"# a build error line that is not JSON\n",
		"  2: HP_TEST_X_DSN is not set (a.TestGated1, a.TestGated2)\n",
		"\nslowest tests:\n      7.2s b.TestBad\n      2.5s a.TestOK\n\n",
		"\n2 passed, 1 failed, 2 skipped\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
}
