package testkit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/halfpipe-io/halfpipe/testkit/tool"
)

// S3Server is a real S3 server (versitygw with its posix backend) on
// 127.0.0.1, started by StartS3 and stopped when the test ends.
type S3Server struct {
	// Endpoint is the server's URL, http://127.0.0.1:PORT.
	Endpoint string
	// Region is the region the server signs for, "us-east-1".
	Region string
	// AccessKey and SecretKey are the root credentials, random per server.
	AccessKey, SecretKey string
	// Dir is the posix backend root: each bucket is a subdirectory and
	// each object a file below it.
	Dir string

	bin     string
	addr    string
	iamDir  string
	sidecar string // metadata directory when Dir's filesystem lacks xattrs
	out     *logBuffer

	mu     sync.Mutex
	proc   *exec.Cmd
	done   chan struct{}
	waited error // the exit status, valid once done is closed
	grants map[string][]policyStatement
}

const s3StartTimeout = 30 * time.Second

// StartS3 installs versitygw (InstallTool), starts it on a free port of
// 127.0.0.1 with a fresh posix root and IAM directory and random root
// credentials, and waits until it answers. The server is killed when the
// test ends, whether it passed or not. A server that cannot be installed
// or started skips the test, or fails it in CI (see NeedService).
func StartS3(t TB) *S3Server {
	t.Helper()
	bin := InstallTool(t, tool.VersitygwModule, tool.VersitygwVersion, "versitygw")
	s := &S3Server{
		Region:    "us-east-1",
		AccessKey: "hpTEST" + randHex(8),
		SecretKey: randHex(20),
		Dir:       t.TempDir(),
		bin:       bin,
		iamDir:    t.TempDir(),
		out:       &logBuffer{},
		grants:    map[string][]policyStatement{},
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("versitygw output (tail):\n%s", s.out.tail(4096))
		}
		s.kill()
	})
	for attempt := 1; ; attempt++ {
		addr, err := freeAddr()
		if err != nil {
			NeedService(t, "versitygw", err)
		}
		s.addr, s.Endpoint = addr, "http://"+addr
		err = s.start()
		if err == nil {
			return s
		}
		log := s.out.String()
		switch {
		case s.sidecar == "" && strings.Contains(log, "xattr"):
			// The temporary directory's filesystem has no extended
			// attributes: keep the metadata in a sidecar directory.
			s.sidecar = t.TempDir()
			s.out.WriteString("--- retrying with --sidecar ---\n")
			continue
		case attempt < 3 && strings.Contains(log, "address already in use"):
			s.out.WriteString("--- retrying on another port ---\n")
			continue
		}
		NeedService(t, "versitygw", err)
	}
}

