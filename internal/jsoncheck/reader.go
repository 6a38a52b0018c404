package jsoncheck

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Kind is the kind of a Token.
type Kind uint8

// Token kinds.
const (
	// KindEnd follows the top-level value: the text is over.
	KindEnd Kind = iota
	KindObjectStart
	KindObjectEnd
	KindArrayStart
	KindArrayEnd
	// KindName is a member name, a string; the Reader has read the colon
	// after it once the member's value is read.
	KindName
	KindString
	KindNumber
	KindTrue
	KindFalse
	KindNull
)

// Token is one token of a JSON text: its kind and where it lies.
type Token struct {
	Kind Kind
	// Escaped is set on a string or name whose text between the quotes is
	// not its value as it stands: it holds escapes or, in a lenient
	// Reader, invalid UTF-8. AppendUnquoted gives the value.
	Escaped bool
	// Repeated is set on a name its object has already had, when the
	// Reader looks for repeated names.
	Repeated bool
	// Start and End delimit the token's text (quotes included).
	Start, End int
}

// Options say how a Reader reads.
type Options struct {
	// Lenient accepts invalid UTF-8 inside strings, as encoding/json does
	// (AppendUnquoted with Lenient replaces it); otherwise the whole text
	// must be UTF-8.
	Lenient bool
	// Duplicates looks for repeated member names (compared after
	// decoding, as encoding/json decodes them) and marks them Repeated.
	Duplicates bool
}

// Reader reads the tokens of one JSON text in order and checks its syntax
// as it goes: it is the one JSON scanner of Herald. Check and Scan,
// Decode, and the filter document reader are built on it; code that walks
// a text Check has accepted uses the walkers of walk.go instead, which skip
// what they do not need without checking it again.
//
// Every syntax error is an *Error of rule RuleJSON naming the offending
// byte, and a Reader never reads past the first one. The zero Reader reads
// an empty text; Reset gives it one.
type Reader struct {
	b     []byte
	i     int
	tok   Token
	state readState
	opts  Options
	// stack holds the open arrays and objects, innermost last.
	stack []frame
	// names holds the member names of the open objects, each object's
	// after its parent's, when the Reader looks for repeated names; sets
	// hold those of large objects instead, innermost last.
	names [][]byte
	sets  []nameSet
}

// readState is what a Reader expects next.
type readState uint8

const (
	stBegin       readState = iota // nothing read yet
	stValue                        // a value (after ':' or ',' in an array)
	stFirstElem                    // after '[': a value or ']'
	stFirstMember                  // after '{': a name or '}'
	stMember                       // after ',' in an object: a name
	stColon                        // after a name: ':' and a value
	stAfter                        // after a value: ',', a closing bracket or the end
	stEnd                          // the text is over
)

// frame is one open array or object. It holds no pointers, so pushing and
// popping one costs no write barrier.
type frame struct {
	object bool
	// escaped is set when the current name holds escapes.
	escaped bool
	// first is where this object's names start in Reader.names.
	first int
	// index is the current element of an array.
	index int
	// nameStart and nameEnd delimit the current member's name, quotes
	// included.
	nameStart, nameEnd int
}

// nameSet holds the names of a large object, so each new name costs one
// lookup instead of a comparison with every sibling.
type nameSet struct {
	depth int // of the object, in Reader.stack
	names map[string]struct{}
}

// setThreshold is the member count from which an object's names go in a set.
const setThreshold = 32

// maxPooled caps the scratch a pooled Reader keeps.
const maxPooled = 1 << 12

// Reset makes r read b with opts, keeping its scratch space.
func (r *Reader) Reset(b []byte, opts Options) {
	clear(r.names)
	clear(r.sets)
	*r = Reader{b: b, opts: opts, stack: r.stack[:0], names: r.names[:0], sets: r.sets[:0]}
}

// release drops r's references to its text, for a pool; it reports false
// when r's scratch has grown too large to keep.
func (r *Reader) release() bool {
	r.Reset(nil, Options{})
	return cap(r.stack) <= maxPooled && cap(r.names) <= maxPooled && cap(r.sets) <= maxPooled
}

