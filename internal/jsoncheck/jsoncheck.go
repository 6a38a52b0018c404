// Package jsoncheck decides which JSON texts Herald accepts: exactly one
// well-formed value (RFC 8259) in UTF-8, in which no object names a member
// twice (I-JSON, RFC 7493 §2.3).
//
// Duplicate names are refused rather than resolved because readers resolve
// them differently: Go's encoding/json and Herald's schema validator keep
// the last value, many receivers keep the first, so an event could pass its
// schema with one value and be acted on with another. Every JSON document
// that enters Herald through its API (events in every content mode, and the
// JSON request bodies of the management API) goes through [Scan] or
// [Check], so the rule holds everywhere and is decided in one place.
//
// The scanner is also the syntax check of the ingest path, so it is written
// for speed: one pass, no allocation for documents of ordinary shape, and
// the work for duplicates is a comparison of each member name with its
// siblings (a set past a few dozen members).
package jsoncheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Rules in Error.Rule.
const (
	// RuleJSON: the text is not one well-formed JSON value in UTF-8.
	RuleJSON = "json"
	// RuleDuplicateKey: an object names a member more than once.
	RuleDuplicateKey = "duplicate-key"
)

// MaxDepth is the deepest nesting of arrays and objects accepted; it is
// encoding/json's limit, so both refuse the same hostile inputs.
const MaxDepth = 10000

// Error says why a text was refused.
type Error struct {
	// Rule is RuleJSON or RuleDuplicateKey.
	Rule string
	// Offset is the byte offset of the fault: the offending byte, or the
	// opening quote of the repeated member name.
	Offset int
	// Path locates a repeated member (nil for syntax errors).
	Path Path
	// Detail is a sentence for people, with the position.
	Detail string
}

func (e *Error) Error() string { return e.Detail }

// Step is one step of a Path: a member name, or an array index when
// IsIndex is set.
type Step struct {
	Name    string
	Index   int
	IsIndex bool
}

// Path locates a value inside a document, from the root.
type Path []Step

// String renders p as a JSON path: "$", "$.order.lines[1].sku",
// "$['odd name']".
func (p Path) String() string { return p.Field("$") }

// Field renders p after a field name instead of "$": Field("data") gives
// "data.order", and Field("") gives "order" (no leading dot), the form
// problem fields take.
func (p Path) Field(prefix string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for _, s := range p {
		switch {
		case s.IsIndex:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.Index))
			b.WriteByte(']')
		case isIdentifier(s.Name):
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.Name)
		default:
			b.WriteString("['")
			for _, r := range s.Name {
				if r == '\'' || r == '\\' {
					b.WriteByte('\\')
				}
				b.WriteRune(r)
			}
			b.WriteString("']")
		}
	}
	return b.String()
}

