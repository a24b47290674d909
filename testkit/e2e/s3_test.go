package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	pq "github.com/parquet-go/parquet-go"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// s3Target starts a real S3 server with a bucket and returns the
// environment that makes connection "s3" point at s3://bucket/prefix.
func s3Target(t *testing.T, endpoint string) (*testkit.S3Server, []string) {
	t.Helper()
	srv := testkit.StartS3(t)
	srv.CreateBucket(t, "lake")
	if endpoint == "" {
		endpoint = srv.Endpoint
	}
	return srv, append(srv.Env(), "HP_S3_DSN=s3://lake/raw?endpoint="+endpoint)
}

// download copies every object under prefix of bucket into a fresh
// directory, keys relative to "raw/", so the local checkers can read them.
func download(t *testing.T, srv *testkit.S3Server, bucket, prefix string) string {
	t.Helper()
	dir := t.TempDir()
	for key, body := range srv.Objects(t, bucket, prefix) {
		p := filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(key, "raw/")))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func noUploadsLeft(t *testing.T, srv *testkit.S3Server) {
	t.Helper()
	if left := srv.ListMultipartUploads(t, "lake"); len(left) != 0 {
		t.Fatalf("incomplete multipart uploads left: %v", left)
	}
}

func TestSnapToS3EveryFormat(t *testing.T) {
	t.Parallel() // its own S3 server
	bin := testkit.Build(t)
	srv, env := s3Target(t, "")
	env = append(env, "HP_GEN_DSN="+allTypesDSN)
	for _, f := range []string{"csv", "parquet", "jsonl"} {
		t.Run(f, func(t *testing.T) {
			res := bin.Run(t, env, "cp", "snap", "gen.all_types", "s3."+f+"/all", "--format", f, "--max-file-rows", "1000", "--output", "json")
			if res.Code != 0 {
				t.Fatalf("exit %d\n%s", res.Code, res.Stderr)
			}
			var sum struct {
				ManifestURL string `json:"manifest_url"`
			}
			if err := json.Unmarshal([]byte(res.Stdout), &sum); err != nil || !strings.HasPrefix(sum.ManifestURL, "s3://lake/raw/"+f+"/all/") {
				t.Fatalf("summary %q (%v)", res.Stdout, err)
			}
			checkAllTypes(t, download(t, srv, "lake", "raw/"+f+"/"), f, 3)

			// hp runs and hp verify read the run back from S3; an object
			// altered after publishing fails verification.
			res = bin.Run(t, env, "runs", "s3."+f)
			testkit.Contains(t, "hp runs", res.Stdout, "snap", "3000")
			if res = bin.Run(t, env, "verify", "s3."+f); res.Code != 0 {
				t.Fatalf("verify: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
			}
			objs := srv.Objects(t, "lake", "raw/"+f+"/")
			var victim string
			for k := range objs {
				if strings.Contains(k, "part-00002") {
					victim = k
				}
			}
			body := objs[victim]
			body[len(body)/2] ^= 1
			if _, err := srv.Client(t).PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("lake"), Key: aws.String(victim), Body: bytes.NewReader(body)}); err != nil {
				t.Fatal(err)
			}
			res = bin.Run(t, env, "verify", "s3."+f)
			if res.Code != 1 {
				t.Fatalf("verify of an altered object: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
			}
			testkit.Contains(t, "hp verify", res.Stdout+res.Stderr, "s3://lake/"+victim)
		})
	}
	noUploadsLeft(t, srv)
}

