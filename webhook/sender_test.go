package webhook

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// receiver is a loopback webhook endpoint that records what reached it.
type receiver struct {
	*httptest.Server
	hits     atomic.Int64 // requests handled
	newConns atomic.Int64 // TCP connections accepted
	reqs     chan captured
}

type captured struct {
	header http.Header
	body   []byte
}

// newReceiver starts a loopback server that records each request and then
// runs respond (204 when respond is nil).
func newReceiver(tb testing.TB, respond http.HandlerFunc) *receiver {
	tb.Helper()
	rc := &receiver{reqs: make(chan captured, 64)}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		select {
		case rc.reqs <- captured{header: r.Header.Clone(), body: body}:
		default: // benchmarks don't read; never block the handler
		}
		if respond == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		respond(w, r)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			rc.newConns.Add(1)
		}
	}
	srv.Start()
	tb.Cleanup(srv.Close)
	rc.Server = srv
	return rc
}

func (rc *receiver) last(t *testing.T) captured {
	t.Helper()
	select {
	case c := <-rc.reqs:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no request reached the receiver")
		return captured{}
	}
}

// allowPrivate lets tests reach loopback receivers.
var allowPrivate = TargetPolicy{AllowPrivate: true}

func newTestSender(tb testing.TB, cfg SenderConfig) *Sender {
	tb.Helper()
	s := NewSender(cfg)
	tb.Cleanup(s.Close)
	return s
}

