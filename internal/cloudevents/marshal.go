package cloudevents

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/heraldhq/herald/internal/jsoncheck"
)

// MarshalStructured encodes e in the JSON event format, the body of an
// application/cloudevents+json request. See AppendStructured.
func (e *Event) MarshalStructured() ([]byte, error) {
	return e.AppendStructured(make([]byte, 0, e.encodedSizeHint()))
}

// AppendStructured appends e in the JSON event format to dst and returns the
// extended buffer; on error dst is returned unchanged. It runs once per
// delivery attempt, so it writes the envelope directly instead of going
// through encoding/json and a map.
//
// The output is deterministic: attributes in a fixed order (specversion, id,
// source, type, datacontenttype, dataschema, subject, time), then extensions
// sorted by name, then data or data_base64. Data is written as stored (see
// Event), after checking that it is well-formed JSON, so that a corrupt stored
// event fails here rather than at the receiver. An empty SpecVersion is
// written as "1.0". Extension values may be string, bool, any integer type
// within the int32 range, []byte (written as base64) or time.Time.
func (e *Event) AppendStructured(dst []byte) ([]byte, error) {
	if err := e.checkEncodable(); err != nil {
		return dst, err
	}
	orig := dst
	sv := e.SpecVersion
	if sv == "" {
		sv = SpecVersion
	}
	dst = append(dst, `{"specversion":`...)
	dst = jsoncheck.AppendString(dst, sv)
	dst = append(dst, `,"id":`...)
	dst = jsoncheck.AppendString(dst, e.ID)
	dst = append(dst, `,"source":`...)
	dst = jsoncheck.AppendString(dst, e.Source)
	dst = append(dst, `,"type":`...)
	dst = jsoncheck.AppendString(dst, e.Type)
	if e.DataContentType != "" {
		dst = append(dst, `,"datacontenttype":`...)
		dst = jsoncheck.AppendString(dst, e.DataContentType)
	}
	if e.DataSchema != "" {
		dst = append(dst, `,"dataschema":`...)
		dst = jsoncheck.AppendString(dst, e.DataSchema)
	}
	if e.Subject != "" {
		dst = append(dst, `,"subject":`...)
		dst = jsoncheck.AppendString(dst, e.Subject)
	}
	if !e.Time.IsZero() {
		dst = append(dst, `,"time":"`...)
		dst = e.Time.AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, '"')
	}
	if len(e.Extensions) > 0 {
		// A stack array covers the usual handful of extensions without an
		// allocation for the sorted names.
		var arr [8]string
		names := arr[:0]
		for name := range e.Extensions {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			var err error
			dst = append(dst, ',')
			dst = jsoncheck.AppendString(dst, name)
			dst = append(dst, ':')
			if dst, err = appendExtensionValue(dst, e.Extensions[name]); err != nil {
				return orig, fmt.Errorf("cloudevents: encoding event %q: extension %q: %w", e.ID, name, err)
			}
		}
	}
	switch {
	case e.DataBase64 != nil:
		dst = append(dst, `,"data_base64":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, e.DataBase64)
		dst = append(dst, '"')
	case e.Data != nil:
		dst = append(dst, `,"data":`...)
		dst = append(dst, e.Data...)
	}
	return append(dst, '}'), nil
}

// checkEncodable refuses events whose encoding would be invalid JSON or an
// invalid CloudEvent, so that a bad stored event cannot be delivered.
func (e *Event) checkEncodable() error {
	switch {
	case e.ID == "":
		return errors.New("cloudevents: encoding event: id is empty")
	case e.Source == "":
		return fmt.Errorf("cloudevents: encoding event %q: source is empty", e.ID)
	case e.Type == "":
		return fmt.Errorf("cloudevents: encoding event %q: type is empty", e.ID)
	case e.SpecVersion != "" && e.SpecVersion != SpecVersion:
		return fmt.Errorf("cloudevents: encoding event %q: specversion %q is not %q", e.ID, e.SpecVersion, SpecVersion)
	case e.Data != nil && e.DataBase64 != nil:
		return fmt.Errorf("cloudevents: encoding event %q: both Data and DataBase64 are set", e.ID)
	}
	if y := e.Time.Year(); !e.Time.IsZero() && (y < 0 || y > 9999) {
		return fmt.Errorf("cloudevents: encoding event %q: time %v is outside the years RFC 3339 can express", e.ID, e.Time)
	}
	if e.Data != nil {
		if !e.dataVerified() && jsoncheck.Check(e.Data) != nil {
			return fmt.Errorf("cloudevents: encoding event %q: Data is not a single well-formed JSON value", e.ID)
		}
		if !e.DataIsJSON() && e.Data[0] != '"' {
			return fmt.Errorf("cloudevents: encoding event %q: datacontenttype %q is not JSON, so Data must be a JSON string", e.ID, e.DataContentType)
		}
	}
	for name := range e.Extensions {
		if attrBit(name) != 0 || !validExtName(name) {
			return fmt.Errorf("cloudevents: encoding event %q: %q is not a valid extension name", e.ID, name)
		}
	}
	return nil
}

// appendExtensionValue writes an extension value in its JSON mapping
// (json-format.md §2.2): Integer as a number, Binary as base64, Timestamp as
// RFC 3339, everything else as its string or boolean form.
func appendExtensionValue(dst []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case string:
		return jsoncheck.AppendString(dst, v), nil
	case bool:
		return strconv.AppendBool(dst, v), nil
	case int32:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case int:
		return appendInt32(dst, int64(v))
	case int64:
		return appendInt32(dst, v)
	case int8:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case int16:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case uint8:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case uint16:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case uint32:
		return appendInt32(dst, int64(v))
	case []byte:
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, v)
		return append(dst, '"'), nil
	case time.Time:
		dst = append(dst, '"')
		dst = v.AppendFormat(dst, time.RFC3339Nano)
		return append(dst, '"'), nil
	}
	return dst, fmt.Errorf("value of type %T is not a CloudEvents type", v)
}

func appendInt32(dst []byte, n int64) ([]byte, error) {
	if n < math.MinInt32 || n > math.MaxInt32 {
		return dst, fmt.Errorf("integer %d is outside the signed 32-bit range", n)
	}
	return strconv.AppendInt(dst, n, 10), nil
}

// encodedSizeHint estimates the encoded size so MarshalStructured allocates
// once in the usual case.
func (e *Event) encodedSizeHint() int {
	n := 128 + len(e.ID) + len(e.Source) + len(e.Type) + len(e.DataContentType) +
		len(e.DataSchema) + len(e.Subject) + len(e.Data) + base64.StdEncoding.EncodedLen(len(e.DataBase64))
	for name, v := range e.Extensions {
		n += len(name) + 8
		if s, ok := v.(string); ok {
			n += len(s)
		}
	}
	return n
}
