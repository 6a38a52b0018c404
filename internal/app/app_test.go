package app_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/heraldhq/herald/internal/herald"
)

// TestWalkthrough follows the README: tenants, clients, an event type, an
// endpoint, one event, and its signed delivery.
func TestWalkthrough(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	rc := newReceiver(t)
	epID, secret := e.endpoint(w.consumer, rc.URL(), w.typ)
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("endpoint secret %q lacks whsec_ prefix", secret)
	}
	rc.secret = secret

	m := e.must(202, e.send(w.producer, orderEvent("order-1", 2)))
	if m["accepted"].(float64) != 1 {
		t.Fatalf("accepted = %v", m["accepted"])
	}
	stored := m["events"].([]any)[0].(map[string]any)
	if stored["duplicate"].(bool) || stored["sequence"].(float64) < 1 || stored["id"] == "" {
		t.Fatalf("stored = %v", stored)
	}
	rc.waitEvents(1, 10*time.Second)
	events, _, bad, bodies := rc.snapshot()
	if len(bad) > 0 {
		t.Fatalf("receiver problems: %v", bad)
	}
	if events["order-1"] != 1 {
		t.Fatalf("events = %v", events)
	}
	if got := bodies[0]["data"].(map[string]any)["qty"]; got != float64(2) {
		t.Fatalf("delivered data = %v", bodies[0])
	}

	eventually(t, 5*time.Second, "delivery recorded as succeeded", func() bool {
		d := e.must(200, e.do(w.consumer, "GET", "/v1/endpoints/"+epID+"/deliveries", nil))["data"].([]any)
		return len(d) == 1 && d[0].(map[string]any)["status"] == "succeeded"
	})
	d := e.must(200, e.do(w.consumer, "GET", "/v1/endpoints/"+epID+"/deliveries", nil))["data"].([]any)[0].(map[string]any)
	log := d["attempt_log"].([]any)
	if len(log) != 1 || log[0].(map[string]any)["status_code"] != float64(204) {
		t.Fatalf("attempt log = %v", log)
	}
	if d["event_type"] != w.typ || d["attempts"] != float64(1) {
		t.Fatalf("delivery = %v", d)
	}
	// The single delivery is also readable by id.
	e.must(200, e.do(w.consumer, "GET", "/v1/deliveries/"+d["id"].(string), nil))

	// The schema registry is readable by any client.
	et := e.must(200, e.do(w.consumer, "GET", "/v1/event-types/"+w.typ, nil))
	if et["version"] != float64(1) || et["schema"] == nil {
		t.Fatalf("event type = %v", et)
	}
	if _, shown := et["producers"]; shown {
		t.Fatalf("producer list shown to a consumer of another tenant: %v", et)
	}
}

// TestThousandEventsDeliveredOnce sends 1,000 events in batches of 100 and
// checks every one arrives exactly once with a valid signature.
func TestThousandEventsDeliveredOnce(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	rc := newReceiver(t)
	_, rc.secret = e.endpoint(w.consumer, rc.URL(), w.typ)
	for b := range 10 {
		batch := make([]map[string]any, 100)
		for i := range batch {
			batch[i] = orderEvent(fmt.Sprintf("bulk-%d-%d", b, i), i+1)
		}
		m := e.must(202, e.send(w.producer, batch...))
		if m["accepted"] != float64(100) {
			t.Fatalf("batch %d accepted %v", b, m["accepted"])
		}
	}
	rc.waitEvents(1000, 60*time.Second)
	time.Sleep(300 * time.Millisecond) // let any duplicate show up
	events, calls, bad, _ := rc.snapshot()
	if len(bad) > 0 {
		t.Fatalf("%d receiver problems, first: %s", len(bad), bad[0])
	}
	for id, n := range events {
		if n != 1 {
			t.Errorf("event %s received %d times", id, n)
		}
	}
	if len(events) != 1000 || len(calls) != 1000 {
		t.Fatalf("distinct events %d, distinct webhook-ids %d; want 1000 each", len(events), len(calls))
	}
	counts, err := e.app.Store().DeliveryCounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "all deliveries succeeded", func() bool {
		counts, _ = e.app.Store().DeliveryCounts(context.Background())
		return counts[herald.DeliverySucceeded] == 1000
	})
}

