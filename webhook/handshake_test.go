package webhook

import (
	"bufio"
	"context"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const testOrigin = "events.herald.example"

// consent returns a handler that answers with the given headers (each may
// be repeated by listing it twice) and status.
func consent(status int, kv ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(kv); i += 2 {
			w.Header().Add(kv[i], kv[i+1])
		}
		w.WriteHeader(status)
	}
}

func TestHandshake(t *testing.T) {
	t.Parallel()
	const ao, ar = HeaderAllowedOrigin, HeaderAllowedRate
	tests := []struct {
		name     string
		rate     int
		callback bool
		respond  http.HandlerFunc
		want     HandshakeResult // Reason: substring that must appear; "" means none
	}{
		// Consent.
		{"exact origin", 0, false, consent(200, ao, testOrigin),
			HandshakeResult{Granted: true, StatusCode: 200}},
		{"wildcard", 0, false, consent(200, ao, "*"),
			HandshakeResult{Granted: true, StatusCode: 200}},
		{"204 with consent", 0, false, consent(204, ao, testOrigin, ar, "60"),
			HandshakeResult{Granted: true, AllowedRate: 60, StatusCode: 204}},
		{"case, trailing dot and padding", 0, false, consent(200, ao, " \tEvents.HERALD.Example. "),
			HandshakeResult{Granted: true, StatusCode: 200}},
		{"lowercase header names", 0, false, func(w http.ResponseWriter, r *http.Request) {
			// Set without canonicalization, so they go out lowercase.
			w.Header()["webhook-allowed-origin"] = []string{testOrigin}
			w.Header()["webhook-allowed-rate"] = []string{"30"}
		}, HandshakeResult{Granted: true, AllowedRate: 30, StatusCode: 200}},
		{"among listed origins", 0, false, consent(200, ao, "other.example, "+testOrigin),
			HandshakeResult{Granted: true, StatusCode: 200}},
		{"in a repeated header", 0, false, consent(200, ao, "other.example", ao, testOrigin),
			HandshakeResult{Granted: true, StatusCode: 200}},

		// Refusal.
		{"no header", 0, false, consent(200),
			HandshakeResult{StatusCode: 200, Reason: "no WebHook-Allowed-Origin header"}},
		{"wrong origin", 0, false, consent(200, ao, "other.example"),
			HandshakeResult{StatusCode: 200, Reason: `origin mismatch: got "other.example" want "events.herald.example"`}},
		{"parent domain is not a match", 0, false, consent(200, ao, "herald.example"),
			HandshakeResult{StatusCode: 200, Reason: "origin mismatch"}},
		{"empty header", 0, false, consent(200, ao, " "),
			HandshakeResult{StatusCode: 200, Reason: "empty WebHook-Allowed-Origin"}},
		{"405", 0, false, consent(405, "Allow", "POST"),
			HandshakeResult{StatusCode: 405, Reason: "does not handle OPTIONS"}},
		{"404", 0, false, consent(404),
			HandshakeResult{StatusCode: 404, Reason: "(status 404)"}},
		{"consent on 500", 0, false, consent(500, ao, testOrigin),
			HandshakeResult{StatusCode: 500, Reason: "non-2xx"}},
		{"redirect not followed", 0, false, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set(ao, testOrigin)
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		}, HandshakeResult{StatusCode: 302, Reason: "non-2xx"}},

		// Rate negotiation.
		{"rate lowered", 600, false, consent(200, ao, testOrigin, ar, "120"),
			HandshakeResult{Granted: true, AllowedRate: 120, StatusCode: 200}},
		{"rate unlimited", 600, false, consent(200, ao, testOrigin, ar, "*"),
			HandshakeResult{Granted: true, AllowedRate: -1, StatusCode: 200}},
		{"rate padded", 600, false, consent(200, ao, testOrigin, ar, " 120\t"),
			HandshakeResult{Granted: true, AllowedRate: 120, StatusCode: 200}},
		{"rate repeated, same value", 0, false, consent(200, ao, testOrigin, ar, "60", ar, "60"),
			HandshakeResult{Granted: true, AllowedRate: 60, StatusCode: 200}},
		{"rate huge, clamped", 0, false, consent(200, ao, testOrigin, ar, "99999999999999999999"),
			HandshakeResult{Granted: true, AllowedRate: math.MaxInt32, StatusCode: 200}},
		{"rate requested, none granted", 600, false, consent(200, ao, testOrigin),
			HandshakeResult{Granted: true, StatusCode: 200}},
		{"rate zero", 600, false, consent(200, ao, testOrigin, ar, "0"),
			HandshakeResult{StatusCode: 200, Reason: `malformed WebHook-Allowed-Rate "0"`}},
		{"rate negative", 0, false, consent(200, ao, testOrigin, ar, "-5"),
			HandshakeResult{StatusCode: 200, Reason: `malformed WebHook-Allowed-Rate "-5"`}},
		{"rate signed", 0, false, consent(200, ao, testOrigin, ar, "+5"),
			HandshakeResult{StatusCode: 200, Reason: "malformed"}},
		{"rate fraction", 0, false, consent(200, ao, testOrigin, ar, "12.5"),
			HandshakeResult{StatusCode: 200, Reason: "malformed"}},
		{"rate word", 0, false, consent(200, ao, testOrigin, ar, "lots"),
			HandshakeResult{StatusCode: 200, Reason: "want a positive integer or *"}},
		{"rate empty", 0, false, consent(200, ao, testOrigin, ar, ""),
			HandshakeResult{StatusCode: 200, Reason: "malformed WebHook-Allowed-Rate: empty"}},
		{"rate conflicting", 0, false, consent(200, ao, testOrigin, ar, "60, 120"),
			HandshakeResult{StatusCode: 200, Reason: "conflicting"}},

		// Asynchronous consent.
		{"pending callback", 0, true, consent(200),
			HandshakeResult{StatusCode: 200, Pending: true, Reason: "no WebHook-Allowed-Origin header"}},
		{"pending after 405", 0, true, consent(405),
			HandshakeResult{StatusCode: 405, Pending: true, Reason: "405"}},
		{"callback offered, granted at once", 0, true, consent(200, ao, testOrigin, ar, "10"),
			HandshakeResult{Granted: true, AllowedRate: 10, StatusCode: 200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t, tt.respond)
			s := newTestSender(t, SenderConfig{Policy: allowPrivate})
			req := HandshakeRequest{URL: rc.URL + "/hook?tenant=1", Origin: testOrigin, RequestRate: tt.rate}
			if tt.callback {
				req.CallbackURL = "https://api.herald.example/v1/handshake/hs_1?key=c2VjcmV0"
			}
			got, err := s.Handshake(t.Context(), req)
			if err != nil {
				t.Fatalf("Handshake: %v", err)
			}
			wantReason := tt.want.Reason
			if wantReason == "" && got.Reason != "" || !strings.Contains(got.Reason, wantReason) {
				t.Errorf("Reason = %q, want it to contain %q", got.Reason, wantReason)
			}
			got.Reason, tt.want.Reason = "", ""
			if got != tt.want {
				t.Errorf("Handshake = %+v, want %+v", got, tt.want)
			}

			c := rc.last(t)
			if v := c.header.Get(HeaderRequestOrigin); v != testOrigin {
				t.Errorf("%s = %q, want %q", HeaderRequestOrigin, v, testOrigin)
			}
			if v, ok := c.header[http.CanonicalHeaderKey(HeaderRequestRate)]; (tt.rate > 0) != ok || ok && v[0] != strconv.Itoa(tt.rate) {
				t.Errorf("%s = %q, want %d (0 = absent)", HeaderRequestRate, v, tt.rate)
			}
			if v, ok := c.header[http.CanonicalHeaderKey(HeaderRequestCallback)]; tt.callback != ok || ok && v[0] != req.CallbackURL {
				t.Errorf("%s = %q, want sent: %v", HeaderRequestCallback, v, tt.callback)
			}
			if ua := c.header.Get("User-Agent"); ua != DefaultUserAgent {
				t.Errorf("User-Agent = %q", ua)
			}
			if n := rc.hits.Load(); n != 1 {
				t.Errorf("target got %d requests, want 1 (no redirects, no retries)", n)
			}
		})
	}
}

