package faults

import (
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestSIGTERMFinishesDeliveriesInFlight sends SIGTERM to `herald serve`
// while 50 deliveries, and the connector runs of the same events, wait on
// receivers that answer after 2 s: /readyz answers 503 at once, the process
// records every delivery as delivered and every running connector run as
// done, exits 0 well before the shutdown timeout, and after a restart no
// receiver gets a second request for any of them (the connector runs that
// had not started yet run then).
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
	// A connector forwarding the same events to a second slow receiver;
	// its runs go through their own queue (8 at a time).
	legacy := newReceiver(t, 2*time.Second)
	n.must(201, "POST", "/v1/connectors", n.consumer, map[string]any{
		"name": "legacy", "kind": "http", "types": []string{eventType}, "config": map[string]any{"url": legacy.url()}})

	ids := eventIDs("term", 50)
	n.produce(producer, ids, 50)
	if !waitFor(30*time.Second, func() bool { return rc.inFlight.Load() == 50 && legacy.inFlight.Load() > 0 }) {
		t.Fatalf("%d of 50 deliveries and %d connector runs reached their receivers", rc.inFlight.Load(), legacy.inFlight.Load())
	}
	runsInFlight := legacy.inFlight.Load()

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
	t.Logf("SIGTERM with 50 deliveries and %d connector runs on the wire: exit 0 after %s", runsInFlight, took.Round(100*time.Millisecond))
	if got := n.status("/healthz"); got != 0 {
		t.Errorf("something still answers on %s after exit: %d", n.addr, got)
	}
	if ok := dbCount(t, dsn, `SELECT count(*) FROM deliveries WHERE status = 'succeeded'`); ok != 50 {
		t.Fatalf("%d of 50 deliveries recorded as succeeded after shutdown", ok)
	}
	if n := dbCount(t, dsn, `SELECT count(*) FROM delivery_attempts`); n != 50 {
		t.Errorf("%d attempts recorded, want exactly 50", n)
	}
	if done := dbCount(t, dsn, `SELECT count(*) FROM connector_runs WHERE status = 'succeeded'`); done < int(runsInFlight) {
		t.Errorf("%d connector runs recorded as succeeded after shutdown; %d were running when it began", done, runsInFlight)
	}

	// Restart: nothing is sent again.
	n.restart()
	time.Sleep(5 * time.Second) // River would have retried interrupted jobs after ~1 s
	rep := rc.report()
	if rep.events != 50 || rep.requests != 50 || len(rep.duplicated) > 0 {
		t.Fatalf("receiver got %d requests for %d events (sent twice: %v), want exactly one each", rep.requests, rep.events, rep.duplicated)
	}
	if !waitFor(60*time.Second, func() bool { return len(legacy.missing(ids)) == 0 }) {
		t.Fatalf("%d connector runs never ran after the restart", len(legacy.missing(ids)))
	}
	if rep := legacy.report(); rep.requests != 50 || len(rep.duplicated) > 0 {
		t.Fatalf("connector receiver got %d requests for %d events (twice: %v), want exactly one each", rep.requests, rep.events, rep.duplicated)
	}
	n.signal(syscall.SIGTERM)
	if code, _ := n.wait(30 * time.Second); code != 0 {
		t.Errorf("second node exited with %d", code)
	}
}

// TestSIGTERMCancelsWorkPastTheTimeout: a receiver that hangs holds
// deliveries past HERALD_SHUTDOWN_TIMEOUT. Herald cancels them when the
// timeout ends, exits 0 without recording them as the receiver's failure,
// and after a restart sends them again with the same webhook-id.
func TestSIGTERMCancelsWorkPastTheTimeout(t *testing.T) {
	t.Parallel()
	dsn := heraldtest.NewDatabase(t)
	rc := newReceiver(t, time.Hour)
	env := baseEnv(t, freeAddr(t))
	env["HERALD_DATABASE_URL"] = dsn
	env["HERALD_SHUTDOWN_TIMEOUT"] = "3s"
	n := startNode(t, env)
	producer, _ := n.world(rc.url())
	ids := eventIDs("hang", 10)
	n.produce(producer, ids, 10)
	if !waitFor(30*time.Second, func() bool { return rc.inFlight.Load() == 10 }) {
		t.Fatalf("%d of 10 deliveries reached the receiver", rc.inFlight.Load())
	}
	n.signal(syscall.SIGTERM)
	code, took := n.wait(30 * time.Second)
	if code != 0 {
		t.Errorf("herald exited with %d", code)
	}
	if took < 3*time.Second || took > 15*time.Second {
		t.Errorf("shutdown took %s with a 3 s timeout and a hanging receiver", took)
	}
	t.Logf("SIGTERM with 10 deliveries held by a hanging receiver and a 3 s timeout: exit 0 after %s", took.Round(100*time.Millisecond))
	if got := dbCount(t, dsn, `SELECT count(*) FROM deliveries WHERE status = 'pending' AND attempts = 0`); got != 10 {
		t.Fatalf("%d of 10 cut-short deliveries are pending with no attempt recorded", got)
	}

	rc.delay.Store(0) // the receiver is back
	n.restart()
	if !waitFor(30*time.Second, func() bool {
		return dbCount(t, dsn, `SELECT count(*) FROM deliveries WHERE status = 'succeeded' AND attempts = 1`) == 10
	}) {
		t.Fatal("the cut-short deliveries were not delivered after the restart")
	}
	rep := rc.report()
	if rep.events != 10 || len(rep.mixedIDs) > 0 {
		t.Fatalf("events %d, with more than one webhook-id: %v", rep.events, rep.mixedIDs)
	}
	if len(rep.duplicated) != 10 {
		t.Errorf("%d events sent twice; each was on the wire when cancelled, so each comes again", len(rep.duplicated))
	}
}
