package cloudevents

import (
	"fmt"

	"github.com/heraldhq/herald/internal/jsoncheck"
)

// JSON is read by package jsoncheck, in one way for all of Herald: a
// document is first checked (scanJSON), which is where syntax errors, their
// offsets and repeated member names come from; after that the parser walks
// members and elements with jsoncheck's walkers, which keep every value as
// raw bytes (data must reach delivery untouched), measure each batch
// element exactly, and avoid decoding into map[string]any. String values
// are decoded in jsoncheck's Exact mode, which refuses lone surrogates.

// jsonKind names the JSON type of a raw value for error messages.
func jsonKind(v []byte) string {
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// scanned is what the JSON check found in a document.
type scanned struct {
	// syntax says why the document is not one well-formed UTF-8 JSON
	// value, with its position; "" when it is.
	syntax string
	// dups lists repeated member names (at most the cap given to scanJSON)
	// and omitted counts the others.
	dups    []jsoncheck.Duplicate
	omitted int
}

// scanJSON checks b with the one JSON check every document entering Herald
// goes through (package jsoncheck): syntax, UTF-8 and unique member names.
func scanJSON(b []byte, maxDups int) scanned {
	var out scanned
	err := jsoncheck.Scan(b, func(d jsoncheck.Duplicate) bool {
		if len(out.dups) < maxDups {
			out.dups = append(out.dups, d)
		} else {
			out.omitted++
		}
		return true
	})
	if err != nil {
		return scanned{syntax: err.Detail}
	}
	return out
}

// dupField names a repeated member for Problem.Field, given its path from
// the event object: attributes and data by their name ("id",
// "data.order"), extensions as "extensions.<name>".
func dupField(p jsoncheck.Path) string {
	if len(p) > 0 && !p[0].IsIndex && attrBit(p[0].Name) == 0 {
		return p.Field("extensions")
	}
	return p.Field("")
}

// dupDetail describes a repeated member for a producer.
func dupDetail(d jsoncheck.Duplicate, where string) string {
	return fmt.Sprintf("member %s appears more than once in its object%s; JSON member names must be unique (RFC 7493 §2.3), "+
		"because readers disagree on which value counts", quoteExcerpt(d.Name), where)
}