// Offset is the offset of the first byte r has not read.
func (r *Reader) Offset() int { return r.i }

// Depth is the number of open arrays and objects.
func (r *Reader) Depth() int { return len(r.stack) }

// Path locates the value being read: the current member or element of each
// open container.
func (r *Reader) Path() Path {
	p := make(Path, 0, len(r.stack))
	for _, f := range r.stack {
		if !f.object {
			p = append(p, Step{Index: f.index, IsIndex: true})
			continue
		}
		p = append(p, Step{Name: string(r.nameOf(&f))})
	}
	return p
}

// Name returns the text of the member name read last.
func (r *Reader) Name() []byte {
	return r.nameOf(&r.stack[len(r.stack)-1])
}

// nameOf returns the text of f's current member name.
func (r *Reader) nameOf(f *frame) []byte {
	raw := r.b[f.nameStart:f.nameEnd]
	if !f.escaped {
		return raw[1 : len(raw)-1]
	}
	name, _ := AppendUnquoted(nil, raw, Lenient)
	return name
}

// Next reads the next token and returns its kind; Token tells the rest.
// After the top-level value it returns KindEnd, or an error if anything
// but whitespace follows.
//
// Reading is one function with jumps rather than a call per construct because
// it runs for every token Herald reads: the ingest path's check costs a
// few nanoseconds a token, and calls would double that.
func (r *Reader) Next() (Kind, *Error) {
	err := r.next()
	return r.tok.Kind, err
}

// Token returns the token Next read last.
func (r *Reader) Token() Token { return r.tok }