func testSecret(tb testing.TB) string {
	tb.Helper()
	s, err := NewSecret()
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func testMessage(tb testing.TB, url string) Message {
	return Message{
		URL:     url,
		ID:      "msg_2Yb7l0Q9mBXJ3wq6r5p1KzVhT0e",
		Body:    []byte(`{"specversion":"1.0","type":"order.created","id":"1","source":"/shop"}`),
		Secrets: []string{testSecret(tb)},
	}
}

func TestSendSignsAndVerifies(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	s := newTestSender(t, SenderConfig{Policy: allowPrivate})

	m := testMessage(t, rc.URL+"/hook")
	m.Timestamp = time.Now().Truncate(time.Second)
	m.Header = http.Header{
		"X-Custom":          {"1"},
		"webhook-signature": {"v1,forged"}, // must not override ours
		"Content-Length":    {"999"},       // framing is the transport's job
	}
	res := s.Send(t.Context(), m)
	if !res.Success() || res.StatusCode != http.StatusNoContent || res.Err != nil {
		t.Fatalf("Send = %+v, want 204", res)
	}
	if res.Latency <= 0 {
		t.Errorf("Latency = %v, want > 0", res.Latency)
	}

	got := rc.last(t)
	if !bytes.Equal(got.body, m.Body) {
		t.Errorf("body = %q, want %q", got.body, m.Body)
	}
	wh, err := standardwebhooks.NewWebhook(m.Secrets[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(got.body, got.header); err != nil {
		t.Fatalf("receiver Verify: %v (headers %v)", err, got.header)
	}
	wantHeaders := map[string]string{
		"webhook-id":        m.ID,
		"webhook-timestamp": strconv.FormatInt(m.Timestamp.Unix(), 10),
		"Content-Type":      DefaultContentType,
		"User-Agent":        DefaultUserAgent,
		"X-Custom":          "1",
	}
	for k, want := range wantHeaders {
		if v := got.header.Get(k); v != want {
			t.Errorf("header %s = %q, want %q", k, v, want)
		}
	}
	if strings.Contains(got.header.Get("webhook-signature"), "forged") {
		t.Errorf("extra header overrode webhook-signature: %q", got.header.Get("webhook-signature"))
	}
	if _, ok := got.header["Idempotency-Key"]; ok {
		t.Errorf("the replay marker Idempotency-Key went on the wire")
	}
}

func TestSendTwoSecretsBothVerify(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	s := newTestSender(t, SenderConfig{Policy: allowPrivate, UserAgent: "Test/2"})

	m := testMessage(t, rc.URL)
	m.Secrets = []string{testSecret(t), testSecret(t)}
	m.ContentType = "application/json"
	if res := s.Send(t.Context(), m); !res.Success() {
		t.Fatalf("Send = %+v", res)
	}
	got := rc.last(t)
	if n := len(strings.Fields(got.header.Get("webhook-signature"))); n != 2 {
		t.Fatalf("webhook-signature has %d entries, want 2: %q", n, got.header.Get("webhook-signature"))
	}
	for i, secret := range m.Secrets {
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		if err := wh.Verify(got.body, got.header); err != nil {
			t.Errorf("secret %d does not verify: %v", i+1, err)
		}
	}
	other, err := standardwebhooks.NewWebhook(testSecret(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Verify(got.body, got.header); !errors.Is(err, standardwebhooks.ErrNoMatchingSignature) {
		t.Errorf("an unrelated secret verified: %v", err)
	}
	if ct, ua := got.header.Get("Content-Type"), got.header.Get("User-Agent"); ct != "application/json" || ua != "Test/2" {
		t.Errorf("Content-Type, User-Agent = %q, %q", ct, ua)
	}
}

// TestSendOmitContentType: a binary-mode event without data goes out with
// an empty body and no Content-Type, even if a static header names one.
func TestSendOmitContentType(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	s := newTestSender(t, SenderConfig{Policy: allowPrivate})
	m := testMessage(t, rc.URL)
	m.Body, m.OmitContentType = nil, true
	m.Header = http.Header{"Content-Type": {"text/plain"}, "Ce-Id": {"e-1"}}
	if res := s.Send(t.Context(), m); !res.Success() {
		t.Fatalf("Send = %+v", res)
	}
	got := rc.last(t)
	if ct, ok := got.header["Content-Type"]; ok || len(got.body) != 0 || got.header.Get("Ce-Id") != "e-1" {
		t.Fatalf("Content-Type %q (present %t), body %q, headers %v", ct, ok, got.body, got.header)
	}
}

func TestSendDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	var followed atomic.Int64
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/moved" {
			followed.Add(1)
			return
		}
		http.Redirect(w, r, "/moved", http.StatusFound)
	})
	s := newTestSender(t, SenderConfig{Policy: allowPrivate})

	res := s.Send(t.Context(), testMessage(t, rc.URL+"/hook"))
	if res.StatusCode != http.StatusFound || res.Success() || res.Err != nil {
		t.Fatalf("Send = %+v, want a failed 302 attempt", res)
	}
	if n := followed.Load(); n != 0 {
		t.Fatalf("redirect target hit %d times", n)
	}
}

func TestSendTimeout(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	s := newTestSender(t, SenderConfig{Policy: allowPrivate, Timeout: 150 * time.Millisecond})

	res := s.Send(t.Context(), testMessage(t, rc.URL))
	if !res.Timeout || res.StatusCode != 0 || res.Err == nil || res.Blocked {
		t.Fatalf("Send = %+v, want a timeout", res)
	}
	t.Logf("Err: %v", res.Err)
	if !errors.Is(res.Err, context.DeadlineExceeded) || !strings.Contains(res.Err.Error(), "timed out after") {
		t.Errorf("Err = %v, want a readable deadline error", res.Err)
	}
	if res.Latency < 150*time.Millisecond || res.Latency > 5*time.Second {
		t.Errorf("Latency = %v, want about the timeout", res.Latency)
	}
}

func TestSendCallerContext(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	s := newTestSender(t, SenderConfig{Policy: allowPrivate})

	// A caller deadline shorter than the Sender's timeout is a timeout too.
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if res := s.Send(ctx, testMessage(t, rc.URL)); !res.Timeout {
		t.Errorf("Send with short deadline = %+v, want Timeout", res)
	}

	// Cancellation (worker shutdown) is not a timeout.
	ctx, cancel = context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	res := s.Send(ctx, testMessage(t, rc.URL))
	if res.Timeout || !errors.Is(res.Err, context.Canceled) {
		t.Errorf("Send canceled = %+v, want a canceled error", res)
	}
}

func TestSendResponseBodyAndKeepAlive(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat([]byte("0123456789"), 1000) // 10,000 bytes
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write(big)
	})
	s := newTestSender(t, SenderConfig{Policy: allowPrivate})

	for i := range 5 {
		res := s.Send(t.Context(), testMessage(t, rc.URL))
		if res.StatusCode != http.StatusInternalServerError || res.Err != nil {
			t.Fatalf("attempt %d: %+v", i, res)
		}
		if !bytes.Equal(res.ResponseBody, big[:DefaultMaxResponseBody]) {
			t.Fatalf("attempt %d: kept %d bytes, want the first %d", i, len(res.ResponseBody), DefaultMaxResponseBody)
		}
	}
	// The unread rest was drained, so one connection served every attempt.
	if n := rc.newConns.Load(); n != 1 {
		t.Errorf("%d connections for 5 sequential attempts, want 1 (keep-alive)", n)
	}

	small := newTestSender(t, SenderConfig{Policy: allowPrivate, MaxResponseBody: 10})
	if res := small.Send(t.Context(), testMessage(t, rc.URL)); string(res.ResponseBody) != "0123456789" {
		t.Errorf("MaxResponseBody 10 kept %q", res.ResponseBody)
	}
}

