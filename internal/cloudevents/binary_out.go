package cloudevents

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// ParseStored parses one event in the JSON event format, as Herald stores
// every event, to re-encode it in another content mode. The body was
// validated when it was accepted, so only its size cap is lifted.
func ParseStored(body []byte) (*Event, error) {
	evs, err := parseStructured(body, Limits{MaxEventBytes: len(body) + 1, MaxRequestBytes: len(body) + 1}.withDefaults())
	if err != nil {
		return nil, fmt.Errorf("cloudevents: stored event: %w", err)
	}
	return evs[0], nil
}

// Binary encodes e in the HTTP binary content mode: one ce- header per
// attribute and extension (values percent-encoded as the HTTP binding
// requires), the payload as the body, and its media type. contentType is
// "" when the event has no data (then no Content-Type is sent).
func (e *Event) Binary() (h http.Header, body []byte, contentType string, err error) {
	if body, err = e.DataBytes(); err != nil {
		return nil, nil, "", err
	}
	sv := e.SpecVersion
	if sv == "" {
		sv = SpecVersion
	}
	h = make(http.Header, 8+len(e.Extensions))
	set := func(name, v string) { h["Ce-"+headerName(name)] = []string{encodeHeaderValue(v)} }
	set("specversion", sv)
	set("id", e.ID)
	set("source", e.Source)
	set("type", e.Type)
	if e.DataSchema != "" {
		set("dataschema", e.DataSchema)
	}
	if e.Subject != "" {
		set("subject", e.Subject)
	}
	if !e.Time.IsZero() {
		set("time", e.Time.Format(time.RFC3339Nano))
	}
	for name, v := range e.Extensions {
		s, err := extensionString(v)
		if err != nil {
			return nil, nil, "", fmt.Errorf("cloudevents: event %q: extension %s: %w", e.ID, name, err)
		}
		set(name, s)
	}
	switch {
	case e.DataContentType != "":
		contentType = e.DataContentType
	case e.Data != nil:
		contentType = "application/json" // JSON is what an absent datacontenttype means
	case e.DataBase64 != nil:
		contentType = "application/octet-stream"
	}
	return h, body, contentType, nil
}

// headerName canonicalises an attribute name the way Go writes header
// names (attribute names are lowercase letters and digits).
func headerName(name string) string {
	if name == "" {
		return name
	}
	b := []byte(name)
	if 'a' <= b[0] && b[0] <= 'z' {
		b[0] -= 'a' - 'A'
	}
	return string(b)
}

// extensionString writes an extension value in its canonical string form.
func extensionString(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int32:
		return strconv.FormatInt(int64(x), 10), nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case []byte:
		return base64.StdEncoding.EncodeToString(x), nil
	case time.Time:
		return x.Format(time.RFC3339Nano), nil
	}
	return "", fmt.Errorf("unsupported value type %T", v)
}

// encodeHeaderValue percent-encodes a header value as the CloudEvents HTTP
// binding requires: space, double quote, percent and every byte outside
// printable ASCII (of the UTF-8 encoding), with uppercase hex.
func encodeHeaderValue(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if headerEscape(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if headerEscape(c) {
			b = append(b, '%', hex[c>>4], hex[c&15])
		} else {
			b = append(b, c)
		}
	}
	return string(b)
}

func headerEscape(c byte) bool { return c <= ' ' || c > '~' || c == '"' || c == '%' }
