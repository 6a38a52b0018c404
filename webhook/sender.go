package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults applied by [NewSender] and [Sender.Send] to zero-valued settings.
const (
	// DefaultTimeout bounds a whole attempt; the Standard Webhooks spec
	// suggests 15-30 s, and Svix's cloud uses 15 s.
	DefaultTimeout = 15 * time.Second
	// DefaultMaxResponseBody is how much of a response is kept: enough to
	// show a receiver's error message, small enough to store per attempt.
	DefaultMaxResponseBody = 4096
	// DefaultUserAgent identifies Herald to receivers.
	DefaultUserAgent = "Herald-Webhooks/1.0"
	// DefaultMaxIdleConnsPerHost keeps enough warm connections for a busy
	// receiver without hoarding sockets for quiet ones.
	DefaultMaxIdleConnsPerHost = 64
	// DefaultContentType is the CloudEvents structured-mode media type.
	DefaultContentType = "application/cloudevents+json; charset=utf-8"
)

// drainLimit is how much of an unread response body is read and discarded so
// the keep-alive connection can be reused. Past it, a fresh connection is
// cheaper than reading on.
const drainLimit = 64 << 10

// ErrInvalidMessage is returned (wrapped) in [Result.Err] when a [Message]
// cannot be sent as given (no id, no usable URL). Retrying will not help.
var ErrInvalidMessage = errors.New("invalid webhook message")

// SenderConfig configures a [Sender]. Zero values take the defaults.
type SenderConfig struct {
	// Policy decides which addresses may be dialled.
	Policy TargetPolicy
	// Timeout bounds a whole attempt: dial, TLS, request, response headers
	// and reading the kept part of the body. Default 15 s.
	Timeout time.Duration
	// MaxResponseBody is how many response body bytes are kept for the
	// attempt record; the rest is discarded. Default 4096.
	MaxResponseBody int
	// UserAgent is sent on every request. Default "Herald-Webhooks/1.0".
	UserAgent string
	// MaxIdleConnsPerHost is how many keep-alive connections are kept per
	// receiver host. Default 64.
	MaxIdleConnsPerHost int
	// RootCAs verifies receivers' server certificates (nil: the system
	// roots). Tests trust a test CA through it; operators with private CAs
	// pass the system roots plus theirs.
	RootCAs *x509.CertPool
	// MaxClientCerts bounds how many distinct client certificates (mutual
	// TLS endpoints) keep a transport of their own; the least recently used
	// is closed beyond it. Default 256.
	MaxClientCerts int
}

// WithDefaults returns c with every zero or negative setting replaced by its
// default.
func (c SenderConfig) WithDefaults() SenderConfig {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxResponseBody <= 0 {
		c.MaxResponseBody = DefaultMaxResponseBody
	}
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent
	}
	if c.MaxIdleConnsPerHost <= 0 {
		c.MaxIdleConnsPerHost = DefaultMaxIdleConnsPerHost
	}
	if c.MaxClientCerts <= 0 {
		c.MaxClientCerts = DefaultMaxClientCerts
	}
	return c
}

// Message is one webhook to deliver to one endpoint.
type Message struct {
	// URL is the endpoint URL.
	URL string
	// ID is sent as webhook-id. Keep it stable across retries of the same
	// event to the same endpoint: receivers deduplicate on it.
	ID string
	// Timestamp is sent as webhook-timestamp and signed. Use the time of the
	// attempt, not of the event: receivers reject signatures more than five
	// minutes old, which a retry hours later would be. Zero means now.
	Timestamp time.Time
	// Body is sent as is and signed byte for byte.
	Body []byte
	// ContentType defaults to "application/cloudevents+json; charset=utf-8".
	ContentType string
	// OmitContentType sends no Content-Type at all (a binary-mode
	// CloudEvent without data).
	OmitContentType bool
	// Secrets are the endpoint's signing secrets; each adds one entry to
	// webhook-signature: "v1,<sig>" for an HMAC secret ("whsec_..."),
	// "v1a,<sig>" for an ed25519 signing key ("whsk_..."). At least one is
	// required; list several to rotate without downtime.
	Secrets []string
	// ClientCert, when set, is presented in the TLS handshake (mutual TLS).
	// Messages with the same certificate share keep-alive connections;
	// other messages never use those connections.
	ClientCert *ClientCertificate
	// Header holds extra request headers. Headers the Sender sets itself
	// (webhook-*, Content-Type, User-Agent) win over these, and framing or
	// hop-by-hop headers (Host, Content-Length, Connection, ...) are dropped.
	Header http.Header
}

