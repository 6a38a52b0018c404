package app_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/app"
)

func withVerification(c *app.Config) { c.VerifyEndpoints = true }

// TestHandshakeConsent: a new endpoint is pending until its receiver
// answers the OPTIONS handshake with consent; events sent meanwhile wait and
// then arrive.
func TestHandshakeConsent(t *testing.T) {
	t.Parallel()
	e := setup(t, withVerification)
	w := e.world()
	rc := newReceiver(t)
	var mu sync.Mutex
	var origin string
	rc.options = func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		origin = r.Header.Get("WebHook-Request-Origin")
		mu.Unlock()
		rw.Header().Set("WebHook-Allowed-Origin", r.Header.Get("WebHook-Request-Origin"))
		rw.Header().Set("WebHook-Allowed-Rate", "600") // per minute: 10 per second
		rw.WriteHeader(http.StatusOK)
	}
	m := e.must(201, e.do(w.consumer, "POST", "/v1/endpoints", map[string]any{"url": rc.URL(), "types": []string{w.typ}}))
	epID := m["id"].(string)
	rc.secret = m["secret"].(string)
	if m["status"] != "pending" {
		t.Fatalf("new endpoint status %v, want pending", m["status"])
	}
	e.must(202, e.send(w.producer, orderEvent("early-1", 1)))
	eventually(t, 10*time.Second, "endpoint verified", func() bool {
		ep := e.must(200, e.do(w.consumer, "GET", "/v1/endpoints/"+epID, nil))
		return ep["status"] == "active" && ep["verified_by"] == "handshake" && ep["rate_limit"] == float64(10)
	})
	rc.waitEvents(1, 15*time.Second)
	mu.Lock()
	defer mu.Unlock()
	if origin != "127.0.0.1" {
		t.Fatalf("WebHook-Request-Origin = %q", origin)
	}
}

// TestHandshakeRefusedThenVerifiedByHand: without consent the endpoint
// stays pending and its events wait; a tenant admin can verify it by hand.
func TestHandshakeRefusedThenVerifiedByHand(t *testing.T) {
	t.Parallel()
	e := setup(t, withVerification)
	w := e.world()
	rc := newReceiver(t)
	rc.options = func(rw http.ResponseWriter, _ *http.Request) { rw.WriteHeader(http.StatusMethodNotAllowed) }
	epID, secret := e.endpoint(w.consumer, rc.URL(), w.typ)
	rc.secret = secret
	e.must(202, e.send(w.producer, orderEvent("waiting-1", 1)))
	time.Sleep(1500 * time.Millisecond)
	if events, _, _, _ := rc.snapshot(); len(events) != 0 {
		t.Fatalf("pending endpoint received %v", events)
	}
	if ep := e.must(200, e.do(w.consumer, "GET", "/v1/endpoints/"+epID, nil)); ep["status"] != "pending" {
		t.Fatalf("status %v, want pending", ep["status"])
	}
	e.must(409, e.do(w.consumer, "POST", "/v1/endpoints/"+epID+"/enable", nil))
	e.must(403, e.do(w.consumer, "POST", "/v1/endpoints/"+epID+"/verify", nil))
	ep := e.must(200, e.do(admin, "POST", "/v1/endpoints/"+epID+"/verify", nil))
	if ep["status"] != "active" || !strings.HasPrefix(ep["verified_by"].(string), "manual by ") {
		t.Fatalf("after manual verify: %v", ep)
	}
	rc.waitEvents(1, 15*time.Second)
	e.must(409, e.do(admin, "POST", "/v1/endpoints/"+epID+"/verify", nil))
}

// TestHandshakeAsyncCallback: the receiver grants consent later by calling
// the one-time callback URL it was offered.
func TestHandshakeAsyncCallback(t *testing.T) {
	t.Parallel()
	e := setup(t, withVerification)
	w := e.world()
	rc := newReceiver(t)
	callbacks := make(chan string, 4)
	rc.options = func(rw http.ResponseWriter, r *http.Request) {
		if cb := r.Header.Get("WebHook-Request-Callback"); cb != "" {
			select {
			case callbacks <- cb:
			default:
			}
		}
		rw.WriteHeader(http.StatusOK) // no consent yet
	}
	epID, secret := e.endpoint(w.consumer, rc.URL(), w.typ)
	rc.secret = secret
	var cb string
	select {
	case cb = <-callbacks:
	case <-time.After(10 * time.Second):
		t.Fatal("no callback URL offered")
	}
	if !strings.HasPrefix(cb, e.app.URL()+"/webhook-verifications/"+epID+"/") {
		t.Fatalf("callback URL %q", cb)
	}
	// A wrong token is not consent.
	if resp, err := http.Get(cb + "x"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("wrong token: %v %v", resp, err)
	}
	resp, err := http.Post(cb, "application/json", nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("callback: %v %v", resp, err)
	}
	resp.Body.Close()
	ep := e.must(200, e.do(w.consumer, "GET", "/v1/endpoints/"+epID, nil))
	if ep["status"] != "active" || ep["verified_by"] != "handshake callback" {
		t.Fatalf("after callback: %v", ep)
	}
	e.must(202, e.send(w.producer, orderEvent("after-callback", 1)))
	rc.waitEvents(1, 10*time.Second)
	// The token is one-time.
	if resp, err := http.Get(cb); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("reused token: %v %v", resp, err)
	}
}

// TestReverification: changing the URL, or enabling an endpoint that never
// consented, asks the receiver again.
func TestReverification(t *testing.T) {
	t.Parallel()
	e := setup(t, withVerification)
	w := e.world()
	refuse := newReceiver(t)
	refuse.options = func(rw http.ResponseWriter, _ *http.Request) { rw.WriteHeader(http.StatusMethodNotAllowed) }
	epID, _ := e.endpoint(w.consumer, refuse.URL(), w.typ)
	// Disabled while pending, then enabled: still no consent, so pending.
	e.must(200, e.do(w.consumer, "POST", "/v1/endpoints/"+epID+"/disable", nil))
	if ep := e.must(200, e.do(w.consumer, "POST", "/v1/endpoints/"+epID+"/enable", nil)); ep["status"] != "pending" {
		t.Fatalf("enable of a never-verified endpoint: %v", ep)
	}
	// A new URL whose receiver consents: verified by the handshake (which
	// may already have happened when the PATCH answers).
	grant := newReceiver(t)
	if ep := e.must(200, e.do(w.consumer, "PATCH", "/v1/endpoints/"+epID, map[string]any{"url": grant.URL()})); ep["status"] == "disabled" || ep["disabled_reason"] != nil {
		t.Fatalf("after URL change: %v", ep)
	}
	eventually(t, 10*time.Second, "verified at the new URL", func() bool {
		ep := e.must(200, e.do(w.consumer, "GET", "/v1/endpoints/"+epID, nil))
		return ep["status"] == "active" && ep["verified_by"] == "handshake"
	})
	// Back to the refusing URL: pending again.
	if ep := e.must(200, e.do(w.consumer, "PATCH", "/v1/endpoints/"+epID, map[string]any{"url": refuse.URL()})); ep["status"] != "pending" || ep["verified_at"] != nil {
		t.Fatalf("after second URL change: %v", ep)
	}
}
