package jsoncheck

import (
	"bytes"
	"iter"
	"unicode/utf8"
)

// Walking a text Check has accepted. The CloudEvents parser and the JSON
// path evaluator find values in checked text without decoding it: they
// keep values as raw bytes (data must reach delivery untouched) and skip
// what they do not need. Skipping trusts the text, so skipped values are
// only delimited, not checked again: brackets are counted outside strings,
// and a string ends at the first quote after an even run of backslashes.
// The walkers never index out of range nor loop on malformed text; what
// they cannot make sense of ends the walk (-1 offsets, iterators that
// stop).

// SkipSpace returns the index of the first non-whitespace byte of b at or
// after i.
func SkipSpace(b []byte, i int) int { return skipSpace(b, i) }

// TrimSpace trims JSON whitespace from both ends of b.
func TrimSpace(b []byte) []byte {
	i := skipSpace(b, 0)
	j := len(b)
	for j > i && isSpace(b[j-1]) {
		j--
	}
	return b[i:j]
}

// shortString is how many bytes of a string StringEnd scans one by one.
const shortString = 24

// StringEnd returns the offset just past the string starting at b[i] (its
// opening quote), or -1 if it is unterminated. Member names, which the
// walkers also need to know plain, are read by NameEnd.
func StringEnd(b []byte, i int) int {
	// Most strings in events are short, where a byte loop beats the call
	// into bytes.IndexByte; long ones (text, base64) go to IndexByte after
	// the first shortString bytes.
	j := i + 1
	for stop := min(len(b), j+shortString); j < stop; j++ {
		switch b[j] {
		case '"':
			return j + 1
		case '\\':
			j++
		}
	}
	for j < len(b) {
		q := bytes.IndexByte(b[j:], '"')
		if q < 0 {
			return -1
		}
		j += q
		// The quote is escaped if an odd number of backslashes precede it.
		// The loop above may have stopped inside a run of them, so count
		// back to the string's start if need be.
		k := j - 1
		for k > i && b[k] == '\\' {
			k--
		}
		if (j-1-k)%2 == 0 {
			return j + 1
		}
		j++
	}
	return -1
}

// ValueEnd returns the offset just past the value starting at b[i], or -1.
func ValueEnd(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return StringEnd(b, i)
	case '{', '[':
		return containerEnd(b, i)
	}
	j := i
	for j < len(b) && literalByte[b[j]] {
		j++
	}
	if j == i {
		return -1
	}
	return j
}

// structural marks the bytes containerEnd acts on; testing one table entry
// is cheaper than a switch for the many bytes it passes over.
var structural = func() (t [256]bool) {
	for _, c := range []byte(`"{}[]`) {
		t[c] = true
	}
	return t
}()

// literalByte marks the bytes of numbers, true, false and null; more are
// accepted than JSON allows, which is harmless for skipping.
var literalByte = func() (t [256]bool) {
	for _, c := range []byte("0123456789+-.eEtrufalsn") {
		t[c] = true
	}
	return t
}()

// containerEnd returns the offset just past the object or array starting at
// b[i], or -1. It counts brackets outside strings and does not check that
// they pair up, which checked text guarantees.
func containerEnd(b []byte, i int) int {
	depth := 0
	for j := i; j < len(b); j++ {
		if !structural[b[j]] {
			continue
		}
		switch b[j] {
		case '"':
			e := StringEnd(b, j)
			if e < 0 {
				return -1
			}
			j = e - 1
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return j + 1
			}
		}
	}
	return -1
}

// MemberAt reads the member whose name starts at b[i] (its opening quote):
// where the name ends, where the value starts, and whether the name is
// plain: free of escapes and non-ASCII bytes, so that its bytes are its
// text. It returns -1 offsets when the text is malformed.
func MemberAt(b []byte, i int) (nameEnd, value int, plain bool) {
	if i >= len(b) || b[i] != '"' {
		return -1, -1, false
	}
	if nameEnd, plain = NameEnd(b, i); nameEnd < 0 {
		return -1, -1, false
	}
	j := skipSpace(b, nameEnd)
	if j >= len(b) || b[j] != ':' {
		return -1, -1, false
	}
	if j = skipSpace(b, j+1); j >= len(b) {
		return -1, -1, false
	}
	return nameEnd, j, plain
}

// NameEnd is StringEnd for member names: it also reports whether the name
// is plain, free of escapes and non-ASCII bytes, so that its bytes are its
// text. Names are short, so it is one byte loop, small enough to be
// inlined into the loops that walk objects (MemberAt and the JSON path
// walker).
func NameEnd(b []byte, i int) (end int, plain bool) {
	plain = true
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return j + 1, plain
		case c == '\\':
			plain = false
			j++
		case c >= utf8.RuneSelf:
			plain = false
		}
	}
	return -1, false
}

// After reads what follows a member or element that ends before b[i], in
// an object or array that close (a '}' or ']') ends: the start of the next
// one and true, or the offset past close and false. It returns -1 when the
// text is malformed.
func After(b []byte, i int, close byte) (int, bool) {
	if i = skipSpace(b, i); i >= len(b) {
		return -1, false
	}
	switch b[i] {
	case ',':
		return skipSpace(b, i+1), true
	case close:
		return i + 1, false
	}
	return -1, false
}

// Members yields the raw name (quotes included) and raw value of each
// member of the object obj, which must start with '{'.
func Members(obj []byte) iter.Seq2[[]byte, []byte] {
	return func(yield func([]byte, []byte) bool) {
		i := skipSpace(obj, 1)
		if i < len(obj) && obj[i] == '}' {
			return
		}
		for more := true; more; {
			nameEnd, v, _ := MemberAt(obj, i)
			if nameEnd < 0 {
				return
			}
			end := ValueEnd(obj, v)
			if end < 0 || !yield(obj[i:nameEnd:nameEnd], obj[v:end:end]) {
				return
			}
			if i, more = After(obj, end, '}'); i < 0 {
				return
			}
		}
	}
}

// Elements yields the raw elements of the array arr, which must start
// with '['.
func Elements(arr []byte) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		i := skipSpace(arr, 1)
		if i < len(arr) && arr[i] == ']' {
			return
		}
		for more := true; more; {
			end := ValueEnd(arr, i)
			if end < 0 || !yield(arr[i:end:end]) {
				return
			}
			if i, more = After(arr, end, ']'); i < 0 {
				return
			}
		}
	}
}
