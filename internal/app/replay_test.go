package app_test

import (
	"fmt"
	"testing"
	"time"
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
		return r["status"] == "done" && r["queued"] == float64(7) && r["scanned"] == float64(7)
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
