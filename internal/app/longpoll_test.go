package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/herald"
)

// poller is a long poll client of one group instance.
type poller struct {
	e    *env
	c    cred
	base string // base_uri as a path of the API
}

// instance creates an instance of a group and returns a client of it.
func (e *env) instance(c cred, group string) *poller {
	e.t.Helper()
	r := e.do(c, "POST", "/v1/consumer-groups/"+group+"/instances", nil)
	m := e.must(201, r)
	base := m["base_uri"].(string)
	if !strings.HasPrefix(base, e.app.URL()+"/v1/consumer-groups/"+group+"/instances/") || r.header.Get("Location") == "" {
		e.t.Fatalf("base_uri %q, Location %q", base, r.header.Get("Location"))
	}
	return &poller{e: e, c: c, base: strings.TrimPrefix(base, e.app.URL())}
}

// events long-polls once and returns the batch's events.
func (p *poller) events(query string) (int, []map[string]any) {
	p.e.t.Helper()
	r := p.e.do(p.c, "GET", p.base+"/events?"+query, nil)
	if r.status != 200 {
		return r.status, nil
	}
	if ct := r.header.Get("Content-Type"); ct != "application/cloudevents-batch+json" {
		p.e.t.Fatalf("content type %q", ct)
	}
	var evs []map[string]any
	if err := json.Unmarshal(r.body, &evs); err != nil {
		p.e.t.Fatalf("batch %s: %v", r.body, err)
	}
	return 200, evs
}

func ids(evs []map[string]any) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev["id"].(string))
	}
	return out
}

// problemField returns the first field and rule of a problem answer.
func problemField(t *testing.T, r response) (string, string) {
	t.Helper()
	var p struct {
		Errors []struct{ Field, Rule string } `json:"errors"`
	}
	if err := json.Unmarshal(r.body, &p); err != nil || len(p.Errors) == 0 {
		t.Fatalf("status %d, no field in %s", r.status, r.body)
	}
	return p.Errors[0].Field, p.Errors[0].Rule
}

