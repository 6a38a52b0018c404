package app_test

import (
	"context"
	"testing"

	"github.com/heraldhq/herald/internal/herald"
)

// TestGroupLagCapped: a partition's lag is counted up to herald.LagCap;
// past it the lag is the cap with lag_exact false, at the cap it is still
// exact, and the other partitions are unaffected, in the listing and in
// the group's own view.
func TestGroupLagCapped(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	pool := e.pool()
	ctx := context.Background()

	e.must(201, e.do(w.consumer, "POST", "/v1/consumer-groups", map[string]any{"name": "deep"}))
	// Write the backlog straight into the log: ingesting this many events
	// through the API would only make the test slow. Partition 3 has one
	// more row than the cap, partition 4 exactly the cap, partition 5 one.
	for _, part := range []struct{ partition, rows int }{{3, herald.LagCap + 1}, {4, herald.LagCap}, {5, 1}} {
		if _, err := pool.Exec(ctx, `INSERT INTO group_log (group_id, partition, seq, event_id, received_at)
			SELECT g.id, $3, 1000000 + s, gen_random_uuid(), now()
			FROM consumer_groups g, generate_series(1, $4) AS s WHERE g.client_id = $1 AND g.name = $2`,
			w.consumerID, "deep", part.partition, part.rows); err != nil {
			t.Fatal(err)
		}
	}

	check := func(g map[string]any) {
		t.Helper()
		for _, p := range g["partitions"].([]any) {
			p := p.(map[string]any)
			lag, exact := int(p["lag"].(float64)), p["lag_exact"]
			want, wantExact := 0, true
			switch int(p["partition"].(float64)) {
			case 3:
				want, wantExact = herald.LagCap, false
			case 4:
				want = herald.LagCap
			case 5:
				want = 1
			}
			if lag != want || exact != wantExact {
				t.Errorf("partition %v: lag %d exact %v, want %d exact %v", p["partition"], lag, exact, want, wantExact)
			}
		}
	}
	check(e.must(200, e.do(w.consumer, "GET", "/v1/consumer-groups/deep", nil)))
	found := false
	for _, g := range e.must(200, e.do(w.consumer, "GET", "/v1/consumer-groups", nil))["data"].([]any) {
		if g := g.(map[string]any); g["name"] == "deep" {
			found = true
			check(g)
		}
	}
	if !found {
		t.Fatal("group deep not listed")
	}
}
