package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/herald"
)

// EndpointVerificationRecord keeps the outcome of an endpoint's latest
// verification handshake (one row per endpoint, replaced by each attempt).
func (s *Store) EndpointVerificationRecord(ctx context.Context, id uuid.UUID, v herald.Verification) error {
	var code *int32
	if v.StatusCode != 0 {
		c := int32(v.StatusCode)
		code = &c
	}
	var next *time.Time
	if !v.NextAttemptAt.IsZero() {
		next = &v.NextAttemptAt
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO endpoint_verifications (endpoint_id, attempts, last_attempt_at, status_code,
			error, next_attempt_at)
		SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM endpoints WHERE id = $1)
		ON CONFLICT (endpoint_id) DO UPDATE SET attempts = excluded.attempts, last_attempt_at = excluded.last_attempt_at,
			status_code = excluded.status_code, error = excluded.error, next_attempt_at = excluded.next_attempt_at`,
		raw(id), v.Attempts, v.LastAttemptAt, code, herald.LogText(v.Error), next)
	if err != nil {
		return fmt.Errorf("endpoint %s: record verification: %w", id, err)
	}
	return nil
}

// endpointVerificationClear forgets an endpoint's handshakes when a new
// verification starts (a new URL is a new receiver).
func endpointVerificationClear(ctx context.Context, db DBTX, id uuid.UUID) error {
	if _, err := db.Exec(ctx, `DELETE FROM endpoint_verifications WHERE endpoint_id = $1`, raw(id)); err != nil {
		return fmt.Errorf("endpoint %s: clear verification: %w", id, err)
	}
	return nil
}

// endpointVerificationSettle marks an endpoint's verification as over: its
// latest handshake stays on record, with no next one due.
func endpointVerificationSettle(ctx context.Context, db DBTX, id uuid.UUID) error {
	if _, err := db.Exec(ctx, `UPDATE endpoint_verifications SET next_attempt_at = NULL WHERE endpoint_id = $1`, raw(id)); err != nil {
		return fmt.Errorf("endpoint %s: settle verification: %w", id, err)
	}
	return nil
}

// endpointVerificationsFill adds each endpoint's latest handshake.
func endpointVerificationsFill(ctx context.Context, db DBTX, eps ...*herald.Endpoint) error {
	if len(eps) == 0 {
		return nil
	}
	byID := make(map[uuid.UUID]*herald.Endpoint, len(eps))
	ids := make([][16]byte, len(eps))
	for i, e := range eps {
		byID[e.ID], ids[i] = e, raw(e.ID)
	}
	rows, err := db.Query(ctx, `SELECT endpoint_id, attempts, last_attempt_at, status_code, error, next_attempt_at
		FROM endpoint_verifications WHERE endpoint_id = ANY ($1)`, ids)
	if err != nil {
		return fmt.Errorf("endpoint verifications: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id uuid.UUID
		var v herald.Verification
		var code *int32
		var next *time.Time
		if err := rows.Scan(&id, &v.Attempts, &v.LastAttemptAt, &code, &v.Error, &next); err != nil {
			return fmt.Errorf("endpoint verifications: %w", err)
		}
		if code != nil {
			v.StatusCode = int(*code)
		}
		if next != nil {
			v.NextAttemptAt = *next
		}
		if e := byID[id]; e != nil {
			e.Verification = &v
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("endpoint verifications: %w", err)
	}
	return nil
}
