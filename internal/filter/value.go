package filter

import (
	"unicode/utf16"
	"unicode/utf8"
)

// decimal is the exact value of a JSON number literal:
//
//	(-1)^neg × 0.d₁d₂…dₙ × 10^exp
//
// where digits holds d₁…dₙ as ASCII, without leading or trailing zeros.
// Zero has no digits (and neg false, so -0 equals 0). Two decimals compare
// by sign, then exponent, then digits lexicographically, which is exact for
// any length: no float64 rounding, no big.Rat allocation.
type decimal struct {
	neg    bool
	digits []byte
	exp    int64
}

// maxExp clamps decimal exponents. Exponents are summed with digit counts,
// which are bounded by the input length, so int64 arithmetic cannot
// overflow; numbers whose exponents both exceed the clamp compare by their
// digits only, an approximation no real payload reaches.
const maxExp = 1e17

// parseNumber parses a JSON number literal (RFC 8259 syntax, the whole of s)
// exactly, appending its significant digits to buf. It is generic so that
// attribute strings and data bytes are both read without conversion.
func parseNumber[S ~string | ~[]byte](s S, buf []byte) (decimal, bool) {
	var d decimal
	i := 0
	if i < len(s) && s[i] == '-' {
		d.neg = true
		i++
	}
	intStart := i
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return decimal{}, false
	}
	intEnd := i
	fracStart, fracEnd := i, i
	if i < len(s) && s[i] == '.' {
		i++
		fracStart = i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == fracStart {
			return decimal{}, false
		}
		fracEnd = i
	}
	var exp int64
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		negExp := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			negExp = s[i] == '-'
			i++
		}
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if exp < maxExp {
				exp = exp*10 + int64(s[i]-'0')
			}
			i++
		}
		if i == start {
			return decimal{}, false
		}
		exp = min(exp, maxExp)
		if negExp {
			exp = -exp
		}
	}
	if i != len(s) {
		return decimal{}, false
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
		return decimal{}, true
	}
	d.digits = digits
	d.exp = exp
	return d, true
}

// sign returns -1, 0 or +1.
func (d *decimal) sign() int {
	switch {
	case len(d.digits) == 0:
		return 0
	case d.neg:
		return -1
	}
	return 1
}

// cmp compares d with e, returning -1, 0 or +1.
func (d *decimal) cmp(e *decimal) int {
	ds, es := d.sign(), e.sign()
	if ds != es || ds == 0 {
		return cmpInt(ds, es)
	}
	var m int
	if d.exp != e.exp {
		m = cmpInt(d.exp, e.exp)
	} else {
		m = compareBytes(d.digits, e.digits)
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

// compareBytes is bytes.Compare; digit strings without trailing zeros order
// lexicographically exactly as the fractions 0.digits do.
func compareBytes(a, b []byte) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return cmpInt(int(a[i]), int(b[i]))
		}
	}
	return cmpInt(len(a), len(b))
}

// numericOK reports whether the result c of comparing a value with the
// operand satisfies the numeric operator op.
func numericOK(op opcode, c int) bool {
	switch op {
	case opGt:
		return c > 0
	case opGte:
		return c >= 0
	case opLt:
		return c < 0
	case opLte:
		return c <= 0
	}
	return false
}

// The string operators are generic for the same reason as parseNumber:
// string(s[...]) == t does not allocate for either type argument.

func hasPrefix[S ~string | ~[]byte](s S, p string) bool {
	return len(s) >= len(p) && string(s[:len(p)]) == p
}

func hasSuffix[S ~string | ~[]byte](s S, p string) bool {
	return len(s) >= len(p) && string(s[len(s)-len(p):]) == p
}

func contains[S ~string | ~[]byte](s S, p string) bool {
	if len(p) == 0 {
		return true
	}
	first := p[0]
	for i := 0; i+len(p) <= len(s); i++ {
		if s[i] == first && string(s[i:i+len(p)]) == p {
			return true
		}
	}
	return false
}

// appendUnquoted appends the text of the JSON string literal raw (quotes
// included) to dst, decoding as encoding/json does: escapes are resolved, a
// lone surrogate escape and every invalid UTF-8 byte become U+FFFD. It
// reports false for a malformed literal.
func appendUnquoted(dst, raw []byte) ([]byte, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return dst, false
	}
	s := raw[1 : len(raw)-1]
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c < 0x20:
			return dst, false
		case c < utf8.RuneSelf && c != '\\':
			dst = append(dst, c)
			i++
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(s[i:])
			dst = utf8.AppendRune(dst, r) // RuneError for an invalid byte
			i += size
		default: // '\\'
			if i+1 >= len(s) {
				return dst, false
			}
			switch e := s[i+1]; e {
			case '"', '\\', '/':
				dst = append(dst, e)
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r, ok := hex4(s, i)
				if !ok {
					return dst, false
				}
				i += 6
				if utf16.IsSurrogate(r) {
					r2, ok := hex4(s, i)
					if d := utf16.DecodeRune(r, r2); ok && d != utf8.RuneError {
						r = d
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				dst = utf8.AppendRune(dst, r)
				continue
			default:
				return dst, false
			}
			i += 2
		}
	}
	return dst, true
}
