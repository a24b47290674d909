package testkit

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// noRetry makes a client try every request once.
func noRetry(o *s3.Options) { o.Retryer = aws.NopRetryer{} }

// fastRetry is the SDK's standard retryer with short backoffs.
func fastRetry(o *s3.Options) {
	o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
		so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) {
			return 10 * time.Millisecond, nil
		})
	})
}

func via(p *FaultProxy) func(*s3.Options) {
	return func(o *s3.Options) { o.BaseEndpoint = aws.String(p.URL) }
}

func put(t *testing.T, c *s3.Client, bucket, key string, body []byte) error {
	_, err := c.PutObject(ctx(t), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body),
	})
	return err
}

func get(t *testing.T, c *s3.Client, bucket, key string) ([]byte, error) {
	out, err := c.GetObject(ctx(t), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestS3PutGet(t *testing.T) {
	t.Parallel()
	s := StartS3(t)
	if !strings.HasPrefix(s.Endpoint, "http://127.0.0.1:") {
		t.Errorf("endpoint %s is not on 127.0.0.1", s.Endpoint)
	}
	s.CreateBucket(t, "data")
	c := s.Client(t)
	if err := put(t, c, "data", "dir/a.txt", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := put(t, c, "data", "other.txt", []byte("x")); err != nil {
		t.Fatal(err)
	}
	body, err := get(t, c, "data", "dir/a.txt")
	if err != nil || string(body) != "hello" {
		t.Fatalf("get: %q, %v", body, err)
	}
	objs := s.Objects(t, "data", "dir/")
	if len(objs) != 1 || string(objs["dir/a.txt"]) != "hello" {
		t.Errorf("Objects(dir/) = %q", objs)
	}
	if n := s.PartsCount(t, "data", "dir/a.txt"); n != 1 {
		t.Errorf("PartsCount of a plain object = %d, want 1", n)
	}
	// The posix backend keeps objects as files under Dir.
	if b, err := os.ReadFile(filepath.Join(s.Dir, "data", "dir", "a.txt")); err != nil || string(b) != "hello" {
		t.Errorf("object file under Dir: %q, %v", b, err)
	}
	if _, err := get(t, c, "data", "missing"); errorCode(err) != "NoSuchKey" {
		t.Errorf("get missing: %v", err)
	}
	for _, kv := range s.Env() {
		if strings.HasPrefix(kv, "AWS_ACCESS_KEY_ID=") && kv != "AWS_ACCESS_KEY_ID="+s.AccessKey {
			t.Errorf("Env: %s", kv)
		}
	}
}

func TestS3Multipart(t *testing.T) {
	t.Parallel()
	s := StartS3(t)
	s.CreateBucket(t, "mpu")
	c := s.Client(t)
	const partSize = 5 << 20
	parts := [][]byte{bytes.Repeat([]byte("a"), partSize), bytes.Repeat([]byte("bkt"), partSize)}

	up, err := c.CreateMultipartUpload(ctx(t), &s3.CreateMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("big")})
	if err != nil {
		t.Fatal(err)
	}
	if keys := s.ListMultipartUploads(t, "mpu"); len(keys) != 1 || keys[0] != "big" {
		t.Errorf("ListMultipartUploads during upload = %q", keys)
	}
	var done []types.CompletedPart
	for i, p := range parts {
		out, err := c.UploadPart(ctx(t), &s3.UploadPartInput{
			Bucket: aws.String("mpu"), Key: aws.String("big"), UploadId: up.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p),
		})
		if err != nil {
			t.Fatal(err)
		}
		done = append(done, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(i + 1))})
	}
	if _, err := c.CompleteMultipartUpload(ctx(t), &s3.CompleteMultipartUploadInput{
		Bucket: aws.String("mpu"), Key: aws.String("big"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done},
	}); err != nil {
		t.Fatal(err)
	}
	if n := s.PartsCount(t, "mpu", "big"); n != 2 {
		t.Errorf("PartsCount = %d, want 2", n)
	}
	if got := s.Objects(t, "mpu", "")["big"]; !bytes.Equal(got, append(parts[0], parts[1]...)) {
		t.Errorf("object has %d bytes, want %d", len(got), 2*partSize)
	}
	if keys := s.ListMultipartUploads(t, "mpu"); len(keys) != 0 {
		t.Errorf("ListMultipartUploads after completing = %q", keys)
	}

	// Abort.
	up2, err := c.CreateMultipartUpload(ctx(t), &s3.CreateMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("aborted")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UploadPart(ctx(t), &s3.UploadPartInput{
		Bucket: aws.String("mpu"), Key: aws.String("aborted"), UploadId: up2.UploadId,
		PartNumber: aws.Int32(1), Body: bytes.NewReader([]byte("part")),
	}); err != nil {
		t.Fatal(err)
	}
	if keys := s.ListMultipartUploads(t, "mpu"); len(keys) != 1 || keys[0] != "aborted" {
		t.Errorf("ListMultipartUploads = %q", keys)
	}
	if _, err := c.AbortMultipartUpload(ctx(t), &s3.AbortMultipartUploadInput{
		Bucket: aws.String("mpu"), Key: aws.String("aborted"), UploadId: up2.UploadId,
	}); err != nil {
		t.Fatal(err)
	}
	if keys := s.ListMultipartUploads(t, "mpu"); len(keys) != 0 {
		t.Errorf("ListMultipartUploads after abort = %q", keys)
	}
}

