package cloudevents

import (
	"errors"
	"fmt"
	"math"
	"mime"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Attribute bits, used to spot missing and duplicate attributes without a map.
const (
	bitID uint16 = 1 << iota
	bitSource
	bitSpecVersion
	bitType
	bitDataContentType
	bitDataSchema
	bitSubject
	bitTime
	bitData
	bitDataBase64
)

// attrBit maps the context attributes the spec defines (and the data
// members) to their bit; 0 means the name is an extension. It takes bytes
// too so that member names need no string allocation just to be classified.
func attrBit[T string | []byte](name T) uint16 {
	switch string(name) {
	case "id":
		return bitID
	case "source":
		return bitSource
	case "specversion":
		return bitSpecVersion
	case "type":
		return bitType
	case "datacontenttype":
		return bitDataContentType
	case "dataschema":
		return bitDataSchema
	case "subject":
		return bitSubject
	case "time":
		return bitTime
	case "data":
		return bitData
	case "data_base64":
		return bitDataBase64
	}
	return 0
}

// attrName is the inverse of attrBit.
func attrName(bit uint16) string {
	switch bit {
	case bitID:
		return "id"
	case bitSource:
		return "source"
	case bitSpecVersion:
		return "specversion"
	case bitType:
		return "type"
	case bitDataContentType:
		return "datacontenttype"
	case bitDataSchema:
		return "dataschema"
	case bitSubject:
		return "subject"
	case bitTime:
		return "time"
	case bitData:
		return "data"
	case bitDataBase64:
		return "data_base64"
	}
	return ""
}

// eventParser validates one event's attributes, whatever the content mode,
// and records problems against the event's index.
type eventParser struct {
	c      *collector
	index  int
	binary bool // attributes come from ce-* headers; only affects messages
	ev     *Event
	seen   uint16 // attributes present and not null
	start  int    // len(c.problems) when this event began, to backfill ID
}

func newEventParser(c *collector, index int, binary bool, size int) *eventParser {
	return &eventParser{c: c, index: index, binary: binary, ev: &Event{Size: size}, start: len(c.problems)}
}

func (p *eventParser) add(field, rule, detail string) {
	p.c.add(Problem{Index: p.index, Field: field, Rule: rule, Detail: detail})
}

// where names an attribute the way the producer wrote it, so a detail points
// at a header in binary mode and at a member otherwise.
func (p *eventParser) where(name string) string {
	if p.binary {
		if name == "datacontenttype" {
			return "the Content-Type header"
		}
		return "header ce-" + name
	}
	return "member " + strconv.Quote(name)
}

// setAttr validates and stores a context attribute defined by the spec, given
// as a string (already unquoted or header-decoded).
func (p *eventParser) setAttr(name, s string) {
	if s == "" {
		p.add(name, RuleEmpty, p.where(name)+" must not be empty")
		return
	}
	if name != "specversion" && !p.checkChars(name, s) {
		return
	}
	ev := p.ev
	switch name {
	case "id":
		ev.ID = s
	case "type":
		ev.Type = s
	case "subject":
		ev.Subject = s
	case "specversion":
		if s != SpecVersion {
			p.add(name, RuleVersion, fmt.Sprintf("specversion %s is not supported; it must be %q", quoteExcerpt(s), SpecVersion))
			return
		}
		ev.SpecVersion = s
	case "source":
		if err := checkURI(s, false); err != nil {
			p.add(name, RuleFormat, fmt.Sprintf("source %s is not a URI-reference (RFC 3986 §4.1): %v", quoteExcerpt(s), err))
			return
		}
		ev.Source = s
	case "dataschema":
		if err := checkURI(s, true); err != nil {
			p.add(name, RuleFormat, fmt.Sprintf("dataschema %s is not an absolute URI: %v", quoteExcerpt(s), err))
			return
		}
		ev.DataSchema = s
	case "datacontenttype":
		if err := checkMediaType(s); err != nil {
			p.add(name, RuleFormat, fmt.Sprintf("datacontenttype %s is not an RFC 2046 media type: %v", quoteExcerpt(s), err))
			return
		}
		ev.DataContentType = s
	case "time":
		t, err := parseTimestamp(s)
		if err != nil {
			p.add(name, RuleFormat, fmt.Sprintf("time %s is not an RFC 3339 timestamp", quoteExcerpt(s)))
			return
		}
		ev.Time = t
	}
}

// extField is Problem.Field for an extension.
func extField(name string) string { return "extensions." + name }

// setExtension validates an extension's value and stores it; v is a string,
// bool or int32, and the name has been checked.
func (p *eventParser) setExtension(name string, v any) {
	if s, ok := v.(string); ok {
		if _, _, bad := badChar(s); bad {
			p.checkChars(extField(name), s) // the field name is built only on failure
			return
		}
	}
	if name == "partitionkey" {
		// The partitioning extension requires a non-empty String.
		s, ok := v.(string)
		if !ok {
			p.add(extField(name), RuleType, "partitionkey must be a string")
			return
		}
		if s == "" {
			p.add(extField(name), RuleEmpty, "partitionkey must not be empty")
			return
		}
	}
	if _, dup := p.ev.Extensions[name]; dup {
		return // a repeated JSON member name, reported by the JSON check
	}
	if p.ev.Extensions == nil {
		p.ev.Extensions = make(map[string]any, 4)
	}
	p.ev.Extensions[name] = v
}

// checkExtName reports whether name may be an extension, adding a problem
// if not.
func (p *eventParser) checkExtName(name string) bool {
	if validExtName(name) && name != "data" {
		return true
	}
	field := extField(name)
	if name == "data" || name == "data_base64" {
		p.add(field, RuleName, fmt.Sprintf("%q is reserved for the event data and cannot be an extension attribute", name))
		return false
	}
	p.add(field, RuleName, fmt.Sprintf("extension name %s must be 1 to 20 characters, each a-z or 0-9", quoteExcerpt(name)))
	return false
}

// checkChars enforces the CloudEvents String type on s, adding a problem for
// the first forbidden character.
func (p *eventParser) checkChars(field, s string) bool {
	if off, r, ok := badChar(s); ok {
		detail := fmt.Sprintf("%s holds %U at byte offset %d; control characters and Unicode noncharacters are not allowed", field, r, off)
		if r == utf8.RuneError {
			p.add(field, RuleEncoding, fmt.Sprintf("%s is not valid UTF-8 at byte offset %d", field, off))
			return false
		}
		p.add(field, RuleChars, detail)
		return false
	}
	return true
}

// finish checks for missing required attributes and backfills the event's
// id into its problems. It returns the event, or nil if it had problems.
func (p *eventParser) finish() *Event {
	for _, req := range [...]struct {
		bit  uint16
		name string
	}{{bitID, "id"}, {bitSource, "source"}, {bitSpecVersion, "specversion"}, {bitType, "type"}} {
		if p.seen&req.bit == 0 {
			p.add(req.name, RuleRequired, p.where(req.name)+" is required")
		}
	}
	if len(p.c.problems) > p.start || p.c.omitted > 0 {
		for i := p.start; i < len(p.c.problems); i++ {
			p.c.problems[i].ID = p.ev.ID
		}
		return nil
	}
	return p.ev
}

// validExtName implements the naming rule ^[a-z0-9]{1,20}$.
func validExtName(name string) bool {
	if len(name) == 0 || len(name) > 20 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// badChar finds the first character the CloudEvents String type forbids:
// U+0000-U+001F, U+007F-U+009F, noncharacters, and (as RuneError) bytes that
// are not UTF-8.
func badChar(s string) (off int, r rune, bad bool) {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7F {
				return i, rune(c), true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1,
			r >= 0x80 && r <= 0x9F,
			r >= 0xFDD0 && r <= 0xFDEF,
			r&0xFFFE == 0xFFFE:
			return i, r, true
		}
		i += size
	}
	return 0, 0, false
}

// checkURI checks s against RFC 3986: URI-reference, or absolute URI when abs
// is set. url.Parse alone is too lenient (it accepts spaces, quotes and
// non-ASCII), so the character set and percent-escapes are checked first.
func checkURI(s string, abs bool) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) {
				return fmt.Errorf("incomplete percent-escape at byte offset %d", i)
			}
			_, ok1 := hexVal(s[i+1])
			_, ok2 := hexVal(s[i+2])
			if !ok1 || !ok2 {
				return fmt.Errorf("invalid percent-escape at byte offset %d", i)
			}
		case isURIChar(c):
		case c >= utf8.RuneSelf:
			return fmt.Errorf("non-ASCII character at byte offset %d must be percent-encoded", i)
		default:
			return fmt.Errorf("character %q at byte offset %d is not allowed", c, i)
		}
	}
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return err
	}
	if abs && u.Scheme == "" {
		return errors.New("it has no scheme")
	}
	return nil
}

