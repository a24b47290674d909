package format

import (
	"bytes"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/apache/arrow-go/v18/parquet/compress"
)

func TestPageZstdRoundTrip(t *testing.T) {
	codec, err := compress.GetCodec(compress.Codecs.Zstd)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := codec.(*pageZstd); !ok {
		t.Fatalf("zstd codec is %T, want the page encoder", codec)
	}
	// Larger than the encoder's window, half random and half repetitive.
	src := make([]byte, 3<<20)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range len(src) / 2 {
		src[i] = byte(r.Uint32())
	}
	copy(src[len(src)/2:], bytes.Repeat([]byte("halfpipe "), len(src)/18+1))
	for _, level := range []int{compress.DefaultCompressionLevel, 1, 9} {
		enc := codec.EncodeLevel(nil, src, level)
		if len(enc) >= len(src) {
			t.Errorf("level %d: %d bytes compressed to %d", level, len(src), len(enc))
		}
		dec, err := compress.Decode(codec, make([]byte, len(src)), enc)
		if err != nil || !bytes.Equal(dec, src) {
			t.Fatalf("level %d: round trip failed (err %v)", level, err)
		}
	}
	if _, err := compress.Decode(codec, nil, []byte("not zstd")); err == nil {
		t.Error("decoding garbage succeeded")
	}
}

// Encoders outlive collections: a new one allocates its 1 MiB history
// and tables again, which under hp's soft memory limit happened every few
// batches with a sync.Pool.
func TestPageZstdKeepsEncodersAcrossCollections(t *testing.T) {
	codec, err := compress.GetCodec(compress.Codecs.Zstd)
	if err != nil {
		t.Fatal(err)
	}
	src := bytes.Repeat([]byte("halfpipe pages "), 20_000) // 300 KB: several blocks, with history
	dst := codec.EncodeLevel(nil, src, compress.DefaultCompressionLevel)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	dst = codec.EncodeLevel(dst, src, compress.DefaultCompressionLevel)
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 256<<10 {
		t.Errorf("compressing a page after two collections allocated %d bytes", n)
	}
}
