package outbound

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/heraldhq/herald/webhook"
)

const (
	// MaxStaticHeaders is the most static headers an endpoint may have.
	MaxStaticHeaders = 20
	// MaxStaticHeaderValue is the longest static header value, in bytes.
	// Enough for any API key or Basic credential, while keeping the request
	// head well within the limits receivers' servers enforce (often 8 KB).
	MaxStaticHeaderValue = 4096
	// maxStaticHeaderName bounds a header name; real ones are short.
	maxStaticHeaderName = 256
)

// ErrInvalidStaticHeader is wrapped by every error ValidateStaticHeaders
// returns.
var ErrInvalidStaticHeader = errors.New("outbound: invalid static header")

// reservedHeaders cannot be set as static headers, keyed by canonical name,
// with the reason shown to the user.
var reservedHeaders = map[string]string{
	// Framing: the transport computes these, and a wrong one corrupts the
	// request or lets the receiver read it differently (request smuggling).
	"Host":              "is set from the endpoint URL",
	"Content-Length":    "is computed from the body",
	"Transfer-Encoding": "is managed by the HTTP client",
	"Content-Encoding":  "would misdescribe the body, which is sent unencoded",
	"Expect":            "changes how the HTTP client sends the body",
	// Hop-by-hop (RFC 9110 section 7.6.1): meaningful for one connection
	// only, and managed by the HTTP client.
	"Connection":          "is a hop-by-hop header",
	"Keep-Alive":          "is a hop-by-hop header",
	"Proxy-Connection":    "is a hop-by-hop header",
	"Te":                  "is a hop-by-hop header",
	"Trailer":             "is a hop-by-hop header",
	"Upgrade":             "is a hop-by-hop header",
	"Proxy-Authorization": "is a hop-by-hop header (Herald does not use proxies)",
	"Proxy-Authenticate":  "is a hop-by-hop header",
	// Herald's own: the receiver relies on them being Herald's.
	"Content-Type": "is set by Herald to describe the payload",
	"User-Agent":   "is set by Herald",
	// The event's place in the log (delivery.SequenceHeader and
	// ReceivedAtHeader).
	"Herald-Sequence":    "is set by Herald to the event's sequence number",
	"Herald-Received-At": "is set by Herald to the time the event was received",
}

// ValidateStaticHeaders checks an endpoint's static headers (name to value)
// before they are saved. It refuses:
//
//   - more than MaxStaticHeaders headers, or a value over MaxStaticHeaderValue
//     bytes;
//   - names that are not RFC 9110 tokens, and names that differ only in case
//     (they would be one header on the wire);
//   - values with control characters other than tab, notably CR and LF,
//     which would inject headers;
//   - framing and hop-by-hop headers (Host, Content-Length,
//     Transfer-Encoding, Connection, ...) and headers Herald sets itself
//     (Content-Type, User-Agent, and every webhook-* name: webhook-id,
//     webhook-timestamp and webhook-signature carry the Standard Webhooks
//     signature, and the prefix is reserved for Herald);
//   - Authorization when authManaged is set, meaning the endpoint also uses
//     the JWT or OAuth2 mode, which owns that header. Without another mode
//     a static Authorization (an API key, a Basic credential) is allowed.
//
// All problems are reported, joined, in name order. Messages never include
// header values, which are often secrets.
func ValidateStaticHeaders(h map[string]string, authManaged bool) error {
	if len(h) > MaxStaticHeaders {
		return fmt.Errorf("%w: %d headers, at most %d allowed", ErrInvalidStaticHeader, len(h), MaxStaticHeaders)
	}
	names := make([]string, 0, len(h))
	for name := range h {
		names = append(names, name)
	}
	slices.Sort(names) // deterministic messages

	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %q "+format, append([]any{ErrInvalidStaticHeader, name}, args...)...))
	}
	seen := make(map[string]string, len(h))
	for _, name := range names {
		value := h[name]
		if len(name) > maxStaticHeaderName {
			bad(name[:32]+"...", "name is longer than %d bytes", maxStaticHeaderName)
			continue
		}
		if !webhook.ValidHeaderName(name) {
			bad(name, "is not a valid header name")
			continue
		}
		canon := http.CanonicalHeaderKey(name)
		if other, dup := seen[canon]; dup {
			bad(name, "duplicates %q (header names are case-insensitive)", other)
			continue
		}
		seen[canon] = name
		if reason, ok := reservedHeaders[canon]; ok {
			bad(name, "cannot be set: it %s", reason)
			continue
		}
		if strings.HasPrefix(canon, "Webhook-") {
			bad(name, "cannot be set: webhook-* headers are reserved for Herald's signature")
			continue
		}
		if canon == "Authorization" && authManaged {
			bad(name, "cannot be set: the endpoint's JWT or OAuth2 authentication sets it")
			continue
		}
		if len(value) > MaxStaticHeaderValue {
			bad(name, "value is %d bytes, at most %d allowed", len(value), MaxStaticHeaderValue)
			continue
		}
		if !webhook.ValidHeaderValue(value) {
			bad(name, "value contains control characters (such as CR or LF)")
		}
	}
	return errors.Join(errs...)
}
