// Command testsum reads `go test -json` on stdin and prints what a person
// needs from a whole-repository run: one line per package as go test
// prints them, the output of every failed test, the skipped tests grouped
// by the reason they gave (a gated suite whose HP_TEST_* variable is not
// set, a service that is not there), the slowest tests (where a run's time
// goes) and a closing count. It exits 1 when
// any test or package failed, so `go test -json ... | testsum` under
// pipefail fails as go test would.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
)

type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	Elapsed    float64
	ImportPath string
}

type testKey struct{ pkg, test string }

// timed is a top-level test and the seconds it took (go test's Elapsed:
// for a parallel test, from its start to its end, waits included).
type timed struct {
	name    string
	seconds float64
}

// slowest is how many of the slowest tests the closing lines name.
const slowest = 8

type summary struct {
	out                   io.Writer
	output                map[testKey][]string
	passed, failed        int
	skipped               map[string][]string // reason → tests
	elapsed               []timed             // top-level tests that ran
	failedPkgs, noTestPkg []string
}

func main() {
	s := &summary{out: os.Stdout, output: map[testKey][]string{}, skipped: map[string][]string{}}
	if err := s.read(os.Stdin); err != nil {
		fmt.Fprintln(os.Stderr, "testsum:", err)
		os.Exit(2)
	}
	if !s.report() {
		os.Exit(1)
	}
}

func (s *summary) read(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			fmt.Fprintln(s.out, string(line)) // not an event: pass it through
			continue
		}
		s.add(e)
	}
	return sc.Err()
}

func (s *summary) add(e event) {
	k := testKey{e.Package, e.Test}
	switch e.Action {
	case "build-output":
		fmt.Fprint(s.out, e.Output)
	case "output":
		s.output[k] = append(s.output[k], e.Output)
	case "pass", "fail", "skip":
		if e.Test == "" {
			s.endPackage(e)
			return
		}
		if e.Action != "skip" && !strings.Contains(e.Test, "/") {
			s.elapsed = append(s.elapsed, timed{strings.TrimPrefix(e.Package, modulePrefix) + "." + e.Test, e.Elapsed})
		}
		switch e.Action {
		case "pass":
			s.passed++
		case "fail":
			s.failed++
			fmt.Fprint(s.out, strings.Join(s.output[k], ""))
		case "skip":
			reason := skipReason(s.output[k])
			s.skipped[reason] = append(s.skipped[reason], strings.TrimPrefix(e.Package, modulePrefix)+"."+e.Test)
		}
		delete(s.output, k)
	}
}

func (s *summary) endPackage(e event) {
	k := testKey{e.Package, ""}
	switch e.Action {
	case "pass":
		fmt.Fprintf(s.out, "ok  \t%s\t%.3fs\n", e.Package, e.Elapsed)
	case "skip":
		s.noTestPkg = append(s.noTestPkg, e.Package)
	case "fail":
		// Package-level output holds panics, timeouts and build failures.
		fmt.Fprint(s.out, strings.Join(s.output[k], ""))
		fmt.Fprintf(s.out, "FAIL\t%s\t%.3fs\n", e.Package, e.Elapsed)
		s.failedPkgs = append(s.failedPkgs, e.Package)
	}
	delete(s.output, k)
}

const modulePrefix = "github.com/halfpipe-io/halfpipe/"

var location = regexp.MustCompile(`^\s*[\w.-]+\.go:\d+: `)

// skipReason is the message a test gave to t.Skip, without its file and
// line, so tests skipped for one cause group together.
func skipReason(lines []string) string {
	var msg []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		msg = append(msg, location.ReplaceAllString(strings.TrimRight(l, "\n"), ""))
	}
	if len(msg) == 0 {
		return "no reason given"
	}
	return strings.Join(msg, " / ")
}

// report prints the closing lines and says whether everything passed.
func (s *summary) report() bool {
	if len(s.skipped) > 0 {
		fmt.Fprintln(s.out, "\nskipped:")
		reasons := make([]string, 0, len(s.skipped))
		for r := range s.skipped {
			reasons = append(reasons, r)
		}
		sort.Strings(reasons)
		for _, r := range reasons {
			tests := s.skipped[r]
			fmt.Fprintf(s.out, "  %d: %s (%s)\n", len(tests), r, strings.Join(first(tests, 3), ", ")+more(tests, 3))
		}
	}
	skipped := 0
	for _, t := range s.skipped {
		skipped += len(t)
	}
	if len(s.elapsed) > 0 {
		sort.SliceStable(s.elapsed, func(i, j int) bool { return s.elapsed[i].seconds > s.elapsed[j].seconds })
		fmt.Fprintln(s.out, "\nslowest tests:")
		for _, t := range s.elapsed[:min(slowest, len(s.elapsed))] {
			fmt.Fprintf(s.out, "  %7.1fs %s\n", t.seconds, t.name)
		}
	}
	if len(s.failedPkgs) > 0 {
		fmt.Fprintf(s.out, "\nfailed packages: %s\n", strings.Join(s.failedPkgs, " "))
	}
	fmt.Fprintf(s.out, "\n%d passed, %d failed, %d skipped\n", s.passed, s.failed, skipped)
	return s.failed == 0 && len(s.failedPkgs) == 0
}

func first(xs []string, n int) []string { return xs[:min(n, len(xs))] }

func more(xs []string, n int) string {
	if len(xs) <= n {
		return ""
	}
	return fmt.Sprintf(" and %d more", len(xs)-n)
}
