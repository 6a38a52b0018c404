package jsoncheck

import (
	"encoding/json"
	"strconv"
	"sync"
)

// Decode decodes one JSON text into the values a JSON Schema validator
// reads: map[string]any, []any, string, json.Number (the literal text, so
// integer and multipleOf checks see the exact value), bool and nil.
//
// It exists because decoding with an encoding/json Decoder and UseNumber
// was half of schema validation's cost: it reads through an io.Reader,
// scans every byte twice and builds values by reflection. Decode reads the
// text once with the Reader and allocates the result and one copy of the
// input, which keys, numbers and unescaped strings share.
//
// It accepts and produces exactly what encoding/json does with UseNumber
// (a differential fuzz test holds it to that), including its leniencies,
// which is why it is the one reader here that does not apply Check's rules:
//
//   - invalid UTF-8 inside strings becomes U+FFFD rather than an error;
//   - an escaped lone surrogate (\ud800) becomes U+FFFD;
//   - for a repeated member name the last value wins.
//
// Everything else is strict RFC 8259: exactly one value, optionally
// surrounded by whitespace, at most MaxDepth levels deep. A malformed
// escape is reported at its backslash.
func Decode(data []byte) (any, error) {
	d := decoderPool.Get().(*decoder)
	// One copy of the whole input up front: every key, number and string
	// without escapes is then a substring of it, which costs no allocation,
	// instead of a conversion of its own. The result pins the copy, which is
	// no larger than the input.
	d.data = string(data)
	d.r.Reset(data, Options{Lenient: true})
	v, err := d.document()
	d.release()
	if err != nil {
		if err.escape > 0 {
			err.Offset = err.escape - 1
		}
		return nil, err
	}
	return v, nil
}

// decoderPool recycles decoders so that their scratch stacks, once grown to
// fit typical documents, are reused instead of reallocated for every event.
var decoderPool = sync.Pool{New: func() any { return new(decoder) }}

// maxPooledScratch caps the scratch a pooled decoder keeps, so that one huge
// document does not pin its buffers in the pool for the process's lifetime.
const maxPooledScratch = 1 << 14

// decoder is the state of one Decode call.
type decoder struct {
	r    Reader
	data string // the input

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
	if !d.r.release() || cap(d.vals) > maxPooledScratch || cap(d.keys) > maxPooledScratch || cap(d.buf) > maxPooledScratch {
		return
	}
	decoderPool.Put(d)
}

// document decodes the single top-level value and insists that only
// whitespace follows it.
func (d *decoder) document() (any, *Error) {
	k, err := d.r.Next()
	if err != nil {
		return nil, err
	}
	v, err := d.value(k)
	if err != nil {
		return nil, err
	}
	if _, err := d.r.Next(); err != nil {
		return nil, err
	}
	return v, nil
}

// value decodes the value that the token of kind k, just read, starts.
func (d *decoder) value(k Kind) (any, *Error) {
	switch k {
	case KindObjectStart:
		return d.object()
	case KindArrayStart:
		return d.array()
	case KindString:
		return d.str(), nil
	case KindTrue:
		return true, nil
	case KindFalse:
		return false, nil
	case KindNull:
		return nil, nil
	}
	return d.number(), nil
}

// number returns the number just read as a json.Number.
func (d *decoder) number() any {
	lit := d.data[d.r.tok.Start:d.r.tok.End]
	if len(lit) <= 2 && lit[0] != '-' && isDigit(lit[len(lit)-1]) {
		// Two or fewer characters, no sign and ending in a digit: an integer
		// from 0 to 99 (the grammar already refused "01"). Reuse a boxed
		// value instead of allocating one for each of these counts.
		n := int(lit[0] - '0')
		if len(lit) == 2 {
			n = n*10 + int(lit[1]-'0')
		}
		return smallInts[n]
	}
	return json.Number(lit)
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

// array decodes an array whose '[' was just read.
func (d *decoder) array() (any, *Error) {
	k, err := d.r.Next()
	if err != nil {
		return nil, err
	}
	if k == KindArrayEnd {
		// Not nil: encoding/json yields an empty, non-nil slice, and the
		// two are different values to reflect.DeepEqual and to callers.
		return []any{}, nil
	}
	base := len(d.vals)
	for k != KindArrayEnd {
		v, err := d.value(k)
		if err != nil {
			return nil, err
		}
		d.vals = append(d.vals, v)
		if k, err = d.r.Next(); err != nil {
			return nil, err
		}
	}
	a := make([]any, len(d.vals)-base)
	copy(a, d.vals[base:])
	clear(d.vals[base:])
	d.vals = d.vals[:base]
	return a, nil
}

// object decodes an object whose '{' was just read.
func (d *decoder) object() (any, *Error) {
	k, err := d.r.Next()
	if err != nil {
		return nil, err
	}
	if k == KindObjectEnd {
		return map[string]any{}, nil
	}
	kbase, vbase := len(d.keys), len(d.vals)
	for k != KindObjectEnd {
		name := d.str() // the token is a name
		if k, err = d.r.Next(); err != nil {
			return nil, err
		}
		v, err := d.value(k)
		if err != nil {
			return nil, err
		}
		d.keys = append(d.keys, name)
		d.vals = append(d.vals, v)
		if k, err = d.r.Next(); err != nil {
			return nil, err
		}
	}
	keys, vals := d.keys[kbase:], d.vals[vbase:]
	// The hint counts repeated names too; they are rare, and over-sizing by
	// a few slots is cheaper than growing the map while filling it.
	m := make(map[string]any, len(keys))
	for i, k := range keys {
		m[k] = vals[i] // in document order, so a repeated name keeps its last value
	}
	clear(keys)
	clear(vals)
	d.keys, d.vals = d.keys[:kbase], d.vals[:vbase]
	return m, nil
}

// str returns the text of the string or name just read: a substring of
// the input copy, or for the rare literal with escapes or invalid UTF-8, a
// decoded copy.
func (d *decoder) str() string {
	t := &d.r.tok
	if !t.Escaped {
		return d.data[t.Start+1 : t.End-1]
	}
	// The Reader has checked the literal, so Lenient decoding cannot fail.
	b, _ := AppendUnquoted(d.buf[:0], d.r.b[t.Start:t.End], Lenient)
	d.buf = b[:0] // keep the grown buffer for the next string
	return string(b)
}