// TestLongPoll: create an instance, fetch (at once when events are there,
// empty when the wait ends, woken by a new event mid-wait), ack by id and
// cumulatively, nack, delete; bad input gets problems naming the field and
// rule and changes nothing; an instance of another consumer's group is not
// found, a deleted one says to create a new instance.
func TestLongPoll(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	e.must(201, e.do(w.consumer, "POST", "/v1/consumer-groups", map[string]any{"name": "orders", "types": []string{w.typ}}))
	p := e.instance(w.consumer, "orders")

	start := time.Now()
	if st, evs := p.events("max=10&wait=500ms"); st != 200 || len(evs) != 0 || time.Since(start) < 500*time.Millisecond {
		t.Fatalf("empty wait: %d, %d events after %s", st, len(evs), time.Since(start))
	}
	for i := range 5 {
		e.must(202, e.send(w.producer, orderEvent(fmt.Sprintf("o-%d", i), 1)))
	}
	_, evs := p.events("max=3&wait=5s")
	if len(evs) != 3 {
		t.Fatalf("got %d events, want 3", len(evs))
	}
	for _, ev := range evs {
		seq, _ := ev["sequence"].(string)
		if len(seq) != 20 || ev["partition"] == nil || ev["receivedat"] == nil || ev["data"] == nil {
			t.Fatalf("event without its place in the log: %v", ev)
		}
	}
	_, rest := p.events("max=10")
	if len(rest) != 2 {
		t.Fatalf("got %d more, want 2", len(rest))
	}

	// Bad input: problems naming field and rule; nothing changes.
	for _, tc := range []struct {
		method, path string
		body         any
		field, rule  string
	}{
		{"GET", "/events?max=0", nil, "max", "range"},
		{"GET", "/events?max=1001", nil, "max", "range"},
		{"GET", "/events?wait=2m", nil, "wait", "range"},
		{"POST", "/ack", map[string]any{"ids": []string{"o-0", "nope"}}, "ids", "unknown"},
		{"POST", "/ack", map[string]any{}, "ids", "required"},
		{"POST", "/ack", map[string]any{"partition": 12, "sequence": "1"}, "partition", "range"},
		{"POST", "/ack", map[string]any{"partition": evs[0]["partition"], "sequence": "99999999999999999"}, "sequence", "past-end"},
		{"POST", "/nack", map[string]any{"ids": []string{"o-0"}, "delay": "soon"}, "delay", "range"},
		{"POST", "/nack", map[string]any{"ids": []string{"other-group"}}, "ids", "unknown"},
	} {
		r := e.do(w.consumer, tc.method, p.base+tc.path, tc.body)
		if r.status != 422 {
			t.Fatalf("%s %s %v: status %d, want 422: %s", tc.method, tc.path, tc.body, r.status, r.body)
		}
		if f, rule := problemField(t, r); f != tc.field || rule != tc.rule {
			t.Fatalf("%s %s %v: %s/%s, want %s/%s", tc.method, tc.path, tc.body, f, rule, tc.field, tc.rule)
		}
	}

	e.must(204, e.do(w.consumer, "POST", p.base+"/ack", map[string]any{"ids": ids(evs)}))
	// A cumulative ack of the rest, partition by partition.
	for _, ev := range rest {
		e.must(204, e.do(w.consumer, "POST", p.base+"/ack", map[string]any{"partition": ev["partition"], "sequence": ev["sequence"]}))
	}
	g := e.must(200, e.do(w.consumer, "GET", "/v1/consumer-groups/orders", nil))
	if n := lag(t, g); n != 0 {
		t.Fatalf("lag %d after acking everything", n)
	}

	// A waiting poll is woken by a new event, long before its wait ends.
	got := make(chan []map[string]any, 1)
	go func() {
		_, evs := p.events("max=10&wait=20s")
		got <- evs
	}()
	time.Sleep(300 * time.Millisecond)
	sent := time.Now()
	e.must(202, e.send(w.producer, orderEvent("late", 1)))
	select {
	case evs := <-got:
		if len(evs) != 1 || evs[0]["id"] != "late" || time.Since(sent) > 3*time.Second {
			t.Fatalf("woken with %v after %s", ids(evs), time.Since(sent))
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the waiting poll was not woken")
	}
	// Nack without delay: back at once.
	e.must(204, e.do(w.consumer, "POST", p.base+"/nack", map[string]any{"ids": []string{"late"}}))
	if _, evs := p.events("max=10"); len(evs) != 1 || evs[0]["id"] != "late" {
		t.Fatalf("after the nack got %v", ids(evs))
	}

	// Another consumer cannot reach this group's instance.
	_, other := e.client(admin, w.consumerTenant, "other consumer", "consumer")
	if r := e.do(other, "GET", p.base+"/events", nil); r.status != 404 {
		t.Fatalf("another consumer's call: %d", r.status)
	}
	e.must(204, e.do(w.consumer, "DELETE", p.base, nil))
	r := e.do(w.consumer, "GET", p.base+"/events", nil)
	if r.status != 404 || !strings.Contains(string(r.body), "create a new instance") {
		t.Fatalf("deleted instance: %d %s", r.status, r.body)
	}
	// An ack through the deleted instance is refused and acknowledges
	// nothing: "late" is still in flight in the group, due again.
	r = e.do(w.consumer, "POST", p.base+"/ack", map[string]any{"ids": []string{"late"}})
	if r.status != 404 || !strings.Contains(string(r.body), "create a new instance") {
		t.Fatalf("ack through the deleted instance: %d %s", r.status, r.body)
	}
	var inFlight int
	if err := e.pool().QueryRow(context.Background(), `SELECT count(*) FROM group_inflight WHERE ce_id = 'late'`).Scan(&inFlight); err != nil {
		t.Fatal(err)
	}
	if inFlight != 1 {
		t.Fatalf("%d rows of the event in flight after a refused ack, want 1", inFlight)
	}
}

// TestLongPollExpiryAndRedelivery: of two instances, one stops calling;
// after the idle TTL its partitions and unacked events go to the other,
// which sees every event and acks each once; a call on the expired one
// gets 404 telling it to create a new instance. An event not acked within
// the ack wait comes again.
func TestLongPollExpiryAndRedelivery(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *app.Config) { c.ConsumerInstanceTTL = 2 * time.Second })
	w := e.world()
	e.must(201, e.do(w.consumer, "POST", "/v1/consumer-groups", map[string]any{"name": "orders", "types": []string{w.typ},
		"ack_wait": "1s"}))
	a, b := e.instance(w.consumer, "orders"), e.instance(w.consumer, "orders")
	var batch []map[string]any
	for i := range 40 {
		ev := orderEvent(fmt.Sprintf("o-%d", i), 1)
		ev["partitionkey"] = fmt.Sprintf("key-%d", i)
		batch = append(batch, ev)
	}
	e.must(202, e.send(w.producer, batch...))
	if _, lost := a.events("max=100&wait=5s"); len(lost) == 0 {
		t.Fatal("instance a got nothing")
	}
	seen := map[string]int{}
	deadline := time.Now().Add(20 * time.Second)
	for len(seen) < 40 && time.Now().Before(deadline) {
		_, evs := b.events("max=100&wait=1s")
		for _, id := range ids(evs) {
			seen[id]++
		}
		if len(evs) > 0 {
			e.must(204, e.do(w.consumer, "POST", b.base+"/ack", map[string]any{"ids": ids(evs)}))
		}
	}
	if len(seen) != 40 {
		t.Fatalf("b saw %d of 40 events", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s acked %d times", id, n)
		}
	}
	r := e.do(w.consumer, "GET", a.base+"/events", nil)
	if r.status != 404 || !strings.Contains(string(r.body), "create a new instance") {
		t.Fatalf("expired instance: %d %s", r.status, r.body)
	}

	// Ack wait: not acked within 1s, the event comes again.
	e.must(202, e.send(w.producer, orderEvent("slow", 1)))
	_, first := b.events("max=10&wait=5s")
	if len(first) != 1 {
		t.Fatalf("got %v", ids(first))
	}
	start := time.Now()
	_, again := b.events("max=10&wait=10s")
	if len(again) != 1 || again[0]["id"] != "slow" || time.Since(start) < 500*time.Millisecond || time.Since(start) > 5*time.Second {
		t.Fatalf("redelivery: %v after %s", ids(again), time.Since(start))
	}
}

