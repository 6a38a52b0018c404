package app_test

import (
	"encoding/json"
	"testing"
	"time"
)

// TestTestEvents: a consumer's test event reaches its own consumer group
// and endpoint, marked with the extension test: true, and nobody else's
// group or endpoint of the same type; bad test events are problems that
// name the field and rule.
func TestTestEvents(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	otherID, other := e.client(admin, w.consumerTenant, "other warehouse", "consumer")
	e.must(200, e.do(w.ownerAdmin, "PUT", "/v1/event-types/"+w.typ, map[string]any{
		"description": "an order was placed", "schema": json.RawMessage(orderSchema),
		"producers": []string{w.producerID}, "consumers": []string{w.consumerID, otherID},
	}))
	mine, theirs := newReceiver(t), newReceiver(t)
	_, mine.secret = e.endpoint(w.consumer, mine.URL(), w.typ)
	_, theirs.secret = e.endpoint(other, theirs.URL(), w.typ)
	for _, c := range []cred{w.consumer, other} {
		e.must(201, e.do(c, "POST", "/v1/consumer-groups", map[string]any{"name": "orders", "types": []string{w.typ}}))
	}
	myGroup, theirGroup := e.instance(w.consumer, "orders"), e.instance(other, "orders")

	r := e.do(w.consumer, "POST", "/v1/test-events", orderEvent("t-1", 2), "Content-Type", "application/cloudevents+json")
	if m := e.must(202, r); m["accepted"] != float64(1) {
		t.Fatalf("test event: %v", m)
	}
	if _, evs := myGroup.events("max=10&wait=5s"); len(evs) != 1 || evs[0]["id"] != "t-1" || evs[0]["test"] != true {
		t.Fatalf("the sender's group got %v", evs)
	}
	mine.waitEvents(1, 10*time.Second)
	if _, _, _, bodies := mine.snapshot(); len(bodies) != 1 || bodies[0]["id"] != "t-1" || bodies[0]["test"] != true {
		t.Fatalf("the sender's endpoint got %v", bodies)
	}
	if _, evs := theirGroup.events("max=10&wait=1s"); len(evs) != 0 {
		t.Fatalf("another consumer's group got %v", ids(evs))
	}
	if _, calls, _, _ := theirs.snapshot(); len(calls) != 0 {
		t.Fatalf("another consumer's endpoint got %v", calls)
	}

	// A producer's event still reaches both, without the mark.
	e.must(202, e.send(w.producer, orderEvent("real-1", 1)))
	for _, g := range []*poller{myGroup, theirGroup} {
		if _, evs := g.events("max=10&wait=5s"); len(evs) != 1 || evs[0]["id"] != "real-1" || evs[0]["test"] != nil {
			t.Fatalf("after the test event a group got %v", evs)
		}
	}

	// A producer cannot pass its event off as a test event.
	forged := orderEvent("forged-1", 1)
	forged["test"] = true
	if f, rule := problemField(t, e.send(w.producer, forged)); f != "test" || rule != "reserved" {
		t.Fatalf("a producer's event marked test: %s/%s", f, rule)
	}
	for _, g := range []*poller{myGroup, theirGroup} {
		if _, evs := g.events("max=10&wait=500ms"); len(evs) != 0 {
			t.Fatalf("a refused event arrived: %v", ids(evs))
		}
	}

	// Bad test events change nothing.
	e.must(201, e.do(w.ownerAdmin, "PUT", "/v1/event-types/com.example.secret", map[string]any{
		"description": "not for the warehouse", "schema": json.RawMessage(orderSchema), "producers": []string{w.producerID},
	}))
	secret := orderEvent("t-2", 1)
	secret["type"] = "com.example.secret"
	unknown := orderEvent("t-3", 1)
	unknown["type"] = "com.example.unknown"
	for _, tc := range []struct {
		who         cred
		ev          map[string]any
		status      int
		field, rule string
	}{
		{w.consumer, secret, 403, "type", "consumer"},
		{w.consumer, unknown, 422, "type", "unknown-type"},
		{w.consumer, orderEvent("t-4", 0), 422, "data.qty", "minimum"},
	} {
		r := e.do(tc.who, "POST", "/v1/test-events", tc.ev, "Content-Type", "application/cloudevents+json")
		if f, rule := problemField(t, r); r.status != tc.status || f != tc.field || rule != tc.rule {
			t.Fatalf("%v: %d %s/%s %s", tc.ev["id"], r.status, f, rule, r.body)
		}
	}
	e.must(403, e.do(w.producer, "POST", "/v1/test-events", orderEvent("t-5", 1), "Content-Type", "application/cloudevents+json"))
	if _, evs := myGroup.events("max=10&wait=1s"); len(evs) != 0 {
		t.Fatalf("a refused test event arrived: %v", ids(evs))
	}
}
