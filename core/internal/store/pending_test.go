package store

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func TestLocalPendingWrites(t *testing.T) {
	dir := t.TempDir()
	l, err := NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	done, err := l.Create(ctx, "x/run1/part-1.csv")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := done.Write([]byte("a\n")); err != nil {
		t.Fatal(err)
	}
	if err := done.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// A killed run never commits or aborts.
	left, err := l.Create(ctx, "x/run2/part-2.csv")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := left.Write([]byte("half a row")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "x", "run3"), 0o755); err != nil {
		t.Fatal(err)
	}
	other, _ := l.Create(ctx, "y/part-1.csv")
	defer other.Abort(ctx)

	got, err := l.ListPending(ctx, "x/")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Key != "x/run2/part-2.csv" || got[0].Size != 10 || got[0].Started.IsZero() {
		t.Fatalf("pending under x/ = %+v, want the one uncommitted write", got)
	}
	if err := l.AbortPending(ctx, got[0]); err != nil {
		t.Fatal(err)
	}
	if got, _ := l.ListPending(ctx, "x/"); len(got) != 0 {
		t.Fatalf("still pending after AbortPending: %+v", got)
	}
	if err := l.AbortPending(ctx, Pending{Key: "x/run1/part-1.csv", ID: "x/run1/part-1.csv"}); err == nil {
		t.Fatal("AbortPending removed a committed object")
	}
	if err := l.RemoveEmptyDirs(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"x/run2", "x/run3"} {
		if _, err := os.Stat(filepath.Join(dir, d)); !os.IsNotExist(err) {
			t.Errorf("empty directory %s left: %v", d, err)
		}
	}
	if b, err := l.Get(ctx, "x/run1/part-1.csv"); err != nil || string(b) != "a\n" {
		t.Fatalf("committed object: %q %v", b, err)
	}
}

func TestS3PendingMultipartUploads(t *testing.T) {
	s, _, _ := s3Store(t, false, S3Options{PartSize: "5MiB"})
	ctx := t.Context()
	if err := s.Put(ctx, "x/run1/part-1.csv", []byte("a\n")); err != nil {
		t.Fatal(err)
	}
	// A real upload with one part, abandoned as by a killed run.
	up, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("lake"), Key: aws.String("base/x/run2/part-1.csv")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("lake"), Key: aws.String("base/x/run2/part-1.csv"),
		UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: bytes.NewReader(randomBytes(t, 5<<20))}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("lake"), Key: aws.String("base/y/part-1.csv")}); err != nil {
		t.Fatal(err)
	}

	got, err := s.ListPending(ctx, "x/")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Key != "x/run2/part-1.csv" || got[0].ID != aws.ToString(up.UploadId) || got[0].Started.IsZero() {
		t.Fatalf("pending under x/ = %+v, want the abandoned upload %s", got, aws.ToString(up.UploadId))
	}
	if err := s.AbortPending(ctx, got[0]); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ListPending(ctx, "x/"); err != nil || len(got) != 0 {
		t.Fatalf("still pending after AbortPending: %+v %v", got, err)
	}
	if err := s.AbortPending(ctx, got[0]); err != nil {
		t.Fatalf("aborting an upload already gone: %v", err)
	}
	if all, _ := s.ListPending(ctx, ""); len(all) != 1 || all[0].Key != "y/part-1.csv" {
		t.Fatalf("the upload under y/ must be left: %+v", all)
	}
}
