package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/herald"
)

// Replay is a resend of stored events to one endpoint, with its progress.
type Replay struct {
	ID         uuid.UUID
	TenantID   uuid.UUID
	EndpointID uuid.UUID
	Types      []string
	From, To   time.Time
	Status     string
	Cursor     uuid.UUID
	Scanned    int64
	Queued     int64
	Error      string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

const replayColumns = `id, tenant_id, endpoint_id, types, from_time, to_time, status, cursor_id, scanned, queued, error,
	created_at, updated_at`

func scanReplay(row pgx.Row) (*Replay, error) {
	var r Replay
	var cursor *uuid.UUID
	if err := row.Scan(&r.ID, &r.TenantID, &r.EndpointID, &r.Types, &r.From, &r.To, &r.Status, &cursor, &r.Scanned,
		&r.Queued, &r.Error, &r.CreatedAt, &r.UpdatedAt); err != nil {
		return nil, err
	}
	if cursor != nil {
		r.Cursor = *cursor
	}
	return &r, nil
}

// ReplayCreate stores a new replay in tx (its job is enqueued alongside).
func (s *Store) ReplayCreate(ctx context.Context, tx pgx.Tx, r *Replay) error {
	err := tx.QueryRow(ctx, `INSERT INTO replays (id, tenant_id, endpoint_id, types, from_time, to_time)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING status, created_at, updated_at`,
		raw(r.ID), raw(r.TenantID), raw(r.EndpointID), r.Types, r.From, r.To).Scan(&r.Status, &r.CreatedAt, &r.UpdatedAt)
	return translate(err, "replay")
}

// ReplayGet returns one replay.
func (s *Store) ReplayGet(ctx context.Context, id uuid.UUID) (*Replay, error) {
	r, err := scanReplay(s.pool.QueryRow(ctx, `SELECT `+replayColumns+` FROM replays WHERE id = $1`, id))
	return r, translate(err, "replay "+id.String())
}

// ReplayEvent is what a replay needs of a stored event to route it.
type ReplayEvent struct {
	ID         uuid.UUID
	ReceivedAt time.Time
	Type       string
}

// ReplayPage returns up to limit events of the replay's time range after
// its cursor, in id (= time) order. UUIDv7 ids let the primary key serve
// the range and the order.
func (s *Store) ReplayPage(ctx context.Context, r *Replay, limit int) ([]ReplayEvent, error) {
	lo := herald.NewID(r.From)
	lo[6], lo[7], lo[8], lo[9], lo[10], lo[11], lo[12], lo[13], lo[14], lo[15] = 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
	if r.Cursor != uuid.Nil {
		lo = r.Cursor
	}
	rows, err := s.pool.Query(ctx, `SELECT id, received_at, type FROM events
		WHERE id > $1 AND received_at >= $2 AND received_at < $3
		ORDER BY id LIMIT $4`, raw(lo), r.From, r.To, limit)
	if err != nil {
		return nil, fmt.Errorf("replay %s: page: %w", r.ID, err)
	}
	defer rows.Close()
	var out []ReplayEvent
	for rows.Next() {
		var e ReplayEvent
		if err := rows.Scan(&e.ID, &e.ReceivedAt, &e.Type); err != nil {
			return nil, fmt.Errorf("replay %s: page: %w", r.ID, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// ReplayAdvance records a page in tx: new deliveries (whose jobs the caller
// enqueues in the same tx), the cursor and the counts; done marks the
// replay finished.
func (s *Store) ReplayAdvance(ctx context.Context, tx pgx.Tx, r *Replay, ds []*herald.Delivery, scanned int, done bool) error {
	if len(ds) > 0 {
		ids := make([][16]byte, len(ds))
		created := make([]time.Time, len(ds))
		events := make([][16]byte, len(ds))
		for i, d := range ds {
			ids[i], created[i], events[i] = d.ID, d.CreatedAt, d.EventID
		}
		// A failed delivery of the same event announced as exhausted hands
		// its mark to the replayed one, whose success then announces the
		// recovery (once: the old one no longer carries the mark).
		if _, err := tx.Exec(ctx, `WITH moved AS (
				UPDATE deliveries o SET exhausted_at = NULL
				FROM unnest($2::timestamptz[], $3::uuid[]) AS u(created_at, event_id)
				WHERE o.endpoint_id = $4 AND o.created_at = u.created_at AND o.event_id = u.event_id
					AND o.status = 'failed' AND o.exhausted_at IS NOT NULL
				RETURNING o.event_id
			)
			INSERT INTO deliveries (id, created_at, event_id, endpoint_id, tenant_id, status, next_attempt_at, exhausted_at)
			SELECT u.id, u.created_at, u.event_id, $4, $5, 'pending', now(),
				CASE WHEN u.event_id IN (SELECT event_id FROM moved) THEN now() END
			FROM unnest($1::uuid[], $2::timestamptz[], $3::uuid[]) AS u(id, created_at, event_id)`,
			ids, created, events, raw(r.EndpointID), raw(r.TenantID)); err != nil {
			return fmt.Errorf("replay %s: deliveries: %w", r.ID, err)
		}
	}
	status := "running"
	if done {
		status = "done"
	}
	var cursor *[16]byte
	if r.Cursor != uuid.Nil {
		c := raw(r.Cursor)
		cursor = &c
	}
	_, err := tx.Exec(ctx, `UPDATE replays SET cursor_id = $2, scanned = scanned + $3, queued = queued + $4, status = $5,
		updated_at = now() WHERE id = $1`, raw(r.ID), cursor, scanned, len(ds), status)
	if err != nil {
		return fmt.Errorf("replay %s: progress: %w", r.ID, err)
	}
	return nil
}

// ReplayFail marks a replay failed with a reason.
func (s *Store) ReplayFail(ctx context.Context, id uuid.UUID, reason string) error {
	_, err := s.pool.Exec(ctx, `UPDATE replays SET status = 'failed', error = $2, updated_at = now() WHERE id = $1`, raw(id),
		herald.LogText(reason))
	if err != nil {
		return fmt.Errorf("replay %s: %w", id, err)
	}
	return nil
}