// TestLongPollInstanceLimit: a group refuses instances beyond the maximum
// with 409 naming the rule.
func TestLongPollInstanceLimit(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *app.Config) { c.ConsumerMaxInstances = 2 })
	w := e.world()
	e.instance(w.consumer, "default")
	e.instance(w.consumer, "default")
	r := e.do(w.consumer, "POST", "/v1/consumer-groups/default/instances", nil)
	if r.status != 409 {
		t.Fatalf("third instance: %d %s", r.status, r.body)
	}
	if f, rule := problemField(t, r); f != "instances" || rule != "maximum" {
		t.Fatalf("third instance: %s/%s", f, rule)
	}
}

// TestLongPollThinType: a thin type's event arrives thin over long
// polling too: its declared fields and a dataref, never the full payload.
func TestLongPollThinType(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.thinWorld(nil)
	p := e.instance(w.consumer, "default")
	e.must(202, e.send(w.producer, orderWithNote("o-1")))
	_, evs := p.events("max=10&wait=5s")
	if len(evs) != 1 {
		t.Fatalf("got %d events", len(evs))
	}
	body, _ := json.Marshal(evs[0])
	if strings.Contains(string(body), "Alice") || evs[0]["dataref"] == nil || evs[0]["sequence"] == nil {
		t.Fatalf("thin event as pulled: %s", body)
	}
}

