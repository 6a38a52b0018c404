package app_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heraldhq/herald/internal/herald"
)

// groupLog reads a consumer's group's log (seqs in order) straight from
// the database: the consumption endpoints come later.
func (e *env) groupLog(pool *pgxpool.Pool, clientID, name string) []int64 {
	e.t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT l.seq FROM group_log l
		JOIN consumer_groups g ON g.id = l.group_id WHERE g.client_id = $1 AND g.name = $2 ORDER BY l.seq`, clientID, name)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var s int64
		if err := rows.Scan(&s); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func (e *env) pool() *pgxpool.Pool {
	e.t.Helper()
	pool, err := pgxpool.New(context.Background(), e.dsn)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(pool.Close)
	return pool
}

// sendSeqs sends n order events and returns their sequences.
func (e *env) sendSeqs(w *world, prefix string, n int) []int64 {
	e.t.Helper()
	var out []int64
	for i := range n {
		m := e.must(202, e.send(w.producer, orderEvent(fmt.Sprintf("%s-%d", prefix, i), 1)))
		out = append(out, int64(m["events"].([]any)[0].(map[string]any)["sequence"].(float64)))
	}
	return out
}

// lag sums a group's lag over its partitions, checking there are 12.
func lag(t *testing.T, g map[string]any) int {
	t.Helper()
	parts := g["partitions"].([]any)
	if len(parts) != herald.Partitions {
		t.Fatalf("%d partitions, want %d", len(parts), herald.Partitions)
	}
	n := 0
	for _, p := range parts {
		p := p.(map[string]any)
		if p["lag_exact"] != true {
			t.Fatalf("partition %v: lag not exact", p)
		}
		n += int(p["lag"].(float64))
	}
	return n
}

// TestConsumerGroups: every consumer has a default group; groups start at
// new, all, a sequence or a time (backfilled from stored events by a
// job, live events routed at ingest), show their lag per partition, seek
// (a seek backwards past the log backfills it), are deleted; names are
// per consumer, and bad input is refused with the field and rule, changing
// nothing.
func TestConsumerGroups(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	pool := e.pool()

	list := e.must(200, e.do(w.consumer, "GET", "/v1/consumer-groups", nil))["data"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["name"] != "default" {
		t.Fatalf("groups of a new consumer: %v", list)
	}
	def := list[0].(map[string]any)
	if def["ack_wait"] != "30s" || !slices.Equal(toStrings(def["types"]), []string{">"}) || lag(t, def) != 0 {
		t.Fatalf("default group: %v", def)
	}

	old := e.sendSeqs(w, "old", 5)
	time.Sleep(50 * time.Millisecond)
	since := time.Now().UTC()
	time.Sleep(50 * time.Millisecond)
	mid := e.sendSeqs(w, "mid", 2)

	all := e.must(201, e.do(w.consumer, "POST", "/v1/consumer-groups", map[string]any{
		"name": "replay", "types": []string{"com.example.order.*"}, "start": "all", "ack_wait": "2m"}))
	if all["name"] != "replay" || all["ack_wait"] != "2m" || all["created_sequence"] != herald.FormatSeq(mid[1]) {
		t.Fatalf("created group: %v", all)
	}
	e.must(201, e.do(w.consumer, "POST", "/v1/consumer-groups", map[string]any{
		"name": "from-seq", "start": map[string]any{"sequence": herald.FormatSeq(old[2])}}))
	e.must(201, e.do(w.consumer, "POST", "/v1/consumer-groups", map[string]any{
		"name": "from-time", "start": map[string]any{"time": since.Format(time.RFC3339Nano)}}))
	e.must(201, e.do(w.consumer, "POST", "/v1/consumer-groups", map[string]any{"name": "new"}))
	e.must(201, e.do(w.consumer, "POST", "/v1/consumer-groups", map[string]any{
		"name": "big", "filter": map[string]any{"data": "$.qty", "gte": 5}}))
	later := e.sendSeqs(w, "later", 3)

	everything := slices.Concat(old, mid, later)
	want := map[string][]int64{
		"default":   everything,
		"replay":    everything,
		"from-seq":  slices.Concat(old[2:], mid, later),
		"from-time": slices.Concat(mid, later),
		"new":       later,
		"big":       nil,
	}
	for name, seqs := range want {
		eventually(t, 15*time.Second, name+" log", func() bool {
			return slices.Equal(e.groupLog(pool, w.consumerID, name), seqs)
		})
		g := e.must(200, e.do(w.consumer, "GET", "/v1/consumer-groups/"+name, nil))
		if g["backfill"] != nil {
			// The rows are there; the backfill's last step may still be
			// committing its cursor.
			eventually(t, 5*time.Second, name+" backfill done", func() bool {
				g = e.must(200, e.do(w.consumer, "GET", "/v1/consumer-groups/"+name, nil))
				return g["backfill"] == nil
			})
		}
		if n := lag(t, g); n != len(seqs) {
			t.Errorf("%s: lag %d, want %d", name, n, len(seqs))
		}
	}

	// Bad input changes nothing.
	wantProblem(t, e.do(w.consumer, "POST", "/v1/consumer-groups", map[string]any{"name": "replay"}), 409, "name", "unique")
	wantProblem(t, e.do(w.consumer, "POST", "/v1/consumer-groups", map[string]any{"name": "x", "start": "sometimes"}),
		422, "start", "enum")
	wantProblem(t, e.do(w.consumer, "POST", "/v1/consumer-groups", map[string]any{"name": "x", "start": map[string]any{"time": "yesterday"}}),
		422, "start.time", "format")
	wantProblem(t, e.do(w.consumer, "POST", "/v1/consumer-groups", map[string]any{"name": "x", "ack_wait": "soon"}),
		422, "ack_wait", "format")
	wantProblem(t, e.do(w.consumer, "POST", "/v1/consumer-groups", map[string]any{"name": "x", "ack_wait": "0s"}),
		422, "ack_wait", "range")
	wantProblem(t, e.do(w.consumer, "POST", "/v1/consumer-groups", map[string]any{"name": "x", "types": []string{"com.>.x"}}),
		422, "types[0]", "pattern")
	wantProblem(t, e.do(w.consumer, "POST", "/v1/consumer-groups", map[string]any{"name": "x", "filter": map[string]any{"attr": "subject", "prefx": "a"}}),
		422, "", "")
	wantProblem(t, e.do(w.consumer, "POST", "/v1/consumer-groups", map[string]any{"name": "x/y"}), 422, "name", "format")
	wantProblem(t, e.do(w.consumer, "POST", "/v1/consumer-groups", map[string]any{
		"name": "x", "start": map[string]any{"sequence": later[2] + 2}}), 422, "start.sequence", "past-end")
	wantProblem(t, e.do(w.consumer, "POST", "/v1/consumer-groups/replay/seek", map[string]any{
		"start": map[string]any{"sequence": later[2] + 2}}), 422, "start.sequence", "past-end")
	wantProblem(t, e.do(w.consumer, "POST", "/v1/consumer-groups/replay/seek", map[string]any{
		"start": map[string]any{"time": time.Now().Add(time.Hour)}}), 422, "start.time", "past-end")
	wantProblem(t, e.do(w.consumer, "POST", "/v1/consumer-groups/replay/seek", map[string]any{}), 422, "start", "required")
	if g := e.must(200, e.do(w.consumer, "GET", "/v1/consumer-groups/replay", nil)); lag(t, g) != len(everything) {
		t.Errorf("a refused seek moved the group: %v", g)
	}
	if n := len(e.must(200, e.do(w.consumer, "GET", "/v1/consumer-groups", nil))["data"].([]any)); n != 6 {
		t.Errorf("%d groups after refused creations, want 6", n)
	}

	// Names are per consumer: another consumer's group is not visible, and
	// the name is free for it.
	otherID, other := e.client(admin, w.consumerTenant, "other", "consumer")
	wantProblem(t, e.do(other, "GET", "/v1/consumer-groups/replay", nil), 404, "", "")
	wantProblem(t, e.do(other, "POST", "/v1/consumer-groups/replay/seek", map[string]any{"start": "all"}), 404, "", "")
	wantProblem(t, e.do(other, "DELETE", "/v1/consumer-groups/replay", nil), 404, "", "")
	e.must(201, e.do(other, "POST", "/v1/consumer-groups", map[string]any{"name": "replay"}))
	wantProblem(t, e.do(w.producer, "GET", "/v1/consumer-groups", nil), 403, "", "")

	// Seeks: to the end, back to a sequence inside the log, and back past
	// the start of a log, which backfills it.
	g := e.must(200, e.do(w.consumer, "POST", "/v1/consumer-groups/replay/seek", map[string]any{"start": "new"}))
	if lag(t, g) != 0 {
		t.Errorf("after seeking to new: %v", g)
	}
	g = e.must(200, e.do(w.consumer, "POST", "/v1/consumer-groups/replay/seek", map[string]any{
		"start": map[string]any{"sequence": mid[0]}}))
	if lag(t, g) != len(mid)+len(later) {
		t.Errorf("after seeking to %d: %v", mid[0], g)
	}
	e.must(200, e.do(w.consumer, "POST", "/v1/consumer-groups/new/seek", map[string]any{"start": "all"}))
	eventually(t, 15*time.Second, "seek backwards backfills", func() bool {
		return slices.Equal(e.groupLog(pool, w.consumerID, "new"), everything)
	})

	e.must(204, e.do(w.consumer, "DELETE", "/v1/consumer-groups/replay", nil))
	wantProblem(t, e.do(w.consumer, "GET", "/v1/consumer-groups/replay", nil), 404, "", "")
	if got := e.groupLog(pool, w.consumerID, "replay"); len(got) != 0 {
		t.Errorf("a deleted group's log: %v", got)
	}
	e.sendSeqs(w, "after-delete", 1)
	// A client's groups and their logs go with it.
	e.must(204, e.do(admin, "DELETE", "/v1/clients/"+otherID, nil))
	if len(e.groupLog(pool, w.consumerID, "default")) == 0 {
		t.Fatal("the default group's log is empty")
	}
	e.must(204, e.do(admin, "DELETE", "/v1/clients/"+w.consumerID, nil))
	// Their logs are purged in the background, by jobs the deletes queue.
	eventually(t, 15*time.Second, "no group log rows of deleted groups", func() bool {
		var orphans int
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM group_log l
			WHERE NOT EXISTS (SELECT 1 FROM consumer_groups g WHERE g.id = l.group_id)`).Scan(&orphans); err != nil {
			t.Fatal(err)
		}
		return orphans == 0
	})
}

