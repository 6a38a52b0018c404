package cloudevents

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/jsoncheck"
)

// SpecVersion is the only CloudEvents specversion Herald accepts.
const SpecVersion = "1.0"

// Event is one CloudEvents v1.0 event. Events returned by Parse are valid;
// events built by hand are checked only as far as MarshalStructured needs.
//
// The payload is held the way the JSON event format holds it, so that it can
// be stored and re-encoded without interpretation. At most one of Data and
// DataBase64 is set:
//
//   - Data is the JSON value of the format's data member. When DataIsJSON it
//     is the data itself (a JSON string stays a JSON string, quotes included,
//     and is never parsed further); otherwise it is a JSON string holding the
//     text of the data, e.g. "<much wow=\"xml\"/>" for application/xml.
//     The literal null is an explicit null payload under a JSON content type.
//   - DataBase64 is binary data, already decoded: from data_base64, or from a
//     binary-mode body that is neither JSON nor UTF-8 text.
//
// Use DataBytes to get the payload bytes whatever the representation.
type Event struct {
	// ID is the id attribute: non-empty, unique per Source.
	ID string
	// Source is the source attribute, a non-empty URI-reference.
	Source string
	// SpecVersion is the specversion attribute; always "1.0" after Parse.
	SpecVersion string
	// Type is the type attribute, e.g. "com.example.order.created".
	Type string
	// DataContentType is the datacontenttype attribute (in binary mode, the
	// Content-Type header) as received, or "" when absent.
	DataContentType string
	// DataSchema is the dataschema attribute, an absolute URI, or "".
	DataSchema string
	// Subject is the subject attribute, or "".
	Subject string
	// Time is the time attribute; the zero value means absent. Parse keeps the
	// offset the producer used.
	Time time.Time
	// Extensions maps extension attribute names to values, which are string,
	// bool or int32 after Parse (binary-mode extension values are always
	// strings, as headers carry no type). It includes "partitionkey". Nil when
	// there are none.
	Extensions map[string]any
	// Data is the JSON value of the data member; see the type documentation.
	// Nil when there is no data or the data is binary.
	Data json.RawMessage
	// DataBase64 is the decoded binary data, or nil.
	DataBase64 []byte
	// Size is the event's wire size in bytes as counted against
	// Limits.MaxEventBytes: the length of its JSON object in structured and
	// batch mode, the body plus the ce-* header values in binary mode. It is
	// 0 for events not produced by Parse.
	Size int

	// verified is the Data that Parse checked; encoding skips re-checking
	// it (a hot path) as long as Data still is that very slice.
	verified json.RawMessage
}

// dataVerified reports whether Data is exactly what Parse verified.
func (e *Event) dataVerified() bool {
	return len(e.Data) > 0 && len(e.Data) == len(e.verified) && &e.Data[0] == &e.verified[0]
}

// PartitionKey returns the partitionkey extension (the partitioning
// extension), or "" when the event has none.
func (e *Event) PartitionKey() string {
	s, _ := e.Extensions["partitionkey"].(string)
	return s
}

// DataIsJSON reports whether DataContentType declares JSON content: absent,
// or a media type of the form */json or */*+json, compared case-insensitively
// with parameters ignored. It says how Data is to be read, not whether the
// event has data.
func (e *Event) DataIsJSON() bool {
	return isJSONMediaType(e.DataContentType)
}

// DataBytes returns the payload as bytes: the JSON text when DataIsJSON, the
// decoded text for textual data, the binary data otherwise. It returns nil
// when the event has no data. The result may share memory with the event.
func (e *Event) DataBytes() ([]byte, error) {
	switch {
	case e.DataBase64 != nil:
		return e.DataBase64, nil
	case e.Data == nil:
		return nil, nil
	case e.DataIsJSON():
		return e.Data, nil
	}
	if end := jsoncheck.StringEnd(e.Data, 0); len(e.Data) < 2 || e.Data[0] != '"' || end != len(e.Data) {
		return nil, fmt.Errorf("cloudevents: event %q: data under datacontenttype %q must be a JSON string", e.ID, e.DataContentType)
	}
	b, err := jsoncheck.AppendUnquoted(nil, e.Data, jsoncheck.Exact)
	if err != nil {
		return nil, fmt.Errorf("cloudevents: event %q: decoding text data: %w", e.ID, err)
	}
	return b, nil
}

// mediaTypeOnly returns ct without parameters or surrounding space.
func mediaTypeOnly(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.TrimSpace(ct)
}

// isJSONMediaType implements the JSON format's test for JSON-formatted data
// (json-format.md §3.1.1); an absent content type counts as application/json.
func isJSONMediaType(ct string) bool {
	mt := mediaTypeOnly(ct)
	if mt == "" {
		return true
	}
	slash := strings.IndexByte(mt, '/')
	if slash < 0 {
		return false
	}
	sub := mt[slash+1:]
	return strings.EqualFold(sub, "json") ||
		(len(sub) > len("+json") && strings.EqualFold(sub[len(sub)-len("+json"):], "+json"))
}

// isTextMediaType reports whether a binary-mode body of this content type
// should become a string data member rather than data_base64 when the event
// is re-encoded. The JSON format leaves the choice to the implementation; we
// pick the types that are text by definition, and only for UTF-8 (or
// unspecified) charsets, since a JSON string cannot carry other encodings.
func isTextMediaType(ct string) bool {
	mt := strings.ToLower(mediaTypeOnly(ct))
	textual := strings.HasPrefix(mt, "text/") || strings.HasSuffix(mt, "/xml") || strings.HasSuffix(mt, "+xml")
	if !textual {
		return false
	}
	cs := charsetParam(ct)
	return cs == "" || strings.EqualFold(cs, "utf-8") || strings.EqualFold(cs, "utf8") || strings.EqualFold(cs, "us-ascii")
}
