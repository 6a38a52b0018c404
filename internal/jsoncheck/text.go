package jsoncheck

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// Strings: what the Reader checks inside a literal, how a literal becomes
// its text (the one decoder, for every reader of JSON in Herald), and how
// text becomes a literal.

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// skipSpace returns the index of the first non-whitespace byte at or after i.
func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// strClass marks the bytes the Reader's string loop must look at: 0 is an
// ordinary ASCII character; anything else needs a closer look.
var strClass = func() (t [256]byte) {
	for c := 0; c < 0x20; c++ {
		t[c] = 1
	}
	t['"'], t['\\'] = 1, 1
	for c := 0x80; c < 0x100; c++ {
		t[c] = 1
	}
	return t
}()

// hexValue maps each byte to its value as a hexadecimal digit, or -1.
var hexValue = func() (t [256]int8) {
	for c := range t {
		t[c] = -1
	}
	for i := range 10 {
		t['0'+i] = int8(i)
	}
	for i := range 6 {
		t['a'+i], t['A'+i] = int8(10+i), int8(10+i)
	}
	return t
}()

// escapeLen checks the escape at b[i] (a backslash) as the Reader does and
// returns its length, or the offset of the byte that breaks it and what
// was wanted there (for Reader.unexpected).
func escapeLen(b []byte, i int) (n, bad int, why string) {
	if i+1 >= len(b) {
		return 0, i + 1, "inside a string escape"
	}
	switch b[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, 0, ""
	case 'u':
		for k := i + 2; k < i+6; k++ {
			if k >= len(b) {
				return 0, k, "inside a \\u escape"
			}
			if hexValue[b[k]] < 0 {
				return 0, k, "in a \\u escape; want four hexadecimal digits"
			}
		}
		return 6, 0, ""
	}
	return 0, i + 1, "in a string escape"
}

// Mode says how AppendUnquoted treats what has no exact text.
type Mode uint8

const (
	// Lenient decodes as encoding/json does: each byte of invalid UTF-8
	// and each \u escape of a lone UTF-16 surrogate becomes U+FFFD, and a
	// raw control character or quote is an error. It is how names are
	// compared and how data is read for schemas and filters.
	Lenient Mode = iota
	// Exact refuses an escaped lone surrogate, which is not a Unicode
	// character: the CloudEvents String type forbids them, and rewriting a
	// producer's data behind its back is worse than refusing it. It copies
	// every other unescaped byte as it stands, so it is for literals Check
	// has accepted (all UTF-8, no raw control characters).
	Exact
)

// Errors of AppendUnquoted, in the words the CloudEvents parser has always
// used for them.
var (
	errNotString      = errors.New("not a JSON string")
	errTruncated      = errors.New("truncated string")
	errTruncEscape    = errors.New("truncated escape")
	errBadU           = errors.New("invalid \\u escape")
	errLoneSurrogate  = errors.New("string holds a \\u escape of a lone UTF-16 surrogate, which is not a Unicode character")
	errUnescapedInput = errors.New("string holds a raw control character or quote")
)

// Text returns the text of the JSON string literal raw (quotes included)
// as encoding/json reads it: raw's own bytes between the quotes when they
// are already its text (no escapes, all UTF-8), the usual case, which
// costs no copy; otherwise the text decoded in Lenient mode, appended to
// dst (scratch space the caller can reuse).
func Text(dst, raw []byte) ([]byte, error) {
	if len(raw) < 2 {
		return nil, errNotString
	}
	if s := raw[1 : len(raw)-1]; bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
		return s, nil
	}
	return AppendUnquoted(dst, raw, Lenient)
}

// AppendUnquoted appends the text of the JSON string literal raw (quotes
// included) to dst.
func AppendUnquoted(dst, raw []byte, mode Mode) ([]byte, error) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return dst, errNotString
	}
	s := raw[1 : len(raw)-1]
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			if mode == Exact {
				j := bytes.IndexByte(s[i:], '\\')
				if j < 0 {
					return append(dst, s[i:]...), nil
				}
				dst = append(dst, s[i:i+j]...)
				i += j
				continue
			}
			switch {
			case c == '"' || c < 0x20:
				return dst, errUnescapedInput
			case c < utf8.RuneSelf:
				dst = append(dst, c)
				i++
			default:
				r, size := utf8.DecodeRune(s[i:])
				dst = utf8.AppendRune(dst, r) // RuneError for an invalid byte
				i += size
			}
			continue
		}
		r, n, err := DecodeEscape(s, i, mode)
		if err != nil {
			return dst, err
		}
		dst = utf8.AppendRune(dst, r)
		i += n
	}
	return dst, nil
}

// Unquote is AppendUnquoted in Exact mode for a literal Check has accepted,
// as a string. A literal without escapes is its text between the quotes.
func Unquote(raw []byte) (string, error) {
	if len(raw) < 2 {
		return "", errTruncated
	}
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner), nil
	}
	b, err := AppendUnquoted(make([]byte, 0, len(inner)), raw, Exact)
	return string(b), err
}

// DecodeEscape decodes the escape sequence at s[i] (a backslash): the
// character it stands for and its length. A surrogate pair is one
// character of two escapes; a lone surrogate is U+FFFD in Lenient mode and
// an error in Exact mode. JSON path names share JSON's escapes, so package
// jsonpath decodes them with this function too.
func DecodeEscape[S ~string | ~[]byte](s S, i int, mode Mode) (rune, int, error) {
	if i+1 >= len(s) {
		return 0, 0, errTruncEscape
	}
	switch e := s[i+1]; e {
	case '"', '\\', '/':
		return rune(e), 2, nil
	case 'b':
		return '\b', 2, nil
	case 'f':
		return '\f', 2, nil
	case 'n':
		return '\n', 2, nil
	case 'r':
		return '\r', 2, nil
	case 't':
		return '\t', 2, nil
	case 'u':
	default:
		return 0, 0, fmt.Errorf("invalid escape \\%c", e)
	}
	r, ok := hex4(s, i+2)
	if !ok {
		return 0, 0, errBadU
	}
	if !utf16.IsSurrogate(r) {
		return r, 6, nil
	}
	// A pair takes the next escape too; a lone half does not, and in
	// Lenient mode the escape after it is decoded on its own.
	j := i + 6
	next := j+6 <= len(s) && s[j] == '\\' && s[j+1] == 'u'
	var r2 rune
	if next {
		r2, ok = hex4(s, j+2)
	}
	if next && ok {
		if p := utf16.DecodeRune(r, r2); p != utf8.RuneError {
			return p, 12, nil
		}
	}
	switch {
	case mode == Lenient:
		return utf8.RuneError, 6, nil
	case r >= 0xDC00 || !next || ok:
		return 0, 0, errLoneSurrogate
	}
	return 0, 0, errBadU
}

// hex4 decodes the four hexadecimal digits at s[i:i+4].
func hex4[S ~string | ~[]byte](s S, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for k := i; k < i+4; k++ {
		d := hexValue[s[k]]
		if d < 0 {
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string literal: quotes, backslashes and
// control characters escaped, and U+2028 and U+2029 too (valid JSON, but
// line terminators to older JavaScript parsers and a hazard when a
// receiver embeds the payload in a script). Unlike encoding/json it leaves
// <, > and & alone: Herald's JSON is stored and sent as JSON, never
// embedded in HTML. Invalid UTF-8 becomes U+FFFD, as with encoding/json.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
