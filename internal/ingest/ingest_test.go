package ingest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/cloudevents"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/ingest"
	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/internal/secretbox"
)

func TestMain(m *testing.M) {
	os.Exit(heraldtest.Main(m, postgres.MigrateDSN))
}

const (
	orderType   = "com.example.order.created"
	orderSchema = `{"type": "object", "required": ["order", "qty"],
		"properties": {"order": {"type": "string"}, "qty": {"type": "integer", "minimum": 1}}}`
)

// env is an ingest service on the test's own database, with a tenant whose
// producer may send orderType and whose consumer has an endpoint for it.
type env struct {
	t        *testing.T
	ctx      context.Context
	pool     *pgxpool.Pool
	store    *postgres.Store
	cat      *catalog.Catalog
	svc      *ingest.Service
	tenant   *herald.Tenant
	producer herald.Principal
	// outsider is a producer of the same tenant the type does not list.
	outsider herald.Principal
	consumer *herald.Client
	endpoint *herald.Endpoint
}

// newEnv starts the service with cfg. The catalog's snapshots never expire
// by age, so only the committer's version check refreshes routing.
func newEnv(t *testing.T, cfg ingest.Config) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	pool, err := postgres.OpenPool(ctx, heraldtest.NewDatabase(t), 8)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	store := postgres.New(pool, secretbox.New(secretbox.GenerateKey()))
	// Insert-only: jobs are written in ingest's transaction; nothing works them.
	jobs, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Logger: heraldtest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, pool: pool, store: store, cat: catalog.New(store, pool, time.Hour, heraldtest.Logger(t))}
	e.tenant = e.newTenant("acme")
	e.producer = herald.Principal{Client: e.client(e.tenant.ID, "shop", herald.RoleProducer)}
	e.outsider = herald.Principal{Client: e.client(e.tenant.ID, "stranger", herald.RoleProducer)}
	e.consumer = e.client(e.tenant.ID, "warehouse", herald.RoleConsumer)
	e.eventType(orderType, e.tenant.ID, false, orderSchema, []uuid.UUID{e.producer.Client.ID}, []uuid.UUID{e.consumer.ID})
	e.endpoint = e.newEndpoint(e.tenant.ID, e.consumer.ID, "com.example.>")
	e.svc = ingest.New(pool, store, e.cat, jobs, cfg, heraldtest.Logger(t))
	e.svc.Start()
	t.Cleanup(e.svc.Stop)
	return e
}

func (e *env) newTenant(name string) *herald.Tenant {
	e.t.Helper()
	tn := &herald.Tenant{ID: uuid.New(), Name: name}
	if err := e.store.TenantCreate(e.ctx, tn); err != nil {
		e.t.Fatal(err)
	}
	return tn
}

func (e *env) client(tenant uuid.UUID, name string, roles ...herald.Role) *herald.Client {
	e.t.Helper()
	key, secret := herald.NewCredential()
	c := &herald.Client{ID: uuid.New(), TenantID: tenant, Name: name, Key: key, SecretHash: herald.HashSecret(secret), Roles: roles}
	if err := e.store.ClientCreate(e.ctx, c); err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) eventType(name string, owner uuid.UUID, public bool, schema string, producers, consumers []uuid.UUID) {
	e.t.Helper()
	et := &herald.EventType{Name: name, TenantID: owner, Public: public, Schema: []byte(schema), SchemaDraft: "2020-12",
		Producers: append([]uuid.UUID{}, producers...), Consumers: append([]uuid.UUID{}, consumers...)}
	if _, err := e.store.EventTypePut(e.ctx, et, func(*herald.EventType) error { return nil }); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) newEndpoint(tenant, client uuid.UUID, patterns ...string) *herald.Endpoint {
	e.t.Helper()
	ep := &herald.Endpoint{ID: uuid.New(), TenantID: tenant, ClientID: client, URL: "https://receiver.example/" + uuid.NewString(),
		Types: patterns, Status: herald.EndpointActive, Secret: "whsec_dGVzdA=="}
	if err := e.store.EndpointCreate(e.ctx, ep); err != nil {
		e.t.Fatal(err)
	}
	return ep
}

// order is an orderType event from /shop with JSON data.
func order(id, data string) *cloudevents.Event {
	return &cloudevents.Event{ID: id, Source: "/shop", SpecVersion: cloudevents.SpecVersion, Type: orderType,
		DataContentType: "application/json", Data: json.RawMessage(data)}
}

