package app_test

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestWebhookDeadLetters: a webhook delivery that used up its attempts is
// in the dead-event store (channel webhook, with its endpoint and
// delivery, filtered by endpoint and type), seen by the endpoint's client
// and the tenant's admins and by nobody else; a redrive retries it to the
// now healthy receiver and takes it out of the store; a retry through the
// deliveries API takes it out too.
func TestWebhookDeadLetters(t *testing.T) {
	t.Parallel()
	e := setup(t, withSchedule("50ms,50ms"))
	w := e.world()
	rc := newReceiver(t)
	var healthy atomic.Bool
	rc.respond = func(int, *http.Request) int {
		if healthy.Load() {
			return http.StatusOK
		}
		return http.StatusInternalServerError
	}
	epID, secret := e.endpoint(w.consumer, rc.URL(), w.typ)
	rc.secret = secret
	deadOf := func(c cred, query string) []map[string]any {
		t.Helper()
		var out []map[string]any
		for _, d := range e.must(200, e.do(c, "GET", "/v1/dead-events"+query, nil))["data"].([]any) {
			out = append(out, d.(map[string]any))
		}
		return out
	}
	e.must(202, e.send(w.producer, orderEvent("doomed", 1)))
	var dead []map[string]any
	eventually(t, 10*time.Second, "the failed delivery in the dead-event store", func() bool {
		dead = deadOf(w.consumer, "")
		return len(dead) == 1
	})
	d := dead[0]
	if d["channel"] != "webhook" || d["endpoint"] != epID || d["type"] != w.typ || d["delivery_id"] == nil ||
		!strings.Contains(d["reason"].(string), "500") || d["group"] != nil || d["partition"] != nil {
		t.Fatalf("dead event: %v", d)
	}
	delivery := e.must(200, e.do(w.consumer, "GET", "/v1/deliveries/"+d["delivery_id"].(string), nil))
	if delivery["status"] != "failed" || delivery["attempts"] != float64(3) {
		t.Fatalf("its delivery: %v", delivery)
	}
	if got := deadOf(w.consumer, "?endpoint="+epID+"&type="+w.typ); len(got) != 1 {
		t.Fatalf("filtered by its endpoint: %v", got)
	}
	if got := deadOf(w.consumer, "?endpoint=00000000-0000-7000-8000-000000000000"); len(got) != 0 {
		t.Fatalf("filtered by another endpoint: %v", got)
	}
	if f, rule := problemField(t, e.do(w.consumer, "GET", "/v1/dead-events?endpoint=nope", nil)); f != "endpoint" || rule != "format" {
		t.Fatalf("a bad endpoint filter: %s/%s", f, rule)
	}
	_, tenantAdmin := e.client(admin, w.consumerTenant, "consumer admin", "admin")
	if got := deadOf(tenantAdmin, ""); len(got) != 1 {
		t.Fatalf("the tenant's admin sees %v", got)
	}

	// Another tenant's consumer neither sees nor redrives it.
	_, nosy := e.client(admin, e.tenant("nosy-"+t.Name()), "nosy", "consumer")
	if got := deadOf(nosy, ""); len(got) != 0 {
		t.Fatalf("another tenant sees %v", got)
	}
	e.must(404, e.do(nosy, "POST", "/v1/dead-events/"+d["id"].(string)+"/redrive", nil))

	// Redrive: delivered to the healthy receiver, gone from the store.
	healthy.Store(true)
	e.must(204, e.do(w.consumer, "POST", "/v1/dead-events/"+d["id"].(string)+"/redrive", nil))
	if got := deadOf(w.consumer, ""); len(got) != 0 {
		t.Fatalf("after the redrive: %v", got)
	}
	rc.waitEvents(1, 10*time.Second)
	eventually(t, 5*time.Second, "the redriven delivery succeeded", func() bool {
		m := e.must(200, e.do(w.consumer, "GET", "/v1/deliveries/"+d["delivery_id"].(string), nil))
		return m["status"] == "succeeded"
	})
	e.must(404, e.do(w.consumer, "POST", "/v1/dead-events/"+d["id"].(string)+"/redrive", nil))

	// A retry through the deliveries API takes a dead letter out as well.
	healthy.Store(false)
	e.must(202, e.send(w.producer, orderEvent("doomed-2", 1)))
	eventually(t, 10*time.Second, "the second failed delivery in the store", func() bool {
		dead = deadOf(w.consumer, "")
		return len(dead) == 1
	})
	healthy.Store(true)
	e.must(202, e.do(w.consumer, "POST", "/v1/deliveries/"+dead[0]["delivery_id"].(string)+"/retry", nil))
	if got := deadOf(w.consumer, ""); len(got) != 0 {
		t.Fatalf("after a retry by hand: %v", got)
	}
	rc.waitEvents(2, 10*time.Second)
}
