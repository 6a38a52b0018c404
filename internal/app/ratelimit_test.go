package app_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestRateLimit: an endpoint limited to 20 deliveries per second receives a
// backlog at that rate (within 10 % over 30 seconds), and every event still
// arrives once.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	rc := newReceiver(t)
	var mu sync.Mutex
	var times []time.Time
	rc.respond = func(int, *http.Request) int {
		mu.Lock()
		times = append(times, time.Now())
		mu.Unlock()
		return http.StatusNoContent
	}
	m := e.must(201, e.do(w.consumer, "POST", "/v1/endpoints", map[string]any{
		"url": rc.URL(), "types": []string{w.typ}, "rate_limit": 20,
	}))
	rc.secret = m["secret"].(string)
	if m["rate_limit"] != float64(20) {
		t.Fatalf("endpoint = %v", m)
	}
	const n = 621 // 620 intervals of 50 ms: 31 s
	for b := 0; b < n; b += 100 {
		batch := []map[string]any{}
		for i := b; i < min(b+100, n); i++ {
			batch = append(batch, orderEvent(fmt.Sprintf("rl-%d", i), 1))
		}
		e.must(202, e.send(w.producer, batch...))
	}
	rc.waitEvents(n, 60*time.Second)
	mu.Lock()
	defer mu.Unlock()
	span := times[len(times)-1].Sub(times[0])
	rate := float64(len(times)-1) / span.Seconds()
	t.Logf("%d deliveries in %s: %.2f/s", len(times), span, rate)
	if rate > 22 || rate < 18 {
		t.Fatalf("%d deliveries in %s: %.1f/s, want 20/s within 10%%", len(times), span, rate)
	}
	events, _, bad, _ := rc.snapshot()
	if len(bad) > 0 || len(events) != n {
		t.Fatalf("%d distinct events, problems %v", len(events), bad)
	}
	e.must(422, e.do(w.consumer, "POST", "/v1/endpoints", map[string]any{"url": rc.URL(), "types": []string{w.typ}, "rate_limit": -1}))
}