// isIdentifier reports whether a member name can be written after a dot.
func isIdentifier(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_' || c == '$' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// Duplicate is a member name found a second time in one object.
type Duplicate struct {
	// Name is the decoded member name.
	Name string
	// Path locates the repeated member (its last step is Name).
	Path Path
	// Offset is the byte offset of the repeated name's opening quote.
	Offset int
}

// Error builds the Error that reports d.
func (d Duplicate) Error() *Error {
	return &Error{Rule: RuleDuplicateKey, Offset: d.Offset, Path: d.Path,
		Detail: fmt.Sprintf("member %s appears more than once in its object (at %s); JSON names must be unique (RFC 7493 §2.3)",
			strconv.Quote(d.Name), d.Path)}
}

// Check reports the first reason b is refused, as an *Error, or nil when b
// is accepted.
func Check(b []byte) *Error {
	var first *Error
	if err := Scan(b, func(d Duplicate) bool {
		first = d.Error()
		return false
	}); err != nil {
		return err
	}
	return first
}

// Scan checks b and calls dup for each repeated member name, in document
// order, while dup returns true. It returns a syntax error (rule RuleJSON)
// when b is not one well-formed JSON value in UTF-8; duplicates found
// before the syntax error may have been reported already.
func Scan(b []byte, dup func(Duplicate) bool) *Error {
	s := scannerPool.Get().(*scanner)
	s.b, s.dup = b, dup
	err := s.document()
	s.release()
	return err
}

// scanner is the state of one Scan.
type scanner struct {
	b   []byte
	dup func(Duplicate) bool
	// stack holds the open arrays and objects, innermost last.
	stack []frame
	// names holds the member names of the open objects, each object's
	// after its parent's.
	names [][]byte
	// quiet is set once dup asked to stop.
	quiet bool
}

// frame is one open array or object.
type frame struct {
	object bool
	// first is where this object's names start in scanner.names.
	first int
	// index is the current element of an array.
	index int
	// name is the current member of an object.
	name []byte
	// set holds the names of a large object, so each new name costs one
	// lookup instead of a comparison with every sibling.
	set map[string]struct{}
}

// setThreshold is the member count from which an object's names go in a set.
const setThreshold = 32

var scannerPool = sync.Pool{New: func() any { return new(scanner) }}

// maxPooled caps the scratch a pooled scanner keeps.
const maxPooled = 1 << 12

func (s *scanner) release() {
	s.b, s.dup, s.quiet = nil, nil, false
	for i := range s.stack {
		s.stack[i] = frame{}
	}
	clear(s.names)
	s.stack, s.names = s.stack[:0], s.names[:0]
	if cap(s.stack) > maxPooled || cap(s.names) > maxPooled {
		return
	}
	scannerPool.Put(s)
}

// class of each byte for the string fast path: 0 is an ordinary ASCII
// character; anything else needs a closer look.
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

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (s *scanner) skipSpace(i int) int {
	for i < len(s.b) && isSpace(s.b[i]) {
		i++
	}
	return i
}

// document checks the whole text: one value, then only whitespace.
func (s *scanner) document() *Error {
	b := s.b
	if !utf8.Valid(b) {
		// Outside strings only ASCII is valid anyway; finding the first bad
		// byte up front gives the clearest message.
		off := 0
		for off < len(b) {
			r, size := utf8.DecodeRune(b[off:])
			if r == utf8.RuneError && size == 1 {
				break
			}
			off += size
		}
		return s.fail(off, "invalid UTF-8")
	}
	i := s.skipSpace(0)
	if i == len(b) {
		return &Error{Rule: RuleJSON, Detail: "no JSON value: the text is empty or only whitespace"}
	}
	for {
		// A value starts at b[i].
		if i >= len(b) {
			return s.fail(i, "unexpected end of input, looking for a value")
		}
		switch c := b[i]; {
		case c == '{':
			if len(s.stack) >= MaxDepth {
				return s.fail(i, fmt.Sprintf("nesting deeper than %d levels", MaxDepth))
			}
			s.stack = append(s.stack, frame{object: true, first: len(s.names)})
			i = s.skipSpace(i + 1)
			if i < len(b) && b[i] == '}' {
				s.pop()
				i++
				break
			}
			var err *Error
			if i, err = s.member(i); err != nil {
				return err
			}
			continue
		case c == '[':
			if len(s.stack) >= MaxDepth {
				return s.fail(i, fmt.Sprintf("nesting deeper than %d levels", MaxDepth))
			}
			s.stack = append(s.stack, frame{})
			i = s.skipSpace(i + 1)
			if i < len(b) && b[i] == ']' {
				s.pop()
				i++
				break
			}
			continue
		case c == '"':
			end, _, err := s.str(i)
			if err != nil {
				return err
			}
			i = end
		case c == '-' || '0' <= c && c <= '9':
			end, err := s.number(i)
			if err != nil {
				return err
			}
			i = end
		case c == 't':
			var err *Error
			if i, err = s.literal(i, "true"); err != nil {
				return err
			}
		case c == 'f':
			var err *Error
			if i, err = s.literal(i, "false"); err != nil {
				return err
			}
		case c == 'n':
			var err *Error
			if i, err = s.literal(i, "null"); err != nil {
				return err
			}
		default:
			return s.unexpected(i, "looking for the beginning of a value")
		}
		// A value ended before b[i]: close containers, or move to the next
		// element or member.
		for {
			i = s.skipSpace(i)
			if len(s.stack) == 0 {
				if i < len(b) {
					return s.unexpected(i, "after the top-level value")
				}
				return nil
			}
			if i >= len(b) {
				return s.fail(i, "unexpected end of input")
			}
			top := &s.stack[len(s.stack)-1]
			c := b[i]
			if c == ',' {
				i = s.skipSpace(i + 1)
				if top.object {
					var err *Error
					if i, err = s.member(i); err != nil {
						return err
					}
				} else {
					top.index++
				}
				break
			}
			if top.object && c == '}' || !top.object && c == ']' {
				s.pop()
				i++
				continue
			}
			if top.object {
				return s.unexpected(i, "after an object member; want , or }")
			}
			return s.unexpected(i, "after an array element; want , or ]")
		}
	}
}

// pop closes the innermost container.
func (s *scanner) pop() {
	top := &s.stack[len(s.stack)-1]
	if top.object {
		clear(s.names[top.first:])
		s.names = s.names[:top.first]
	}
	*top = frame{}
	s.stack = s.stack[:len(s.stack)-1]
}

// member reads a member name and its colon at b[i] (the innermost container
// is an object), checks the name against its siblings, and returns the
// index of the value.
func (s *scanner) member(i int) (int, *Error) {
	b := s.b
	if i >= len(b) || b[i] != '"' {
		if i >= len(b) {
			return i, s.fail(i, "unexpected end of input, looking for a member name")
		}
		return i, s.unexpected(i, "looking for a member name (a string)")
	}
	end, escaped, err := s.str(i)
	if err != nil {
		return i, err
	}
	name := b[i+1 : end-1]
	if escaped {
		// Names with escapes are rare; encoding/json decodes them. It
		// turns a lone surrogate escape into U+FFFD, so two names differing
		// only in lone surrogates count as one, which I-JSON forbids anyway.
		var decoded string
		if err := json.Unmarshal(b[i:end], &decoded); err != nil {
			return i, s.fail(i, "undecodable member name: "+err.Error())
		}
		name = []byte(decoded)
	}
	top := &s.stack[len(s.stack)-1]
	top.name = name
	if !s.quiet && s.seen(top, name) {
		if !s.dup(Duplicate{Name: string(name), Path: s.path(), Offset: i}) {
			s.quiet = true
		}
	}
	j := s.skipSpace(end)
	if j >= len(b) || b[j] != ':' {
		if j >= len(b) {
			return j, s.fail(j, "unexpected end of input, looking for : after a member name")
		}
		return j, s.unexpected(j, "after a member name; want :")
	}
	return s.skipSpace(j + 1), nil
}

// seen records name as a member of top and reports whether it was one
// already.
func (s *scanner) seen(top *frame, name []byte) bool {
	if top.set != nil {
		if _, ok := top.set[string(name)]; ok {
			return true
		}
		top.set[string(name)] = struct{}{}
		return false
	}
	for _, n := range s.names[top.first:] {
		if bytes.Equal(n, name) {
			return true
		}
	}
	s.names = append(s.names, name)
	if len(s.names)-top.first >= setThreshold {
		top.set = make(map[string]struct{}, 2*setThreshold)
		for _, n := range s.names[top.first:] {
			top.set[string(n)] = struct{}{}
		}
	}
	return false
}

// path is the location of the innermost container's current member or
// element.
func (s *scanner) path() Path {
	p := make(Path, 0, len(s.stack))
	for _, f := range s.stack {
		if f.object {
			p = append(p, Step{Name: string(f.name)})
		} else {
			p = append(p, Step{Index: f.index, IsIndex: true})
		}
	}
	return p
}

// str scans the string starting at b[i] (its opening quote) and returns the
// index just past it and whether it holds escapes.
func (s *scanner) str(i int) (int, bool, *Error) {
	b := s.b
	escaped := false
	i++
	for {
		// The fast path: runs of plain ASCII.
		for i < len(b) && strClass[b[i]] == 0 {
			i++
		}
		if i >= len(b) {
			return i, escaped, s.fail(i, "unexpected end of input inside a string")
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(b) {
				return i, escaped, s.fail(i+1, "unexpected end of input inside a string escape")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for k := i + 2; k < i+6; k++ {
					if k >= len(b) {
						return k, escaped, s.fail(k, "unexpected end of input inside a \\u escape")
					}
					if hexValue[b[k]] < 0 {
						return k, escaped, s.unexpected(k, "in a \\u escape; want four hexadecimal digits")
					}
				}
				i += 6
			default:
				return i + 1, escaped, s.unexpected(i+1, "in a string escape")
			}
		case c < 0x20:
			return i, escaped, s.fail(i, fmt.Sprintf("control character %U inside a string; escape it", rune(c)))
		default:
			// Non-ASCII: the whole text was checked to be UTF-8 already.
			_, size := utf8.DecodeRune(b[i:])
			i += size
		}
	}
}

// literal scans the literal lit (true, false or null) at b[i].
func (s *scanner) literal(i int, lit string) (int, *Error) {
	for k := 0; k < len(lit); k++ {
		if i+k >= len(s.b) || s.b[i+k] != lit[k] {
			return i + k, s.unexpected(i+k, "in the literal "+lit)
		}
	}
	return i + len(lit), nil
}

// number scans the number starting at b[i].
func (s *scanner) number(i int) (int, *Error) {
	b := s.b
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return i, s.unexpected(i, "in a number; want a digit")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return i, s.unexpected(i, "after a decimal point; want a digit")
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return i, s.unexpected(i, "in an exponent; want a digit")
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// hexValue maps each byte to its value as a hexadecimal digit, or -1.
var hexValue = func() (t [256]int8) {
	for c := range t {
		t[c] = -1
	}
	for i, c := range "0123456789abcdef" {
		t[c] = int8(i)
		t[unicode.ToUpper(c)] = int8(i)
	}
	return t
}()

// fail builds a syntax error at offset off.
func (s *scanner) fail(off int, msg string) *Error {
	return &Error{Rule: RuleJSON, Offset: off, Detail: fmt.Sprintf("malformed JSON %s: %s", Position(s.b, off), msg)}
}

// unexpected reports the byte at off as out of place.
func (s *scanner) unexpected(off int, context string) *Error {
	if off >= len(s.b) {
		return s.fail(off, "unexpected end of input "+context)
	}
	r, _ := utf8.DecodeRune(s.b[off:])
	return s.fail(off, fmt.Sprintf("unexpected character %s %s", strconv.QuoteRune(r), context))
}

// Position describes byte offset off in b for people: "at byte offset 17
// (line 2, column 5)".
func Position(b []byte, off int) string {
	off = max(0, min(off, len(b)))
	line := 1 + bytes.Count(b[:off], []byte{'\n'})
	col := off - bytes.LastIndexByte(b[:off], '\n')
	return fmt.Sprintf("at byte offset %d (line %d, column %d)", off, line, col)
}
