package outbound

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// testSecret has characters that Basic encoding and form encoding treat
// specially, so both paths are exercised.
const testSecret = "s3cr:t/+&=%é"

// tokenRequest is what the test token server saw.
type tokenRequest struct {
	method, contentType, accept string
	form                        url.Values
	basicUser, basicPass        string
	hasBasic                    bool
}

// tokenServer is a loopback OAuth2 token endpoint. respond writes the reply
// to the n-th request (from 1); nil means a Bearer token "tok-<n>" valid for
// an hour.
type tokenServer struct {
	*httptest.Server
	mu       sync.Mutex
	requests []tokenRequest
}

func newTokenServer(t *testing.T, respond func(w http.ResponseWriter, r *http.Request, n int)) *tokenServer {
	t.Helper()
	ts := &tokenServer{}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Errorf("token server: parse form: %v", err)
		}
		req := tokenRequest{
			method:      r.Method,
			contentType: r.Header.Get("Content-Type"),
			accept:      r.Header.Get("Accept"),
			form:        r.PostForm,
		}
		req.basicUser, req.basicPass, req.hasBasic = r.BasicAuth()
		ts.mu.Lock()
		ts.requests = append(ts.requests, req)
		n := len(ts.requests)
		ts.mu.Unlock()
		if respond != nil {
			respond(w, r, n)
			return
		}
		writeToken(w, fmt.Sprintf("tok-%d", n), 3600)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *tokenServer) count() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return len(ts.requests)
}

func (ts *tokenServer) request(i int) tokenRequest {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.requests[i]
}

func writeToken(w http.ResponseWriter, token string, expiresIn int) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":%d}`, token, expiresIn)
}

func (ts *tokenServer) creds() ClientCredentials {
	return ClientCredentials{TokenURL: ts.URL + "/oauth2/token", ClientID: "herald-client", ClientSecret: testSecret}
}

func TestTokenSourceRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		style     AuthStyle
		scopes    []string
		audience  string
		wantBasic bool
	}{
		{"default is basic", "", nil, "", true},
		{"basic with scopes", AuthStyleBasic, []string{"webhooks.write", "events:read"}, "", true},
		{"body with audience", AuthStyleBody, []string{"webhooks.write"}, "https://api.banenor.example", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newTokenServer(t, nil)
			c := srv.creds()
			c.AuthStyle, c.Scopes, c.Audience = tt.style, tt.scopes, tt.audience
			tok, err := NewTokenSource(srv.Client(), nil).Token(context.Background(), c)
			if err != nil {
				t.Fatalf("Token: %v", err)
			}
			if tok != "tok-1" {
				t.Errorf("token = %q, want tok-1", tok)
			}
			req := srv.request(0)
			if req.method != http.MethodPost || req.contentType != "application/x-www-form-urlencoded" || req.accept != "application/json" {
				t.Errorf("request %s, Content-Type %q, Accept %q", req.method, req.contentType, req.accept)
			}
			if got := req.form.Get("grant_type"); got != "client_credentials" {
				t.Errorf("grant_type = %q", got)
			}
			if got, want := req.form.Get("scope"), strings.Join(tt.scopes, " "); got != want || (want == "" && req.form.Has("scope")) {
				t.Errorf("scope = %q (present %v), want %q", got, req.form.Has("scope"), want)
			}
			if got := req.form.Get("audience"); got != tt.audience || (tt.audience == "" && req.form.Has("audience")) {
				t.Errorf("audience = %q, want %q", got, tt.audience)
			}
			if tt.wantBasic {
				// RFC 6749 section 2.3.1: form-encoded, then Basic.
				user, _ := url.QueryUnescape(req.basicUser)
				pass, _ := url.QueryUnescape(req.basicPass)
				if !req.hasBasic || user != c.ClientID || pass != testSecret {
					t.Errorf("Basic credentials %q:%q (present %v), want the form-encoded id and secret", req.basicUser, req.basicPass, req.hasBasic)
				}
				if req.form.Has("client_secret") || req.form.Has("client_id") {
					t.Error("basic style also sent credentials in the body")
				}
			} else {
				if req.hasBasic {
					t.Error("body style sent Basic credentials")
				}
				if req.form.Get("client_id") != c.ClientID || req.form.Get("client_secret") != testSecret {
					t.Errorf("body credentials %q/%q", req.form.Get("client_id"), req.form.Get("client_secret"))
				}
			}
		})
	}
}