func TestS3ConditionalPut(t *testing.T) {
	t.Parallel()
	s := StartS3(t)
	s.CreateBucket(t, "bkt")
	c := s.Client(t)
	putNew := func(body string) error {
		_, err := c.PutObject(ctx(t), &s3.PutObjectInput{
			Bucket: aws.String("bkt"), Key: aws.String("once"), Body: strings.NewReader(body),
			IfNoneMatch: aws.String("*"),
		})
		return err
	}
	if err := putNew("first"); err != nil {
		t.Fatal(err)
	}
	err := putNew("second")
	if httpStatus(err) != http.StatusPreconditionFailed {
		t.Fatalf("second conditional put: %v, want 412", err)
	}
	if body, _ := get(t, c, "bkt", "once"); string(body) != "first" {
		t.Errorf("object = %q after a refused overwrite", body)
	}

	// CompleteMultipartUpload honours If-None-Match too.
	up, err := c.CreateMultipartUpload(ctx(t), &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("once")})
	if err != nil {
		t.Fatal(err)
	}
	part, err := c.UploadPart(ctx(t), &s3.UploadPartInput{
		Bucket: aws.String("bkt"), Key: aws.String("once"), UploadId: up.UploadId,
		PartNumber: aws.Int32(1), Body: strings.NewReader("mpu"),
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CompleteMultipartUpload(ctx(t), &s3.CompleteMultipartUploadInput{
		Bucket: aws.String("bkt"), Key: aws.String("once"), UploadId: up.UploadId, IfNoneMatch: aws.String("*"),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{ETag: part.ETag, PartNumber: aws.Int32(1)}}},
	})
	if httpStatus(err) != http.StatusPreconditionFailed {
		t.Errorf("conditional complete over an existing key: %v, want 412", err)
	}
}

func TestS3StopRestart(t *testing.T) {
	t.Parallel()
	s := StartS3(t)
	s.CreateBucket(t, "bkt")
	c := s.Client(t)
	if err := put(t, c, "bkt", "kept", []byte("data")); err != nil {
		t.Fatal(err)
	}
	up, err := c.CreateMultipartUpload(ctx(t), &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("partial")})
	if err != nil {
		t.Fatal(err)
	}
	s.Stop(t)
	if _, err := get(t, s.Client(t, noRetry), "bkt", "kept"); err == nil {
		t.Fatal("get from a stopped server succeeded")
	}
	s.Restart(t)
	if objs := s.Objects(t, "bkt", ""); len(objs) != 1 || string(objs["kept"]) != "data" {
		t.Errorf("objects after restart = %q", objs)
	}
	if keys := s.ListMultipartUploads(t, "bkt"); len(keys) != 1 || keys[0] != "partial" {
		t.Errorf("uploads after restart = %q", keys)
	}
	if _, err := c.AbortMultipartUpload(ctx(t), &s3.AbortMultipartUploadInput{
		Bucket: aws.String("bkt"), Key: aws.String("partial"), UploadId: up.UploadId,
	}); err != nil {
		t.Errorf("abort after restart: %v", err)
	}
}

