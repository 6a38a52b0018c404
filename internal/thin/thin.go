// Package thin renders the notification a thin event type's push channels
// carry instead of the full event: the CloudEvents attributes, the type's
// declared non-personal fields of data, and a dataref (the CloudEvents
// dataref extension) pointing at the full payload in the Integration API.
package thin

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/heraldhq/herald/internal/jsoncheck"
	"github.com/heraldhq/herald/internal/jsonpath"
)

// MaxFields bounds the paths a type may keep.
const MaxFields = 50

// Path is a parsed field path: member names from the root of data.
type Path []string

// ParsePath parses a kept-field path. Paths name object members from the
// root of data: "$.team", "$.payment.id", or with brackets for names that
// are not identifiers: "$['flow name']". Array indexes and wildcards are
// not allowed: a notification keeps named fields, never lists of records.
// The grammar is package jsonpath's, under its Members rules; an error is a
// *jsonpath.Error.
func ParsePath(p string) (Path, error) {
	steps, err := jsonpath.Parse(p, jsonpath.Members)
	if err != nil {
		return nil, err
	}
	out := make(Path, len(steps))
	for i, s := range steps {
		out[i] = s.Name
	}
	return out, nil
}

// steps is p as a jsoncheck.Path.
func (p Path) steps() jsoncheck.Path {
	out := make(jsoncheck.Path, len(p))
	for i, name := range p {
		out[i] = jsoncheck.Step{Name: name}
	}
	return out
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
		keep(kept, data, fields)
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
	i := jsoncheck.SkipSpace(b, 0)
	return i < len(b) && b[i] == '{'
}

// keep copies the values of data at fields into dst, creating the
// intermediate objects. Data is read once, by package jsonpath; each kept
// value is decoded by encoding/json, as the whole of data once was, so the
// notification spells every value as it always has.
func keep(dst map[string]any, data []byte, fields []Path) {
	if !numbersFitFloat64(data) {
		// Notifications were rendered from data decoded whole by
		// encoding/json, which fails on a number beyond float64's range
		// anywhere in it, and then kept no field. Kept as it was: issue 10
		// changes no output.
		return
	}
	var set jsonpath.Set
	refs := make([]jsonpath.Ref, len(fields))
	for i, f := range fields {
		refs[i] = set.Add(f.steps())
	}
	set.Build()
	spans := make([]jsonpath.Span, set.Slots())
	set.Lookup(data, spans)
	for i, f := range fields {
		raw := spans[refs[i].Slot()].In(data)
		if raw == nil || len(f) == 0 {
			continue
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			continue
		}
		setPath(dst, f, v)
	}
}

// numbersFitFloat64 reports whether encoding/json can decode every number
// of data into a float64, reading data with jsoncheck's Reader as leniently
// as encoding/json reads it.
func numbersFitFloat64(data []byte) bool {
	var r jsoncheck.Reader
	r.Reset(data, jsoncheck.Options{Lenient: true})
	for {
		k, err := r.Next()
		switch {
		case err != nil:
			return false
		case k == jsoncheck.KindEnd:
			return true
		case k == jsoncheck.KindNumber:
			if tok := r.Token(); !jsoncheck.FitsFloat64(data[tok.Start:tok.End]) {
				return false
			}
		}
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