// TestRetriesUntilDelivered: a receiver failing the first two attempts of
// every delivery still gets every event, and the attempts are recorded.
func TestRetriesUntilDelivered(t *testing.T) {
	t.Parallel()
	e := setup(t, withSchedule("100ms,100ms,100ms"))
	w := e.world()
	rc := newReceiver(t)
	rc.respond = func(n int, _ *http.Request) int {
		if n <= 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}
	epID, secret := e.endpoint(w.consumer, rc.URL(), w.typ)
	rc.secret = secret
	batch := make([]map[string]any, 50)
	for i := range batch {
		batch[i] = orderEvent(fmt.Sprintf("flaky-%d", i), 1)
	}
	e.must(202, e.send(w.producer, batch...))
	rc.waitEvents(50, 30*time.Second)
	events, calls, bad, _ := rc.snapshot()
	if len(bad) > 0 {
		t.Fatalf("receiver problems: %v", bad[0])
	}
	for msg, n := range calls {
		if n != 3 {
			t.Errorf("webhook-id %s called %d times, want 3 (same id on every retry)", msg, n)
		}
	}
	for id, n := range events {
		if n != 1 {
			t.Errorf("event %s delivered %d times", id, n)
		}
	}
	eventually(t, 5*time.Second, "attempts recorded", func() bool {
		d := e.must(200, e.do(w.consumer, "GET", "/v1/endpoints/"+epID+"/deliveries?status=succeeded&limit=250", nil))["data"].([]any)
		if len(d) != 50 {
			return false
		}
		for _, x := range d {
			dm := x.(map[string]any)
			if dm["attempts"] != float64(3) || len(dm["attempt_log"].([]any)) != 3 {
				return false
			}
		}
		return true
	})
}

// TestExhaustedDeliveryIsFailedAndRetriable: after the last attempt the
// delivery is failed and visible; a manual retry delivers it.
func TestExhaustedDeliveryIsFailedAndRetriable(t *testing.T) {
	t.Parallel()
	e := setup(t, withSchedule("50ms,50ms"))
	w := e.world()
	rc := newReceiver(t)
	failing := true
	rc.respond = func(int, *http.Request) int {
		if failing {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	}
	epID, secret := e.endpoint(w.consumer, rc.URL(), w.typ)
	rc.secret = secret
	e.must(202, e.send(w.producer, orderEvent("doomed", 1)))
	var id string
	eventually(t, 10*time.Second, "delivery failed", func() bool {
		d := e.must(200, e.do(w.consumer, "GET", "/v1/endpoints/"+epID+"/deliveries?status=failed", nil))["data"].([]any)
		if len(d) == 1 {
			id = d[0].(map[string]any)["id"].(string)
			return d[0].(map[string]any)["attempts"] == float64(3)
		}
		return false
	})
	rc.mu.Lock()
	failing = false
	rc.mu.Unlock()
	e.must(202, e.do(w.consumer, "POST", "/v1/deliveries/"+id+"/retry", nil))
	rc.waitEvents(1, 10*time.Second)
	eventually(t, 5*time.Second, "delivery succeeded", func() bool {
		d := e.must(200, e.do(w.consumer, "GET", "/v1/deliveries/"+id, nil))
		return d["status"] == "succeeded" && d["attempts"] == float64(4)
	})
	// Retrying a delivery that is not finished is a conflict; another
	// tenant's consumer can't see it at all.
	_, other := e.client(admin, e.tenant("nosy-"+t.Name()), "nosy", "consumer")
	e.must(404, e.do(other, "POST", "/v1/deliveries/"+id+"/retry", nil))
	e.must(404, e.do(other, "GET", "/v1/deliveries/"+id, nil))
	e.must(404, e.do(other, "GET", "/v1/endpoints/"+epID, nil))
}

// TestGoneDisablesEndpoint: 410 disables the endpoint at once.
func TestGoneDisablesEndpoint(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	rc := newReceiver(t)
	rc.respond = func(int, *http.Request) int { return http.StatusGone }
	epID, _ := e.endpoint(w.consumer, rc.URL(), w.typ)
	e.must(202, e.send(w.producer, orderEvent("gone-1", 1)))
	eventually(t, 10*time.Second, "endpoint disabled", func() bool {
		ep := e.must(200, e.do(w.consumer, "GET", "/v1/endpoints/"+epID, nil))
		return ep["status"] == "disabled" && strings.Contains(ep["disabled_reason"].(string), "410")
	})
	_, calls, _, _ := rc.snapshot()
	// Events sent while disabled are not routed to it.
	e.must(202, e.send(w.producer, orderEvent("gone-2", 1)))
	time.Sleep(300 * time.Millisecond)
	_, calls2, _, _ := rc.snapshot()
	if len(calls2) != len(calls) {
		t.Fatalf("disabled endpoint received more calls: %v", calls2)
	}
	e.must(200, e.do(w.consumer, "POST", "/v1/endpoints/"+epID+"/enable", nil))
}

// TestBatchRejectedWhole: one schema-invalid event rejects the batch, with
// its index and JSON path, and nothing is stored or delivered.
func TestBatchRejectedWhole(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	rc := newReceiver(t)
	e.endpoint(w.consumer, rc.URL(), w.typ)
	batch := []map[string]any{orderEvent("ok-0", 1), orderEvent("ok-1", 1), orderEvent("bad-2", 0), orderEvent("ok-3", 1)}
	r := e.send(w.producer, batch...)
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q", ct)
	}
	p := e.must(422, r)
	errs := p["errors"].([]any)
	if len(errs) != 1 {
		t.Fatalf("errors = %v", errs)
	}
	e0 := errs[0].(map[string]any)
	if e0["index"] != float64(2) || e0["id"] != "bad-2" || e0["field"] != "data.qty" || e0["rule"] != "minimum" {
		t.Fatalf("problem = %v", e0)
	}
	n, err := e.app.Store().EventCount(context.Background())
	if err != nil || n != 0 {
		t.Fatalf("stored %d events (err %v), want 0", n, err)
	}
	time.Sleep(200 * time.Millisecond)
	if events, calls, _, _ := rc.snapshot(); len(events)+len(calls) != 0 {
		t.Fatalf("receiver got %v", calls)
	}
}

