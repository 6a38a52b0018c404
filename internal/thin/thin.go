// Package thin renders the notification a thin event type's push channels
// carry instead of the full event: the CloudEvents attributes, the type's
// declared non-personal fields of data, and a dataref (the CloudEvents
// dataref extension) pointing at the full payload in the Integration API.
package thin

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// MaxFields bounds the paths a type may keep.
const MaxFields = 50

// Path is a parsed field path: member names from the root of data.
type Path []string

// ParsePath parses a kept-field path. Paths name object members from the
// root of data: "$.team", "$.payment.id", or with brackets for names that
// are not identifiers: "$['flow name']". Array indexes and wildcards are
// not allowed: a notification keeps named fields, never lists of records.
func ParsePath(p string) (Path, error) {
	if !strings.HasPrefix(p, "$") {
		return nil, errors.New("must start with $ (the root of data), e.g. $.team")
	}
	var out Path
	rest := p[1:]
	for rest != "" {
		switch {
		case rest[0] == '.':
			rest = rest[1:]
			n := 0
			for n < len(rest) && isNameByte(rest[n], n == 0) {
				n++
			}
			if n == 0 {
				return nil, fmt.Errorf("expected a member name after '.' in %q (letters, digits, _ and -; use ['...'] for others)", p)
			}
			out = append(out, rest[:n])
			rest = rest[n:]
		case strings.HasPrefix(rest, "['"):
			end := strings.Index(rest[2:], "']")
			if end < 0 {
				return nil, fmt.Errorf("unterminated ['...'] in %q", p)
			}
			name := rest[2 : 2+end]
			if name == "" || strings.ContainsAny(name, "'\\") {
				return nil, fmt.Errorf("bad member name in ['...'] of %q", p)
			}
			out = append(out, name)
			rest = rest[2+end+2:]
		case rest[0] == '[':
			return nil, fmt.Errorf("%q: array indexes and wildcards are not allowed; name object members", p)
		default:
			return nil, fmt.Errorf("unexpected %q in %q", rest[:1], p)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("must name at least one member of data, e.g. $.team")
	}
	if len(out) > 16 {
		return nil, errors.New("must be at most 16 members deep")
	}
	return out, nil
}

func isNameByte(c byte, first bool) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		return true
	case c >= '0' && c <= '9', c == '-':
		return !first || c >= '0' && c <= '9'
	}
	return false
}

// ErrUnrenderable marks a stored event that cannot be turned into a
// notification (its body is not a JSON object): no attempt can send it, so
// its deliveries are dead-lettered rather than retried.
var ErrUnrenderable = errors.New("thin notification: the stored event cannot be rendered")

// Notification renders the notification of a stored event body
// (CloudEvents structured JSON): every attribute except data, data_base64
// and dataschema (which describes the full data), data reduced to the kept
// fields (members missing from the event are left out), and dataref. The
// output is deterministic. Rendering an already rendered notification gives
// the same notification, so a scrubbed body can be stored in its form.
func Notification(body []byte, fields []Path, dataref string) ([]byte, error) {
	var attrs map[string]json.RawMessage
	if err := json.Unmarshal(body, &attrs); err != nil {
		return nil, fmt.Errorf("%w: decode event: %w", ErrUnrenderable, err)
	}
	data, hasData := attrs["data"]
	delete(attrs, "data")
	delete(attrs, "data_base64")
	delete(attrs, "dataschema")
	kept := map[string]any{}
	if hasData && len(fields) > 0 && isJSONObject(data) {
		var doc map[string]any
		if err := json.Unmarshal(data, &doc); err == nil {
			for _, f := range fields {
				keep(kept, doc, f)
			}
		}
	}
	raw, err := json.Marshal(kept)
	if err != nil {
		return nil, fmt.Errorf("%w: encode data: %w", ErrUnrenderable, err)
	}
	attrs["data"] = raw
	attrs["datacontenttype"] = json.RawMessage(`"application/json"`)
	ref, err := json.Marshal(dataref)
	if err != nil {
		return nil, fmt.Errorf("%w: encode dataref: %w", ErrUnrenderable, err)
	}
	attrs["dataref"] = ref
	out, err := json.Marshal(attrs)
	if err != nil {
		return nil, fmt.Errorf("%w: encode: %w", ErrUnrenderable, err)
	}
	return out, nil
}

func isJSONObject(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c == '{'
	}
	return false
}

// keep copies the value at path p of src into dst, creating the
// intermediate objects.
func keep(dst, src map[string]any, p Path) {
	cur := src
	for i, name := range p {
		v, ok := cur[name]
		if !ok {
			return
		}
		if i == len(p)-1 {
			setPath(dst, p, v)
			return
		}
		next, ok := v.(map[string]any)
		if !ok {
			return
		}
		cur = next
	}
}

func setPath(dst map[string]any, p Path, v any) {
	for _, name := range p[:len(p)-1] {
		next, ok := dst[name].(map[string]any)
		if !ok {
			next = map[string]any{}
			dst[name] = next
		}
		dst = next
	}
	dst[p[len(p)-1]] = v
}

// ParsePaths parses a type's declared fields (already validated when the
// type was saved; a bad one is skipped rather than leaking data).
func ParsePaths(fields []string) []Path {
	out := make([]Path, 0, len(fields))
	for _, f := range fields {
		if p, err := ParsePath(f); err == nil {
			out = append(out, p)
		}
	}
	return out
}