func TestSnapSQLiteAndPostgresToS3(t *testing.T) {
	t.Parallel() // its own table and S3 server
	bin := testkit.Build(t)
	srv, env := s3Target(t, "")
	pgExec(t, `drop table if exists hp_e2e_s3; create table hp_e2e_s3 (id int primary key, name text, amount numeric(40,10), at timestamptz, raw bytea);
		insert into hp_e2e_s3 values (1, 'plain', 123456789012345678901234567890.0123456789, '2024-03-31 01:59:59.123456+00', '\x00ff00'),
		(2, '', -0.0000000001, '1969-12-31 23:59:59.999999+00', ''), (3, null, null, null, null),
		(4, e'say "hi", then\nleave', 7, '2038-01-19 03:14:08+00', 'A')`)
	pgCleanup(t, "drop table if exists hp_e2e_s3")
	env = append(env, "HP_DB_DSN="+sqliteDB(t), "HP_PG_DSN="+pgDSN)

	for _, c := range []struct {
		src  string
		want [][]string
	}{
		{`db."Order Items"`, [][]string{
			{"id", "select", "amount", "at", "raw"},
			{"1", "plain", "12345678901234567890123456.0123456789", "2024-03-31T01:59:59.123456Z", "AP8A"},
			{"2", "", "-0.0000000001", "1969-12-31T23:59:59.999999Z", ""},
			{"3", `\N`, `\N`, `\N`, `\N`},
			{"4", "say \"hi\", then\nleave", "7.0000000000", "2038-01-19T03:14:08.000000Z", "QQ=="},
		}},
		{"pg.public.hp_e2e_s3", [][]string{
			{"id", "name", "amount", "at", "raw"},
			{"1", "plain", "123456789012345678901234567890.0123456789", "2024-03-31T01:59:59.123456Z", "AP8A"},
			{"2", "", "-0.0000000001", "1969-12-31T23:59:59.999999Z", ""},
			{"3", `\N`, `\N`, `\N`, `\N`},
			{"4", "say \"hi\", then\nleave", "7.0000000000", "2038-01-19T03:14:08.000000Z", "QQ=="},
		}},
	} {
		name := strings.SplitN(c.src, ".", 2)[0]
		for _, f := range []string{"csv", "jsonl", "parquet"} {
			object := name + "_" + f
			res := bin.Run(t, env, append([]string{"cp", "snap", c.src, "s3." + object, "--format", f, "--compression", "none"}, csvNull(f)...)...)
			if res.Code != 0 {
				t.Fatalf("%s → %s: exit %d: %s", c.src, f, res.Code, res.Stderr)
			}
			dir := download(t, srv, "lake", "raw/"+object+"/")
			m, _ := readManifest(t, dir)
			path := filepath.Join(dir, m.Files[0].Path)
			var got [][]string
			switch f {
			case "csv":
				text, _ := os.ReadFile(path)
				var err error
				if got, err = csv.NewReader(bytes.NewReader(text)).ReadAll(); err != nil {
					t.Fatal(err)
				}
			case "jsonl":
				got = jsonlAsText(t, path, c.want[0])
			case "parquet":
				got = parquetAsText(t, path)
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("%s → %s:\n got %q\nwant %q", c.src, f, got, c.want)
			}
		}
	}
}

// jsonlAsText renders JSON Lines rows as the CSV test expectations: the
// header first, NULL as \N.
func jsonlAsText(t *testing.T, path string, header []string) [][]string {
	t.Helper()
	raw, _ := os.ReadFile(path)
	out := [][]string{header}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	for dec.More() {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			t.Fatal(err)
		}
		var row []string
		for _, h := range header {
			if v := obj[h]; v == nil {
				row = append(row, `\N`)
			} else {
				row = append(row, fmt.Sprint(v))
			}
		}
		out = append(out, row)
	}
	return out
}

// openParquet opens a Parquet file with parquet-go, closed when the test
// ends.
func openParquet(t *testing.T, path string) *pq.File {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fh.Close() })
	st, err := fh.Stat()
	if err != nil {
		t.Fatal(err)
	}
	pf, err := pq.OpenFile(fh, st.Size())
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return pf
}

// parquetAsText renders a Parquet file's rows as the CSV test
// expectations, one column per leaf (a group's leaves named by their dotted
// path), decoding values by their logical types with parquet-go (an
// independent reader).
func parquetAsText(t *testing.T, path string) [][]string {
	t.Helper()
	pf := openParquet(t, path)
	var header, logical []string
	for _, p := range pf.Schema().Columns() {
		header = append(header, strings.Join(p, "."))
		logical = append(logical, leafLogical(pf, p))
	}
	out := [][]string{header}
	r := pq.NewReader(pf)
	buf := make([]pq.Row, 16)
	for {
		n, err := r.ReadRows(buf)
		for _, prow := range buf[:n] {
			row := make([]string, len(header))
			for _, v := range prow {
				row[v.Column()] = parquetText(t, v, logical[v.Column()])
			}
			out = append(out, row)
		}
		if err != nil {
			break
		}
	}
	return out
}

