package app_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestReplayToNewEndpoint: events stored before an endpoint existed are
// replayed to it by a background job whose progress is visible; a types
// filter narrows the replay.
func TestReplayToNewEndpoint(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	start := time.Now().Add(-time.Second)
	for i := range 7 {
		e.must(202, e.send(w.producer, orderEvent(fmt.Sprintf("old-%d", i), 1)))
	}
	rc := newReceiver(t)
	epID, secret := e.endpoint(w.consumer, rc.URL(), w.typ)
	rc.secret = secret
	m := e.must(202, e.do(w.consumer, "POST", "/v1/endpoints/"+epID+"/replay", map[string]any{"from": start}))
	id := m["id"].(string)
	rc.waitEvents(7, 15*time.Second)
	_, _, bad, _ := rc.snapshot()
	if len(bad) > 0 {
		t.Fatal(bad[0])
	}
	eventually(t, 10*time.Second, "replay done", func() bool {
		r := e.must(200, e.do(w.consumer, "GET", "/v1/replays/"+id, nil))
		return r["status"] == "done" && r["queued"] == float64(7) && r["scanned"] == float64(7) &&
			r["delivered"] == float64(7) && r["failed"] == float64(0) && r["pending"] == float64(0)
	})
	// A replay limited to other types queues nothing.
	m = e.must(202, e.do(w.consumer, "POST", "/v1/endpoints/"+epID+"/replay", map[string]any{
		"from": start, "types": []string{"com.example.other.>"},
	}))
	eventually(t, 10*time.Second, "second replay done", func() bool {
		r := e.must(200, e.do(w.consumer, "GET", "/v1/replays/"+m["id"].(string), nil))
		return r["status"] == "done" && r["queued"] == float64(0)
	})
	e.must(422, e.do(w.consumer, "POST", "/v1/endpoints/"+epID+"/replay", map[string]any{}))
	_, other := e.client(admin, e.tenant("nosy-"+t.Name()), "nosy", "consumer")
	e.must(404, e.do(other, "GET", "/v1/replays/"+id, nil))
}

// TestReplayOrderedKeepsKeyOrder: a replay to an ordered endpoint sends
// each partition key's events one at a time in the order they were
// accepted, though many share a millisecond (where UUIDv7 order is random)
// and their ids do not sort in that order.
func TestReplayOrderedKeepsKeyOrder(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	start := time.Now().Add(-time.Second)
	sent := map[string][]string{} // per key, in acceptance order
	for range 3 {
		var batch []map[string]any
		for i := range 40 {
			id, key := uuid.NewString(), fmt.Sprintf("k%d", i%4)
			ev := orderEvent(id, 1)
			ev["partitionkey"] = key
			batch = append(batch, ev)
			sent[key] = append(sent[key], id)
		}
		e.must(202, e.send(w.producer, batch...))
	}
	p := newProbe(t, http.StatusNoContent)
	ep := e.must(201, e.do(w.consumer, "POST", "/v1/endpoints", map[string]any{
		"url": p.URL(), "types": []string{w.typ}, "ordered": true}))
	r := e.must(202, e.do(w.consumer, "POST", "/v1/endpoints/"+ep["id"].(string)+"/replay", map[string]any{"from": start}))
	eventually(t, 30*time.Second, "replay done", func() bool {
		return e.must(200, e.do(w.consumer, "GET", "/v1/replays/"+r["id"].(string), nil))["status"] == "done"
	})
	got := map[string][]string{}
	for _, a := range p.arrivals() {
		got[a.key] = append(got[a.key], a.event)
	}
	for key, want := range sent {
		if strings.Join(got[key], ",") != strings.Join(want, ",") {
			t.Errorf("key %s: replayed in order %v, accepted in order %v", key, got[key], want)
		}
	}
}

