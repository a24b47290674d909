package mysql

import (
	"math/bits"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"

	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

// textDecimal decodes decimal(p,s) values as MariaDB and MySQL send them
// in both protocols: an optional '-', the integer digits (at least one),
// then, when s > 0, a point and exactly s digits. Such text is read in
// one pass, without the general parser's search for the point, zero
// trimming and scaling (decimals were the plugin's largest cost on the
// decimals shape); anything else, and precisions beyond decimal128, go
// to sqlsource.TextDecimal, which reads or refuses it.
func textDecimal(dt arrow.DataType) sqlsource.TextDecoder {
	d, ok := dt.(*arrow.Decimal128Type)
	if !ok {
		return sqlsource.TextDecimal
	}
	p, s := int(d.Precision), int(d.Scale)
	return func(b array.Builder, text []byte) error {
		if db, ok := b.(*array.Decimal128Builder); ok {
			if n, ok := serverDecimal(text, p, s); ok {
				db.Append(n)
				return nil
			}
		}
		return sqlsource.TextDecimal(b, text)
	}
}

// serverDecimal reads text of the form textDecimal describes into the
// unscaled value; ok is false for any other text, and for values with
// more integer digits than decimal(p,s) holds.
func serverDecimal(text []byte, p, s int) (n decimal128.Num, ok bool) {
	neg := len(text) > 0 && text[0] == '-'
	if neg {
		text = text[1:]
	}
	ip, frac := len(text), []byte(nil) // integer digits, fraction
	if s > 0 {
		ip = len(text) - s - 1
		if ip < 1 || text[ip] != '.' {
			return n, false
		}
		frac = text[ip+1:]
	}
	// At most p-s integer digits, or a single 0 before the point.
	if ip < 1 || ip > p-s && !(ip == 1 && text[0] == '0') || ip+s > 38 {
		return n, false
	}
	// Runs of digits are read apart and joined: each is a chain of
	// dependent multiplications, which the CPU overlaps when they are
	// independent (one chain made the decimals shape's digits a third of
	// the plugin's CPU).
	total := ip + s
	if total <= 19 {
		a, okA := digits(0, text[:ip])
		f, okF := digits(0, frac)
		if !okA || !okF {
			return n, false
		}
		n = decimal128.FromU64(a*pow10[s] + f)
	} else {
		// The leading total-19 digits, then the last 19: each fits a
		// uint64, and hi·10^19 + lo fits 128 bits.
		var hi, lo uint64
		var okA, okB, okC bool
		if k := total - 19; k <= ip {
			var mid, f uint64
			hi, okA = digits(0, text[:k])
			mid, okB = digits(0, text[k:ip])
			f, okC = digits(0, frac)
			lo = mid*pow10[s] + f
		} else {
			var a, f uint64
			a, okA = digits(0, text[:ip])
			f, okB = digits(0, frac[:k-ip])
			lo, okC = digits(0, frac[k-ip:])
			hi = a*pow10[k-ip] + f
		}
		if !okA || !okB || !okC {
			return n, false
		}
		h, l := bits.Mul64(hi, 1e19)
		l, carry := bits.Add64(l, lo, 0)
		n = decimal128.New(int64(h+carry), l)
	}
	if neg {
		n = n.Negate()
	}
	return n, true
}

// digits returns u followed by the decimal digits b (which must fit a
// uint64); ok is false if one is not a digit.
func digits(u uint64, b []byte) (uint64, bool) {
	for _, c := range b {
		d := c - '0'
		if d > 9 {
			return 0, false
		}
		u = u*10 + uint64(d)
	}
	return u, true
}

// pow10[i] is 10^i.
var pow10 = [20]uint64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19}