// isURIChar reports whether c is an RFC 3986 unreserved or reserved
// character.
func isURIChar(c byte) bool {
	if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
		return true
	}
	return strings.IndexByte("-._~:/?#[]@!$&'()*+,;=", c) >= 0
}

// checkMediaType accepts RFC 2046 type/subtype with optional parameters.
// mime.ParseMediaType also accepts a bare token (it doubles as a
// Content-Disposition parser), so the slash is checked separately.
func checkMediaType(s string) error {
	mt, _, err := mime.ParseMediaType(s)
	if err != nil {
		return err
	}
	slash := strings.IndexByte(mt, '/')
	if slash <= 0 || slash == len(mt)-1 {
		return errors.New("want type/subtype")
	}
	return nil
}

// charsetParam returns the charset parameter of a Content-Type, or "".
func charsetParam(ct string) string {
	if strings.IndexByte(ct, ';') < 0 {
		return ""
	}
	_, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return ""
	}
	return params["charset"]
}

// parseTimestamp parses an RFC 3339 date-time, fractional seconds and offsets
// included.
func parseTimestamp(s string) (time.Time, error) {
	// RFC 3339 (§5.6 note) allows lowercase t and z; time.Parse does not.
	if strings.ContainsAny(s, "tz") {
		s = strings.ToUpper(s)
	}
	return time.Parse(time.RFC3339Nano, s)
}

