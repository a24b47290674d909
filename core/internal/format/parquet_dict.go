package format

import (
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"slices"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// dictionary says how a Parquet column chunk is dictionary-encoded.
type dictionary int

const (
	// plainOnly: the values seldom repeat, so hashing each into a
	// dictionary costs more than it saves; and the writer only gives up on
	// a dictionary once its page is full, in every row group again.
	plainOnly dictionary = iota
	// writerDict: the writer's own dictionary.
	writerDict
	// ownDict: a string column of few values, encoded here (stringDict).
	ownDict
)

// dictSample values of a column's first batch are looked at; with fewer
// than dictMinSample the writer's default stands.
const (
	dictSample    = 16384
	dictMinSample = 1024
)

// longValue is the length from which a string or binary value is large:
// a column whose first batch holds one gets neither a dictionary nor
// statistics. The writer copies a value into its dictionary, writes that
// dictionary out as a page when it falls back to plain encoding, and
// copies the minimum and maximum for statistics it then drops as too
// large (over 4 KiB): a 100 MB value cost 1.2 GB of heap, held five times.
const longValue = 64 << 10

// hasLongValue reports whether a's first dictSample values include one of
// at least longValue bytes.
func hasLongValue(a arrow.Array) bool {
	x, ok := a.(array.BinaryLike)
	if !ok {
		return false
	}
	for i := range min(a.Len(), dictSample) {
		if x.ValueLen(i) >= longValue {
			return true
		}
	}
	return false
}

// chooseDictionary decides from a sample of a column's first batch. A
// dictionary pays when values repeat: at most one in eight distinct, or
// fewer new ones in the sample's second half than half those of its first
// (values from a bounded set, such as dates or foreign keys, repeat in a
// row group of many batches even when a sample shows them seldom). Strings
// with at most one in 64 distinct are encoded here.
func chooseDictionary(a arrow.Array) dictionary {
	if hasLongValue(a) {
		return plainOnly
	}
	n := min(a.Len(), dictSample)
	if n < dictMinSample {
		return writerDict
	}
	first, all := sampleDistinct(a, n)
	switch {
	case all > n/8 && 2*(all-first) >= first:
		return plainOnly
	case all <= n/64 && (a.DataType().ID() == arrow.STRING || a.DataType().ID() == arrow.LARGE_STRING):
		return ownDict
	}
	return writerDict
}

// sampleSets holds the sets sampleDistinct counts in: a new one for each
// column made the 200 columns of the wide benchmark table cost 3% of hp's
// CPU in fresh map tables and their page faults.
var sampleSets sync.Pool

// sampleDistinct counts the distinct non-null values among the first n/2
// and the first n of a. Types it cannot look into count as one value.
func sampleDistinct(a arrow.Array, n int) (first, all int) {
	seen, _ := sampleSets.Get().(map[uint64]struct{})
	if seen == nil {
		seen = make(map[uint64]struct{}, n)
	}
	defer func() {
		clear(seen)
		sampleSets.Put(seen)
	}()
	seed := maphash.MakeSeed()
	var key func(i int) uint64
	switch x := a.(type) {
	case array.BinaryLike:
		base := x.ValueOffset64(0)
		key = func(i int) uint64 {
			off := x.ValueOffset64(i) - base
			return maphash.Bytes(seed, x.ValueBytes()[off:off+int64(x.ValueLen(i))])
		}
	default:
		fw, ok := a.DataType().(arrow.FixedWidthDataType)
		bufs := a.Data().Buffers()
		if !ok || a.DataType().ID() == arrow.BOOL || len(bufs) < 2 || bufs[1] == nil {
			return 1, 1
		}
		w := fw.BitWidth() / 8
		vals := bufs[1].Bytes()[a.Data().Offset()*w:]
		key = func(i int) uint64 {
			v := vals[i*w : (i+1)*w]
			switch w {
			case 1:
				return uint64(v[0])
			case 2:
				return uint64(binary.LittleEndian.Uint16(v))
			case 4:
				return uint64(binary.LittleEndian.Uint32(v))
			case 8:
				return binary.LittleEndian.Uint64(v)
			}
			return maphash.Bytes(seed, v)
		}
	}
	for i := 0; i < n; i++ {
		if i == n/2 {
			first = len(seen)
		}
		if a.IsValid(i) {
			seen[key(i)] = struct{}{}
		}
	}
	return first, len(seen)
}

// stringDict dictionary-encodes a string column of few values for the
// Parquet writer, which takes such a dictionary as it is: its own hashes
// every value and, in arrow-go 18.8, allocates for each. The dictionary
// holds the values of the open row group only, so the column statistics
// the writer takes from it stay exact. A value new within a row group
// makes the writer store the rest of that row group's column plainly;
// until the next row group the values are then passed through unhashed.
type stringDict struct {
	typ    *arrow.DictionaryType
	seed   maphash.Seed
	slots  []int32 // open addressing: index+1 of a value, 0 when empty
	values []string
	dict   arrow.Array // values as an array, rebuilt when they grow
	plain  bool
}

func newStringDict(valueType arrow.DataType) *stringDict {
	return &stringDict{
		typ:  &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: valueType},
		seed: maphash.MakeSeed(),
	}
}

