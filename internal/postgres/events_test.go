package postgres_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/postgres"
)

func deliveryCount(t *testing.T, db postgres.DBTX, event uuid.UUID) int {
	t.Helper()
	var n int
	if err := db.QueryRow(ctxT(t), `SELECT count(*) FROM deliveries WHERE event_id = $1`, event).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestIngestWrite(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	second := createEndpoint(t, f.store, f.tenant.ID, f.client.ID, "https://other.example/hook", "whsec_b3RoZXI=", "com.>")

	// First batch: three new events, two deliveries each.
	at1 := herald.Now()
	batch1 := []*herald.Event{
		newEvent(t, f.tenant.ID, f.client.ID, at1, "/shop", "a"),
		newEvent(t, f.tenant.ID, f.client.ID, at1, "/shop", "b"),
		newEvent(t, f.tenant.ID, f.client.ID, at1, "/billing", "a"), // same id, other source: not a duplicate
	}
	rows1 := ingestRows(at1, batch1, f.endpoint, second)
	seqs1, v1, err := f.store.IngestWrite(ctx, f.pool, rows1)
	if err != nil {
		t.Fatalf("IngestWrite: %v", err)
	}
	if want := configVersion(t, f.pool); v1 != want {
		t.Errorf("IngestWrite config version = %d, ConfigVersion = %d", v1, want)
	}
	if len(seqs1) != len(batch1) {
		t.Fatalf("IngestWrite returned %d seqs, want %d: %v", len(seqs1), len(batch1), seqs1)
	}
	var max1 int64
	seen := map[int64]bool{}
	for _, e := range batch1 {
		seq, ok := seqs1[e.ID]
		if !ok {
			t.Fatalf("no seq for new event %s/%s", e.Source, e.CEID)
		}
		if seen[seq] {
			t.Errorf("seq %d given twice", seq)
		}
		seen[seq] = true
		max1 = max(max1, seq)

		got, err := f.store.EventGet(ctx, e.ID)
		if err != nil {
			t.Fatalf("EventGet %s: %v", e.ID, err)
		}
		if got.Seq != seq || got.Source != e.Source || got.CEID != e.CEID || got.Type != e.Type ||
			got.Subject != e.Subject || got.PartitionKey != e.PartitionKey || got.TypeVersion != e.TypeVersion ||
			got.TenantID != e.TenantID || got.ProducerID != e.ProducerID || !bytes.Equal(got.Body, e.Body) ||
			!got.ReceivedAt.Equal(at1) {
			t.Errorf("stored event %+v differs from written %+v (seq %d)", got, e, seq)
		}
		if n := deliveryCount(t, f.pool, e.ID); n != 2 {
			t.Errorf("event %s has %d deliveries, want 2", e.CEID, n)
		}
	}
	for _, d := range rows1.Deliveries {
		got, err := f.store.DeliveryGet(ctx, d.ID)
		if err != nil {
			t.Fatalf("DeliveryGet: %v", err)
		}
		if got.Status != herald.DeliveryPending || got.Attempts != 0 || got.EventID != d.EventID ||
			got.EndpointID != d.EndpointID || !got.NextAttemptAt.Equal(at1) || got.EventType != "com.example.order.created" {
			t.Errorf("delivery after ingest = %+v", got)
		}
	}

	// Second batch: two duplicates of stored keys, one new event, and the
	// new event's key twice (a duplicate within the batch).
	at2 := at1.Add(time.Millisecond)
	dupA := newEvent(t, f.tenant.ID, f.client.ID, at2, "/shop", "a")
	fresh := newEvent(t, f.tenant.ID, f.client.ID, at2, "/shop", "c")
	dupB := newEvent(t, f.tenant.ID, f.client.ID, at2, "/shop", "b")
	freshAgain := newEvent(t, f.tenant.ID, f.client.ID, at2, "/shop", "c")
	otherTenant := newEvent(t, uuid.New(), f.client.ID, at2, "/shop", "a") // same source and id, other tenant
	batch2 := []*herald.Event{dupA, fresh, dupB, freshAgain, otherTenant}

	// EventKeysLookup before writing tells which are taken, in input order.
	rows2 := ingestRows(at2, batch2, f.endpoint)
	stored, err := f.store.EventKeysLookup(ctx, f.pool, rows2.Keys)
	if err != nil {
		t.Fatalf("EventKeysLookup: %v", err)
	}
	wantStored := []struct {
		id  uuid.UUID
		seq int64
	}{{batch1[0].ID, seqs1[batch1[0].ID]}, {}, {batch1[1].ID, seqs1[batch1[1].ID]}, {}, {}}
	if len(stored) != len(wantStored) {
		t.Fatalf("EventKeysLookup returned %d entries, want %d", len(stored), len(wantStored))
	}
	for i, w := range wantStored {
		if stored[i].EventID != w.id || stored[i].Seq != w.seq {
			t.Errorf("EventKeysLookup[%d] = %+v, want id %s seq %d", i, stored[i], w.id, w.seq)
		}
		if w.id != uuid.Nil && !stored[i].ReceivedAt.Equal(at1) {
			t.Errorf("EventKeysLookup[%d].ReceivedAt = %v, want %v", i, stored[i].ReceivedAt, at1)
		}
		if w.id == uuid.Nil && !stored[i].ReceivedAt.IsZero() {
			t.Errorf("EventKeysLookup[%d] for an unknown key = %+v, want zero", i, stored[i])
		}
	}

	seqs2, v2, err := f.store.IngestWrite(ctx, f.pool, rows2)
	if err != nil {
		t.Fatalf("IngestWrite with duplicates: %v", err)
	}
	if want := configVersion(t, f.pool); v2 != want {
		t.Errorf("IngestWrite config version = %d, ConfigVersion = %d", v2, want)
	}
	// Of the two events with one key in this batch exactly one is written
	// (which one is up to the database).
	winner, loser := fresh, freshAgain
	if _, ok := seqs2[freshAgain.ID]; ok {
		winner, loser = freshAgain, fresh
	}
	if len(seqs2) != 2 {
		t.Errorf("IngestWrite returned %d seqs, want 2 (one of the in-batch pair, otherTenant): %v", len(seqs2), seqs2)
	}
	for _, e := range []*herald.Event{winner, otherTenant} {
		seq, ok := seqs2[e.ID]
		if !ok {
			t.Errorf("no seq for new event %s", e.CEID)
			continue
		}
		if seq <= max1 {
			t.Errorf("seq %d of a later batch is not above %d of the earlier one", seq, max1)
		}
		if n := deliveryCount(t, f.pool, e.ID); n != 1 {
			t.Errorf("new event has %d deliveries, want 1", n)
		}
	}
	for _, e := range []*herald.Event{dupA, dupB, loser} {
		if _, ok := seqs2[e.ID]; ok {
			t.Errorf("duplicate %s/%s has a seq", e.Source, e.CEID)
		}
		if _, err := f.store.EventGet(ctx, e.ID); !errors.Is(err, herald.ErrNotFound) {
			t.Errorf("EventGet of a duplicate: err = %v, want not found", err)
		}
		if n := deliveryCount(t, f.pool, e.ID); n != 0 {
			t.Errorf("duplicate %s/%s got %d deliveries written", e.Source, e.CEID, n)
		}
	}
	if n, err := f.store.EventCount(ctx); err != nil || n != 5 {
		t.Errorf("EventCount = %d, %v; want 5", n, err)
	}

	// After the write, the lookup finds the in-batch duplicate's winner.
	stored, err = f.store.EventKeysLookup(ctx, f.pool, rows2.Keys)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []uuid.UUID{batch1[0].ID, winner.ID, batch1[1].ID, winner.ID, otherTenant.ID} {
		if stored[i].EventID != want {
			t.Errorf("EventKeysLookup[%d] after write = %s, want %s", i, stored[i].EventID, want)
		}
	}

	// The whole batch again: nothing new.
	seqs3, _, err := f.store.IngestWrite(ctx, f.pool, ingestRows(at2.Add(time.Millisecond), batch2, f.endpoint))
	if err != nil {
		t.Fatal(err)
	}
	if len(seqs3) != 0 {
		t.Errorf("re-ingesting a batch wrote %v", seqs3)
	}
}

func TestIngestWriteSeqsIncrease(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	var last int64
	at := herald.Now()
	for i := range 5 {
		at = at.Add(time.Millisecond)
		e := newEvent(t, f.tenant.ID, f.client.ID, at, "/seq", uuid.NewString())
		seqs, _, err := f.store.IngestWrite(ctx, f.pool, ingestRows(at, []*herald.Event{e}, f.endpoint))
		if err != nil {
			t.Fatal(err)
		}
		if seqs[e.ID] <= last {
			t.Fatalf("batch %d: seq %d not above previous %d", i, seqs[e.ID], last)
		}
		last = seqs[e.ID]
	}
}

// TestIngestWriteSeqsFollowOrder: within one write, seq follows the order
// of the events (the order they were accepted in, which ordered delivery
// follows), not the order of their keys, so that replays reading by seq
// keep each partition key's order.
func TestIngestWriteSeqsFollowOrder(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	at := herald.Now()
	var events []*herald.Event
	for _, id := range []string{"k-9", "k-10", "a-2", "z-1", "k-1", "m-5"} { // not in key order
		events = append(events, newEvent(t, f.tenant.ID, f.client.ID, at, "/seq", id))
	}
	seqs, _, err := f.store.IngestWrite(ctxT(t), f.pool, ingestRows(at, events, f.endpoint))
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(events); i++ {
		if prev, cur := seqs[events[i-1].ID], seqs[events[i].ID]; cur <= prev {
			t.Errorf("event %d (%s) has seq %d, not above event %d (%s) at %d", i, events[i].CEID, cur, i-1,
				events[i-1].CEID, prev)
		}
	}
}

func TestIngestWriteEmpty(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	seqs, v, err := f.store.IngestWrite(ctxT(t), f.pool, &postgres.IngestRows{ReceivedAt: herald.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if len(seqs) != 0 {
		t.Errorf("seqs = %v, want none", seqs)
	}
	if want := configVersion(t, f.pool); v != want {
		t.Errorf("config version = %d, want %d", v, want)
	}
}

// IngestWrite reports the config version its own statement saw, also inside
// a transaction that started before a catalog change was committed.
func TestIngestWriteVersionInTransaction(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	before := configVersion(t, f.pool)
	tx, err := f.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	at := herald.Now()
	e := newEvent(t, f.tenant.ID, f.client.ID, at, "/tx", "1")
	seqs, v, err := f.store.IngestWrite(ctx, tx, ingestRows(at, []*herald.Event{e}, f.endpoint))
	if err != nil {
		t.Fatal(err)
	}
	if len(seqs) != 1 || v != before {
		t.Errorf("IngestWrite in tx = %v, %d; want one seq and version %d", seqs, v, before)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.EventGet(ctx, e.ID); !errors.Is(err, herald.ErrNotFound) {
		t.Errorf("rolled back event: EventGet err = %v, want not found", err)
	}
	// The key is free again after the rollback.
	stored, err := f.store.EventKeysLookup(ctx, f.pool, []postgres.EventKey{{TenantID: e.TenantID, Source: e.Source, CEID: e.CEID}})
	if err != nil {
		t.Fatal(err)
	}
	if stored[0].EventID != uuid.Nil {
		t.Errorf("rolled back key still stored: %+v", stored[0])
	}
}