// TestLongPollTwoNodes: two herald processes against one database serve
// one group: an instance on each, every event acked exactly once, each key
// in order, and an event ingested on one node wakes a poll waiting on the
// other.
func TestLongPollTwoNodes(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	e2 := &env{t: t, dsn: e.dsn, cfg: e.cfg}
	e2.cfg.DataDir = t.TempDir()
	e2.start()
	t.Cleanup(e2.stop)
	e.must(201, e.do(w.consumer, "POST", "/v1/consumer-groups", map[string]any{"name": "orders", "types": []string{w.typ}}))
	a, b := e.instance(w.consumer, "orders"), e2.instance(w.consumer, "orders")

	// b waits on node 2; the event comes in through node 1.
	got := make(chan []map[string]any, 1)
	go func() {
		_, evs := b.events("max=100&wait=20s")
		got <- evs
	}()
	time.Sleep(300 * time.Millisecond)
	// An event of a key in one of b's partitions.
	var held []int16
	bID := b.base[strings.LastIndex(b.base, "/")+1:]
	rows, err := e.pool().Query(context.Background(), `SELECT partition FROM group_cursors WHERE owner = $1`, bID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var p int16
		if err := rows.Scan(&p); err != nil {
			t.Fatal(err)
		}
		held = append(held, p)
	}
	if rows.Close(); len(held) == 0 {
		t.Fatal("node 2's instance holds no partition")
	}
	ev := orderEvent("wake-1", 1)
	for k := 0; ; k++ {
		if key := fmt.Sprintf("key-%d", k); slices.Contains(held, int16(herald.Partition(key, "wake-1"))) {
			ev["partitionkey"] = key
			break
		}
	}
	e.must(202, e.send(w.producer, ev))
	// Well before its safety wake-up (pull.SafetyWake, 10 s): woken by
	// the notification.
	var woken []map[string]any
	select {
	case woken = <-got:
	case <-time.After(5 * time.Second):
	}
	if len(woken) == 0 {
		t.Fatal("the poll on node 2 was not woken by ingest on node 1")
	}
	e.must(204, e2.do(w.consumer, "POST", b.base+"/ack", map[string]any{"ids": ids(woken)}))

	var batch []map[string]any
	for i := range 200 {
		ev := orderEvent(fmt.Sprintf("o-%03d", i), 1)
		ev["partitionkey"] = fmt.Sprintf("key-%d", i%20)
		batch = append(batch, ev)
	}
	e.must(202, e.send(w.producer, batch...))
	var mu sync.Mutex
	acked := map[string]int{}
	lastOfKey := map[string]string{}
	var wg sync.WaitGroup
	for _, p := range []*poller{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 30 {
				_, evs := p.events("max=50&wait=500ms")
				if len(evs) == 0 {
					mu.Lock()
					n := 0
					for id := range acked {
						if strings.HasPrefix(id, "o-") {
							n++
						}
					}
					mu.Unlock()
					if n == 200 {
						return
					}
					continue
				}
				mu.Lock()
				for _, ev := range evs {
					id, key := ev["id"].(string), fmt.Sprint(ev["partitionkey"])
					if strings.HasPrefix(id, "o-") && lastOfKey[key] >= id {
						t.Errorf("key %s: %s after %s", key, id, lastOfKey[key])
					}
					lastOfKey[key] = id
					acked[id]++
				}
				mu.Unlock()
				r := p.e.do(w.consumer, "POST", p.base+"/ack", map[string]any{"ids": ids(evs)})
				if r.status != 204 {
					t.Errorf("ack: %d %s", r.status, r.body)
					return
				}
			}
		}()
	}
	wg.Wait()
	n := 0
	for id, c := range acked {
		if strings.HasPrefix(id, "o-") {
			n++
		}
		if c != 1 {
			t.Errorf("%s delivered %d times", id, c)
		}
	}
	if n != 200 {
		t.Fatalf("%d of 200 events acked", n)
	}
}

