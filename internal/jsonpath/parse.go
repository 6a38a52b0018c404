package jsonpath

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/heraldhq/herald/internal/jsoncheck"
)

// Rules say which part of the grammar a caller accepts, and in which words
// its errors are told (see the package documentation).
type Rules struct {
	// members is set for thin fields (Members), clear for filter data
	// paths (Singular).
	members bool
}

var (
	// Singular is the grammar of filter data paths: RFC 9535 singular
	// queries.
	Singular = Rules{}
	// Members is the grammar of thin fields: object members from the root
	// of data.
	Members = Rules{members: true}
)

const (
	// MaxSegments is the most segments a Singular path may have.
	MaxSegments = 32
	// MaxMembers is the most members a Members path may name.
	MaxMembers = 16
)

// maxIndexDigits bounds array indexes to nine digits: no event carries an
// array of a billion elements, and it keeps index arithmetic far from
// overflow.
const maxIndexDigits = 9

// Error is a problem in a path.
type Error struct {
	// Offset is the byte offset in the path where the problem is.
	Offset int
	// Message says what is wrong. Under Members it names the path itself,
	// as thin field errors always have.
	Message string
}

func (e *Error) Error() string { return e.Message }

// Parse reads the path p under rules r.
func Parse(p string, r Rules) (jsoncheck.Path, *Error) {
	if p == "" || p[0] != '$' {
		return nil, r.noRoot(p)
	}
	var path jsoncheck.Path
	i := 1
	for i < len(p) {
		if !r.members && isBlank(p[i]) {
			// RFC 9535 allows blank space before each segment, not at the
			// end.
			j := i
			for j < len(p) && isBlank(p[j]) {
				j++
			}
			if j == len(p) {
				return nil, &Error{i, "blank space at the end of the path"}
			}
			i = j
		}
		if !r.members && len(path) == MaxSegments {
			return nil, &Error{i, fmt.Sprintf("a path may have at most %d segments", MaxSegments)}
		}
		var s jsoncheck.Step
		var err *Error
		switch p[i] {
		case '.':
			s, i, err = r.dotted(p, i)
		case '[':
			s, i, err = r.bracketed(p, i)
		default:
			err = r.unexpected(p, i)
		}
		if err != nil {
			return nil, err
		}
		path = append(path, s)
	}
	if r.members {
		if len(path) == 0 {
			return nil, &Error{len(p), "must name at least one member of data, e.g. $.team"}
		}
		if len(path) > MaxMembers {
			return nil, &Error{len(p), fmt.Sprintf("must be at most %d members deep", MaxMembers)}
		}
	}
	return path, nil
}

// noRoot reports a path that does not start with "$".
func (r Rules) noRoot(p string) *Error {
	if r.members {
		return &Error{0, "must start with $ (the root of data), e.g. $.team"}
	}
	hint := ""
	if p != "" && (p[0] == '.' || p[0] == '[') {
		hint = fmt.Sprintf(", e.g. %s", Quote("$"+p))
	} else if p != "" {
		hint = fmt.Sprintf(", e.g. %s", Quote("$."+p))
	}
	return &Error{0, `a path must start with "$"` + hint}
}

// unexpected reports p[i], which starts no segment.
func (r Rules) unexpected(p string, i int) *Error {
	if r.members {
		return &Error{i, fmt.Sprintf("unexpected %q in %q", p[i:i+1], p)}
	}
	if p[i] == '*' {
		return &Error{i, "wildcards (*) are not supported: a path must name exactly one value"}
	}
	c, _ := utf8.DecodeRuneInString(p[i:])
	return &Error{i, fmt.Sprintf("unexpected %s; want \".name\", \"['name']\" or \"[index]\"", quoteRune(c))}
}