// next reads the next token for Next.
func (r *Reader) next() (err *Error) {
	t := &r.tok
	t.Escaped, t.Repeated = false, false
	b := r.b
	i := skipSpace(b, r.i)
	var c byte
	switch r.state {
	case stAfter:
		if len(r.stack) == 0 {
			if i < len(b) {
				return r.unexpected(i, "after the top-level value")
			}
			r.i, r.state = i, stEnd
			t.Kind, t.Start, t.End = KindEnd, i, i
			return nil
		}
		if i >= len(b) {
			return r.fail(i, "unexpected end of input")
		}
		top := &r.stack[len(r.stack)-1]
		switch c := b[i]; {
		case c == ',':
			i = skipSpace(b, i+1)
			if top.object {
				goto name
			}
			top.index++
			goto value
		case c == '}' && top.object:
			return r.close(i, KindObjectEnd)
		case c == ']' && !top.object:
			return r.close(i, KindArrayEnd)
		case top.object:
			return r.unexpected(i, "after an object member; want , or }")
		default:
			return r.unexpected(i, "after an array element; want , or ]")
		}
	case stColon:
		if i >= len(b) {
			return r.fail(i, "unexpected end of input, looking for : after a member name")
		}
		if b[i] != ':' {
			return r.unexpected(i, "after a member name; want :")
		}
		i = skipSpace(b, i+1)
		goto value
	case stFirstMember:
		if i < len(b) && b[i] == '}' {
			return r.close(i, KindObjectEnd)
		}
		goto name
	case stMember:
		goto name
	case stFirstElem:
		if i < len(b) && b[i] == ']' {
			return r.close(i, KindArrayEnd)
		}
		goto value
	case stValue:
		goto value
	case stBegin:
		if !r.opts.Lenient && !utf8.Valid(b) {
			// Outside strings only ASCII is valid anyway; finding the
			// first bad byte up front gives the clearest message.
			off := 0
			for off < len(b) {
				c, size := utf8.DecodeRune(b[off:])
				if c == utf8.RuneError && size == 1 {
					break
				}
				off += size
			}
			return r.fail(off, "invalid UTF-8")
		}
		if i == len(b) {
			r.state = stEnd
			return &Error{Rule: RuleJSON, Detail: "no JSON value: the text is empty or only whitespace", Reason: "no JSON value"}
		}
		goto value
	}
	t.Kind, t.Start, t.End = KindEnd, r.i, r.i
	return nil

name:
	// A member name at b[i] (the innermost container is an object),
	// checked against its siblings if asked.
	if i >= len(b) {
		return r.fail(i, "unexpected end of input, looking for a member name")
	}
	if b[i] != '"' {
		return r.unexpected(i, "looking for a member name (a string)")
	}
	t.Kind, t.Start = KindName, i
	if t.End = plainString(b, i); t.End < 0 {
		if t.End, t.Escaped, err = r.str(i + 1); err != nil {
			return err
		}
	}
	{
		top := &r.stack[len(r.stack)-1]
		top.nameStart, top.nameEnd, top.escaped = i, t.End, t.Escaped
		if r.opts.Duplicates {
			// Names with escapes are rare; their decoded copy outlives
			// the text's spelling for the comparisons to come.
			t.Repeated = r.seen(top, r.nameOf(top))
		}
	}
	r.i, r.state = t.End, stColon
	return nil

value:
	// A value at b[i].
	if i >= len(b) {
		return r.fail(i, "unexpected end of input, looking for a value")
	}
	t.Start = i
	switch c = b[i]; {
	case c == '"':
		t.Kind = KindString
		if t.End = plainString(b, i); t.End < 0 {
			if t.End, t.Escaped, err = r.str(i + 1); err != nil {
				return err
			}
		}
	case c == '{' || c == '[':
		if len(r.stack) >= MaxDepth {
			return r.fail(i, fmt.Sprintf("nesting deeper than %d levels", MaxDepth))
		}
		if c == '{' {
			r.stack = append(r.stack, frame{object: true, first: len(r.names)})
			t.Kind, r.state = KindObjectStart, stFirstMember
		} else {
			r.stack = append(r.stack, frame{})
			t.Kind, r.state = KindArrayStart, stFirstElem
		}
		t.End = i + 1
		r.i = t.End
		return nil
	case c == '-' || '0' <= c && c <= '9':
		end, bad, why := scanNumber(b, i)
		if why != "" {
			return r.unexpected(bad, why)
		}
		t.Kind, t.End = KindNumber, end
	case c == 't':
		t.Kind = KindTrue
		if t.End = r.literal(i, "true"); t.End < 0 {
			return r.literalError(i, "true")
		}
	case c == 'f':
		t.Kind = KindFalse
		if t.End = r.literal(i, "false"); t.End < 0 {
			return r.literalError(i, "false")
		}
	case c == 'n':
		t.Kind = KindNull
		if t.End = r.literal(i, "null"); t.End < 0 {
			return r.literalError(i, "null")
		}
	default:
		return r.unexpected(i, "looking for the beginning of a value")
	}
	r.i, r.state = t.End, stAfter
	return nil
}

// close ends the innermost container at b[i].
func (r *Reader) close(i int, k Kind) *Error {
	top := &r.stack[len(r.stack)-1]
	if top.object && r.opts.Duplicates {
		clear(r.names[top.first:])
		r.names = r.names[:top.first]
		if n := len(r.sets); n > 0 && r.sets[n-1].depth == len(r.stack) {
			r.sets[n-1] = nameSet{}
			r.sets = r.sets[:n-1]
		}
	}
	r.stack = r.stack[:len(r.stack)-1]
	r.i, r.state = i+1, stAfter
	r.tok = Token{Kind: k, Start: i, End: i + 1}
	return nil
}

// StopDuplicates stops looking for repeated names (Scan's caller has heard
// enough).
func (r *Reader) StopDuplicates() { r.opts.Duplicates = false }

// seen records name as a member of top, the innermost container, and
// reports whether it was one already.
func (r *Reader) seen(top *frame, name []byte) bool {
	if n := len(r.sets); n > 0 && r.sets[n-1].depth == len(r.stack) {
		set := r.sets[n-1].names
		if _, ok := set[string(name)]; ok {
			return true
		}
		set[string(name)] = struct{}{}
		return false
	}
	for _, n := range r.names[top.first:] {
		if bytes.Equal(n, name) {
			return true
		}
	}
	r.names = append(r.names, name)
	if len(r.names)-top.first >= setThreshold {
		set := make(map[string]struct{}, 2*setThreshold)
		for _, n := range r.names[top.first:] {
			set[string(n)] = struct{}{}
		}
		r.sets = append(r.sets, nameSet{depth: len(r.stack), names: set})
	}
	return false
}