// leafLogical is the logical type of the leaf column at path, or "".
func leafLogical(pf *pq.File, path []string) string {
	leaf, ok := pf.Schema().Lookup(path...)
	if !ok {
		return ""
	}
	if l := leaf.Node.Type().LogicalType(); l != nil {
		return l.String()
	}
	return ""
}

func parquetText(t *testing.T, v pq.Value, logical string) string {
	if v.IsNull() {
		return `\N`
	}
	var scale int
	switch {
	case strings.HasPrefix(logical, "DECIMAL"):
		if _, err := fmt.Sscanf(logical, "DECIMAL(%d,%d)", new(int), &scale); err != nil {
			t.Fatalf("logical type %s: %v", logical, err)
		}
		n := new(big.Int)
		switch v.Kind() {
		case pq.Int32:
			n.SetInt64(int64(v.Int32()))
		case pq.Int64:
			n.SetInt64(v.Int64())
		default:
			b := v.ByteArray()
			n.SetBytes(b)
			if len(b) > 0 && b[0]&0x80 != 0 {
				n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
			}
		}
		digits := new(big.Int).Abs(n).String()
		for len(digits) <= scale {
			digits = "0" + digits
		}
		s := digits
		if scale > 0 {
			s = digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
		}
		if n.Sign() < 0 {
			s = "-" + s
		}
		return s
	case strings.HasPrefix(logical, "TIMESTAMP") && strings.Contains(logical, "MICROS"):
		return time.UnixMicro(v.Int64()).UTC().Format("2006-01-02T15:04:05.000000Z")
	case logical == "STRING":
		return string(v.ByteArray())
	case v.Kind() == pq.ByteArray:
		return base64.StdEncoding.EncodeToString(v.ByteArray())
	}
	return v.String()
}

