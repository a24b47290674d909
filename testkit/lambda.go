package testkit

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/halfpipe-io/halfpipe/testkit/tool"
)

// LambdaEmulator runs a function's bootstrap under the AWS Lambda runtime
// interface emulator on 127.0.0.1, as Lambda would: the bootstrap serves
// the Runtime API, invocations come over HTTP.
type LambdaEmulator struct {
	// URL is the invoke endpoint.
	URL string
	out *logBuffer
	cmd *exec.Cmd
}

// StartLambda installs the emulator and starts bootstrap under it with
// exactly env (plus PATH), the way a function's configuration sets its
// environment; timeout is the function's timeout. It stops when the test
// ends.
func StartLambda(t TB, bootstrap string, env []string, timeout time.Duration) *LambdaEmulator {
	t.Helper()
	rie := InstallTool(t, tool.LambdaRIEModule, tool.LambdaRIEVersion, "aws-lambda-rie")
	// Two ports asked for one after the other can be the same one.
	addrs, err := freeAddrs(2)
	if err != nil {
		t.Fatal(err)
	}
	api, invoke := addrs[0], addrs[1]
	e := &LambdaEmulator{URL: "http://" + invoke + "/2015-03-31/functions/function/invocations", out: &logBuffer{}}
	e.cmd = exec.Command(rie, "--runtime-interface-emulator-address", invoke, "--runtime-api-address", api, bootstrap)
	e.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "TMPDIR=" + t.TempDir(),
		fmt.Sprintf("AWS_LAMBDA_FUNCTION_TIMEOUT=%d", int(timeout.Seconds())), "AWS_LAMBDA_FUNCTION_NAME=hp-test",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512"}, env...)
	e.cmd.Stdout, e.cmd.Stderr = e.out, e.out
	if err := e.cmd.Start(); err != nil {
		NeedService(t, "aws-lambda-rie", err)
	}
	t.Cleanup(func() {
		_ = e.cmd.Process.Kill()
		_ = e.cmd.Wait()
		if t.Failed() {
			t.Logf("emulator and function output (tail):\n%s", e.out.tail(8192))
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := http.Get("http://" + invoke + "/")
		if err == nil {
			conn.Body.Close()
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Lambda emulator does not answer on %s: %v\n%s", invoke, err, e.out.tail(4096))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Invoke sends one event and returns the function's response body and
// whether it is a function error.
func (e *LambdaEmulator) Invoke(t TB, event string) ([]byte, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, strings.NewReader(event))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("invoking: %v\n%s", err, e.out.tail(4096))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	failed := resp.Header.Get("X-Amz-Function-Error") != "" || bytes.Contains(body, []byte(`"errorMessage"`))
	return body, failed
}

// Output is everything the emulator and the function printed.
func (e *LambdaEmulator) Output() string { return e.out.String() }
