package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
)

// A form's JSON text and the places in it the API's problems point to.
// The API reports a place in a document as a JSON Pointer; a person
// editing the text needs its line.

// syntaxProblem says where text stops being JSON, or returns nil.
func syntaxProblem(text string) *textProblem {
	dec := json.NewDecoder(strings.NewReader(text))
	var v any
	err := dec.Decode(&v)
	if err == nil {
		if _, err2 := dec.Token(); err2 == io.EOF {
			return nil
		}
		off := int(dec.InputOffset())
		return &textProblem{Line: lineOf(text, off), Rule: "json", Detail: "more than one JSON value: text follows the document"}
	}
	var se *json.SyntaxError
	off := len(text)
	if errors.As(err, &se) {
		off = int(se.Offset)
	}
	msg := err.Error()
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		msg = "the document ends too early: a bracket, brace or quote is not closed"
	}
	return &textProblem{Line: lineOf(text, off), Rule: "json", Detail: "not JSON: " + msg}
}

// textProblem is one problem at a line of a form's JSON text (0: no line
// known).
type textProblem struct {
	Line    int
	Pointer string
	Rule    string
	Detail  string
}

// lineOf is the 1-based line of a byte offset in text.
func lineOf(text string, off int) int {
	off = min(max(off, 0), len(text))
	return strings.Count(text[:off], "\n") + 1
}

// pointerLine returns the line where the value at pointer starts in text
// (for an object member, the line of its name), or 0 when text does not
// hold that place.
func pointerLine(text, pointer string) int {
	want, ok := splitPointer(pointer)
	if !ok {
		return 0
	}
	if len(want) == 0 {
		return lineOf(text, len(text)-len(strings.TrimLeft(text, " \t\r\n")))
	}
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	off, found := seek(dec, want, 0)
	if !found {
		return 0
	}
	return lineOf(text, off)
}

// seek reads one value from dec and returns the offset at which the member
// or element want[depth:] names begins.
func seek(dec *json.Decoder, want []string, depth int) (int, bool) {
	tok, err := dec.Token()
	if err != nil {
		return 0, false
	}
	d, ok := tok.(json.Delim)
	if !ok || (d != '{' && d != '[') {
		return 0, false
	}
	index := 0
	for dec.More() {
		var name string
		if d == '{' {
			kt, err := dec.Token()
			if err != nil {
				return 0, false
			}
			name, _ = kt.(string)
		} else {
			name = strconv.Itoa(index)
			index++
		}
		if name == want[depth] && depth < len(want)-1 {
			return seek(dec, want, depth+1)
		}
		// A member's place is its name, whose end the decoder has just
		// passed; an element's is where its value starts.
		end := int(dec.InputOffset())
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return 0, false
		}
		if name == want[depth] {
			if d == '[' {
				end = int(dec.InputOffset()) - len(v)
			}
			return end, true
		}
	}
	return 0, false
}

// splitPointer splits an RFC 6901 pointer into its unescaped tokens.
func splitPointer(p string) ([]string, bool) {
	if p == "" {
		return nil, true
	}
	if !strings.HasPrefix(p, "/") {
		return nil, false
	}
	parts := strings.Split(p[1:], "/")
	for i, s := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return parts, true
}

// compactJSON checks that text is one JSON value and returns it compacted
// for an API request body.
func compactJSON(text string) (json.RawMessage, *textProblem) {
	if p := syntaxProblem(text); p != nil {
		return nil, p
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(text)); err != nil {
		return nil, &textProblem{Rule: "json", Detail: err.Error()}
	}
	return buf.Bytes(), nil
}
