package faults

import (
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// startTimedNode starts `herald serve` on a database of the test's own with
// the given job timeout and rescue margin, and a world whose endpoint is
// rc. It returns the node, its database and the producer's credential.
func startTimedNode(t *testing.T, rc *receiver, jobTimeout, rescueMargin time.Duration) (*node, string, string) {
	t.Helper()
	dsn := heraldtest.NewDatabase(t)
	env := baseEnv(t, freeAddr(t))
	env["HERALD_DATABASE_URL"] = dsn
	env["HERALD_JOB_TIMEOUT"] = jobTimeout.String()
	env["HERALD_RESCUE_MARGIN"] = rescueMargin.String()
	n := startNode(t, env)
	producer, _ := n.world(rc.url())
	return n, dsn, producer
}

// TestKill9RescuesDeliveriesInFlight kills `herald serve` with SIGKILL
// while thousands of deliveries are in flight, then starts it again: the
// jobs the dead process held are rescued soon after the job timeout (not
// River's default hour), every accepted event reaches the receiver within
// job timeout + rescue margin + a minute, only deliveries that were on the
// wire are sent twice, and every event keeps one webhook-id.
func TestKill9RescuesDeliveriesInFlight(t *testing.T) {
	t.Parallel()
	events := 2000
	if full() {
		events = 20000
	}
	const (
		jobTimeout   = 16 * time.Second // the least Herald accepts: one attempt (15 s) and a second
		rescueMargin = 2 * time.Second
		// The longest job is an ordered drain: a job timeout plus its
		// 10-second budget.
		rescueAfter = jobTimeout + 10*time.Second + rescueMargin
	)
	rc := newReceiver(t, 250*time.Millisecond)
	n, _, producer := startTimedNode(t, rc, jobTimeout, rescueMargin)

	ids := eventIDs("crash", events)
	n.produce(producer, ids, 100)
	// Kill it mid-way, with deliveries on the wire.
	if !waitFor(120*time.Second, func() bool { return rc.got() >= events/4 && rc.inFlight.Load() > 10 }) {
		t.Fatalf("only %d of %d events delivered before the kill (%d in flight)", rc.got(), events, rc.inFlight.Load())
	}
	onWire := rc.inFlight.Load()
	n.signal(syscall.SIGKILL)
	killedAt := time.Now()
	n.wait(10 * time.Second)
	delivered := rc.got()

	n.restart()
	// Requests the killed process wrote may still reach the receiver's
	// handlers a moment after the kill (they sat in socket buffers); none of
	// its requests can start after the new process is serving.
	restartedAt := time.Now()
	deadline := rescueAfter + time.Minute
	if !waitFor(time.Until(killedAt.Add(deadline)), func() bool { return len(rc.missing(ids)) == 0 }) {
		miss := rc.missing(ids)
		t.Fatalf("%d of %d events not delivered %s after the kill (job timeout %s + rescue margin %s + 1m)",
			len(miss), events, deadline, jobTimeout, rescueMargin)
	}
	recovered := time.Since(killedAt)
	time.Sleep(2 * time.Second) // let stragglers show as duplicates
	rep := rc.report()
	if len(rep.mixedIDs) > 0 {
		t.Errorf("%d events arrived with more than one webhook-id, e.g. %s", len(rep.mixedIDs), rep.mixedIDs[0])
	}
	for _, id := range rep.duplicated {
		if rc.firstAt(id).After(restartedAt) {
			t.Errorf("event %s was sent twice although its first request came from the restarted node", id)
			break
		}
	}
	// What was on the wire, plus what was answered but not yet recorded
	// (at most one record batch per worker), may come again; nothing else.
	if limit := int(onWire) + 256; len(rep.duplicated) > limit {
		t.Errorf("%d events sent twice; at most %d were on the wire or unrecorded", len(rep.duplicated), limit)
	}
	t.Logf("kill -9 with %d of %d delivered and %d on the wire: all delivered %s after the kill; %d sent twice, 0 lost",
		delivered, events, onWire, recovered.Round(time.Second), len(rep.duplicated))
	if got := n.status("/healthz"); got != http.StatusOK {
		t.Errorf("/healthz after recovery = %d", got)
	}
}

// TestKill9DuringHandoff: the node that stores events makes their first
// attempts itself, at once, while their River jobs wait, scheduled at the
// end of a lease (job timeout + rescue margin), as the durable record. It
// is killed with SIGKILL while those attempts hang on the receiver, and
// started again: River runs the jobs when the lease ends, not before (the
// first node might still have been sending), every event arrives, and
// each keeps its one webhook-id.
func TestKill9DuringHandoff(t *testing.T) {
	t.Parallel()
	const (
		jobTimeout   = 16 * time.Second
		rescueMargin = 2 * time.Second
		lease        = jobTimeout + rescueMargin
	)
	rc := newReceiver(t, time.Hour)
	n, dsn, producer := startTimedNode(t, rc, jobTimeout, rescueMargin)

	ids := eventIDs("handoff", 10)
	producedAt := time.Now()
	n.produce(producer, ids, 10)
	if !waitFor(30*time.Second, func() bool { return rc.inFlight.Load() == 10 }) {
		t.Fatalf("%d of 10 first attempts reached the receiver", rc.inFlight.Load())
	}
	// The attempts are the handoff's: their job waits for the lease, and
	// River runs nothing.
	jobs := `SELECT count(*) FROM river_job WHERE kind LIKE 'herald.deliver%' AND state = $1`
	if s, r := dbCount(t, dsn, jobs, "scheduled"), dbCount(t, dsn, jobs, "running"); s != 1 || r != 0 {
		t.Fatalf("while the attempts hang: %d scheduled and %d running delivery jobs, want the batch's one scheduled", s, r)
	}
	n.signal(syscall.SIGKILL)
	n.wait(10 * time.Second)
	rc.delay.Store(0) // the receiver is back
	n.restart()

	if !waitFor(lease+30*time.Second, func() bool { return rc.answeredAll(ids) }) {
		t.Fatalf("%d of 10 events answered %s after they were stored (lease %s)", rc.answeredCount(ids), time.Since(producedAt).Round(time.Second), lease)
	}
	rep := rc.report()
	if rep.events != 10 || rep.requests != 20 || len(rep.mixedIDs) > 0 {
		t.Fatalf("%d events in %d requests (more than one webhook-id: %v); want each sent twice, before and after the kill", rep.events, rep.requests, rep.mixedIDs)
	}
	for _, id := range ids {
		if at := rc.lastAt(id); at.Before(producedAt.Add(lease - time.Second)) {
			t.Fatalf("event %s sent again %s after it was stored, before its lease (%s) ended", id, at.Sub(producedAt).Round(time.Millisecond), lease)
		}
	}
	t.Logf("kill -9 with 10 handed-off attempts on the wire: all sent again %s after they were stored (lease %s)",
		time.Since(producedAt).Round(time.Second), lease)
}
