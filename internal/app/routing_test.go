package app_test

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/cloudevents"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/postgres"
)

// probe is a loopback webhook target that records every request it gets,
// in arrival order, and answers with a status the test can change (or that
// respond picks per request).
type probe struct {
	srv     *httptest.Server
	status  atomic.Int32
	respond func(arrival) int
	mu      sync.Mutex
	got     []arrival
}

// arrival is one request: its webhook-id (the delivery) and the event's
// CloudEvents id, type and partition key.
type arrival struct{ delivery, event, typ, key string }

func newProbe(t *testing.T, status int) *probe {
	p := &probe{}
	p.status.Store(int32(status))
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			w.Header().Set("WebHook-Allowed-Origin", "*")
			return
		}
		body, _ := io.ReadAll(r.Body)
		var ev struct {
			ID           string `json:"id"`
			Type         string `json:"type"`
			PartitionKey string `json:"partitionkey"`
		}
		_ = json.Unmarshal(body, &ev)
		a := arrival{delivery: r.Header.Get("webhook-id"), event: ev.ID, typ: ev.Type, key: ev.PartitionKey}
		p.mu.Lock()
		p.got = append(p.got, a)
		p.mu.Unlock()
		status := int(p.status.Load())
		if p.respond != nil {
			status = p.respond(a)
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *probe) URL() string { return p.srv.URL + "/hook" }

func (p *probe) arrivals() []arrival {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.got)
}

// mark returns how many requests arrived so far, for since.
func (p *probe) mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.got)
}

// since returns the arrivals after a mark that keep accepts, as a set of
// CloudEvents ids (byEvent) or webhook-ids.
func (p *probe) since(mark int, byEvent bool, keep func(arrival) bool) map[string]bool {
	out := map[string]bool{}
	for _, a := range p.arrivals()[mark:] {
		if keep(a) {
			if byEvent {
				out[a.event] = true
			} else {
				out[a.delivery] = true
			}
		}
	}
	return out
}

// marks marks every probe.
func marks(probes map[string]*probe) map[string]int {
	out := map[string]int{}
	for name, p := range probes {
		out[name] = p.mark()
	}
	return out
}

// settle waits until no delivery or connector run is pending and no event
// was stored for half a second (failed deliveries are announced by
// operational events, which are delivered in turn).
func (e *env) settle() {
	e.t.Helper()
	var last int64 = -1
	var quietSince time.Time
	eventually(e.t, 60*time.Second, "deliveries and runs to settle", func() bool {
		var pending, events int64
		if err := e.app.Pool().QueryRow(e.t.Context(), `SELECT
				(SELECT count(*) FROM deliveries WHERE status = 'pending') +
				(SELECT count(*) FROM connector_runs WHERE status = 'pending'),
				(SELECT count(*) FROM events)`).Scan(&pending, &events); err != nil {
			e.t.Fatal(err)
		}
		if pending > 0 || events != last {
			last, quietSince = events, time.Time{}
			return false
		}
		if quietSince.IsZero() {
			quietSince = time.Now()
		}
		return time.Since(quietSince) > 500*time.Millisecond
	})
}

// oracle asks the routing rule itself, over a fresh snapshot of the
// configuration, who receives each stored event.
type oracle struct {
	snap   *catalog.Snapshot
	events map[uuid.UUID]*postgres.RoutedEvent
	ceID   map[uuid.UUID]string
	byCE   map[string]*postgres.RoutedEvent
}

func (e *env) oracle() *oracle {
	e.t.Helper()
	ctx, pool, store := e.t.Context(), e.app.Pool(), e.app.Store()
	snap, err := catalog.New(store, pool, time.Hour, heraldtest.Logger(e.t)).Fresh(ctx, pool)
	if err != nil {
		e.t.Fatal(err)
	}
	o := &oracle{snap: snap, events: map[uuid.UUID]*postgres.RoutedEvent{}, ceID: map[uuid.UUID]string{},
		byCE: map[string]*postgres.RoutedEvent{}}
	rows, err := pool.Query(ctx, `SELECT id, received_at, ce_id FROM events`)
	if err != nil {
		e.t.Fatal(err)
	}
	type key struct {
		id uuid.UUID
		at time.Time
		ce string
	}
	var keys []key
	for rows.Next() {
		var k key
		if err := rows.Scan(&k.id, &k.at, &k.ce); err != nil {
			e.t.Fatal(err)
		}
		keys = append(keys, k)
	}
	rows.Close()
	for _, k := range keys {
		ev, err := store.EventRouted(ctx, pool, k.id, k.at)
		if err != nil {
			e.t.Fatal(err)
		}
		o.events[k.id], o.ceID[k.id], o.byCE[k.ce] = ev, k.ce, ev
	}
	return o
}

