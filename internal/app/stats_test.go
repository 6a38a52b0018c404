package app_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestStatsAPI: GET /v1/stats counts a tenant's events in (the producing
// tenant's) and attempts out (the consuming tenant's, a failed first
// attempt and its successful retry per delivery), lists the endpoint that
// failed, answers only admins of the tenant, and refuses a bad window or
// bucket naming the field and the rule.
func TestStatsAPI(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	_, consumerAdmin := e.client(admin, w.consumerTenant, "consumer admin", "admin")
	rc := newReceiver(t)
	rc.respond = func(call int, _ *http.Request) int {
		if call == 1 {
			return http.StatusInternalServerError
		}
		return http.StatusNoContent
	}
	epID, secret := e.endpoint(w.consumer, rc.URL(), w.typ)
	rc.secret = secret
	e.must(202, e.send(w.producer, orderEvent("s1", 1), orderEvent("s2", 2), orderEvent("s3", 3)))
	rc.waitEvents(3, 10*time.Second)

	stats := func(c cred, query string) map[string]any {
		t.Helper()
		return e.must(200, e.do(c, "GET", "/v1/stats"+query, nil))
	}
	var st map[string]any
	// The counts are read side by side, each in its own snapshot, so for
	// a moment the last success can be counted while its delivery is still
	// seen pending: wait for both.
	eventually(t, 10*time.Second, "three succeeded attempts and no backlog in the consumer tenant's stats", func() bool {
		st = stats(consumerAdmin, "")
		return st["totals"].(map[string]any)["attempts_succeeded"] == float64(3) &&
			st["backlog"].(map[string]any)["pending_deliveries"] == float64(0)
	})

	// The window: an hour of minutes, ending with the minute under way.
	since, err1 := time.Parse(time.RFC3339, st["since"].(string))
	until, err2 := time.Parse(time.RFC3339, st["until"].(string))
	if err1 != nil || err2 != nil || until.Sub(since) != time.Hour || !until.Equal(until.Truncate(time.Minute)) ||
		time.Until(until) <= 0 || time.Until(until) > time.Minute || st["bucket"] != "1m" || st["tenant"] != w.consumerTenant {
		t.Fatalf("window: %v", st)
	}
	series := st["series"].([]any)
	if len(series) != 60 {
		t.Fatalf("%d buckets, want 60", len(series))
	}
	sum := map[string]float64{}
	for i, b := range series {
		b := b.(map[string]any)
		if b["at"] != since.Add(time.Duration(i)*time.Minute).Format(time.RFC3339) {
			t.Fatalf("bucket %d at %v, want %s", i, b["at"], since.Add(time.Duration(i)*time.Minute))
		}
		for _, k := range []string{"events_in", "attempts_succeeded", "attempts_failed"} {
			sum[k] += b[k].(float64)
		}
	}
	totals := st["totals"].(map[string]any)
	if totals["events_in"] != float64(0) || totals["attempts_failed"] != float64(3) || totals["attempts_succeeded"] != float64(3) {
		t.Errorf("consumer tenant's totals = %v", totals)
	}
	for k, v := range sum {
		if totals[k] != v {
			t.Errorf("series sum to %s = %v, totals say %v", k, v, totals[k])
		}
	}
	if b := st["backlog"].(map[string]any); b["pending_deliveries"] != float64(0) || b["pending_deliveries_capped"] != false ||
		b["oldest_pending_at"] != nil {
		t.Errorf("backlog = %v", b)
	}
	failing := st["failing_endpoints"].([]any)
	if len(failing) != 1 {
		t.Fatalf("failing endpoints = %v", failing)
	}
	if f := failing[0].(map[string]any); f["id"] != epID || f["url"] != rc.URL() || f["status"] != "active" ||
		f["attempts_failed"] != float64(3) || f["attempts_succeeded"] != float64(3) || f["last_status_code"] != float64(500) ||
		!strings.Contains(f["last_error"].(string), "500") || f["last_failed_at"] == nil {
		t.Errorf("failing endpoint = %v", f)
	}

	// The producing tenant's events in, read by its admin and by a
	// platform admin naming it.
	for _, c := range []struct {
		who   cred
		query string
	}{{w.ownerAdmin, ""}, {admin, "?tenant=" + w.producerTenant}} {
		st := stats(c.who, c.query)
		if totals := st["totals"].(map[string]any); st["tenant"] != w.producerTenant || totals["events_in"] != float64(3) ||
			totals["attempts_failed"] != float64(0) {
			t.Errorf("producing tenant's stats%s = %v", c.query, totals)
		}
	}
	if st := stats(admin, ""); st["tenant"] == w.producerTenant || st["tenant"] == w.consumerTenant {
		t.Errorf("a platform admin without tenant got %v", st["tenant"])
	}

	// Tenants cannot read each other's stats; a consumer cannot read its
	// own tenant's.
	for _, c := range []struct {
		who   cred
		query string
	}{{w.ownerAdmin, "?tenant=" + w.consumerTenant}, {consumerAdmin, "?tenant=" + w.producerTenant}, {w.consumer, ""}} {
		wantProblem(t, e.do(c.who, "GET", "/v1/stats"+c.query, nil), 403, "", "")
	}
	wantProblem(t, e.do(admin, "GET", "/v1/stats?tenant=0194b8a0-1c2e-7d4e-9a53-2f1e8c7b6a01", nil), 404, "", "")
	wantProblem(t, e.do(consumerAdmin, "GET", "/v1/stats?tenant=nope", nil), 422, "tenant", "format")

	// Another window and bucket: a day by the hour, on the hour.
	st = stats(consumerAdmin, "?window=24h&bucket=1h")
	if series := st["series"].([]any); len(series) != 24 || st["bucket"] != "1h" ||
		!strings.HasSuffix(series[23].(map[string]any)["at"].(string), ":00:00Z") {
		t.Errorf("a day by the hour: %v buckets of %v", len(series), st["bucket"])
	}
	if totals := st["totals"].(map[string]any); totals["attempts_failed"] != float64(3) {
		t.Errorf("a day by the hour: totals %v", totals)
	}

	for _, c := range []struct {
		query, field, rule string
	}{
		{"?window=soon", "window", "format"},
		{"?window=30s", "window", "range"},
		{"?window=25h", "window", "range"},
		{"?bucket=fast", "bucket", "format"},
		{"?bucket=500ms", "bucket", "range"},
		{"?bucket=1500ms", "bucket", "range"},
		{"?bucket=2h", "bucket", "range"},
		{"?bucket=7m", "bucket", "multiple"},
		{"?window=24h&bucket=30s", "bucket", "max-buckets"},
		{"?window=1d&bucket=0", "window", "format"},
		{"?window=1d&bucket=0", "bucket", "range"},
	} {
		wantProblem(t, e.do(consumerAdmin, "GET", "/v1/stats"+c.query, nil), 422, c.field, c.rule)
	}
}
