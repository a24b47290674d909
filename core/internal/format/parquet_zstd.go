package format

import (
	"runtime"
	"sync"

	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/klauspost/compress/zstd"
)

// pageZstd replaces arrow-go's zstd page encoder: its default encoder
// keeps an 8 MiB window per core although a Parquet page is compressed
// on its own and rarely exceeds a megabyte. Encoders with a 1 MiB window
// cut that fixed cost by about 30 MB per process. They are kept per level
// in a free list of at most GOMAXPROCS, not a sync.Pool: under hp's soft
// memory limit the collector runs every few batches and emptied the pool,
// and each new encoder allocated its 1 MiB history and tables again (a
// third of the Parquet writer's allocations on the decimals table).
// Decoding is left to arrow-go's codec.
type pageZstd struct {
	compress.Codec
	mu    sync.Mutex
	pools map[zstd.EncoderLevel]chan *zstd.Encoder
}

func init() {
	orig, err := compress.GetCodec(compress.Codecs.Zstd)
	if err != nil {
		panic(err)
	}
	compress.RegisterCodec(compress.Codecs.Zstd, &pageZstd{Codec: orig, pools: map[zstd.EncoderLevel]chan *zstd.Encoder{}})
}

func (z *pageZstd) pool(level zstd.EncoderLevel) chan *zstd.Encoder {
	z.mu.Lock()
	defer z.mu.Unlock()
	p := z.pools[level]
	if p == nil {
		p = make(chan *zstd.Encoder, runtime.GOMAXPROCS(0))
		z.pools[level] = p
	}
	return p
}

func newPageEncoder(level zstd.EncoderLevel) *zstd.Encoder {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(level), zstd.WithEncoderConcurrency(1),
		zstd.WithWindowSize(1<<20), zstd.WithZeroFrames(true), zstd.WithAllLitEntropyCompression(true))
	if err != nil {
		panic(err) // the options are constant and valid
	}
	return enc
}

func (z *pageZstd) Encode(dst, src []byte) []byte {
	return z.EncodeLevel(dst, src, compress.DefaultCompressionLevel)
}

func (z *pageZstd) EncodeLevel(dst, src []byte, level int) []byte {
	// The fastest level by default: 9% less CPU than zstd's default on
	// lineitem-like data, for files 2% larger.
	l := zstd.SpeedFastest
	if level != compress.DefaultCompressionLevel {
		l = zstd.EncoderLevelFromZstd(level)
	}
	p := z.pool(l)
	var enc *zstd.Encoder
	select {
	case enc = <-p:
	default:
		enc = newPageEncoder(l)
	}
	dst = enc.EncodeAll(src, dst[:0])
	select {
	case p <- enc:
	default: // more encoders at once than cores: let this one go
	}
	return dst
}

// DecodeWithError keeps arrow-go's error-returning decode path.
func (z *pageZstd) DecodeWithError(dst, src []byte) ([]byte, error) {
	return compress.Decode(z.Codec, dst, src)
}
