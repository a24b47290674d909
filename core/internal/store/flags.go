package store

import "github.com/spf13/pflag"

// BindS3Flags binds the options of s3:// connections, shared by every
// command that reads or writes a store.
func BindS3Flags(fl *pflag.FlagSet, o *S3Options) {
	fl.StringVar(&o.Region, "s3-region", "", "S3 region (else ?region= in the DSN, HP_<NAME>_S3_REGION, or the AWS configuration)")
	fl.StringVar(&o.Endpoint, "s3-endpoint", "", "S3 endpoint URL for S3-compatible servers (else ?endpoint= in the DSN); implies path-style addressing")
	fl.StringVar(&o.SSE, "s3-sse", "", "Server-side encryption: AES256 (SSE-S3) or aws:kms (SSE-KMS)")
	fl.StringVar(&o.KMSKeyID, "s3-kms-key-id", "", "KMS key for --s3-sse aws:kms (default: the account's aws/s3 key)")
	fl.StringVar(&o.StorageClass, "s3-storage-class", "", "Storage class of data objects (e.g. STANDARD_IA, INTELLIGENT_TIERING)")
	fl.StringVar(&o.ExpectedBucketOwner, "s3-expected-bucket-owner", "", "Account id the bucket must belong to")
	fl.StringVar(&o.PartSize, "s3-part-size", "", "Multipart upload part size (default 8MiB; at least 5MiB)")
	fl.IntVar(&o.Concurrency, "s3-concurrency", 0, "Parts uploaded in parallel per file (default 4)")
}
