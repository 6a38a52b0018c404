package postgres_test

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/postgres"
)

func getDelivery(t *testing.T, s *postgres.Store, id uuid.UUID) *herald.Delivery {
	t.Helper()
	d, err := s.DeliveryGet(ctxT(t), id)
	if err != nil {
		t.Fatalf("DeliveryGet %s: %v", id, err)
	}
	return d
}

func TestDeliveryLoadMany(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	other := createEndpoint(t, f.store, f.tenant.ID, f.client.ID, "https://second.example/in", "whsec_c2Vjb25k", "com.>")
	gone := createEndpoint(t, f.store, f.tenant.ID, f.client.ID, "https://gone.example/in", "whsec_Z29uZQ==", "com.>")
	disabled := createEndpoint(t, f.store, f.tenant.ID, f.client.ID, "https://off.example/in", "whsec_b2Zm", "com.>")

	at := herald.Now()
	events := []*herald.Event{
		newEvent(t, f.tenant.ID, f.client.ID, at, "/shop", "1"),
		newEvent(t, f.tenant.ID, f.client.ID, at, "/shop", "2"),
	}
	rows := ingestRows(at, events, f.endpoint, other, gone, disabled)
	if _, _, err := f.store.IngestWrite(ctx, f.pool, rows); err != nil {
		t.Fatal(err)
	}
	if err := f.store.EndpointDelete(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.store.EndpointDisable(ctx, disabled.ID, "testing"); err != nil {
		t.Fatal(err)
	}
	endpoints := map[uuid.UUID]*herald.Endpoint{f.endpoint.ID: f.endpoint, other.ID: other, disabled.ID: disabled}
	bodies := map[uuid.UUID][]byte{events[0].ID: events[0].Body, events[1].ID: events[1].Body}

	var keys []postgres.DeliveryKey
	for _, d := range rows.Deliveries {
		keys = append(keys, postgres.DeliveryKey{ID: d.ID, CreatedAt: d.CreatedAt})
	}
	unknown := postgres.DeliveryKey{ID: herald.NewID(at), CreatedAt: at}
	wrongTime := postgres.DeliveryKey{ID: rows.Deliveries[0].ID, CreatedAt: at.Add(time.Hour)}
	keys = append(keys, unknown)
	got, err := f.store.DeliveryLoadMany(ctx, keys)
	if err != nil {
		t.Fatalf("DeliveryLoadMany: %v", err)
	}
	// Every delivery but the two to the deleted endpoint.
	if want := len(rows.Deliveries) - 2; len(got) != want {
		t.Fatalf("DeliveryLoadMany returned %d targets, want %d", len(got), want)
	}
	if _, ok := got[unknown.ID]; ok {
		t.Error("unknown key in result")
	}
	for _, d := range rows.Deliveries {
		tg, ok := got[d.ID]
		if d.EndpointID == gone.ID {
			if ok {
				t.Errorf("delivery to a deleted endpoint loaded: %+v", tg)
			}
			continue
		}
		if !ok {
			t.Errorf("delivery %s missing", d.ID)
			continue
		}
		ep := endpoints[d.EndpointID]
		if tg.URL != ep.URL {
			t.Errorf("URL = %q, want %q", tg.URL, ep.URL)
		}
		if !bytes.Equal(tg.Body, bodies[d.EventID]) {
			t.Errorf("Body = %s, want %s", tg.Body, bodies[d.EventID])
		}
		secret, err := f.store.OpenSecret(d.EndpointID, tg.SecretSealed)
		if err != nil || secret != ep.Secret {
			t.Errorf("OpenSecret = %q, %v; want %q", secret, err, ep.Secret)
		}
		wantStatus := herald.EndpointActive
		if ep == disabled {
			wantStatus = herald.EndpointDisabled
		}
		if tg.EndpointStatus != wantStatus {
			t.Errorf("EndpointStatus = %q, want %q", tg.EndpointStatus, wantStatus)
		}
		dd := tg.Delivery
		if dd.ID != d.ID || dd.EventID != d.EventID || dd.EndpointID != d.EndpointID || dd.TenantID != d.TenantID ||
			!dd.CreatedAt.Equal(at) || dd.Status != herald.DeliveryPending || dd.Attempts != 0 || dd.RetryBase != 0 ||
			dd.EventType != "com.example.order.created" {
			t.Errorf("loaded delivery = %+v, want %+v", dd, d)
		}
	}

	// The partition timestamp is part of the key.
	got, err = f.store.DeliveryLoadMany(ctx, []postgres.DeliveryKey{wrongTime})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("key with the wrong created_at loaded %d targets", len(got))
	}
	got, err = f.store.DeliveryLoadMany(ctx, nil)
	if err != nil || len(got) != 0 {
		t.Errorf("DeliveryLoadMany(nil) = %v, %v", got, err)
	}
}