// TestS3MultipartBoundedAndFaults sends files larger than a part through
// a fault-injecting proxy: throttling and dropped connections are retried
// to success; a fault that does not go away fails the run with nothing
// published and no upload left behind; a rerun then publishes.
func TestS3MultipartBoundedAndFaults(t *testing.T) {
	t.Parallel() // its own S3 server and fault proxy
	bin := testkit.Build(t)
	srv := testkit.StartS3(t)
	srv.CreateBucket(t, "lake")
	proxy := testkit.StartFaultProxy(t, srv.Endpoint)
	env := append(srv.Env(), "HP_GEN_DSN=gen://?rows=400000", "HP_S3_DSN=s3://lake/raw?endpoint="+proxy.URL)
	snap := func(object string) testkit.Result {
		return bin.Run(t, env, "cp", "snap", "gen.narrow", "s3."+object, "--format", "csv", "--compression", "none",
			"--s3-part-size", "5MiB", "--s3-concurrency", "3")
	}

	t.Run("throttling and dropped connections are retried", func(t *testing.T) {
		proxy.Inject(testkit.Fault{Match: testkit.IsUploadPart, Times: 4, Status: http.StatusServiceUnavailable, Code: "SlowDown"})
		proxy.Inject(testkit.Fault{Match: testkit.IsUploadPart, Times: 1, Status: http.StatusInternalServerError, Code: "InternalError"})
		proxy.Inject(testkit.Fault{Match: testkit.IsUploadPart, Times: 2, DropAfterBytes: 1 << 20})
		proxy.Inject(testkit.Fault{Match: testkit.IsCompleteMultipart, Times: 1, DropResponse: true})
		defer proxy.Clear()
		res := snap("ok")
		if res.Code != 0 {
			t.Fatalf("exit %d: %s", res.Code, res.Stderr)
		}
		if proxy.Hits() < 8 {
			t.Fatalf("only %d faults were injected", proxy.Hits())
		}
		dir := download(t, srv, "lake", "raw/ok/")
		m, _ := readManifest(t, dir)
		if m.TotalRows != 400000 || len(m.Files) != 1 {
			t.Fatalf("manifest: %d rows in %d files", m.TotalRows, len(m.Files))
		}
		if parts := srv.PartsCount(t, "lake", "raw/"+m.Files[0].Path); parts < 3 {
			t.Fatalf("a %d-byte file was stored in %d part(s); want a multipart upload", m.Files[0].Bytes, parts)
		}
		noUploadsLeft(t, srv)
	})

	t.Run("a fault that persists fails the run and leaves nothing", func(t *testing.T) {
		proxy.Inject(testkit.Fault{Match: testkit.IsUploadPart, Status: http.StatusServiceUnavailable, Code: "SlowDown"})
		// The AWS SDKs' AWS_MAX_ATTEMPTS replaces hp's 10 attempts (whose
		// backoff would take half a minute here).
		res := bin.Run(t, append(env, "AWS_MAX_ATTEMPTS=3"), "cp", "snap", "gen.narrow", "s3.fatal", "--format", "csv", "--compression", "none",
			"--s3-part-size", "5MiB", "--s3-concurrency", "3")
		proxy.Clear()
		if res.Code != 1 {
			t.Fatalf("exit %d, want 1: %s", res.Code, res.Stderr)
		}
		testkit.Contains(t, "stderr", res.Stderr, "nothing was published", "s3://lake/raw/fatal", "SlowDown", "maximum number of attempts, 3")
		if objs := srv.Objects(t, "lake", "raw/fatal/"); len(objs) != 0 {
			t.Fatalf("objects left by a failed run: %v", keys(objs))
		}
		noUploadsLeft(t, srv)
		if res := snap("fatal"); res.Code != 0 {
			t.Fatalf("rerun: exit %d: %s", res.Code, res.Stderr)
		}
		m, _ := readManifest(t, download(t, srv, "lake", "raw/fatal/"))
		if m.TotalRows != 400000 {
			t.Fatalf("rerun published %d rows", m.TotalRows)
		}
	})

	t.Run("the server killed mid-upload and back", func(t *testing.T) {
		proxy.Inject(testkit.Fault{Match: testkit.IsUploadPart, Times: 1, Delay: 300 * time.Millisecond})
		defer proxy.Clear()
		cmd := bin.Command(t.Context(), t, env, "cp", "snap", "gen.narrow", "s3.crash", "--format", "csv", "--compression", "none",
			"--s3-part-size", "5MiB", "--s3-concurrency", "1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for proxy.Hits() == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		srv.Stop(t)
		time.Sleep(time.Second)
		srv.Restart(t)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("hp did not ride out a restart of the server: %v\n%s", err, stderr.String())
		}
		m, _ := readManifest(t, download(t, srv, "lake", "raw/crash/"))
		if m.TotalRows != 400000 {
			t.Fatalf("published %d rows", m.TotalRows)
		}
		noUploadsLeft(t, srv)
	})
}