// start runs versitygw and waits until it answers HTTP.
func (s *S3Server) start() error {
	args := []string{
		"--port", s.addr,
		"--access", s.AccessKey, "--secret", s.SecretKey,
		"--region", s.Region,
		"--iam-dir", s.iamDir,
		"--keep-alive", "--quiet",
		"posix",
	}
	if s.sidecar != "" {
		args = append(args, "--sidecar", s.sidecar)
	}
	args = append(args, s.Dir)
	cmd := exec.Command(s.bin, args...)
	cmd.Env = toolEnv()
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting versitygw: %w", err)
	}
	done := make(chan struct{})
	s.mu.Lock()
	s.proc, s.done = cmd, done
	s.mu.Unlock()
	go func() {
		err := cmd.Wait()
		s.mu.Lock()
		s.waited = err
		s.mu.Unlock()
		close(done)
	}()

	probe := &http.Client{
		Timeout:   time.Second,
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
	}
	deadline := time.Now().Add(s3StartTimeout)
	for {
		select {
		case <-done:
			s.mu.Lock()
			err := s.waited
			s.proc = nil
			s.mu.Unlock()
			return fmt.Errorf("versitygw exited at start (%v):\n%s", err, s.out.tail(4096))
		default:
		}
		// Any HTTP answer (an anonymous ListBuckets is denied) means the
		// server is serving.
		resp, err := probe.Get(s.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("versitygw not answering on %s after %v: %v\n%s", s.addr, s3StartTimeout, err, s.out.tail(4096))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill SIGKILLs the server, if running, and waits for it to exit.
func (s *S3Server) kill() {
	s.mu.Lock()
	cmd, done := s.proc, s.done
	s.proc = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// Stop kills the server with SIGKILL, as in a crash: nothing is flushed
// or cleaned up, incomplete multipart uploads stay. The directory is kept
// for Restart. Stopping a stopped server does nothing.
func (s *S3Server) Stop(t TB) {
	t.Helper()
	s.kill()
}

// Restart starts the server again on the same port, directory and
// credentials (killing it first if it runs) and waits until it answers.
func (s *S3Server) Restart(t TB) {
	t.Helper()
	s.kill()
	s.out.WriteString("--- restart ---\n")
	if err := s.start(); err != nil {
		t.Fatalf("restarting versitygw: %v", err)
	}
}

// Output returns everything the server wrote to stdout and stderr (it
// runs with --quiet, so only errors and startup messages).
func (s *S3Server) Output() string { return s.out.String() }

func (s *S3Server) fatalf(t TB, format string, args ...any) {
	t.Helper()
	t.Fatalf("%s\nversitygw output (tail):\n%s", fmt.Sprintf(format, args...), s.out.tail(2048))
}

// Env returns environment variables that point AWS SDKs and tools at the
// server's root credentials and region, and keep any user configuration,
// shared credentials and instance metadata out.
func (s *S3Server) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + s.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.SecretKey,
		"AWS_REGION=" + s.Region,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
	}
}

// Client returns an aws-sdk-go-v2 S3 client for the server: path-style
// addressing, BaseEndpoint = Endpoint, the root credentials and the
// SDK's standard retryer. No environment or shared configuration is read.
// optFns adjust the options, e.g. BaseEndpoint for a FaultProxy,
// Credentials for another user or Retryer.
func (s *S3Server) Client(t TB, optFns ...func(*s3.Options)) *s3.Client {
	t.Helper()
	return s3.New(s3.Options{
		Region:       s.Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
	}, optFns...)
}

func s3ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), time.Minute)
}

// CreateBucket creates a bucket owned by the root user.
func (s *S3Server) CreateBucket(t TB, name string) {
	t.Helper()
	ctx, cancel := s3ctx()
	defer cancel()
	if _, err := s.Client(t).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		s.fatalf(t, "creating bucket %s: %v", name, err)
	}
}

// ListMultipartUploads returns the keys of the bucket's incomplete
// multipart uploads (a key appears once per upload).
func (s *S3Server) ListMultipartUploads(t TB, bucket string) []string {
	t.Helper()
	ctx, cancel := s3ctx()
	defer cancel()
	c := s.Client(t)
	var keys []string
	in := &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)}
	for {
		out, err := c.ListMultipartUploads(ctx, in)
		if err != nil {
			s.fatalf(t, "listing multipart uploads of %s: %v", bucket, err)
		}
		for _, u := range out.Uploads {
			keys = append(keys, aws.ToString(u.Key))
		}
		if !aws.ToBool(out.IsTruncated) {
			return keys
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}

// Objects downloads every object of bucket whose key starts with prefix
// and returns their bodies by key.
func (s *S3Server) Objects(t TB, bucket, prefix string) map[string][]byte {
	t.Helper()
	ctx, cancel := s3ctx()
	defer cancel()
	c := s.Client(t)
	objects := map[string][]byte{}
	pages := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			s.fatalf(t, "listing %s/%s: %v", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			if err != nil {
				s.fatalf(t, "getting %s/%s: %v", bucket, key, err)
			}
			body, err := io.ReadAll(out.Body)
			out.Body.Close()
			if err != nil {
				s.fatalf(t, "reading %s/%s: %v", bucket, key, err)
			}
			objects[key] = body
		}
	}
	return objects
}

// PartsCount returns the number of parts of a completed object, 1 for an
// object that was not uploaded in parts. It reads PartsCount from
// HeadObject with PartNumber=1, which versitygw's posix backend answers
// from the object's stored multipart metadata (GetObjectAttributes does
// not report ObjectParts there).
func (s *S3Server) PartsCount(t TB, bucket, key string) int {
	t.Helper()
	ctx, cancel := s3ctx()
	defer cancel()
	out, err := s.Client(t).HeadObject(ctx, &s3.HeadObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), PartNumber: aws.Int32(1),
	})
	if err != nil {
		s.fatalf(t, "head %s/%s: %v", bucket, key, err)
	}
	if out.PartsCount == nil {
		return 1
	}
	return int(*out.PartsCount)
}

