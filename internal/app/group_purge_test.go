package app_test

import (
	"context"
	"testing"
	"time"
)

// TestGroupDeletePurgesInBackground: deleting a group with a long log
// answers without deleting the log; the group is gone from the API and
// from routing at once, and a background job removes its log rows in
// batches, then strikes it from group_log_purges; the groups of a deleted
// client are purged as soon.
func TestGroupDeletePurgesInBackground(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	pool := e.pool()
	ctx := context.Background()

	e.must(201, e.do(w.consumer, "POST", "/v1/consumer-groups", map[string]any{"name": "doomed"}))
	var id string
	if err := pool.QueryRow(ctx, `SELECT id::text FROM consumer_groups WHERE client_id = $1 AND name = 'doomed'`,
		w.consumerID).Scan(&id); err != nil {
		t.Fatal(err)
	}
	// More rows than one purge batch takes, written straight into the log.
	const rows = 25_001
	if _, err := pool.Exec(ctx, `INSERT INTO group_log (group_id, partition, seq, event_id, received_at)
		SELECT $1, s % 12, 1000000 + s, gen_random_uuid(), now() FROM generate_series(1, $2) AS s`, id, rows); err != nil {
		t.Fatal(err)
	}
	count := func(query string) int {
		t.Helper()
		var n int
		if err := pool.QueryRow(ctx, query, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	// Another transaction holds one log row: a delete that removed the log
	// itself would wait for it; the API must answer regardless, and the
	// purge cannot finish until the row is let go.
	lock, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback(ctx)
	if _, err := lock.Exec(ctx, `SELECT FROM group_log WHERE group_id = $1 AND seq = 1000001 FOR UPDATE`, id); err != nil {
		t.Fatal(err)
	}
	answered := make(chan response, 1)
	go func() { answered <- e.do(w.consumer, "DELETE", "/v1/consumer-groups/doomed", nil) }()
	select {
	case r := <-answered:
		if r.status != 204 {
			t.Fatalf("delete: %d %s", r.status, r.body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the delete waits for the group's log")
	}
	if count(`SELECT count(*) FROM group_log_purges WHERE group_id = $1`) != 1 {
		t.Fatal("the deleted group is not noted for a purge")
	}
	wantProblem(t, e.do(w.consumer, "GET", "/v1/consumer-groups/doomed", nil), 404, "", "")
	for _, g := range e.must(200, e.do(w.consumer, "GET", "/v1/consumer-groups", nil))["data"].([]any) {
		if g.(map[string]any)["name"] == "doomed" {
			t.Fatal("the deleted group is still listed")
		}
	}
	// Routing: a new event reaches the default group but not the deleted one.
	seq := e.sendSeqs(w, "after", 1)[0]
	eventually(t, 15*time.Second, "event in the default log", func() bool {
		log := e.groupLog(pool, w.consumerID, "default")
		return len(log) > 0 && log[len(log)-1] == seq
	})
	var routed int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM group_log WHERE group_id = $1 AND seq = $2`, id, seq).
		Scan(&routed); err != nil {
		t.Fatal(err)
	}
	if routed != 0 {
		t.Fatal("an event ingested after the delete reached the deleted group")
	}

	if count(`SELECT count(*) FROM group_log WHERE group_id = $1`) == 0 {
		t.Fatal("the log was purged past a row another transaction holds")
	}
	if err := lock.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the purge", func() bool {
		return count(`SELECT count(*) FROM group_log WHERE group_id = $1`) == 0 &&
			count(`SELECT count(*) FROM group_log_purges WHERE group_id = $1`) == 0
	})

	// A group that goes with its client is purged too, by a job the client
	// delete queues, not only by the next maintenance run (which runs once
	// at start: wait for that run, so that it cannot be what purges).
	eventually(t, 15*time.Second, "the maintenance run at start", func() bool {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'herald.maintenance'
			AND state = 'completed'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n > 0
	})
	if err := pool.QueryRow(ctx, `SELECT id::text FROM consumer_groups WHERE client_id = $1 AND name = 'default'`,
		w.consumerID).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if count(`SELECT count(*) FROM group_log WHERE group_id = $1`) == 0 {
		t.Fatal("the default group's log is empty")
	}
	e.must(204, e.do(admin, "DELETE", "/v1/clients/"+w.consumerID, nil))
	eventually(t, 15*time.Second, "the purge of the client's group", func() bool {
		return count(`SELECT count(*) FROM group_log WHERE group_id = $1`) == 0 &&
			count(`SELECT count(*) FROM group_log_purges WHERE group_id = $1`) == 0
	})
}
