package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/herald"
)

// A tenant's stats are counted from three indexes (migration 0021), each
// bounded by the tenant and the window, so their cost is what that tenant
// did in the window and never a scan of other tenants' rows or of older
// days: events_tenant_idx (events in), delivery_attempts_tenant_idx
// (attempts out, their outcome and endpoint, read from the index alone) and,
// per endpoint of the tenant, deliveries_unsettled_idx (the backlog).

// StatsMaxBuckets bounds the buckets of one Stats call: a day by the
// minute.
const StatsMaxBuckets = 1440

// StatsFailingEndpoints is how many failing endpoints Stats lists.
const StatsFailingEndpoints = 10

// StatsPendingCap is where Stats stops counting a tenant's pending
// deliveries. Counting costs as much as the backlog is long (2 ms per
// 10,000 entries of the index measured), and past this an overview needs
// no more than "more than"; the oldest pending delivery says how far
// behind the backlog is.
const StatsPendingCap = 10000

// attemptFailed is the SQL test of a failed attempt, on a row of
// delivery_attempts: anything but a 2xx answer, no answer included. It is
// the webhook package's Result.Success, negated, and the one place the
// stats decide it.
const attemptFailed = `NOT coalesce(status_code BETWEEN 200 AND 299, false)`

// StatsCounts is what a tenant did over some time: the events its producers
// sent, and the attempts to deliver to its endpoints, by outcome.
type StatsCounts struct {
	EventsIn          int64
	AttemptsSucceeded int64
	AttemptsFailed    int64
}

func (c *StatsCounts) add(o StatsCounts) {
	c.EventsIn += o.EventsIn
	c.AttemptsSucceeded += o.AttemptsSucceeded
	c.AttemptsFailed += o.AttemptsFailed
}

// StatsBucket is one bucket of a series: the counts of [At, At+bucket).
type StatsBucket struct {
	At time.Time
	StatsCounts
}

// Backlog is a tenant's deliveries still pending (waiting for their first
// attempt or their next one), now.
type Backlog struct {
	// Pending counts them, up to StatsPendingCap.
	Pending int64
	// Capped says counting stopped at the cap: there are more.
	Capped bool
	// OldestPendingAt is when the oldest was created (zero: none pending).
	OldestPendingAt time.Time
}

// FailingEndpoint is one of a tenant's endpoints with failed attempts in
// the window: what failed there, and its state now.
type FailingEndpoint struct {
	ID             uuid.UUID
	URL            string
	Status         herald.EndpointStatus
	DisabledReason string
	// AttemptsFailed and AttemptsSucceeded count its attempts in the
	// window.
	AttemptsFailed    int64
	AttemptsSucceeded int64
	// LastFailedAt is its last failed attempt in the window, answered with
	// LastStatusCode (0: no answer) and recorded with LastError.
	LastFailedAt   time.Time
	LastStatusCode int
	LastError      string
	// FailingSince (zero: its last attempt succeeded), ConsecutiveFailures
	// and the circuit breaker's OpenUntil are its health now.
	FailingSince        time.Time
	ConsecutiveFailures int
	OpenUntil           time.Time
}

// Stats is a tenant's traffic over [Since, Until) in buckets of Bucket,
// the backlog now and the endpoints that failed most in that time.
type Stats struct {
	Since, Until time.Time
	Bucket       time.Duration
	// Series holds every bucket, oldest first, empty ones included.
	Series []StatsBucket
	Totals StatsCounts
	// Backlog is counted now, not over the window.
	Backlog Backlog
	// FailingEndpoints lists at most StatsFailingEndpoints endpoints that
	// still exist, most failed attempts first (then the latest failure).
	FailingEndpoints []FailingEndpoint
}

// endpointAttempts is one endpoint's attempts in the window.
type endpointAttempts struct {
	id           uuid.UUID
	ok, failed   int64
	lastFailedAt time.Time
}

// Stats counts a tenant's events in and attempts out over [since, until),
// per bucket (the window must be a whole number of buckets, at most
// StatsMaxBuckets), its backlog now and its failing endpoints. Events in
// are those the tenant's producers sent, test sends excepted; attempts out
// are every attempt to deliver to the tenant's endpoints, retries
// included, at the time it was made. The queries run side by side on
// separate connections: each reads one index, and a large window's cost is
// the sum of what the tenant did in it.
func (s *Store) Stats(ctx context.Context, tenant uuid.UUID, since, until time.Time, bucket time.Duration) (*Stats, error) {
	since, until = since.UTC(), until.UTC()
	window := until.Sub(since)
	if bucket <= 0 || window <= 0 || window%bucket != 0 || window/bucket > StatsMaxBuckets {
		return nil, fmt.Errorf("stats of tenant %s: %s from %s is not a whole number of %s buckets, at most %d",
			tenant, window, since.Format(time.RFC3339), bucket, StatsMaxBuckets)
	}
	st := &Stats{Since: since, Until: until, Bucket: bucket, Series: make([]StatsBucket, window/bucket)}
	for i := range st.Series {
		st.Series[i].At = since.Add(time.Duration(i) * bucket)
	}
	var (
		wg                     sync.WaitGroup
		eventsErr, attemptsErr error
		backlogErr             error
		endpoints              []endpointAttempts
	)
	wg.Go(func() { eventsErr = s.statsEvents(ctx, tenant, st) })
	wg.Go(func() { endpoints, attemptsErr = s.statsAttempts(ctx, tenant, st) })
	wg.Go(func() { st.Backlog, backlogErr = s.statsBacklog(ctx, tenant) })
	wg.Wait()
	if err := errors.Join(eventsErr, attemptsErr, backlogErr); err != nil {
		return nil, fmt.Errorf("stats of tenant %s: %w", tenant, err)
	}
	for _, b := range st.Series {
		st.Totals.add(b.StatsCounts)
	}
	var err error
	if st.FailingEndpoints, err = s.statsFailing(ctx, tenant, endpoints); err != nil {
		return nil, fmt.Errorf("stats of tenant %s: %w", tenant, err)
	}
	return st, nil
}

