package filter

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// segment is one step of a data path: an object member or an array index.
type segment struct {
	name    string
	index   int // negative counts from the end of the array
	isIndex bool
}

// maxIndexDigits bounds array indexes to nine digits: no event carries an
// array of a billion elements, and it keeps index arithmetic far from
// overflow.
const maxIndexDigits = 9

// pathError is a problem in a data path; off is the byte offset in it.
type pathError struct {
	off int
	msg string
}

// parsePath parses a data path (see the package documentation).
func parsePath(p string) ([]segment, *pathError) {
	if p == "" || p[0] != '$' {
		hint := ""
		if p != "" && (p[0] == '.' || p[0] == '[') {
			hint = fmt.Sprintf(", e.g. %s", quote("$"+p))
		} else if p != "" {
			hint = fmt.Sprintf(", e.g. %s", quote("$."+p))
		}
		return nil, &pathError{0, `a path must start with "$"` + hint}
	}
	var segs []segment
	i := 1
	for i < len(p) {
		// RFC 9535 allows blank space before each segment, not at the end.
		if isBlank(p[i]) {
			j := i
			for j < len(p) && isBlank(p[j]) {
				j++
			}
			if j == len(p) {
				return nil, &pathError{i, "blank space at the end of the path"}
			}
			i = j
		}
		if len(segs) == MaxPathSegments {
			return nil, &pathError{i, fmt.Sprintf("a path may have at most %d segments", MaxPathSegments)}
		}
		var s segment
		var err *pathError
		switch p[i] {
		case '.':
			s, i, err = parseDotted(p, i)
		case '[':
			s, i, err = parseBracketed(p, i)
		case '*':
			return nil, &pathError{i, "wildcards (*) are not supported: a path must name exactly one value"}
		default:
			r, _ := utf8.DecodeRuneInString(p[i:])
			return nil, &pathError{i, fmt.Sprintf("unexpected %s; want \".name\", \"['name']\" or \"[index]\"", quoteRune(r))}
		}
		if err != nil {
			return nil, err
		}
		segs = append(segs, s)
	}
	return segs, nil
}

// parseDotted parses ".name" at p[i] == '.', returning the offset after it.
func parseDotted(p string, i int) (segment, int, *pathError) {
	i++ // '.'
	if i == len(p) {
		return segment{}, i, &pathError{i, `missing member name after "."`}
	}
	switch p[i] {
	case '.':
		return segment{}, i, &pathError{i - 1, "recursive descent (..) is not supported: a path must name exactly one value"}
	case '*':
		return segment{}, i, &pathError{i, "wildcards (*) are not supported: a path must name exactly one value"}
	}
	start := i
	for i < len(p) {
		r, size := utf8.DecodeRuneInString(p[i:])
		if !isNameChar(r, i == start) {
			break
		}
		i += size
	}
	if i == start {
		r, _ := utf8.DecodeRuneInString(p[i:])
		hint := ""
		if r >= '0' && r <= '9' {
			hint = "; write [0] for an array index or ['0'] for a member named by digits"
		} else {
			hint = "; quote other names: ['my-name']"
		}
		return segment{}, i, &pathError{i, fmt.Sprintf("a member name after \".\" cannot start with %s%s", quoteRune(r), hint)}
	}
	if i < len(p) && p[i] != '.' && p[i] != '[' {
		// Suggest the quoted form of what was probably meant as the name.
		end := i
		for end < len(p) && p[end] != '.' && p[end] != '[' {
			end++
		}
		r, _ := utf8.DecodeRuneInString(p[i:])
		hint := string(appendQuotedName(nil, p[start:end]))
		return segment{}, i, &pathError{i, fmt.Sprintf("%s is not allowed in a member name after \".\"; quote the name: ['%s']", quoteRune(r), hint)}
	}
	return segment{name: p[start:i]}, i, nil
}

