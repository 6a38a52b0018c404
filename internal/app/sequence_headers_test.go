package app_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

// TestWebhookCarriesSequenceAndReceiveTime: every webhook delivery carries
// the event's sequence (20 digits) and receive time in Herald-Sequence and
// Herald-Received-At, as ingest answered them; static headers cannot take
// those names.
func TestWebhookCarriesSequenceAndReceiveTime(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	var mu sync.Mutex
	got := map[string]http.Header{} // by webhook body's event id
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			rw.Header().Set("WebHook-Allowed-Origin", "*")
			return
		}
		mu.Lock()
		got[r.Header.Get("ce-id")+r.Header.Get("webhook-id")] = r.Header.Clone()
		mu.Unlock()
		rw.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	wantProblem(t, e.do(w.consumer, "POST", "/v1/endpoints", map[string]any{
		"url": srv.URL, "types": []string{w.typ}, "headers": map[string]string{"herald-sequence": "1"}}), 422, "headers", "headers")
	e.endpoint(w.consumer, srv.URL, w.typ)

	accepted := e.must(202, e.send(w.producer, orderEvent("s-1", 1), orderEvent("s-2", 2)))["events"].([]any)
	eventually(t, 10*time.Second, "two deliveries", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 2
	})
	want := map[string]bool{}
	for _, a := range accepted {
		a := a.(map[string]any)
		at, err := time.Parse(time.RFC3339Nano, a["received_at"].(string))
		if err != nil {
			t.Fatal(err)
		}
		want[herald.FormatSeq(int64(a["sequence"].(float64)))+" "+at.UTC().Format("2006-01-02T15:04:05.000Z")] = true
	}
	mu.Lock()
	defer mu.Unlock()
	for _, h := range got {
		k := h.Get("herald-sequence") + " " + h.Get("herald-received-at")
		if !want[k] {
			t.Errorf("delivery headers %q, want one of %v", k, want)
		}
		delete(want, k)
	}
}
