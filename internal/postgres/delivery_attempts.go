package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/herald"
)

// AttemptRecord is the outcome of one attempt and the delivery state it
// leads to.
type AttemptRecord struct {
	DeliveryID uuid.UUID
	EndpointID uuid.UUID
	TenantID   uuid.UUID // the delivery's; stored with EndpointID for the tenant's stats (Store.Stats)
	CreatedAt  time.Time
	Attempt    herald.Attempt
	Status     herald.DeliveryStatus
	// NextAttemptAt is when the next attempt is due (zero when none).
	NextAttemptAt time.Time
}

// attemptsRecordSQL stores attempts and moves their deliveries on: $1-$10
// the attempts, $11 and $12 their deliveries' span of days, $13 and $14
// the attempts' tenants and endpoints.
var attemptsRecordSQL = `WITH a AS (
		INSERT INTO delivery_attempts (delivery_id, delivery_created_at, attempt, attempted_at, status_code,
			latency_us, error, response_body, tenant_id, endpoint_id)
		SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::int[], $4::timestamptz[], $5::int[], $6::bigint[],
			$7::text[], $8::bytea[], $13::uuid[], $14::uuid[])
		ON CONFLICT DO NOTHING
	), ` + deadEventsOfFailed + `
	UPDATE deliveries d SET status = u.status, attempts = u.attempt, last_attempt_at = u.at,
		last_status_code = u.code, last_error = u.error, next_attempt_at = u.next, slot_at = NULL, updated_at = now()
	FROM unnest($1::uuid[], $2::timestamptz[], $3::int[], $4::timestamptz[], $5::int[], $7::text[], $9::text[],
		$10::timestamptz[]) AS u(id, created_at, attempt, at, code, error, status, next)
	WHERE d.id = u.id AND d.created_at = u.created_at AND ` + spanOf("d.created_at", "$11", "$12")

// DeliveryRecordAttempts stores many attempts and moves their deliveries on
// in one statement; the delivery workers batch their results through it. A
// delivery that ends failed enters the dead-event store in that statement.
func (s *Store) DeliveryRecordAttempts(ctx context.Context, recs []*AttemptRecord) error {
	n := len(recs)
	ids := make([][16]byte, n)
	created := make([]time.Time, n)
	attempts := make([]int32, n)
	at := make([]time.Time, n)
	codes := make([]*int32, n)
	lat := make([]int64, n)
	errs := make([]string, n)
	bodies := make([][]byte, n)
	statuses := make([]string, n)
	next := make([]*time.Time, n)
	tenants := make([][16]byte, n)
	endpoints := make([][16]byte, n)
	for i, r := range recs {
		a := &r.Attempt
		ids[i], created[i], attempts[i], at[i] = r.DeliveryID, r.CreatedAt, int32(a.Attempt), a.At
		tenants[i], endpoints[i] = r.TenantID, r.EndpointID
		if a.StatusCode != 0 {
			c := int32(a.StatusCode)
			codes[i] = &c
		}
		// An error may quote what a receiver sent; one unstorable character
		// must not fail the record of a whole batch.
		lat[i], errs[i], bodies[i], statuses[i] = a.Latency.Microseconds(), herald.LogText(a.Error), a.ResponseBody, string(r.Status)
		if !r.NextAttemptAt.IsZero() {
			t := r.NextAttemptAt
			next[i] = &t
		}
	}
	lo, hi := span(created)
	_, err := s.keyedPool().Exec(ctx, attemptsRecordSQL,
		ids, created, attempts, at, codes, lat, errs, bodies, statuses, next, lo, hi, tenants, endpoints)
	if err != nil {
		return fmt.Errorf("record %d attempts: %w", n, err)
	}
	return nil
}

// attachAttempts adds their attempts, oldest first, to deliveries.
func (s *Store) attachAttempts(ctx context.Context, ds []*herald.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, len(ds))
	times := make([]time.Time, len(ds))
	byID := make(map[uuid.UUID]*herald.Delivery, len(ds))
	for i, d := range ds {
		ids[i], times[i] = d.ID, d.CreatedAt
		byID[d.ID] = d
	}
	rows, err := s.pool.Query(ctx, `SELECT delivery_id, attempt, attempted_at, status_code, latency_us, error, response_body
		FROM delivery_attempts WHERE delivery_id = ANY($1) AND delivery_created_at = ANY($2)
		ORDER BY delivery_id, attempt`, ids, times)
	if err != nil {
		return fmt.Errorf("load attempts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id uuid.UUID
		var a herald.Attempt
		var code *int
		var us int64
		if err := rows.Scan(&id, &a.Attempt, &a.At, &code, &us, &a.Error, &a.ResponseBody); err != nil {
			return fmt.Errorf("load attempts: %w", err)
		}
		if code != nil {
			a.StatusCode = *code
		}
		a.Latency = time.Duration(us) * time.Microsecond
		if d := byID[id]; d != nil {
			d.AttemptLog = append(d.AttemptLog, a)
		}
	}
	return rows.Err()
}