func (o *oracle) receivers(id uuid.UUID) catalog.Receivers {
	return o.snap.Receivers(catalog.StoredEvent(o.events[id]))
}

// endpointReceives answers for one (event, endpoint) through Receivers.
func (o *oracle) endpointReceives(event uuid.UUID, endpoint string) bool {
	return slices.ContainsFunc(o.receivers(event).Endpoints, func(ep *herald.Endpoint) bool { return ep.ID.String() == endpoint })
}

// endpointEvents is the CloudEvents ids of the stored events the endpoint
// receives.
func (o *oracle) endpointEvents(endpoint string) map[string]bool {
	out := map[string]bool{}
	for id := range o.events {
		if o.endpointReceives(id, endpoint) {
			out[o.ceID[id]] = true
		}
	}
	return out
}

func (o *oracle) connectorReceives(event uuid.UUID, connector string) bool {
	return slices.ContainsFunc(o.receivers(event).Connectors, func(c *herald.Connector) bool { return c.ID.String() == connector })
}

// opsOf returns the CloudEvents ids of the stored operational events about
// a tenant.
func (o *oracle) opsOf(tenant string) []string {
	var out []string
	for id, ev := range o.events {
		if herald.IsOperational(ev.Type) && ev.To == uuid.Nil && ev.TenantID.String() == tenant {
			out = append(out, o.ceID[id])
		}
	}
	return out
}

