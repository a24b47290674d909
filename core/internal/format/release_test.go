package format

import (
	"bytes"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/halfpipe-io/halfpipe/sdk/plugintest"
)

// The encoders keep nothing of a batch past its release (the host's
// batches are pooled, their memory the next batch's): batches released
// and poisoned right after Write encode exactly as batches kept to the
// end. Batches of 1,500 rows give the Parquet writer a string column it
// dictionary-encodes itself (ownDict) across batches.
func TestEncodersKeepNothingPastRelease(t *testing.T) {
	rows := testRows(6000)
	const per = 1500
	for _, f := range []Format{CSV, JSONL, Parquet} {
		t.Run(string(f), func(t *testing.T) {
			encodeAll := func(build func([]testRow) arrow.RecordBatch, keep bool) []byte {
				var buf bytes.Buffer
				enc, err := NewEncoder(&buf, testSchema, WithFormat(f), WithCompression(None))
				if err != nil {
					t.Fatal(err)
				}
				for start := 0; start < len(rows); start += per {
					rec := build(rows[start : start+per])
					if err := enc.Write(rec); err != nil {
						t.Fatal(err)
					}
					if keep {
						defer rec.Release()
					} else {
						rec.Release()
					}
				}
				if err := enc.Close(); err != nil {
					t.Fatal(err)
				}
				return buf.Bytes()
			}
			want := encodeAll(buildRecord, true)
			mem := plugintest.NewPoison(t)
			got := encodeAll(func(r []testRow) arrow.RecordBatch { return buildRecordWith(mem, r) }, false)
			if !bytes.Equal(got, want) {
				t.Fatalf("%s of batches released after Write differs from that of batches kept (%d bytes, want %d)", f, len(got), len(want))
			}
			if n := mem.Live(); n != 0 {
				t.Errorf("%d buffers of the batches never freed: a Retain without its Release", n)
			}
		})
	}
}
