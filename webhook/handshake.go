package webhook

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Header names of the CloudEvents webhook abuse-protection handshake ("HTTP
// 1.1 Web Hooks for Event Delivery" §4), spelled as in the spec. HTTP header
// names are case-insensitive; the spec spelling is sent so that receivers
// that compare names literally still match.
const (
	HeaderRequestOrigin   = "WebHook-Request-Origin"
	HeaderRequestRate     = "WebHook-Request-Rate"
	HeaderRequestCallback = "WebHook-Request-Callback"
	HeaderAllowedOrigin   = "WebHook-Allowed-Origin"
	HeaderAllowedRate     = "WebHook-Allowed-Rate"
)

// HandshakeRequest asks a delivery target for permission to send it events.
type HandshakeRequest struct {
	// URL is the exact endpoint URL that will receive the events.
	URL string
	// Origin names the sending system (a DNS name such as
	// "events.herald.example"), sent as WebHook-Request-Origin. Deliveries
	// after the handshake must carry the same value.
	Origin string
	// RequestRate is the rate asked for, in requests per minute, sent as
	// WebHook-Request-Rate; 0 omits the header.
	RequestRate int
	// CallbackURL is a one-time URL the target may GET or POST later to grant
	// permission asynchronously, sent as WebHook-Request-Callback; "" omits
	// the header. It should be hard to guess: whoever calls it grants.
	CallbackURL string
	// ClientCert, when set, is presented in the TLS handshake, as with
	// [Message.ClientCert]: a receiver requiring mutual TLS must see it
	// before it can consent.
	ClientCert *ClientCertificate
}

// HandshakeResult is the target's answer.
type HandshakeResult struct {
	// Granted is set only when a 2xx response carried WebHook-Allowed-Origin
	// equal to the request's origin (compared case-insensitively, as DNS
	// names are) or "*", and any WebHook-Allowed-Rate was well formed.
	Granted bool
	// AllowedRate is the granted rate in requests per minute: -1 for "*"
	// (no limit), 0 when the target gave none. The spec requires a rate in
	// the answer when one was requested; a target that grants without one
	// is still taken at its word, and the sender should keep to the rate
	// it asked for.
	AllowedRate int
	// StatusCode is the response status.
	StatusCode int
	// Pending is set when there is no consent now but a callback URL was
	// offered: the target may still grant by calling it (the spec lets an
	// administrator find it in the target's logs), so wait for that before
	// giving up.
	Pending bool
	// Reason explains, for people, why consent was not granted; "" when it
	// was.
	Reason string
}

// Handshake performs the CloudEvents webhook validation handshake: it sends
// OPTIONS to r.URL with WebHook-Request-Origin (and WebHook-Request-Rate and
// WebHook-Request-Callback when set) and reads the target's consent from the
// response headers. Status codes alone are never consent: a server that
// answers every OPTIONS with 200 has not agreed to receive events.
//
// It uses the Sender's SSRF-safe transport, timeout and no-redirect rule, like
// [Sender.Send]. The error is nil whenever a response arrived, whatever it
// said; otherwise it explains why none did and wraps [ErrForbiddenTarget]
// (target refused by the policy), [ErrInvalidMessage] (unusable request) or
// a context error (timeout, cancellation).
func (s *Sender) Handshake(ctx context.Context, r HandshakeRequest) (HandshakeResult, error) {
	if err := checkHandshake(r); err != nil {
		return HandshakeResult{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodOptions, r.URL, nil)
	if err != nil {
		return HandshakeResult{}, fmt.Errorf("%w: %w: %v", ErrInvalidMessage, ErrInvalidURL, unwrapURLError(err))
	}
	switch req.URL.Scheme {
	case "https":
	case "http":
		if s.policy.RequireHTTPS {
			return HandshakeResult{}, fmt.Errorf("%w: https is required", ErrForbiddenTarget)
		}
	default:
		return HandshakeResult{}, fmt.Errorf("%w: %w: scheme %q is not http or https", ErrInvalidMessage, ErrInvalidURL, req.URL.Scheme)
	}
	// Keys are set directly, not through Header.Set, so they go out in the
	// spec's spelling rather than Go's canonical "Webhook-Request-Origin".
	req.Header = http.Header{
		HeaderRequestOrigin: {r.Origin},
		"User-Agent":        s.userAgent,
	}
	if r.RequestRate > 0 {
		req.Header[HeaderRequestRate] = []string{strconv.Itoa(r.RequestRate)}
	}
	if r.CallbackURL != "" {
		req.Header[HeaderRequestCallback] = []string{r.CallbackURL}
	}

	client, err := s.clientFor(r.ClientCert)
	if err != nil {
		return HandshakeResult{}, err
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return HandshakeResult{}, s.failure(err, time.Since(start)).Err
	}
	// Only headers matter; drain a bounded amount so the connection can be
	// reused for the deliveries that may follow.
	_, _ = io.CopyN(io.Discard, resp.Body, drainLimit)
	_ = resp.Body.Close()

	res := HandshakeResult{StatusCode: resp.StatusCode}
	res.Granted, res.AllowedRate, res.Reason = judgeConsent(r.Origin, resp.StatusCode, resp.Header)
	res.Pending = !res.Granted && r.CallbackURL != ""
	return res, nil
}

// checkHandshake rejects requests that cannot go on the wire or that the
// spec does not allow, before anything is sent.
func checkHandshake(r HandshakeRequest) error {
	if r.Origin == "" {
		return fmt.Errorf("%w: handshake origin is empty", ErrInvalidMessage)
	}
	// The spec asks for "a DNS expression that identifies the sending
	// system"; anything else (a URL, a host:port) would never match what a
	// target echoes back.
	if !ValidHeaderValue(r.Origin) || checkHostname(strings.ToLower(strings.TrimSuffix(r.Origin, "."))) != nil {
		return fmt.Errorf("%w: handshake origin %q is not a DNS name", ErrInvalidMessage, r.Origin)
	}
	if r.RequestRate < 0 {
		return fmt.Errorf("%w: handshake request rate %d is negative", ErrInvalidMessage, r.RequestRate)
	}
	if r.CallbackURL != "" {
		if !ValidHeaderValue(r.CallbackURL) {
			return fmt.Errorf("%w: handshake callback URL contains control characters", ErrInvalidMessage)
		}
		u, err := url.Parse(r.CallbackURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			// The URL itself is a credential: keep it out of the error.
			return fmt.Errorf("%w: handshake callback is not an absolute http(s) URL", ErrInvalidMessage)
		}
	}
	return nil
}

// judgeConsent reads the consent headers of a handshake response.
func judgeConsent(origin string, status int, h http.Header) (granted bool, rate int, reason string) {
	values := h.Values(HeaderAllowedOrigin)
	if len(values) == 0 {
		reason = "no " + HeaderAllowedOrigin + " header"
		if status == http.StatusMethodNotAllowed {
			reason += " (status 405: the target does not handle OPTIONS)"
		} else if status < 200 || status > 299 {
			reason += fmt.Sprintf(" (status %d)", status)
		}
		return false, 0, reason
	}
	items := headerItems(values)
	if len(items) == 0 {
		return false, 0, "empty " + HeaderAllowedOrigin + " header"
	}
	if !originAllowed(origin, items) {
		return false, 0, fmt.Sprintf("origin mismatch: got %q want %q", strings.Join(items, ", "), origin)
	}
	// Consent headers on an error response contradict themselves (a proxy
	// error page, a handler that failed half-way); refusing costs a retry
	// of the handshake, wrongly accepting would send unwanted traffic.
	if status < 200 || status > 299 {
		return false, 0, fmt.Sprintf("status %d: %s on a non-2xx response is not taken as consent", status, HeaderAllowedOrigin)
	}
	rate, err := parseAllowedRate(h.Values(HeaderAllowedRate))
	if err != nil {
		return false, 0, err.Error()
	}
	return true, rate, ""
}

// headerItems splits header values into trimmed, non-empty comma-separated
// items. The spec defines a single value, but a target that lists several
// origins (or repeats the header) has still named ours if it is among them.
func headerItems(values []string) []string {
	var items []string
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			if item = strings.Trim(item, " \t"); item != "" {
				items = append(items, item)
			}
		}
	}
	return items
}

