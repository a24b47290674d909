package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/halfpipe-io/halfpipe/core/internal/bytesize"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// S3Options configure s3:// stores. Flags fill these; empty fields take the
// DSN's query parameters (?region=, ?endpoint=, ?sse=, ...), then defaults.
type S3Options struct {
	Region string
	// ConnRegion is the connection's HP_<NAME>_S3_REGION: used when
	// neither Region nor the DSN names one.
	ConnRegion          string
	Endpoint            string
	SSE                 string
	KMSKeyID            string
	StorageClass        string
	ExpectedBucketOwner string
	PartSize            string
	Concurrency         int
}

const (
	defaultPartSize    = 8 << 20
	minPartSize        = 5 << 20
	maxPartSize        = 5 << 30
	maxParts           = 10000
	defaultConcurrency = 4
	// The part size doubles every partsPerStep parts, so a file of any
	// size fits S3's 10,000 parts while small files keep small buffers.
	partsPerStep = 1000
	maxAttempts  = 10
)

// S3 stores objects under a bucket prefix. Data objects stream through
// multipart uploads that become visible only when completed.
type S3 struct {
	client      *s3.Client
	bucket      string
	root        string // key prefix, "" or ending in "/"
	region      string
	sse         types.ServerSideEncryption
	kmsKeyID    string
	class       types.StorageClass
	owner       *string
	partSize    int64
	concurrency int
}

// retryAttempts is the number of attempts of an S3 request: hp's own, or
// the AWS SDKs' AWS_MAX_ATTEMPTS when set (the SDK ignores the variable
// beside a retryer of hp's).
func retryAttempts(env string) (int, error) {
	if env == "" {
		return maxAttempts, nil
	}
	n, err := strconv.Atoi(env)
	if err != nil || n < 1 {
		return 0, sdk.InvalidArgumentf("AWS_MAX_ATTEMPTS=%q is not a number of attempts (1 or more)", env)
	}
	return n, nil
}

