package filter

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/heraldhq/herald/internal/jsoncheck"
	"github.com/heraldhq/herald/internal/jsonpath"
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

// maxJSONNesting bounds the nesting of arrays and objects while reading, so
// that a hostile document cannot drive the reader into deep recursion. It is
// well above what MaxDepth filters need (about two levels per filter), so a
// document nested too deeply is normally reported against MaxDepth, with a
// precise path, by the compiler.
const maxJSONNesting = 64

// reader turns a filter document into a jsonValue tree, reading it with
// jsoncheck's Reader: leniently, as encoding/json reads (invalid UTF-8 in
// strings becomes U+FFFD), and looking for repeated member names, which
// the filter refuses.
type reader struct {
	r   jsoncheck.Reader
	doc []byte
}

// readDocument decodes doc, which must be exactly one JSON value.
func readDocument(doc []byte) (*jsonValue, error) {
	rd := &reader{doc: doc}
	rd.r.Reset(doc, jsoncheck.Options{Lenient: true, Duplicates: true})
	k, jerr := rd.r.Next()
	if jerr != nil {
		return nil, rd.syntaxError("", jerr)
	}
	v, err := rd.value(k, "", 0)
	if err != nil {
		return nil, err
	}
	if _, jerr := rd.r.Next(); jerr != nil {
		return nil, &Error{Message: fmt.Sprintf("invalid JSON: unexpected data after the filter at byte %d", jerr.Offset)}
	}
	return v, nil
}

// value reads the value whose first token, of kind k, was just read; ptr
// is its JSON Pointer, for errors.
func (rd *reader) value(k jsoncheck.Kind, ptr string, nesting int) (*jsonValue, error) {
	switch k {
	case jsoncheck.KindNull:
		return &jsonValue{kind: jsonNull}, nil
	case jsoncheck.KindTrue, jsoncheck.KindFalse:
		return &jsonValue{kind: jsonBool, boolean: k == jsoncheck.KindTrue}, nil
	case jsoncheck.KindNumber:
		t := rd.r.Token()
		return &jsonValue{kind: jsonNumber, str: string(rd.doc[t.Start:t.End])}, nil
	case jsoncheck.KindString:
		return &jsonValue{kind: jsonString, str: rd.text()}, nil
	}
	if nesting >= maxJSONNesting {
		return nil, &Error{Path: ptr, Message: fmt.Sprintf("JSON nested more than %d levels deep (filters nest at most %d levels)", maxJSONNesting, MaxDepth)}
	}
	if k == jsoncheck.KindArrayStart {
		return rd.array(ptr, nesting+1)
	}
	return rd.object(ptr, nesting+1)
}

// text returns the decoded text of the string or name just read.
func (rd *reader) text() string {
	t := rd.r.Token()
	raw := rd.doc[t.Start:t.End]
	if !t.Escaped {
		return string(raw[1 : len(raw)-1])
	}
	// The Reader has checked the literal, so Lenient decoding cannot fail.
	b, _ := jsoncheck.AppendUnquoted(nil, raw, jsoncheck.Lenient)
	return string(b)
}

func (rd *reader) array(ptr string, nesting int) (*jsonValue, error) {
	v := &jsonValue{kind: jsonArray}
	for {
		// A syntax error where an element could start belongs to that
		// element, one at the closing bracket or the end to the array.
		next := jsoncheck.SkipSpace(rd.doc, rd.r.Offset())
		k, jerr := rd.r.Next()
		eptr := ptr + "/" + strconv.Itoa(len(v.elems))
		if jerr != nil {
			if next >= len(rd.doc) || rd.doc[next] == ']' || rd.doc[next] == '}' {
				eptr = ptr
			}
			return nil, rd.syntaxError(eptr, jerr)
		}
		if k == jsoncheck.KindArrayEnd {
			return v, nil
		}
		e, err := rd.value(k, eptr, nesting)
		if err != nil {
			return nil, err
		}
		v.elems = append(v.elems, e)
	}
}

func (rd *reader) object(ptr string, nesting int) (*jsonValue, error) {
	v := &jsonValue{kind: jsonObject}
	for {
		k, jerr := rd.r.Next()
		if jerr != nil {
			return nil, rd.syntaxError(ptr, jerr)
		}
		if k == jsoncheck.KindObjectEnd {
			return v, nil
		}
		key := rd.text()
		kptr := ptr + "/" + escapePointer(key)
		if rd.r.Token().Repeated {
			return nil, &Error{Path: kptr, Message: fmt.Sprintf("duplicate key %s", quote(key))}
		}
		if k, jerr = rd.r.Next(); jerr != nil {
			return nil, rd.syntaxError(kptr, jerr)
		}
		e, err := rd.value(k, kptr, nesting)
		if err != nil {
			return nil, err
		}
		v.keys = append(v.keys, key)
		v.elems = append(v.elems, e)
	}
}

// syntaxError wraps a Reader error as an *Error at ptr, the innermost value
// being read, which is usually close enough to point a human at the typo.
func (rd *reader) syntaxError(ptr string, err *jsoncheck.Error) error {
	if err.Offset >= len(rd.doc) || jsoncheck.SkipSpace(rd.doc, 0) == len(rd.doc) {
		return &Error{Path: ptr, Message: "invalid JSON: unexpected end of document"}
	}
	return &Error{Path: ptr, Message: fmt.Sprintf("invalid JSON at byte %d: %s", err.Offset, err.Reason)}
}

// escapePointer escapes one JSON Pointer reference token (RFC 6901 §3).
func escapePointer(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// quote quotes s for an error message, shortened as path errors are.
func quote(s string) string { return jsonpath.Quote(s) }
