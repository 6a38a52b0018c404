package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/postgres"
)

// statsWorld is a store with two tenants' traffic at known times: A (the
// fixture's tenant, whose stats are read) and B (whose rows A must not
// see). It keeps the outcome of every delivery of A it records, to know
// A's backlog.
type statsWorld struct {
	*fixture
	since   time.Time
	a       map[string]*herald.Endpoint // ep1 (the fixture's), ep2, ep3, ep4, gone
	b       *herald.Endpoint
	bClient *herald.Client
	status  map[uuid.UUID]herald.DeliveryStatus // A's deliveries
}

// ingest stores events of the tenant received at at, each delivered to
// eps, and returns the deliveries by "<ce id>/<endpoint url>".
func (w *statsWorld) ingest(t *testing.T, producer *herald.Client, at time.Time, eps []*herald.Endpoint, ceIDs ...string) map[string]*herald.Delivery {
	t.Helper()
	var events []*herald.Event
	for _, id := range ceIDs {
		events = append(events, newEvent(t, producer.TenantID, producer.ID, at, "/shop", id))
	}
	rows := ingestRows(at, events, eps...)
	if _, _, err := w.store.IngestWrite(ctxT(t), w.pool, rows); err != nil {
		t.Fatal(err)
	}
	return w.keep(rows, events, eps)
}

func (w *statsWorld) keep(rows *postgres.IngestRows, events []*herald.Event, eps []*herald.Endpoint) map[string]*herald.Delivery {
	out := map[string]*herald.Delivery{}
	for i, d := range rows.Deliveries {
		out[events[i/len(eps)].CEID+"/"+eps[i%len(eps)].URL] = d
		if d.TenantID == w.tenant.ID {
			w.status[d.ID] = herald.DeliveryPending
		}
	}
	return out
}

// attempt records attempt n of d at since+offset: code 0 is no answer.
func (w *statsWorld) attempt(t *testing.T, d *herald.Delivery, n int, offset time.Duration, code int, errText string, status herald.DeliveryStatus) {
	t.Helper()
	rec := &postgres.AttemptRecord{DeliveryID: d.ID, CreatedAt: d.CreatedAt, EndpointID: d.EndpointID, TenantID: d.TenantID,
		Status: status, Attempt: herald.Attempt{Attempt: n, At: w.since.Add(offset), StatusCode: code, Error: errText}}
	if status == herald.DeliveryPending {
		rec.NextAttemptAt = w.since.Add(time.Hour)
	}
	if err := w.store.DeliveryRecordAttempts(ctxT(t), []*postgres.AttemptRecord{rec}); err != nil {
		t.Fatal(err)
	}
	if _, ok := w.status[d.ID]; ok {
		w.status[d.ID] = status
	}
}

func (w *statsWorld) pending() int64 {
	var n int64
	for _, st := range w.status {
		if st == herald.DeliveryPending {
			n++
		}
	}
	return n
}

