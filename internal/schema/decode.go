package schema

import (
	"encoding/json"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth is the deepest nesting of arrays and objects decodeJSON accepts.
// It is encoding/json's limit, so both decoders reject exactly the same
// hostile inputs, and it bounds the recursion of the decoder below.
const maxDepth = 10000

// decodeJSON decodes one JSON document into the values the validator
// expects: map[string]any, []any, string, json.Number (the literal text, so
// integer and multipleOf checks see the exact value), bool and nil.
//
// It exists because decoding with jsonschema.UnmarshalJSON (an encoding/json
// Decoder with UseNumber) was half of Validate's cost: it reads through an
// io.Reader, scans every byte twice and builds values by reflection. This
// decoder makes one pass over the bytes and allocates the result and one
// copy of the input, which keys, numbers and unescaped strings share.
//
// It accepts and produces exactly what jsonschema.UnmarshalJSON does with the
// standard library's encoding/json (the differential and fuzz tests hold it
// to that), including encoding/json's leniencies:
//
//   - invalid UTF-8 inside strings becomes U+FFFD rather than an error;
//   - an escaped lone surrogate (\ud800) becomes U+FFFD;
//   - for a duplicated object key the last value wins.
//
// Everything else is strict RFC 8259: exactly one value, optionally
// surrounded by whitespace, at most maxDepth levels deep.
func decodeJSON(data []byte) (any, error) {
	d := decoderPool.Get().(*decoder)
	// One copy of the whole input up front: every key, number and string
	// without escapes is then a substring of it, which costs no allocation,
	// instead of a conversion of its own. The result pins the copy, which is
	// no larger than the input; Validate drops both when it returns.
	d.data = string(data)
	d.pos = 0
	d.depth = 0
	v, err := d.document()
	d.release()
	return v, err
}

// decoderPool recycles decoders so that their scratch stacks, once grown to
// fit typical documents, are reused instead of reallocated for every event.
var decoderPool = sync.Pool{New: func() any { return new(decoder) }}

// maxPooledScratch caps the scratch a pooled decoder keeps, so that one huge
// document does not pin its buffers in the pool for the process's lifetime.
const maxPooledScratch = 1 << 14

// decoder is the state of one decodeJSON call.
type decoder struct {
	data  string // the input
	pos   int    // index of the next unread byte
	depth int    // current nesting of arrays and objects

	// Containers are collected on these stacks and copied out when they end,
	// so every map and slice in the result is allocated once at its exact
	// size. Nested containers push above their parent's entries and pop
	// back before the parent continues.
	vals []any    // array elements and object member values
	keys []string // object member names, parallel to their values
	buf  []byte   // unescaped string under construction
}

// release clears references into the decoded document, so a pooled decoder
// does not keep it alive, and returns d to the pool.
func (d *decoder) release() {
	d.data = ""
	// Entries above len were cleared when their container was popped; only
	// an error leaves live entries below len.
	clear(d.vals)
	clear(d.keys)
	d.vals, d.keys, d.buf = d.vals[:0], d.keys[:0], d.buf[:0]
	if cap(d.vals) > maxPooledScratch || cap(d.keys) > maxPooledScratch || cap(d.buf) > maxPooledScratch {
		return
	}
	decoderPool.Put(d)
}

// syntaxError reports why decodeJSON rejected its input.
type syntaxError struct {
	msg    string
	offset int // byte offset of the problem in the input
}

// Error implements error.
func (e *syntaxError) Error() string {
	return "invalid JSON at offset " + strconv.Itoa(e.offset) + ": " + e.msg
}

// fail returns a syntaxError for msg at the current position.
func (d *decoder) fail(msg string) error {
	return &syntaxError{msg: msg, offset: d.pos}
}

// unexpected reports the byte at d.pos (or the end of input) as out of place
// while looking for what.
func (d *decoder) unexpected(what string) error {
	if d.pos >= len(d.data) {
		return d.fail("unexpected end of input, looking for " + what)
	}
	return d.fail("unexpected character " + strconv.QuoteRune(rune(d.data[d.pos])) + ", looking for " + what)
}

// document decodes the single top-level value and insists that only
// whitespace follows it.
func (d *decoder) document() (any, error) {
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	if d.peek() != 0 || d.pos < len(d.data) {
		return nil, d.unexpected("end of input after top-level value")
	}
	return v, nil
}

// peek skips whitespace and returns the next byte without consuming it, or 0
// at the end of input. A literal NUL byte is never valid outside a string,
// so 0 can stand for "end" wherever peek is used to dispatch.
func (d *decoder) peek() byte {
	for d.pos < len(d.data) {
		switch c := d.data[d.pos]; c {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return c
		}
	}
	return 0
}

// value decodes the value starting at the next non-whitespace byte.
func (d *decoder) value() (any, error) {
	switch c := d.peek(); c {
	case '{':
		return d.object()
	case '[':
		return d.array()
	case '"':
		return d.str()
	case 't':
		return true, d.literal("true")
	case 'f':
		return false, d.literal("false")
	case 'n':
		return nil, d.literal("null")
	default:
		if c == '-' || '0' <= c && c <= '9' {
			return d.number()
		}
		return nil, d.unexpected("beginning of value")
	}
}

// literal consumes lit, which the byte at d.pos has already selected.
func (d *decoder) literal(lit string) error {
	end := d.pos + len(lit)
	if end > len(d.data) || d.data[d.pos:end] != lit {
		return d.fail("invalid literal, expected " + lit)
	}
	d.pos = end
	return nil
}

// number consumes a number and returns its text as a json.Number. The
// grammar is RFC 8259's: no leading zeros, no leading '+', no bare '.', at
// least one digit after '.' and after the exponent marker. Whatever follows
// the number is left to the caller, which rejects anything that is not a
// delimiter ("01" fails there, on the '1').
func (d *decoder) number() (any, error) {
	data := d.data
	start := d.pos
	i := start
	if data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && '1' <= data[i] && data[i] <= '9':
		i++
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	default:
		d.pos = i
		return nil, d.unexpected("digit in number")
	}
	if i < len(data) && data[i] == '.' {
		i++
		if i >= len(data) || !isDigit(data[i]) {
			d.pos = i
			return nil, d.unexpected("digit after decimal point")
		}
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= len(data) || !isDigit(data[i]) {
			d.pos = i
			return nil, d.unexpected("digit in exponent")
		}
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	}
	d.pos = i
	if i-start <= 2 && data[start] != '-' && isDigit(data[i-1]) {
		// Two or fewer characters, no sign and ending in a digit: an integer
		// from 0 to 99 (the grammar above already refused "01"). Reuse a
		// boxed value instead of allocating one for each of these counts.
		n := int(data[start] - '0')
		if i-start == 2 {
			n = n*10 + int(data[start+1]-'0')
		}
		return smallInts[n], nil
	}
	return json.Number(data[start:i]), nil
}

