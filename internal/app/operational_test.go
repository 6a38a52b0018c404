package app_test

import (
	"net/http"
	"testing"
	"time"
)

// TestOperationalEvents: a tenant can subscribe to Herald's own events
// about its endpoints like any type; other tenants never see them.
func TestOperationalEvents(t *testing.T) {
	t.Parallel()
	e := setup(t, withSchedule("50ms"))
	w := e.world()
	ops := newReceiver(t)
	_, ops.secret = e.endpoint(w.consumer, ops.URL(), "herald.>")
	// Another tenant subscribes to the same operational types.
	_, nosy := e.client(admin, e.tenant("nosy-"+t.Name()), "nosy", "consumer")
	other := newReceiver(t)
	_, other.secret = e.endpoint(nosy, other.URL(), "herald.>")

	gone := newReceiver(t)
	gone.respond = func(int, *http.Request) int { return http.StatusGone }
	goneID, _ := e.endpoint(w.consumer, gone.URL(), w.typ)
	failing := newReceiver(t)
	failing.respond = func(int, *http.Request) int { return http.StatusInternalServerError }
	failingID, _ := e.endpoint(w.consumer, failing.URL(), w.typ)

	e.must(202, e.send(w.producer, orderEvent("op-1", 1)))
	eventually(t, 15*time.Second, "operational events", func() bool {
		_, _, _, bodies := ops.snapshot()
		var disabled, exhausted bool
		for _, b := range bodies {
			data, _ := b["data"].(map[string]any)
			switch b["type"] {
			case "herald.endpoint.disabled":
				disabled = disabled || data["endpoint_id"] == goneID
			case "herald.delivery.exhausted":
				exhausted = exhausted || data["endpoint_id"] == failingID
			}
		}
		return disabled && exhausted
	})
	_, _, bad, _ := ops.snapshot()
	if len(bad) > 0 {
		t.Fatal(bad[0])
	}
	time.Sleep(300 * time.Millisecond)
	if events, calls, _, _ := other.snapshot(); len(events)+len(calls) != 0 {
		t.Fatalf("another tenant received operational events: %v", calls)
	}
	// Nobody may produce them.
	ev := orderEvent("forged", 1)
	ev["type"] = "herald.endpoint.disabled"
	e.must(403, e.send(w.producer, ev))
}