// newStatsWorld fills the store; since is the start of a ten-minute window
// of one-minute buckets, half an hour ago. Expected counts are in
// TestStats.
func newStatsWorld(t *testing.T) *statsWorld {
	t.Helper()
	f := newFixture(t)
	ctx := ctxT(t)
	w := &statsWorld{fixture: f, since: time.Now().UTC().Truncate(time.Minute).Add(-30 * time.Minute),
		a: map[string]*herald.Endpoint{"ep1": f.endpoint}, status: map[uuid.UUID]herald.DeliveryStatus{}}
	for _, name := range []string{"ep2", "ep3", "ep4", "gone"} {
		w.a[name] = createEndpoint(t, f.store, f.tenant.ID, f.client.ID, "https://"+name+".example/in", "whsec_c2VjcmV0LWZvci10ZXN0cw==", "com.>")
	}
	other := createTenant(t, f.store, "other")
	w.bClient = createClient(t, f.store, other.ID, "other's", herald.RoleProducer, herald.RoleConsumer)
	w.b = createEndpoint(t, f.store, other.ID, w.bClient.ID, "https://b.example/in", "whsec_c2VjcmV0LWZvci10ZXN0cw==", "com.>")
	s := w.since
	ep1, ep2, ep3, ep4, gone := w.a["ep1"], w.a["ep2"], w.a["ep3"], w.a["ep4"], w.a["gone"]

	// Events in: 2 in the first bucket, 3 in the sixth; one before the
	// window, one at its end (outside), a test send and tenant B's.
	early := w.ingest(t, f.client, s.Add(-5*time.Minute), []*herald.Endpoint{ep1}, "early")
	a := w.ingest(t, f.client, s.Add(30*time.Second), []*herald.Endpoint{ep1, ep2}, "a1", "a2")
	b := w.ingest(t, f.client, s.Add(5*time.Minute+10*time.Second), []*herald.Endpoint{ep1, ep3, ep4, gone}, "b1", "b2", "b3")
	w.ingest(t, f.client, s.Add(10*time.Minute), []*herald.Endpoint{ep1}, "late")
	x := w.ingest(t, w.bClient, s.Add(time.Minute), []*herald.Endpoint{w.b}, "x1")
	testAt := s.Add(2 * time.Minute)
	test := newEvent(t, f.tenant.ID, f.client.ID, testAt, "/herald/test", "test")
	rows := ingestRows(testAt, []*herald.Event{test}, ep1)
	if err := pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		if _, _, err := f.store.IngestWrite(ctx, tx, rows); err != nil {
			return err
		}
		return f.store.EventAddress(ctx, tx, test.ID, testAt, ep1.ID)
	}); err != nil {
		t.Fatal(err)
	}
	w.keep(rows, []*herald.Event{test}, []*herald.Endpoint{ep1})

	// Attempts, by the time they were made.
	pending, ok, failed := herald.DeliveryPending, herald.DeliverySucceeded, herald.DeliveryFailed
	w.attempt(t, early["early/"+ep1.URL], 1, -4*time.Minute, 500, "receiver answered HTTP 500", pending) // before
	w.attempt(t, early["early/"+ep1.URL], 2, 10*time.Minute, 500, "receiver answered HTTP 500", pending) // at the end
	w.attempt(t, a["a1/"+ep1.URL], 1, time.Minute+5*time.Second, 204, "", ok)
	w.attempt(t, a["a2/"+ep1.URL], 1, time.Minute+6*time.Second, 500, "receiver answered HTTP 500", pending)
	w.attempt(t, a["a2/"+ep1.URL], 2, 9*time.Minute+59*time.Second, 0, "timed out after 15s", pending)
	for i := range 3 {
		w.attempt(t, a["a1/"+ep2.URL], i+1, 2*time.Minute+time.Duration(i)*time.Second, 503, "receiver answered HTTP 503", pending)
	}
	w.attempt(t, a["a2/"+ep2.URL], 1, 3*time.Minute, 204, "", ok)
	w.attempt(t, b["b2/"+ep4.URL], 1, 4*time.Minute, 500, "receiver answered HTTP 500", pending)
	w.attempt(t, b["b1/"+ep1.URL], 1, 5*time.Minute+30*time.Second, 204, "", ok)
	w.attempt(t, b["b1/"+ep3.URL], 1, 6*time.Minute, 410, "receiver answered 410 Gone: endpoint disabled", failed)
	for i := range 5 {
		w.attempt(t, b["b1/"+gone.URL], i+1, 6*time.Minute+time.Duration(i)*time.Second, 500, "receiver answered HTTP 500", pending)
	}
	w.attempt(t, b["b3/"+ep4.URL], 1, 7*time.Minute, 500, "receiver answered HTTP 500", pending)
	w.attempt(t, x["x1/"+w.b.URL], 1, time.Minute, 500, "receiver answered HTTP 500", pending)

	if err := f.store.EndpointDisable(ctx, ep3.ID, "receiver answered 410 Gone"); err != nil {
		t.Fatal(err)
	}
	if err := f.store.EndpointDelete(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	// A deleted endpoint's deliveries wait for nothing: not backlog.
	for _, d := range b {
		if d.EndpointID == gone.ID {
			delete(w.status, d.ID)
		}
	}
	if _, err := f.store.EndpointHealthRecord(ctx, nil, []uuid.UUID{ep2.ID, ep2.ID, ep2.ID}, 0, postgres.Breaker{}); err != nil {
		t.Fatal(err)
	}
	return w
}