// isNameChar reports whether r may appear in a dotted member name (RFC 9535
// member-name-shorthand): a letter, "_" or non-ASCII first, digits after.
func isNameChar(r rune, first bool) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '_':
		return true
	case r >= '0' && r <= '9':
		return !first
	}
	return r >= 0x80 && r != utf8.RuneError
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// parseBracketed parses "['name']", "[\"name\"]" or "[index]" at p[i] == '['.
func parseBracketed(p string, i int) (segment, int, *pathError) {
	open := i
	i++
	for i < len(p) && isBlank(p[i]) {
		i++
	}
	if i == len(p) {
		return segment{}, i, &pathError{open, `unclosed "["`}
	}
	var s segment
	switch c := p[i]; {
	case c == '\'' || c == '"':
		name, end, err := parseQuoted(p, i)
		if err != nil {
			return segment{}, i, err
		}
		s, i = segment{name: name}, end
	case c == '-' || (c >= '0' && c <= '9'):
		n, end, err := parseIndex(p, i)
		if err != nil {
			return segment{}, i, err
		}
		s, i = segment{index: n, isIndex: true}, end
	case c == '*':
		return segment{}, i, &pathError{i, "wildcards ([*]) are not supported: a path must name exactly one value"}
	case c == '?':
		return segment{}, i, &pathError{i, "filter expressions ([?...]) are not supported: use a condition on a path instead"}
	case c == ':':
		return segment{}, i, &pathError{i, "array slices are not supported: a path must name exactly one value"}
	default:
		r, _ := utf8.DecodeRuneInString(p[i:])
		return segment{}, i, &pathError{i, fmt.Sprintf("unexpected %s after \"[\"; want a quoted name or an index", quoteRune(r))}
	}
	for i < len(p) && isBlank(p[i]) {
		i++
	}
	if i == len(p) {
		return segment{}, i, &pathError{open, `unclosed "["`}
	}
	switch p[i] {
	case ']':
		return s, i + 1, nil
	case ',':
		return segment{}, i, &pathError{i, "unions ([a,b]) are not supported: a path must name exactly one value"}
	case ':':
		return segment{}, i, &pathError{i, "array slices are not supported: a path must name exactly one value"}
	}
	r, _ := utf8.DecodeRuneInString(p[i:])
	return segment{}, i, &pathError{i, fmt.Sprintf("unexpected %s; want \"]\"", quoteRune(r))}
}

// parseIndex parses an RFC 9535 index: "0", or digits without a leading
// zero, optionally negative ("-0" is not an index).
func parseIndex(p string, i int) (int, int, *pathError) {
	start := i
	if p[i] == '-' {
		i++
	}
	digits := i
	for i < len(p) && p[i] >= '0' && p[i] <= '9' {
		i++
	}
	switch {
	case i == digits:
		return 0, i, &pathError{start, "an index needs digits"}
	case p[digits] == '0' && (i-digits > 1 || digits > start):
		return 0, i, &pathError{start, fmt.Sprintf("index %s has a leading zero", p[start:i])}
	case i-digits > maxIndexDigits:
		return 0, i, &pathError{start, fmt.Sprintf("index %s is out of range (at most %d digits)", p[start:i], maxIndexDigits)}
	}
	n, _ := strconv.Atoi(p[start:i]) // cannot fail: at most nine digits
	return n, i, nil
}

// parseQuoted parses a quoted member name at p[i] (a ' or "), returning the
// name and the offset after the closing quote.
func parseQuoted(p string, i int) (string, int, *pathError) {
	q := p[i]
	i++
	var b strings.Builder
	for {
		if i >= len(p) {
			return "", i, &pathError{i, "unterminated quoted name"}
		}
		c := p[i]
		switch {
		case c == q:
			return b.String(), i + 1, nil
		case c < 0x20:
			return "", i, &pathError{i, fmt.Sprintf("control character %U in a quoted name must be escaped", c)}
		case c != '\\':
			b.WriteByte(c)
			i++
			continue
		}
		// An escape sequence.
		if i+1 >= len(p) {
			return "", i, &pathError{i, "unterminated escape sequence"}
		}
		switch e := p[i+1]; e {
		case '\'', '"', '\\', '/':
			b.WriteByte(e)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, n, ok := hexEscape(p, i)
			if !ok {
				return "", i, &pathError{i, `invalid \u escape: want four hex digits, surrogates in pairs`}
			}
			b.WriteRune(r)
			i += n
			continue
		default:
			return "", i, &pathError{i, fmt.Sprintf("invalid escape %s", quote(p[i:i+2]))}
		}
		i += 2
	}
}

// hexEscape decodes "\uXXXX" at s[i], or a surrogate pair "\uXXXX\uXXXX",
// returning the rune and the bytes consumed. A lone surrogate is refused:
// paths are written by people, and one is certainly a mistake.
func hexEscape(s string, i int) (rune, int, bool) {
	r, ok := hex4(s, i)
	if !ok {
		return 0, 0, false
	}
	if !utf16.IsSurrogate(r) {
		return r, 6, true
	}
	r2, ok := hex4(s, i+6)
	if !ok {
		return 0, 0, false
	}
	if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
		return d, 12, true
	}
	return 0, 0, false
}