func TestTokenSourceCachesUntilRefresh(t *testing.T) {
	t.Parallel()
	srv := newTokenServer(t, nil)
	clock := newFakeClock()
	src := NewTokenSource(srv.Client(), clock.Now)
	c := srv.creds()
	ctx := context.Background()

	steps := []struct {
		name      string
		advance   time.Duration
		wantToken string
		wantCount int
	}{
		{"first call fetches", 0, "tok-1", 1},
		{"second call is cached", time.Minute, "tok-1", 1},
		{"just before expiry minus skew", time.Hour - time.Minute - tokenRefreshSkew - time.Second, "tok-1", 1},
		{"at expiry minus skew", time.Second, "tok-2", 2},
		{"new token is cached", time.Minute, "tok-2", 2},
	}
	for _, st := range steps { // sequential: each step moves the clock on
		clock.Advance(st.advance)
		tok, err := src.Token(ctx, c)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if tok != st.wantToken || srv.count() != st.wantCount {
			t.Errorf("%s: token %q after %d requests, want %q after %d", st.name, tok, srv.count(), st.wantToken, st.wantCount)
		}
	}
}

func TestTokenSourceLifetimeFromResponse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		expiresIn string // raw JSON; empty: member absent
		refresh   time.Duration
	}{
		{"missing uses the default", "", defaultTokenLifetime - tokenRefreshSkew},
		{"numeric string", `"600"`, 600*time.Second - tokenRefreshSkew},
		{"short lifetime refreshes at half", "40", 20 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newTokenServer(t, func(w http.ResponseWriter, _ *http.Request, n int) {
				exp := ""
				if tt.expiresIn != "" {
					exp = `,"expires_in":` + tt.expiresIn
				}
				fmt.Fprintf(w, `{"access_token":"tok-%d","token_type":"bearer"%s}`, n, exp)
			})
			clock := newFakeClock()
			src := NewTokenSource(srv.Client(), clock.Now)
			ctx := context.Background()
			if _, err := src.Token(ctx, srv.creds()); err != nil {
				t.Fatal(err)
			}
			clock.Advance(tt.refresh - time.Second)
			if tok, _ := src.Token(ctx, srv.creds()); tok != "tok-1" {
				t.Errorf("1 s before refresh: token %q, want the cached tok-1", tok)
			}
			clock.Advance(time.Second)
			if tok, _ := src.Token(ctx, srv.creds()); tok != "tok-2" {
				t.Errorf("at refresh: token %q, want a new tok-2", tok)
			}
		})
	}
}

func TestTokenLifetime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw  string
		want time.Duration
	}{
		{"3600", time.Hour},
		{`"3600"`, time.Hour},
		{"59.5", 59500 * time.Millisecond},
		{"", defaultTokenLifetime},
		{"null", defaultTokenLifetime},
		{"0", defaultTokenLifetime},
		{"-10", defaultTokenLifetime},
		{`"soon"`, defaultTokenLifetime},
		{"1e300", maxTokenLifetime},
		{"172800", maxTokenLifetime},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			t.Parallel()
			if got := tokenLifetime(json.RawMessage(tt.raw)); got != tt.want {
				t.Errorf("tokenLifetime(%s) = %v, want %v", tt.raw, got, tt.want)
			}
		})
	}
}