func toStrings(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}

// TestGroupBackfillMeetsLiveIngest: a group created to start at "all"
// while producers keep sending gets every event exactly once: the backfill
// writes those up to its creation sequence, ingest the later ones.
func TestGroupBackfillMeetsLiveIngest(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	pool := e.pool()
	for i := range 4 {
		batch := make([]map[string]any, 100)
		for j := range batch {
			batch[j] = orderEvent(fmt.Sprintf("before-%d-%d", i, j), 1)
		}
		e.must(202, e.send(w.producer, batch...))
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				e.must(202, e.send(w.producer, orderEvent(fmt.Sprintf("during-%d-%d", p, i), 1)))
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	e.must(201, e.do(w.consumer, "POST", "/v1/consumer-groups", map[string]any{"name": "all", "start": "all"}))
	time.Sleep(300 * time.Millisecond)
	stop.Store(true)
	wg.Wait()

	var events []int64
	rows, err := pool.Query(context.Background(), `SELECT seq FROM events ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s int64
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		events = append(events, s)
	}
	rows.Close()
	eventually(t, 20*time.Second, "backfill done", func() bool {
		return e.must(200, e.do(w.consumer, "GET", "/v1/consumer-groups/all", nil))["backfill"] == nil
	})
	got := e.groupLog(pool, w.consumerID, "all")
	if !slices.Equal(got, events) {
		t.Fatalf("group log has %d rows, the log %d events (first few: %v vs %v)", len(got), len(events),
			got[:min(5, len(got))], events[:min(5, len(events))])
	}
}
