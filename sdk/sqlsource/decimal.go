package sqlsource

import (
	"bytes"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

// fastDecimal parses plain decimal text ("-123.45", "+7", ".5") of at most
// 38 significant digits at the scale into an unscaled decimal128 without
// allocating. ok is false for anything else (spaces, exponents, more
// digits, non-zero decimals beyond the scale, no digits at all), which
// ParseDecimal then reads or refuses exactly. The caller checks the
// column's precision.
func fastDecimal(text []byte, scale int32) (n decimal128.Num, ok bool) {
	if scale < 0 {
		return n, false
	}
	neg := false
	if len(text) > 0 && (text[0] == '-' || text[0] == '+') {
		neg, text = text[0] == '-', text[1:]
	}
	intPart, frac := text, []byte(nil)
	if i := bytes.IndexByte(text, '.'); i >= 0 {
		intPart, frac = text[:i], text[i+1:]
	}
	if len(intPart)+len(frac) == 0 {
		return n, false
	}
	if len(frac) > int(scale) {
		for _, c := range frac[scale:] {
			if c != '0' {
				return n, false
			}
		}
		frac = frac[:scale]
	}
	pad := int(scale) - len(frac)
	for len(intPart) > 0 && intPart[0] == '0' {
		intPart = intPart[1:]
	}
	if len(intPart) == 0 {
		for len(frac) > 0 && frac[0] == '0' {
			frac = frac[1:]
		}
	}
	// With at most 38 digits in all, the 128-bit arithmetic cannot
	// overflow.
	switch sig := len(intPart) + len(frac); {
	case sig == 0:
		return n, true // zeros only
	case sig+pad > 38:
		return n, false
	}
	if n, ok = appendDigits(n, intPart); !ok {
		return n, false
	}
	if n, ok = appendDigits(n, frac); !ok {
		return n, false
	}
	n = n.Mul(decimal128.GetScaleMultiplier(pad))
	if neg {
		n = n.Negate()
	}
	return n, true
}

// appendDigits returns n followed by the decimal digits, in chunks of up
// to 19 that a uint64 holds; ok is false if one is not a digit.
func appendDigits(n decimal128.Num, digits []byte) (decimal128.Num, bool) {
	for len(digits) > 0 {
		k := min(len(digits), 19)
		var chunk uint64
		for _, c := range digits[:k] {
			d := c - '0'
			if d > 9 {
				return n, false
			}
			chunk = chunk*10 + uint64(d)
		}
		n = n.Mul(decimal128.GetScaleMultiplier(k)).Add(decimal128.FromU64(chunk))
		digits = digits[k:]
	}
	return n, true
}
