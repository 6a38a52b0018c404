// Package httpjson reads and writes the JSON bodies of Herald's HTTP API:
// the one strict request decoder every handler uses (internal/httpapi's
// and the Integration API's alike) and the response writer. It answers
// nothing itself: Decode returns errors that internal/httpapi's single
// error mapping turns into problems.
package httpjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/cloudevents"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/jsoncheck"
)

// ErrMalformed is wrapped by Decode's errors for a body that is not one
// well-formed JSON value of the expected shape (an unknown field, trailing
// data, a read error); the HTTP layer answers it 400 malformed-json.
var ErrMalformed = errors.New("malformed JSON body")

// MaxBody bounds the JSON request bodies of the management API.
const MaxBody = 1 << 20

// Decode reads a JSON request body into v, refusing unknown fields so
// typos in field names are reported instead of silently ignored. The body
// must pass the one JSON check (package jsoncheck: well-formed UTF-8, no
// member named twice in an object, anywhere: a schema, a filter or a
// config object included), and no string decoded into v may hold U+0000,
// which no name, URL or other text value can store; JSON kept as JSON
// (json.RawMessage fields: schemas, configs, filters, sample data) may.
//
// A body over MaxBody is a *cloudevents.TooLargeError; a wrong JSON type,
// a repeated member name or unstorable text a *herald.ValidationError
// naming the field.
func Decode(w http.ResponseWriter, r *http.Request, v any) error {
	r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &cloudevents.TooLargeError{Which: cloudevents.WhichRequest, Index: -1, Limit: int(mbe.Limit)}
		}
		return fmt.Errorf("%w: reading the body: %s", ErrMalformed, err.Error())
	}
	return DecodeBytes(body, v)
}

// DecodeBytes is Decode for a message already read (a WebSocket control
// frame): the same checks, the same errors.
func DecodeBytes(body []byte, v any) error {
	if jerr := jsoncheck.Check(body); jerr != nil {
		if jerr.Rule == jsoncheck.RuleDuplicateKey {
			return herald.Invalid(jerr.Path.Field(""), jerr.Rule, "%s", jerr.Detail)
		}
		return fmt.Errorf("%w: %s", ErrMalformed, jerr.Detail)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return herald.Invalid(ute.Field, "type", "must be %s, not %s", ute.Type.String(), ute.Value)
		}
		return fmt.Errorf("%w: %s", ErrMalformed, err.Error())
	}
	if field, ok := unstorableString(reflect.ValueOf(v), ""); ok {
		return herald.Invalid(field, "chars", "must not contain U+0000 (NUL): no text value in Herald can hold it")
	}
	return nil
}

// unstorableString finds the first string in v (walking structs by their
// JSON names, slices, arrays, maps and pointers) that PostgreSQL text
// cannot hold, and returns its JSON path. Byte slices (json.RawMessage) are
// JSON or binary kept as bytes, so they are not looked into.
func unstorableString(v reflect.Value, path string) (string, bool) {
	join := func(name string) string {
		if path == "" {
			return name
		}
		return path + "." + name
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return unstorableString(v.Elem(), path)
		}
	case reflect.String:
		if !herald.StorableText(v.String()) {
			return path, true
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			p := path
			if !f.Anonymous || name != "" {
				if name == "" {
					name = f.Name
				}
				p = join(name)
			}
			if field, bad := unstorableString(v.Field(i), p); bad {
				return field, true
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return "", false
		}
		for i := range v.Len() {
			if field, bad := unstorableString(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); bad {
				return field, true
			}
		}
	case reflect.Map:
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
		for _, k := range keys {
			name := fmt.Sprint(k.Interface())
			if k.Kind() == reflect.String && !herald.StorableText(k.String()) {
				return join(strings.ToValidUTF8(strings.ReplaceAll(name, "\x00", "\\u0000"), "\ufffd")), true
			}
			if field, bad := unstorableString(v.MapIndex(k), join(name)); bad {
				return field, true
			}
		}
	}
	return "", false
}

// Write answers with v as JSON and the given status. The status is sent
// before encoding, so an encoding error can only be logged.
func Write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		slog.Default().Debug("write response", "error", err)
	}
}

// DecodeOptional is Decode for a body the caller may leave out: a request
// without one (Content-Length: 0) leaves v as it is.
func DecodeOptional(w http.ResponseWriter, r *http.Request, v any) error {
	if r.ContentLength == 0 {
		return nil
	}
	return Decode(w, r, v)
}

// List is the shape of every list answer: {"data": [...]}.
type List[T any] struct {
	Data []T `json:"data"`
}

// ListOf converts items to their wire shape as a List, whose data is an
// empty array, never null, when there are none.
func ListOf[T, U any](items []T, wire func(T) U) List[U] {
	out := List[U]{Data: make([]U, 0, len(items))}
	for _, it := range items {
		out.Data = append(out.Data, wire(it))
	}
	return out
}

// Time is an optional time on the wire: nil (left out, or null) for the
// zero time, which means "none" in Herald's domain types.
func Time(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