// TestLongPollDeadReport: a dead report acks the event for the group and
// lands in the consumer's dead-event store (GET /v1/dead-events, by group
// and type); bad reports change nothing; a redrive brings the event back.
func TestLongPollDeadReport(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	e.must(201, e.do(w.consumer, "POST", "/v1/consumer-groups", map[string]any{"name": "orders", "types": []string{w.typ},
		"ack_wait": "1s"}))
	p := e.instance(w.consumer, "orders")
	e.must(202, e.send(w.producer, orderEvent("bad-1", 1)))
	if _, evs := p.events("max=10&wait=5s"); len(evs) != 1 {
		t.Fatalf("got %d events", len(evs))
	}
	for _, tc := range []struct {
		body        map[string]any
		field, rule string
	}{
		{map[string]any{"id": "bad-1"}, "reason", "required"},
		{map[string]any{"reason": "x"}, "id", "required"},
		{map[string]any{"id": "nope", "reason": "x"}, "id", "unknown"},
	} {
		r := e.do(w.consumer, "POST", p.base+"/dead", tc.body)
		if f, rule := problemField(t, r); r.status != 422 || f != tc.field || rule != tc.rule {
			t.Fatalf("%v: %d %s/%s", tc.body, r.status, f, rule)
		}
	}
	m := e.must(201, e.do(w.consumer, "POST", p.base+"/dead", map[string]any{"id": "bad-1", "reason": "no such warehouse"}))
	if d := m["data"].([]any); len(d) != 1 {
		t.Fatalf("dead report: %v", m)
	}
	time.Sleep(1200 * time.Millisecond)
	if _, evs := p.events("max=10"); len(evs) != 0 {
		t.Fatalf("a dead event came again: %v", ids(evs))
	}
	list := e.must(200, e.do(w.consumer, "GET", "/v1/dead-events?group=orders&type="+w.typ, nil))["data"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["reason"] != "no such warehouse" || list[0].(map[string]any)["group"] != "orders" ||
		list[0].(map[string]any)["channel"] != "pull" {
		t.Fatalf("dead events: %v", list)
	}
	if other := e.must(200, e.do(w.consumer, "GET", "/v1/dead-events?type=com.example.other", nil))["data"].([]any); len(other) != 0 {
		t.Fatalf("filtered by another type: %v", other)
	}

	// Redrive: the event comes back to the group and leaves the store;
	// another consumer cannot redrive it.
	deadID := list[0].(map[string]any)["id"].(string)
	_, other := e.client(admin, w.consumerTenant, "other consumer", "consumer")
	if r := e.do(other, "POST", "/v1/dead-events/"+deadID+"/redrive", nil); r.status != 404 {
		t.Fatalf("another consumer's redrive: %d %s", r.status, r.body)
	}
	e.must(204, e.do(w.consumer, "POST", "/v1/dead-events/"+deadID+"/redrive", nil))
	if _, evs := p.events("max=10&wait=5s"); len(evs) != 1 || evs[0]["id"] != "bad-1" {
		t.Fatalf("after the redrive got %v", ids(evs))
	}
	if left := e.must(200, e.do(w.consumer, "GET", "/v1/dead-events", nil))["data"].([]any); len(left) != 0 {
		t.Fatalf("dead events after the redrive: %v", left)
	}
	if r := e.do(w.consumer, "POST", "/v1/dead-events/"+deadID+"/redrive", nil); r.status != 404 {
		t.Fatalf("second redrive: %d %s", r.status, r.body)
	}
	e.must(204, e.do(w.consumer, "POST", p.base+"/ack", map[string]any{"ids": []string{"bad-1"}}))
}

// TestLongPollAnswersOnShutdown: a node shutting down answers its waiting
// long polls at once with an empty batch instead of holding the shutdown
// for their whole wait.
func TestLongPollAnswersOnShutdown(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	p := e.instance(w.consumer, "default")
	type answer struct {
		status int
		n      int
	}
	got := make(chan answer, 1)
	go func() {
		st, evs := p.events("max=10&wait=40s")
		got <- answer{st, len(evs)}
	}()
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	stopped := make(chan error, 1)
	go func() { stopped <- e.app.Stop(t.Context()) }()
	select {
	case a := <-got:
		if a.status != 200 || a.n != 0 || time.Since(start) > 5*time.Second {
			t.Fatalf("waiting poll answered %d with %d events after %s", a.status, a.n, time.Since(start))
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the waiting poll held the shutdown")
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
}
