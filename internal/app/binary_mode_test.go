package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// binaryRequest is one request a binary-mode receiver got.
type binaryRequest struct {
	header http.Header
	body   []byte
	sigErr error
}

// TestEndpointBinaryMode: an endpoint with content_mode binary receives the
// event's data as the body with its media type, every attribute and
// extension as a ce- header (percent-encoded), and a Standard Webhooks
// signature over the body as sent. A thin type's notification comes the
// same way, with ce-dataref and only the kept fields. Bad modes are refused.
func TestEndpointBinaryMode(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.thinWorld(nil) // thin type keeping $.order
	var mu sync.Mutex
	var got []binaryRequest
	var secret string
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			rw.Header().Set("WebHook-Allowed-Origin", "*")
			return
		}
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		wh, err := standardwebhooks.NewWebhook(secret)
		if err == nil {
			err = wh.Verify(body, r.Header)
		}
		got = append(got, binaryRequest{header: r.Header.Clone(), body: body, sigErr: err})
		rw.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)

	e.must(422, e.do(w.consumer, "POST", "/v1/endpoints", map[string]any{
		"url": srv.URL, "types": []string{w.typ}, "content_mode": "batch"}))
	m := e.must(201, e.do(w.consumer, "POST", "/v1/endpoints", map[string]any{
		"url": srv.URL, "types": []string{w.typ}, "content_mode": "binary"}))
	if m["content_mode"] != "binary" {
		t.Fatalf("endpoint = %v", m)
	}
	mu.Lock()
	secret = m["secret"].(string)
	mu.Unlock()

	ev := orderWithNote("bin-1")
	ev["subject"] = "orders/bin 1 \"é\""
	ev["partitionkey"] = "customer-7"
	ev["time"] = "2026-11-29T08:00:00Z"
	e.must(202, e.send(w.producer, ev))
	eventually(t, 10*time.Second, "the binary delivery", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 1
	})
	mu.Lock()
	req := got[0]
	mu.Unlock()
	if req.sigErr != nil {
		t.Fatalf("signature over the binary body: %v", req.sigErr)
	}
	h := req.header
	for name, want := range map[string]string{
		"Ce-Specversion": "1.0", "Ce-Id": "bin-1", "Ce-Source": "/shop", "Ce-Type": w.typ,
		"Ce-Subject": "orders/bin%201%20%22%C3%A9%22", "Ce-Partitionkey": "customer-7",
		"Ce-Time": "2026-11-29T08:00:00Z", "Content-Type": "application/json",
	} {
		if h.Get(name) != want {
			t.Errorf("%s = %q, want %q", name, h.Get(name), want)
		}
	}
	if ref := h.Get("Ce-Dataref"); ref != e.app.URL()+"/v1/integration/events/"+sentID(t, e, "bin-1") {
		t.Errorf("ce-dataref = %q", ref)
	}
	var data map[string]any
	if err := json.Unmarshal(req.body, &data); err != nil || len(data) != 1 || data["order"] != "bin-1" {
		t.Fatalf("body = %s, want the thin data {\"order\":\"bin-1\"} only", req.body)
	}

	// Back to structured: the whole (thin) event as JSON again.
	epID := m["id"].(string)
	if p := e.must(200, e.do(w.consumer, "PATCH", "/v1/endpoints/"+epID, map[string]any{"content_mode": "structured"})); p["content_mode"] != "structured" {
		t.Fatalf("patched = %v", p)
	}
	e.must(422, e.do(w.consumer, "PATCH", "/v1/endpoints/"+epID, map[string]any{"content_mode": "binry"}))
	e.must(202, e.send(w.producer, orderWithNote("bin-2")))
	eventually(t, 10*time.Second, "the structured delivery", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 2
	})
	mu.Lock()
	defer mu.Unlock()
	var whole map[string]any
	if err := json.Unmarshal(got[1].body, &whole); err != nil || whole["id"] != "bin-2" ||
		got[1].header.Get("Content-Type") != "application/cloudevents+json; charset=utf-8" || got[1].header.Get("Ce-Id") != "" {
		t.Fatalf("structured delivery: %v %s", got[1].header, got[1].body)
	}
}

// sentID returns Herald's id of the stored event with a CloudEvents id.
func sentID(t *testing.T, e *env, ceID string) string {
	t.Helper()
	var id string
	if err := e.app.Pool().QueryRow(t.Context(), `SELECT id::text FROM events WHERE ce_id = $1`, ceID).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}