func TestTokenSourceConcurrentCallsFetchOnce(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := newTokenServer(t, func(w http.ResponseWriter, _ *http.Request, n int) {
		<-release
		writeToken(w, fmt.Sprintf("tok-%d", n), 3600)
	})
	src := NewTokenSource(srv.Client(), nil)
	const callers = 50
	var started, done sync.WaitGroup
	tokens := make([]string, callers)
	errs := make([]error, callers)
	for i := range callers {
		started.Add(1)
		done.Go(func() {
			started.Done()
			tokens[i], errs[i] = src.Token(context.Background(), srv.creds())
		})
	}
	started.Wait()
	close(release)
	done.Wait()
	for i := range callers {
		if errs[i] != nil || tokens[i] != "tok-1" {
			t.Errorf("caller %d: %q, %v; want tok-1", i, tokens[i], errs[i])
		}
	}
	if n := srv.count(); n != 1 {
		t.Errorf("token server saw %d requests, want 1", n)
	}
}

// TestTokenSourceCancelledWaiter checks that a caller giving up does not
// fail the fetch for the others sharing it.
func TestTokenSourceCancelledWaiter(t *testing.T) {
	t.Parallel()
	arrived, release := make(chan struct{}), make(chan struct{})
	srv := newTokenServer(t, func(w http.ResponseWriter, _ *http.Request, n int) {
		close(arrived)
		<-release
		writeToken(w, fmt.Sprintf("tok-%d", n), 3600)
	})
	src := NewTokenSource(srv.Client(), nil)

	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := src.Token(ctx, srv.creds())
		first <- err
	}()
	<-arrived // the first caller's fetch is in flight
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled caller: err = %v, want context.Canceled", err)
	}

	second := make(chan string, 1)
	go func() {
		tok, err := src.Token(context.Background(), srv.creds())
		if err != nil {
			t.Error(err)
		}
		second <- tok
	}()
	close(release)
	if tok := <-second; tok != "tok-1" {
		t.Errorf("second caller got %q, want tok-1 from the shared fetch", tok)
	}
	if n := srv.count(); n != 1 {
		t.Errorf("token server saw %d requests, want 1", n)
	}
}

