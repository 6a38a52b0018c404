package postgres_test

import (
	"testing"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/postgres"
)

// TestEndpointHealthSuccessWrites: a success on a healthy endpoint whose
// last success is under a second old leaves its health row alone (no new
// row version); a success after failures clears them at once, and one a
// second after the last moves last_success_at.
func TestEndpointHealthSuccessWrites(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	ep := []uuid.UUID{f.endpoint.ID}
	type health struct {
		xmin     string
		failures int
		failing  bool
		recent   bool
	}
	read := func() health {
		t.Helper()
		var h health
		if err := f.pool.QueryRow(ctx, `SELECT xmin::text, consecutive_failures, failing_since IS NOT NULL,
			last_success_at > now() - interval '1 second' FROM endpoint_health WHERE endpoint_id = $1`, f.endpoint.ID).
			Scan(&h.xmin, &h.failures, &h.failing, &h.recent); err != nil {
			t.Fatal(err)
		}
		return h
	}
	record := func(ok, failed []uuid.UUID) {
		t.Helper()
		if _, err := f.store.EndpointHealthRecord(ctx, ok, failed, 0, postgres.Breaker{}); err != nil {
			t.Fatal(err)
		}
	}

	record(ep, nil)
	first := read()
	if first.failures != 0 || first.failing || !first.recent {
		t.Fatalf("after a success: %+v", first)
	}
	record(ep, nil)
	if again := read(); again.xmin != first.xmin {
		t.Fatalf("a second success within a second wrote the row again (xmin %s → %s)", first.xmin, again.xmin)
	}
	record(nil, ep)
	if h := read(); h.failures != 1 || !h.failing {
		t.Fatalf("after a failure: %+v", h)
	}
	record(ep, nil)
	if h := read(); h.failures != 0 || h.failing {
		t.Fatalf("a success after a failure did not clear it: %+v", h)
	}
	if _, err := f.pool.Exec(ctx, `UPDATE endpoint_health SET last_success_at = now() - interval '2 seconds' WHERE endpoint_id = $1`,
		f.endpoint.ID); err != nil {
		t.Fatal(err)
	}
	stale := read()
	record(ep, nil)
	if h := read(); h.xmin == stale.xmin || !h.recent {
		t.Fatalf("a success two seconds after the last did not move last_success_at: %+v", h)
	}
}
