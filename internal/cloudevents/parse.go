package cloudevents

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/heraldhq/herald/internal/jsoncheck"
)

// Default limits. The spec asks consumers to accept events of at least 64 KB
// (spec.md, Size Limits); the request limit bounds a batch.
const (
	DefaultMaxEventBytes   = 64 << 10
	DefaultMaxRequestBytes = 1 << 20
	DefaultMaxProblems     = 100
)

// Limits bounds what Parse accepts. Zero (or negative) fields take their
// defaults, so Limits{} is ready to use.
type Limits struct {
	// MaxEventBytes caps one event's wire size (see Event.Size).
	// Default DefaultMaxEventBytes.
	MaxEventBytes int
	// MaxRequestBytes caps the request body; Parse never buffers more.
	// Default DefaultMaxRequestBytes.
	MaxRequestBytes int
	// MaxProblems caps ValidationError.Problems; the rest are counted in
	// ValidationError.Omitted. Default DefaultMaxProblems.
	MaxProblems int
}

func (l Limits) withDefaults() Limits {
	if l.MaxEventBytes <= 0 {
		l.MaxEventBytes = DefaultMaxEventBytes
	}
	if l.MaxRequestBytes <= 0 {
		l.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if l.MaxProblems <= 0 {
		l.MaxProblems = DefaultMaxProblems
	}
	return l
}

// Media types of the JSON event and batch formats.
const (
	MediaTypeStructured = "application/cloudevents+json"
	MediaTypeBatch      = "application/cloudevents-batch+json"
)

type mode int

const (
	modeBinary mode = iota
	modeStructured
	modeBatch
)

// Parse reads the CloudEvents in an HTTP request, in binary, structured or
// batched content mode according to its Content-Type, and validates them.
//
// It returns the events in request order (an empty, non-nil slice for an
// empty batch) or an error: *TooLargeError, *ValidationError listing every
// problem in every event, an error wrapping ErrUnsupportedMediaType, or an
// error from reading the body. It reads at most lim.MaxRequestBytes+1 bytes
// and does not close r.Body (the HTTP server does).
//
// To avoid copying payloads, the events' Data and DataBase64 are slices of
// the body buffer Parse read into; nothing else holds that buffer, but events
// of one request share it, so copy before modifying a payload in place.
func Parse(r *http.Request, lim Limits) ([]*Event, error) {
	lim = lim.withDefaults()
	ct := r.Header.Get("Content-Type")
	m, err := detectMode(ct)
	if err != nil {
		return nil, err
	}
	// A compressed body would be mistaken for data (binary mode) or fail as
	// JSON with a confusing message; RFC 9110 §15.5.16 says to answer 415.
	if enc := strings.TrimSpace(r.Header.Get("Content-Encoding")); enc != "" && !strings.EqualFold(enc, "identity") {
		return nil, fmt.Errorf("%w: Content-Encoding %q is not supported; send the body uncompressed", ErrUnsupportedMediaType, enc)
	}
	body, err := readBody(r, lim.MaxRequestBytes)
	if err != nil {
		return nil, err
	}
	switch m {
	case modeBatch:
		return parseBatch(body, lim)
	case modeStructured:
		return parseStructured(body, lim)
	default:
		return parseBinary(r.Header, body, lim)
	}
}

// detectMode picks the content mode from Content-Type (HTTP binding §1.3 and
// §3): the batch prefix is tested first because it also matches the
// structured prefix. Only the JSON formats are supported.
func detectMode(ct string) (mode, error) {
	mt := mediaTypeOnly(ct)
	var m mode
	var want string
	switch {
	case hasPrefixFold(mt, "application/cloudevents-batch"):
		m, want = modeBatch, MediaTypeBatch
	case hasPrefixFold(mt, "application/cloudevents"):
		m, want = modeStructured, MediaTypeStructured
	default:
		return modeBinary, nil
	}
	if !strings.EqualFold(mt, want) {
		return m, fmt.Errorf("%w: %q is not a supported event format; use %s", ErrUnsupportedMediaType, mt, want)
	}
	// JSON is UTF-8 (RFC 8259 §8.1); a body declared otherwise would be
	// misread.
	if cs := charsetParam(ct); cs != "" && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return m, fmt.Errorf("%w: charset %q is not supported; JSON must be UTF-8", ErrUnsupportedMediaType, cs)
	}
	return m, nil
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// readBody reads the whole body, but never more than limit+1 bytes: the extra
// byte is how an oversize body is told apart from one exactly at the limit.
func readBody(r *http.Request, limit int) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > int64(limit) {
		size := limit + 1
		if r.ContentLength < int64(^uint(0)>>1) {
			size = int(r.ContentLength)
		}
		return nil, &TooLargeError{Which: WhichRequest, Index: -1, Limit: limit, Size: size}
	}
	// Size the buffer from Content-Length when it is known, so the common
	// case is one allocation; +1 leaves room for the read that sees EOF.
	capHint := 4096
	if r.ContentLength >= 0 {
		capHint = int(r.ContentLength) + 1
	}
	capHint = min(capHint, limit+1)
	buf := make([]byte, 0, capHint)
	lr := io.LimitReader(r.Body, int64(limit)+1)
	for {
		if len(buf) == cap(buf) {
			if len(buf) > limit {
				break
			}
			nb := make([]byte, len(buf), min(max(2*cap(buf), 4096), limit+1))
			copy(nb, buf)
			buf = nb
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			// An upstream http.MaxBytesReader tripping is a size problem,
			// not an I/O one.
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, &TooLargeError{Which: WhichRequest, Index: -1, Limit: int(min(mbe.Limit, int64(limit))), Size: len(buf) + 1}
			}
			return nil, fmt.Errorf("cloudevents: reading request body: %w", err)
		}
	}
	if len(buf) > limit {
		return nil, &TooLargeError{Which: WhichRequest, Index: -1, Limit: limit, Size: len(buf)}
	}
	return buf, nil
}

