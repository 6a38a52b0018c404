package cloudevents

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/heraldhq/herald/internal/jsoncheck"
)

// ceHeader is one ce-* attribute header, name lowercased without the prefix.
type ceHeader struct {
	name   string
	values []string
}

// parseBinary parses a binary-mode request (HTTP binding §3.1): attributes in
// ce-* headers, datacontenttype in Content-Type, the data as the body.
func parseBinary(h http.Header, body []byte, lim Limits) ([]*Event, error) {
	size := len(body)
	var hs []ceHeader
	for k, vs := range h {
		// Header names are case-insensitive; Go canonicalises most of them but
		// leaves alone names it considers invalid, so compare folded.
		if len(k) < 3 || !strings.EqualFold(k[:3], "ce-") {
			continue
		}
		hs = append(hs, ceHeader{name: strings.ToLower(k[3:]), values: vs})
		for _, v := range vs {
			size += len(v)
		}
	}
	if size > lim.MaxEventBytes {
		return nil, &TooLargeError{Which: WhichEvent, Index: 0, Limit: lim.MaxEventBytes, Size: size}
	}
	// Map iteration order is random; problems must come out the same way for
	// the same request. Keys differing only in case are one header, so they
	// are merged (and then reported as duplicates).
	slices.SortFunc(hs, func(a, b ceHeader) int { return cmp.Compare(a.name, b.name) })
	merged := hs[:0]
	for _, hd := range hs {
		if n := len(merged); n > 0 && merged[n-1].name == hd.name {
			merged[n-1].values = append(slices.Clip(merged[n-1].values), hd.values...)
			continue
		}
		merged = append(merged, hd)
	}

	c := &collector{max: lim.MaxProblems}
	p := newEventParser(c, 0, true, size)
	for _, hd := range merged {
		p.binaryAttr(hd)
	}
	if ct := strings.TrimSpace(h.Get("Content-Type")); ct != "" {
		p.seen |= bitDataContentType
		p.setAttr("datacontenttype", ct)
	}
	p.dataFromBody(body, h.Get("Content-Type"))
	ev := p.finish()
	if err := c.err(); err != nil {
		return nil, err
	}
	return []*Event{ev}, nil
}

// binaryAttr validates one ce-* header.
func (p *eventParser) binaryAttr(hd ceHeader) {
	name := hd.name
	bit := attrBit(name)
	field := name
	if bit == 0 || bit == bitData || bit == bitDataBase64 {
		field = extField(name)
	}
	switch {
	case name == "datacontenttype":
		p.add(name, RuleForbidden, "in binary mode datacontenttype is carried by the Content-Type header; the ce-datacontenttype header must not be sent")
		return
	case bit == bitData || bit == bitDataBase64:
		p.add(field, RuleName, fmt.Sprintf("header ce-%s: %q is reserved for the event data and cannot be an attribute; in binary mode the data is the body", name, name))
		return
	case bit == 0 && !p.checkExtName(name):
		return
	case len(hd.values) > 1:
		p.seen |= bit // present, so not also reported as missing
		p.add(field, RuleDuplicate, fmt.Sprintf("header ce-%s appears more than once", name))
		return
	}
	v, err := decodeHeaderValue(hd.values[0])
	if err != nil {
		p.add(field, RuleEncoding, fmt.Sprintf("header ce-%s: %v", name, err))
		return
	}
	if bit == 0 {
		p.setExtension(name, v)
		return
	}
	p.seen |= bit
	p.setAttr(name, v)
}

// dataFromBody stores a binary-mode body as the event's data (HTTP binding
// §3.1.2). An empty body means no data.
func (p *eventParser) dataFromBody(body []byte, ct string) {
	if len(body) == 0 {
		return
	}
	ev := p.ev
	if ev.DataIsJSON() {
		if !isJSONMediaType(ct) {
			return // the Content-Type was rejected as malformed already
		}
		prefix := "the body is not valid JSON as its Content-Type declares: "
		if mediaTypeOnly(ct) == "" {
			prefix = "without a Content-Type the body must be JSON (application/json is implied): "
		}
		p.jsonData("data", prefix, " (in the body)", body)
		return
	}
	if isTextMediaType(ct) && utf8.Valid(body) {
		// Stored as the JSON string it will be delivered as.
		ev.Data = json.RawMessage(jsoncheck.AppendString(make([]byte, 0, len(body)+2), string(body)))
		ev.verified = ev.Data
		return
	}
	ev.DataBase64 = body
}

// decodeHeaderValue undoes the HTTP binding's header value encoding
// (§3.1.3.2): first an RFC 7230 quoted-string, if the value is one, then one
// round of percent-decoding; the result must be UTF-8.
func decodeHeaderValue(v string) (string, error) {
	if strings.HasPrefix(v, `"`) {
		u, err := unquoteHTTP(v)
		if err != nil {
			return "", err
		}
		v = u
	}
	if strings.IndexByte(v, '%') >= 0 {
		b := make([]byte, 0, len(v))
		for i := 0; i < len(v); i++ {
			if v[i] != '%' {
				b = append(b, v[i])
				continue
			}
			if i+2 >= len(v) {
				return "", fmt.Errorf("incomplete percent-encoding at byte offset %d (a literal %% must be sent as %%25)", i)
			}
			hi, ok1 := hexVal(v[i+1])
			lo, ok2 := hexVal(v[i+2])
			if !ok1 || !ok2 {
				return "", fmt.Errorf("invalid percent-encoding %q at byte offset %d (a literal %% must be sent as %%25)", v[i:i+3], i)
			}
			b = append(b, hi<<4|lo)
			i += 2
		}
		v = string(b)
	}
	if !utf8.ValidString(v) {
		return "", errors.New("value is not valid UTF-8 once percent-decoded")
	}
	return v, nil
}

// unquoteHTTP decodes an RFC 7230 §3.2.6 quoted-string that makes up the
// whole of v.
func unquoteHTTP(v string) (string, error) {
	if len(v) < 2 || v[len(v)-1] != '"' {
		return "", errors.New("unterminated quoted-string")
	}
	inner := v[1 : len(v)-1]
	var b strings.Builder
	b.Grow(len(inner))
	for i := 0; i < len(inner); i++ {
		switch c := inner[i]; c {
		case '\\':
			if i+1 >= len(inner) {
				return "", errors.New("quoted-string ends in a lone backslash")
			}
			i++
			b.WriteByte(inner[i])
		case '"':
			return "", fmt.Errorf("unescaped double quote at byte offset %d inside a quoted-string", i+1)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// hexVal returns the value of the hexadecimal digit c, for percent-encoding.
func hexVal(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
