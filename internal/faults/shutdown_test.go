package faults

import (
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestSIGTERMFinishesDeliveriesInFlight sends SIGTERM to `herald serve`
// while 50 deliveries wait on a receiver that answers after 2 s: /readyz
// answers 503 at once, the process records every delivery as delivered,
// exits 0 well before the shutdown timeout, and after a restart the
// receiver gets no second request for any of them.
func TestSIGTERMFinishesDeliveriesInFlight(t *testing.T) {
	t.Parallel()
	dsn := heraldtest.NewDatabase(t)
	rc := newReceiver(t, 2*time.Second)
	env := baseEnv(t, freeAddr(t))
	env["HERALD_DATABASE_URL"] = dsn
	env["HERALD_SHUTDOWN_TIMEOUT"] = "30s"
	env["HERALD_SHUTDOWN_DELAY"] = "1s"
	n := startNode(t, env)
	producer, _ := n.world(rc.url())

	ids := eventIDs("term", 50)
	n.produce(producer, ids, 50)
	if !waitFor(30*time.Second, func() bool { return rc.inFlight.Load() == 50 }) {
		t.Fatalf("%d of 50 deliveries reached the receiver", rc.inFlight.Load())
	}

	n.signal(syscall.SIGTERM)
	// Not ready at once, while still serving during the delay.
	if !waitFor(500*time.Millisecond, func() bool { return n.status("/readyz") == http.StatusServiceUnavailable }) {
		t.Errorf("/readyz did not answer 503 right after SIGTERM")
	}
	code, took := n.wait(30 * time.Second)
	if code != 0 {
		t.Fatalf("herald exited with %d after SIGTERM", code)
	}
	if took > 15*time.Second {
		t.Errorf("shutdown took %s: want it to end once the 2 s deliveries are done", took)
	}
	if got := n.status("/healthz"); got != 0 {
		t.Errorf("something still answers on %s after exit: %d", n.addr, got)
	}
	if ok := dbCount(t, dsn, `SELECT count(*) FROM deliveries WHERE status = 'succeeded'`); ok != 50 {
		t.Fatalf("%d of 50 deliveries recorded as succeeded after shutdown", ok)
	}
	if n := dbCount(t, dsn, `SELECT count(*) FROM delivery_attempts`); n != 50 {
		t.Errorf("%d attempts recorded, want exactly 50", n)
	}

	// Restart: nothing is sent again.
	n.restart()
	time.Sleep(5 * time.Second) // River would have retried interrupted jobs after ~1 s
	rep := rc.report()
	if rep.events != 50 || rep.requests != 50 || len(rep.duplicated) > 0 {
		t.Fatalf("receiver got %d requests for %d events (sent twice: %v), want exactly one each", rep.requests, rep.events, rep.duplicated)
	}
	n.signal(syscall.SIGTERM)
	if code, _ := n.wait(30 * time.Second); code != 0 {
		t.Errorf("second node exited with %d", code)
	}
}