// count runs a counting query.
func (e *env) count(sql string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.pool.QueryRow(e.ctx, sql, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) events() int { return e.count(`SELECT count(*) FROM events`) }

func (e *env) deliveriesTo(ep *herald.Endpoint) int {
	return e.count(`SELECT count(*) FROM deliveries WHERE endpoint_id = $1`, ep.ID)
}

// TestRejectsWholeBatch: one bad event refuses the whole request, every
// problem of every event is listed with its index, id, field and rule,
// and nothing is stored.
func TestRejectsWholeBatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ingest.Config{})
	unknown := order("u-1", `{}`)
	unknown.Type = "com.example.nobody.registered"
	_, err := e.svc.Ingest(e.ctx, e.producer, []*cloudevents.Event{
		order("ok-1", `{"order": "A-1", "qty": 1}`),
		unknown,
		order("bad-2", `{"order": 7, "qty": 0}`),
		order("bad-3", `{"qty": 2}`),
		order("ok-4", `{"order": "A-4", "qty": 4}`),
	})
	var rej *ingest.RejectError
	if !errors.As(err, &rej) {
		t.Fatalf("err = %v, want a RejectError", err)
	}
	if rej.Forbidden {
		t.Error("Forbidden set, yet the producer may send the type")
	}
	type key struct {
		index     int
		id, field string
		rule      string
		hasDetail bool
	}
	var got []key
	for _, p := range rej.Problems {
		got = append(got, key{index: p.Index, id: p.ID, field: p.Field, rule: p.Rule, hasDetail: p.Detail != ""})
	}
	want := []key{
		{index: 1, id: "u-1", field: "type", rule: "unknown-type", hasDetail: true},
		{index: 2, id: "bad-2", field: "data.order", rule: "type", hasDetail: true},
		{index: 2, id: "bad-2", field: "data.qty", rule: "minimum", hasDetail: true},
		{index: 3, id: "bad-3", field: "data", rule: "required", hasDetail: true},
	}
	slices.SortFunc(got, func(a, b key) int { return cmpKey(a.index, a.field, b.index, b.field) })
	if !slices.Equal(got, want) {
		t.Fatalf("problems:\n got %+v\nwant %+v", got, want)
	}
	if n := e.events(); n != 0 {
		t.Fatalf("%d events stored from a rejected request", n)
	}
}

func cmpKey(ai int, af string, bi int, bf string) int {
	if ai != bi {
		return ai - bi
	}
	switch {
	case af < bf:
		return -1
	case af > bf:
		return 1
	}
	return 0
}

// TestProducerRights: a client the type does not list as a producer is
// refused (Forbidden, rule producer), even beside a valid event, and
// beside an unknown type both problems are listed.
func TestProducerRights(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ingest.Config{})
	unknown := order("u-1", `{}`)
	unknown.Type = "com.example.unknown"
	_, err := e.svc.Ingest(e.ctx, e.outsider, []*cloudevents.Event{order("o-1", `{"order": "A", "qty": 1}`), unknown})
	var rej *ingest.RejectError
	if !errors.As(err, &rej) || !rej.Forbidden {
		t.Fatalf("err = %v, want a forbidden RejectError", err)
	}
	if len(rej.Problems) != 2 || rej.Problems[0].Rule != "producer" || rej.Problems[0].Field != "type" ||
		rej.Problems[0].Index != 0 || rej.Problems[1].Rule != "unknown-type" || rej.Problems[1].Index != 1 {
		t.Fatalf("problems = %+v", rej.Problems)
	}
	if n := e.events(); n != 0 {
		t.Fatalf("%d events stored", n)
	}
	// The listed producer may.
	if _, err := e.svc.Ingest(e.ctx, e.producer, []*cloudevents.Event{order("o-1", `{"order": "A", "qty": 1}`)}); err != nil {
		t.Fatal(err)
	}
}

