package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestDeliveryRequestView: GET /v1/deliveries/{id}/request shows what the
// receiver got. Every header it lists reached the receiver with that value
// but the masked ones (the signature's value, the static header's value,
// the timestamp of another moment), nothing else reached it but what the
// transport adds, and the body is the one sent: a thin type's notification
// in binary mode, not the stored payload. Others do not see it.
func TestDeliveryRequestView(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.thinWorld(nil) // thin type keeping $.order
	var mu sync.Mutex
	var got []binaryRequest
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			rw.Header().Set("WebHook-Allowed-Origin", "*")
			return
		}
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, binaryRequest{header: r.Header.Clone(), body: body})
		mu.Unlock()
		rw.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)

	ep := e.must(201, e.do(w.consumer, "POST", "/v1/endpoints", map[string]any{
		"url": srv.URL, "types": []string{w.typ}, "content_mode": "binary",
		"headers": map[string]string{"X-Api-Key": "k-123-secret"}, "config": map[string]any{"team": "blue"}}))
	e.must(202, e.send(w.producer, orderWithNote("req-1")))
	eventually(t, 10*time.Second, "the delivery", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 1
	})
	mu.Lock()
	sent := got[0]
	mu.Unlock()

	page := e.must(200, e.do(w.consumer, "GET", "/v1/endpoints/"+ep["id"].(string)+"/deliveries", nil))
	id := page["data"].([]any)[0].(map[string]any)["id"].(string)
	r := e.do(w.consumer, "GET", "/v1/deliveries/"+id+"/request", nil)
	view := e.must(200, r)
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("the request view is cacheable: %v", r.header)
	}
	if view["method"] != "POST" || view["url"] != srv.URL {
		t.Errorf("view %v %v", view["method"], view["url"])
	}
	if view["body"] != string(sent.body) {
		t.Errorf("view body %q, sent %q", view["body"], sent.body)
	}
	var data map[string]any
	if err := json.Unmarshal([]byte(view["body"].(string)), &data); err != nil || len(data) != 1 || data["order"] != "req-1" {
		t.Errorf("the view shows %v, want the thin data only", view["body"])
	}
	headers := view["headers"].(map[string]any)
	masked := map[string]string{"Webhook-Signature": "v1,<signature>", "X-Api-Key": "****"}
	for k, v := range headers {
		switch {
		case k == "Webhook-Timestamp":
			if sent.header.Get(k) == "" {
				t.Errorf("no %s was sent", k)
			}
		case masked[k] != "":
			if v != masked[k] || sent.header.Get(k) == "" || strings.Contains(v.(string), sent.header.Get(k)) {
				t.Errorf("%s: view %q, sent %q", k, v, sent.header.Get(k))
			}
		case strings.Join(sent.header.Values(k), ", ") != v:
			t.Errorf("%s: view %q, sent %q", k, v, sent.header.Values(k))
		}
	}
	for k := range sent.header {
		if _, ok := headers[k]; !ok && k != "Content-Length" && k != "Accept-Encoding" {
			t.Errorf("%s was sent but is not in the view", k)
		}
	}
	for _, k := range []string{"Ce-Dataref", "Herald-Endpoint-Config", "Herald-Sequence", "Webhook-Id"} {
		if headers[k] == nil {
			t.Errorf("the view has no %s: %v", k, headers)
		}
	}

	// A platform admin sees it; the admin of the type's owning tenant
	// (another tenant than the endpoint's) and the producer do not.
	e.must(200, e.do(admin, "GET", "/v1/deliveries/"+id+"/request", nil))
	e.must(404, e.do(w.ownerAdmin, "GET", "/v1/deliveries/"+id+"/request", nil))
	e.must(404, e.do(w.producer, "GET", "/v1/deliveries/"+id+"/request", nil))
}
