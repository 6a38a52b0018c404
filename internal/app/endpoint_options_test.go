package app_test

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestEndpointConfigAndHeaders: the endpoint's config object and static
// headers arrive with every delivery; header values are never shown back.
func TestEndpointConfigAndHeaders(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	rc := newReceiver(t)
	var mu sync.Mutex
	var got []http.Header
	rc.respond = func(_ int, r *http.Request) int {
		mu.Lock()
		got = append(got, r.Header.Clone())
		mu.Unlock()
		return http.StatusNoContent
	}
	m := e.must(201, e.do(w.consumer, "POST", "/v1/endpoints", map[string]any{
		"url": rc.URL(), "types": []string{w.typ},
		"config":  map[string]any{"team": "alpha", "flow": "plată"},
		"headers": map[string]string{"X-Api-Key": "k-123"},
	}))
	epID := m["id"].(string)
	rc.secret = m["secret"].(string)
	if h := m["headers"].(map[string]any); h["X-Api-Key"] != "****" {
		t.Fatalf("headers shown as %v", h)
	}
	e.must(202, e.send(w.producer, orderEvent("cfg-1", 1)))
	rc.waitEvents(1, 10*time.Second)
	mu.Lock()
	h := got[0]
	mu.Unlock()
	if h.Get("X-Api-Key") != "k-123" {
		t.Fatalf("static header missing: %v", h)
	}
	raw := h.Get("Herald-Endpoint-Config")
	var cfg map[string]string
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil || cfg["team"] != "alpha" || cfg["flow"] != "plată" {
		t.Fatalf("config header %q: %v", raw, err)
	}
	for _, c := range raw {
		if c > 0x7f {
			t.Fatalf("config header is not ASCII: %q", raw)
		}
	}

	// Herald's own headers cannot be overridden; config must be an object.
	for _, body := range []map[string]any{
		{"headers": map[string]string{"webhook-signature": "v1,forged"}},
		{"headers": map[string]string{"X-Bad": "a\r\nInjected: 1"}},
		{"config": []int{1, 2}},
	} {
		p := e.must(422, e.do(w.consumer, "PATCH", "/v1/endpoints/"+epID, body))
		if f := p["errors"].([]any)[0].(map[string]any)["field"]; f != "headers" && f != "config" {
			t.Fatalf("problem = %v", p)
		}
	}
	// Clearing both.
	m = e.must(200, e.do(w.consumer, "PATCH", "/v1/endpoints/"+epID, map[string]any{"headers": map[string]string{}, "config": nil}))
	if m["headers"] != nil || m["config"] != nil {
		t.Fatalf("not cleared: %v", m)
	}
}