// smallInts holds the json.Numbers "0" to "99" already stored in interfaces.
// Boxing a string allocates, and small counts (quantities, retries, page
// sizes) are the most frequent numbers in events; sharing is safe because
// the values are immutable.
var smallInts = func() (t [100]any) {
	for i := range t {
		t[i] = json.Number(strconv.Itoa(i))
	}
	return t
}()

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// enter records one more level of nesting, refusing to go past maxDepth so
// that hostile input cannot exhaust the stack.
func (d *decoder) enter() error {
	d.depth++
	if d.depth > maxDepth {
		return d.fail("exceeded maximum nesting depth of " + strconv.Itoa(maxDepth))
	}
	return nil
}

// array decodes an array; d.pos is at its '['.
func (d *decoder) array() (any, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	d.pos++
	if d.peek() == ']' {
		d.pos++
		d.depth--
		// Not nil: encoding/json yields an empty, non-nil slice, and the
		// two are different values to reflect.DeepEqual and to callers.
		return []any{}, nil
	}
	base := len(d.vals)
	for {
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		d.vals = append(d.vals, v)
		switch d.peek() {
		case ',':
			d.pos++
			continue
		case ']':
			d.pos++
		default:
			return nil, d.unexpected("',' or ']' after array element")
		}
		break
	}
	a := make([]any, len(d.vals)-base)
	copy(a, d.vals[base:])
	clear(d.vals[base:])
	d.vals = d.vals[:base]
	d.depth--
	return a, nil
}

