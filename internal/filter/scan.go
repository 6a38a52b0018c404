package filter

import (
	"bytes"
	"math"
	"unicode/utf8"
)

// Reading data: instead of decoding the whole document (a map per object, a
// string per key: dozens of allocations for a 1 KB payload), Match walks the
// raw bytes once, guided by the trie of the filter's paths. It descends only
// into members and elements some path continues through, skips everything
// else without decoding it, and records where each path's value lies. The
// conditions then read those bytes directly, decoding a string only when it
// has escapes.
//
// The walk trusts the data to be valid JSON, as ingest has validated it, so
// skipped values are only delimited, not checked. It never reads out of
// bounds nor loops on malformed input; what it cannot make sense of counts
// as missing.

// span locates a value in the data: data[start:end]. The zero span (end 0)
// means missing, as no value ends at offset 0.
type span struct{ start, end int32 }

// scanState is the per-Match record of the data walk. Match keeps it on its
// stack; it is sized for the largest filter so that it needs no allocation.
type scanState struct {
	paths   *pathNode
	scanned bool
	data    []byte
	spans   [MaxConditions]span
	// scratch holds a decoded string (a key or value with escapes) while it
	// is compared; longer strings spill to the heap.
	scratch [128]byte
}

// value returns the bytes of the value at path node p, or nil when missing.
// It walks the data on first use.
func (st *scanState) value(e Event, p *pathNode) []byte {
	if !st.scanned {
		st.scan(e.Data())
	}
	sp := st.spans[p.slot]
	if sp.end == 0 {
		return nil
	}
	return st.data[sp.start:sp.end]
}

// scan walks data once and records the span of every path's value.
func (st *scanState) scan(data []byte) {
	st.scanned = true
	// Spans are int32 to halve the state; events are far smaller than 2 GiB.
	if len(data) == 0 || len(data) > math.MaxInt32 {
		return
	}
	st.data = data
	i := skipSpace(data, 0)
	if i == len(data) {
		return
	}
	if end := st.visit(st.paths, data, i); end < 0 || skipSpace(data, end) != len(data) {
		clear(st.spans[:st.paths.hi])
	}
}

// visit walks the value starting at b[i] (i < len(b)) for trie node n and
// returns the offset just past it, or -1 if the data is malformed.
func (st *scanState) visit(n *pathNode, b []byte, i int) int {
	// A repeated member name visits n again; the last occurrence wins, so
	// forget what earlier ones recorded below n.
	clear(st.spans[n.lo:n.hi])
	var end int
	switch {
	case b[i] == '{' && len(n.members) > 0:
		end = st.object(n, b, i)
	case b[i] == '[' && len(n.indexes)+len(n.fromEnd) > 0:
		end = st.array(n, b, i)
	default:
		end = skipValue(b, i)
	}
	if end >= 0 && n.slot >= 0 {
		st.spans[n.slot] = span{int32(i), int32(end)}
	}
	return end
}

// object walks the object at b[i] == '{', visiting members n has edges for.
func (st *scanState) object(n *pathNode, b []byte, i int) int {
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return -1
		}
		kend, plain := keyEnd(b, i)
		if kend < 0 {
			return -1
		}
		child := st.member(n, b[i:kend], plain)
		i = skipSpace(b, kend)
		if i >= len(b) || b[i] != ':' {
			return -1
		}
		if i = skipSpace(b, i+1); i >= len(b) {
			return -1
		}
		if child != nil {
			i = st.visit(child, b, i)
		} else {
			i = skipValue(b, i)
		}
		if i < 0 {
			return -1
		}
		if i = skipSpace(b, i); i >= len(b) {
			return -1
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return i + 1
		default:
			return -1
		}
	}
}

// member returns n's child for the key literal raw (quotes included), or
// nil. plain means raw has neither escapes nor non-ASCII bytes, the usual
// case, where the bytes are the name.
func (st *scanState) member(n *pathNode, raw []byte, plain bool) *pathNode {
	key := raw[1 : len(raw)-1]
	if !plain && (bytes.IndexByte(key, '\\') >= 0 || !utf8.Valid(key)) {
		k, ok := appendUnquoted(st.scratch[:0], raw)
		if !ok {
			return nil
		}
		key = k
	}
	for _, e := range n.members {
		if string(key) == e.name {
			return e.node
		}
	}
	return nil
}

// array walks the array at b[start] == '[', visiting the elements n has
// edges for. Negative indexes need the length, so their elements are found
// by a second, skipping pass once it is known.
func (st *scanState) array(n *pathNode, b []byte, start int) int {
	i := skipSpace(b, start+1)
	count, end := 0, -1
	if i < len(b) && b[i] == ']' {
		end = i + 1
	}
	for end < 0 {
		if i >= len(b) {
			return -1
		}
		if child := indexChild(n.indexes, count); child != nil {
			i = st.visit(child, b, i)
		} else {
			i = skipValue(b, i)
		}
		if i < 0 {
			return -1
		}
		count++
		if i = skipSpace(b, i); i >= len(b) {
			return -1
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case ']':
			end = i + 1
		default:
			return -1
		}
	}
	for _, e := range n.fromEnd {
		want := count + e.index
		if want < 0 {
			continue
		}
		// The first pass checked the separators, so this one only skips;
		// the bounds checks are for safety, not expected to fail.
		j := skipSpace(b, start+1)
		for k := 0; k < want && j < len(b); k++ {
			if j = skipValue(b, j); j < 0 {
				return -1
			}
			j = skipSpace(b, skipSpace(b, j)+1) // past ','
		}
		if j >= len(b) {
			return -1
		}
		st.visit(e.node, b, j)
	}
	return end
}

func indexChild(edges []indexEdge, i int) *pathNode {
	for _, e := range edges {
		if e.index == i {
			return e.node
		}
	}
	return nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the offset just past the value starting at b[i]
// (i < len(b)), or -1.
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return stringEnd(b, i)
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
// accepted than JSON allows, which is harmless for skipping, and the
// conditions check the literal they read.
var literalByte = func() (t [256]bool) {
	for _, c := range []byte("0123456789+-.eEtrufalsn") {
		t[c] = true
	}
	return t
}()

// stringEnd returns the offset just past the string starting at b[i] == '"',
// or -1 if it is unterminated.
func stringEnd(b []byte, i int) int {
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

// shortString is how many bytes of a string stringEnd scans one by one.
const shortString = 24

// keyEnd is stringEnd for object keys, which are short: one byte loop that
// also reports whether the key is plain (no escapes, ASCII only).
func keyEnd(b []byte, i int) (int, bool) {
	plain := true
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

// containerEnd returns the offset just past the object or array starting at
// b[i], or -1. It counts brackets outside strings and does not check that
// they pair up, which valid JSON guarantees.
func containerEnd(b []byte, i int) int {
	depth := 0
	for j := i; j < len(b); j++ {
		if !structural[b[j]] {
			continue
		}
		switch b[j] {
		case '"':
			e := stringEnd(b, j)
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