// Result describes one attempt.
type Result struct {
	// StatusCode is the response status, or 0 when no response arrived.
	StatusCode int
	// Latency is the time from sending the request to having read the kept
	// part of the response (or to the failure).
	Latency time.Duration
	// ResponseBody holds at most MaxResponseBody bytes of the response.
	ResponseBody []byte
	// Err explains why no response arrived, as a readable message; nil when
	// a response (of any status) arrived. It wraps ErrForbiddenTarget,
	// ErrInvalidMessage, ErrInvalidSecret or context errors where they apply.
	Err error
	// Timeout is set when the attempt ran out of time.
	Timeout bool
	// Blocked is set when the target policy refused the address (SSRF
	// protection) at dial time, or refused plain http under RequireHTTPS.
	Blocked bool
	// RetryAfter is the receiver's Retry-After (delta-seconds or HTTP-date)
	// on a non-2xx response; only meaningful when HasRetryAfter is set.
	RetryAfter time.Duration
	// HasRetryAfter reports a valid Retry-After on a non-2xx response.
	HasRetryAfter bool
	// Control is the receiver's webhook-delivery header, lower-cased:
	// ControlDisable or ControlAbortMessage, or "" (any other value is
	// ignored).
	Control string
}

// Values of the webhook-delivery response header, with which a receiver
// steers its deliveries: stop sending to this endpoint altogether, or stop
// retrying this one message.
const (
	ControlDisable      = "disable"
	ControlAbortMessage = "abort-message"
)

// Success reports a 2xx response. Anything else, including a 3xx (redirects
// are not followed), is a failed attempt.
func (r Result) Success() bool { return r.StatusCode >= 200 && r.StatusCode <= 299 }

// Gone reports a 410 response: the receiver asks for the endpoint to be
// disabled, per the Standard Webhooks spec.
func (r Result) Gone() bool { return r.StatusCode == http.StatusGone }

// Sender performs webhook attempts. It holds one keep-alive connection pool
// and is safe for concurrent use; create one per process and share it.
type Sender struct {
	policy    TargetPolicy
	timeout   time.Duration
	maxBody   int
	userAgent []string // shared, never mutated: saves an allocation per request
	transport *http.Transport
	client    *http.Client
	certs     *certClients // one client per mutual-TLS certificate
	bufs      sync.Pool    // *[]byte of len maxBody, for reading response bodies
}

// defaultContentType is shared by every request that takes the default.
var defaultContentType = []string{DefaultContentType}

