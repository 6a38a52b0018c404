package cloudevents

import (
	"errors"
	"fmt"
	"strings"

	"github.com/heraldhq/herald/internal/jsoncheck"
)

// ErrUnsupportedMediaType is returned (wrapped, test with errors.Is) when the
// request's Content-Type or Content-Encoding names a format this package
// cannot read, such as application/cloudevents+avro. It maps to HTTP 415.
var ErrUnsupportedMediaType = errors.New("cloudevents: unsupported media type")

// Values of TooLargeError.Which.
const (
	// WhichRequest means the whole request body is over Limits.MaxRequestBytes.
	WhichRequest = "request"
	// WhichEvent means one event is over Limits.MaxEventBytes.
	WhichEvent = "event"
)

// TooLargeError reports a request or event over its size limit. It maps to
// HTTP 413.
type TooLargeError struct {
	// Which is WhichRequest or WhichEvent.
	Which string
	// Index is the position of the oversize event in the request (0 outside
	// batch mode). It is -1 when Which is WhichRequest.
	Index int
	// Limit is the limit that was exceeded, in bytes.
	Limit int
	// Size is the size seen, in bytes. For a request whose body was cut off
	// while reading, it is a lower bound (Limit+1) because reading stops there;
	// when Content-Length announced the size up front, it is that length.
	Size int
}

func (e *TooLargeError) Error() string {
	if e.Which == WhichEvent {
		return fmt.Sprintf("cloudevents: event %d is %d bytes, over the limit of %d bytes", e.Index, e.Size, e.Limit)
	}
	return fmt.Sprintf("cloudevents: request body is over the limit of %d bytes", e.Limit)
}

// Rules are the short machine-readable tokens in Problem.Rule. Callers may
// branch on them or pass them on to API clients, so they never change.
const (
	// RuleJSON: the body (or data declared JSON: a binary-mode body, decoded
	// data_base64) is not well-formed JSON, or not UTF-8.
	RuleJSON = "json"
	// RuleRequired: a required attribute is missing (or null).
	RuleRequired = "required"
	// RuleEmpty: an attribute that must be non-empty is the empty string.
	RuleEmpty = "empty"
	// RuleType: a value has the wrong JSON type, e.g. a number for id, an
	// object as an extension value, or a batch element that is not an object.
	RuleType = "type"
	// RuleFormat: a value has the right type but does not match the
	// attribute's format (URI, timestamp, media type).
	RuleFormat = "format"
	// RuleChars: a string holds characters the CloudEvents String type
	// forbids (controls U+0000-U+001F and U+007F-U+009F, noncharacters).
	RuleChars = "chars"
	// RuleEncoding: a value could not be decoded: bad percent-encoding or
	// quoting in a header, invalid UTF-8, invalid base64, a lone surrogate.
	RuleEncoding = "encoding"
	// RuleVersion: specversion is not "1.0", the only version accepted (which
	// also guarantees that all events of a batch share their specversion).
	RuleVersion = "version"
	// RuleName: an extension name is not 1-20 characters of a-z and 0-9, or
	// is reserved (data).
	RuleName = "name"
	// RuleRange: an integer extension value is outside the signed 32-bit range.
	RuleRange = "range"
	// RuleExclusive: data and data_base64 are both present.
	RuleExclusive = "exclusive"
	// RuleDuplicate: a binary-mode attribute header appears more than once.
	RuleDuplicate = "duplicate"
	// RuleDuplicateKey: a JSON object (the event, its data, a batch
	// element) names a member more than once (I-JSON, RFC 7493 §2.3).
	// Problem.Field is the member's path: "id", "data.order",
	// "extensions.team".
	RuleDuplicateKey = jsoncheck.RuleDuplicateKey
	// RuleForbidden: an attribute appears where the binding forbids it
	// (ce-datacontenttype in binary mode).
	RuleForbidden = "forbidden"
)

// Problem is one reason an event was rejected.
type Problem struct {
	// Index is the event's position in the request: its index in a batch, or 0
	// in structured and binary mode. It is -1 for problems with a batch as a
	// whole (malformed JSON, a body that is not an array).
	Index int
	// ID is the event's id when it could be read, else "".
	ID string
	// Field names what is at fault: an attribute name ("source"), "data" or
	// "data_base64", "extensions.<name>" for an extension, or "" for the event
	// or body as a whole.
	Field string
	// Rule is one of the Rule constants.
	Rule string
	// Detail is a human-readable sentence for the producer.
	Detail string
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Index >= 0 {
		fmt.Fprintf(&b, "event %d", p.Index)
		if p.ID != "" {
			fmt.Fprintf(&b, " (id %q)", p.ID)
		}
		b.WriteString(": ")
	}
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Detail)
	fmt.Fprintf(&b, " [%s]", p.Rule)
	return b.String()
}

// ValidationError reports every problem found in a request's events. It maps
// to HTTP 400.
type ValidationError struct {
	// Problems lists the problems in request order, at most Limits.MaxProblems
	// of them.
	Problems []Problem
	// Omitted counts further problems that were found but not listed, so that
	// a hostile batch cannot make the error response arbitrarily large.
	Omitted int
}

func (e *ValidationError) Error() string {
	n := len(e.Problems) + e.Omitted
	if len(e.Problems) == 0 {
		return fmt.Sprintf("cloudevents: invalid request (%d problems)", n)
	}
	msg := "cloudevents: invalid request: " + e.Problems[0].String()
	if n > 1 {
		msg += fmt.Sprintf(" (and %d more problems)", n-1)
	}
	return msg
}

// collector accumulates problems up to a cap; past it, it only counts them.
type collector struct {
	problems []Problem
	omitted  int
	max      int
}

func (c *collector) add(p Problem) {
	if len(c.problems) >= c.max {
		c.omitted++
		return
	}
	c.problems = append(c.problems, p)
}

func (c *collector) failed() bool { return len(c.problems) > 0 || c.omitted > 0 }

// err returns the collected problems as a *ValidationError, or nil if none.
func (c *collector) err() error {
	if !c.failed() {
		return nil
	}
	return &ValidationError{Problems: c.problems, Omitted: c.omitted}
}
