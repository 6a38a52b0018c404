package cloudevents

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/heraldhq/herald/internal/jsoncheck"
)

// This file holds a minimal JSON scanner. The document is first checked by
// package jsoncheck (scanJSON), which is where syntax errors, their offsets
// and repeated member names come from; after that, walking members and
// elements ourselves lets us keep every value as raw bytes (data must reach
// delivery untouched), measure each batch element exactly, and avoid
// decoding into map[string]any. The walkers never index out of range even on
// malformed input, so a bug upstream cannot turn into a panic.

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// skipSpace returns the index of the first non-whitespace byte at or after i.
func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// trimSpace trims JSON whitespace from both ends of b.
func trimSpace(b []byte) []byte {
	i := skipSpace(b, 0)
	j := len(b)
	for j > i && isSpace(b[j-1]) {
		j--
	}
	return b[i:j]
}

// stringEnd returns the index just past the JSON string starting at b[i]
// (which holds the opening quote), or len(b) if it is unterminated.
func stringEnd(b []byte, i int) int {
	i++
	for i < len(b) {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			return len(b)
		}
		i += q
		// A quote preceded by an odd run of backslashes is escaped.
		n := 0
		for k := i - 1; k >= 0 && b[k] == '\\'; k-- {
			n++
		}
		i++
		if n%2 == 0 {
			return i
		}
	}
	return len(b)
}

// valueEnd returns the index just past the JSON value starting at b[i].
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return len(b)
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = stringEnd(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(b)
	default:
		for i < len(b) {
			switch c := b[i]; {
			case c == ',' || c == '}' || c == ']' || c == ':' || isSpace(c):
				return i
			}
			i++
		}
		return len(b)
	}
}

// members yields the raw key (quotes included) and raw value of each member
// of the JSON object obj, which must start with '{'.
func members(obj []byte) iter.Seq2[[]byte, []byte] {
	return func(yield func([]byte, []byte) bool) {
		i := skipSpace(obj, 1)
		for i < len(obj) && obj[i] == '"' {
			kEnd := stringEnd(obj, i)
			if kEnd-i < 2 || obj[kEnd-1] != '"' {
				return
			}
			key := obj[i:kEnd]
			i = skipSpace(obj, kEnd)
			if i >= len(obj) || obj[i] != ':' {
				return
			}
			i = skipSpace(obj, i+1)
			vEnd := valueEnd(obj, i)
			if vEnd == i {
				return
			}
			if !yield(key, obj[i:vEnd:vEnd]) {
				return
			}
			i = skipSpace(obj, vEnd)
			if i >= len(obj) || obj[i] != ',' {
				return
			}
			i = skipSpace(obj, i+1)
		}
	}
}

// elements yields the raw elements of the JSON array arr, which must start
// with '['.
func elements(arr []byte) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		i := skipSpace(arr, 1)
		for i < len(arr) && arr[i] != ']' {
			end := valueEnd(arr, i)
			if end == i {
				return
			}
			if !yield(arr[i:end:end]) {
				return
			}
			i = skipSpace(arr, end)
			if i >= len(arr) || arr[i] != ',' {
				return
			}
			i = skipSpace(arr, i+1)
		}
	}
}

// jsonKind names the JSON type of a raw value for error messages.
func jsonKind(v []byte) string {
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

var errLoneSurrogate = errors.New("string holds a \\u escape of a lone UTF-16 surrogate, which is not a Unicode character")

// unquote decodes the JSON string literal raw (quotes included).
func unquote(raw []byte) (string, error) {
	if len(raw) < 2 {
		return "", errors.New("truncated string")
	}
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner), nil
	}
	b, err := appendUnquoted(make([]byte, 0, len(inner)), raw)
	return string(b), err
}

// appendUnquoted appends the decoded JSON string literal raw to dst. Unlike
// encoding/json, which silently turns a lone surrogate escape into U+FFFD, it
// reports one: the CloudEvents String type forbids them, and rewriting a
// producer's data behind its back is worse than refusing it.
func appendUnquoted(dst, raw []byte) ([]byte, error) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return dst, errors.New("not a JSON string")
	}
	s := raw[1 : len(raw)-1]
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			j := bytes.IndexByte(s[i:], '\\')
			if j < 0 {
				return append(dst, s[i:]...), nil
			}
			dst = append(dst, s[i:i+j]...)
			i += j
			continue
		}
		if i+1 >= len(s) {
			return dst, errors.New("truncated escape")
		}
		switch s[i+1] {
		case '"', '\\', '/':
			dst = append(dst, s[i+1])
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
			r, ok := hex4(s, i+2)
			if !ok {
				return dst, errors.New("invalid \\u escape")
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if r >= 0xDC00 || i+6 > len(s) || s[i] != '\\' || s[i+1] != 'u' {
					return dst, errLoneSurrogate
				}
				r2, ok := hex4(s, i+2)
				if !ok {
					return dst, errors.New("invalid \\u escape")
				}
				r = utf16.DecodeRune(r, r2)
				if r == utf8.RuneError {
					return dst, errLoneSurrogate
				}
				i += 6
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default:
			return dst, fmt.Errorf("invalid escape \\%c", s[i+1])
		}
		i += 2
	}
	return dst, nil
}

// hex4 parses the four hex digits at s[i:i+4].
func hex4(s []byte, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range s[i : i+4] {
		d, ok := hexVal(c)
		if !ok {
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

func hexVal(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string literal. Invalid UTF-8 becomes
// U+FFFD, as with encoding/json (strings from Parse are always valid UTF-8).
func appendJSONString(dst []byte, s string) []byte {
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
			// Valid JSON, but line terminators to older JavaScript parsers
			// and a hazard when a receiver embeds the payload in a script.
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

// scanned is what the JSON check found in a document.
type scanned struct {
	// syntax says why the document is not one well-formed UTF-8 JSON
	// value, with its position; "" when it is.
	syntax string
	// dups lists repeated member names (at most the cap given to scanJSON)
	// and omitted counts the others.
	dups    []jsoncheck.Duplicate
	omitted int
}

// scanJSON checks b with the one JSON check every document entering Herald
// goes through (package jsoncheck): syntax, UTF-8 and unique member names.
func scanJSON(b []byte, maxDups int) scanned {
	var out scanned
	err := jsoncheck.Scan(b, func(d jsoncheck.Duplicate) bool {
		if len(out.dups) < maxDups {
			out.dups = append(out.dups, d)
		} else {
			out.omitted++
		}
		return true
	})
	if err != nil {
		return scanned{syntax: err.Detail}
	}
	return out
}

// dupField names a repeated member for Problem.Field, given its path from
// the event object: attributes and data by their name ("id",
// "data.order"), extensions as "extensions.<name>".
func dupField(p jsoncheck.Path) string {
	if len(p) > 0 && !p[0].IsIndex && attrBit(p[0].Name) == 0 {
		return p.Field("extensions")
	}
	return p.Field("")
}

// dupDetail describes a repeated member for a producer.
func dupDetail(d jsoncheck.Duplicate, where string) string {
	return fmt.Sprintf("member %s appears more than once in its object%s; JSON member names must be unique (RFC 7493 §2.3), "+
		"because readers disagree on which value counts", quoteExcerpt(d.Name), where)
}
