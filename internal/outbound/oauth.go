package outbound

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald/webhook"
)

// AuthStyle says how the client authenticates to the token endpoint.
type AuthStyle string

const (
	// AuthStyleBasic sends the client id and secret as HTTP Basic
	// credentials (RFC 6749 section 2.3.1), which every server must
	// support. It is the default.
	AuthStyleBasic AuthStyle = "basic"
	// AuthStyleBody sends client_id and client_secret as form fields, for
	// servers that do not accept Basic.
	AuthStyleBody AuthStyle = "body"
)

// ClientCredentials configures the OAuth2 client credentials grant for one
// endpoint.
type ClientCredentials struct {
	// TokenURL is the authorization server's token endpoint.
	TokenURL string
	// ClientID and ClientSecret identify Herald to the authorization server.
	ClientID     string
	ClientSecret string
	// Scopes are requested as the space-separated "scope" parameter.
	Scopes []string
	// Audience, when set, is sent as the "audience" parameter, which some
	// servers (Auth0, Okta and others) need to pick the resource.
	Audience string
	// AuthStyle is how the secret is presented; empty means AuthStyleBasic.
	AuthStyle AuthStyle
}

// String describes c without its secret, so credentials that end up in a log
// line through %v do not leak it.
func (c ClientCredentials) String() string {
	return fmt.Sprintf("ClientCredentials{TokenURL:%s ClientID:%s ClientSecret:[redacted] Scopes:%v Audience:%s AuthStyle:%s}",
		c.TokenURL, c.ClientID, c.Scopes, c.Audience, c.AuthStyle)
}

// GoString is String, for %#v.
func (c ClientCredentials) GoString() string { return c.String() }

// Validate checks c before use, so the API can refuse a bad configuration
// when the endpoint is saved rather than on every delivery.
func (c ClientCredentials) Validate() error {
	u, err := url.Parse(c.TokenURL)
	switch {
	case c.TokenURL == "":
		return errors.New("outbound: OAuth2 token URL is empty")
	case err != nil:
		// Not %w: url.Parse's error repeats the URL, user info included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("outbound: OAuth2 token URL is not a valid URL: %v", err)
	case u.Scheme != "https" && u.Scheme != "http", u.Host == "":
		return fmt.Errorf("outbound: OAuth2 token URL %q must be an absolute http(s) URL", redactURL(u))
	case u.User != nil:
		// Credentials belong in ClientID/ClientSecret, where they are
		// handled as secrets; in the URL they would show up in errors.
		return errors.New("outbound: OAuth2 token URL must not contain user info")
	case u.Fragment != "":
		return errors.New("outbound: OAuth2 token URL must not contain a fragment")
	case c.ClientID == "":
		return errors.New("outbound: OAuth2 client id is empty")
	case c.ClientSecret == "":
		return errors.New("outbound: OAuth2 client secret is empty")
	case c.AuthStyle != "" && c.AuthStyle != AuthStyleBasic && c.AuthStyle != AuthStyleBody:
		return fmt.Errorf("outbound: unknown OAuth2 auth style %q (want %q or %q)", c.AuthStyle, AuthStyleBasic, AuthStyleBody)
	case !webhook.ValidHeaderValue(c.Audience):
		return errors.New("outbound: OAuth2 audience contains control characters")
	}
	for _, s := range c.Scopes {
		if !validScope(s) {
			return fmt.Errorf("outbound: invalid OAuth2 scope %q", s)
		}
	}
	return nil
}

