// Package jsoncheck reads JSON for the rest of Herald, in one way.
//
// It decides which JSON texts Herald accepts: exactly one well-formed value
// (RFC 8259) in UTF-8, in which no object names a member twice (I-JSON,
// RFC 7493 §2.3). Duplicate names are refused rather than resolved because
// readers resolve them differently: Go's encoding/json and Herald's schema
// validator keep the last value, many receivers keep the first, so an event
// could pass its schema with one value and be acted on with another. Every
// JSON document that enters Herald through its API (events in every
// content mode, and the JSON request bodies of the management API) goes
// through [Scan] or [Check], so the rule holds everywhere and is decided in
// one place.
//
// The package is also where every other reading of JSON text lives, each
// rule once:
//
//   - [Reader], the one scanner: a tokenizer that checks syntax as it
//     reads. Check and Scan, [Decode] (the values the schema validator
//     reads) and the filter document reader are built on it.
//   - The walkers for text Check has accepted ([Members], [Elements],
//     [ValueEnd], ...): the CloudEvents parser and the JSON path evaluator
//     (package jsonpath) use them to find values without decoding or
//     checking again what they skip.
//   - [AppendUnquoted], the one decoder of string literals (escapes,
//     surrogate pairs, invalid UTF-8), with [Text] to skip it when a
//     literal's bytes are already its text, and [AppendString], the one
//     encoder.
//   - The number grammar (the Reader's check, and [ParseDecimal], the
//     exact value of a literal that filters compare).
//   - [Path], a location in a document, and its renderings.
//
// The Reader is the syntax check of the ingest path, so it is written for
// speed: one pass, no allocation for documents of ordinary shape, and the
// work for duplicates is a comparison of each member name with its
// siblings (a set past a few dozen members).
package jsoncheck

import (
	"bytes"
	"fmt"
	"strconv"
	"sync"
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
	// Reason is Detail without the position.
	Reason string
	// escape is 1 + the offset of the backslash that opens a malformed
	// escape, or 0.
	escape int
}

func (e *Error) Error() string { return e.Detail }

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
	reason := fmt.Sprintf("member %s appears more than once in its object (at %s); JSON names must be unique (RFC 7493 §2.3)",
		strconv.Quote(d.Name), d.Path)
	return &Error{Rule: RuleDuplicateKey, Offset: d.Offset, Path: d.Path, Detail: reason, Reason: reason}
}

// Check reports the first reason b is refused, as an *Error, or nil when b
// is accepted.
func Check(b []byte) *Error {
	var first Duplicate
	found := false
	if err := scan(b, &first, &found, nil); err != nil {
		return err
	}
	if found {
		return first.Error()
	}
	return nil
}

// Scan checks b and calls dup for each repeated member name, in document
// order, while dup returns true. It returns a syntax error (rule RuleJSON)
// when b is not one well-formed JSON value in UTF-8; duplicates found
// before the syntax error may have been reported already.
func Scan(b []byte, dup func(Duplicate) bool) *Error {
	return scan(b, nil, nil, dup)
}

// scan reads b through. Each repeated name goes to dup, or, when dup is
// nil, the first one to *first (setting *found), and the others are not
// looked for.
func scan(b []byte, first *Duplicate, found *bool, dup func(Duplicate) bool) *Error {
	r := readerPool.Get().(*Reader)
	r.Reset(b, Options{Duplicates: true})
	defer func() {
		if r.release() {
			readerPool.Put(r)
		}
	}()
	for {
		k, err := r.Next()
		if err != nil {
			return err
		}
		switch {
		case k == KindEnd:
			return nil
		case !r.tok.Repeated:
		case dup == nil:
			*first = Duplicate{Name: string(r.Name()), Path: r.Path(), Offset: r.tok.Start}
			*found = true
			r.StopDuplicates()
		case !dup(Duplicate{Name: string(r.Name()), Path: r.Path(), Offset: r.tok.Start}):
			r.StopDuplicates()
		}
	}
}

var readerPool = sync.Pool{New: func() any { return new(Reader) }}

// Position describes byte offset off in b for people: "at byte offset 17
// (line 2, column 5)".
func Position(b []byte, off int) string {
	off = max(0, min(off, len(b)))
	line := 1 + bytes.Count(b[:off], []byte{'\n'})
	col := off - bytes.LastIndexByte(b[:off], '\n')
	return fmt.Sprintf("at byte offset %d (line %d, column %d)", off, line, col)
}
