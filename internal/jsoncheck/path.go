package jsoncheck

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Step is one step of a Path: a member name, or an array index when
// IsIndex is set (negative counts from the end, in paths people write).
type Step struct {
	Name    string
	Index   int
	IsIndex bool
}

// Path locates a value inside a document, from the root. Package jsonpath
// reads paths people write into this form.
type Path []Step

// String renders p as a JSON path: "$", "$.order.lines[1].sku",
// "$['odd name']".
func (p Path) String() string { return p.Field("$") }

// Field renders p after a field name instead of "$": Field("data") gives
// "data.order", and Field("") gives "order" (no leading dot), the form
// problem fields take.
func (p Path) Field(prefix string) string {
	return string(p.appendTo([]byte(prefix), false))
}

// Canonical renders p in the canonical syntax of package jsonpath, which
// reads it back as p: ".name" for ASCII identifiers, "['...']" for any
// other name, "[n]" for indexes.
//
// It differs from String in two ways that problem fields have kept since
// they were first named: String writes a name holding "$" after a dot
// ("$.a$b", which is no path jsonpath reads), and escapes only "'" and "\"
// in a quoted name, where Canonical also escapes control characters.
func (p Path) Canonical() string {
	return string(p.appendTo([]byte{'$'}, true))
}

// appendTo appends p's steps to b, which holds the prefix: in canonical
// syntax, or in the form of problem fields (see Canonical).
func (p Path) appendTo(b []byte, canonical bool) []byte {
	for _, s := range p {
		switch {
		case s.IsIndex:
			b = append(b, '[')
			b = strconv.AppendInt(b, int64(s.Index), 10)
			b = append(b, ']')
		case isIdentifier(s.Name, !canonical):
			if len(b) > 0 {
				b = append(b, '.')
			}
			b = append(b, s.Name...)
		default:
			b = append(b, "['"...)
			b = appendQuotedName(b, s.Name, canonical)
			b = append(b, "']"...)
		}
	}
	return b
}

// isIdentifier reports whether a member name can be written after a dot:
// ASCII letters, "_", digits after the first character, and "$" in the
// form of problem fields.
func isIdentifier(name string, dollar bool) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case c == '$' && dollar:
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// appendQuotedName escapes name for a single-quoted path segment: "'" and
// "\" always, control characters in canonical syntax. Invalid UTF-8
// becomes U+FFFD.
func appendQuotedName(b []byte, name string, canonical bool) []byte {
	for _, r := range name {
		switch {
		case r == '\'' || r == '\\':
			b = append(b, '\\', byte(r))
		case r >= 0x20 || !canonical:
			b = utf8.AppendRune(b, r)
		case r == '\b':
			b = append(b, `\b`...)
		case r == '\f':
			b = append(b, `\f`...)
		case r == '\n':
			b = append(b, `\n`...)
		case r == '\r':
			b = append(b, `\r`...)
		case r == '\t':
			b = append(b, `\t`...)
		default:
			b = fmt.Appendf(b, `\u%04x`, r)
		}
	}
	return b
}