// validScope reports whether s is an RFC 6749 section 3.3 scope-token:
// printable ASCII except space, '"' and '\'.
func validScope(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

const (
	// tokenRefreshSkew is how long before its expiry a cached token is
	// replaced, so a token does not expire between being handed out and
	// reaching the receiver.
	tokenRefreshSkew = 30 * time.Second
	// defaultTokenLifetime is assumed when the server omits expires_in
	// (RFC 6749 only recommends it). Short on purpose: guessing too long
	// would send expired tokens until a 401 forced a refetch, while guessing
	// short only costs an extra token request every few minutes.
	defaultTokenLifetime = 5 * time.Minute
	// maxTokenLifetime caps expires_in so an absurd value neither overflows
	// time arithmetic nor pins a token in memory for days.
	maxTokenLifetime = 24 * time.Hour
	// tokenFetchTimeout bounds one token request in case the caller's
	// client has no timeout; the fetch does not follow any single caller's
	// context, since several deliveries may be waiting for it.
	tokenFetchTimeout = 30 * time.Second
	// maxTokenResponse bounds the token response read into memory. Access
	// tokens can be sizeable JWTs, but not this large.
	maxTokenResponse = 256 << 10
	// sweepInterval is how often expired cache entries are dropped, so
	// credentials of deleted endpoints do not accumulate.
	sweepInterval = time.Minute
)

// ErrInvalidTokenResponse is wrapped by errors for a 2xx token response that
// holds no usable bearer token.
var ErrInvalidTokenResponse = errors.New("outbound: invalid OAuth2 token response")

// TokenError is returned when the token endpoint answers with an error: a
// non-2xx status, or a 2xx carrying an OAuth "error" member. Code and
// Description come from the RFC 6749 section 5.2 error response when the
// body is one; they are truncated, cleaned of control characters and have
// the client secret masked, since a server may echo the request back.
type TokenError struct {
	// URL is the token endpoint without query or user info.
	URL string
	// StatusCode is the HTTP status.
	StatusCode int
	// Code is the OAuth "error" value, e.g. "invalid_client".
	Code string
	// Description is "error_description".
	Description string
}

func (e *TokenError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "outbound: token endpoint %s answered %d", e.URL, e.StatusCode)
	if e.Code != "" {
		b.WriteString(": ")
		b.WriteString(e.Code)
	}
	if e.Description != "" {
		fmt.Fprintf(&b, " (%s)", e.Description)
	}
	return b.String()
}

// TokenSource obtains and caches OAuth2 access tokens with the client
// credentials grant. It is safe for concurrent use, and one source should
// serve all deliveries so they share the cache.
//
// Tokens are cached per complete set of credentials (token URL, client id,
// secret, scopes, audience, auth style). The secret is part of the key on
// purpose: a client id is not secret, so keying without it would hand the
// token obtained for one tenant's endpoint to another tenant who configured
// the same token URL and client id with any secret, and then deliver it to
// that tenant's own URL.
type TokenSource struct {
	client *http.Client
	now    func() time.Time

	mu        sync.Mutex
	entries   map[[sha256.Size]byte]*tokenEntry
	lastSweep time.Time
}

// tokenEntry is the cache slot for one set of credentials.
type tokenEntry struct {
	token     string    // empty when there is none or it was invalidated
	refreshAt time.Time // token is handed out until then
	expiresAt time.Time // the server's expiry, for sweeping
	fetch     *tokenFetch
}

// tokenFetch is a token request in flight; waiters block on done.
type tokenFetch struct {
	done  chan struct{}
	token string
	err   error
}

// NewTokenSource returns a TokenSource that makes token requests with client
// and reads time from now (nil means time.Now).
//
// client is used as given (timeouts, transport, SSRF protection) except that
// redirects are never followed: a 307 or 308 would resend the form, client
// secret included, to wherever the token endpoint points. A redirect answer
// is reported as a TokenError. NewTokenSource panics if client is nil,
// because quietly falling back to an unfiltered client would bypass Herald's
// SSRF protection.
func NewTokenSource(client *http.Client, now func() time.Time) *TokenSource {
	if client == nil {
		panic("outbound: NewTokenSource needs an HTTP client")
	}
	if now == nil {
		now = time.Now
	}
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &TokenSource{client: &c, now: now, entries: map[[sha256.Size]byte]*tokenEntry{}}
}