func sameSet(t *testing.T, what string, got, want map[string]bool) {
	t.Helper()
	if !maps.Equal(got, want) {
		t.Errorf("%s: got %v, want %v", what, slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
	}
}

func setOf(ids ...string) map[string]bool {
	out := map[string]bool{}
	for _, id := range ids {
		out[id] = true
	}
	return out
}

// TestRoutingSameOnEveryPath: one rule decides who receives an event.
// Several tenants' endpoints and connectors, with patterns, filters,
// consume rights and herald.* subscriptions, receive events live; then the
// configuration changes, and replays, retries, endpoint recovery, test
// sends and connector run retries must each reach exactly the receivers
// the rule names now. Tenant B's herald.> subscribers never get tenant A's
// operational events, by any path.
func TestRoutingSameOnEveryPath(t *testing.T) {
	t.Parallel()
	e := setup(t, withSchedule("50ms"))
	w := e.world()
	start := time.Now().Add(-time.Second)
	const created, shipped = "com.example.order.created", "com.example.order.shipped"
	putType := func(name string, body map[string]any) {
		t.Helper()
		if r := e.do(w.ownerAdmin, "PUT", "/v1/event-types/"+name, body); r.status != 200 && r.status != 201 {
			t.Fatalf("PUT event type %s: %d %s", name, r.status, r.body)
		}
	}
	putType(shipped, map[string]any{"description": "an order left", "schema": json.RawMessage(orderSchema),
		"producers": []string{w.producerID}, "public": true})
	bTenant := e.tenant("b-" + t.Name())
	_, bConsumer := e.client(admin, bTenant, "b consumer", "consumer")
	owners := map[string]cred{}
	tenants := map[string]string{}

	// Every receiver fails at first, so that live deliveries end failed
	// (to be retried and recovered later) and are announced by
	// operational events of both tenants.
	probes, endpoints := map[string]*probe{}, map[string]string{}
	subscribe := func(name string, c cred, tenant string, body map[string]any) {
		t.Helper()
		p := newProbe(t, http.StatusInternalServerError)
		body["url"] = p.URL()
		probes[name] = p
		endpoints[name] = e.must(201, e.do(c, "POST", "/v1/endpoints", body))["id"].(string)
		owners[name], tenants[name] = c, tenant
	}
	subscribe("aAll", w.consumer, w.consumerTenant, map[string]any{"types": []string{"com.example.order.>"}})
	subscribe("aBig", w.consumer, w.consumerTenant, map[string]any{"types": []string{"com.example.order.>"},
		"filter": json.RawMessage(`{"data": "$.qty", "gte": 5}`)})
	subscribe("aOps", w.consumer, w.consumerTenant, map[string]any{"types": []string{"herald.>"}})
	subscribe("bAll", bConsumer, bTenant, map[string]any{"types": []string{"com.example.>"}})
	subscribe("bOps", bConsumer, bTenant, map[string]any{"types": []string{"herald.>"}})
	connectors := map[string]string{}
	connect := func(name string, c cred, body map[string]any) {
		t.Helper()
		body["name"], body["kind"], body["code"] = name, "function", `() => "failed"`
		connectors[name] = e.must(201, e.do(c, "POST", "/v1/connectors", body))["id"].(string)
		owners[name] = c
	}
	connect("cA", w.consumer, map[string]any{"types": []string{"com.example.order.>"},
		"filter": json.RawMessage(`{"ext": "team", "eq": "alpha"}`)})
	connect("cB", bConsumer, map[string]any{"types": []string{">"}})

	event := func(id, typ string, qty int, team string) map[string]any {
		ev := orderEvent(id, qty)
		ev["type"] = typ
		if team != "" {
			ev["team"] = team
		}
		return ev
	}
	e.must(202, e.send(w.producer, event("e1", created, 1, "alpha"), event("e2", created, 9, ""),
		event("e3", shipped, 9, "alpha"), event("e4", shipped, 6, "")))
	e.settle()

	// Live: each endpoint got exactly what the rule says, which is what
	// its patterns, filter and consume rights say (producer events) and
	// its tenant's operational events only.
	live := e.oracle()
	aOps, bOps := live.opsOf(w.consumerTenant), live.opsOf(bTenant)
	if len(aOps) == 0 || len(bOps) == 0 {
		t.Fatalf("operational events: %d about tenant A, %d about tenant B; want some of each", len(aOps), len(bOps))
	}
	wantLive := map[string]map[string]bool{
		"aAll": setOf("e1", "e2", "e3", "e4"), "aBig": setOf("e2", "e3", "e4"), "bAll": setOf("e3", "e4"),
		"aOps": setOf(aOps...), "bOps": setOf(bOps...),
	}
	for name, p := range probes {
		sameSet(t, "live "+name+" (rule)", live.endpointEvents(endpoints[name]), wantLive[name])
		sameSet(t, "live "+name+" (received)", p.since(0, true, func(arrival) bool { return true }), wantLive[name])
	}
	wantRuns := map[string]map[string]bool{"cA": setOf("e1", "e3"), "cB": setOf(append([]string{"e3", "e4"}, bOps...)...)}
	runs := map[string][]map[string]any{}
	for name, id := range connectors {
		got := map[string]bool{}
		for _, r := range e.runs(owners[name], id) {
			run := r.(map[string]any)
			runs[name] = append(runs[name], run)
			got[live.ceID[uuid.MustParse(run["event_id"].(string))]] = true
		}
		ruled := map[string]bool{}
		for evID := range live.events {
			if live.connectorReceives(evID, id) {
				ruled[live.ceID[evID]] = true
			}
		}
		sameSet(t, "live connector "+name+" (rule)", ruled, wantRuns[name])
		sameSet(t, "live connector "+name+" (runs)", got, wantRuns[name])
	}

	// The configuration changes: tenant A's consumer may no longer consume
	// created, aBig's filter narrows, and the receivers now accept.
	putType(created, map[string]any{"description": "an order was placed", "schema": json.RawMessage(orderSchema),
		"producers": []string{w.producerID}, "consumers": []string{}})
	e.must(200, e.do(w.consumer, "PATCH", "/v1/endpoints/"+endpoints["aBig"], map[string]any{
		"filter": json.RawMessage(`{"data": "$.qty", "gte": 8}`)}))
	for _, p := range probes {
		p.status.Store(http.StatusNoContent)
	}
	cutoff := time.Now()
	now := e.oracle()
	wantNow := map[string]map[string]bool{
		"aAll": setOf("e3", "e4"), "aBig": setOf("e3"), "bAll": setOf("e3", "e4"),
		"aOps": setOf(aOps...), "bOps": setOf(bOps...),
	}
	for name := range probes {
		sameSet(t, "now "+name+" (rule)", now.endpointEvents(endpoints[name]), wantNow[name])
	}
	known := map[string]bool{}
	rows, err := e.app.Pool().Query(t.Context(), `SELECT id::text FROM deliveries`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		known[id] = true
	}
	rows.Close()

	// Replay: every event stored so far, to every endpoint.
	mark := marks(probes)
	for name, id := range endpoints {
		r := e.must(202, e.do(owners[name], "POST", "/v1/endpoints/"+id+"/replay", map[string]any{"from": start, "to": cutoff}))
		eventually(t, 30*time.Second, "replay to "+name, func() bool {
			return e.must(200, e.do(owners[name], "GET", "/v1/replays/"+r["id"].(string), nil))["status"] != "running"
		})
	}
	e.settle()
	for name, p := range probes {
		// Deliveries the replays made (live operational events announcing
		// recoveries are newer than the replayed range).
		got := p.since(mark[name], true, func(a arrival) bool { return !known[a.delivery] && now.byCE[a.event] != nil })
		sameSet(t, "replay "+name, got, now.endpointEvents(endpoints[name]))
	}

	// Retry: half the failed deliveries of each endpoint, by hand.
	failed := func(endpoint string) map[string]*herald.Delivery {
		rows, err := e.app.Pool().Query(t.Context(), `SELECT id, event_id FROM deliveries
			WHERE endpoint_id = $1 AND status = 'failed' ORDER BY created_at, id`, endpoint)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]*herald.Delivery{}
		for rows.Next() {
			d := &herald.Delivery{}
			if err := rows.Scan(&d.ID, &d.EventID); err != nil {
				t.Fatal(err)
			}
			out[d.ID.String()] = d
		}
		return out
	}
	mark = marks(probes)
	refused := map[string]int{} // per path, so none passes vacuously
	before := map[string]map[string]*herald.Delivery{}
	want := map[string]map[string]bool{}
	for name, id := range endpoints {
		before[name], want[name] = failed(id), map[string]bool{}
		// Half of those the endpoint still receives and half of the
		// others (by event), so both paths meet both answers.
		keys := slices.SortedFunc(maps.Keys(before[name]), func(a, b string) int {
			return strings.Compare(now.ceID[before[name][a].EventID], now.ceID[before[name][b].EventID])
		})
		seen := map[bool]int{}
		for _, key := range keys {
			d := before[name][key]
			receives := now.endpointReceives(d.EventID, id)
			if seen[receives]++; seen[receives]%2 == 0 {
				continue
			}
			r := e.do(owners[name], "POST", "/v1/deliveries/"+key+"/retry", nil)
			if receives {
				if r.status != http.StatusAccepted {
					t.Errorf("retry of %s to %s: %d %s, want 202", now.ceID[d.EventID], name, r.status, r.body)
				}
				want[name][key] = true
				continue
			}
			refused["retry"]++
			if r.status != http.StatusConflict || !strings.Contains(string(r.body), `"rule":"not-received"`) {
				t.Errorf("retry of %s to %s: %d %s, want 409 not-received", now.ceID[d.EventID], name, r.status, r.body)
			}
		}
	}
	e.settle()
	for name, p := range probes {
		got := p.since(mark[name], false, func(a arrival) bool { return before[name][a.delivery] != nil })
		sameSet(t, "retry "+name, got, want[name])
	}

	// Recover: the remaining failed deliveries of each endpoint.
	mark = marks(probes)
	for name, id := range endpoints {
		remaining := failed(id)
		want[name] = map[string]bool{}
		for key, d := range remaining {
			if now.endpointReceives(d.EventID, id) {
				want[name][key] = true
			}
		}
		r := e.must(202, e.do(owners[name], "POST", "/v1/endpoints/"+id+"/recover", map[string]any{"since": start}))
		if r["recovered"] != float64(len(want[name])) || r["skipped"] != float64(len(remaining)-len(want[name])) ||
			r["more"] != false {
			t.Errorf("recover %s = %v, want %d recovered, %d skipped", name, r, len(want[name]), len(remaining)-len(want[name]))
		}
		before[name] = remaining
		refused["recover"] += len(remaining) - len(want[name])
	}
	e.settle()
	for name, p := range probes {
		got := p.since(mark[name], false, func(a arrival) bool { return before[name][a.delivery] != nil })
		sameSet(t, "recover "+name, got, want[name])
	}

	// Connector run retries.
	for name, id := range connectors {
		for _, run := range runs[name] {
			ev := uuid.MustParse(run["event_id"].(string))
			r := e.do(owners[name], "POST", "/v1/connector-runs/"+run["id"].(string)+"/retry", nil)
			want := http.StatusConflict
			if now.connectorReceives(ev, id) {
				want = http.StatusAccepted
			} else {
				refused["connector retry"]++
			}
			if r.status != want {
				t.Errorf("retry of %s's run of %s: %d %s, want %d", name, now.ceID[ev], r.status, r.body, want)
			}
		}
	}

	// Test sends: a sample goes only where the rule would send it.
	samples := []map[string]any{
		nil,
		{"type": created, "data": map[string]any{"order": "s", "qty": 9}},
		{"type": shipped, "data": map[string]any{"order": "s", "qty": 9}},
		{"type": shipped, "data": map[string]any{"order": "s", "qty": 6}},
		{"type": herald.OpDeliveryExhausted, "data": map[string]any{"delivery_id": "d"}},
	}
	wantTests := map[string][]int{"aAll": {0, 2, 3}, "aBig": {0, 2}, "aOps": {0, 4}, "bAll": {0, 2, 3}, "bOps": {0, 4}}
	for name, id := range endpoints {
		for i, sample := range samples {
			ce := &cloudevents.Event{Type: herald.TestEventType, DataContentType: "application/json"}
			var body any
			if sample != nil {
				ce.Type = sample["type"].(string)
				ce.Data, _ = json.Marshal(sample["data"])
				body = sample
			}
			ev := catalog.Event{Type: ce.Type, TenantID: uuid.MustParse(tenants[name]), To: uuid.MustParse(id),
				Attrs: catalog.CloudEvent(ce)}
			r := e.do(owners[name], "POST", "/v1/endpoints/"+id+"/test", body)
			if ruled := now.snap.Receives(ev, ev.To); ruled != slices.Contains(wantTests[name], i) {
				t.Errorf("rule says %s receives test sample %d: %v", name, i, ruled)
			}
			if !now.snap.Receives(ev, ev.To) {
				refused["test send"]++
			}
			if now.snap.Receives(ev, ev.To) {
				if r.status != http.StatusAccepted {
					t.Errorf("test send of %s to %s: %d %s, want 202", ce.Type, name, r.status, r.body)
				}
			} else if r.status != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), `"rule":"not-received"`) {
				t.Errorf("test send of %s to %s: %d %s, want 422 not-received", ce.Type, name, r.status, r.body)
			}
		}
	}
	e.settle()
	for _, path := range []string{"retry", "recover", "connector retry", "test send"} {
		if refused[path] == 0 {
			t.Errorf("no %s was refused: the configuration change did not reach that path", path)
		}
	}

	// Through every path, tenant B's endpoints never got an operational
	// event about tenant A, nor A's about B.
	final := e.oracle()
	for name, p := range probes {
		for _, a := range p.arrivals() {
			ev := final.byCE[a.event]
			if ev == nil {
				t.Errorf("%s received an event that is not stored: %+v", name, a)
				continue
			}
			if herald.IsOperational(ev.Type) && ev.TenantID.String() != tenants[name] {
				t.Errorf("%s (tenant %s) received %s about tenant %s", name, tenants[name], ev.Type, ev.TenantID)
			}
		}
	}
}