func TestSendEmptyResponseBody(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	s := newTestSender(t, SenderConfig{Policy: allowPrivate})
	if res := s.Send(t.Context(), testMessage(t, rc.URL)); res.ResponseBody != nil {
		t.Errorf("ResponseBody = %q, want nil", res.ResponseBody)
	}
}

func TestSendRetryAfterAndStatus(t *testing.T) {
	t.Parallel()
	date := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		name       string
		status     int
		retryAfter string
		want       time.Duration // with tolerance for date rounding
		has        bool
		gone       bool
	}{
		{"seconds", http.StatusServiceUnavailable, "120", 120 * time.Second, true, false},
		{"date", http.StatusTooManyRequests, date, 90 * time.Second, true, false},
		{"invalid", http.StatusServiceUnavailable, "soon", 0, false, false},
		{"absent", http.StatusBadGateway, "", 0, false, false},
		{"ignored on 2xx", http.StatusOK, "120", 0, false, false},
		{"gone", http.StatusGone, "", 0, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.WriteHeader(tt.status)
			})
			s := newTestSender(t, SenderConfig{Policy: allowPrivate})
			res := s.Send(t.Context(), testMessage(t, rc.URL))
			if res.StatusCode != tt.status || res.Err != nil {
				t.Fatalf("Send = %+v", res)
			}
			if res.HasRetryAfter != tt.has {
				t.Fatalf("HasRetryAfter = %v, want %v", res.HasRetryAfter, tt.has)
			}
			// HTTP-dates have one-second resolution and the clock moves on.
			if d := res.RetryAfter - tt.want; d < -2*time.Second || d > 0 {
				t.Errorf("RetryAfter = %v, want about %v", res.RetryAfter, tt.want)
			}
			if res.Gone() != tt.gone {
				t.Errorf("Gone() = %v, want %v", res.Gone(), tt.gone)
			}
		})
	}
}

func TestSendConnectionRefused(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	s := newTestSender(t, SenderConfig{Policy: allowPrivate})

	res := s.Send(t.Context(), testMessage(t, "http://"+addr+"/hook"))
	if res.Err == nil || res.StatusCode != 0 || res.Timeout || res.Blocked || res.Success() {
		t.Fatalf("Send = %+v, want a transport error", res)
	}
	t.Logf("Err: %v", res.Err)
	if !errors.Is(res.Err, syscall.ECONNREFUSED) {
		t.Errorf("Err = %v, want connection refused", res.Err)
	}
	if strings.Contains(res.Err.Error(), "/hook") {
		t.Errorf("Err = %q repeats the URL", res.Err)
	}
}

