package format

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// needsQuotesBytewise is needsQuotes as it was before it read eight bytes
// at a time: the oracle of TestNeedsQuotesWordAtATime.
func needsQuotesBytewise(e *csvEncoder, v []byte) bool {
	if len(v) == 0 {
		return len(e.null) == 0
	}
	if v[0] == ' ' || v[len(v)-1] == ' ' || v[0] == '\t' || v[len(v)-1] == '\t' {
		return true
	}
	for i := 0; i < len(v); i++ {
		if e.special[v[i]] {
			return true
		}
	}
	if len(e.delim) > 1 && containsBytes(v, e.delim) {
		return true
	}
	return len(e.null) > 0 && string(v) == string(e.null)
}

// The word-at-a-time scan quotes exactly the fields the byte loop did,
// whatever the delimiter, wherever the special byte sits in a word and
// whatever bytes (controls, UTF-8, 0x80 and above) surround it.
func TestNeedsQuotesWordAtATime(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.BinaryTypes.String}}, nil)
	alphabets := []string{"abcdefgh01 ", "abc\"\n\r,;\t|\x00\x01\x0d\x0e\x7f\x80\xff€", "\x0c\x0d\x0e\x21\x22\x23\x2b\x2c\x2d\xa2\xac"}
	rng := rand.New(rand.NewPCG(2, 22))
	for _, delim := range []rune{',', ';', '\t', '|', '\x01', '€'} {
		for _, null := range []string{"", "NULL"} {
			enc, err := newCSV(io.Discard, schema, codec{compression: None}, csvConfig{delimiter: delim, null: null})
			if err != nil {
				t.Fatal(err)
			}
			e := enc.(*csvEncoder)
			for n := 0; n < 20000; n++ {
				ab := alphabets[n%len(alphabets)]
				v := make([]byte, rng.IntN(40))
				for i := range v {
					v[i] = ab[rng.IntN(len(ab))]
				}
				if n%3 == 0 {
					// Mostly plain text with one special byte somewhere.
					for i := range v {
						v[i] = 'a' + byte(i%26)
					}
					if len(v) > 0 {
						v[rng.IntN(len(v))] = ab[rng.IntN(len(ab))]
					}
				}
				if got, want := e.needsQuotes(v), needsQuotesBytewise(e, v); got != want {
					t.Fatalf("delimiter %q, null %q: needsQuotes(%q) = %v, want %v", delim, null, v, got, want)
				}
			}
		}
	}
}

// String columns are scanned whole for bytes that need quotes: a column
// with none quotes only the values whose ends, emptiness or equality to
// the NULL marker need it; a column with some checks each value. Every
// value is written as the byte loop and a plain quote doubling write it,
// whatever the delimiter and NULL marker, and in slices of the batch.
func TestCSVStringColumnsQuoteAsEachValue(t *testing.T) {
	alphabets := []string{"abcdefgh01", "abc \t", "abc\"\n\r,;\t|\x01€", "ab\xe2\x82\xac"}
	fields := make([]arrow.Field, len(alphabets))
	for i := range fields {
		fields[i] = arrow.Field{Name: fmt.Sprintf("c%d", i), Type: arrow.BinaryTypes.String, Nullable: true}
	}
	schema := arrow.NewSchema(fields, nil)
	rng := rand.New(rand.NewPCG(3, 22))
	bld := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer bld.Release()
	var rows [][]*string
	for r := 0; r < 3000; r++ {
		var row []*string
		for c, ab := range alphabets {
			var v *string
			switch n := rng.IntN(30); {
			case n == 0:
			case n == 1:
				v = ptr("NULL")
			default:
				b := make([]byte, rng.IntN(n))
				for i := range b {
					b[i] = ab[rng.IntN(len(ab))]
				}
				v = ptr(string(b))
			}
			row = append(row, v)
			if v == nil {
				bld.Field(c).AppendNull()
			} else {
				bld.Field(c).(*array.StringBuilder).Append(*v)
			}
		}
		rows = append(rows, row)
	}
	rec := bld.NewRecordBatch()
	defer rec.Release()
	for _, delim := range []rune{',', ';', '\t', '|', '€'} {
		for _, null := range []string{"", "NULL"} {
			enc, _ := newCSV(io.Discard, schema, codec{compression: None}, csvConfig{delimiter: delim, null: null})
			e := enc.(*csvEncoder)
			var want []byte
			for _, row := range rows {
				for c, v := range row {
					if c > 0 {
						want = utf8.AppendRune(want, delim)
					}
					switch {
					case v == nil:
						want = append(want, null...)
					case needsQuotesBytewise(e, []byte(*v)):
						want = append(append(append(want, '"'), strings.ReplaceAll(*v, `"`, `""`)...), '"')
					default:
						want = append(want, *v...)
					}
				}
				want = append(want, '\n')
			}
			got := encode(t, rec, WithCompression(None), WithCSVHeader(false), WithCSVDelimiter(delim), WithCSVNull(null))
			if !bytes.Equal(got, want) {
				t.Fatalf("delimiter %q, null %q: got\n%q\nwant\n%q", delim, null, got, want)
			}
		}
	}
}