// NewS3 opens an s3://bucket/prefix store. Credentials come from the
// standard AWS chain (environment, shared config and profiles, container
// and instance roles, the Lambda role), never from the DSN. It checks the
// bucket at once, so a missing bucket, wrong credentials or a wrong region
// fail before any source is read.
func NewS3(ctx context.Context, dsn string, o S3Options) (*S3, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, fmt.Errorf("s3 DSN: %w", errors.New(strings.ReplaceAll(err.Error(), dsn, "s3://…")))
	}
	if u.User != nil {
		return nil, sdk.InvalidArgumentf("s3 DSNs take no credentials: use the AWS credential chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or a role)")
	}
	if u.Host == "" {
		return nil, sdk.InvalidArgumentf("s3 DSN names no bucket: use s3://bucket/prefix")
	}
	q := u.Query()
	pick := func(flag, param string) string {
		if flag != "" {
			return flag
		}
		return q.Get(param)
	}
	s := &S3{bucket: u.Host, root: strings.Trim(u.Path, "/"), concurrency: defaultConcurrency}
	if s.root != "" {
		s.root += "/"
	}
	for k := range q {
		if !slices.Contains([]string{"region", "endpoint", "path_style", "sse", "kms_key_id", "storage_class", "expected_bucket_owner", "part_size", "concurrency"}, k) {
			return nil, sdk.InvalidArgumentf("s3 DSN: unknown parameter %q (known: region, endpoint, path_style, sse, kms_key_id, storage_class, expected_bucket_owner, part_size, concurrency)", k)
		}
	}
	if err := s.configure(o, q, pick); err != nil {
		return nil, err
	}
	region := pick(o.Region, "region")
	if region == "" {
		region = o.ConnRegion
	}
	endpoint := pick(o.Endpoint, "endpoint")
	pathStyle := endpoint != ""
	if v := q.Get("path_style"); v != "" {
		if pathStyle, err = strconv.ParseBool(v); err != nil {
			return nil, sdk.InvalidArgumentf("s3 DSN: path_style=%q is not a boolean", v)
		}
	}
	attempts, err := retryAttempts(os.Getenv("AWS_MAX_ATTEMPTS"))
	if err != nil {
		return nil, err
	}
	loadOpts := []func(*awsconfig.LoadOptions) error{
		// The SDK's own warnings would bypass hp's logger; errors reach
		// the user through fail.
		awsconfig.WithLogger(logging.Nop{}),
		awsconfig.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(so *retry.StandardOptions) {
				so.MaxAttempts = attempts
				so.MaxBackoff = 10 * time.Second
				// Throttling storms must be ridden out, not turned into
				// "retry quota exceeded" failures.
				so.RateLimiter = ratelimit.None
			})
		}),
	}
	if region != "" {
		loadOpts = append(loadOpts, awsconfig.WithRegion(region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("s3: loading the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		// The bucket's own region is found below; any region will do to ask.
		cfg.Region = "us-east-1"
	}
	s.region = cfg.Region
	newClient := func(region string) *s3.Client {
		return s3.NewFromConfig(cfg, func(so *s3.Options) {
			so.Region = region
			so.UsePathStyle = pathStyle
			if endpoint != "" {
				so.BaseEndpoint = aws.String(endpoint)
			}
			// hp sends a SHA-256 of every request body it uploads, and
			// checks what it reads against its manifest itself.
			so.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			so.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		})
	}
	s.client = newClient(s.region)
	if err := s.check(ctx); err != nil {
		var moved *regionError
		if !errors.As(err, &moved) || region != "" {
			return nil, err
		}
		s.region = moved.actual
		s.client = newClient(s.region)
		if err := s.check(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *S3) configure(o S3Options, q url.Values, pick func(flag, param string) string) error {
	switch sse := strings.ToLower(pick(o.SSE, "sse")); sse {
	case "":
	case "aes256", "sse-s3", "s3":
		s.sse = types.ServerSideEncryptionAes256
	case "aws:kms", "sse-kms", "kms":
		s.sse = types.ServerSideEncryptionAwsKms
	case "aws:kms:dsse":
		s.sse = types.ServerSideEncryptionAwsKmsDsse
	default:
		return sdk.InvalidArgumentf("s3: --s3-sse %q: use AES256 (SSE-S3), aws:kms (SSE-KMS) or aws:kms:dsse", sse)
	}
	s.kmsKeyID = pick(o.KMSKeyID, "kms_key_id")
	if s.kmsKeyID != "" && s.sse != types.ServerSideEncryptionAwsKms && s.sse != types.ServerSideEncryptionAwsKmsDsse {
		return sdk.InvalidArgumentf("s3: a KMS key id needs --s3-sse aws:kms")
	}
	if c := strings.ToUpper(pick(o.StorageClass, "storage_class")); c != "" {
		s.class = types.StorageClass(c)
		if !slices.Contains(s.class.Values(), s.class) {
			return sdk.InvalidArgumentf("s3: unknown storage class %q", c)
		}
	}
	if owner := pick(o.ExpectedBucketOwner, "expected_bucket_owner"); owner != "" {
		s.owner = aws.String(owner)
	}
	s.partSize = defaultPartSize
	if ps := pick(o.PartSize, "part_size"); ps != "" {
		n, err := bytesize.Parse(ps)
		if err != nil {
			return sdk.InvalidArgumentf("--s3-part-size: %v", err)
		}
		if n < minPartSize || n > maxPartSize {
			return sdk.InvalidArgumentf("--s3-part-size %s: S3 takes parts of 5 MiB to 5 GiB", ps)
		}
		s.partSize = n
	}
	if o.Concurrency > 0 {
		s.concurrency = o.Concurrency
	} else if c := q.Get("concurrency"); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || n < 1 {
			return sdk.InvalidArgumentf("s3 DSN: concurrency=%q is not a positive number", c)
		}
		s.concurrency = n
	}
	return nil
}

// check lists one key under the root: it proves the bucket exists in this
// region and the credentials are accepted. A credential that may write but
// not list is let through; its writes will tell.
func (s *S3) check(ctx context.Context) error {
	_, err := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
		Bucket: &s.bucket, Prefix: aws.String(s.root), MaxKeys: aws.Int32(1), ExpectedBucketOwner: s.owner,
	})
	if err == nil {
		return nil
	}
	err = s.fail("opening", s.URL(""), err)
	if errors.Is(err, errAccessDenied) {
		return nil
	}
	return err
}

// URL implements Store.
func (s *S3) URL(key string) string {
	return "s3://" + s.bucket + "/" + s.root + strings.TrimLeft(key, "/")
}

func (s *S3) key(key string) (*string, error) {
	k, err := CleanKey(key)
	if err != nil {
		return nil, err
	}
	return aws.String(s.root + k), nil
}

// Errors S3 answers with, given meaning.
var (
	errAccessDenied = fmt.Errorf("access denied (%w)", sdk.ErrPermissionDenied)
	errCredentials  = fmt.Errorf("credentials rejected (%w)", sdk.ErrUnauthenticated)
)

type noBucketError struct{ bucket string }

func (e *noBucketError) Error() string { return fmt.Sprintf("bucket %q does not exist", e.bucket) }
func (e *noBucketError) Is(target error) bool {
	return target == ErrNotExist || target == sdk.ErrNotFound
}

type regionError struct{ asked, actual string }

func (e *regionError) Unwrap() error { return sdk.ErrInvalidArgument }

func (e *regionError) Error() string {
	return fmt.Sprintf("the bucket is in region %s, not %s: set --s3-region %s (or ?region= in the DSN)", e.actual, e.asked, e.actual)
}

// fail turns an SDK error into one that names the object and the cause in
// a user's words. No credential is ever part of the message.
func (s *S3) fail(op, where string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s %s: %w", op, where, err)
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		if actual := re.Response.Header.Get("X-Amz-Bucket-Region"); actual != "" && actual != s.region {
			return fmt.Errorf("%s %s: %w", op, where, &regionError{asked: s.region, actual: actual})
		}
	}
	code := ""
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	status := 0
	if re != nil && re.Response != nil {
		status = re.Response.StatusCode
	}
	switch code {
	case "NoSuchBucket":
		return fmt.Errorf("%s %s: %w", op, where, &noBucketError{s.bucket})
	case "NoSuchKey", "NotFound", "NoSuchUpload":
		return fmt.Errorf("%s %s: %w", op, where, ErrNotExist)
	case "InvalidAccessKeyId", "XAdminUserNotFound":
		return fmt.Errorf("%s %s: the access key id is not known to the server: %w (check AWS_ACCESS_KEY_ID or the profile)", op, where, errCredentials)
	case "SignatureDoesNotMatch":
		return fmt.Errorf("%s %s: the secret key does not match the access key id: %w (check AWS_SECRET_ACCESS_KEY or the profile)", op, where, errCredentials)
	case "ExpiredToken", "TokenRefreshRequired", "InvalidToken":
		return fmt.Errorf("%s %s: the session credentials have expired or are invalid: %w", op, where, errCredentials)
	case "AuthorizationHeaderMalformed", "PermanentRedirect", "IllegalLocationConstraintException":
		return fmt.Errorf("%s %s: the bucket is not in region %s (%s): set --s3-region or ?region= to the bucket's region: %w", op, where, s.region, code, sdk.ErrInvalidArgument)
	case "AccessDenied", "AllAccessDisabled":
		return fmt.Errorf("%s %s: %w: %s", op, where, errAccessDenied, s.denied())
	case "PreconditionFailed", "ConditionalRequestConflict":
		return fmt.Errorf("%s %s: %w", op, where, ErrExists)
	}
	switch status {
	case http.StatusNotFound:
		return fmt.Errorf("%s %s: %w", op, where, ErrNotExist)
	case http.StatusMovedPermanently:
		return fmt.Errorf("%s %s: the bucket is not in region %s: set --s3-region or ?region= to the bucket's region: %w", op, where, s.region, sdk.ErrInvalidArgument)
	case http.StatusForbidden:
		return fmt.Errorf("%s %s: %w: %s", op, where, errAccessDenied, s.denied())
	case http.StatusPreconditionFailed:
		return fmt.Errorf("%s %s: %w", op, where, ErrExists)
	}
	if strings.Contains(err.Error(), "failed to retrieve credentials") || strings.Contains(err.Error(), "no EC2 IMDS role found") {
		return fmt.Errorf("%s %s: no AWS credentials found (environment, shared config or profile, container or instance role): %w", op, where, errCredentials)
	}
	return fmt.Errorf("%s %s: %w", op, where, err)
}