func TestTokenSourceInvalidate(t *testing.T) {
	t.Parallel()
	srv := newTokenServer(t, nil)
	src := NewTokenSource(srv.Client(), nil)
	c := srv.creds()
	ctx := context.Background()
	get := func() string {
		t.Helper()
		tok, err := src.Token(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}

	steps := []struct {
		name       string
		invalidate string
		want       string
		wantCount  int
	}{
		{"initial fetch", "", "tok-1", 1},
		{"another token's 401 changes nothing", "tok-0", "tok-1", 1},
		{"401 with the cached token forces a fetch", "tok-1", "tok-2", 2},
		{"a late 401 for the old token keeps the new one", "tok-1", "tok-2", 2},
		{"empty token is ignored", "", "tok-2", 2},
	}
	for _, st := range steps {
		src.Invalidate(c, st.invalidate)
		if got := get(); got != st.want || srv.count() != st.wantCount {
			t.Errorf("%s: token %q after %d requests, want %q after %d", st.name, got, srv.count(), st.want, st.wantCount)
		}
	}

	// Invalidate with other credentials (here another secret) does not
	// touch this entry.
	other := c
	other.ClientSecret = "other"
	src.Invalidate(other, "tok-2")
	if got := get(); got != "tok-2" {
		t.Errorf("after Invalidate for other credentials: %q, want tok-2", got)
	}
}

func TestTokenSourceCacheKey(t *testing.T) {
	t.Parallel()
	srv := newTokenServer(t, nil)
	base := srv.creds()
	base.Scopes = []string{"a", "b"}
	with := func(change func(*ClientCredentials)) ClientCredentials {
		c := base
		c.Scopes = append([]string(nil), base.Scopes...)
		change(&c)
		return c
	}
	tests := []struct {
		name   string
		c      ClientCredentials
		shared bool
	}{
		{"identical", with(func(*ClientCredentials) {}), true},
		{"scopes in another order", with(func(c *ClientCredentials) { c.Scopes = []string{"b", "a"} }), true},
		{"explicit basic equals default", with(func(c *ClientCredentials) { c.AuthStyle = AuthStyleBasic }), true},
		// The security-relevant one: the same client id with any other
		// secret must not receive the cached token.
		{"other secret", with(func(c *ClientCredentials) { c.ClientSecret = "guess" }), false},
		{"other client id", with(func(c *ClientCredentials) { c.ClientID = "other" }), false},
		{"other scopes", with(func(c *ClientCredentials) { c.Scopes = []string{"a"} }), false},
		{"other audience", with(func(c *ClientCredentials) { c.Audience = "https://api.example" }), false},
		{"other token URL", with(func(c *ClientCredentials) { c.TokenURL += "?tenant=2" }), false},
		{"body style", with(func(c *ClientCredentials) { c.AuthStyle = AuthStyleBody }), false},
		{"field boundaries", with(func(c *ClientCredentials) {
			c.ClientID, c.ClientSecret = base.ClientID+base.ClientSecret[:1], base.ClientSecret[1:]
		}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.c.cacheKey() == base.cacheKey(); got != tt.shared {
				t.Errorf("shares cache entry = %v, want %v", got, tt.shared)
			}
		})
	}

	// End to end: a second tenant with the same client id and a wrong
	// secret triggers its own request instead of getting tok-1.
	src := NewTokenSource(srv.Client(), nil)
	if _, err := src.Token(context.Background(), base); err != nil {
		t.Fatal(err)
	}
	impostor := with(func(c *ClientCredentials) { c.ClientSecret = "guess" })
	if tok, err := src.Token(context.Background(), impostor); err != nil || tok != "tok-2" {
		t.Errorf("other secret got %q, %v; want its own tok-2", tok, err)
	}
}

func TestTokenSourceErrors(t *testing.T) {
	t.Parallel()
	basic := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape("herald-client") + ":" + url.QueryEscape(testSecret)))
	tests := []struct {
		name       string
		status     int
		body       string
		wantStatus int    // for a *TokenError; 0: not a TokenError
		wantCode   string // TokenError.Code
		wantText   string // in the message
		wantIs     error
	}{
		{"invalid_client", 401, `{"error":"invalid_client","error_description":"Client authentication failed"}`,
			401, "invalid_client", "answered 401: invalid_client (Client authentication failed)", nil},
		{"description echoes the secret", 400, `{"error":"invalid_request","error_description":"bad secret ` + testSecret + ` / ` + url.QueryEscape(testSecret) + ` / ` + basic + `"}`,
			400, "invalid_request", "bad secret [redacted] / [redacted] / [redacted]", nil},
		{"description with control characters", 400, `{"error":"invalid_scope","error_description":"line1\r\nline2"}`,
			400, "invalid_scope", "(line1  line2)", nil},
		{"long description is cut", 400, `{"error":"invalid_request","error_description":"` + strings.Repeat("é", 400) + `"}`,
			400, "invalid_request", "éé...)", nil},
		{"non-JSON error body is not echoed", 502, "<html>proxy error for secret " + testSecret + "</html>",
			502, "", "answered 502", nil},
		{"error in a 200", 200, `{"error":"unauthorized_client"}`, 200, "unauthorized_client", "unauthorized_client", nil},
		{"200 not JSON", 200, "access_token=abc&token_type=bearer", 0, "", "not a JSON object", ErrInvalidTokenResponse},
		{"no access_token", 200, `{"token_type":"Bearer","expires_in":60}`, 0, "", "no access_token", ErrInvalidTokenResponse},
		{"token with CRLF", 200, `{"access_token":"abc\r\nX-Evil: 1","token_type":"Bearer"}`, 0, "", "not allowed in a header", ErrInvalidTokenResponse},
		{"MAC token", 200, `{"access_token":"abc","token_type":"mac"}`, 0, "", `token_type "mac"`, ErrInvalidTokenResponse},
		{"missing token_type", 200, `{"access_token":"abc"}`, 0, "", `token_type ""`, ErrInvalidTokenResponse},
		{"oversized response", 200, `{"access_token":"` + strings.Repeat("a", maxTokenResponse) + `","token_type":"Bearer"}`, 0, "", "exceeds", ErrInvalidTokenResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newTokenServer(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			})
			src := NewTokenSource(srv.Client(), nil)
			c := srv.creds()
			tok, err := src.Token(context.Background(), c)
			if err == nil {
				t.Fatalf("Token = %q, want an error", tok)
			}
			msg := err.Error()
			for _, leak := range []string{testSecret, url.QueryEscape(testSecret), basic} {
				if strings.Contains(msg, leak) {
					t.Errorf("error leaks the secret (%q): %s", leak, msg)
				}
			}
			if !strings.Contains(msg, tt.wantText) {
				t.Errorf("error %q does not contain %q", msg, tt.wantText)
			}
			var te *TokenError
			if tt.wantStatus != 0 {
				if !errors.As(err, &te) || te.StatusCode != tt.wantStatus || te.Code != tt.wantCode {
					t.Errorf("error %#v, want TokenError %d %q", err, tt.wantStatus, tt.wantCode)
				}
				if te != nil && te.URL != c.TokenURL {
					t.Errorf("TokenError.URL = %q, want %q", te.URL, c.TokenURL)
				}
			} else if errors.As(err, &te) {
				t.Errorf("unexpected TokenError %v", te)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v does not wrap %v", err, tt.wantIs)
			}
			// Failures are not cached: the next call asks again.
			if _, err := src.Token(context.Background(), c); err == nil || srv.count() != 2 {
				t.Errorf("second call: err %v after %d requests, want a new failed request", err, srv.count())
			}
		})
	}
}

func TestTokenSourceDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	elsewhere := newTokenServer(t, nil)
	srv := newTokenServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		http.Redirect(w, r, elsewhere.URL+"/token", http.StatusTemporaryRedirect)
	})
	c := srv.creds()
	c.AuthStyle = AuthStyleBody // a followed 307 would resend the secret in the body
	_, err := NewTokenSource(srv.Client(), nil).Token(context.Background(), c)
	var te *TokenError
	if !errors.As(err, &te) || te.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("err = %v, want TokenError 307", err)
	}
	if n := elsewhere.count(); n != 0 {
		t.Errorf("redirect target received %d requests", n)
	}
}

func TestTokenSourceTransportError(t *testing.T) {
	t.Parallel()
	srv := newTokenServer(t, nil)
	c := srv.creds()
	c.TokenURL += "?tenant=alpha&hint=" + url.QueryEscape(testSecret)
	srv.Close() // nothing listens any more
	_, err := NewTokenSource(srv.Client(), nil).Token(context.Background(), c)
	if err == nil {
		t.Fatal("Token succeeded against a closed server")
	}
	msg := err.Error()
	if !strings.Contains(msg, srv.URL+"/oauth2/token:") {
		t.Errorf("error %q does not name the token endpoint", msg)
	}
	if strings.Contains(msg, "tenant=alpha") || strings.Contains(msg, url.QueryEscape(testSecret)) {
		t.Errorf("error %q repeats the URL query", msg)
	}
}

func TestTokenSourceCallerDeadline(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := newTokenServer(t, func(w http.ResponseWriter, _ *http.Request, n int) {
		<-release
		writeToken(w, fmt.Sprintf("tok-%d", n), 3600)
	})
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := NewTokenSource(srv.Client(), nil).Token(ctx, srv.creds()); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}
}

func TestTokenSourceSweepsExpiredEntries(t *testing.T) {
	t.Parallel()
	srv := newTokenServer(t, nil)
	clock := newFakeClock()
	src := NewTokenSource(srv.Client(), clock.Now)
	ctx := context.Background()
	for i := range 5 {
		c := srv.creds()
		c.ClientID = fmt.Sprintf("client-%d", i)
		if _, err := src.Token(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(2 * time.Hour) // all five have expired
	if _, err := src.Token(ctx, srv.creds()); err != nil {
		t.Fatal(err)
	}
	src.mu.Lock()
	n := len(src.entries)
	src.mu.Unlock()
	if n != 1 {
		t.Errorf("cache holds %d entries, want only the live one", n)
	}
}

func TestNewTokenSourceNeedsClient(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Error("NewTokenSource(nil, ...) did not panic")
		}
	}()
	NewTokenSource(nil, nil)
}