// object decodes an object; d.pos is at its '{'.
func (d *decoder) object() (any, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	d.pos++
	if d.peek() == '}' {
		d.pos++
		d.depth--
		return map[string]any{}, nil
	}
	kbase, vbase := len(d.keys), len(d.vals)
	for {
		if d.peek() != '"' {
			return nil, d.unexpected("'\"' at beginning of object key")
		}
		k, err := d.rawString()
		if err != nil {
			return nil, err
		}
		if d.peek() != ':' {
			return nil, d.unexpected("':' after object key")
		}
		d.pos++
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		d.keys = append(d.keys, k)
		d.vals = append(d.vals, v)
		switch d.peek() {
		case ',':
			d.pos++
			continue
		case '}':
			d.pos++
		default:
			return nil, d.unexpected("',' or '}' after object member")
		}
		break
	}
	keys, vals := d.keys[kbase:], d.vals[vbase:]
	// The hint counts duplicated keys too; they are rare, and over-sizing by
	// a few slots is cheaper than growing the map while filling it.
	m := make(map[string]any, len(keys))
	for i, k := range keys {
		m[k] = vals[i] // in document order, so a repeated key keeps its last value
	}
	clear(keys)
	clear(vals)
	d.keys, d.vals = d.keys[:kbase], d.vals[:vbase]
	d.depth--
	return m, nil
}

// str decodes a string value; d.pos is at its opening quote.
func (d *decoder) str() (any, error) {
	s, err := d.rawString()
	if err != nil {
		return nil, err
	}
	return s, nil
}

// plain[c] is true for the ASCII bytes that stand for themselves inside a
// string: everything from ' ' up except '"' and '\\'. Bytes of 0x80 and above
// are false so that the loop below stops to check their UTF-8 encoding.
var plain = func() (t [256]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// rawString decodes a string; d.pos is at its opening quote. A string with
// no escapes and valid UTF-8, the common case, costs one scan and is a
// substring of the input copy; anything else is rebuilt by unescape.
func (d *decoder) rawString() (string, error) {
	data := d.data
	start := d.pos + 1
	for i := start; i < len(data); {
		c := data[i]
		if plain[c] {
			i++
			continue
		}
		switch {
		case c == '"':
			d.pos = i + 1
			return data[start:i], nil
		case c == '\\':
			return d.unescape(start, i)
		case c < ' ':
			d.pos = i
			return "", d.fail("control character in string")
		default:
			r, size := utf8.DecodeRuneInString(data[i:])
			if r == utf8.RuneError && size == 1 {
				return d.unescape(start, i)
			}
			i += size
		}
	}
	d.pos = len(data)
	return "", d.fail("unterminated string")
}

// unescape finishes a string that starts at start and needs rewriting from
// index i on, because of an escape or invalid UTF-8. It mirrors
// encoding/json's unquote: invalid UTF-8 bytes and escaped surrogates that
// do not form a pair each become U+FFFD.
func (d *decoder) unescape(start, i int) (string, error) {
	data := d.data
	b := append(d.buf[:0], data[start:i]...)
	for i < len(data) {
		c := data[i]
		switch {
		case plain[c]:
			b = append(b, c)
			i++
		case c == '"':
			d.pos = i + 1
			d.buf = b[:0] // keep the grown buffer for the next string
			return string(b), nil
		case c < ' ':
			d.pos = i
			return "", d.fail("control character in string")
		case c >= utf8.RuneSelf:
			// DecodeRune yields RuneError for each invalid byte, which is
			// exactly the replacement encoding/json makes.
			r, size := utf8.DecodeRuneInString(data[i:])
			b = utf8.AppendRune(b, r)
			i += size
		default: // '\\'
			if i+1 >= len(data) {
				d.pos = len(data)
				return "", d.fail("unterminated string")
			}
			switch e := data[i+1]; e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r := hex4(data, i+2)
				if r < 0 {
					d.pos = i
					return "", d.fail(`invalid \u escape, want four hex digits`)
				}
				i += 6
				if utf16.IsSurrogate(r) {
					// A pair takes the next escape too; a lone half does
					// not, and the following escape is decoded on its own.
					if i+1 < len(data) && data[i] == '\\' && data[i+1] == 'u' {
						if r2 := hex4(data, i+2); r2 >= 0 {
							if p := utf16.DecodeRune(r, r2); p != utf8.RuneError {
								b = utf8.AppendRune(b, p)
								i += 6
								continue
							}
						}
					}
					r = utf8.RuneError
				}
				b = utf8.AppendRune(b, r)
				continue
			default:
				d.pos = i
				return "", d.fail("invalid escape character " + strconv.QuoteRune(rune(e)))
			}
			i += 2
		}
	}
	d.pos = len(data)
	return "", d.fail("unterminated string")
}

// hex4 decodes the four hex digits at data[i:i+4], or returns -1 if there are
// not four.
func hex4(data string, i int) rune {
	if i+4 > len(data) {
		return -1
	}
	var r rune
	for j := i; j < i+4; j++ {
		c := data[j]
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}