// TestStoresEventsDeliveriesAndJobs: accepted events are stored with their
// deliveries and delivery jobs, answered in request order.
func TestStoresEventsDeliveriesAndJobs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ingest.Config{})
	stored, err := e.svc.Ingest(e.ctx, e.producer, []*cloudevents.Event{
		order("a", `{"order": "A", "qty": 1}`), order("b", `{"order": "B", "qty": 2}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 2 || stored[0].CEID != "a" || stored[1].CEID != "b" || stored[0].Source != "/shop" ||
		stored[0].Duplicate || stored[1].Duplicate || stored[0].ID == stored[1].ID || stored[1].Seq <= stored[0].Seq {
		t.Fatalf("stored = %+v", stored)
	}
	for _, s := range stored {
		ev, err := e.store.EventGet(e.ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if ev.CEID != s.CEID || ev.Type != orderType || ev.ProducerID != e.producer.Client.ID || ev.TenantID != e.tenant.ID {
			t.Fatalf("stored event %+v for %+v", ev, s)
		}
	}
	if n := e.deliveriesTo(e.endpoint); n != 2 {
		t.Fatalf("%d deliveries, want 2", n)
	}
	if n := e.count(`SELECT count(*) FROM river_job`); n == 0 {
		t.Fatal("no delivery job enqueued")
	}
}

// TestDuplicates: a (source, id) repeated within one request, or sent
// again by a later request, is answered with the first event's id and
// marked Duplicate; it is stored and delivered once.
func TestDuplicates(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ingest.Config{})
	first, err := e.svc.Ingest(e.ctx, e.producer, []*cloudevents.Event{
		order("dup", `{"order": "A", "qty": 1}`), order("other", `{"order": "B", "qty": 1}`), order("dup", `{"order": "A", "qty": 1}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	if first[0].Duplicate || first[1].Duplicate || !first[2].Duplicate || first[2].ID != first[0].ID || first[2].Seq != first[0].Seq {
		t.Fatalf("within one request: %+v", first)
	}
	again, err := e.svc.Ingest(e.ctx, e.producer, []*cloudevents.Event{order("dup", `{"order": "A", "qty": 1}`)})
	if err != nil {
		t.Fatal(err)
	}
	if !again[0].Duplicate || again[0].ID != first[0].ID || again[0].Seq != first[0].Seq ||
		!again[0].ReceivedAt.Equal(first[0].ReceivedAt) {
		t.Fatalf("across requests: %+v, first %+v", again[0], first[0])
	}
	if n, d := e.events(), e.deliveriesTo(e.endpoint); n != 2 || d != 2 {
		t.Fatalf("%d events and %d deliveries stored, want 2 and 2", n, d)
	}
	// A request holding a stored event and a new one: the new one is
	// stored and gets its delivery job; the repeat gets neither.
	mixed, err := e.svc.Ingest(e.ctx, e.producer, []*cloudevents.Event{
		order("dup", `{"order": "A", "qty": 1}`), order("new", `{"order": "C", "qty": 1}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !mixed[0].Duplicate || mixed[1].Duplicate {
		t.Fatalf("mixed request: %+v", mixed)
	}
	if n, d := e.events(), e.deliveriesTo(e.endpoint); n != 3 || d != 3 {
		t.Fatalf("%d events and %d deliveries stored, want 3 and 3", n, d)
	}
	// Every delivery has exactly one job, and every job's delivery exists.
	jobbed := e.count(`SELECT count(*) FROM (
			SELECT (args->>'d')::uuid AS id FROM river_job WHERE kind = 'herald.deliver'
			UNION ALL
			SELECT (b->>'d')::uuid FROM river_job, jsonb_array_elements(args->'b') b WHERE kind = 'herald.deliver_batch'
		) j JOIN deliveries d ON d.id = j.id`)
	jobs := e.count(`SELECT count(*) FROM river_job, LATERAL (
			SELECT 1 FROM jsonb_array_elements(CASE WHEN kind = 'herald.deliver_batch' THEN args->'b' ELSE jsonb_build_array(args) END)) x
		WHERE kind IN ('herald.deliver', 'herald.deliver_batch')`)
	if jobbed != 3 || jobs != 3 {
		t.Fatalf("%d deliveries in %d job entries, want 3 in 3", jobbed, jobs)
	}
}

// TestGroupCommitAnswersEachRequest: requests queued while a commit is
// held up are written together, and each is answered with its own events'
// results in its own order; a key two of them share is stored once, and a
// key the held-up request stored is a duplicate for the later ones.
func TestGroupCommitAnswersEachRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ingest.Config{Committers: 1})
	release, held := e.heldRequest("held")

	const requests = 12
	results := make([][]ingest.Stored, requests)
	errs := make([]error, requests)
	var wg sync.WaitGroup
	for i := range requests {
		wg.Go(func() {
			evs := []*cloudevents.Event{
				order(fmt.Sprintf("r%d-a", i), `{"order": "A", "qty": 1}`),
				order("shared", `{"order": "S", "qty": 1}`),
				order(fmt.Sprintf("r%d-b", i), `{"order": "B", "qty": 2}`),
			}
			if i == 0 {
				evs = append(evs, order("held", `{"order": "H", "qty": 1}`))
			}
			results[i], errs[i] = e.svc.Ingest(e.ctx, e.producer, evs)
		})
	}
	time.Sleep(200 * time.Millisecond) // let them queue behind the held commit
	release()
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	var sharedID uuid.UUID
	sharedFirsts := 0
	receivedAt := map[time.Time]bool{}
	for i, res := range results {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		want := []string{fmt.Sprintf("r%d-a", i), "shared", fmt.Sprintf("r%d-b", i)}
		if i == 0 {
			want = append(want, "held")
		}
		if len(res) != len(want) {
			t.Fatalf("request %d answered %d results for %d events", i, len(res), len(want))
		}
		for j, s := range res {
			if s.CEID != want[j] || s.Source != "/shop" || s.ID == uuid.Nil {
				t.Fatalf("request %d result %d = %+v, want event %s", i, j, s, want[j])
			}
		}
		if res[0].Duplicate || res[2].Duplicate {
			t.Fatalf("request %d: its own events marked duplicate: %+v", i, res)
		}
		if sharedID == uuid.Nil {
			sharedID = res[1].ID
		}
		if res[1].ID != sharedID {
			t.Fatalf("the shared key answered with two ids: %s and %s", sharedID, res[1].ID)
		}
		if !res[1].Duplicate {
			sharedFirsts++
		}
		if i == 0 && !res[3].Duplicate {
			t.Fatal("the held request's key was not a duplicate for a later request")
		}
		receivedAt[res[0].ReceivedAt] = true
	}
	if sharedFirsts != 1 {
		t.Fatalf("%d requests were answered as the first of the shared key, want 1", sharedFirsts)
	}
	t.Logf("%d queued requests written in %d commits", requests, len(receivedAt))
	if len(receivedAt) >= requests {
		t.Fatalf("%d commits for %d queued requests: none were grouped", len(receivedAt), requests)
	}
	// held, shared, and two of each request.
	if n := e.events(); n != 2+2*requests {
		t.Fatalf("%d events stored, want %d", n, 2+2*requests)
	}
}

// heldRequest sends a request of one event with this id and holds up its
// commit until release: a transaction of the test's own claims the event's
// key first, so the committer's insert waits for it. It returns once the
// committer waits; the request's answer arrives on the channel.
func (e *env) heldRequest(id string) (release func(), answer <-chan error) {
	e.t.Helper()
	blocker, err := e.pool.Begin(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	release = func() { _ = blocker.Rollback(context.Background()) }
	e.t.Cleanup(release)
	if _, err := blocker.Exec(e.ctx, `INSERT INTO event_keys (tenant_id, source, ce_id, event_id, received_at)
		VALUES ($1, '/shop', $2, gen_random_uuid(), now())`, e.tenant.ID, id); err != nil {
		e.t.Fatal(err)
	}
	answered := make(chan error, 1)
	go func() {
		_, err := e.svc.Ingest(e.ctx, e.producer, []*cloudevents.Event{order(id, `{"order": "H", "qty": 1}`)})
		answered <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if e.count(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`) > 0 {
			return release, answered
		}
		if time.Now().After(deadline) {
			e.t.Fatal("the commit was not held up")
		}
	}
}

// TestStaleRoutesAreRoutedAgain: an endpoint created after the routing
// snapshot was taken still gets its delivery, because the committer sees
// the newer configuration version in its transaction and routes again.
func TestStaleRoutesAreRoutedAgain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ingest.Config{})
	if _, err := e.svc.Ingest(e.ctx, e.producer, []*cloudevents.Event{order("warm", `{"order": "A", "qty": 1}`)}); err != nil {
		t.Fatal(err)
	}
	before, err := e.cat.Get(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	late := e.newEndpoint(e.tenant.ID, e.consumer.ID, orderType)
	if now, _ := e.cat.Get(e.ctx); now != before {
		t.Fatal("the catalog refreshed by itself; the test needs a stale snapshot")
	}
	stored, err := e.svc.Ingest(e.ctx, e.producer, []*cloudevents.Event{order("after", `{"order": "B", "qty": 1}`)})
	if err != nil {
		t.Fatal(err)
	}
	if n := e.count(`SELECT count(*) FROM deliveries WHERE endpoint_id = $1 AND event_id = $2`, late.ID, stored[0].ID); n != 1 {
		t.Fatalf("%d deliveries to the endpoint created after the snapshot, want 1", n)
	}
	if n := e.deliveriesTo(e.endpoint); n != 2 {
		t.Fatalf("%d deliveries to the first endpoint, want 2", n)
	}
}

// TestEmit: an operational event about a tenant is stored through the
// committer and routed only to that tenant's subscribers.
func TestEmit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ingest.Config{})
	platform, err := e.store.TenantEnsurePlatform(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range ingest.OperationalTypes {
		e.eventType(typ, platform.ID, true, "true", nil, nil)
	}
	other := e.newTenant("other")
	ours := e.newEndpoint(e.tenant.ID, e.consumer.ID, "herald.>")
	theirs := e.newEndpoint(other.ID, e.client(other.ID, "their consumer", herald.RoleConsumer).ID, "herald.>")
	if _, err := e.cat.Fresh(e.ctx, e.pool); err != nil {
		t.Fatal(err)
	}
	subject := "endpoints/" + e.endpoint.ID.String()
	if err := e.svc.Emit(e.ctx, e.tenant.ID, herald.OpEndpointDisabled, subject, map[string]any{"endpoint_id": e.endpoint.ID}); err != nil {
		t.Fatal(err)
	}
	var id uuid.UUID
	var source, typ, subj string
	var tenant uuid.UUID
	if err := e.pool.QueryRow(e.ctx, `SELECT id, source, type, subject, tenant_id FROM events`).Scan(&id, &source, &typ, &subj, &tenant); err != nil {
		t.Fatal(err)
	}
	if source != "/herald" || typ != herald.OpEndpointDisabled || subj != subject || tenant != e.tenant.ID {
		t.Fatalf("stored %s %s %s for tenant %s", source, typ, subj, tenant)
	}
	ev, err := e.store.EventGet(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Data map[string]string `json:"data"`
	}
	if err := json.Unmarshal(ev.Body, &body); err != nil || body.Data["endpoint_id"] != e.endpoint.ID.String() {
		t.Fatalf("body %s: %v", ev.Body, err)
	}
	if d1, d2, d3 := e.deliveriesTo(ours), e.deliveriesTo(theirs), e.deliveriesTo(e.endpoint); d1 != 1 || d2 != 0 || d3 != 0 {
		t.Fatalf("deliveries: ours %d, the other tenant's %d, the order endpoint's %d; want 1, 0, 0", d1, d2, d3)
	}
}

// TestStopAnswersQueuedRequests: Stop returns only after the requests
// already queued are committed and answered.
func TestStopAnswersQueuedRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ingest.Config{Committers: 1})
	release, answered := e.heldRequest("queued")
	stopped := make(chan struct{})
	go func() {
		e.svc.Stop()
		close(stopped)
	}()
	select {
	case <-stopped:
		t.Fatal("Stop returned before the queued request was answered")
	case err := <-answered:
		t.Fatalf("the queued request was answered while its commit was held: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	release()
	if err := <-answered; err != nil {
		t.Fatalf("queued request: %v", err)
	}
	<-stopped
	if n := e.count(`SELECT count(*) FROM events WHERE ce_id = 'queued'`); n != 1 {
		t.Fatalf("queued event stored %d times", n)
	}
}

// TestStopRefusesNewRequests: after Stop, requests and operational events
// are refused as unavailable, and Stop may be called again.
func TestStopRefusesNewRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ingest.Config{})
	e.svc.Stop()
	_, err := e.svc.Ingest(e.ctx, e.producer, []*cloudevents.Event{order("late", `{"order": "L", "qty": 1}`)})
	if !errors.Is(err, ingest.ErrStopped) || !errors.Is(err, herald.ErrUnavailable) {
		t.Fatalf("Ingest after Stop: %v", err)
	}
	if err := e.svc.Emit(e.ctx, e.tenant.ID, herald.OpEndpointDisabled, "endpoints/x", nil); !errors.Is(err, ingest.ErrStopped) {
		t.Fatalf("Emit after Stop: %v", err)
	}
	e.svc.Stop()
	if n := e.events(); n != 0 {
		t.Fatalf("%d events stored after Stop", n)
	}
}