func TestStats(t *testing.T) {
	t.Parallel()
	w := newStatsWorld(t)
	st, err := w.store.Stats(ctxT(t), w.tenant.ID, w.since, w.since.Add(10*time.Minute), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Since.Equal(w.since) || !st.Until.Equal(w.since.Add(10*time.Minute)) || st.Bucket != time.Minute {
		t.Errorf("window = [%s, %s) by %s", st.Since, st.Until, st.Bucket)
	}

	// Per bucket: events in, attempts succeeded and failed. The deleted
	// endpoint's attempts count (bucket 6); the test send, tenant B's
	// rows and everything outside the window do not.
	want := [10]postgres.StatsCounts{
		0: {EventsIn: 2},
		1: {AttemptsSucceeded: 1, AttemptsFailed: 1},
		2: {AttemptsFailed: 3},
		3: {AttemptsSucceeded: 1},
		4: {AttemptsFailed: 1},
		5: {EventsIn: 3, AttemptsSucceeded: 1},
		6: {AttemptsFailed: 6},
		7: {AttemptsFailed: 1},
		9: {AttemptsFailed: 1},
	}
	if len(st.Series) != len(want) {
		t.Fatalf("%d buckets, want %d", len(st.Series), len(want))
	}
	for i, b := range st.Series {
		if at := w.since.Add(time.Duration(i) * time.Minute); !b.At.Equal(at) {
			t.Errorf("bucket %d at %s, want %s", i, b.At, at)
		}
		if b.StatsCounts != want[i] {
			t.Errorf("bucket %d = %+v, want %+v", i, b.StatsCounts, want[i])
		}
	}
	if totals := (postgres.StatsCounts{EventsIn: 5, AttemptsSucceeded: 3, AttemptsFailed: 13}); st.Totals != totals {
		t.Errorf("totals = %+v, want %+v", st.Totals, totals)
	}

	// The backlog is A's pending deliveries, the oldest from before the
	// window.
	if st.Backlog.Pending != w.pending() || st.Backlog.Capped || !st.Backlog.OldestPendingAt.Equal(w.since.Add(-5*time.Minute)) {
		t.Errorf("backlog = %+v, want %d pending since %s", st.Backlog, w.pending(), w.since.Add(-5*time.Minute))
	}

	// Most failed attempts first, then the latest failure; the deleted
	// endpoint (5 failures) is left out.
	type failing struct {
		name              string
		failed, ok        int64
		last              time.Duration
		code              int
		err               string
		status            herald.EndpointStatus
		consecutive       int
		healthy, disabled bool
	}
	wantFailing := []failing{
		{name: "ep2", failed: 3, ok: 1, last: 2*time.Minute + 2*time.Second, code: 503, err: "receiver answered HTTP 503",
			status: herald.EndpointActive, consecutive: 3},
		{name: "ep1", failed: 2, ok: 2, last: 9*time.Minute + 59*time.Second, err: "timed out after 15s",
			status: herald.EndpointActive, healthy: true},
		{name: "ep4", failed: 2, last: 7 * time.Minute, code: 500, err: "receiver answered HTTP 500",
			status: herald.EndpointActive, healthy: true},
		{name: "ep3", failed: 1, last: 6 * time.Minute, code: 410, err: "receiver answered 410 Gone: endpoint disabled",
			status: herald.EndpointDisabled, healthy: true, disabled: true},
	}
	if len(st.FailingEndpoints) != len(wantFailing) {
		t.Fatalf("failing endpoints = %+v, want %d", st.FailingEndpoints, len(wantFailing))
	}
	for i, f := range wantFailing {
		got := st.FailingEndpoints[i]
		ep := w.a[f.name]
		if got.ID != ep.ID || got.URL != ep.URL || got.Status != f.status || got.AttemptsFailed != f.failed ||
			got.AttemptsSucceeded != f.ok || !got.LastFailedAt.Equal(w.since.Add(f.last)) || got.LastStatusCode != f.code ||
			got.LastError != f.err || got.ConsecutiveFailures != f.consecutive || got.FailingSince.IsZero() != f.healthy ||
			(got.DisabledReason != "") != f.disabled {
			t.Errorf("failing endpoint %d = %+v, want %s %+v", i, got, ep.ID, f)
		}
	}

	// Tenant B sees its own traffic only.
	st, err = w.store.Stats(ctxT(t), w.b.TenantID, w.since, w.since.Add(10*time.Minute), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if b := (postgres.StatsCounts{EventsIn: 1, AttemptsFailed: 1}); st.Totals != b || st.Series[1].StatsCounts != b {
		t.Errorf("tenant B: totals %+v, bucket 1 %+v; want %+v", st.Totals, st.Series[1].StatsCounts, b)
	}
	if st.Backlog.Pending != 1 || len(st.FailingEndpoints) != 1 || st.FailingEndpoints[0].ID != w.b.ID {
		t.Errorf("tenant B: backlog %+v, failing %+v", st.Backlog, st.FailingEndpoints)
	}

	// Coarser buckets over the same rows: two of five minutes.
	st, err = w.store.Stats(ctxT(t), w.tenant.ID, w.since, w.since.Add(10*time.Minute), 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Series) != 2 || st.Series[0].StatsCounts != (postgres.StatsCounts{EventsIn: 2, AttemptsSucceeded: 2, AttemptsFailed: 5}) ||
		st.Series[1].StatsCounts != (postgres.StatsCounts{EventsIn: 3, AttemptsSucceeded: 1, AttemptsFailed: 8}) {
		t.Errorf("five-minute buckets = %+v", st.Series)
	}
}

// A tenant with no traffic gets every bucket, zeroed.
func TestStatsEmpty(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	until := time.Now().UTC().Truncate(time.Hour).Add(time.Hour)
	st, err := f.store.Stats(ctxT(t), f.tenant.ID, until.Add(-24*time.Hour), until, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Series) != postgres.StatsMaxBuckets || st.Totals != (postgres.StatsCounts{}) ||
		st.Backlog != (postgres.Backlog{}) || len(st.FailingEndpoints) != 0 {
		t.Fatalf("stats = %d buckets, totals %+v, backlog %+v, failing %+v", len(st.Series), st.Totals, st.Backlog, st.FailingEndpoints)
	}
	for i, b := range st.Series {
		if !b.At.Equal(st.Since.Add(time.Duration(i)*time.Minute)) || b.StatsCounts != (postgres.StatsCounts{}) {
			t.Fatalf("bucket %d = %+v", i, b)
		}
	}
}

// The backlog is counted up to the cap, and says when it stopped there.
func TestStatsBacklogCap(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	addPending := func(n int) {
		t.Helper()
		if _, err := f.pool.Exec(ctx, `INSERT INTO deliveries (id, created_at, event_id, endpoint_id, tenant_id)
			SELECT gen_random_uuid(), now() - g * interval '1 ms', gen_random_uuid(), $1, $2 FROM generate_series(1, $3) g`,
			f.endpoint.ID, f.tenant.ID, n); err != nil {
			t.Fatal(err)
		}
	}
	backlog := func() postgres.Backlog {
		t.Helper()
		until := time.Now().UTC().Truncate(time.Minute).Add(time.Minute)
		st, err := f.store.Stats(ctx, f.tenant.ID, until.Add(-time.Minute), until, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return st.Backlog
	}
	addPending(postgres.StatsPendingCap)
	if b := backlog(); b.Pending != postgres.StatsPendingCap || b.Capped || b.OldestPendingAt.IsZero() {
		t.Errorf("backlog of exactly the cap = %+v", b)
	}
	addPending(1)
	if b := backlog(); b.Pending != postgres.StatsPendingCap || !b.Capped {
		t.Errorf("backlog past the cap = %+v", b)
	}
}

// The store refuses windows that are not whole buckets, or too many.
func TestStatsRefusesRanges(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	until := time.Now().UTC().Truncate(time.Hour)
	for _, c := range []struct {
		window, bucket time.Duration
	}{
		{time.Hour, 7 * time.Minute},
		{time.Hour, 0},
		{0, time.Minute},
		{25 * time.Hour, time.Minute},
	} {
		if _, err := f.store.Stats(context.Background(), f.tenant.ID, until.Add(-c.window), until, c.bucket); err == nil {
			t.Errorf("Stats of %s by %s: no error", c.window, c.bucket)
		}
	}
}