// bucketOf finds the bucket a row's date_bin start belongs to.
func (st *Stats) bucketOf(at time.Time) (*StatsBucket, error) {
	i := int(at.Sub(st.Since) / st.Bucket)
	if at.Before(st.Since) || i >= len(st.Series) {
		return nil, fmt.Errorf("bucket %s outside [%s, %s)", at, st.Since, st.Until)
	}
	return &st.Series[i], nil
}

// The counting queries group in a subquery behind OFFSET 0: PostgreSQL
// estimates a date_bin of a timestamp to have as many values as rows, sorts
// a day's worth of them to group (spilling to disk past work_mem) instead
// of hashing into the at most 1,440 buckets there are; a fenced subquery's
// column gets its default estimate, and a hash.

// statsCount runs one counting query, handing each row to scan, with
// sequential scans off. For a tenant with half of a day's attempts the
// planner preferred reading the day's whole partition to the tenant's
// range of the index; the two cost about the same then, but the
// partition grows with every other tenant's traffic and the tenant's range
// does not, so one tenant's overview never pays for the others'.
func (s *Store) statsCount(ctx context.Context, what, sql string, args []any, scan func(pgx.Rows) error) error {
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	})
	if err != nil {
		return fmt.Errorf("count %s: %w", what, err)
	}
	return nil
}

// statsEventsSQL counts events in per bucket: $1 the tenant, $2 and $3 the
// window, $4 the bucket.
const statsEventsSQL = `SELECT b, count(*) FROM (
		SELECT date_bin($4::interval, received_at, $2) AS b FROM events
		WHERE tenant_id = $1 AND received_at >= $2 AND received_at < $3 AND addressed_to IS NULL
		OFFSET 0) e
	GROUP BY b`

func (s *Store) statsEvents(ctx context.Context, tenant uuid.UUID, st *Stats) error {
	return s.statsCount(ctx, "events", statsEventsSQL, []any{raw(tenant), st.Since, st.Until, st.Bucket}, func(rows pgx.Rows) error {
		var at time.Time
		var n int64
		if err := rows.Scan(&at, &n); err != nil {
			return err
		}
		b, err := st.bucketOf(at)
		if err != nil {
			return err
		}
		b.EventsIn = n
		return nil
	})
}

// statsAttemptsSQL counts attempts per bucket and per endpoint in one pass
// over the tenant's index entries: $1 the tenant, $2 and $3 the window, $4
// the bucket. Rows of the series have a bucket and no endpoint; rows of an
// endpoint the other way round. Attempts are partitioned by their
// delivery's day, which says nothing of when they were made (a retry by
// hand can come days later), so every day's partition is looked at; each
// look is one descent of its index.
const statsAttemptsSQL = `SELECT GROUPING(endpoint_id) = 1, b, endpoint_id,
		count(*) FILTER (WHERE NOT failed), count(*) FILTER (WHERE failed), max(attempted_at) FILTER (WHERE failed)
	FROM (
		SELECT date_bin($4::interval, attempted_at, $2) AS b, endpoint_id, attempted_at, ` + attemptFailed + ` AS failed
		FROM delivery_attempts
		WHERE tenant_id = $1 AND attempted_at >= $2 AND attempted_at < $3
		OFFSET 0) a
	GROUP BY GROUPING SETS ((b), (endpoint_id))`

func (s *Store) statsAttempts(ctx context.Context, tenant uuid.UUID, st *Stats) ([]endpointAttempts, error) {
	var out []endpointAttempts
	err := s.statsCount(ctx, "attempts", statsAttemptsSQL, []any{raw(tenant), st.Since, st.Until, st.Bucket}, func(rows pgx.Rows) error {
		var series bool
		var at, lastFailed *time.Time
		var endpoint *uuid.UUID
		var ok, failed int64
		if err := rows.Scan(&series, &at, &endpoint, &ok, &failed, &lastFailed); err != nil {
			return err
		}
		switch {
		case series && at != nil:
			b, err := st.bucketOf(*at)
			if err != nil {
				return err
			}
			b.AttemptsSucceeded, b.AttemptsFailed = ok, failed
		case !series && endpoint != nil && failed > 0:
			out = append(out, endpointAttempts{id: *endpoint, ok: ok, failed: failed, lastFailedAt: *lastFailed})
		}
		return nil
	})
	return out, err
}