func (s *S3) denied() string {
	if s.owner != nil {
		return fmt.Sprintf("the credentials may not do this, or bucket %q does not belong to account %s", s.bucket, *s.owner)
	}
	return fmt.Sprintf("the credentials may not do this (bucket %q)", s.bucket)
}

func (s *S3) putInput(key *string, body []byte) *s3.PutObjectInput {
	return &s3.PutObjectInput{
		Bucket: &s.bucket, Key: key, Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256, ServerSideEncryption: s.sse, SSEKMSKeyId: nonEmpty(s.kmsKeyID),
		StorageClass: s.class, ExpectedBucketOwner: s.owner,
	}
}

func nonEmpty(v string) *string {
	if v == "" {
		return nil
	}
	return &v
}

// PutIfAbsent implements Store with a conditional put (If-None-Match: *).
// A retried put whose first attempt did land finds its own bytes there:
// that is success, not a conflict.
func (s *S3) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	k, err := s.key(key)
	if err != nil {
		return err
	}
	in := s.putInput(k, data)
	in.IfNoneMatch = aws.String("*")
	if _, err := s.client.PutObject(ctx, in); err != nil {
		err = s.fail("writing", s.URL(key), err)
		if errors.Is(err, ErrExists) {
			if have, gerr := s.Get(ctx, key); gerr == nil && bytes.Equal(have, data) {
				return nil
			}
		}
		return err
	}
	return nil
}

