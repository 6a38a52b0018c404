package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/herald"
)

// SendTarget is everything one delivery attempt needs, read in one query.
type SendTarget struct {
	Delivery       herald.Delivery
	Body           []byte
	URL            string
	SecretSealed   []byte
	EndpointStatus herald.EndpointStatus
}

// DeliveryLoad reads a delivery with its event body and endpoint. createdAt
// (carried in the job) prunes the partitioned tables to one day.
func (s *Store) DeliveryLoad(ctx context.Context, id uuid.UUID, createdAt time.Time) (*SendTarget, error) {
	var t SendTarget
	var status, epStatus string
	d := &t.Delivery
	err := s.pool.QueryRow(ctx, `SELECT d.id, d.created_at, d.event_id, d.endpoint_id, d.tenant_id, d.status, d.attempts,
			d.retry_base, e.body, e.type, ep.url, ep.secret_enc, ep.status
		FROM deliveries d
		JOIN events e ON e.id = d.event_id AND e.received_at = $2
		JOIN endpoints ep ON ep.id = d.endpoint_id
		WHERE d.id = $1 AND d.created_at = $2`, id, createdAt).
		Scan(&d.ID, &d.CreatedAt, &d.EventID, &d.EndpointID, &d.TenantID, &status, &d.Attempts, &d.RetryBase,
			&t.Body, &d.EventType, &t.URL, &t.SecretSealed, &epStatus)
	if err != nil {
		return nil, translate(err, "delivery "+id.String())
	}
	d.Status = herald.DeliveryStatus(status)
	t.EndpointStatus = herald.EndpointStatus(epStatus)
	return &t, nil
}

// AttemptRecord is the outcome of one attempt and the delivery state it
// leads to.
type AttemptRecord struct {
	DeliveryID uuid.UUID
	CreatedAt  time.Time
	Attempt    herald.Attempt
	Status     herald.DeliveryStatus
	// NextAttemptAt is when the next attempt is due (zero when none).
	NextAttemptAt time.Time
}

// DeliveryRecordAttempt stores an attempt and moves the delivery on, in one
// statement (one round trip on the delivery hot path).
func (s *Store) DeliveryRecordAttempt(ctx context.Context, r *AttemptRecord) error {
	a := &r.Attempt
	var code *int
	if a.StatusCode != 0 {
		code = &a.StatusCode
	}
	var next *time.Time
	if !r.NextAttemptAt.IsZero() {
		next = &r.NextAttemptAt
	}
	_, err := s.pool.Exec(ctx, `WITH a AS (
			INSERT INTO delivery_attempts (delivery_id, delivery_created_at, attempt, attempted_at, status_code,
				latency_us, error, response_body)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT DO NOTHING
		)
		UPDATE deliveries SET status = $9, attempts = $3, last_attempt_at = $4, last_status_code = $5,
			last_error = $7, next_attempt_at = $10, updated_at = now()
		WHERE id = $1 AND created_at = $2`,
		r.DeliveryID, r.CreatedAt, a.Attempt, a.At, code, a.Latency.Microseconds(), a.Error, a.ResponseBody,
		string(r.Status), next)
	if err != nil {
		return fmt.Errorf("record attempt %d of delivery %s: %w", a.Attempt, r.DeliveryID, err)
	}
	return nil
}

// DeliveryFail ends a delivery as failed without an attempt (for example
// because its endpoint was disabled or deleted meanwhile).
func (s *Store) DeliveryFail(ctx context.Context, id uuid.UUID, createdAt time.Time, reason string) error {
	_, err := s.pool.Exec(ctx, `UPDATE deliveries SET status = 'failed', last_error = $3, next_attempt_at = NULL,
		updated_at = now() WHERE id = $1 AND created_at = $2`, id, createdAt, reason)
	if err != nil {
		return fmt.Errorf("fail delivery %s: %w", id, err)
	}
	return nil
}