// escapeQuotes doubles every quote, however close together and wherever
// in a word, in values across its 4 KiB pieces, after what b holds.
func TestEscapeQuotesAsReplace(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 22))
	for n := 0; n < 3000; n++ {
		v := make([]byte, rng.IntN(70))
		if n%100 == 0 {
			v = make([]byte, rng.IntN(10000))
		}
		every := 1 + rng.IntN(40)
		for i := range v {
			v[i] = "abcdefgh\x00\xff"[rng.IntN(10)]
			if rng.IntN(every) == 0 {
				v[i] = '"'
			}
		}
		prefix := []byte("x,")[:n%3]
		if got, want := escapeQuotes(prefix, v), append(prefix, bytes.ReplaceAll(v, []byte(`"`), []byte(`""`))...); !bytes.Equal(got, want) {
			t.Fatalf("escapeQuotes(%q, %q) = %q, want %q", prefix, v, got, want)
		}
	}
}

// The text shape's values: 50 to 500 characters of hex, no special byte.
func BenchmarkNeedsQuotes(b *testing.B) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.BinaryTypes.String}}, nil)
	enc, _ := newCSV(io.Discard, schema, codec{compression: None}, csvConfig{delimiter: ','})
	e := enc.(*csvEncoder)
	var vals [][]byte
	for n := 50; n <= 500; n += 37 {
		v := make([]byte, n)
		for i := range v {
			v[i] = "0123456789abcdef"[(i*7+n)%16]
		}
		vals = append(vals, v)
	}
	for _, f := range []struct {
		name string
		fn   func(*csvEncoder, []byte) bool
	}{{"bytewise", needsQuotesBytewise}, {"words", (*csvEncoder).needsQuotes}} {
		b.Run(f.name, func(b *testing.B) {
			for b.Loop() {
				for _, v := range vals {
					if f.fn(e, v) {
						b.Fatal("quoted")
					}
				}
			}
		})
	}
}

// Integer columns are written from their values: a slice of a batch
// starts at its offset, NULLs stay empty, and an integer equal to a
// NULL marker that looks like one is quoted (Int32 as well as Int64).
func TestCSVIntegersFromValues(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int32, Nullable: true}, {Name: "b", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	bb := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer bb.Release()
	bb.Field(0).(*array.Int32Builder).AppendValues([]int32{1, -7, 7, math.MinInt32, 0}, []bool{true, true, true, true, false})
	bb.Field(1).(*array.Int64Builder).AppendValues([]int64{2, 7, -7, math.MaxInt64, 5}, []bool{true, true, false, true, true})
	rec := bb.NewRecordBatch()
	defer rec.Release()
	part := rec.NewSlice(1, 5)
	defer part.Release()
	if got, want := string(encode(t, part, WithCompression(None), WithCSVHeader(false))), "-7,7\n7,\n-2147483648,9223372036854775807\n,5\n"; got != want {
		t.Errorf("slice: %q, want %q", got, want)
	}
	if got, want := string(encode(t, part, WithCompression(None), WithCSVHeader(false), WithCSVNull("-7"))), "\"-7\",7\n7,-7\n-2147483648,9223372036854775807\n-7,5\n"; got != want {
		t.Errorf("NULL marker -7: %q, want %q", got, want)
	}
}

// The narrow shape: 10 bigint columns of values up to 10^9.
func BenchmarkCSVIntegers(b *testing.B) {
	fields := make([]arrow.Field, 10)
	for i := range fields {
		fields[i] = arrow.Field{Name: string(rune('a' + i)), Type: arrow.PrimitiveTypes.Int64}
	}
	schema := arrow.NewSchema(fields, nil)
	bld := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer bld.Release()
	for r := range int64(50000) {
		for c := range fields {
			bld.Field(c).(*array.Int64Builder).Append((r*int64(c*7919+13))%1000000007 - 500000000)
		}
	}
	benchCSV(b, schema, bld)
}

// The text shape (testkit.Shapes): an int, a short key and three text
// columns of 50 to 500 characters, two of hex, one with quotes and commas.
func BenchmarkCSVText(b *testing.B) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "k1", Type: arrow.PrimitiveTypes.Int32}, {Name: "k2", Type: arrow.BinaryTypes.String},
		{Name: "t1", Type: arrow.BinaryTypes.String}, {Name: "t2", Type: arrow.BinaryTypes.String}, {Name: "t3", Type: arrow.BinaryTypes.String}}, nil)
	bld := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer bld.Release()
	text := func(seed, g, step int, words bool) string {
		var s []byte
		for len(s) < 50+g*step%451 {
			s = fmt.Appendf(s, "%016x%016x", uint64(seed*g)*0x9e3779b97f4a7c15, uint64(g+seed))
			if words {
				s = append(s, ` words, "quoted", `...)
			}
		}
		return string(s[:50+g*step%451])
	}
	for g := range 20000 {
		bld.Field(0).(*array.Int32Builder).Append(int32(g % 1000))
		bld.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("key-%d", g%5000))
		bld.Field(2).(*array.StringBuilder).Append(text(1, g, 37, false))
		bld.Field(3).(*array.StringBuilder).Append(text(2, g, 53, false))
		bld.Field(4).(*array.StringBuilder).Append(text(3, g, 71, true))
	}
	benchCSV(b, schema, bld)
}

// benchCSV encodes the batch bld builds to uncompressed CSV per round.
func benchCSV(b *testing.B, schema *arrow.Schema, bld *array.RecordBuilder) {
	rec := bld.NewRecordBatch()
	defer rec.Release()
	for b.Loop() {
		enc, _ := NewEncoder(io.Discard, schema, WithCompression(None))
		_ = enc.Write(rec)
		_ = enc.Close()
	}
}