// dotted reads ".name" at p[i] == '.', returning the offset after it.
func (r Rules) dotted(p string, i int) (jsoncheck.Step, int, *Error) {
	i++ // '.'
	start := i
	for i < len(p) {
		c, size := utf8.DecodeRuneInString(p[i:])
		if !r.nameChar(c, i == start) {
			break
		}
		i += size
	}
	switch {
	case i > start && r.members:
		// What follows is the next segment's to judge.
	case i > start:
		if i < len(p) && p[i] != '.' && p[i] != '[' {
			// Suggest the quoted form of what was probably meant as the
			// name.
			end := i
			for end < len(p) && p[end] != '.' && p[end] != '[' {
				end++
			}
			c, _ := utf8.DecodeRuneInString(p[i:])
			name := jsoncheck.Path{{Name: p[start:end]}}.Canonical()
			return jsoncheck.Step{}, i, &Error{i, fmt.Sprintf("%s is not allowed in a member name after \".\"; quote the name: %s", quoteRune(c), name[1:])}
		}
	case r.members:
		return jsoncheck.Step{}, i, &Error{i, fmt.Sprintf("expected a member name after '.' in %q (letters, digits, _ and -; use ['...'] for others)", p)}
	case i == len(p):
		return jsoncheck.Step{}, i, &Error{i, `missing member name after "."`}
	case p[i] == '.':
		return jsoncheck.Step{}, i, &Error{i - 1, "recursive descent (..) is not supported: a path must name exactly one value"}
	case p[i] == '*':
		return jsoncheck.Step{}, i, &Error{i, "wildcards (*) are not supported: a path must name exactly one value"}
	default:
		c, _ := utf8.DecodeRuneInString(p[i:])
		hint := "; quote other names: ['my-name']"
		if c >= '0' && c <= '9' {
			hint = "; write [0] for an array index or ['0'] for a member named by digits"
		}
		return jsoncheck.Step{}, i, &Error{i, fmt.Sprintf("a member name after \".\" cannot start with %s%s", quoteRune(c), hint)}
	}
	return jsoncheck.Step{Name: p[start:i]}, i, nil
}

// nameChar reports whether c may appear in a member name after ".": a
// letter or "_"; a digit, first too under Members; "-" after the first
// character under Members; any other character but ASCII under Singular
// (RFC 9535 member-name-shorthand).
func (r Rules) nameChar(c rune, first bool) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		return true
	case c >= '0' && c <= '9':
		return !first || r.members
	case c == '-':
		return !first && r.members
	}
	return c >= utf8.RuneSelf && c != utf8.RuneError && !r.members
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// bracketed reads "['name']", "[\"name\"]" or "[index]" at p[i] == '['.
func (r Rules) bracketed(p string, i int) (jsoncheck.Step, int, *Error) {
	open := i
	if r.members {
		// Only "['name']", the quotes right inside the brackets.
		if i+1 >= len(p) || p[i+1] != '\'' {
			return jsoncheck.Step{}, i, &Error{i, fmt.Sprintf("%q: array indexes and wildcards are not allowed; name object members", p)}
		}
		name, end, err := r.quoted(p, i+1, open)
		if err != nil {
			return jsoncheck.Step{}, end, err
		}
		if name == "" || end >= len(p) || p[end] != ']' {
			return jsoncheck.Step{}, end, badBracket(p, open)
		}
		return jsoncheck.Step{Name: name}, end + 1, nil
	}
	i++
	for i < len(p) && isBlank(p[i]) {
		i++
	}
	if i == len(p) {
		return jsoncheck.Step{}, i, &Error{open, `unclosed "["`}
	}
	var s jsoncheck.Step
	switch c := p[i]; {
	case c == '\'' || c == '"':
		name, end, err := r.quoted(p, i, open)
		if err != nil {
			return jsoncheck.Step{}, i, err
		}
		s, i = jsoncheck.Step{Name: name}, end
	case c == '-' || (c >= '0' && c <= '9'):
		n, end, err := parseIndex(p, i)
		if err != nil {
			return jsoncheck.Step{}, i, err
		}
		s, i = jsoncheck.Step{Index: n, IsIndex: true}, end
	case c == '*':
		return jsoncheck.Step{}, i, &Error{i, "wildcards ([*]) are not supported: a path must name exactly one value"}
	case c == '?':
		return jsoncheck.Step{}, i, &Error{i, "filter expressions ([?...]) are not supported: use a condition on a path instead"}
	case c == ':':
		return jsoncheck.Step{}, i, &Error{i, "array slices are not supported: a path must name exactly one value"}
	default:
		c, _ := utf8.DecodeRuneInString(p[i:])
		return jsoncheck.Step{}, i, &Error{i, fmt.Sprintf("unexpected %s after \"[\"; want a quoted name or an index", quoteRune(c))}
	}
	for i < len(p) && isBlank(p[i]) {
		i++
	}
	if i == len(p) {
		return jsoncheck.Step{}, i, &Error{open, `unclosed "["`}
	}
	switch p[i] {
	case ']':
		return s, i + 1, nil
	case ',':
		return jsoncheck.Step{}, i, &Error{i, "unions ([a,b]) are not supported: a path must name exactly one value"}
	case ':':
		return jsoncheck.Step{}, i, &Error{i, "array slices are not supported: a path must name exactly one value"}
	}
	c, _ := utf8.DecodeRuneInString(p[i:])
	return jsoncheck.Step{}, i, &Error{i, fmt.Sprintf("unexpected %s; want \"]\"", quoteRune(c))}
}

