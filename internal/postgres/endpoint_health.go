package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Breaker configures the circuit breaker: after Threshold consecutive
// failed attempts an endpoint's circuit opens for Cooldown; then a single
// probe attempt decides whether it closes again.
type Breaker struct {
	Threshold int
	Cooldown  time.Duration
}

// EndpointHealthRecord notes successes and failures of a batch of attempts
// (failed lists one endpoint id per failed attempt), opens the circuit of
// endpoints past the breaker's threshold, and disables the endpoints that
// have not had a success for longer than disableAfter (0: never), returning
// those it disabled.
func (s *Store) EndpointHealthRecord(ctx context.Context, ok, failed []uuid.UUID, disableAfter time.Duration, br Breaker) ([]uuid.UUID, error) {
	okSet := map[uuid.UUID]bool{}
	okIDs := make([][16]byte, 0, len(ok))
	for _, id := range ok {
		if !okSet[id] {
			okSet[id] = true
			okIDs = append(okIDs, id)
		}
	}
	counts := map[uuid.UUID]int32{}
	for _, id := range failed {
		if !okSet[id] {
			counts[id]++
		}
	}
	if len(okIDs) > 0 {
		// A healthy endpoint under load succeeds hundreds of times a second,
		// all on its one row: it is written only when its health changes or
		// its last success is a second old, not once per batch of attempts.
		if _, err := s.pool.Exec(ctx, `INSERT INTO endpoint_health (endpoint_id, failing_since, last_success_at)
			SELECT id, NULL::timestamptz, now() FROM unnest($1::uuid[]) AS u(id)
			ON CONFLICT (endpoint_id) DO UPDATE SET failing_since = NULL, last_success_at = now(),
				consecutive_failures = 0, open_until = NULL, probe_at = NULL
			WHERE endpoint_health.failing_since IS NOT NULL OR endpoint_health.consecutive_failures <> 0
				OR endpoint_health.open_until IS NOT NULL OR endpoint_health.probe_at IS NOT NULL
				OR endpoint_health.last_success_at IS NULL OR endpoint_health.last_success_at < now() - interval '1 second'`, okIDs); err != nil {
			return nil, fmt.Errorf("record endpoint successes: %w", err)
		}
	}
	if len(counts) == 0 {
		return nil, nil
	}
	badIDs := make([][16]byte, 0, len(counts))
	ns := make([]int32, 0, len(counts))
	for id, n := range counts {
		badIDs = append(badIDs, id)
		ns = append(ns, n)
	}
	threshold := br.Threshold
	if threshold <= 0 {
		threshold = 1 << 30 // no breaker
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO endpoint_health (endpoint_id, failing_since, consecutive_failures, open_until)
		SELECT id, now(), n, CASE WHEN n >= $3 THEN now() + $4::interval END FROM unnest($1::uuid[], $2::int[]) AS u(id, n)
		ON CONFLICT (endpoint_id) DO UPDATE SET
			failing_since = coalesce(endpoint_health.failing_since, now()),
			consecutive_failures = endpoint_health.consecutive_failures + EXCLUDED.consecutive_failures,
			open_until = CASE WHEN endpoint_health.consecutive_failures + EXCLUDED.consecutive_failures >= $3
				THEN now() + $4::interval ELSE endpoint_health.open_until END,
			probe_at = NULL`,
		badIDs, ns, threshold, br.Cooldown); err != nil {
		return nil, fmt.Errorf("record endpoint failures: %w", err)
	}
	if disableAfter <= 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `UPDATE endpoints e SET status = 'disabled', disabled_reason = $3, updated_at = now()
		FROM endpoint_health h
		WHERE h.endpoint_id = e.id AND e.id = ANY($1::uuid[]) AND e.status = 'active'
			AND h.failing_since < now() - $2::interval
		RETURNING e.id`, badIDs, disableAfter,
		fmt.Sprintf("no successful delivery for %s", disableAfter))
	return collect(rows, err, "auto-disable endpoints", scanUUID)
}

// EndpointClaimProbe lets one attempt through an open circuit whose
// cool-down has passed: it reports true to the single caller that gets the
// probe (a probe unanswered for probeTimeout can be claimed again).
func (s *Store) EndpointClaimProbe(ctx context.Context, endpoint uuid.UUID, probeTimeout time.Duration) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE endpoint_health SET probe_at = now()
		WHERE endpoint_id = $1 AND open_until <= now() AND (probe_at IS NULL OR probe_at < now() - $2::interval)`,
		raw(endpoint), probeTimeout)
	if err != nil {
		return false, fmt.Errorf("claim probe of endpoint %s: %w", endpoint, err)
	}
	return tag.RowsAffected() == 1, nil
}

// EndpointHealthReset forgets an endpoint's failure streak (when it is
// enabled again, so it is not disabled by its very next failure).
func (s *Store) EndpointHealthReset(ctx context.Context, id uuid.UUID) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM endpoint_health WHERE endpoint_id = $1`, id); err != nil {
		return fmt.Errorf("reset health of endpoint %s: %w", id, err)
	}
	return nil
}