// TestHandshakeWire checks the exact bytes: the request line and header
// spelling going out, and lowercase response headers coming in.
func TestHandshakeWire(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	lines := make(chan []string, 1)
	go func() {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		tp := textproto.NewReader(bufio.NewReader(conn))
		var got []string
		for {
			line, err := tp.ReadLine()
			if err != nil || line == "" {
				break
			}
			got = append(got, line)
		}
		_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\nwebhook-allowed-origin:   *  \r\nwebhook-allowed-rate: 90\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
		lines <- got
	}()

	s := newTestSender(t, SenderConfig{Policy: allowPrivate})
	res, err := s.Handshake(t.Context(), HandshakeRequest{
		URL: "http://" + l.Addr().String() + "/in", Origin: testOrigin, RequestRate: 120,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Granted || res.AllowedRate != 90 {
		t.Errorf("Handshake = %+v, want granted at 90/min", res)
	}
	var got []string
	select {
	case got = <-lines:
	case <-time.After(5 * time.Second):
		t.Fatal("no request arrived")
	}
	if len(got) == 0 || got[0] != "OPTIONS /in HTTP/1.1" {
		t.Fatalf("request line = %q, want OPTIONS /in HTTP/1.1", got)
	}
	for _, want := range []string{"WebHook-Request-Origin: " + testOrigin, "WebHook-Request-Rate: 120"} {
		found := false
		for _, line := range got[1:] {
			found = found || line == want
		}
		if !found {
			t.Errorf("request lacks %q: %q", want, got)
		}
	}
}

// TestHandshakeAsync plays the asynchronous form end to end: the target
// answers without consent, keeps the callback URL, and grants later by GET.
// The real callback endpoint belongs to Herald's API; a stand-in records
// the grant here.
func TestHandshakeAsync(t *testing.T) {
	t.Parallel()
	var grants atomic.Int64
	herald := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/handshake/hs_1" && r.URL.Query().Get("key") == "c2VjcmV0" {
			grants.Add(1)
		}
	}))
	t.Cleanup(herald.Close)

	callbacks := make(chan string, 1)
	target := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		// An administrator (or the app) will call this later.
		callbacks <- r.Header.Get(HeaderRequestCallback)
		w.WriteHeader(http.StatusOK)
	})
	s := newTestSender(t, SenderConfig{Policy: allowPrivate})
	callback := herald.URL + "/handshake/hs_1?key=c2VjcmV0"
	res, err := s.Handshake(t.Context(), HandshakeRequest{URL: target.URL, Origin: testOrigin, CallbackURL: callback})
	if err != nil {
		t.Fatal(err)
	}
	if res.Granted || !res.Pending {
		t.Fatalf("Handshake = %+v, want pending", res)
	}
	got := <-callbacks
	if got != callback {
		t.Fatalf("target saw callback %q, want %q", got, callback)
	}
	resp, err := http.Get(got)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if grants.Load() != 1 {
		t.Errorf("callback endpoint saw %d grants, want 1", grants.Load())
	}
}