// cacheKey hashes every field that affects the token, each length-prefixed so
// no two different configurations collide. Scopes are sorted: the same set in
// another order yields the same token.
func (c ClientCredentials) cacheKey() [sha256.Size]byte {
	h := sha256.New()
	field := func(s string) {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(s))))
		h.Write([]byte(s))
	}
	style := c.AuthStyle
	if style == "" {
		style = AuthStyleBasic
	}
	field(c.TokenURL)
	field(c.ClientID)
	field(c.ClientSecret)
	field(c.Audience)
	field(string(style))
	scopes := slices.Clone(c.Scopes)
	slices.Sort(scopes)
	for _, s := range slices.Compact(scopes) {
		field(s)
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// Token returns an access token for c: the cached one until 30 seconds
// before it expires (half way through its life if it lives under a minute),
// otherwise a new one from the token endpoint. Concurrent
// calls for the same credentials share one request. The request runs on its
// own (bounded by a 30 s timeout), so a caller whose ctx ends stops waiting
// without failing the others.
//
// The result is the bare token; send it as "Authorization: Bearer " + token.
func (ts *TokenSource) Token(ctx context.Context, c ClientCredentials) (string, error) {
	if err := c.Validate(); err != nil {
		return "", err
	}
	key := c.cacheKey()
	now := ts.now()

	ts.mu.Lock()
	e := ts.entries[key]
	if e == nil {
		e = &tokenEntry{}
		ts.entries[key] = e
	}
	if e.token != "" && now.Before(e.refreshAt) {
		tok := e.token
		ts.mu.Unlock()
		return tok, nil
	}
	f := e.fetch
	if f == nil {
		f = &tokenFetch{done: make(chan struct{})}
		e.fetch = f
		ts.sweepLocked(now)
		go ts.run(context.WithoutCancel(ctx), e, f, c)
	}
	ts.mu.Unlock()

	select {
	case <-f.done:
		return f.token, f.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// run performs one fetch and publishes its result to the entry and to the
// waiters.
func (ts *TokenSource) run(ctx context.Context, e *tokenEntry, f *tokenFetch, c ClientCredentials) {
	ctx, cancel := context.WithTimeout(ctx, tokenFetchTimeout)
	defer cancel()
	// Measure the lifetime from before the request, so time spent waiting
	// for the response counts against it rather than extending it.
	start := ts.now()
	tok, lifetime, err := ts.fetch(ctx, c)

	ts.mu.Lock()
	if err == nil {
		e.token = tok
		e.expiresAt = start.Add(lifetime)
		if lifetime > 2*tokenRefreshSkew {
			e.refreshAt = e.expiresAt.Add(-tokenRefreshSkew)
		} else {
			// Too short for the skew: use half the lifetime instead of
			// refetching on every call.
			e.refreshAt = start.Add(lifetime / 2)
		}
	}
	e.fetch = nil
	ts.mu.Unlock()

	f.token, f.err = tok, err
	close(f.done) // publishes f.token and f.err to the waiters
}

// sweepLocked drops entries whose token has expired and that have no fetch in
// flight, at most once per sweepInterval. The caller holds ts.mu.
func (ts *TokenSource) sweepLocked(now time.Time) {
	if now.Sub(ts.lastSweep) < sweepInterval {
		return
	}
	ts.lastSweep = now
	for k, e := range ts.entries {
		if e.fetch == nil && (e.token == "" || !now.Before(e.expiresAt)) {
			delete(ts.entries, k)
		}
	}
}

// Invalidate drops the cached token for c if it is still token, so the next
// Token call fetches a new one. Call it when the endpoint answered 401 to a
// request carrying token. The comparison matters when many deliveries fail
// with the same stale token: only the first Invalidate discards it, and a
// token fetched since is kept.
func (ts *TokenSource) Invalidate(c ClientCredentials, token string) {
	if token == "" {
		return
	}
	key := c.cacheKey()
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if e := ts.entries[key]; e != nil && e.token == token {
		e.token = ""
		e.refreshAt = time.Time{}
	}
}

// tokenResponse is the RFC 6749 section 5.1 success response, plus the
// section 5.2 error members.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	// ExpiresIn is raw because servers send it as a number or, against the
	// RFC, as a numeric string.
	ExpiresIn        json.RawMessage `json:"expires_in"`
	Error            string          `json:"error"`
	ErrorDescription string          `json:"error_description"`
}

// fetch makes one token request and returns the token and its lifetime.
func (ts *TokenSource) fetch(ctx context.Context, c ClientCredentials) (string, time.Duration, error) {
	u, err := url.Parse(c.TokenURL)
	if err != nil { // Validate already parsed it; this is a guard
		return "", 0, fmt.Errorf("outbound: OAuth2 token URL: %w", err)
	}
	where := redactURL(u)

	form := url.Values{"grant_type": {"client_credentials"}}
	if len(c.Scopes) > 0 {
		form.Set("scope", strings.Join(c.Scopes, " "))
	}
	if c.Audience != "" {
		form.Set("audience", c.Audience)
	}
	if c.AuthStyle == AuthStyleBody {
		form.Set("client_id", c.ClientID)
		form.Set("client_secret", c.ClientSecret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, fmt.Errorf("outbound: token request to %s: %w", where, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if c.AuthStyle != AuthStyleBody {
		// RFC 6749 section 2.3.1: both parts are form-urlencoded before
		// Basic encoding, so a ':' in the id cannot split it.
		req.SetBasicAuth(url.QueryEscape(c.ClientID), url.QueryEscape(c.ClientSecret))
	}

	resp, err := ts.client.Do(req)
	if err != nil {
		// The *url.Error would repeat the full URL; ours is redacted.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", 0, fmt.Errorf("outbound: token request to %s: %w", where, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse+1))
	if err != nil {
		return "", 0, fmt.Errorf("outbound: read token response from %s: %w", where, err)
	}
	if len(body) > maxTokenResponse {
		return "", 0, fmt.Errorf("%w: response from %s exceeds %d bytes", ErrInvalidTokenResponse, where, maxTokenResponse)
	}

	var tr tokenResponse
	jsonErr := json.Unmarshal(body, &tr)
	if resp.StatusCode < 200 || resp.StatusCode > 299 || (jsonErr == nil && tr.Error != "" && tr.AccessToken == "") {
		te := &TokenError{URL: where, StatusCode: resp.StatusCode}
		if jsonErr == nil {
			// Never the raw body: it is not ours to echo and may hold
			// anything, the secret included.
			te.Code = sanitize(tr.Error, 100, c)
			te.Description = sanitize(tr.ErrorDescription, 300, c)
		}
		return "", 0, te
	}
	if jsonErr != nil {
		return "", 0, fmt.Errorf("%w: response from %s is not a JSON object", ErrInvalidTokenResponse, where)
	}
	if tr.AccessToken == "" {
		return "", 0, fmt.Errorf("%w: response from %s has no access_token", ErrInvalidTokenResponse, where)
	}
	if !validBearerToken(tr.AccessToken) {
		// It goes into a request header; a CR or LF would split it.
		return "", 0, fmt.Errorf("%w: access_token from %s has characters not allowed in a header", ErrInvalidTokenResponse, where)
	}
	if !strings.EqualFold(tr.TokenType, "Bearer") {
		return "", 0, fmt.Errorf("%w: token_type %q from %s is not Bearer", ErrInvalidTokenResponse, sanitize(tr.TokenType, 50, c), where)
	}
	return tr.AccessToken, tokenLifetime(tr.ExpiresIn), nil
}

// tokenLifetime interprets expires_in (seconds). Missing, unparsable, zero or
// negative values give defaultTokenLifetime; large ones are capped.
func tokenLifetime(raw json.RawMessage) time.Duration {
	s := strings.Trim(strings.TrimSpace(string(raw)), `"`)
	secs, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(secs) || secs <= 0 {
		return defaultTokenLifetime
	}
	if secs >= maxTokenLifetime.Seconds() {
		return maxTokenLifetime
	}
	return time.Duration(secs * float64(time.Second))
}

// validBearerToken allows visible ASCII only. That is wider than RFC 6750's
// b64token, which some servers' opaque tokens exceed, but still excludes
// anything that could break the Authorization header.
func validBearerToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// sanitize makes server-supplied text fit for an error message: the client
// secret (raw, form-encoded, or inside the Basic credential) is masked,
// control characters become spaces, and the result is cut to limit bytes.
func sanitize(s string, limit int, c ClientCredentials) string {
	if c.ClientSecret != "" {
		id, secret := url.QueryEscape(c.ClientID), url.QueryEscape(c.ClientSecret)
		basic := base64.StdEncoding.EncodeToString([]byte(id + ":" + secret))
		for _, form := range []string{c.ClientSecret, secret, basic} {
			s = strings.ReplaceAll(s, form, "[redacted]")
		}
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	if len(s) > limit {
		// Cut on a rune boundary so the message stays valid UTF-8.
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}

// redactURL renders u without user info, query or fragment, which may hold
// credentials.
func redactURL(u *url.URL) string {
	v := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return v.String()
}