// Put implements Store.
func (s *S3) Put(ctx context.Context, key string, data []byte) error {
	k, err := s.key(key)
	if err != nil {
		return err
	}
	if _, err := s.client.PutObject(ctx, s.putInput(k, data)); err != nil {
		return s.fail("writing", s.URL(key), err)
	}
	return nil
}

// Get implements Store.
func (s *S3) Get(ctx context.Context, key string) ([]byte, error) {
	r, err := s.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", s.URL(key), err)
	}
	return data, nil
}

// Open implements Store.
func (s *S3) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	k, err := s.key(key)
	if err != nil {
		return nil, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: k, ExpectedBucketOwner: s.owner})
	if err != nil {
		return nil, s.fail("reading", s.URL(key), err)
	}
	return out.Body, nil
}

// List implements Store.
func (s *S3) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	var out []ObjectInfo
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: &s.bucket, Prefix: aws.String(s.root + strings.TrimLeft(prefix, "/")), ExpectedBucketOwner: s.owner,
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, s.fail("listing", s.URL(prefix), err)
		}
		for _, o := range page.Contents {
			info := ObjectInfo{Key: strings.TrimPrefix(aws.ToString(o.Key), s.root), Size: aws.ToInt64(o.Size)}
			if o.LastModified != nil {
				info.Modified = *o.LastModified
			}
			out = append(out, info)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Key < out[b].Key })
	return out, nil
}

// Delete implements Store.
func (s *S3) Delete(ctx context.Context, key string) error {
	k, err := s.key(key)
	if err != nil {
		return err
	}
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: k, ExpectedBucketOwner: s.owner}); err != nil {
		if err = s.fail("deleting", s.URL(key), err); !errors.Is(err, ErrNotExist) {
			return err
		}
	}
	return nil
}