// TestIngestRefusals covers the ways a producer's request is refused.
func TestIngestRefusals(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	_, stranger := e.client(w.ownerAdmin, "", "not listed", "producer")
	big := strings.Repeat("x", 70<<10)
	huge := make([]map[string]any, 0, 40)
	for i := range 40 {
		ev := orderEvent(fmt.Sprintf("h-%d", i), 1)
		ev["data"].(map[string]any)["note"] = strings.Repeat("y", 30<<10)
		huge = append(huge, ev)
	}
	oversize := orderEvent("big", 1)
	oversize["data"].(map[string]any)["note"] = big
	unknown := orderEvent("u-1", 1)
	unknown["type"] = "com.example.nope"

	cases := []struct {
		name   string
		c      cred
		events []map[string]any
		raw    string
		status int
		kind   string
	}{
		{"bad credentials", cred{w.producer.key, "wrong"}, []map[string]any{orderEvent("a", 1)}, "", 401, "unauthorized"},
		{"unknown key", cred{"hk_nobody", "x"}, []map[string]any{orderEvent("a", 1)}, "", 401, "unauthorized"},
		{"no credentials", cred{}, []map[string]any{orderEvent("a", 1)}, "", 401, "unauthorized"},
		{"unauthorised producer", stranger, []map[string]any{orderEvent("a", 1)}, "", 403, "forbidden-event-type"},
		{"consumer cannot produce", w.consumer, []map[string]any{orderEvent("a", 1)}, "", 403, "forbidden-event-type"},
		{"unknown type", w.producer, []map[string]any{unknown}, "", 422, "rejected-events"},
		{"oversize event", w.producer, []map[string]any{orderEvent("s", 1), oversize}, "", 413, "event-too-large"},
		{"oversize request", w.producer, huge, "", 413, "request-too-large"},
		{"missing source", w.producer, nil, `{"specversion":"1.0","id":"x","type":"com.example.order.created"}`, 400, "invalid-cloudevent"},
		{"malformed json", w.producer, nil, `{"specversion":`, 400, "invalid-cloudevent"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r response
			if tc.raw != "" {
				r = e.do(tc.c, "POST", "/v1/events", tc.raw, "Content-Type", "application/cloudevents+json")
			} else {
				r = e.send(tc.c, tc.events...)
			}
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if got := r.json(t)["type"]; got != "urn:herald:problem:"+tc.kind {
				t.Fatalf("problem type %v, want %s: %s", got, tc.kind, r.body)
			}
		})
	}
	n, _ := e.app.Store().EventCount(context.Background())
	if n != 0 {
		t.Fatalf("refused requests stored %d events", n)
	}
}

