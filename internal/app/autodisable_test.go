package app_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/app"
)

// TestAutoDisableAndRecover: an endpoint failing without a single success
// for longer than the threshold is disabled; once it works again, enabling
// it and recovering since a time sends everything that failed.
func TestAutoDisableAndRecover(t *testing.T) {
	t.Parallel()
	e := setup(t, withSchedule("100ms,100ms,100ms"), func(c *app.Config) { c.AutoDisableAfter = 700 * time.Millisecond })
	w := e.world()
	rc := newReceiver(t)
	var healthy atomic.Bool
	rc.respond = func(int, *http.Request) int {
		if healthy.Load() {
			return http.StatusNoContent
		}
		return http.StatusInternalServerError
	}
	epID, secret := e.endpoint(w.consumer, rc.URL(), w.typ)
	rc.secret = secret
	start := time.Now().Add(-time.Second)
	// Keep failing for longer than the threshold: events keep coming while
	// the receiver is down.
	for i := range 8 {
		e.must(202, e.send(w.producer, orderEvent(fmt.Sprintf("down-%d", i), 1)))
		time.Sleep(150 * time.Millisecond)
	}
	eventually(t, 10*time.Second, "endpoint auto-disabled", func() bool {
		ep := e.must(200, e.do(w.consumer, "GET", "/v1/endpoints/"+epID, nil))
		return ep["status"] == "disabled" && strings.Contains(fmt.Sprint(ep["disabled_reason"]), "no successful delivery")
	})
	// Everything still pending fails once the endpoint is disabled.
	eventually(t, 10*time.Second, "deliveries settled", func() bool {
		d := e.must(200, e.do(w.consumer, "GET", "/v1/endpoints/"+epID+"/deliveries?status=pending", nil))["data"].([]any)
		return len(d) == 0
	})
	e.must(409, e.do(w.consumer, "POST", "/v1/endpoints/"+epID+"/recover", map[string]any{"since": start}))

	// Events that arrived while the endpoint was disabled were not routed to
	// it; the failed deliveries are what recover sends again.
	failed := len(e.must(200, e.do(w.consumer, "GET", "/v1/endpoints/"+epID+"/deliveries?status=failed", nil))["data"].([]any))
	if failed == 0 {
		t.Fatal("no failed deliveries before the endpoint was disabled")
	}
	healthy.Store(true)
	e.must(200, e.do(w.consumer, "POST", "/v1/endpoints/"+epID+"/enable", nil))
	m := e.must(202, e.do(w.consumer, "POST", "/v1/endpoints/"+epID+"/recover", map[string]any{"since": start}))
	if m["recovered"] != float64(failed) {
		t.Fatalf("recover answered %v, want %d", m, failed)
	}
	rc.waitEvents(failed, 10*time.Second)
	_, _, bad, _ := rc.snapshot()
	if len(bad) > 0 {
		t.Fatal(bad[0])
	}
	eventually(t, 5*time.Second, "all succeeded", func() bool {
		d := e.must(200, e.do(w.consumer, "GET", "/v1/endpoints/"+epID+"/deliveries?status=succeeded", nil))["data"].([]any)
		return len(d) == failed
	})
	e.must(422, e.do(w.consumer, "POST", "/v1/endpoints/"+epID+"/recover", map[string]any{}))
}
