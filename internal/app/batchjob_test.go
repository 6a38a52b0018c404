package app_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/app"
)

// TestDeliveryBatchJob: the deliveries of one request to one endpoint share
// a River job; those whose first attempt fails are retried by jobs of their
// own, on the schedule, and every event arrives exactly once. Whether River
// runs the batch jobs or the node that stored the events makes their first
// attempts in process (the handoff), which deletes them once done.
func TestDeliveryBatchJob(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		handoff bool
		jobs    string
	}{
		// 40 deliveries: two batch jobs (32 + 8) and one job per retry.
		{"river", false, "herald.deliver:5 herald.deliver_batch:2"},
		{"handoff", true, "herald.deliver:5"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			testDeliveryBatchJob(t, tt.handoff, tt.jobs)
		})
	}
}

func testDeliveryBatchJob(t *testing.T, handoff bool, wantJobs string) {
	e := setup(t, withSchedule("300ms,300ms"), func(c *app.Config) { c.NoHandoff = !handoff })
	w := e.world()
	rc := newReceiver(t)
	var mu sync.Mutex
	failedAt := map[string]time.Time{}
	var retryGaps []time.Duration
	rc.respond = func(n int, r *http.Request) int {
		id := r.Header.Get("webhook-id")
		mu.Lock()
		defer mu.Unlock()
		if n == 1 && len(failedAt) < 5 {
			failedAt[id] = time.Now()
			return http.StatusServiceUnavailable
		}
		if at, ok := failedAt[id]; ok && n == 2 {
			retryGaps = append(retryGaps, time.Since(at))
		}
		return http.StatusNoContent
	}
	_, secret := e.endpoint(w.consumer, rc.URL(), w.typ)
	rc.secret = secret
	var batch []map[string]any
	for i := range 40 {
		batch = append(batch, orderEvent(fmt.Sprintf("b-%02d", i), 1))
	}
	e.must(202, e.send(w.producer, batch...))
	rc.waitEvents(40, 20*time.Second)

	events, _, bad, _ := rc.snapshot()
	if len(bad) > 0 {
		t.Fatal(bad[0])
	}
	for id, n := range events {
		if n != 1 {
			t.Fatalf("event %s acknowledged %d times", id, n)
		}
	}
	mu.Lock()
	gaps := append([]time.Duration(nil), retryGaps...)
	mu.Unlock()
	if len(gaps) != 5 {
		t.Fatalf("%d retries after a failed first attempt, want 5", len(gaps))
	}
	for _, g := range gaps {
		// The schedule's 300 ms (±20 % jitter), not at once.
		if g < 200*time.Millisecond {
			t.Fatalf("a retry came %s after its failure, before the schedule's delay", g)
		}
	}
	var kinds []string
	rows, err := e.app.Pool().Query(context.Background(),
		`SELECT kind || ':' || count(*) FROM river_job WHERE kind LIKE 'herald.deliver%' GROUP BY kind ORDER BY kind`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		_ = rows.Scan(&k)
		kinds = append(kinds, k)
	}
	rows.Close()
	if got := strings.Join(kinds, " "); got != wantJobs {
		t.Fatalf("jobs = %q, want %q", got, wantJobs)
	}
}
