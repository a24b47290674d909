package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// killMidWrite starts a long snapshot into conn, waits until ready says
// the run has left what a kill leaves, and SIGKILLs hp and its plugin.
func killMidWrite(t *testing.T, bin *testkit.Binaries, env []string, conn, fileBytes string, ready func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := bin.Command(ctx, t, append([]string{"HP_GEN_DSN=gen://?rows=500000000"}, env...),
		"cp", "snap", "gen.narrow", conn+".big", "--format", "csv", "--compression", "none", "--max-file-bytes", fileBytes)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for !ready() {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("the run left nothing to find after 60s: %s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	kids := children(cmd.Process.Pid)
	if err := syscall.Kill(cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	for _, k := range kids {
		_ = syscall.Kill(k, syscall.SIGKILL)
	}
}

func runDirs(t *testing.T, dir string) []string {
	t.Helper()
	entries, _ := os.ReadDir(filepath.Join(dir, "big"))
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestKilledRunLeftoversFoundAndRemovedLocally(t *testing.T) {
	t.Parallel() // its own directory; it kills only its own hp and plugin
	bin := testkit.Build(t, "gen")
	out := t.TempDir()
	env := []string{"HP_OUT_DSN=" + out}
	killMidWrite(t, bin, env, "out", "6MiB", func() bool {
		var done, tmp int
		for _, f := range allFiles(t, out) {
			if strings.HasPrefix(filepath.Base(f), ".") {
				tmp++
			} else {
				done++
			}
		}
		return done >= 1 && tmp >= 1
	})
	dirs := runDirs(t, out)
	if len(dirs) != 1 {
		t.Fatalf("want one run directory, got %v", dirs)
	}
	run := "big/" + dirs[0]

	r := bin.Run(t, env, "runs", "out", "--orphans")
	if r.Code != 0 {
		t.Fatalf("runs --orphans: exit %d: %s", r.Code, r.Stderr)
	}
	testkit.Contains(t, "runs --orphans", r.Stdout, "UNPUBLISHED RUN", run, "UNFINISHED WRITE", ".tmp-")

	r = bin.Run(t, env, "verify", "out")
	if r.Code != 1 {
		t.Fatalf("verify of a store with only a killed run: exit %d: %s%s", r.Code, r.Stdout, r.Stderr)
	}
	testkit.Contains(t, "verify", r.Stderr, "no manifest found", "1 run left files but no manifest", "hp runs --orphans")

	// Younger than the default 24h: a dry run and even --delete keep it.
	r = bin.Run(t, env, "gc", "out", "--delete")
	if r.Code != 0 || len(allFiles(t, out)) == 0 {
		t.Fatalf("gc --delete of a young run: exit %d, files %v: %s", r.Code, allFiles(t, out), r.Stderr)
	}
	before := allFiles(t, out)
	r = bin.Run(t, env, "gc", "out", "--older-than", "0s")
	if r.Code != 0 || len(allFiles(t, out)) != len(before) {
		t.Fatalf("dry run: exit %d, files %v -> %v: %s", r.Code, before, allFiles(t, out), r.Stderr)
	}
	testkit.Contains(t, "gc dry run", r.Stdout, run)
	testkit.Contains(t, "gc dry run", r.Stderr, "dry run", "--delete")

	r = bin.Run(t, env, "gc", "out", "--older-than", "0s", "--delete")
	if r.Code != 0 {
		t.Fatalf("gc --delete: exit %d: %s", r.Code, r.Stderr)
	}
	if left := allFiles(t, out); len(left) != 0 {
		t.Errorf("gc left files: %v", left)
	}
	if _, err := os.Stat(filepath.Join(out, filepath.FromSlash(run))); !os.IsNotExist(err) {
		t.Errorf("gc left the run directory %s: %v", run, err)
	}
}

func TestKilledRunLeftoversFoundAndRemovedOnS3(t *testing.T) {
	t.Parallel() // its own S3 server; it kills only its own hp and plugin
	bin := testkit.Build(t, "gen")
	srv, env := s3Target(t, "")
	env = append(env, "HP_S3_DSN=s3://lake/raw?endpoint="+srv.Endpoint+"&part_size=5MiB")
	client := srv.Client(t)
	objects := func() []string {
		out, err := client.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("lake"), Prefix: aws.String("raw/")})
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
		return keys
	}
	// Files large enough that the kill lands while one is being uploaded.
	killMidWrite(t, bin, env, "s3", "64MiB", func() bool {
		return len(objects()) >= 1 && len(srv.ListMultipartUploads(t, "lake")) >= 1
	})
	uploads := srv.ListMultipartUploads(t, "lake")
	if len(uploads) == 0 {
		t.Fatal("no multipart upload left by the killed run")
	}

	r := bin.Run(t, env, "runs", "s3", "--orphans")
	if r.Code != 0 {
		t.Fatalf("runs --orphans: exit %d: %s", r.Code, r.Stderr)
	}
	testkit.Contains(t, "runs --orphans", r.Stdout, "UNPUBLISHED RUN", "s3://lake/raw/big/", "multipart upload", strings.TrimPrefix(uploads[0], "raw/"))

	r = bin.Run(t, env, "verify", "s3.big")
	if r.Code != 1 {
		t.Fatalf("verify: exit %d: %s%s", r.Code, r.Stdout, r.Stderr)
	}
	testkit.Contains(t, "verify", r.Stderr, "1 run left files but no manifest")

	r = bin.Run(t, env, "gc", "s3", "--older-than", "0s")
	if r.Code != 0 || len(objects()) == 0 || len(srv.ListMultipartUploads(t, "lake")) == 0 {
		t.Fatalf("dry run changed the bucket or failed: exit %d: %s", r.Code, r.Stderr)
	}
	r = bin.Run(t, env, "gc", "s3", "--older-than", "0s", "--delete")
	if r.Code != 0 {
		t.Fatalf("gc --delete: exit %d: %s", r.Code, r.Stderr)
	}
	if left := objects(); len(left) != 0 {
		t.Errorf("gc left objects: %v", left)
	}
	noUploadsLeft(t, srv)
}