// parseJSONInteger converts a JSON number literal to an int32 extension
// value. Integral values in any notation (1, 1.0, 1e3) are accepted because
// JSON does not distinguish them; fractions are not CloudEvents Integers.
func parseJSONInteger(lit string) (int32, string, string) {
	if n, err := strconv.ParseInt(lit, 10, 32); err == nil {
		return int32(n), "", ""
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, RuleType, fmt.Sprintf("value %s is not a number", quoteExcerpt(lit))
	}
	if math.IsInf(f, 0) || f != math.Trunc(f) {
		if math.IsInf(f, 0) {
			return 0, RuleRange, fmt.Sprintf("integer %s is outside the signed 32-bit range", quoteExcerpt(lit))
		}
		return 0, RuleType, fmt.Sprintf("number %s is not an integer; extension values must be strings, booleans or 32-bit integers", quoteExcerpt(lit))
	}
	if f < math.MinInt32 || f > math.MaxInt32 {
		return 0, RuleRange, fmt.Sprintf("integer %s is outside the signed 32-bit range", quoteExcerpt(lit))
	}
	return int32(f), "", ""
}

// quoteExcerpt quotes s for a message, shortened so that a hostile value
// cannot bloat the error response.
func quoteExcerpt(s string) string {
	const max = 64
	if len(s) <= max {
		return strconv.Quote(s)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "…"
}
