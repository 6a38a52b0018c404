package app_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// TestSecretRotation: during the grace period every delivery carries one
// signature per live secret, so both the old and the new secret verify;
// after it, only the new one does.
func TestSecretRotation(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	rc := newReceiver(t)
	epID, oldSecret := e.endpoint(w.consumer, rc.URL(), w.typ)
	// Capture raw bodies and headers to verify with each secret ourselves.
	var mu sync.Mutex
	type req struct {
		h    http.Header
		body []byte
	}
	var reqs []req
	rc.srv.Config.Handler = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		reqs = append(reqs, req{r.Header.Clone(), b})
		mu.Unlock()
		rw.WriteHeader(http.StatusNoContent)
	})
	last := func(n int) req {
		t.Helper()
		eventually(t, 10*time.Second, "delivery", func() bool { mu.Lock(); defer mu.Unlock(); return len(reqs) >= n })
		mu.Lock()
		defer mu.Unlock()
		return reqs[n-1]
	}
	verifies := func(secret string, r req) bool {
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		return wh.Verify(r.body, r.h) == nil
	}

	e.must(202, e.send(w.producer, orderEvent("rot-1", 1)))
	r1 := last(1)
	if !verifies(oldSecret, r1) || len(strings.Fields(r1.h.Get("webhook-signature"))) != 1 {
		t.Fatalf("before rotation: %v", r1.h)
	}

	rot := e.must(200, e.do(w.consumer, "POST", "/v1/endpoints/"+epID+"/secret/rotate", map[string]any{"grace": "2s"}))
	newSecret := rot["secret"].(string)
	if newSecret == oldSecret || !strings.HasPrefix(newSecret, "whsec_") || len(rot["old_secrets_expire"].([]any)) != 1 {
		t.Fatalf("rotate answered %v", rot)
	}
	e.must(202, e.send(w.producer, orderEvent("rot-2", 1)))
	r2 := last(2)
	if len(strings.Fields(r2.h.Get("webhook-signature"))) != 2 || !verifies(oldSecret, r2) || !verifies(newSecret, r2) {
		t.Fatalf("during grace: signatures %q", r2.h.Get("webhook-signature"))
	}
	// The reveal call shows the current secret.
	if got := e.must(200, e.do(w.consumer, "GET", "/v1/endpoints/"+epID+"/secret", nil))["secret"]; got != newSecret {
		t.Fatalf("reveal = %v", got)
	}
	time.Sleep(2100 * time.Millisecond)
	e.must(202, e.send(w.producer, orderEvent("rot-3", 1)))
	r3 := last(3)
	if len(strings.Fields(r3.h.Get("webhook-signature"))) != 1 || verifies(oldSecret, r3) || !verifies(newSecret, r3) {
		t.Fatalf("after grace: signatures %q", r3.h.Get("webhook-signature"))
	}
	e.must(422, e.do(w.consumer, "POST", "/v1/endpoints/"+epID+"/secret/rotate", map[string]any{"grace": "30d"}))
}

// TestV1aSignatures: an endpoint with signing v1a gets ed25519 signatures
// that verify with a plain crypto/ed25519 check against its public key.
func TestV1aSignatures(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	rc := newReceiver(t)
	var mu sync.Mutex
	var h http.Header
	var body []byte
	rc.srv.Config.Handler = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		h, body = r.Header.Clone(), b
		mu.Unlock()
		rw.WriteHeader(http.StatusNoContent)
	})
	m := e.must(201, e.do(w.consumer, "POST", "/v1/endpoints", map[string]any{
		"url": rc.URL(), "types": []string{w.typ}, "signing": "v1a",
	}))
	pub := m["public_key"].(string)
	if !strings.HasPrefix(m["secret"].(string), "whsk_") || !strings.HasPrefix(pub, "whpk_") || m["signing"] != "v1a" {
		t.Fatalf("created %v", m)
	}
	e.must(202, e.send(w.producer, orderEvent("v1a-1", 1)))
	eventually(t, 10*time.Second, "delivery", func() bool { mu.Lock(); defer mu.Unlock(); return h != nil })
	mu.Lock()
	defer mu.Unlock()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(pub, "whpk_"))
	if err != nil {
		t.Fatal(err)
	}
	sig, ok := strings.CutPrefix(h.Get("webhook-signature"), "v1a,")
	if !ok {
		t.Fatalf("signature header %q", h.Get("webhook-signature"))
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		t.Fatal(err)
	}
	ts, _ := strconv.ParseInt(h.Get("webhook-timestamp"), 10, 64)
	msg := h.Get("webhook-id") + "." + strconv.FormatInt(ts, 10) + "." + string(body)
	if !ed25519.Verify(ed25519.PublicKey(key), []byte(msg), raw) {
		t.Fatal("v1a signature does not verify with the endpoint's public key")
	}
	e.must(422, e.do(w.consumer, "POST", "/v1/endpoints", map[string]any{"url": rc.URL(), "types": []string{w.typ}, "signing": "v2"}))
}