// parseStructured parses a body in the JSON event format.
func parseStructured(body []byte, lim Limits) ([]*Event, error) {
	c := &collector{max: lim.MaxProblems}
	sc := scanJSON(body, lim.MaxProblems)
	if sc.syntax != "" {
		c.add(Problem{Index: 0, Rule: RuleJSON, Detail: sc.syntax})
		return nil, c.err()
	}
	obj := jsoncheck.TrimSpace(body)
	if obj[0] != '{' {
		c.add(Problem{Index: 0, Rule: RuleType, Detail: fmt.Sprintf("a structured-mode body must be a JSON object, not %s", jsonKind(obj))})
		return nil, c.err()
	}
	if len(obj) > lim.MaxEventBytes {
		return nil, &TooLargeError{Which: WhichEvent, Index: 0, Limit: lim.MaxEventBytes, Size: len(obj)}
	}
	c.omitted += sc.omitted
	ev := parseObject(c, 0, obj, sc.dups)
	if err := c.err(); err != nil {
		return nil, err
	}
	return []*Event{ev}, nil
}

// parseBatch parses a body in the JSON batch format.
func parseBatch(body []byte, lim Limits) ([]*Event, error) {
	c := &collector{max: lim.MaxProblems}
	sc := scanJSON(body, lim.MaxProblems)
	if sc.syntax != "" {
		c.add(Problem{Index: -1, Rule: RuleJSON, Detail: sc.syntax})
		return nil, c.err()
	}
	arr := jsoncheck.TrimSpace(body)
	if arr[0] != '[' {
		c.add(Problem{Index: -1, Rule: RuleType, Detail: fmt.Sprintf("a batch body must be a JSON array of events, not %s", jsonKind(arr))})
		return nil, c.err()
	}
	// Sizes first: 413 outranks 400, and an oversize event should not cost
	// the work of validating its neighbours.
	n := 0
	for elem := range jsoncheck.Elements(arr) {
		if len(elem) > lim.MaxEventBytes {
			return nil, &TooLargeError{Which: WhichEvent, Index: n, Limit: lim.MaxEventBytes, Size: len(elem)}
		}
		n++
	}
	events := make([]*Event, 0, n)
	c.omitted += sc.omitted
	dups := sc.dups // in document order, so in element order
	i := 0
	for elem := range jsoncheck.Elements(arr) {
		// The repeated names inside this element, with paths from it.
		var mine []jsoncheck.Duplicate
		for len(dups) > 0 && dups[0].Path[0].Index == i {
			d := dups[0]
			d.Path = d.Path[1:]
			mine = append(mine, d)
			dups = dups[1:]
		}
		if elem[0] != '{' {
			c.add(Problem{Index: i, Rule: RuleType, Detail: fmt.Sprintf("batch element %d must be a JSON object (an event), not %s", i, jsonKind(elem))})
			for _, d := range mine {
				c.add(Problem{Index: i, Field: "", Rule: RuleDuplicateKey, Detail: dupDetail(d, " (at "+d.Path.String()+")")})
			}
		} else if ev := parseObject(c, i, elem, mine); ev != nil && !c.failed() {
			// Once the request has failed, valid events are dropped: they
			// will not be returned and keeping them only costs memory.
			events = append(events, ev)
		}
		i++
	}
	if err := c.err(); err != nil {
		return nil, err
	}
	return events, nil
}

