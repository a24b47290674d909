package store

import (
	"context"
	"errors"
)

// S3Options configure s3:// stores. Zero values take the DSN's query
// parameters, then defaults.
type S3Options struct {
	Region              string
	Endpoint            string
	SSE                 string
	KMSKeyID            string
	StorageClass        string
	ExpectedBucketOwner string
	PartSize            string
	Concurrency         int
}

// NewS3 opens an s3://bucket/prefix store.
func NewS3(ctx context.Context, dsn string, o S3Options) (*S3, error) {
	return nil, errors.New("s3: not implemented yet")
}

// S3 stores objects under a bucket prefix.
type S3 struct{ Local }