func TestHandshakeBlocked(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		policy TargetPolicy
		host   string // "ip" or "localhost"
	}{
		{"loopback IP", TargetPolicy{}, "ip"},
		{"localhost name", TargetPolicy{}, "localhost"},
		{"https required", TargetPolicy{AllowPrivate: true, RequireHTTPS: true}, "ip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t, consent(200, HeaderAllowedOrigin, "*"))
			url := rc.URL
			if tt.host == "localhost" {
				url = "http://localhost:" + strconv.Itoa(rc.Listener.Addr().(*net.TCPAddr).Port)
			}
			s := newTestSender(t, SenderConfig{Policy: tt.policy})
			res, err := s.Handshake(t.Context(), HandshakeRequest{URL: url, Origin: testOrigin})
			if !errors.Is(err, ErrForbiddenTarget) {
				t.Fatalf("Handshake = %+v, %v; want ErrForbiddenTarget", res, err)
			}
			t.Logf("Err: %v", err)
			if res.Granted || res.StatusCode != 0 {
				t.Errorf("result %+v from a blocked target", res)
			}
			if rc.hits.Load() != 0 || rc.newConns.Load() != 0 {
				t.Errorf("target saw %d requests on %d connections, want none", rc.hits.Load(), rc.newConns.Load())
			}
		})
	}
}

func TestHandshakeInvalidRequest(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, consent(200, HeaderAllowedOrigin, "*"))
	s := newTestSender(t, SenderConfig{Policy: allowPrivate})
	valid := HandshakeRequest{URL: rc.URL, Origin: testOrigin}
	tests := []struct {
		name   string
		mutate func(*HandshakeRequest)
		want   error
	}{
		{"empty origin", func(r *HandshakeRequest) { r.Origin = "" }, ErrInvalidMessage},
		{"origin is a URL", func(r *HandshakeRequest) { r.Origin = "https://herald.example" }, ErrInvalidMessage},
		{"origin with port", func(r *HandshakeRequest) { r.Origin = "herald.example:443" }, ErrInvalidMessage},
		{"origin wildcard", func(r *HandshakeRequest) { r.Origin = "*" }, ErrInvalidMessage},
		{"origin with newline", func(r *HandshakeRequest) { r.Origin = "a.example\r\nX-Injected: 1" }, ErrInvalidMessage},
		{"negative rate", func(r *HandshakeRequest) { r.RequestRate = -1 }, ErrInvalidMessage},
		{"relative callback", func(r *HandshakeRequest) { r.CallbackURL = "/confirm?key=x" }, ErrInvalidMessage},
		{"ftp callback", func(r *HandshakeRequest) { r.CallbackURL = "ftp://herald.example/x" }, ErrInvalidMessage},
		{"callback with newline", func(r *HandshakeRequest) { r.CallbackURL = "https://h.example/\nx" }, ErrInvalidMessage},
		{"unparsable URL", func(r *HandshakeRequest) { r.URL = "http://[::1" }, ErrInvalidURL},
		{"wrong scheme", func(r *HandshakeRequest) { r.URL = "ftp://example.com/" }, ErrInvalidURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := valid
			tt.mutate(&r)
			_, err := s.Handshake(t.Context(), r)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Handshake = %v, want %v", err, tt.want)
			}
			t.Logf("Err: %v", err)
			if r.CallbackURL != "" && strings.Contains(err.Error(), r.CallbackURL) {
				t.Errorf("error %q echoes the callback URL", err)
			}
		})
	}
	if n := rc.hits.Load(); n != 0 {
		t.Errorf("target got %d invalid handshakes", n)
	}
}

func TestHandshakeTimeout(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	s := newTestSender(t, SenderConfig{Policy: allowPrivate, Timeout: 150 * time.Millisecond})
	start := time.Now()
	_, err := s.Handshake(t.Context(), HandshakeRequest{URL: rc.URL, Origin: testOrigin})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timed out after") {
		t.Fatalf("Handshake = %v, want a readable deadline error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v, want about the 150ms timeout", d)
	}
}
