package webhook

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Request is a webhook request as Send makes it, for people to read: the
// delivery page's "request" view. Signatures are not computed; each entry
// of webhook-signature shows its scheme and a placeholder, because a real
// signature over a fresh timestamp is a request anyone who sees it could
// replay to the receiver.
type Request struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
}

// SignaturePlaceholder stands for the signature value in a described
// request: Send computes it per attempt from the endpoint's secrets.
const SignaturePlaceholder = "<signature>"

// Describe returns the request Send would make for m, with the same
// headers (the same builder makes them) and the same body, but without
// signing or sending it. A message Send would refuse as invalid is refused
// with the same error.
func (s *Sender) Describe(m Message) (Request, error) {
	if err := checkHeaders(m); err != nil {
		return Request{}, err
	}
	if len(m.Secrets) == 0 {
		return Request{}, fmt.Errorf("%w: message has no signing secret", ErrInvalidSecret)
	}
	u, err := url.Parse(m.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return Request{}, fmt.Errorf("%w: %w: %q", ErrInvalidMessage, ErrInvalidURL, m.URL)
	}
	ts := m.Timestamp
	if ts.IsZero() {
		ts = time.Now()
	}
	entries := make([]string, len(m.Secrets))
	for i, sec := range m.Secrets {
		scheme := "v1"
		if strings.HasPrefix(sec, SigningKeyPrefix) {
			scheme = "v1a"
		}
		entries[i] = scheme + "," + SignaturePlaceholder
	}
	h := s.header(m, ts, strings.Join(entries, " "))
	// The nil Idempotency-Key only marks the request replayable inside the
	// transport; it never goes on the wire.
	if v, ok := h["Idempotency-Key"]; ok && v == nil {
		delete(h, "Idempotency-Key")
	}
	return Request{Method: http.MethodPost, URL: m.URL, Header: h, Body: m.Body}, nil
}