// statsBacklogSQL counts a tenant's pending deliveries up to a cap ($2,
// one past StatsPendingCap, to tell "exactly" from "more") and finds the
// oldest. Both walk, endpoint by endpoint of the tenant, the index of the
// deliveries that have not succeeded (deliveries_unsettled_idx, migration
// 0022), which the delivery list filtered by status reads too: one partial
// index on the hot path instead of two. The literal status condition lets
// the planner use it.
const statsBacklogSQL = `SELECT
	(SELECT count(*) FROM (SELECT 1 FROM deliveries d JOIN endpoints ep ON ep.id = d.endpoint_id
		WHERE ep.tenant_id = $1 AND d.status <> 'succeeded' AND d.status = 'pending' LIMIT $2) p),
	(SELECT min(o.created_at) FROM endpoints ep CROSS JOIN LATERAL (
		SELECT d.created_at FROM deliveries d
		WHERE d.endpoint_id = ep.id AND d.status <> 'succeeded' AND d.status = 'pending'
		ORDER BY d.created_at LIMIT 1) o
	 WHERE ep.tenant_id = $1)`

func (s *Store) statsBacklog(ctx context.Context, tenant uuid.UUID) (Backlog, error) {
	var b Backlog
	var oldest *time.Time
	if err := s.pool.QueryRow(ctx, statsBacklogSQL, raw(tenant), StatsPendingCap+1).Scan(&b.Pending, &oldest); err != nil {
		return Backlog{}, fmt.Errorf("count pending deliveries: %w", err)
	}
	if b.Pending > StatsPendingCap {
		b.Pending, b.Capped = StatsPendingCap, true
	}
	if oldest != nil {
		b.OldestPendingAt = *oldest
	}
	return b, nil
}

// statsFailingSQL ranks the endpoints with failed attempts ($2-$5: ids,
// failed and succeeded attempts, last failure) among those of the tenant
// ($1) that still exist, keeps the first $6, and reads their health and
// their last failure's answer. That attempt is found by its time, one
// descent of each partition's index.
const statsFailingSQL = `WITH f AS (
		SELECT ep.id, ep.url, ep.status, ep.disabled_reason, f.failed, f.ok, f.last_at
		FROM unnest($2::uuid[], $3::bigint[], $4::bigint[], $5::timestamptz[]) AS f(id, failed, ok, last_at)
		JOIN endpoints ep ON ep.id = f.id AND ep.tenant_id = $1
		ORDER BY f.failed DESC, f.last_at DESC, ep.id
		LIMIT $6
	)
	SELECT f.id, f.url, f.status, f.disabled_reason, f.failed, f.ok, f.last_at, la.status_code, la.error,
		h.failing_since, coalesce(h.consecutive_failures, 0), h.open_until
	FROM f
	LEFT JOIN endpoint_health h ON h.endpoint_id = f.id
	LEFT JOIN LATERAL (
		SELECT a.status_code, a.error FROM delivery_attempts a
		WHERE a.tenant_id = $1 AND a.attempted_at = f.last_at AND a.endpoint_id = f.id AND ` + attemptFailed + `
		LIMIT 1) la ON true
	ORDER BY f.failed DESC, f.last_at DESC, f.id`

func (s *Store) statsFailing(ctx context.Context, tenant uuid.UUID, eps []endpointAttempts) ([]FailingEndpoint, error) {
	if len(eps) == 0 {
		return nil, nil
	}
	ids := make([][16]byte, len(eps))
	failed := make([]int64, len(eps))
	ok := make([]int64, len(eps))
	last := make([]time.Time, len(eps))
	for i, e := range eps {
		ids[i], failed[i], ok[i], last[i] = e.id, e.failed, e.ok, e.lastFailedAt
	}
	rows, err := s.pool.Query(ctx, statsFailingSQL, raw(tenant), ids, failed, ok, last, StatsFailingEndpoints)
	return collect(rows, err, "list failing endpoints", func(row pgx.Row) (FailingEndpoint, error) {
		var e FailingEndpoint
		var status string
		var code *int
		var lastErr *string
		var since, open *time.Time
		if err := row.Scan(&e.ID, &e.URL, &status, &e.DisabledReason, &e.AttemptsFailed, &e.AttemptsSucceeded,
			&e.LastFailedAt, &code, &lastErr, &since, &e.ConsecutiveFailures, &open); err != nil {
			return e, err
		}
		e.Status = herald.EndpointStatus(status)
		if code != nil {
			e.LastStatusCode = *code
		}
		if lastErr != nil {
			e.LastError = *lastErr
		}
		if since != nil {
			e.FailingSince = *since
		}
		if open != nil {
			e.OpenUntil = *open
		}
		return e, nil
	})
}