func originAllowed(origin string, items []string) bool {
	want := strings.TrimSuffix(origin, ".")
	for _, item := range items {
		if item == "*" || strings.EqualFold(strings.TrimSuffix(item, "."), want) {
			return true
		}
	}
	return false
}

// parseAllowedRate reads WebHook-Allowed-Rate: "*" is -1, a positive integer
// is itself (clamped to MaxInt32: any such rate is unlimited in practice),
// absence is 0. Anything else is an error, because a rate the sender cannot
// read is a limit it cannot keep.
func parseAllowedRate(values []string) (int, error) {
	items := headerItems(values)
	if len(values) > 0 && len(items) == 0 {
		return 0, fmt.Errorf("malformed %s: empty; want a positive integer or *", HeaderAllowedRate)
	}
	if len(items) == 0 {
		return 0, nil
	}
	for _, item := range items[1:] {
		if item != items[0] {
			return 0, fmt.Errorf("malformed %s %q: conflicting values", HeaderAllowedRate, strings.Join(items, ", "))
		}
	}
	v := items[0]
	if v == "*" {
		return -1, nil
	}
	if strings.Trim(v, "0123456789") != "" {
		return 0, fmt.Errorf("malformed %s %q: want a positive integer or *", HeaderAllowedRate, v)
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		// All digits, so the only failure is overflow.
		n = math.MaxInt32
	}
	if n == 0 {
		return 0, fmt.Errorf("malformed %s %q: want a positive integer or *", HeaderAllowedRate, v)
	}
	return int(n), nil
}