// NewSender returns a Sender using cfg, with defaults filled in.
func NewSender(cfg SenderConfig) *Sender {
	cfg = cfg.WithDefaults()
	policy := cfg.Policy
	// The dialer keeps the policy for the Sender's lifetime; a private copy
	// of the allowlist keeps later changes by the caller from racing with it.
	policy.Allow = slices.Clone(policy.Allow)

	dialer := &net.Dialer{
		Timeout:   cfg.Timeout,
		KeepAlive: 30 * time.Second,
		// Runs on the resolved address of every connection: the SSRF check.
		Control: policy.Control,
	}
	transport := &http.Transport{
		// A proxy would make the dialer see (and check) the proxy's address
		// instead of the target's.
		Proxy:       nil,
		DialContext: dialer.DialContext,
		// A custom DialContext turns HTTP/2 off unless forced back on.
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        0, // no global cap; the per-host cap bounds it
		MaxIdleConnsPerHost: cfg.MaxIdleConnsPerHost,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
		TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: cfg.RootCAs},
		// Receivers' bodies are only stored, truncated: asking for gzip
		// would spend CPU inflating them.
		DisableCompression:     true,
		MaxResponseHeaderBytes: 64 << 10,
	}
	// A redirect could point anywhere, and a 3xx is a failed attempt per
	// the Standard Webhooks spec: report it as is.
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	s := &Sender{
		policy:    policy,
		timeout:   cfg.Timeout,
		maxBody:   cfg.MaxResponseBody,
		userAgent: []string{cfg.UserAgent},
		transport: transport,
		client:    &http.Client{Transport: transport, CheckRedirect: noRedirect},
	}
	s.certs = newCertClients(cfg.MaxClientCerts, func(pair tls.Certificate) *http.Transport {
		// Same dialer (SSRF check), timeouts and limits as the shared
		// transport; only the certificate differs.
		t := transport.Clone()
		t.TLSClientConfig = transport.TLSClientConfig.Clone()
		// Present the certificate whatever CAs the server names in its
		// request: the receiver decides, and a refusal reads better from
		// its side than a silently missing certificate.
		t.TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &pair, nil
		}
		return t
	}, noRedirect)
	s.bufs.New = func() any {
		b := make([]byte, s.maxBody)
		return &b
	}
	return s
}

// Close closes idle keep-alive connections. The Sender stays usable.
func (s *Sender) Close() {
	s.transport.CloseIdleConnections()
	s.certs.closeIdle()
}

// HTTPClient returns the Sender's client: the SSRF-checked dialer, no
// proxies, no redirects. Other outbound calls made for an endpoint (an
// OAuth2 token request) must go through it too.
func (s *Sender) HTTPClient() *http.Client { return s.client }

// Send signs m and POSTs it once, within the configured timeout (or ctx's
// deadline, if earlier). It never follows redirects and never retries beyond
// Go's transparent replay of a request that failed on a stale keep-alive
// connection before any response byte arrived.
func (s *Sender) Send(ctx context.Context, m Message) Result {
	if err := checkHeaders(m); err != nil {
		return Result{Err: err}
	}
	ts := m.Timestamp
	if ts.IsZero() {
		ts = time.Now()
	}
	sig, err := signatureHeader(m.Secrets, m.ID, ts, m.Body)
	if err != nil {
		return Result{Err: fmt.Errorf("sign webhook %s: %w", m.ID, err)}
	}

	// Latency counts from when the timeout starts, so a timed-out attempt
	// reports at least the timeout.
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.URL, bytes.NewReader(m.Body))
	if err != nil {
		return Result{Err: fmt.Errorf("%w: %w: %v", ErrInvalidMessage, ErrInvalidURL, unwrapURLError(err))}
	}
	switch req.URL.Scheme {
	case "https":
	case "http":
		if s.policy.RequireHTTPS {
			return Result{Blocked: true, Err: fmt.Errorf("%w: https is required", ErrForbiddenTarget)}
		}
	default:
		return Result{Err: fmt.Errorf("%w: %w: scheme %q is not http or https", ErrInvalidMessage, ErrInvalidURL, req.URL.Scheme)}
	}
	req.Header = s.header(m, ts, sig)
	client, err := s.clientFor(m.ClientCert)
	if err != nil {
		return Result{Err: err}
	}

	resp, err := client.Do(req)
	if err != nil {
		return s.failure(err, time.Since(start))
	}
	res := Result{StatusCode: resp.StatusCode}
	res.ResponseBody = s.readBody(resp.Body)
	if !res.Success() {
		res.RetryAfter, res.HasRetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	switch c := strings.ToLower(strings.TrimSpace(resp.Header.Get("webhook-delivery"))); c {
	case ControlDisable, ControlAbortMessage:
		res.Control = c
	}
	res.Latency = time.Since(start)
	return res
}

// droppedHeaders are framing and hop-by-hop headers that extra headers must
// not set: the transport owns them, and a wrong one corrupts the request.
var droppedHeaders = map[string]bool{
	"Host": true, "Content-Length": true, "Transfer-Encoding": true, "Connection": true,
	"Keep-Alive": true, "Proxy-Connection": true, "Te": true, "Trailer": true, "Upgrade": true,
}