// TestResendIsIdempotent: the same (source, id) again is answered as
// success, stored and delivered once.
func TestResendIsIdempotent(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	rc := newReceiver(t)
	_, rc.secret = e.endpoint(w.consumer, rc.URL(), w.typ)
	first := e.must(202, e.send(w.producer, orderEvent("dup-1", 1)))["events"].([]any)[0].(map[string]any)
	again := e.must(202, e.send(w.producer, orderEvent("dup-1", 1)))["events"].([]any)[0].(map[string]any)
	if again["duplicate"] != true || again["id"] != first["id"] || again["sequence"] != first["sequence"] {
		t.Fatalf("resend answered %v, first %v", again, first)
	}
	// A batch repeating a key within itself and a stored key.
	m := e.must(202, e.send(w.producer, orderEvent("dup-2", 1), orderEvent("dup-2", 1), orderEvent("dup-1", 1)))
	evs := m["events"].([]any)
	if evs[0].(map[string]any)["duplicate"] != false || evs[1].(map[string]any)["duplicate"] != true ||
		evs[2].(map[string]any)["duplicate"] != true || evs[1].(map[string]any)["id"] != evs[0].(map[string]any)["id"] {
		t.Fatalf("batch answered %v", evs)
	}
	rc.waitEvents(2, 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	events, _, _, _ := rc.snapshot()
	if events["dup-1"] != 1 || events["dup-2"] != 1 {
		t.Fatalf("deliveries per event: %v", events)
	}
	if n, _ := e.app.Store().EventCount(context.Background()); n != 2 {
		t.Fatalf("stored %d events, want 2", n)
	}
}

// TestCloudEventsSDK sends with the official Go SDK in binary and
// structured mode.
func TestCloudEventsSDK(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	rc := newReceiver(t)
	_, rc.secret = e.endpoint(w.consumer, rc.URL(), w.typ)

	p, err := cloudevents.NewHTTP(cloudevents.WithTarget(e.app.URL()+"/v1/events"),
		cloudevents.WithHeader("Authorization", basic(w.producer)))
	if err != nil {
		t.Fatal(err)
	}
	c, err := cloudevents.NewClient(p, cloudevents.WithTimeNow())
	if err != nil {
		t.Fatal(err)
	}
	for i, mode := range []string{"binary", "structured"} {
		ev := cloudevents.NewEvent()
		ev.SetID("sdk-" + mode)
		ev.SetSource("https://shop.example/orders")
		ev.SetType(w.typ)
		ev.SetSubject("orders/" + mode)
		ev.SetExtension("partitionkey", "customer-7")
		if err := ev.SetData(cloudevents.ApplicationJSON, map[string]any{"order": mode, "qty": i + 1}); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if mode == "structured" {
			ctx = cloudevents.WithEncodingStructured(ctx)
		}
		if res := c.Send(ctx, ev); !cloudevents.IsACK(res) {
			t.Fatalf("%s send: %v", mode, res)
		}
	}
	rc.waitEvents(2, 10*time.Second)
	_, _, bad, bodies := rc.snapshot()
	if len(bad) > 0 {
		t.Fatal(bad)
	}
	for _, b := range bodies {
		if b["partitionkey"] != "customer-7" || !strings.HasPrefix(b["subject"].(string), "orders/") || b["time"] == nil {
			t.Fatalf("delivered event lost attributes: %v", b)
		}
	}
}

func basic(c cred) string {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(c.key, c.secret)
	return req.Header.Get("Authorization")
}

// TestBinaryDataOnSchemalessType: a type without a schema accepts any data,
// binary included, and delivers it as data_base64.
func TestBinaryDataOnSchemalessType(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	e.must(201, e.do(w.ownerAdmin, "PUT", "/v1/event-types/com.example.blob", map[string]any{
		"producers": []string{w.producerID}, "consumers": []string{w.consumerID},
	}))
	rc := newReceiver(t)
	_, rc.secret = e.endpoint(w.consumer, rc.URL(), "com.example.blob")
	e.must(202, e.do(w.producer, "POST", "/v1/events", []byte{0x00, 0xff, 0x10},
		"Content-Type", "application/octet-stream", "ce-specversion", "1.0", "ce-id", "blob-1",
		"ce-source", "/files", "ce-type", "com.example.blob"))
	// The order type keeps refusing non-JSON data.
	p := e.must(422, e.do(w.producer, "POST", "/v1/events", []byte{0x01},
		"Content-Type", "application/octet-stream", "ce-specversion", "1.0", "ce-id", "blob-2",
		"ce-source", "/files", "ce-type", w.typ))
	if p["errors"].([]any)[0].(map[string]any)["rule"] != "json" {
		t.Fatalf("problem = %v", p)
	}
	rc.waitEvents(1, 10*time.Second)
	_, _, bad, bodies := rc.snapshot()
	if len(bad) > 0 {
		t.Fatal(bad)
	}
	if bodies[0]["data_base64"] != "AP8Q" {
		t.Fatalf("delivered %v", bodies[0])
	}
}

// TestDeliveryControlHeaders: a receiver can stop retries of one message
// (webhook-delivery: abort-message) or disable its endpoint
// (webhook-delivery: disable).
func TestDeliveryControlHeaders(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	for _, tc := range []struct {
		control      string
		wantDisabled bool
	}{
		{"abort-message", false},
		{"Disable", true},
	} {
		rc := newReceiver(t)
		rc.respond = func(int, *http.Request) int { return http.StatusServiceUnavailable }
		rc.srv.Config.Handler = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			rw.Header().Set("webhook-delivery", tc.control)
			rc.serve(rw, r)
		})
		epID, _ := e.endpoint(w.consumer, rc.URL(), w.typ)
		e.must(202, e.send(w.producer, orderEvent("ctl-"+tc.control, 1)))
		eventually(t, 10*time.Second, "delivery failed", func() bool {
			d := e.must(200, e.do(w.consumer, "GET", "/v1/endpoints/"+epID+"/deliveries?status=failed", nil))["data"].([]any)
			return len(d) == 1 && d[0].(map[string]any)["attempts"] == float64(1)
		})
		// The endpoint is disabled right after the attempt is recorded.
		if tc.wantDisabled {
			eventually(t, 5*time.Second, "endpoint disabled", func() bool {
				return e.must(200, e.do(w.consumer, "GET", "/v1/endpoints/"+epID, nil))["status"] == "disabled"
			})
		} else {
			time.Sleep(200 * time.Millisecond)
			if ep := e.must(200, e.do(w.consumer, "GET", "/v1/endpoints/"+epID, nil)); ep["status"] != "active" {
				t.Fatalf("%s: endpoint %v", tc.control, ep)
			}
		}
		e.must(204, e.do(w.consumer, "DELETE", "/v1/endpoints/"+epID, nil))
	}
}