// badBracket reports a Members bracket at p[open] that is not "['name']"
// with a name free of "'" and "\": unterminated when no "']" follows it.
func badBracket(p string, open int) *Error {
	if strings.Contains(p[open+2:], "']") {
		return &Error{open, fmt.Sprintf("bad member name in ['...'] of %q", p)}
	}
	return &Error{open, fmt.Sprintf("unterminated ['...'] in %q", p)}
}

// parseIndex reads an RFC 9535 index: "0", or digits without a leading
// zero, optionally negative ("-0" is not an index).
func parseIndex(p string, i int) (int, int, *Error) {
	start := i
	if p[i] == '-' {
		i++
	}
	digits := i
	for i < len(p) && p[i] >= '0' && p[i] <= '9' {
		i++
	}
	switch {
	case i == digits:
		return 0, i, &Error{start, "an index needs digits"}
	case p[digits] == '0' && (i-digits > 1 || digits > start):
		return 0, i, &Error{start, fmt.Sprintf("index %s has a leading zero", p[start:i])}
	case i-digits > maxIndexDigits:
		return 0, i, &Error{start, fmt.Sprintf("index %s is out of range (at most %d digits)", p[start:i], maxIndexDigits)}
	}
	n, _ := strconv.Atoi(p[start:i]) // cannot fail: at most nine digits
	return n, i, nil
}

// quoted reads the quoted name whose opening quote is p[i] (in the bracket
// at p[open]), returning the name and the offset after its closing quote.
// Escapes are JSON's, decoded by jsoncheck, and \'. Under Members a name
// has no escapes and its control characters stand as they are.
func (r Rules) quoted(p string, i, open int) (string, int, *Error) {
	q := p[i]
	i++
	var b strings.Builder
	for {
		if i >= len(p) {
			if r.members {
				return "", i, badBracket(p, open)
			}
			return "", i, &Error{i, "unterminated quoted name"}
		}
		c := p[i]
		switch {
		case c == q:
			return b.String(), i + 1, nil
		case c == '\\' && r.members:
			return "", i, badBracket(p, open)
		case c < 0x20 && !r.members:
			return "", i, &Error{i, fmt.Sprintf("control character %U in a quoted name must be escaped", c)}
		case c != '\\':
			b.WriteByte(c)
			i++
			continue
		}
		// An escape sequence.
		if i+1 >= len(p) {
			return "", i, &Error{i, "unterminated escape sequence"}
		}
		if p[i+1] == '\'' {
			b.WriteByte('\'')
			i += 2
			continue
		}
		// Exact refuses a lone surrogate: paths are written by people,
		// and one is certainly a mistake.
		c2, n, err := jsoncheck.DecodeEscape(p, i, jsoncheck.Exact)
		switch {
		case err != nil && p[i+1] == 'u':
			return "", i, &Error{i, `invalid \u escape: want four hex digits, surrogates in pairs`}
		case err != nil:
			return "", i, &Error{i, fmt.Sprintf("invalid escape %s", Quote(p[i:i+2]))}
		}
		b.WriteRune(c2)
		i += n
	}
}

// quoteRune names a character for an error message.
func quoteRune(r rune) string {
	if r == utf8.RuneError {
		return "invalid UTF-8"
	}
	return strconv.QuoteRune(r)
}

// maxQuoted is how much of a user-supplied string an error message quotes,
// so that a hostile document cannot bloat the error response.
const maxQuoted = 64

// Quote quotes s for an error message, shortened to 64 bytes: the form
// path and filter errors share.
func Quote(s string) string {
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