// Create implements Store: the object streams through a multipart upload,
// started once the first part is full; smaller objects go in one put.
// Memory is bounded by the parts in flight (concurrency) plus the one
// being filled.
func (s *S3) Create(ctx context.Context, key string) (Object, error) {
	k, err := s.key(key)
	if err != nil {
		return nil, err
	}
	octx, cancel := context.WithCancelCause(ctx)
	return &s3Object{s: s, name: key, key: k, ctx: octx, cancel: cancel, sem: make(chan struct{}, s.concurrency)}, nil
}

type s3Object struct {
	s      *S3
	name   string
	key    *string
	ctx    context.Context
	cancel context.CancelCauseFunc

	buf      []byte
	free     [][]byte
	uploadID *string
	next     int32 // number of the part being filled
	sem      chan struct{}
	wg       sync.WaitGroup

	mu    sync.Mutex
	parts []types.CompletedPart
	err   error
	done  bool
}

func (o *s3Object) Key() string { return o.name }

// partSize is the size of part n (1-based).
func (o *s3Object) partSize(n int32) int64 {
	return min(maxPartSize, o.s.partSize<<min(int64(n-1)/partsPerStep, 10))
}

func (o *s3Object) failed() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}

func (o *s3Object) setErr(err error) {
	o.mu.Lock()
	if o.err == nil {
		o.err = err
	}
	o.mu.Unlock()
	o.cancel(err)
}

func (o *s3Object) Write(p []byte) (int, error) {
	if err := o.failed(); err != nil {
		return 0, err
	}
	if o.done {
		return 0, fmt.Errorf("writing %s: the object is closed", o.s.URL(o.name))
	}
	if o.next == 0 {
		o.next = 1
	}
	n := 0
	for len(p) > 0 {
		if o.buf == nil {
			o.buf = o.buffer(o.partSize(o.next))
		}
		room := cap(o.buf) - len(o.buf)
		c := min(room, len(p))
		o.buf = append(o.buf, p[:c]...)
		p, n = p[c:], n+c
		if len(o.buf) == cap(o.buf) {
			if err := o.flushPart(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

func (o *s3Object) buffer(size int64) []byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i, b := range o.free {
		if int64(cap(b)) == size {
			o.free = slices.Delete(o.free, i, i+1)
			return b[:0]
		}
	}
	return make([]byte, 0, size)
}

// flushPart hands the full buffer to an upload goroutine, waiting while
// `concurrency` parts are already in flight: that wait is the back-pressure
// that bounds memory.
func (o *s3Object) flushPart() error {
	if o.uploadID == nil {
		out, err := o.s.client.CreateMultipartUpload(o.ctx, &s3.CreateMultipartUploadInput{
			Bucket: &o.s.bucket, Key: o.key, ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
			ServerSideEncryption: o.s.sse, SSEKMSKeyId: nonEmpty(o.s.kmsKeyID), StorageClass: o.s.class,
			ExpectedBucketOwner: o.s.owner,
		})
		if err != nil {
			err = o.s.fail("starting the upload of", o.s.URL(o.name), err)
			o.setErr(err)
			return err
		}
		o.uploadID = out.UploadId
	}
	if o.next > maxParts {
		err := fmt.Errorf("writing %s: more than %d parts; raise --s3-part-size or set --max-file-bytes", o.s.URL(o.name), maxParts)
		o.setErr(err)
		return err
	}
	select {
	case o.sem <- struct{}{}:
	case <-o.ctx.Done():
		return o.failedOr(o.ctx.Err())
	}
	buf, num := o.buf, o.next
	o.buf, o.next = nil, o.next+1
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		defer func() { <-o.sem }()
		out, err := o.s.client.UploadPart(o.ctx, &s3.UploadPartInput{
			Bucket: &o.s.bucket, Key: o.key, UploadId: o.uploadID, PartNumber: aws.Int32(num),
			Body: bytes.NewReader(buf), ContentLength: aws.Int64(int64(len(buf))),
			ChecksumAlgorithm: types.ChecksumAlgorithmSha256, ExpectedBucketOwner: o.s.owner,
		})
		o.mu.Lock()
		o.free = append(o.free, buf)
		o.mu.Unlock()
		if err != nil {
			o.setErr(o.s.fail(fmt.Sprintf("uploading part %d of", num), o.s.URL(o.name), err))
			return
		}
		o.mu.Lock()
		o.parts = append(o.parts, types.CompletedPart{PartNumber: aws.Int32(num), ETag: out.ETag, ChecksumSHA256: out.ChecksumSHA256})
		o.mu.Unlock()
	}()
	return nil
}

func (o *s3Object) failedOr(err error) error {
	if f := o.failed(); f != nil {
		return f
	}
	return err
}

// Commit implements Object: the last part is sent and the upload completed
// (or, for a small object, one put is made). Completion is conditional, so
// an object of another run under the same name is never replaced.
func (o *s3Object) Commit(ctx context.Context) error {
	if o.done {
		return o.failed()
	}
	err := o.commit(ctx)
	if err != nil {
		o.setErr(err)
		_ = o.abort(context.WithoutCancel(ctx))
	}
	o.done = true
	return err
}

func (o *s3Object) commit(ctx context.Context) error {
	if err := o.failed(); err != nil {
		return err
	}
	if o.uploadID == nil {
		in := o.s.putInput(o.key, o.buf)
		in.IfNoneMatch = aws.String("*")
		if _, err := o.s.client.PutObject(ctx, in); err != nil {
			return o.s.fail("writing", o.s.URL(o.name), err)
		}
		o.buf = nil
		return nil
	}
	if len(o.buf) > 0 {
		if err := o.flushPart(); err != nil {
			return err
		}
	}
	o.wg.Wait()
	if err := o.failed(); err != nil {
		return err
	}
	parts := slices.Clone(o.parts)
	sort.Slice(parts, func(a, b int) bool { return *parts[a].PartNumber < *parts[b].PartNumber })
	_, err := o.s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &o.s.bucket, Key: o.key, UploadId: o.uploadID, IfNoneMatch: aws.String("*"),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}, ExpectedBucketOwner: o.s.owner,
	})
	if err != nil {
		return o.s.fail("completing the upload of", o.s.URL(o.name), err)
	}
	o.uploadID = nil
	o.free = nil
	return nil
}