// plainString returns the end of the string at b[i] (its opening quote)
// when it is short and plain ASCII, the most common string, or -1. It is
// small enough to be inlined, which spares those strings a call.
func plainString(b []byte, i int) int {
	for j := i + 1; j < len(b) && j <= i+16; j++ {
		if strClass[b[j]] != 0 {
			if b[j] == '"' {
				return j + 1
			}
			return -1
		}
	}
	return -1
}

// str checks a string from b[i] on, the byte after its opening quote, and
// returns the index just past it and whether its value differs from its
// text.
func (r *Reader) str(i int) (int, bool, *Error) {
	b := r.b
	escaped := false
	for {
		// The fast path: runs of plain ASCII. Most strings are short, so
		// the first bytes are looked at one by one; past them, eight at a
		// time while none of them needs a look.
		stop := min(len(b), i+8)
		for i < stop && strClass[b[i]] == 0 {
			i++
		}
		if i == stop {
			for i+8 <= len(b) && !needsLook(binary.LittleEndian.Uint64(b[i:])) {
				i += 8
			}
			for i < len(b) && strClass[b[i]] == 0 {
				i++
			}
		}
		if i >= len(b) {
			err := r.fail(i, "unexpected end of input inside a string")
			return i, escaped, err
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, escaped, nil
		case c == '\\':
			escaped = true
			n, bad, why := escapeLen(b, i)
			if why != "" {
				err := r.unexpected(bad, why)
				if i+1 < len(b) {
					// Decode reports a malformed escape at its backslash.
					err.escape = i + 1
				}
				return bad, escaped, err
			}
			i += n
		case c < 0x20:
			err := r.fail(i, fmt.Sprintf("control character %U inside a string; escape it", rune(c)))
			return i, escaped, err
		default:
			c, size := utf8.DecodeRune(b[i:])
			if c == utf8.RuneError && size == 1 {
				// Only a lenient Reader gets here: a strict one checked
				// the whole text first.
				escaped = true
			}
			i += size
		}
	}
}

// needsLook reports whether one of the eight bytes in x is one the string
// loop must look at (strClass): a control character, '"', '\\' or a byte
// of 0x80 and above. Each test sets a byte's high bit: subtracting 0x20
// borrows from a byte below it, subtracting 1 from a byte XORed to zero by
// '"' or '\\'. A borrow can only spread past a byte that was flagged
// already, so the answer is exact.
func needsLook(x uint64) bool {
	const ones, high = 0x0101010101010101, 0x8080808080808080
	return ((x-0x20*ones)|((x^'"'*ones)-ones)|((x^'\\'*ones)-ones)|x)&high != 0
}

// literal checks the literal lit (true, false or null) at b[i] and returns
// the index past it, or -1.
func (r *Reader) literal(i int, lit string) int {
	if len(r.b)-i >= len(lit) && string(r.b[i:i+len(lit)]) == lit {
		return i + len(lit)
	}
	return -1
}

// literalError reports the first byte at b[i] that breaks lit.
func (r *Reader) literalError(i int, lit string) *Error {
	k := 0
	for k < len(lit) && i+k < len(r.b) && r.b[i+k] == lit[k] {
		k++
	}
	return r.unexpected(i+k, "in the literal "+lit)
}

// fail builds a syntax error at offset off, after which r reads no more.
func (r *Reader) fail(off int, msg string) *Error {
	r.state = stEnd
	r.tok = Token{}
	return &Error{Rule: RuleJSON, Offset: off, Detail: fmt.Sprintf("malformed JSON %s: %s", Position(r.b, off), msg), Reason: msg}
}

// unexpected reports the byte at off as out of place.
func (r *Reader) unexpected(off int, context string) *Error {
	if off >= len(r.b) {
		return r.fail(off, "unexpected end of input "+context)
	}
	c, _ := utf8.DecodeRune(r.b[off:])
	return r.fail(off, fmt.Sprintf("unexpected character %s %s", strconv.QuoteRune(c), context))
}