// encode returns a as a dictionary array; the caller releases it.
func (d *stringDict) encode(a arrow.Array) arrow.Array {
	var idx []int32
	// ownDict is chosen for STRING and LARGE_STRING only.
	switch x := a.(type) {
	case *array.String:
		idx = encodeStrings(d, a, x.ValueOffsets(), x.ValueBytes())
	case *array.LargeString:
		idx = encodeStrings(d, a, x.ValueOffsets(), x.ValueBytes())
	}
	if d.plain {
		// The batch is its own dictionary, without its validity: the
		// indices say which values are null, and the writer takes no
		// dictionary holding nulls.
		data := a.Data()
		bufs := slices.Clone(data.Buffers())
		bufs[0] = nil
		values := array.NewData(data.DataType(), data.Len(), bufs, nil, 0, data.Offset())
		defer values.Release()
		dict := array.MakeFromData(values)
		defer dict.Release()
		return d.wrap(a, idx, dict)
	}
	if d.dict == nil {
		b := array.NewBuilder(memory.DefaultAllocator, d.typ.ValueType)
		b.(interface{ AppendValues([]string, []bool) }).AppendValues(d.values, nil)
		d.dict = b.NewArray()
		b.Release()
	}
	return d.wrap(a, idx, d.dict)
}

// encodeStrings returns the indices of a's values in d (offsets and data
// are a's, as its ValueOffsets and ValueBytes give them), laid out at a's
// offset; a null's index is 0, and a's validity says it is null. A value
// new to a row group that already has a dictionary switches d to plain
// mode, in which the indices are the values' own positions.
func encodeStrings[O int32 | int64](d *stringDict, a arrow.Array, offsets []O, data []byte) []int32 {
	n, off := a.Len(), a.Data().Offset()
	idx := make([]int32, off+n)
	if !d.plain {
		base := offsets[0]
		nulls := a.NullN() > 0
		for i := range n {
			if nulls && a.IsNull(i) {
				continue
			}
			v := data[offsets[i]-base : offsets[i+1]-base]
			k, ok := d.lookup(v)
			if !ok {
				if d.dict != nil {
					d.plain = true
					break
				}
				k = d.insert(string(v)) // the batch's memory is not ours to keep
			}
			idx[off+i] = k
		}
	}
	if d.plain {
		for i := range n {
			idx[off+i] = int32(i)
		}
	}
	return idx
}

// lookup finds v among the values.
func (d *stringDict) lookup(v []byte) (int32, bool) {
	if len(d.slots) == 0 {
		return 0, false
	}
	mask := uint64(len(d.slots) - 1)
	for h := maphash.Bytes(d.seed, v); ; h++ {
		k := d.slots[h&mask]
		if k == 0 {
			return 0, false
		}
		if d.values[k-1] == string(v) {
			return k - 1, true
		}
	}
}

// insert adds a value not yet among them, keeping the table at most half
// full.
func (d *stringDict) insert(v string) int32 {
	d.values = append(d.values, v)
	if 2*len(d.values) > len(d.slots) {
		// A power of two, for the mask.
		d.slots = make([]int32, 1<<bits.Len(uint(max(63, 4*len(d.values)-1))))
		for k, w := range d.values[:len(d.values)-1] {
			d.place(w, int32(k))
		}
	}
	k := int32(len(d.values) - 1)
	d.place(v, k)
	return k
}

func (d *stringDict) place(v string, k int32) {
	mask := uint64(len(d.slots) - 1)
	h := maphash.String(d.seed, v)
	for d.slots[h&mask] != 0 {
		h++
	}
	d.slots[h&mask] = k + 1
}

// wrap makes the dictionary array of indices idx (laid out at a's offset,
// with a's validity) into dict.
func (d *stringDict) wrap(a arrow.Array, idx []int32, dict arrow.Array) arrow.Array {
	data := a.Data()
	bufs := []*memory.Buffer{data.Buffers()[0], memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(idx))}
	idxData := array.NewData(arrow.PrimitiveTypes.Int32, data.Len(), bufs, nil, data.NullN(), data.Offset())
	defer idxData.Release()
	indices := array.MakeFromData(idxData)
	defer indices.Release()
	return array.NewDictionaryArray(d.typ, indices, dict)
}

// reset empties the dictionary for a new row group.
func (d *stringDict) reset() {
	clear(d.slots)
	d.values = d.values[:0]
	d.plain = false
	if d.dict != nil {
		d.dict.Release()
		d.dict = nil
	}
}

func (d *stringDict) release() { d.reset() }