// DeliveryRetry puts a finished delivery back to pending and starts a fresh
// retry cycle, inside tx so the caller can enqueue its job atomically. A
// delivery that is still pending is a conflict. authorize sees the delivery
// before anything changes and may refuse.
func (s *Store) DeliveryRetry(ctx context.Context, tx pgx.Tx, id uuid.UUID, authorize func(*herald.Delivery) error) (*herald.Delivery, error) {
	createdAt := herald.IDTime(id)
	var d herald.Delivery
	var status string
	err := tx.QueryRow(ctx, `SELECT id, created_at, endpoint_id, tenant_id, status FROM deliveries
		WHERE id = $1 AND created_at = $2 FOR UPDATE`, id, createdAt).Scan(&d.ID, &d.CreatedAt, &d.EndpointID, &d.TenantID, &status)
	if err != nil {
		return nil, translate(err, "delivery "+id.String())
	}
	if err := authorize(&d); err != nil {
		return nil, err
	}
	if herald.DeliveryStatus(status) == herald.DeliveryPending {
		return nil, herald.Conflict("delivery %s is still pending; it can be retried once it has succeeded or failed", id)
	}
	_, err = tx.Exec(ctx, `UPDATE deliveries SET status = 'pending', retry_base = attempts, next_attempt_at = now(),
		updated_at = now() WHERE id = $1 AND created_at = $2`, id, createdAt)
	if err != nil {
		return nil, fmt.Errorf("retry delivery %s: %w", id, err)
	}
	d.Status = herald.DeliveryPending
	return &d, nil
}

const deliveryColumns = `d.id, d.created_at, d.event_id, d.endpoint_id, d.tenant_id, d.status, d.attempts, d.retry_base,
	d.next_attempt_at, d.last_attempt_at, d.last_status_code, d.last_error, d.updated_at, e.type`

func scanDelivery(row pgx.Row) (*herald.Delivery, error) {
	var d herald.Delivery
	var status string
	var next, last *time.Time
	var code *int
	if err := row.Scan(&d.ID, &d.CreatedAt, &d.EventID, &d.EndpointID, &d.TenantID, &status, &d.Attempts, &d.RetryBase,
		&next, &last, &code, &d.LastError, &d.UpdatedAt, &d.EventType); err != nil {
		return nil, err
	}
	d.Status = herald.DeliveryStatus(status)
	if next != nil {
		d.NextAttemptAt = *next
	}
	if last != nil {
		d.LastAttemptAt = *last
	}
	if code != nil {
		d.LastStatusCode = *code
	}
	return &d, nil
}

// DeliveryGet returns one delivery with its attempts.
func (s *Store) DeliveryGet(ctx context.Context, id uuid.UUID) (*herald.Delivery, error) {
	d, err := scanDelivery(s.pool.QueryRow(ctx, `SELECT `+deliveryColumns+` FROM deliveries d
		JOIN events e ON e.id = d.event_id AND e.received_at = d.created_at
		WHERE d.id = $1 AND d.created_at = $2`, id, herald.IDTime(id)))
	if err != nil {
		return nil, translate(err, "delivery "+id.String())
	}
	if err := s.attachAttempts(ctx, []*herald.Delivery{d}); err != nil {
		return nil, err
	}
	return d, nil
}

// DeliveryFilter selects deliveries of one endpoint, newest first.
type DeliveryFilter struct {
	EndpointID uuid.UUID
	Status     herald.DeliveryStatus // empty: any
	// Before is a cursor: only deliveries older than this one.
	Before uuid.UUID
	Limit  int
}

// DeliveryList returns deliveries of an endpoint with their attempts.
func (s *Store) DeliveryList(ctx context.Context, f DeliveryFilter) ([]*herald.Delivery, error) {
	var beforeTime *time.Time
	var beforeID *uuid.UUID
	if f.Before != uuid.Nil {
		t := herald.IDTime(f.Before)
		beforeTime, beforeID = &t, &f.Before
	}
	var status *string
	if f.Status != "" {
		st := string(f.Status)
		status = &st
	}
	rows, err := s.pool.Query(ctx, `SELECT `+deliveryColumns+` FROM deliveries d
		JOIN events e ON e.id = d.event_id AND e.received_at = d.created_at
		WHERE d.endpoint_id = $1 AND ($2::text IS NULL OR d.status = $2)
			AND ($3::timestamptz IS NULL OR (d.created_at, d.id) < ($3, $4))
		ORDER BY d.created_at DESC, d.id DESC LIMIT $5`, f.EndpointID, status, beforeTime, beforeID, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	defer rows.Close()
	var out []*herald.Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("list deliveries: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	if err := s.attachAttempts(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

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

// DeliveryCounts returns how many deliveries are in each status (for tests,
// the benchmark and operators).
func (s *Store) DeliveryCounts(ctx context.Context) (map[herald.DeliveryStatus]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT status, count(*) FROM deliveries GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("count deliveries: %w", err)
	}
	defer rows.Close()
	out := map[herald.DeliveryStatus]int64{}
	for rows.Next() {
		var st string
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("count deliveries: %w", err)
		}
		out[herald.DeliveryStatus(st)] = n
	}
	return out, rows.Err()
}
