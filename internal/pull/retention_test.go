package pull_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/internal/pull"
)

const day = 24 * time.Hour

// logAt stores one event of type typ received at, with partition key key,
// and writes it to the group's log as ingest does.
func (f *fixture) logAt(id, typ string, at time.Time, key string) logged {
	f.t.Helper()
	ctx := ctxT(f.t)
	ev := logged{id: id, key: key, partition: herald.Partition(key, id)}
	err := pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `UPDATE log_head SET seq = seq + 1 RETURNING seq`).Scan(&ev.seq); err != nil {
			return err
		}
		body, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": id, "source": "/shop", "type": typ,
			"partitionkey": key, "data": map[string]any{}})
		eid := uuid.New()
		if _, err := tx.Exec(ctx, `INSERT INTO events (id, received_at, seq, tenant_id, producer_id, type, source, ce_id,
				partition_key, body) VALUES ($1, $2, $3, $4, $5, $6, '/shop', $7, $8, $9)`,
			eid, at, ev.seq, f.group.TenantID, uuid.New(), typ, id, key, body); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO event_keys (tenant_id, source, ce_id, event_id, received_at, seq)
				VALUES ($1, '/shop', $2, $3, $4, $5)`, f.group.TenantID, id, eid, at, ev.seq); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO group_log (group_id, partition, seq, event_id, received_at)
			VALUES ($1, $2, $3, $4, $5)`, f.group.ID, ev.partition, ev.seq, eid, at)
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return ev
}

// days makes the partitions of the days from..from+n-1.
func (f *fixture) days(from time.Time, n int) {
	f.t.Helper()
	if _, err := f.pool.Exec(ctxT(f.t), `SELECT herald_ensure_partitions($1::date, $2)`, from.UTC(), n); err != nil {
		f.t.Fatal(err)
	}
}

// eventType registers a type of the fixture's tenant with a retention.
func (f *fixture) eventType(name string, r herald.Retention) {
	f.t.Helper()
	t := &herald.EventType{Name: name, TenantID: f.group.TenantID, Schema: []byte("true"), SchemaDraft: "2020-12",
		Retention: r}
	if _, err := f.store.EventTypePut(ctxT(f.t), t, func(*herald.EventType) error { return nil }); err != nil {
		f.t.Fatal(err)
	}
}

// stored returns the CloudEvents ids of the stored events, in log order.
func (f *fixture) stored() []string {
	f.t.Helper()
	rows, err := f.pool.Query(ctxT(f.t), `SELECT ce_id FROM events ORDER BY seq`)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		f.t.Fatal(err)
	}
	return out
}

func gapOf(l, next logged) pull.Notice {
	p := l.partition
	n := pull.Notice{Notice: pull.NoticeGap, Partition: &p, FirstMissing: herald.FormatSeq(l.seq)}
	if next.seq > 0 {
		n.FirstAvailable = herald.FormatSeq(next.seq)
	}
	return n
}