// parseObject validates one event in the JSON event format (json-format.md
// §2-3). obj is a syntactically valid JSON object and dups its repeated
// member names (paths from obj). It returns nil if the event had problems.
func parseObject(c *collector, index int, obj []byte, dups []jsoncheck.Duplicate) *Event {
	p := newEventParser(c, index, false, len(obj))
	for _, d := range dups {
		p.add(dupField(d.Path), RuleDuplicateKey, dupDetail(d, ""))
	}
	var data, dataB64 []byte
	for rawKey, val := range jsoncheck.Members(obj) {
		var bit uint16
		if inner := rawKey[1 : len(rawKey)-1]; bytes.IndexByte(inner, '\\') < 0 {
			bit = attrBit(inner) // the common case: no escapes, no allocation
		}
		var name string
		if bit == 0 {
			var err error
			if name, err = jsoncheck.Unquote(rawKey); err != nil {
				p.add("", RuleEncoding, fmt.Sprintf("member name %s: %v", quoteExcerpt(string(rawKey)), err))
				continue
			}
			if bit = attrBit(name); bit == 0 {
				p.extensionFromJSON(name, val)
				continue
			}
		} else {
			name = attrName(bit)
		}
		if p.seen&bit != 0 {
			continue // a repeated name, reported with the others above
		}
		// JSON null means an optional attribute is unset (json-format.md §3).
		// For data it is an explicit null payload, so it counts as present.
		if val[0] == 'n' && bit != bitData {
			continue
		}
		p.seen |= bit
		switch bit {
		case bitData:
			data = val
		case bitDataBase64:
			dataB64 = val
		default:
			if val[0] != '"' {
				p.add(name, RuleType, fmt.Sprintf("%s must be a string, not %s", name, jsonKind(val)))
				continue
			}
			s, err := jsoncheck.Unquote(val)
			if err != nil {
				p.add(name, RuleEncoding, fmt.Sprintf("%s: %v", name, err))
				continue
			}
			p.setAttr(name, s)
		}
	}
	// Data is interpreted last: datacontenttype may follow it in the object.
	p.dataFromJSON(data, dataB64)
	return p.finish()
}

// extensionFromJSON validates an extension member: the CloudEvents types
// map to JSON strings, booleans and numbers (json-format.md §2.2).
func (p *eventParser) extensionFromJSON(name string, val []byte) {
	if !p.checkExtName(name) {
		return
	}
	switch val[0] {
	case 'n':
		return // unset
	case '"':
		s, err := jsoncheck.Unquote(val)
		if err != nil {
			p.add(extField(name), RuleEncoding, fmt.Sprintf("%s: %v", extField(name), err))
			return
		}
		p.setExtension(name, s)
	case 't', 'f':
		p.setExtension(name, val[0] == 't')
	case '{', '[':
		p.add(extField(name), RuleType, fmt.Sprintf("extension %q must be a string, boolean or integer, not %s", name, jsonKind(val)))
	default:
		n, rule, detail := parseJSONInteger(string(val))
		if rule != "" {
			p.add(extField(name), rule, fmt.Sprintf("extension %q: %s", name, detail))
			return
		}
		p.setExtension(name, n)
	}
}