// Abort implements Object: uploads in flight are cancelled and the
// multipart upload is aborted, so S3 keeps no orphaned parts.
func (o *s3Object) Abort(ctx context.Context) error {
	if o.done && o.uploadID == nil {
		return nil
	}
	o.done = true
	o.setErr(errors.New("aborted"))
	return o.abort(ctx)
}

func (o *s3Object) abort(ctx context.Context) error {
	o.cancel(errors.New("aborted"))
	o.wg.Wait()
	o.buf, o.free = nil, nil
	if o.uploadID == nil {
		return nil
	}
	// A part the server was still receiving when its request was cancelled
	// may land after the abort and bring the upload back (S3's
	// documentation says to abort again), so abort until it is gone.
	for attempt := 0; ; attempt++ {
		_, err := o.s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
			Bucket: &o.s.bucket, Key: o.key, UploadId: o.uploadID, ExpectedBucketOwner: o.s.owner,
		})
		if err != nil && !errors.Is(o.s.fail("", "", err), ErrNotExist) {
			return fmt.Errorf("%w (the incomplete upload %s of %s is left; a bucket lifecycle rule for incomplete multipart uploads removes it)",
				o.s.fail("aborting the upload of", o.s.URL(o.name), err), aws.ToString(o.uploadID), o.s.URL(o.name))
		}
		if attempt == 4 {
			break
		}
		time.Sleep(time.Duration(attempt+1) * 100 * time.Millisecond)
		_, err = o.s.client.ListParts(ctx, &s3.ListPartsInput{
			Bucket: &o.s.bucket, Key: o.key, UploadId: o.uploadID, ExpectedBucketOwner: o.s.owner, MaxParts: aws.Int32(1),
		})
		if err != nil {
			break // gone (NoSuchUpload), or not ours to list: the abort stands
		}
	}
	o.uploadID = nil
	return nil
}