func noticesJSON(t *testing.T, ns []pull.Notice) string {
	t.Helper()
	b, err := json.Marshal(ns)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRetentionPerType: events go by their type's keep (longer and
// shorter than the default) and count; a group that had not read them
// gets one gap notice per run of removed events, with the first missing
// and first available sequences, and continues at the oldest kept event.
func TestRetentionPerType(t *testing.T) {
	t.Parallel()
	f := newFixture(t, time.Minute)
	e := f.engine(pull.Config{})
	now := time.Now().UTC()
	old := now.Add(-10 * day)
	f.days(old, 1)
	f.eventType("com.example.short", herald.Retention{Keep: 48 * time.Hour})
	f.eventType("com.example.long", herald.Retention{Keep: 720 * time.Hour})
	f.eventType("com.example.counted", herald.Retention{MaxCount: 2})
	short0 := f.logAt("short-0", "com.example.short", old, "k")
	long0 := f.logAt("long-0", "com.example.long", old, "k")
	short1 := f.logAt("short-1", "com.example.short", old, "k")
	f.logAt("plain-0", "com.example.plain", old, "k")
	recent := f.logAt("short-2", "com.example.short", now, "k")
	counted := []logged{f.logAt("counted-0", "com.example.counted", now, "k"),
		f.logAt("counted-1", "com.example.counted", now, "k"), f.logAt("counted-2", "com.example.counted", now, "k")}
	plain1 := f.logAt("plain-1", "com.example.plain", now.Add(-4*day), "k")

	res, err := postgres.Expire(ctxT(t), f.pool, 120*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"long-0", "short-2", "counted-1", "counted-2", "plain-1"}
	if got := f.stored(); !slices.Equal(got, want) || res.Events != 4 || res.Tables != 0 {
		t.Fatalf("kept %v (removed %d events, %d tables), want %v (4 removed, no day dropped: long-0 keeps it)",
			got, res.Events, res.Tables, want)
	}
	var keys int
	if err := f.pool.QueryRow(ctxT(t), `SELECT count(*) FROM event_keys`).Scan(&keys); err != nil || keys != len(want) {
		t.Fatalf("%d idempotency keys left, want %d (%v)", keys, len(want), err)
	}

	inst := f.join(e)
	b, err := e.Fetch(ctxT(t), inst, 100)
	if err != nil {
		t.Fatal(err)
	}
	if got := ceIDs(t, b.Events); !slices.Equal(got, want) {
		t.Fatalf("fetched %v, want %v", got, want)
	}
	wantNotices := []pull.Notice{gapOf(short0, long0), gapOf(short1, recent), gapOf(counted[0], counted[1])}
	if got, w := noticesJSON(t, b.Notices), noticesJSON(t, wantNotices); got != w {
		t.Fatalf("notices %s, want %s", got, w)
	}
	if n := f.inFlight(); n != len(want) {
		t.Fatalf("%d in flight, want %d (the removed events skipped)", n, len(want))
	}
	if err := e.AckUpto(ctxT(t), inst, plain1.partition, plain1.seq); err != nil {
		t.Fatal(err)
	}
	if c := f.ackedUpto()[plain1.partition]; c != plain1.seq {
		t.Fatalf("cursor %d, want %d", c, plain1.seq)
	}
	if b, err := e.Fetch(ctxT(t), inst, 100); err != nil || !b.Empty() {
		t.Fatalf("second fetch: %+v, %v; want nothing (each gap told once)", b, err)
	}
}

// TestGapNoticeAfterDayDropped: a day of the log dropped before the group
// read it leaves a gap the group is told of once, by the fetch of the
// instance holding the partition; it continues at the oldest kept event.
func TestGapNoticeAfterDayDropped(t *testing.T) {
	t.Parallel()
	f := newFixture(t, time.Minute)
	e := f.engine(pull.Config{})
	now := time.Now().UTC()
	old := now.Add(-10 * day)
	f.days(old, 1)
	first := f.logAt("old-0", "com.example.plain", old, "k")
	f.logAt("old-1", "com.example.plain", old, "k")
	other := f.logAt("old-2", "com.example.plain", old, "other")
	next := f.logAt("new-0", "com.example.plain", now, "k")

	res, err := postgres.Expire(ctxT(t), f.pool, 120*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if res.Tables < 4 {
		t.Fatalf("dropped %d tables, want the old day of events, deliveries, attempts and group log", res.Tables)
	}
	inst := f.join(e)
	b, err := e.Fetch(ctxT(t), inst, 100)
	if err != nil {
		t.Fatal(err)
	}
	if got := ceIDs(t, b.Events); !slices.Equal(got, []string{"new-0"}) {
		t.Fatalf("fetched %v, want new-0", got)
	}
	wantNotices := []pull.Notice{gapOf(first, next), gapOf(other, logged{})}
	slices.SortFunc(wantNotices, func(a, b pull.Notice) int { return *a.Partition - *b.Partition })
	if got, w := noticesJSON(t, b.Notices), noticesJSON(t, wantNotices); got != w {
		t.Fatalf("notices %s, want %s", got, w)
	}
	if b, err := e.Fetch(ctxT(t), inst, 100); err != nil || !b.Empty() {
		t.Fatalf("second fetch: %+v, %v; want nothing (each gap told once)", b, err)
	}
}

// TestIngestDuringRemoval: events keep being stored and logged while
// retention deletes a backlog in batches.
func TestIngestDuringRemoval(t *testing.T) {
	t.Parallel()
	f := newFixture(t, time.Minute)
	now := time.Now().UTC()
	old := now.Add(-10 * day)
	f.days(old, 1)
	f.eventType("com.example.long", herald.Retention{Keep: 720 * time.Hour})
	f.logAt("long-0", "com.example.long", old, "k")
	if _, err := f.pool.Exec(ctxT(t), `INSERT INTO events (id, received_at, seq, tenant_id, producer_id, type, source, ce_id, body)
		SELECT gen_random_uuid(), $1, 1000000 + n, $2, gen_random_uuid(), 'com.example.plain', '/bulk', 'bulk-' || n, '{}'
		FROM generate_series(1, 5000) n`, old, f.group.TenantID); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var removed postgres.Expired
	var expireErr error
	wg.Go(func() { removed, expireErr = postgres.Expire(ctxT(t), f.pool, 120*time.Hour, now) })
	start := time.Now()
	for i := range 50 {
		f.logAt(fmt.Sprintf("live-%d", i), "com.example.plain", time.Now(), "k")
	}
	ingest := time.Since(start)
	wg.Wait()
	if expireErr != nil {
		t.Fatal(expireErr)
	}
	if removed.Events != 5000 {
		t.Fatalf("removed %d events, want 5000", removed.Events)
	}
	if got := f.stored(); len(got) != 51 || got[0] != "long-0" {
		t.Fatalf("kept %d events (%v...), want long-0 and the 50 live ones", len(got), got[:min(3, len(got))])
	}
	t.Logf("50 events stored one by one in %v during the removal", ingest)
}

// TestGapToldOnceAcrossSmallFetches: a run of removed events longer than
// a fetch is one gap, told once: the fetch that meets its first row skips
// to the oldest kept event, which the next fetch hands out.
func TestGapToldOnceAcrossSmallFetches(t *testing.T) {
	t.Parallel()
	f := newFixture(t, time.Minute)
	e := f.engine(pull.Config{})
	inst := f.join(e)
	evs := f.log("o", 5, func(int) string { return "k" })
	if _, err := f.pool.Exec(ctxT(t), `DELETE FROM events WHERE ce_id IN ('o-0', 'o-1', 'o-2')`); err != nil {
		t.Fatal(err)
	}
	var got []string
	var notices []pull.Notice
	for range 4 {
		b, err := e.Fetch(ctxT(t), inst, 1)
		if err != nil {
			t.Fatal(err)
		}
		got, notices = append(got, ceIDs(t, b.Events)...), append(notices, b.Notices...)
	}
	if !slices.Equal(got, []string{"o-3", "o-4"}) {
		t.Fatalf("fetched %v, want o-3 and o-4", got)
	}
	if g, w := noticesJSON(t, notices), noticesJSON(t, []pull.Notice{gapOf(evs[0], evs[3])}); g != w {
		t.Fatalf("notices %s, want %s", g, w)
	}
	if n := f.inFlight(); n != 2 {
		t.Fatalf("%d in flight, want 2", n)
	}
}
