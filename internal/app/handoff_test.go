package app_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestHandoffMakesFirstAttempts: the node that stores an event makes its
// deliveries' first attempts itself, right after the commit. The River job
// stored with them is only the durable record: it never runs, and is
// deleted once the attempt is recorded. A first attempt that fails leaves
// one job, its retry's, which River runs on the schedule. While deliveries
// are paused the handoff attempts nothing either; River delivers once they
// are resumed.
func TestHandoffMakesFirstAttempts(t *testing.T) {
	t.Parallel()
	e := setup(t, withSchedule("200ms"))
	w := e.world()
	rc := newReceiver(t)
	var failFirst atomic.Bool
	rc.respond = func(n int, r *http.Request) int {
		if n == 1 && failFirst.Load() {
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	}
	_, secret := e.endpoint(w.consumer, rc.URL(), w.typ)
	rc.secret = secret
	ctx := context.Background()
	jobs := func() (kinds map[string]int) {
		kinds = map[string]int{}
		rows, err := e.app.Pool().Query(ctx, `SELECT kind, state FROM river_job WHERE kind LIKE 'herald.deliver%'`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var kind, state string
			if err := rows.Scan(&kind, &state); err != nil {
				t.Fatal(err)
			}
			kinds[kind+" "+state]++
		}
		return kinds
	}
	attempts := func(event string) (n int) {
		err := e.app.Pool().QueryRow(ctx, `SELECT d.attempts FROM deliveries d JOIN events v ON v.id = d.event_id
			WHERE v.ce_id = $1`, event).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	// Delivered by the handoff: its job is gone, not completed by River.
	e.must(202, e.send(w.producer, orderEvent("h-1", 1)))
	rc.waitEvents(1, 10*time.Second)
	eventually(t, 5*time.Second, "the handed-off job deleted", func() bool { return len(jobs()) == 0 })
	if n := attempts("h-1"); n != 1 {
		t.Fatalf("h-1: %d attempts recorded, want 1", n)
	}

	// A failed first attempt: one job left, for the retry, run by River.
	failFirst.Store(true)
	e.must(202, e.send(w.producer, orderEvent("h-2", 1)))
	rc.waitEvents(2, 10*time.Second)
	eventually(t, 5*time.Second, "the retry's job completed", func() bool {
		j := jobs()
		return len(j) == 1 && j["herald.deliver completed"] == 1
	})
	if n := attempts("h-2"); n != 2 {
		t.Fatalf("h-2: %d attempts recorded, want 2", n)
	}
	failFirst.Store(false)

	// Paused: nothing is sent, the job waits for River.
	if err := e.app.Queue().PauseDeliveries(ctx); err != nil {
		t.Fatal(err)
	}
	e.must(202, e.send(w.producer, orderEvent("h-3", 1)))
	time.Sleep(time.Second)
	if j := jobs(); j["herald.deliver available"] != 1 {
		t.Fatalf("paused: delivery jobs %v, want h-3's available to River", j)
	}
	if n := attempts("h-3"); n != 0 {
		t.Fatalf("h-3 attempted %d times while deliveries were paused", n)
	}
	if err := e.app.Queue().ResumeDeliveries(ctx); err != nil {
		t.Fatal(err)
	}
	rc.waitEvents(3, 10*time.Second)
	events, _, bad, _ := rc.snapshot()
	if len(bad) > 0 {
		t.Fatal(bad[0])
	}
	for id, n := range events {
		if n != 1 {
			t.Fatalf("event %s received %d times, want once", id, n)
		}
	}
}