// hex4 decodes the four hex digits of "\uXXXX" at s[i].
func hex4[S ~string | ~[]byte](s S, i int) (rune, bool) {
	if i+6 > len(s) || s[i] != '\\' || s[i+1] != 'u' {
		return 0, false
	}
	var r rune
	for _, c := range []byte{s[i+2], s[i+3], s[i+4], s[i+5]} {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// quoteRune names a character for an error message.
func quoteRune(r rune) string {
	if r == utf8.RuneError {
		return "invalid UTF-8"
	}
	return strconv.QuoteRune(r)
}

// formatPath writes segs in canonical syntax: ".name" for ASCII identifiers,
// "['...']" for any other name, "[n]" for indexes.
func formatPath(segs []segment) string {
	b := []byte{'$'}
	for _, s := range segs {
		switch {
		case s.isIndex:
			b = append(b, '[')
			b = strconv.AppendInt(b, int64(s.index), 10)
			b = append(b, ']')
		case isIdentifier(s.name):
			b = append(b, '.')
			b = append(b, s.name...)
		default:
			b = append(b, "['"...)
			b = appendQuotedName(b, s.name)
			b = append(b, "']"...)
		}
	}
	return string(b)
}

// isIdentifier reports whether name is an ASCII identifier, which the
// canonical form writes after a dot.
func isIdentifier(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// appendQuotedName escapes name for a single-quoted path segment.
func appendQuotedName(b []byte, name string) []byte {
	for _, r := range name {
		switch r {
		case '\'':
			b = append(b, `\'`...)
		case '\\':
			b = append(b, `\\`...)
		case '\b':
			b = append(b, `\b`...)
		case '\f':
			b = append(b, `\f`...)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		case '\t':
			b = append(b, `\t`...)
		default:
			if r < 0x20 {
				b = fmt.Appendf(b, `\u%04x`, r)
			} else {
				b = utf8.AppendRune(b, r)
			}
		}
	}
	return b
}

// pathNode is a node of the trie of all data paths a filter reads. Match
// walks the data once, descending only into members and elements that some
// path continues through, and records the span of each path's value in its
// slot.
type pathNode struct {
	// slot is the index of the value's span when a path ends here, else -1.
	slot int
	// lo and hi delimit the slots of this node's subtree, which are numbered
	// consecutively so that revisiting the node (a repeated member name) can
	// reset exactly its paths.
	lo, hi  int
	members []memberEdge
	indexes []indexEdge // non-negative indexes
	fromEnd []indexEdge // negative indexes, resolved once the length is known
}

type memberEdge struct {
	name string
	node *pathNode
}

type indexEdge struct {
	index int
	node  *pathNode
}

// pathSet collects the distinct data paths of a filter while compiling.
type pathSet struct {
	root  *pathNode
	nodes []*pathNode // nodes where a path ends, in insertion order
}

// add returns the trie node for segs, creating it if needed. Conditions on
// the same path share a node, hence one slot.
func (ps *pathSet) add(segs []segment) *pathNode {
	if ps.root == nil {
		ps.root = &pathNode{slot: -1}
	}
	n := ps.root
	for _, s := range segs {
		n = n.child(s)
	}
	if n.slot == -1 {
		n.slot = -2 // a path ends here; build assigns the number
		ps.nodes = append(ps.nodes, n)
	}
	return n
}

func (n *pathNode) child(s segment) *pathNode {
	if !s.isIndex {
		for _, e := range n.members {
			if e.name == s.name {
				return e.node
			}
		}
		c := &pathNode{slot: -1}
		n.members = append(n.members, memberEdge{s.name, c})
		return c
	}
	edges := &n.indexes
	if s.index < 0 {
		edges = &n.fromEnd
	}
	for _, e := range *edges {
		if e.index == s.index {
			return e.node
		}
	}
	c := &pathNode{slot: -1}
	*edges = append(*edges, indexEdge{s.index, c})
	return c
}

// build numbers the slots depth-first and returns the trie root, or nil when
// the filter reads no data.
func (ps *pathSet) build() *pathNode {
	if ps.root == nil {
		return nil
	}
	next := 0
	var number func(n *pathNode)
	number = func(n *pathNode) {
		n.lo = next
		if n.slot != -1 {
			n.slot = next
			next++
		}
		for _, e := range n.members {
			number(e.node)
		}
		for _, e := range n.indexes {
			number(e.node)
		}
		for _, e := range n.fromEnd {
			number(e.node)
		}
		n.hi = next
	}
	number(ps.root)
	return ps.root
}