func TestS3SIGTERMAbortsUploads(t *testing.T) {
	t.Parallel() // its own S3 server and fault proxy; it signals only its own hp
	bin := testkit.Build(t)
	srv := testkit.StartS3(t)
	srv.CreateBucket(t, "lake")
	proxy := testkit.StartFaultProxy(t, srv.Endpoint)
	proxy.Inject(testkit.Fault{Match: testkit.IsUploadPart, Delay: 200 * time.Millisecond})
	env := append(srv.Env(), "HP_GEN_DSN=gen://?rows=2000000", "HP_S3_DSN=s3://lake/raw?endpoint="+proxy.URL)
	cmd := bin.Command(t.Context(), t, env, "cp", "snap", "gen.narrow", "s3.term", "--compression", "none", "--s3-part-size", "5MiB")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for proxy.Hits() < 2 {
		time.Sleep(5 * time.Millisecond)
	}
	if len(srv.ListMultipartUploads(t, "lake")) == 0 {
		t.Fatal("no upload in progress")
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatalf("exit 0 after SIGTERM: %s", stderr.String())
	}
	testkit.Contains(t, "stderr", stderr.String(), "nothing was published")
	noUploadsLeft(t, srv)
	if objs := srv.Objects(t, "lake", "raw/"); len(objs) != 0 {
		t.Fatalf("objects left: %v", keys(objs))
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestS3BadInput: each mistake gets an error naming the bucket and the
// cause, exit 1 or 2, nothing published, and no secret printed.
func TestS3BadInput(t *testing.T) {
	t.Parallel() // its own S3 server
	bin := testkit.Build(t)
	srv, env := s3Target(t, "")
	const userSecret = "ReadOnlyS3cretValue"
	srv.CreateUser(t, "reader", userSecret)
	srv.Grant(t, "lake", "reader", "raw/allowed/")
	base := append(env, "HP_GEN_DSN=gen://?rows=1000")
	with := func(kv ...string) []string { return append(append([]string{}, base...), kv...) }
	cases := []struct {
		name   string
		env    []string
		target string
		code   int
		want   []string
		args   []string
	}{
		{"missing bucket", with("HP_S3_DSN=s3://nobucket/raw?endpoint=" + srv.Endpoint), "s3.x", 2, []string{`bucket "nobucket" does not exist`}, nil},
		{"wrong secret", with("AWS_SECRET_ACCESS_KEY=" + userSecret + "x"), "s3.x", 2, []string{"s3://lake/raw", "secret key does not match"}, nil},
		{"unknown access key", with("AWS_ACCESS_KEY_ID=AKIDONTEXIST"), "s3.x", 2, []string{"s3://lake/raw", "access key id is not known"}, nil},
		{"wrong region", with("HP_S3_DSN=s3://lake/raw?region=eu-west-3&endpoint=" + srv.Endpoint), "s3.x", 2, []string{"s3://lake/raw", "region eu-west-3"}, nil},
		{"prefix not writable", with("AWS_ACCESS_KEY_ID=reader", "AWS_SECRET_ACCESS_KEY="+userSecret), "s3.denied", 2, []string{"s3://lake/raw/denied", "access denied", `bucket "lake"`, "nothing was published"}, nil},
		{"credentials in the DSN", with("HP_S3_DSN=s3://AKIA:" + userSecret + "@lake/raw?endpoint=" + srv.Endpoint), "s3.x", 2, []string{"take no credentials"}, nil},
		{"bad part size", with(), "s3.x", 2, []string{"--s3-part-size"}, []string{"--s3-part-size", "1MiB"}},
		{"region from HP_<NAME>_S3_REGION", with("HP_S3_S3_REGION=ap-south-1"), "s3.x", 2, []string{"region ap-south-1"}, nil},
		{"--s3-region wins over HP_<NAME>_S3_REGION", with("HP_S3_S3_REGION=ap-south-1"), "s3.x", 2, []string{"region sa-east-1"}, []string{"--s3-region", "sa-east-1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := bin.Run(t, c.env, append([]string{"cp", "snap", "gen.narrow", c.target}, c.args...)...)
			if res.Code != c.code {
				t.Fatalf("exit %d, want %d: %s", res.Code, c.code, res.Stderr)
			}
			testkit.Contains(t, "stderr", res.Stderr, c.want...)
			for _, secret := range []string{userSecret, srv.SecretKey} {
				if strings.Contains(res.Stderr+res.Stdout, secret) {
					t.Fatalf("a secret was printed: %s", res.Stderr)
				}
			}
		})
	}
	// The user may write where it is allowed: the grant is not the fault.
	res := bin.Run(t, with("AWS_ACCESS_KEY_ID=reader", "AWS_SECRET_ACCESS_KEY="+userSecret), "cp", "snap", "gen.narrow", "s3.allowed")
	if res.Code != 0 {
		t.Fatalf("writing to the allowed prefix: exit %d: %s", res.Code, res.Stderr)
	}
	if objs := srv.Objects(t, "lake", "raw/denied/"); len(objs) != 0 {
		t.Fatalf("objects under the denied prefix: %v", keys(objs))
	}
	noUploadsLeft(t, srv)
}

// csvNull writes NULL as \N in CSV; other formats have NULL of their own
// and refuse the CSV option.
func csvNull(format string) []string {
	if format == "csv" {
		return []string{"--csv-null", `\N`}
	}
	return nil
}