func TestDeliveryRecordAttempts(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	at := herald.Now()
	ds := f.ingest(t, at, "ok", "retry", "dead", "untouched")
	ok, retry, dead, untouched := ds[0], ds[1], ds[2], ds[3]

	t1 := time.Now().UTC().Truncate(time.Microsecond)
	next := t1.Add(time.Minute)
	recs := []*postgres.AttemptRecord{
		{
			DeliveryID: ok.ID, CreatedAt: at, Status: herald.DeliverySucceeded,
			Attempt: herald.Attempt{Attempt: 1, At: t1, StatusCode: 204, Latency: 1500 * time.Microsecond, ResponseBody: []byte("thanks")},
		},
		{
			DeliveryID: retry.ID, CreatedAt: at, Status: herald.DeliveryPending, NextAttemptAt: next,
			Attempt: herald.Attempt{Attempt: 1, At: t1, StatusCode: 503, Latency: 2 * time.Millisecond, Error: "receiver answered HTTP 503"},
		},
		{
			DeliveryID: dead.ID, CreatedAt: at, Status: herald.DeliveryFailed,
			Attempt: herald.Attempt{Attempt: 1, At: t1, Latency: 3 * time.Millisecond, Error: "dial tcp: connection refused"},
		},
	}
	if err := f.store.DeliveryRecordAttempts(ctx, recs); err != nil {
		t.Fatalf("DeliveryRecordAttempts: %v", err)
	}

	tests := []struct {
		name     string
		id       uuid.UUID
		status   herald.DeliveryStatus
		attempts int
		next     time.Time
		code     int
		lastErr  string
		log      []herald.Attempt
	}{
		{"succeeded", ok.ID, herald.DeliverySucceeded, 1, time.Time{}, 204, "", []herald.Attempt{recs[0].Attempt}},
		{"pending", retry.ID, herald.DeliveryPending, 1, next, 503, "receiver answered HTTP 503", []herald.Attempt{recs[1].Attempt}},
		{"failed", dead.ID, herald.DeliveryFailed, 1, time.Time{}, 0, "dial tcp: connection refused", []herald.Attempt{recs[2].Attempt}},
		{"untouched", untouched.ID, herald.DeliveryPending, 0, at, 0, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := getDelivery(t, f.store, tt.id)
			if d.Status != tt.status || d.Attempts != tt.attempts || !d.NextAttemptAt.Equal(tt.next) ||
				d.LastStatusCode != tt.code || d.LastError != tt.lastErr {
				t.Errorf("delivery = status %s attempts %d next %v code %d error %q; want %s %d %v %d %q",
					d.Status, d.Attempts, d.NextAttemptAt, d.LastStatusCode, d.LastError,
					tt.status, tt.attempts, tt.next, tt.code, tt.lastErr)
			}
			if tt.attempts > 0 && !d.LastAttemptAt.Equal(t1) {
				t.Errorf("LastAttemptAt = %v, want %v", d.LastAttemptAt, t1)
			}
			if tt.attempts == 0 && !d.LastAttemptAt.IsZero() {
				t.Errorf("LastAttemptAt = %v, want zero", d.LastAttemptAt)
			}
			assertAttempts(t, d.AttemptLog, tt.log)
		})
	}

	// The second attempt of the pending delivery fails it for good.
	t2 := t1.Add(time.Minute)
	second := &postgres.AttemptRecord{
		DeliveryID: retry.ID, CreatedAt: at, Status: herald.DeliveryFailed,
		Attempt: herald.Attempt{Attempt: 2, At: t2, StatusCode: 500, Latency: time.Millisecond, Error: "receiver answered HTTP 500", ResponseBody: []byte("oops")},
	}
	// Recording an attempt again (a batch retried after a lost reply) does
	// not add a second row for it.
	againOK := *recs[0]
	againOK.Attempt.Error = "recorded twice"
	if err := f.store.DeliveryRecordAttempts(ctx, []*postgres.AttemptRecord{second, &againOK}); err != nil {
		t.Fatalf("DeliveryRecordAttempts: %v", err)
	}
	d := getDelivery(t, f.store, retry.ID)
	if d.Status != herald.DeliveryFailed || d.Attempts != 2 || !d.NextAttemptAt.IsZero() || d.LastStatusCode != 500 || !d.LastAttemptAt.Equal(t2) {
		t.Errorf("after attempt 2: %+v", d)
	}
	assertAttempts(t, d.AttemptLog, []herald.Attempt{recs[1].Attempt, second.Attempt})

	d = getDelivery(t, f.store, ok.ID)
	assertAttempts(t, d.AttemptLog, []herald.Attempt{recs[0].Attempt}) // the first record of attempt 1 stays
	if d.Status != herald.DeliverySucceeded || d.Attempts != 1 {
		t.Errorf("after recording attempt 1 again: %+v", d)
	}

	// The same record twice in one batch.
	if err := f.store.DeliveryRecordAttempts(ctx, []*postgres.AttemptRecord{recs[2], recs[2]}); err != nil {
		t.Fatalf("DeliveryRecordAttempts with one record twice: %v", err)
	}
	assertAttempts(t, getDelivery(t, f.store, dead.ID).AttemptLog, []herald.Attempt{recs[2].Attempt})

	var n int
	if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM delivery_attempts`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Errorf("%d attempt rows, want 4", n)
	}

	counts, err := f.store.DeliveryCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[herald.DeliveryStatus]int64{herald.DeliverySucceeded: 1, herald.DeliveryFailed: 2, herald.DeliveryPending: 1}; !mapsEqual(counts, want) {
		t.Errorf("DeliveryCounts = %v, want %v", counts, want)
	}
}

func mapsEqual[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func assertAttempts(t *testing.T, got, want []herald.Attempt) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d attempts logged, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Attempt != w.Attempt || !g.At.Equal(w.At) || g.StatusCode != w.StatusCode || g.Latency != w.Latency ||
			g.Error != w.Error || !bytes.Equal(g.ResponseBody, w.ResponseBody) {
			t.Errorf("attempt %d = %+v, want %+v", i, g, w)
		}
	}
}

// retry runs DeliveryRetry in its own transaction.
func retry(t *testing.T, f *fixture, id uuid.UUID, authorize func(*herald.Delivery) error) (*postgres.DeliveryRetried, error) {
	t.Helper()
	var out *postgres.DeliveryRetried
	err := pgx.BeginFunc(ctxT(t), f.pool, func(tx pgx.Tx) error {
		r, err := f.store.DeliveryRetry(ctxT(t), tx, id, authorize)
		out = r
		return err
	})
	return out, err
}

func allow(*herald.Delivery) error { return nil }

func TestDeliveryRetry(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	at := herald.Now()
	d := f.ingest(t, at, "1")[0]

	// Three failed attempts, then the delivery is dead.
	t1 := time.Now().UTC().Truncate(time.Microsecond)
	for i := 1; i <= 3; i++ {
		st := herald.DeliveryPending
		var next time.Time
		if i == 3 {
			st = herald.DeliveryFailed
		} else {
			next = t1.Add(time.Hour)
		}
		if err := f.store.DeliveryRecordAttempts(ctx, []*postgres.AttemptRecord{{
			DeliveryID: d.ID, CreatedAt: at, Status: st, NextAttemptAt: next,
			Attempt: herald.Attempt{Attempt: i, At: t1, StatusCode: 500, Error: "HTTP 500"},
		}}); err != nil {
			t.Fatal(err)
		}
	}

	// A refusal from authorize is returned as is, and nothing changes.
	refusal := herald.Forbidden("not yours")
	var seen *herald.Delivery
	_, err := retry(t, f, d.ID, func(d *herald.Delivery) error { seen = d; return refusal })
	if err != refusal {
		t.Fatalf("refused retry: err = %v, want the refusal itself", err)
	}
	if seen == nil || seen.ID != d.ID || seen.EndpointID != f.endpoint.ID || seen.TenantID != f.tenant.ID {
		t.Errorf("authorize saw %+v", seen)
	}
	if got := getDelivery(t, f.store, d.ID); got.Status != herald.DeliveryFailed {
		t.Fatalf("refused retry changed the delivery: %+v", got)
	}

	before := time.Now()
	r, err := retry(t, f, d.ID, allow)
	if err != nil {
		t.Fatalf("retry of a failed delivery: %v", err)
	}
	if got := r.Delivery; got.ID != d.ID || got.Status != herald.DeliveryPending || !got.CreatedAt.Equal(at) {
		t.Errorf("DeliveryRetry returned %+v", got)
	}
	if r.Ordered != nil || r.Key.ID != d.ID || !r.Key.CreatedAt.Equal(at) || r.Key.Gen != 1 {
		t.Errorf("DeliveryRetry asks to enqueue %+v (ordered %v), want the delivery at generation 1", r.Key, r.Ordered)
	}
	stored := getDelivery(t, f.store, d.ID)
	if stored.Status != herald.DeliveryPending || stored.Attempts != 3 || stored.RetryBase != 3 {
		t.Errorf("after retry: status %s attempts %d retry base %d; want pending 3 3", stored.Status, stored.Attempts, stored.RetryBase)
	}
	if stored.NextAttemptAt.Before(before.Add(-time.Second)) || stored.NextAttemptAt.After(time.Now().Add(time.Second)) {
		t.Errorf("NextAttemptAt = %v, want about now", stored.NextAttemptAt)
	}
	if len(stored.AttemptLog) != 3 {
		t.Errorf("retry changed the attempt log: %d entries", len(stored.AttemptLog))
	}

	// Waiting for its next attempt: a retry makes it due now in the same
	// retry cycle, under a new job generation (the job it had is
	// superseded).
	t2 := time.Now().UTC().Truncate(time.Microsecond)
	if err := f.store.DeliveryRecordAttempts(ctx, []*postgres.AttemptRecord{{
		DeliveryID: d.ID, CreatedAt: at, Status: herald.DeliveryPending, NextAttemptAt: t2.Add(5 * time.Hour),
		Attempt: herald.Attempt{Attempt: 4, At: t2, StatusCode: 503, Error: "HTTP 503"},
	}}); err != nil {
		t.Fatal(err)
	}
	r, err = retry(t, f, d.ID, allow)
	if err != nil {
		t.Fatalf("retry of a waiting delivery: %v", err)
	}
	if r.Key.Gen != 2 || r.Ordered != nil {
		t.Errorf("retry of a waiting delivery asks to enqueue %+v (ordered %v), want generation 2", r.Key, r.Ordered)
	}
	stored = getDelivery(t, f.store, d.ID)
	if stored.Status != herald.DeliveryPending || stored.Attempts != 4 || stored.RetryBase != 3 || stored.NextAttemptAt.After(time.Now().Add(time.Second)) {
		t.Errorf("after retry of a waiting delivery: status %s attempts %d retry base %d next %v; want pending 4 3 now",
			stored.Status, stored.Attempts, stored.RetryBase, stored.NextAttemptAt)
	}
	loaded, err := f.store.DeliveryLoadMany(ctx, []postgres.DeliveryKey{{ID: d.ID, CreatedAt: at}})
	if err != nil || loaded[d.ID] == nil || loaded[d.ID].JobGen != 2 {
		t.Errorf("loaded job generation = %+v (%v), want 2", loaded[d.ID], err)
	}

	// A delivery failed without any attempt (DeliveryFail) can be retried.
	d2 := f.ingest(t, at.Add(time.Millisecond), "2")[0]
	if err := f.store.DeliveryFail(ctx, d2.ID, d2.CreatedAt, "endpoint disabled"); err != nil {
		t.Fatal(err)
	}
	if got := getDelivery(t, f.store, d2.ID); got.Status != herald.DeliveryFailed || got.LastError != "endpoint disabled" || !got.NextAttemptAt.IsZero() {
		t.Errorf("after DeliveryFail: %+v", got)
	}
	if _, err := retry(t, f, d2.ID, allow); err != nil {
		t.Errorf("retry after DeliveryFail: %v", err)
	}
	if got := getDelivery(t, f.store, d2.ID); got.Status != herald.DeliveryPending || got.RetryBase != 0 {
		t.Errorf("after retry: %+v", got)
	}

	// Unknown delivery.
	if _, err := retry(t, f, herald.NewID(at), allow); !errors.Is(err, herald.ErrNotFound) {
		t.Errorf("retry of an unknown delivery: err = %v, want not found", err)
	}
}

func TestDeliveryList(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	other := createEndpoint(t, f.store, f.tenant.ID, f.client.ID, "https://other.example/x", "whsec_eA==", "com.>")

	// Seven deliveries over four milliseconds (some share a created_at, so
	// the id breaks ties), plus deliveries to another endpoint.
	base := herald.Now()
	var all []*herald.Delivery
	for i, n := range []int{2, 1, 3, 1} {
		at := base.Add(time.Duration(i) * time.Millisecond)
		var events []*herald.Event
		for range n {
			events = append(events, newEvent(t, f.tenant.ID, f.client.ID, at, "/list", uuid.NewString()))
		}
		rows := ingestRows(at, events, f.endpoint, other)
		if _, _, err := f.store.IngestWrite(ctx, f.pool, rows); err != nil {
			t.Fatal(err)
		}
		for _, d := range rows.Deliveries {
			if d.EndpointID == f.endpoint.ID {
				all = append(all, d)
			}
		}
	}
	// Newest first: created_at descending, then id descending.
	slices.SortFunc(all, func(a, b *herald.Delivery) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return bytes.Compare(b.ID[:], a.ID[:])
	})
	ids := func(ds []*herald.Delivery) []uuid.UUID {
		out := make([]uuid.UUID, len(ds))
		for i, d := range ds {
			out[i] = d.ID
		}
		return out
	}

	// Fail three of them, succeed one.
	failed := []*herald.Delivery{all[0], all[3], all[6]}
	for _, d := range failed {
		if err := f.store.DeliveryFail(ctx, d.ID, d.CreatedAt, "gone"); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.store.DeliveryRecordAttempts(ctx, []*postgres.AttemptRecord{{
		DeliveryID: all[4].ID, CreatedAt: all[4].CreatedAt, Status: herald.DeliverySucceeded,
		Attempt: herald.Attempt{Attempt: 1, At: time.Now().UTC(), StatusCode: 200},
	}}); err != nil {
		t.Fatal(err)
	}

	// page lists all pages of limit with the filter.
	page := func(t *testing.T, status herald.DeliveryStatus, limit int) (pages [][]uuid.UUID, flat []*herald.Delivery) {
		t.Helper()
		var before uuid.UUID
		for range 20 {
			ds, err := f.store.DeliveryList(ctx, postgres.DeliveryFilter{EndpointID: f.endpoint.ID, Status: status, Before: before, Limit: limit})
			if err != nil {
				t.Fatalf("DeliveryList: %v", err)
			}
			if len(ds) > limit {
				t.Fatalf("page of %d with limit %d", len(ds), limit)
			}
			if len(ds) == 0 {
				return pages, flat
			}
			pages = append(pages, ids(ds))
			flat = append(flat, ds...)
			before = ds[len(ds)-1].ID
		}
		t.Fatal("paging does not end")
		return nil, nil
	}

	tests := []struct {
		name   string
		status herald.DeliveryStatus
		limit  int
		want   []*herald.Delivery
	}{
		{"all in one page", "", 100, all},
		{"all by 2", "", 2, all},
		{"all by 1", "", 1, all},
		{"all by 3", "", 3, all},
		{"failed by 2", herald.DeliveryFailed, 2, failed},
		{"succeeded", herald.DeliverySucceeded, 5, []*herald.Delivery{all[4]}},
		{"pending by 2", herald.DeliveryPending, 2, []*herald.Delivery{all[1], all[2], all[5]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pages, flat := page(t, tt.status, tt.limit)
			if got, want := ids(flat), ids(tt.want); !slices.Equal(got, want) {
				t.Fatalf("listed %v, want %v", got, want)
			}
			if wantPages := (len(tt.want) + tt.limit - 1) / tt.limit; len(pages) != wantPages {
				t.Errorf("%d pages, want %d", len(pages), wantPages)
			}
			for _, d := range flat {
				if d.EndpointID != f.endpoint.ID {
					t.Errorf("delivery of endpoint %s listed", d.EndpointID)
				}
				if tt.status != "" && d.Status != tt.status {
					t.Errorf("status %s listed with filter %s", d.Status, tt.status)
				}
				if d.EventType != "com.example.order.created" {
					t.Errorf("EventType = %q", d.EventType)
				}
			}
		})
	}

	// Attempts come with the listed deliveries.
	ds, err := f.store.DeliveryList(ctx, postgres.DeliveryFilter{EndpointID: f.endpoint.ID, Status: herald.DeliverySucceeded, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || len(ds[0].AttemptLog) != 1 || ds[0].AttemptLog[0].StatusCode != 200 {
		t.Errorf("succeeded delivery listed without its attempt: %+v", ds)
	}
	// An endpoint without deliveries.
	ds, err = f.store.DeliveryList(ctx, postgres.DeliveryFilter{EndpointID: uuid.New(), Limit: 10})
	if err != nil || len(ds) != 0 {
		t.Errorf("DeliveryList of an unknown endpoint = %v, %v", ds, err)
	}
}
