package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/testkit"
)

// s3Store starts a real S3 server (optionally behind a fault proxy) and
// opens a store on s3://lake/base.
func s3Store(t *testing.T, withProxy bool, o S3Options) (*S3, *testkit.S3Server, *testkit.FaultProxy) {
	t.Helper()
	srv := testkit.StartS3(t)
	srv.CreateBucket(t, "lake")
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	endpoint := srv.Endpoint
	var proxy *testkit.FaultProxy
	if withProxy {
		proxy = testkit.StartFaultProxy(t, srv.Endpoint)
		endpoint = proxy.URL
	}
	if o.Endpoint == "" {
		o.Endpoint = endpoint
	}
	s, err := NewS3(t.Context(), "s3://lake/base", o)
	if err != nil {
		t.Fatal(err)
	}
	return s, srv, proxy
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func writeObject(t *testing.T, s *S3, key string, data []byte, chunk int) error {
	t.Helper()
	ctx := t.Context()
	o, err := s.Create(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(data); off += chunk {
		if _, err := o.Write(data[off:min(off+chunk, len(data))]); err != nil {
			_ = o.Abort(context.Background())
			return err
		}
	}
	return o.Commit(ctx)
}

func TestS3StoreObjects(t *testing.T) {
	s, srv, _ := s3Store(t, false, S3Options{PartSize: "5MiB", Concurrency: 2})
	ctx := t.Context()

	// Streamed objects: small ones in one put, large ones in parts that
	// come out in order.
	small := []byte("id,name\n1,a\n")
	large := randomBytes(t, 13<<20)
	if err := writeObject(t, s, "t/small.csv", small, 5); err != nil {
		t.Fatal(err)
	}
	if err := writeObject(t, s, "t/large.bin", large, 100_000); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string][]byte{"t/small.csv": small, "t/large.bin": large} {
		got, err := s.Get(ctx, key)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: read back %d bytes (%v), wrote %d", key, len(got), err, len(want))
		}
	}
	if n := srv.PartsCount(t, "lake", "base/t/large.bin"); n != 3 {
		t.Fatalf("13 MiB in 5 MiB parts: %d parts, want 3", n)
	}
	// S3 was sent a SHA-256 of every part and put, and checked it.
	for _, key := range []string{"base/t/small.csv", "base/t/large.bin"} {
		head, err := srv.Client(t).HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("lake"), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil || aws.ToString(head.ChecksumSHA256) == "" {
			t.Fatalf("%s: no SHA-256 checksum stored (%v)", key, err)
		}
	}
	if s.URL("t/small.csv") != "s3://lake/base/t/small.csv" {
		t.Fatalf("URL %s", s.URL("t/small.csv"))
	}

	// Listing is relative to the prefix, sorted, and complete.
	list, err := s.List(ctx, "t/")
	if err != nil || len(list) != 2 || list[0].Key != "t/large.bin" || list[1].Size != int64(len(small)) {
		t.Fatalf("list: %+v (%v)", list, err)
	}

	// Publishing never replaces: a second object, put or streamed, under a
	// taken key fails with ErrExists, and the first stays.
	if err := s.PutIfAbsent(ctx, "t/_manifest.json", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutIfAbsent(ctx, "t/_manifest.json", []byte("two")); !errors.Is(err, ErrExists) {
		t.Fatalf("second conditional put: %v", err)
	}
	if err := writeObject(t, s, "t/large.bin", large[:6<<20], 1<<20); !errors.Is(err, ErrExists) {
		t.Fatalf("streaming over an existing object: %v", err)
	}
	if got, _ := s.Get(ctx, "t/_manifest.json"); string(got) != "one" {
		t.Fatalf("manifest replaced: %q", got)
	}
	if err := s.Put(ctx, "t/state.json", []byte("v2")); err != nil {
		t.Fatal(err)
	}

	// An aborted object leaves nothing, not even parts.
	o, err := s.Create(ctx, "t/aborted.bin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Write(large); err != nil {
		t.Fatal(err)
	}
	if len(srv.ListMultipartUploads(t, "lake")) != 1 {
		t.Fatal("no multipart upload in progress while writing 13 MiB")
	}
	if err := o.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	if left := srv.ListMultipartUploads(t, "lake"); len(left) != 0 {
		t.Fatalf("uploads left after Abort: %v", left)
	}
	if _, err := s.Get(ctx, "t/aborted.bin"); !errors.Is(err, ErrNotExist) {
		t.Fatalf("aborted object: %v", err)
	}

	// Delete is idempotent; keys may not escape the prefix.
	if err := s.Delete(ctx, "t/small.csv"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "t/small.csv"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "../other/x"); err == nil {
		t.Fatal("a key with .. was accepted")
	}
}

func TestS3RetriedPublishIsNotAConflict(t *testing.T) {
	s, _, proxy := s3Store(t, true, S3Options{})
	// The put lands but its answer is lost; the retry then finds the key
	// taken by its own bytes.
	proxy.Inject(testkit.Fault{Match: testkit.IsPut, Times: 1, DropResponse: true})
	if err := s.PutIfAbsent(t.Context(), "run/_manifest.json", []byte(`{"run":1}`)); err != nil {
		t.Fatalf("retried conditional put: %v", err)
	}
	if proxy.Hits() != 1 {
		t.Fatalf("%d faults injected", proxy.Hits())
	}
	if err := s.PutIfAbsent(t.Context(), "run/_manifest.json", []byte(`{"run":2}`)); !errors.Is(err, ErrExists) {
		t.Fatalf("another run's manifest: %v", err)
	}
}

func TestS3FailedPartAbortsTheUpload(t *testing.T) {
	s, srv, proxy := s3Store(t, true, S3Options{PartSize: "5MiB", Concurrency: 3})
	proxy.Inject(testkit.Fault{Match: testkit.IsUploadPart, Status: http.StatusForbidden, Code: "AccessDenied"})
	err := writeObject(t, s, "x/big.bin", randomBytes(t, 12<<20), 1<<20)
	if !errors.Is(err, sdk.ErrPermissionDenied) || !strings.Contains(err.Error(), "s3://lake/base/x/big.bin") {
		t.Fatalf("error: %v", err)
	}
	proxy.Clear()
	if left := srv.ListMultipartUploads(t, "lake"); len(left) != 0 {
		t.Fatalf("uploads left: %v", left)
	}
}

func TestS3Options(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	for _, c := range []struct {
		dsn  string
		o    S3Options
		want string
	}{
		{"s3://", S3Options{}, "names no bucket"},
		{"s3://AKIA:secret@b/p", S3Options{}, "take no credentials"},
		{"s3://b/p?regoin=x", S3Options{}, `unknown parameter "regoin"`},
		{"s3://b/p?path_style=maybe", S3Options{}, "path_style"},
		{"s3://b/p", S3Options{SSE: "rot13"}, "--s3-sse"},
		{"s3://b/p?kms_key_id=k", S3Options{}, "needs --s3-sse aws:kms"},
		{"s3://b/p", S3Options{StorageClass: "cold"}, `unknown storage class "COLD"`},
		{"s3://b/p?part_size=4MiB", S3Options{}, "5 MiB to 5 GiB"},
		{"s3://b/p?concurrency=0", S3Options{}, "concurrency"},
	} {
		_, err := NewS3(t.Context(), c.dsn, c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Errorf("%s %+v: %v, want an invalid-argument error about %q", c.dsn, c.o, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: the error prints the secret: %v", c.dsn, err)
		}
	}
	// Flags win over the DSN; part sizes grow so that any file fits in
	// S3's 10,000 parts.
	s := &S3{}
	q := map[string][]string{"sse": {"aws:kms"}, "kms_key_id": {"dsn-key"}, "part_size": {"16MiB"}, "concurrency": {"9"}}
	pick := func(flag, param string) string {
		if flag != "" {
			return flag
		}
		return first(q[param])
	}
	if err := s.configure(S3Options{KMSKeyID: "flag-key", Concurrency: 2}, q, pick); err != nil {
		t.Fatal(err)
	}
	if s.kmsKeyID != "flag-key" || s.partSize != 16<<20 || s.concurrency != 2 || s.sse != "aws:kms" {
		t.Fatalf("configured %+v", s)
	}
	o := &s3Object{s: &S3{partSize: 8 << 20}}
	var total int64
	for n := int32(1); n <= maxParts; n++ {
		total += o.partSize(n)
	}
	if o.partSize(1) != 8<<20 || o.partSize(1001) != 16<<20 || total < 5<<40 {
		t.Fatalf("part sizes %d, %d; %d parts hold %d bytes, want at least S3's 5 TiB object limit", o.partSize(1), o.partSize(1001), maxParts, total)
	}
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// TestS3RequestOptions checks on the wire what versitygw accepts but does
// not act on: encryption and storage class headers go with every object,
// the expected owner with every request, a checksum with every body.
func TestS3RequestOptions(t *testing.T) {
	s, srv, proxy := s3Store(t, true, S3Options{PartSize: "5MiB", SSE: "aws:kms", KMSKeyID: "alias/lake", StorageClass: "standard_ia"})
	s.owner = aws.String(srv.AccessKey) // versitygw's account id is the root access key
	var mu sync.Mutex
	seen := map[string]http.Header{}
	proxy.Inject(testkit.Fault{Match: func(r *http.Request) bool {
		op := r.Method
		switch {
		case testkit.IsCreateMultipart(r):
			op = "create"
		case testkit.IsUploadPart(r):
			op = "part"
		case testkit.IsPut(r):
			op = "put"
		}
		mu.Lock()
		seen[op] = r.Header.Clone()
		mu.Unlock()
		return false
	}})
	if err := writeObject(t, s, "o/small", []byte("x"), 1); err != nil {
		t.Fatal(err)
	}
	if err := writeObject(t, s, "o/large", randomBytes(t, 6<<20), 1<<20); err != nil {
		t.Fatal(err)
	}
	for op, want := range map[string][]string{
		"put":    {"X-Amz-Server-Side-Encryption=aws:kms", "X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id=alias/lake", "X-Amz-Storage-Class=STANDARD_IA", "X-Amz-Checksum-Sha256"},
		"create": {"X-Amz-Server-Side-Encryption=aws:kms", "X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id=alias/lake", "X-Amz-Storage-Class=STANDARD_IA", "X-Amz-Checksum-Algorithm=SHA256"},
		"part":   {"X-Amz-Checksum-Sha256"},
	} {
		h := seen[op]
		if h == nil {
			t.Fatalf("no %s request seen", op)
		}
		want = append(want, "X-Amz-Expected-Bucket-Owner="+srv.AccessKey)
		for _, w := range want {
			k, v, hasValue := strings.Cut(w, "=")
			if got := h.Get(k); got == "" || (hasValue && got != v) {
				t.Errorf("%s: header %s = %q, want %q", op, k, got, v)
			}
		}
	}
	// A bucket that is not the expected owner's is refused, and the error
	// says so.
	s.owner = aws.String("123456789012")
	err := writeObject(t, s, "o/other", []byte("x"), 1)
	if !errors.Is(err, sdk.ErrPermissionDenied) || !strings.Contains(err.Error(), "123456789012") {
		t.Fatalf("wrong owner: %v", err)
	}
}

// TestS3BucketRegion: S3 answers a request in the wrong region with a 301
// naming the bucket's region. Without a configured region hp follows it
// (versitygw then refuses the new region, which shows the request went
// there); with one, the error names both.
func TestS3BucketRegion(t *testing.T) {
	srv := testkit.StartS3(t)
	srv.CreateBucket(t, "lake")
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	proxy := testkit.StartFaultProxy(t, srv.Endpoint)
	moved := testkit.Fault{Times: 1, Status: http.StatusMovedPermanently, Code: "PermanentRedirect",
		Header: map[string]string{"X-Amz-Bucket-Region": "eu-central-1"}}

	proxy.Inject(moved)
	_, err := NewS3(t.Context(), "s3://lake/base", S3Options{Endpoint: proxy.URL})
	if err == nil || !strings.Contains(err.Error(), "not in region eu-central-1") {
		t.Fatalf("following the bucket's region: %v", err)
	}

	proxy.Inject(moved)
	_, err = NewS3(t.Context(), "s3://lake/base", S3Options{Endpoint: proxy.URL, Region: "us-east-1"})
	if !errors.Is(err, sdk.ErrInvalidArgument) || !strings.Contains(err.Error(), "in region eu-central-1, not us-east-1") {
		t.Fatalf("an explicit wrong region: %v", err)
	}
}

func TestRetryAttempts(t *testing.T) {
	for env, want := range map[string]int{"": maxAttempts, "1": 1, "3": 3, "25": 25} {
		if got, err := retryAttempts(env); err != nil || got != want {
			t.Errorf("AWS_MAX_ATTEMPTS=%q: %d, %v; want %d", env, got, err, want)
		}
	}
	for _, env := range []string{"0", "-2", "three", "3.5"} {
		if _, err := retryAttempts(env); err == nil || !strings.Contains(err.Error(), "AWS_MAX_ATTEMPTS") {
			t.Errorf("AWS_MAX_ATTEMPTS=%q: %v, want an error naming the variable", env, err)
		}
	}
}