func TestSendTargetPolicy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		policy  TargetPolicy
		host    string // "ip" uses the server's address, "localhost" its port on localhost
		blocked bool
	}{
		{"default refuses loopback IP", TargetPolicy{}, "ip", true},
		{"default refuses localhost name at dial", TargetPolicy{}, "localhost", true},
		{"allowlist other range", TargetPolicy{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, "ip", true},
		{"allow private", allowPrivate, "ip", false},
		{"allowlist loopback", TargetPolicy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, "ip", false},
		{"https required", TargetPolicy{AllowPrivate: true, RequireHTTPS: true}, "ip", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t, nil)
			url := rc.URL
			if tt.host == "localhost" {
				// CheckURL would refuse this name; Send must still refuse
				// what it resolves to.
				url = "http://localhost:" + strconv.Itoa(rc.Listener.Addr().(*net.TCPAddr).Port)
			}
			s := newTestSender(t, SenderConfig{Policy: tt.policy})
			res := s.Send(t.Context(), testMessage(t, url))
			if !tt.blocked {
				if !res.Success() || res.Blocked {
					t.Fatalf("Send = %+v, want success", res)
				}
				return
			}
			if !res.Blocked || !errors.Is(res.Err, ErrForbiddenTarget) || res.StatusCode != 0 {
				t.Fatalf("Send = %+v, want Blocked", res)
			}
			t.Logf("Err: %v", res.Err)
			if rc.hits.Load() != 0 || rc.newConns.Load() != 0 {
				t.Fatalf("receiver saw %d requests on %d connections, want none", rc.hits.Load(), rc.newConns.Load())
			}
		})
	}
}

func TestSendInvalidMessage(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	s := newTestSender(t, SenderConfig{Policy: allowPrivate})
	valid := testMessage(t, rc.URL)
	tests := []struct {
		name   string
		mutate func(*Message)
		want   error
	}{
		{"no id", func(m *Message) { m.ID = "" }, ErrInvalidMessage},
		{"no secrets", func(m *Message) { m.Secrets = nil }, ErrInvalidSecret},
		{"bad secret", func(m *Message) { m.Secrets = []string{valid.Secrets[0], "whsec_!!"} }, ErrInvalidSecret},
		{"unparsable URL", func(m *Message) { m.URL = "http://[::1" }, ErrInvalidURL},
		{"wrong scheme", func(m *Message) { m.URL = "ftp://example.com/" }, ErrInvalidURL},
		{"bad header value", func(m *Message) { m.Header = http.Header{"X-Bad": {"a\r\nb"}} }, ErrInvalidMessage},
		{"bad header name", func(m *Message) { m.Header = http.Header{"X Bad": {"1"}} }, ErrInvalidMessage},
		{"id with newline", func(m *Message) { m.ID = "msg_1\nX-Injected: 1" }, ErrInvalidMessage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := valid
			tt.mutate(&m)
			res := s.Send(t.Context(), m)
			if res.Err == nil || res.StatusCode != 0 || res.Blocked {
				t.Fatalf("Send = %+v, want an error", res)
			}
			t.Logf("Err: %v", res.Err)
			if !errors.Is(res.Err, tt.want) {
				t.Fatalf("Err = %v, want %v", res.Err, tt.want)
			}
		})
	}
	if n := rc.hits.Load(); n != 0 {
		t.Errorf("receiver got %d invalid messages", n)
	}
}

func TestResultPredicates(t *testing.T) {
	t.Parallel()
	for code, want := range map[int][2]bool{
		0: {false, false}, 199: {false, false}, 200: {true, false}, 204: {true, false},
		299: {true, false}, 300: {false, false}, 410: {false, true}, 500: {false, false},
	} {
		r := Result{StatusCode: code}
		if r.Success() != want[0] || r.Gone() != want[1] {
			t.Errorf("status %d: Success %v Gone %v, want %v %v", code, r.Success(), r.Gone(), want[0], want[1])
		}
	}
}

func BenchmarkSendLoopback(b *testing.B) {
	rc := newReceiver(b, nil)
	s := newTestSender(b, SenderConfig{Policy: allowPrivate})
	m := testMessage(b, rc.URL)
	m.Body = bytes.Repeat([]byte("x"), 1024)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if res := s.Send(ctx, m); !res.Success() {
			b.Fatalf("Send = %+v", res)
		}
	}
	b.ReportMetric(float64(rc.newConns.Load()), "conns")
}

func BenchmarkSendLoopbackParallel(b *testing.B) {
	rc := newReceiver(b, nil)
	s := newTestSender(b, SenderConfig{Policy: allowPrivate})
	m := testMessage(b, rc.URL)
	m.Body = bytes.Repeat([]byte("x"), 1024)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if res := s.Send(ctx, m); !res.Success() {
				b.Errorf("Send = %+v", res)
				return
			}
		}
	})
	b.ReportMetric(float64(rc.newConns.Load()), "conns")
}