// TestReplayExhaustedEndsFailed: a replay whose deliveries exhaust their
// attempts ends failed and says how many; one whose deliveries all succeed
// ends done only once they have.
func TestReplayExhaustedEndsFailed(t *testing.T) {
	t.Parallel()
	e := setup(t, withSchedule("50ms,50ms"))
	w := e.world()
	start := time.Now().Add(-time.Second)
	for _, id := range []string{"ok-1", "bad-1", "ok-2", "bad-2", "bad-3"} {
		e.must(202, e.send(w.producer, orderEvent(id, 1)))
	}
	p := newProbe(t, http.StatusNoContent)
	p.respond = func(a arrival) int {
		if strings.HasPrefix(a.event, "bad-") {
			return http.StatusInternalServerError
		}
		return http.StatusNoContent
	}
	ep := e.must(201, e.do(w.consumer, "POST", "/v1/endpoints", map[string]any{"url": p.URL(), "types": []string{w.typ}}))
	r := e.must(202, e.do(w.consumer, "POST", "/v1/endpoints/"+ep["id"].(string)+"/replay", map[string]any{"from": start}))
	var got map[string]any
	eventually(t, 30*time.Second, "replay to end", func() bool {
		got = e.must(200, e.do(w.consumer, "GET", "/v1/replays/"+r["id"].(string), nil))
		return got["status"] != "running"
	})
	if got["status"] != "failed" || got["queued"] != float64(5) || got["delivered"] != float64(2) ||
		got["failed"] != float64(3) || got["pending"] != float64(0) ||
		got["error"] != "3 of 5 deliveries failed after their last attempt" {
		t.Fatalf("replay = %v, want failed with 2 delivered and 3 failed", got)
	}
	// Each failed delivery had all its attempts (1 + 2 retries) first.
	for _, a := range []string{"bad-1", "bad-2", "bad-3"} {
		n := 0
		for _, x := range p.arrivals() {
			if x.event == a {
				n++
			}
		}
		if n != 3 {
			t.Errorf("%s was tried %d times before the replay ended, want 3", a, n)
		}
	}
}

// TestReplayFromSequence: a webhook replay starts from a sequence (as
// POST /v1/events, pull deliveries and the Herald-Sequence header show
// it) and sends exactly the events from that one on; a start beyond the
// log, or both a time and a sequence, is refused and starts nothing.
func TestReplayFromSequence(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	var seqs []float64
	for i := range 6 {
		m := e.must(202, e.send(w.producer, orderEvent(fmt.Sprintf("seq-%d", i), 1)))
		seqs = append(seqs, m["events"].([]any)[0].(map[string]any)["sequence"].(float64))
	}
	rc := newReceiver(t)
	epID, secret := e.endpoint(w.consumer, rc.URL(), w.typ)
	rc.secret = secret
	from := fmt.Sprintf("%020.0f", seqs[2])
	m := e.must(202, e.do(w.consumer, "POST", "/v1/endpoints/"+epID+"/replay", map[string]any{"from_sequence": from}))
	if m["from_sequence"] != from || m["from"] != nil {
		t.Fatalf("replay from a sequence: %v", m)
	}
	rc.waitEvents(4, 15*time.Second)
	eventually(t, 10*time.Second, "replay done", func() bool {
		r := e.must(200, e.do(w.consumer, "GET", "/v1/replays/"+m["id"].(string), nil))
		return r["status"] == "done" && r["queued"] == float64(4) && r["from_sequence"] == from
	})
	events, _, bad, _ := rc.snapshot()
	if len(bad) > 0 {
		t.Fatal(bad[0])
	}
	for i := range 6 {
		if got, want := events[fmt.Sprintf("seq-%d", i)] > 0, i >= 2; got != want {
			t.Errorf("seq-%d (sequence %.0f) replayed: %v, want %v", i, seqs[i], got, want)
		}
	}

	wantProblem(t, e.do(w.consumer, "POST", "/v1/endpoints/"+epID+"/replay", map[string]any{
		"from_sequence": fmt.Sprintf("%.0f", seqs[5]+2)}), 422, "from_sequence", "past-end")
	wantProblem(t, e.do(w.consumer, "POST", "/v1/endpoints/"+epID+"/replay", map[string]any{
		"from_sequence": from, "from": time.Now().Add(-time.Hour)}), 422, "from_sequence", "exclusive")
	wantProblem(t, e.do(w.consumer, "POST", "/v1/endpoints/"+epID+"/replay", map[string]any{
		"from_sequence": "twelve"}), 422, "from_sequence", "format")
	time.Sleep(300 * time.Millisecond)
	if events, _, _, _ := rc.snapshot(); len(events) != 4 {
		t.Fatalf("refused replays sent something: %d events", len(events))
	}
}