// dataFromJSON applies json-format.md §3.1.2 to the raw data and data_base64
// members (nil when absent; data_base64 null was already dropped).
func (p *eventParser) dataFromJSON(data, dataB64 []byte) {
	switch {
	case dataB64 != nil && data != nil:
		p.add("data_base64", RuleExclusive, "data and data_base64 are mutually exclusive; send binary data in data_base64 only, anything else in data")
	case dataB64 != nil:
		if dataB64[0] != '"' {
			p.add("data_base64", RuleType, fmt.Sprintf("data_base64 must be a base64 string, not %s", jsonKind(dataB64)))
			return
		}
		s, err := jsoncheck.Unquote(dataB64)
		if err != nil {
			p.add("data_base64", RuleEncoding, fmt.Sprintf("data_base64: %v", err))
			return
		}
		b, err := decodeBase64(s)
		if err != nil {
			p.add("data_base64", RuleEncoding, fmt.Sprintf("data_base64 is not valid base64 (RFC 4648 §4): %v", err))
			return
		}
		if p.ev.DataContentType != "" && p.ev.DataIsJSON() {
			// What sdk-go and others send for data set from bytes under a
			// JSON content type: the data is JSON, so it is held (checked,
			// validated, stored and delivered) as JSON data.
			p.jsonData("data_base64", "data_base64 decodes to bytes that are not JSON as datacontenttype "+
				quoteExcerpt(p.ev.DataContentType)+" declares: ", " (in the JSON decoded from data_base64)", b)
			return
		}
		p.ev.DataBase64 = b
	case data != nil:
		if p.ev.DataIsJSON() {
			p.ev.Data = data
			p.ev.verified = data
			return
		}
		// A non-JSON content type means data is the text of the payload.
		if data[0] != '"' {
			p.add("data", RuleType, fmt.Sprintf("data must be a string because datacontenttype %s is not JSON, not %s; use data_base64 for binary data", quoteExcerpt(p.ev.DataContentType), jsonKind(data)))
			return
		}
		if _, err := jsoncheck.AppendUnquoted(nil, data, jsoncheck.Exact); err != nil {
			p.add("data", RuleEncoding, fmt.Sprintf("data: %v", err))
			return
		}
		p.ev.Data = data
		p.ev.verified = data
	}
}

// decodeBase64 decodes standard base64 (RFC 4648 §4), also accepting it
// without padding, which some producers omit.
func decodeBase64(s string) ([]byte, error) {
	enc := base64.StdEncoding
	if len(s)%4 != 0 && !strings.Contains(s, "=") {
		enc = base64.RawStdEncoding
	}
	b := make([]byte, enc.DecodedLen(len(s)))
	n, err := enc.Decode(b, []byte(s))
	if err != nil {
		return nil, err
	}
	return b[:n], nil
}

// jsonData checks data declared to be JSON that did not arrive as a JSON
// value of the event (a binary-mode body, decoded data_base64) with the one
// JSON check, and holds it as the event's JSON data. field and prefix name
// the source in a syntax problem, where in a repeated name's.
func (p *eventParser) jsonData(field, prefix, where string, b []byte) {
	data := jsoncheck.TrimSpace(b)
	sc := scanJSON(data, p.c.max)
	if sc.syntax != "" {
		p.add(field, RuleJSON, prefix+sc.syntax)
		return
	}
	p.c.omitted += sc.omitted
	for _, d := range sc.dups {
		p.add(d.Path.Field("data"), RuleDuplicateKey, dupDetail(d, where))
	}
	if len(sc.dups) > 0 {
		return
	}
	p.ev.Data = data
	p.ev.verified = data
}