// TestSendTestEvent: "send test event" delivers a signed herald.endpoint.test
// event to that endpoint only, recorded like any delivery.
func TestSendTestEvent(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	rc := newReceiver(t)
	other := newReceiver(t)
	epID, secret := e.endpoint(w.consumer, rc.URL(), w.typ)
	rc.secret = secret
	e.endpoint(w.consumer, other.URL(), w.typ)
	d := e.must(202, e.do(w.consumer, "POST", "/v1/endpoints/"+epID+"/test", nil))
	if d["event_type"] != "herald.endpoint.test" || d["endpoint_id"] != epID {
		t.Fatalf("test delivery = %v", d)
	}
	rc.waitEvents(1, 10*time.Second)
	_, _, bad, bodies := rc.snapshot()
	if len(bad) > 0 || bodies[0]["type"] != "herald.endpoint.test" {
		t.Fatalf("received %v (problems %v)", bodies, bad)
	}
	eventually(t, 5*time.Second, "test delivery succeeded", func() bool {
		return e.must(200, e.do(w.consumer, "GET", "/v1/deliveries/"+d["id"].(string), nil))["status"] == "succeeded"
	})
	time.Sleep(200 * time.Millisecond)
	if events, calls, _, _ := other.snapshot(); len(events)+len(calls) != 0 {
		t.Fatalf("another endpoint got the test event: %v", calls)
	}
}
