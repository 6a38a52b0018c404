package app_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestRestartLosesNothing accepts events while the receiver is down, stops
// Herald, starts it again on the same database, and sees every event
// delivered once the receiver is back.
func TestRestartLosesNothing(t *testing.T) {
	t.Parallel()
	e := setup(t, withSchedule("100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms"))
	w := e.world()
	rc := newReceiver(t)
	up := false
	rc.respond = func(int, *http.Request) int {
		if up {
			return http.StatusOK
		}
		return http.StatusServiceUnavailable
	}
	_, rc.secret = e.endpoint(w.consumer, rc.URL(), w.typ)
	for b := range 3 {
		batch := make([]map[string]any, 100)
		for i := range batch {
			batch[i] = orderEvent(fmt.Sprintf("restart-%d-%d", b, i), 1)
		}
		e.must(202, e.send(w.producer, batch...))
	}
	e.stop()
	rc.mu.Lock()
	up = true
	rc.mu.Unlock()
	e.start()
	rc.waitEvents(300, 60*time.Second)
	_, _, bad, _ := rc.snapshot()
	if len(bad) > 0 {
		t.Fatalf("receiver problems: %v", bad[0])
	}
	// The producer's outbox may resend after the restart: still no duplicates.
	e.must(202, e.send(w.producer, orderEvent("restart-0-0", 1)))
	time.Sleep(300 * time.Millisecond)
	events, _, _, _ := rc.snapshot()
	if events["restart-0-0"] != 1 {
		t.Fatalf("restart-0-0 delivered %d times", events["restart-0-0"])
	}
}
