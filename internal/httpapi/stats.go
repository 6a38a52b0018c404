package httpapi

import (
	"net/http"
	"net/url"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/httpjson"
	"github.com/heraldhq/herald/internal/postgres"
)

// The window GET /v1/stats covers, and its default buckets. A day is the
// longest: the busiest tenants' day is what the counting indexes can sum
// within a page's render budget (docs/operations.md).
const (
	statsMinWindow     = time.Minute
	statsMaxWindow     = 24 * time.Hour
	statsDefaultWindow = time.Hour
	statsDefaultBucket = time.Minute
)

// statsCountsJSON is what happened in a bucket, or in the whole window.
type statsCountsJSON struct {
	EventsIn          int64 `json:"events_in"`
	AttemptsSucceeded int64 `json:"attempts_succeeded"`
	AttemptsFailed    int64 `json:"attempts_failed"`
}

type statsBucketJSON struct {
	At time.Time `json:"at"`
	statsCountsJSON
}

type backlogJSON struct {
	PendingDeliveries       int64      `json:"pending_deliveries"`
	PendingDeliveriesCapped bool       `json:"pending_deliveries_capped"`
	OldestPendingAt         *time.Time `json:"oldest_pending_at"`
}

type failingEndpointJSON struct {
	ID                  uuid.UUID  `json:"id"`
	URL                 string     `json:"url"`
	Status              string     `json:"status"`
	DisabledReason      string     `json:"disabled_reason,omitempty"`
	AttemptsFailed      int64      `json:"attempts_failed"`
	AttemptsSucceeded   int64      `json:"attempts_succeeded"`
	LastFailedAt        time.Time  `json:"last_failed_at"`
	LastStatusCode      int        `json:"last_status_code,omitempty"`
	LastError           string     `json:"last_error"`
	FailingSince        *time.Time `json:"failing_since,omitempty"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	CircuitOpenUntil    *time.Time `json:"circuit_open_until,omitempty"`
}

// statsJSON is the answer of GET /v1/stats.
type statsJSON struct {
	Tenant           uuid.UUID             `json:"tenant"`
	Since            time.Time             `json:"since"`
	Until            time.Time             `json:"until"`
	Bucket           string                `json:"bucket"`
	Series           []statsBucketJSON     `json:"series"`
	Totals           statsCountsJSON       `json:"totals"`
	Backlog          backlogJSON           `json:"backlog"`
	FailingEndpoints []failingEndpointJSON `json:"failing_endpoints"`
}

func toStatsCountsJSON(c postgres.StatsCounts) statsCountsJSON {
	return statsCountsJSON{EventsIn: c.EventsIn, AttemptsSucceeded: c.AttemptsSucceeded, AttemptsFailed: c.AttemptsFailed}
}

// utcTime is a time for the answer in UTC, or nil for the zero time.
func utcTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func toStatsJSON(tenant uuid.UUID, st *postgres.Stats) statsJSON {
	out := statsJSON{
		Tenant: tenant, Since: st.Since.UTC(), Until: st.Until.UTC(), Bucket: herald.ShortDuration(st.Bucket),
		Series: make([]statsBucketJSON, len(st.Series)), Totals: toStatsCountsJSON(st.Totals),
		Backlog: backlogJSON{PendingDeliveries: st.Backlog.Pending, PendingDeliveriesCapped: st.Backlog.Capped,
			OldestPendingAt: utcTime(st.Backlog.OldestPendingAt)},
		FailingEndpoints: make([]failingEndpointJSON, len(st.FailingEndpoints)),
	}
	for i, b := range st.Series {
		out.Series[i] = statsBucketJSON{At: b.At.UTC(), statsCountsJSON: toStatsCountsJSON(b.StatsCounts)}
	}
	for i, e := range st.FailingEndpoints {
		out.FailingEndpoints[i] = failingEndpointJSON{ID: e.ID, URL: e.URL, Status: string(e.Status),
			DisabledReason: e.DisabledReason, AttemptsFailed: e.AttemptsFailed, AttemptsSucceeded: e.AttemptsSucceeded,
			LastFailedAt: e.LastFailedAt.UTC(), LastStatusCode: e.LastStatusCode, LastError: e.LastError,
			FailingSince: utcTime(e.FailingSince), ConsecutiveFailures: e.ConsecutiveFailures,
			CircuitOpenUntil: utcTime(e.OpenUntil)}
	}
	return out
}

// handleStats answers a tenant's overview: events in and attempts out per
// bucket over the window that ends with the current bucket, the backlog
// and the failing endpoints. Tenant admins read their tenant's; platform
// admins name one with ?tenant= and read the platform tenant's without it,
// never every tenant's at once: what the counting reads is bounded by one
// tenant's range of its indexes.
func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	q := r.URL.Query()
	tenant, err := p.AdminScope(q.Get("tenant"), "stats")
	if err != nil {
		return err
	}
	if tenant == uuid.Nil {
		tenant = p.Client.TenantID
	}
	window, bucket, err := statsRange(q)
	if err != nil {
		return err
	}
	if _, err := s.store.TenantGet(r.Context(), tenant); err != nil {
		return err
	}
	// Buckets start at multiples of their length (a minute's on the
	// minute, UTC), so a chart refreshed later shows the same buckets; the
	// last is the one under way.
	until := time.Now().UTC().Truncate(bucket).Add(bucket)
	st, err := s.store.Stats(r.Context(), tenant, until.Add(-window), until, bucket)
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, toStatsJSON(tenant, st))
	return nil
}

// statsRange reads ?window= and ?bucket=, Go durations: the window from 1m
// to 24h (default 1h), cut into whole buckets of whole seconds (default
// 1m), at most postgres.StatsMaxBuckets of them.
func statsRange(q url.Values) (window, bucket time.Duration, err error) {
	ve := &herald.ValidationError{}
	window, bucket = statsDefaultWindow, statsDefaultBucket
	if v := q.Get("window"); v != "" {
		d, err := time.ParseDuration(v)
		switch {
		case err != nil:
			ve.Add("window", "format", `must be a duration such as "15m", "1h" or "24h"`)
		case d < statsMinWindow || d > statsMaxWindow:
			ve.Add("window", "range", "must be from %s to %s", herald.ShortDuration(statsMinWindow), herald.ShortDuration(statsMaxWindow))
		default:
			window = d
		}
	}
	if v := q.Get("bucket"); v != "" {
		d, err := time.ParseDuration(v)
		switch {
		case err != nil:
			ve.Add("bucket", "format", `must be a duration such as "1m", "5m" or "1h"`)
		case d < time.Second || d%time.Second != 0:
			ve.Add("bucket", "range", "must be a whole number of seconds, at least 1s")
		default:
			bucket = d
		}
	}
	if len(ve.Errors) == 0 {
		switch n := window / bucket; {
		case bucket > window:
			ve.Add("bucket", "range", "must not be longer than the window (%s)", herald.ShortDuration(window))
		case window%bucket != 0:
			ve.Add("bucket", "multiple", "must cut the window (%s) into whole buckets", herald.ShortDuration(window))
		case n > postgres.StatsMaxBuckets:
			ve.Add("bucket", "max-buckets", "cuts the window (%s) into %d buckets, more than %d; use %s or longer",
				herald.ShortDuration(window), n, postgres.StatsMaxBuckets, herald.ShortDuration(minBucket(window)))
		}
	}
	return window, bucket, ve.Err()
}

// minBucket is the shortest bucket, in whole seconds, that cuts window into
// at most postgres.StatsMaxBuckets buckets.
func minBucket(window time.Duration) time.Duration {
	b := (window + postgres.StatsMaxBuckets - 1) / postgres.StatsMaxBuckets
	return (b + time.Second - 1).Truncate(time.Second)
}