func TestS3Users(t *testing.T) {
	t.Parallel()
	s := StartS3(t)
	s.CreateBucket(t, "bkt")
	if err := put(t, s.Client(t), "bkt", "in/x", []byte("x")); err != nil {
		t.Fatal(err)
	}

	wrong := s.UserClient(t, "nobody", "wrongsecret", noRetry)
	if _, err := get(t, wrong, "bkt", "in/x"); httpStatus(err) != http.StatusForbidden {
		t.Errorf("unknown access key: %v, want 403", err)
	}
	badSecret := s.UserClient(t, s.AccessKey, "wrongsecret", noRetry)
	if _, err := get(t, badSecret, "bkt", "in/x"); errorCode(err) != "SignatureDoesNotMatch" {
		t.Errorf("wrong secret: %v, want SignatureDoesNotMatch", err)
	}

	s.CreateUser(t, "reader", "readersecret")
	reader := s.UserClient(t, "reader", "readersecret", noRetry)
	if _, err := get(t, reader, "bkt", "in/x"); httpStatus(err) != http.StatusForbidden {
		t.Errorf("get without a grant: %v, want 403", err)
	}
	s.Grant(t, "bkt", "reader")
	if body, err := get(t, reader, "bkt", "in/x"); err != nil || string(body) != "x" {
		t.Errorf("read-only get: %q, %v", body, err)
	}
	if _, err := reader.ListObjectsV2(ctx(t), &s3.ListObjectsV2Input{Bucket: aws.String("bkt")}); err != nil {
		t.Errorf("read-only list: %v", err)
	}
	if err := put(t, reader, "bkt", "in/y", []byte("y")); httpStatus(err) != http.StatusForbidden {
		t.Errorf("read-only put: %v, want 403", err)
	}

	s.CreateUser(t, "writer", "writersecret")
	s.Grant(t, "bkt", "writer", "out/")
	writer := s.UserClient(t, "writer", "writersecret", noRetry)
	if err := put(t, writer, "bkt", "out/y", []byte("y")); err != nil {
		t.Errorf("put under the writable prefix: %v", err)
	}
	if _, err := writer.CreateMultipartUpload(ctx(t), &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("out/mp")}); err != nil {
		t.Errorf("multipart upload under the writable prefix: %v", err)
	}
	if err := put(t, writer, "bkt", "in/y", []byte("y")); httpStatus(err) != http.StatusForbidden {
		t.Errorf("put outside the writable prefix: %v, want 403", err)
	}
	// The earlier grant still holds.
	if _, err := get(t, reader, "bkt", "out/y"); err != nil {
		t.Errorf("reader after a second grant: %v", err)
	}
}