// CreateUser adds a user with role "user" to the server's internal IAM
// (through the admin API, with versitygw's admin command). Such a user
// owns nothing and may do nothing until Grant gives it access to a bucket.
func (s *S3Server) CreateUser(t TB, access, secret string) {
	t.Helper()
	ctx, cancel := s3ctx()
	defer cancel()
	cmd := exec.CommandContext(ctx, s.bin,
		"admin", "--access", s.AccessKey, "--secret", s.SecretKey, "--region", s.Region,
		"--endpoint-url", s.Endpoint,
		"create-user", "--access", access, "--secret", secret, "--role", "user")
	cmd.Env = toolEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		s.fatalf(t, "creating user %s: %v\n%s", access, err, out)
	}
}

type policyStatement struct {
	Effect    string              `json:"Effect"`
	Principal map[string][]string `json:"Principal"`
	Action    []string            `json:"Action"`
	Resource  []string            `json:"Resource"`
}

// Grant lets the user access (see CreateUser) list bucket and read every
// object in it and, for each of writePrefixes, write (put, multipart
// upload, delete) objects whose keys start with that prefix; without
// writePrefixes the access is read-only. It sets the bucket policy, which
// versitygw enforces; grants on a bucket accumulate.
func (s *S3Server) Grant(t TB, bucket, access string, writePrefixes ...string) {
	t.Helper()
	principal := map[string][]string{"AWS": {access}}
	arn := "arn:aws:s3:::" + bucket
	st := []policyStatement{
		{Effect: "Allow", Principal: principal, Action: []string{"s3:ListBucket", "s3:ListBucketMultipartUploads"}, Resource: []string{arn}},
		{Effect: "Allow", Principal: principal, Action: []string{"s3:GetObject"}, Resource: []string{arn + "/*"}},
	}
	if len(writePrefixes) > 0 {
		var res []string
		for _, p := range writePrefixes {
			res = append(res, arn+"/"+p+"*")
		}
		st = append(st, policyStatement{
			Effect: "Allow", Principal: principal, Resource: res,
			Action: []string{"s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts", "s3:DeleteObject"},
		})
	}
	s.mu.Lock()
	s.grants[bucket] = append(s.grants[bucket], st...)
	policy, err := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": s.grants[bucket]})
	s.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := s3ctx()
	defer cancel()
	if _, err := s.Client(t).PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{
		Bucket: aws.String(bucket), Policy: aws.String(string(policy)),
	}); err != nil {
		s.fatalf(t, "setting the policy of %s: %v\n%s", bucket, err, policy)
	}
}

// UserClient is Client with the credentials of a user made by CreateUser.
func (s *S3Server) UserClient(t TB, access, secret string, optFns ...func(*s3.Options)) *s3.Client {
	t.Helper()
	return s.Client(t, append([]func(*s3.Options){func(o *s3.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(access, secret, "")
	}}, optFns...)...)
}

// toolEnv is a minimal environment for versitygw: it reads many settings
// (root keys, ports, log hooks) from the environment, none of which may
// leak in from the caller's.
func toolEnv() []string {
	env := []string{"PATH=" + os.Getenv("PATH")}
	for _, k := range []string{"HOME", "TMPDIR", "SYSTEMROOT"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

func freeAddr() (string, error) {
	addrs, err := freeAddrs(1)
	if err != nil {
		return "", err
	}
	return addrs[0], nil
}

// freeAddrs returns n distinct free addresses on 127.0.0.1: each is held
// until all are found (one closed before the next is asked for may come
// back again).
func freeAddrs(n int) ([]string, error) {
	addrs := make([]string, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("no free port on 127.0.0.1: %w", err)
		}
		defer l.Close()
		addrs = append(addrs, l.Addr().String())
	}
	return addrs, nil
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// logBuffer collects a process's output for failure messages, keeping
// the newest output when it grows large.
type logBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const logBufferMax = 1 << 20

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > logBufferMax {
		b.buf = append([]byte("[...]\n"), b.buf[len(b.buf)-logBufferMax/2:]...)
	}
	return len(p), nil
}

func (b *logBuffer) WriteString(s string) { _, _ = b.Write([]byte(s)) }

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

func (b *logBuffer) tail(n int) string {
	s := b.String()
	if len(s) > n {
		s = "[...]" + s[len(s)-n:]
	}
	if s == "" {
		return "(no output)"
	}
	return s
}
