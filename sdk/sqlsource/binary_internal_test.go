package sqlsource

import (
	"math"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Binary numbers are little-endian, sign-extended by their width when
// signed, and refused at widths no integer or float has.
func TestBinaryNumbers(t *testing.T) {
	mem := memory.NewGoAllocator()
	ib := array.NewInt64Builder(mem)
	defer ib.Release()
	for _, raw := range [][]byte{{0xfe}, {0xfe, 0xff}, {0xfe, 0xff, 0xff, 0xff}, {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}} {
		if err := BinaryInt64(ib, raw); err != nil {
			t.Fatal(err)
		}
	}
	ub := array.NewUint64Builder(mem)
	defer ub.Release()
	if err := BinaryUint64(ub, []byte{0xfe, 0xff}); err != nil {
		t.Fatal(err)
	}
	if err := BinaryUint64(ub, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}); err != nil {
		t.Fatal(err)
	}
	fb := array.NewFloat32Builder(mem)
	defer fb.Release()
	if err := BinaryFloat64(fb, []byte{0, 0, 0xc0, 0x3f}); err != nil { // 1.5 as float32
		t.Fatal(err)
	}
	ints, uints, floats := ib.NewInt64Array(), ub.NewUint64Array(), fb.NewFloat32Array()
	defer ints.Release()
	defer uints.Release()
	defer floats.Release()
	for i := range 4 {
		if ints.Value(i) != -2 {
			t.Errorf("signed width %d: %d, want -2", []int{1, 2, 4, 8}[i], ints.Value(i))
		}
	}
	if uints.Value(0) != 65534 || uints.Value(1) != math.MaxUint64 || floats.Value(0) != 1.5 {
		t.Errorf("unsigned %v, float %v", uints, floats)
	}
	if BinaryInt64(ib, []byte{1, 2, 3}) == nil || BinaryFloat64(fb, []byte{1, 2}) == nil {
		t.Error("3-byte integer or 2-byte float accepted")
	}
	i8 := array.NewInt8Builder(mem)
	defer i8.Release()
	if BinaryInt64(i8, []byte{0, 1}) == nil {
		t.Error("256 into int8 accepted")
	}
}
