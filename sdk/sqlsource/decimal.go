package sqlsource

import "github.com/apache/arrow-go/v18/arrow/decimal128"

// fastDecimal parses plain decimal text ("-123.45", "+7", ".5") of at most
// 38 significant digits at the scale into an unscaled decimal128 without
// allocating, and returns how many digits that has (0 for zero): the value
// fits a precision p exactly when digits <= p. ok is false for anything
// else (spaces, exponents, more digits, non-zero decimals beyond the
// scale, no digits at all), which ParseDecimal then reads or refuses.
func fastDecimal(text []byte, scale int32) (n decimal128.Num, digits int, ok bool) {
	if scale < 0 {
		return n, 0, false
	}
	neg := false
	if len(text) > 0 && (text[0] == '-' || text[0] == '+') {
		neg, text = text[0] == '-', text[1:]
	}
	intPart, frac := text, []byte(nil)
	for i, c := range text {
		if c-'0' > 9 {
			if c != '.' {
				return n, 0, false
			}
			intPart, frac = text[:i], text[i+1:]
			break
		}
	}
	if len(intPart)+len(frac) == 0 {
		return n, 0, false
	}
	if len(frac) > int(scale) {
		for _, c := range frac[scale:] {
			if c != '0' {
				return n, 0, false
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
	sig := len(intPart) + len(frac)
	switch digits = sig + pad; {
	case sig == 0:
		return n, 0, true // zeros only
	case digits > 38:
		return n, 0, false
	case digits <= 19:
		// The common case: a uint64 holds it all.
		u, _ := uint64Digits(0, intPart) // digits only, as split above
		if u, ok = uint64Digits(u, frac); !ok {
			return n, 0, false
		}
		n = decimal128.FromU64(u * decimal128.GetScaleMultiplier(pad).LowBits())
	default:
		// With at most 38 digits, the 128-bit arithmetic cannot overflow.
		if n, ok = appendDigits(n, intPart); !ok {
			return n, 0, false
		}
		if n, ok = appendDigits(n, frac); !ok {
			return n, 0, false
		}
		n = n.Mul(decimal128.GetScaleMultiplier(pad))
	}
	if neg {
		n = n.Negate()
	}
	return n, digits, true
}

// uint64Digits returns u followed by the decimal digits, which must fit;
// ok is false if one is not a digit.
func uint64Digits(u uint64, digits []byte) (uint64, bool) {
	for _, c := range digits {
		d := c - '0'
		if d > 9 {
			return 0, false
		}
		u = u*10 + uint64(d)
	}
	return u, true
}

// appendDigits returns n followed by the decimal digits, in chunks of up
// to 19 that a uint64 holds; ok is false if one is not a digit.
func appendDigits(n decimal128.Num, digits []byte) (decimal128.Num, bool) {
	for len(digits) > 0 {
		k := min(len(digits), 19)
		chunk, ok := uint64Digits(0, digits[:k])
		if !ok {
			return n, false
		}
		n = n.Mul(decimal128.GetScaleMultiplier(k)).Add(decimal128.FromU64(chunk))
		digits = digits[k:]
	}
	return n, true
}