func TestNewTokenSourceLeavesCallerClientAlone(t *testing.T) {
	t.Parallel()
	client := &http.Client{Timeout: time.Second}
	NewTokenSource(client, nil)
	if client.CheckRedirect != nil {
		t.Error("NewTokenSource changed the caller's client")
	}
}

func TestClientCredentialsValidate(t *testing.T) {
	t.Parallel()
	good := ClientCredentials{TokenURL: "https://auth.example/oauth2/token", ClientID: "id", ClientSecret: "secret", Scopes: []string{"a:b", "c/d"}}
	with := func(change func(*ClientCredentials)) ClientCredentials {
		c := good
		change(&c)
		return c
	}
	tests := []struct {
		name    string
		c       ClientCredentials
		wantErr string // empty: valid
	}{
		{"valid", good, ""},
		{"plain http", with(func(c *ClientCredentials) { c.TokenURL = "http://auth.example/token" }), ""},
		{"body style", with(func(c *ClientCredentials) { c.AuthStyle = AuthStyleBody }), ""},
		{"query in URL", with(func(c *ClientCredentials) { c.TokenURL += "?tenant=x" }), ""},
		{"no URL", with(func(c *ClientCredentials) { c.TokenURL = "" }), "token URL is empty"},
		{"relative URL", with(func(c *ClientCredentials) { c.TokenURL = "/token" }), "absolute http(s)"},
		{"ftp URL", with(func(c *ClientCredentials) { c.TokenURL = "ftp://auth.example/token" }), "absolute http(s)"},
		{"unparsable URL", with(func(c *ClientCredentials) { c.TokenURL = "https://auth.example/%zz" }), "token URL"},
		{"unparsable URL with user info", with(func(c *ClientCredentials) { c.TokenURL = "https://id:pw@auth.example/%zz" }), "not a valid URL"},
		{"user info", with(func(c *ClientCredentials) { c.TokenURL = "https://id:pw@auth.example/token" }), "user info"},
		{"fragment", with(func(c *ClientCredentials) { c.TokenURL += "#x" }), "fragment"},
		{"no client id", with(func(c *ClientCredentials) { c.ClientID = "" }), "client id is empty"},
		{"no secret", with(func(c *ClientCredentials) { c.ClientSecret = "" }), "client secret is empty"},
		{"unknown style", with(func(c *ClientCredentials) { c.AuthStyle = "jwt" }), "unknown OAuth2 auth style"},
		{"scope with space", with(func(c *ClientCredentials) { c.Scopes = []string{"a b"} }), "invalid OAuth2 scope"},
		{"empty scope", with(func(c *ClientCredentials) { c.Scopes = []string{""} }), "invalid OAuth2 scope"},
		{"scope with quote", with(func(c *ClientCredentials) { c.Scopes = []string{`a"`} }), "invalid OAuth2 scope"},
		{"audience with newline", with(func(c *ClientCredentials) { c.Audience = "a\nb" }), "audience"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Validate = %v, want error mentioning %q", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "pw@") {
				t.Errorf("error %q repeats URL credentials", err)
			}
		})
	}

	// Token refuses invalid credentials without making a request.
	if _, err := NewTokenSource(http.DefaultClient, nil).Token(context.Background(), with(func(c *ClientCredentials) { c.ClientSecret = "" })); err == nil {
		t.Error("Token accepted credentials without a secret")
	}
}

func TestClientCredentialsFormattingHidesSecret(t *testing.T) {
	t.Parallel()
	c := ClientCredentials{TokenURL: "https://auth.example/token", ClientID: "id", ClientSecret: testSecret}
	wrapped := struct{ Creds ClientCredentials }{c}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, v := range []any{c, &c, wrapped} {
			if s := fmt.Sprintf(format, v); strings.Contains(s, testSecret) {
				t.Errorf("Sprintf(%q) leaks the secret: %s", format, s)
			}
		}
	}
}
