package filter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Kinds of JSON values in a filter document.
const (
	jsonNull = iota
	jsonBool
	jsonNumber
	jsonString
	jsonArray
	jsonObject
)

// jsonValue is a filter document decoded into a tree that keeps what
// map[string]any loses: member order (the first offending key is reported,
// deterministically), duplicate keys (refused) and number literals.
type jsonValue struct {
	kind int
	// str is the string value, or the literal text of a number.
	str     string
	boolean bool
	// keys are an object's member names in document order.
	keys []string
	// elems are an object's member values (parallel to keys) or an array's
	// elements.
	elems []*jsonValue
}

// member returns the value of the object member name, or nil.
func (v *jsonValue) member(name string) *jsonValue {
	for i, k := range v.keys {
		if k == name {
			return v.elems[i]
		}
	}
	return nil
}

// maxJSONNesting bounds the nesting of arrays and objects while reading, so
// that a hostile document cannot drive the reader into deep recursion. It is
// well above what MaxDepth filters need (about two levels per filter), so a
// document nested too deeply is normally reported against MaxDepth, with a
// precise path, by the compiler.
const maxJSONNesting = 64

// reader turns a filter document into a jsonValue tree.
type reader struct {
	dec *json.Decoder
}

// readDocument decodes doc, which must be exactly one JSON value.
func readDocument(doc []byte) (*jsonValue, error) {
	r := reader{dec: json.NewDecoder(bytes.NewReader(doc))}
	r.dec.UseNumber()
	v, err := r.value("", 0)
	if err != nil {
		return nil, err
	}
	if _, err := r.dec.Token(); err != io.EOF {
		return nil, &Error{Message: fmt.Sprintf("invalid JSON: unexpected data after the filter at byte %d", r.dec.InputOffset())}
	}
	return v, nil
}

// value reads the next JSON value; ptr is its JSON Pointer, for errors.
func (r *reader) value(ptr string, nesting int) (*jsonValue, error) {
	tok, err := r.dec.Token()
	if err != nil {
		return nil, r.syntaxError(ptr, err)
	}
	switch t := tok.(type) {
	case nil:
		return &jsonValue{kind: jsonNull}, nil
	case bool:
		return &jsonValue{kind: jsonBool, boolean: t}, nil
	case json.Number:
		return &jsonValue{kind: jsonNumber, str: string(t)}, nil
	case string:
		return &jsonValue{kind: jsonString, str: t}, nil
	case json.Delim:
		if nesting >= maxJSONNesting {
			return nil, &Error{Path: ptr, Message: fmt.Sprintf("JSON nested more than %d levels deep (filters nest at most %d levels)", maxJSONNesting, MaxDepth)}
		}
		if t == '[' {
			return r.array(ptr, nesting+1)
		}
		return r.object(ptr, nesting+1)
	}
	// Token returns no other types; this keeps the compiler and a future
	// encoding/json change honest.
	return nil, &Error{Path: ptr, Message: fmt.Sprintf("unexpected JSON token %v", tok)}
}

func (r *reader) array(ptr string, nesting int) (*jsonValue, error) {
	v := &jsonValue{kind: jsonArray}
	for r.dec.More() {
		e, err := r.value(ptr+"/"+strconv.Itoa(len(v.elems)), nesting)
		if err != nil {
			return nil, err
		}
		v.elems = append(v.elems, e)
	}
	if _, err := r.dec.Token(); err != nil { // the closing ']'
		return nil, r.syntaxError(ptr, err)
	}
	return v, nil
}

func (r *reader) object(ptr string, nesting int) (*jsonValue, error) {
	v := &jsonValue{kind: jsonObject}
	for r.dec.More() {
		tok, err := r.dec.Token()
		if err != nil {
			return nil, r.syntaxError(ptr, err)
		}
		// The decoder guarantees a string key here; anything else would
		// already be a syntax error.
		key, _ := tok.(string)
		kptr := ptr + "/" + escapePointer(key)
		if v.member(key) != nil {
			return nil, &Error{Path: kptr, Message: fmt.Sprintf("duplicate key %s", quote(key))}
		}
		e, err := r.value(kptr, nesting)
		if err != nil {
			return nil, err
		}
		v.keys = append(v.keys, key)
		v.elems = append(v.elems, e)
	}
	if _, err := r.dec.Token(); err != nil { // the closing '}'
		return nil, r.syntaxError(ptr, err)
	}
	return v, nil
}

// syntaxError wraps a decoder error as an *Error at ptr, the innermost value
// being read, which is usually close enough to point a human at the typo.
func (r *reader) syntaxError(ptr string, err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return &Error{Path: ptr, Message: fmt.Sprintf("invalid JSON at byte %d: %s", se.Offset, strings.TrimPrefix(se.Error(), "json: "))}
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{Path: ptr, Message: "invalid JSON: unexpected end of document"}
	}
	return &Error{Path: ptr, Message: "invalid JSON: " + strings.TrimPrefix(err.Error(), "json: ")}
}

// escapePointer escapes one JSON Pointer reference token (RFC 6901 §3).
func escapePointer(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// maxQuoted is how much of a user-supplied string an error message quotes,
// so that a hostile document cannot bloat the error response.
const maxQuoted = 64

// quote quotes s for an error message, shortened to maxQuoted bytes.
func quote(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	cut := maxQuoted
	// Do not split a UTF-8 sequence: back up to the start of a rune.
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return strconv.Quote(s[:cut]) + "..."
}