// checkHeaders rejects a message whose id or extra headers cannot go on the
// wire, with ErrInvalidMessage so the caller knows a retry cannot help (the
// transport's own error for this is an unwrapped string).
func checkHeaders(m Message) error {
	if m.ID == "" {
		return fmt.Errorf("%w: empty webhook id", ErrInvalidMessage)
	}
	if !ValidHeaderValue(m.ID) {
		return fmt.Errorf("%w: webhook id %q contains control characters", ErrInvalidMessage, m.ID)
	}
	if !ValidHeaderValue(m.ContentType) {
		return fmt.Errorf("%w: content type %q contains control characters", ErrInvalidMessage, m.ContentType)
	}
	for k, vs := range m.Header {
		if !ValidHeaderName(k) {
			return fmt.Errorf("%w: header name %q is not an HTTP token", ErrInvalidMessage, k)
		}
		for _, v := range vs {
			if !ValidHeaderValue(v) {
				return fmt.Errorf("%w: header %s contains control characters", ErrInvalidMessage, k)
			}
		}
	}
	return nil
}

// header builds the request headers. Keys are written pre-canonicalized so
// no per-request canonicalization is needed.
func (s *Sender) header(m Message, ts time.Time, sig string) http.Header {
	h := make(http.Header, len(m.Header)+7)
	for k, v := range m.Header {
		ck := http.CanonicalHeaderKey(k)
		if !droppedHeaders[ck] {
			h[ck] = v
		}
	}
	h["Webhook-Id"] = []string{m.ID}
	h["Webhook-Timestamp"] = []string{strconv.FormatInt(ts.Unix(), 10)}
	h["Webhook-Signature"] = []string{sig}
	switch {
	case m.OmitContentType:
		delete(h, "Content-Type")
	case m.ContentType != "":
		h["Content-Type"] = []string{m.ContentType}
	default:
		h["Content-Type"] = defaultContentType
	}
	h["User-Agent"] = s.userAgent
	if _, ok := h["Idempotency-Key"]; !ok {
		// An empty Idempotency-Key marks the POST replayable without being
		// sent: if a keep-alive connection turns out to be closed by the
		// receiver before any response byte, Go resends instead of failing
		// the attempt. Deliveries are at-least-once and deduplicated by
		// webhook-id, so a replay is always acceptable.
		h["Idempotency-Key"] = nil
	}
	return h
}

// readBody keeps the first maxBody bytes of body, then drains a bounded
// amount more and closes it, so the connection goes back to the pool.
func (s *Sender) readBody(body io.ReadCloser) []byte {
	defer body.Close()
	bp := s.bufs.Get().(*[]byte)
	// A read error (reset, timeout) after the status arrived leaves the
	// status as the outcome; the partial body is still worth keeping.
	n, _ := io.ReadFull(body, *bp)
	var kept []byte
	if n > 0 {
		kept = bytes.Clone((*bp)[:n])
	}
	s.bufs.Put(bp)
	if n == s.maxBody {
		_, _ = io.CopyN(io.Discard, body, drainLimit)
	}
	return kept
}

// failure turns a client error into a Result whose Err reads well in an
// attempt log.
func (s *Sender) failure(err error, elapsed time.Duration) Result {
	// Drop url.Error's `Post "<url>":` prefix: the URL is recorded elsewhere
	// and may carry tokens in its query.
	err = unwrapURLError(err)
	res := Result{Latency: elapsed}
	var ne net.Error
	switch {
	case errors.Is(err, ErrForbiddenTarget):
		res.Blocked = true
		res.Err = err
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		res.Timeout = true
		res.Err = fmt.Errorf("timed out after %v: %w", elapsed.Round(time.Millisecond), err)
	case errors.Is(err, context.Canceled):
		res.Err = fmt.Errorf("attempt canceled: %w", err)
	default:
		res.Err = err
	}
	return res
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