// ListPending implements PendingLister: the multipart uploads under
// prefix that were never completed or aborted.
func (s *S3) ListPending(ctx context.Context, prefix string) ([]Pending, error) {
	var out []Pending
	in := &s3.ListMultipartUploadsInput{Bucket: &s.bucket, Prefix: aws.String(s.root + strings.TrimLeft(prefix, "/")), ExpectedBucketOwner: s.owner}
	for {
		page, err := s.client.ListMultipartUploads(ctx, in)
		if err != nil {
			return nil, s.fail("listing the multipart uploads under", s.URL(prefix), err)
		}
		for _, u := range page.Uploads {
			p := Pending{Key: strings.TrimPrefix(aws.ToString(u.Key), s.root), ID: aws.ToString(u.UploadId)}
			if u.Initiated != nil {
				p.Started = *u.Initiated
			}
			out = append(out, p)
		}
		if !aws.ToBool(page.IsTruncated) {
			break
		}
		in.KeyMarker, in.UploadIdMarker = page.NextKeyMarker, page.NextUploadIdMarker
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Key+out[a].ID < out[b].Key+out[b].ID })
	return out, nil
}

// AbortPending implements PendingLister: it aborts the multipart upload.
func (s *S3) AbortPending(ctx context.Context, p Pending) error {
	k, err := s.key(p.Key)
	if err != nil {
		return err
	}
	_, err = s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: k, UploadId: &p.ID, ExpectedBucketOwner: s.owner})
	if err != nil && !errors.Is(s.fail("", "", err), ErrNotExist) {
		return s.fail("aborting the multipart upload of", s.URL(p.Key), err)
	}
	return nil
}

// GetVersion implements Versioned: the version is the object's ETag.
func (s *S3) GetVersion(ctx context.Context, key string) ([]byte, string, error) {
	k, err := s.key(key)
	if err != nil {
		return nil, "", err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: k, ExpectedBucketOwner: s.owner})
	if err != nil {
		return nil, "", s.fail("reading", s.URL(key), err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, "", fmt.Errorf("reading %s: %w", s.URL(key), err)
	}
	return data, aws.ToString(out.ETag), nil
}

// PutIfVersion implements Versioned with a conditional put (If-Match on
// the ETag, or If-None-Match: * for a new object). As with PutIfAbsent, a
// retried put that finds its own bytes in place has succeeded.
func (s *S3) PutIfVersion(ctx context.Context, key string, data []byte, version string) error {
	k, err := s.key(key)
	if err != nil {
		return err
	}
	in := s.putInput(k, data)
	if version == "" {
		in.IfNoneMatch = aws.String("*")
	} else {
		in.IfMatch = aws.String(version)
	}
	if _, err := s.client.PutObject(ctx, in); err != nil {
		err = s.fail("writing", s.URL(key), err)
		if !errors.Is(err, ErrExists) && !errors.Is(err, ErrNotExist) {
			return err
		}
		if have, gerr := s.Get(ctx, key); gerr == nil && bytes.Equal(have, data) {
			return nil
		}
		return fmt.Errorf("%s: %w", s.URL(key), ErrConflict)
	}
	return nil
}

// DeleteIfVersion implements Versioned with a conditional delete (If-Match
// on the ETag). A server that ignores If-Match on deletes would break the
// contract; TestS3Versioned checks the one hp is tested against.
func (s *S3) DeleteIfVersion(ctx context.Context, key string, version string) error {
	k, err := s.key(key)
	if err != nil {
		return err
	}
	if version == "" {
		return fmt.Errorf("deleting %s: no version given: %w", s.URL(key), ErrConflict)
	}
	_, err = s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: k, ExpectedBucketOwner: s.owner, IfMatch: aws.String(version)})
	if err != nil {
		err = s.fail("deleting", s.URL(key), err)
		switch {
		case errors.Is(err, ErrNotExist):
			return nil
		case errors.Is(err, ErrExists):
			return fmt.Errorf("%s: %w", s.URL(key), ErrConflict)
		}
		return err
	}
	return nil
}
