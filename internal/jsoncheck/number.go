package jsoncheck

import (
	"bytes"
	"strconv"
)

// Numbers: the one grammar (RFC 8259 §6), which the Reader checks and
// ParseDecimal reads, and the exact value of a literal.

// scanNumber reads the number at s[i:] and returns the offset past it: no
// leading zeros, no leading "+", no bare ".", at least one digit after "."
// and after the exponent marker. What follows the number is the caller's
// to judge ("01" is the number 0 followed by "1"). On a fault it returns
// the offset of the offending byte and what was wanted there.
func scanNumber[S ~string | ~[]byte](s S, i int) (end, bad int, why string) {
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	default:
		return 0, i, "in a number; want a digit"
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || !isDigit(s[i]) {
			return 0, i, "after a decimal point; want a digit"
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || !isDigit(s[i]) {
			return 0, i, "in an exponent; want a digit"
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	return i, 0, ""
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// FitsFloat64 reports whether the number literal lit is within float64's
// range, as encoding/json needs to decode it into an any (a literal too
// small rounds to zero, which is no error).
func FitsFloat64(lit []byte) bool {
	// Without an exponent, 308 digits stay below the largest float64
	// (1.797…e308): the usual literal needs no conversion.
	if len(lit) <= 308 && bytes.IndexAny(lit, "eE") < 0 {
		return true
	}
	_, err := strconv.ParseFloat(string(lit), 64)
	return err == nil
}

// Decimal is the exact value of a JSON number literal:
//
//	(-1)^neg × 0.d₁d₂…dₙ × 10^exp
//
// where digits holds d₁…dₙ as ASCII, without leading or trailing zeros.
// Zero has no digits (and neg false, so -0 equals 0). Two decimals compare
// by sign, then exponent, then digits lexicographically, which is exact for
// any length: no float64 rounding, no big.Rat allocation.
type Decimal struct {
	neg    bool
	digits []byte
	exp    int64
}

// maxExp clamps decimal exponents. Exponents are summed with digit counts,
// which are bounded by the input length, so int64 arithmetic cannot
// overflow; numbers whose exponents both exceed the clamp compare by their
// digits only, an approximation no real payload reaches.
const maxExp = 1e17

// ParseDecimal reads a JSON number literal (the whole of s) exactly,
// appending its significant digits to buf. It is generic so that
// attribute strings and data bytes are both read without conversion.
func ParseDecimal[S ~string | ~[]byte](s S, buf []byte) (Decimal, bool) {
	if end, _, why := scanNumber(s, 0); why != "" || end != len(s) {
		return Decimal{}, false
	}
	// The grammar holds, so the parts are where the first '.' and the
	// exponent marker put them.
	neg := s[0] == '-'
	intStart, intEnd := 0, 0
	if neg {
		intStart = 1
	}
	intEnd = intStart
	for intEnd < len(s) && isDigit(s[intEnd]) {
		intEnd++
	}
	fracStart, fracEnd := intEnd, intEnd
	if intEnd < len(s) && s[intEnd] == '.' {
		fracStart = intEnd + 1
		fracEnd = fracStart
		for fracEnd < len(s) && isDigit(s[fracEnd]) {
			fracEnd++
		}
	}
	var exp int64
	if k := fracEnd; k < len(s) {
		k++ // 'e' or 'E'
		expNeg := s[k] == '-'
		if s[k] == '+' || s[k] == '-' {
			k++
		}
		for ; k < len(s); k++ {
			if exp < maxExp {
				exp = exp*10 + int64(s[k]-'0')
			}
		}
		exp = min(exp, maxExp)
		if expNeg {
			exp = -exp
		}
	}

	// Significant digits: the integer part without leading zeros, then the
	// fraction; with no integer digits, the fraction without its leading
	// zeros, each of which lowers the exponent.
	digits := buf[:0]
	j := intStart
	for j < intEnd && s[j] == '0' {
		j++
	}
	if j < intEnd {
		for ; j < intEnd; j++ {
			digits = append(digits, s[j])
		}
		// The decimal point follows the integer digits: 0.ddd × 10^len.
		exp += int64(len(digits))
		j = fracStart
	} else {
		j = fracStart
		for j < fracEnd && s[j] == '0' {
			j++
		}
		exp -= int64(j - fracStart)
	}
	for ; j < fracEnd; j++ {
		digits = append(digits, s[j])
	}
	for len(digits) > 0 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
	}
	if len(digits) == 0 {
		return Decimal{}, true
	}
	return Decimal{neg: neg, digits: digits, exp: exp}, true
}

// Sign returns -1, 0 or +1.
func (d *Decimal) Sign() int {
	switch {
	case len(d.digits) == 0:
		return 0
	case d.neg:
		return -1
	}
	return 1
}

// Cmp compares d with e, returning -1, 0 or +1.
func (d *Decimal) Cmp(e *Decimal) int {
	ds, es := d.Sign(), e.Sign()
	if ds != es || ds == 0 {
		return cmpInt(ds, es)
	}
	var m int
	if d.exp != e.exp {
		m = cmpInt(d.exp, e.exp)
	} else {
		m = compareDigits(d.digits, e.digits)
	}
	return m * ds
}

func cmpInt[T int | int64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// compareDigits is bytes.Compare; digit strings without trailing zeros
// order lexicographically exactly as the fractions 0.digits do.
func compareDigits(a, b []byte) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return cmpInt(int(a[i]), int(b[i]))
		}
	}
	return cmpInt(len(a), len(b))
}
