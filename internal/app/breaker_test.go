package app_test

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/app"
)

// TestCircuitBreaker: once an endpoint has failed enough times in a row,
// Herald stops sending to it and probes it once per cool-down; when a
// probe succeeds everything waiting is delivered, and the waiting did not
// use up retry attempts.
func TestCircuitBreaker(t *testing.T) {
	t.Parallel()
	e := setup(t, withSchedule("100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms"), func(c *app.Config) {
		c.BreakerThreshold, c.BreakerCooldown = 5, time.Second
	})
	w := e.world()
	rc := newReceiver(t)
	var healthy atomic.Bool
	var mu sync.Mutex
	var failedAt []time.Time
	rc.respond = func(int, *http.Request) int {
		if healthy.Load() {
			return http.StatusNoContent
		}
		mu.Lock()
		failedAt = append(failedAt, time.Now())
		mu.Unlock()
		return http.StatusServiceUnavailable
	}
	epID, secret := e.endpoint(w.consumer, rc.URL(), w.typ)
	rc.secret = secret
	batch := make([]map[string]any, 30)
	for i := range batch {
		batch[i] = orderEvent(fmt.Sprintf("cb-%d", i), 1)
	}
	e.must(202, e.send(w.producer, batch...))
	time.Sleep(3 * time.Second)
	mu.Lock()
	total := len(failedAt)
	recent := 0
	for _, at := range failedAt {
		if time.Since(at) < 1500*time.Millisecond {
			recent++
		}
	}
	mu.Unlock()
	t.Logf("failed requests: %d in 3 s, %d in the last 1.5 s", total, recent)
	// Without the breaker: up to 30 × 9 attempts within about a second.
	if total > 80 || recent > 3 {
		t.Fatalf("%d failed requests in 3 s, %d in the last 1.5 s: the circuit did not hold", total, recent)
	}
	healthy.Store(true)
	rc.waitEvents(30, 20*time.Second)
	d := e.must(200, e.do(w.consumer, "GET", "/v1/endpoints/"+epID+"/deliveries?status=failed", nil))["data"].([]any)
	if len(d) != 0 {
		t.Fatalf("%d deliveries failed: deferrals used up attempts", len(d))
	}
}