func TestFaultProxy(t *testing.T) {
	t.Parallel()
	s := StartS3(t)
	s.CreateBucket(t, "bkt")
	p := StartFaultProxy(t, s.Endpoint)
	retrying := s.Client(t, via(p), fastRetry)
	once := s.Client(t, via(p), noRetry)

	t.Run("forward", func(t *testing.T) {
		if err := put(t, once, "bkt", "plain", []byte("through the proxy")); err != nil {
			t.Fatal(err)
		}
		if body, err := get(t, once, "bkt", "plain"); err != nil || string(body) != "through the proxy" {
			t.Fatalf("get: %q, %v", body, err)
		}
		if p.Hits() != 0 || p.Requests() < 2 {
			t.Errorf("hits %d, requests %d", p.Hits(), p.Requests())
		}
	})

	t.Run("slowdown", func(t *testing.T) {
		p.Clear()
		hits, reqs := p.Hits(), p.Requests()
		p.Inject(Fault{Match: IsPut, Times: 2, Status: http.StatusServiceUnavailable, Code: "SlowDown"})
		// Over 2 MiB, so the SDK sends Expect: 100-continue and the
		// proxy drains the body before answering.
		body := bytes.Repeat([]byte("e"), 3<<20)
		if err := put(t, retrying, "bkt", "retried", body); err != nil {
			t.Fatalf("put with retries: %v", err)
		}
		if got := s.Objects(t, "bkt", "retried")["retried"]; !bytes.Equal(got, body) {
			t.Errorf("retried object has %d bytes, want %d", len(got), len(body))
		}
		if got := p.Hits() - hits; got != 2 {
			t.Errorf("hits = %d, want 2", got)
		}
		if got := p.Requests() - reqs; got != 3 {
			t.Errorf("requests = %d, want 3", got)
		}
		p.Inject(Fault{Match: IsPut, Times: 1, Status: http.StatusInternalServerError})
		err := put(t, once, "bkt", "retried", []byte("no"))
		if httpStatus(err) != 500 || errorCode(err) != "InternalError" {
			t.Errorf("put without retries: %v, want 500 InternalError", err)
		}
	})

	t.Run("drop", func(t *testing.T) {
		p.Clear()
		p.Inject(Fault{Drop: true})
		if err := put(t, once, "bkt", "dropped", []byte("x")); err == nil || httpStatus(err) != 0 {
			t.Fatalf("put through a dropped connection: %v", err)
		}
		p.Clear()
		if _, ok := s.Objects(t, "bkt", "")["dropped"]; ok {
			t.Error("a dropped put reached the server")
		}
		p.Inject(Fault{Drop: true, Times: 1})
		if err := put(t, retrying, "bkt", "dropped", []byte("x")); err != nil {
			t.Errorf("put retried after a drop: %v", err)
		}
	})

	t.Run("drop after bytes", func(t *testing.T) {
		p.Clear()
		p.Inject(Fault{Match: IsPut, DropAfterBytes: 64 << 10})
		body := bytes.Repeat([]byte("z"), 3<<20)
		if err := put(t, once, "bkt", "cut", body); err == nil {
			t.Fatal("put cut mid-body succeeded")
		}
		p.Clear()
		if _, ok := s.Objects(t, "bkt", "")["cut"]; ok {
			t.Error("an object cut mid-body exists")
		}
	})

	t.Run("drop response", func(t *testing.T) {
		p.Clear()
		p.Inject(Fault{Match: IsPut, DropResponse: true})
		if err := put(t, once, "bkt", "unanswered", []byte("done anyway")); err == nil {
			t.Fatal("put whose answer was dropped succeeded")
		}
		p.Clear()
		if got := s.Objects(t, "bkt", "")["unanswered"]; string(got) != "done anyway" {
			t.Errorf("object = %q, want it stored", got)
		}
	})

	t.Run("multipart matchers", func(t *testing.T) {
		p.Clear()
		var mu sync.Mutex
		var matched []string
		for name, m := range map[string]func(*http.Request) bool{
			"create": IsCreateMultipart, "part": IsUploadPart, "complete": IsCompleteMultipart, "put": IsPut,
		} {
			p.Inject(Fault{Match: func(r *http.Request) bool {
				if m(r) {
					mu.Lock()
					matched = append(matched, name)
					mu.Unlock()
				}
				return false
			}})
		}
		up, err := once.CreateMultipartUpload(ctx(t), &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("m")})
		if err != nil {
			t.Fatal(err)
		}
		part, err := once.UploadPart(ctx(t), &s3.UploadPartInput{
			Bucket: aws.String("bkt"), Key: aws.String("m"), UploadId: up.UploadId,
			PartNumber: aws.Int32(1), Body: strings.NewReader("p"),
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := once.CompleteMultipartUpload(ctx(t), &s3.CompleteMultipartUploadInput{
			Bucket: aws.String("bkt"), Key: aws.String("m"), UploadId: up.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{ETag: part.ETag, PartNumber: aws.Int32(1)}}},
		}); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if got := strings.Join(matched, ","); got != "create,part,complete" {
			t.Errorf("matched %s", got)
		}
	})

	t.Run("delay", func(t *testing.T) {
		p.Clear()
		p.Inject(Fault{Delay: 300 * time.Millisecond, Times: 1})
		start := time.Now()
		if _, err := get(t, once, "bkt", "plain"); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 300*time.Millisecond {
			t.Errorf("delayed request took %v", d)
		}
	})
}
