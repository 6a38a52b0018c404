package filter

import (
	"strconv"

	"github.com/heraldhq/herald/internal/jsonpath"
)

// Limits on a filter document. They bound the cost of one Match call, which
// runs for every event and every candidate endpoint.
const (
	// MaxBytes is the largest filter document Parse accepts.
	MaxBytes = 64 << 10
	// MaxDepth is the deepest nesting of filters: a lone condition has depth
	// 1, and each and, or and not adds one level for its operands.
	MaxDepth = 8
	// MaxConditions is the most conditions (targets with an operator) one
	// filter may hold.
	MaxConditions = 64
	// MaxInValues is the most values one "in" operator may list.
	MaxInValues = 256
	// MaxPathSegments is the most segments one data path may have.
	MaxPathSegments = jsonpath.MaxSegments
)

// Event is what Match needs to know about an event. Ingest adapts its
// CloudEvent to it; tests use simple structs.
type Event interface {
	// Attr returns a core context attribute by its lowercase name (id,
	// source, type, subject, datacontenttype, dataschema, time,
	// specversion) as a string, time in RFC 3339, and false when the event
	// does not have it.
	Attr(name string) (string, bool)
	// Ext returns an extension attribute's value, a string, bool or int32
	// (other integer types are accepted too; any other type can only be
	// tested with exists and ne), and false when the event does not have it.
	Ext(name string) (any, bool)
	// Data returns the event's data as JSON text, or nil when the event has
	// no data or its data is not JSON. Match does not modify or retain it.
	Data() []byte
}

// Filter is a compiled filter. It is immutable and safe for concurrent use.
// A nil *Filter is the absent filter and matches every event.
type Filter struct {
	root *node
	// paths is the trie of every data path the filter reads, or nil when it
	// reads no data; Match extracts all of them in one pass over the data.
	paths *jsonpath.Set
}

// Error is a problem in a filter document, as returned by Parse.
type Error struct {
	// Path is a JSON Pointer (RFC 6901) to the offending part of the
	// document: "" for the whole document, "/and/1/data" for the data path
	// of the second operand of a top-level and.
	Path string
	// Message says what is wrong, in a form fit for an API client.
	Message string
}

// Error returns "filter at PATH: MESSAGE", or "filter: MESSAGE" when the
// problem is with the document as a whole.
func (e *Error) Error() string {
	if e.Path == "" {
		return "filter: " + e.Message
	}
	return "filter at " + e.Path + ": " + e.Message
}

// Parse checks and compiles a filter document. The empty document and the
// JSON literal null mean "no filter" and yield (nil, nil); the nil *Filter
// matches every event. Any error is an *Error locating the first problem.
func Parse(doc []byte) (*Filter, error) {
	if len(doc) == 0 {
		return nil, nil
	}
	if len(doc) > MaxBytes {
		return nil, &Error{Message: "filter document is " + strconv.Itoa(len(doc)) + " bytes, over the limit of " + strconv.Itoa(MaxBytes) + " bytes"}
	}
	v, err := readDocument(doc)
	if err != nil {
		return nil, err
	}
	if v.kind == jsonNull {
		return nil, nil
	}
	var c compiler
	root, err := c.filter(v, "", 1)
	if err != nil {
		return nil, err
	}
	return &Filter{root: root, paths: c.paths.Build()}, nil
}

// Match reports whether the event satisfies the filter. A nil *Filter
// matches every event. Match calls e.Data at most once, and only when a
// condition on data is reached. It does not allocate, except to decode a
// string with escapes longer than 128 bytes or a number with more than 32
// significant digits.
func (f *Filter) Match(e Event) bool {
	if f == nil {
		return true
	}
	if f.paths == nil {
		return f.root.match(e, nil)
	}
	// The scan state lives on Match's stack: it is sized for the largest
	// filter, so no allocation is needed whatever the filter.
	var st scanState
	st.paths = f.paths
	return f.root.match(e, &st)
}

// MarshalJSON returns the filter in canonical form: no insignificant
// whitespace, the target before the operator in each condition, operands of
// and/or in their original order, data paths in canonical syntax, numbers in
// their original literal text. Parse accepts the result and yields an
// equivalent filter. A nil *Filter marshals as null.
func (f *Filter) MarshalJSON() ([]byte, error) {
	if f == nil {
		return []byte("null"), nil
	}
	return f.root.appendJSON(make([]byte, 0, 128)), nil
}

// String returns the canonical JSON form, as MarshalJSON does.
func (f *Filter) String() string {
	b, _ := f.MarshalJSON()
	return string(b)
}
