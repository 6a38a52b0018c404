package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/herald"
)

// PayloadEvent is a stored event as the Integration API reads it, with the
// retention state of its payload when its type is thin.
type PayloadEvent struct {
	Event herald.Event
	// Thin is true when the event's payload has a retention clock.
	Thin bool
	// ExpiresAt is when the payload stops being readable; ExpiredAt when it
	// was scrubbed (zero: not yet).
	ExpiresAt   time.Time
	FirstReadAt time.Time
	ExpiredAt   time.Time
}

// PayloadEventGet reads one event with its payload's retention state.
func (s *Store) PayloadEventGet(ctx context.Context, id uuid.UUID) (*PayloadEvent, error) {
	var p PayloadEvent
	e := &p.Event
	var expires, firstRead, expired *time.Time
	err := s.pool.QueryRow(ctx, `SELECT e.id, e.received_at, e.seq, e.tenant_id, e.producer_id, e.type, e.source,
			e.ce_id, e.subject, e.partition_key, e.type_version, e.body, p.event_id IS NOT NULL, p.expires_at,
			p.first_read_at, p.expired_at
		FROM events e LEFT JOIN thin_payloads p ON p.event_id = e.id
		WHERE e.id = $1 AND e.received_at = $2`, id, herald.IDTime(id)).
		Scan(&e.ID, &e.ReceivedAt, &e.Seq, &e.TenantID, &e.ProducerID, &e.Type, &e.Source, &e.CEID, &e.Subject,
			&e.PartitionKey, &e.TypeVersion, &e.Body, &p.Thin, &expires, &firstRead, &expired)
	if err != nil {
		return nil, translate(err, "event "+id.String())
	}
	p.ExpiresAt, p.FirstReadAt, p.ExpiredAt = orZero(expires), orZero(firstRead), orZero(expired)
	return &p, nil
}

// DuePayload is a thin event whose payload has expired, to be scrubbed.
type DuePayload struct {
	EventID    uuid.UUID
	ReceivedAt time.Time
	Type       string
	// Body is the stored event (nil when retention already dropped it).
	Body []byte
}

// PayloadsExpire scrubs up to limit thin payloads expired at now, in one
// transaction: scrub returns the body to keep in place of each (its
// notification), the payload is marked expired and its files' rows are
// deleted. It returns how many payloads it scrubbed and the ids of the
// deleted files, whose content the caller removes from the file store.
func (s *Store) PayloadsExpire(ctx context.Context, now time.Time, limit int, scrub func(*DuePayload) ([]byte, error)) (int, []uuid.UUID, error) {
	var n int
	var files []uuid.UUID
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT p.event_id, p.received_at, p.type, e.body
			FROM thin_payloads p LEFT JOIN events e ON e.id = p.event_id AND e.received_at = p.received_at
			WHERE p.expired_at IS NULL AND p.expires_at <= $1
			ORDER BY p.expires_at LIMIT $2
			FOR UPDATE OF p SKIP LOCKED`, now, limit)
		if err != nil {
			return fmt.Errorf("expire payloads: %w", err)
		}
		var due []*DuePayload
		for rows.Next() {
			var d DuePayload
			if err := rows.Scan(&d.EventID, &d.ReceivedAt, &d.Type, &d.Body); err != nil {
				rows.Close()
				return fmt.Errorf("expire payloads: %w", err)
			}
			due = append(due, &d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("expire payloads: %w", err)
		}
		if len(due) == 0 {
			return nil
		}
		ids := make([][16]byte, 0, len(due))
		var bodyIDs [][16]byte
		var bodyTimes []time.Time
		var bodies [][]byte
		for _, d := range due {
			ids = append(ids, d.EventID)
			if d.Body == nil {
				continue
			}
			b, err := scrub(d)
			if err != nil {
				return fmt.Errorf("expire payload of %s: %w", d.EventID, err)
			}
			bodyIDs, bodyTimes, bodies = append(bodyIDs, d.EventID), append(bodyTimes, d.ReceivedAt), append(bodies, b)
		}
		if len(bodies) > 0 {
			if _, err := tx.Exec(ctx, `UPDATE events e SET body = u.body
				FROM unnest($1::uuid[], $2::timestamptz[], $3::bytea[]) AS u(id, received_at, body)
				WHERE e.id = u.id AND e.received_at = u.received_at`, bodyIDs, bodyTimes, bodies); err != nil {
				return fmt.Errorf("scrub payloads: %w", err)
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE thin_payloads SET expired_at = $2 WHERE event_id = ANY($1)`, ids, now); err != nil {
			return fmt.Errorf("expire payloads: %w", err)
		}
		frows, err := tx.Query(ctx, `DELETE FROM files WHERE event_id = ANY($1) RETURNING id`, ids)
		if err != nil {
			return fmt.Errorf("expire payload files: %w", err)
		}
		files, err = pgx.CollectRows(frows, pgx.RowTo[uuid.UUID])
		if err != nil {
			return fmt.Errorf("expire payload files: %w", err)
		}
		n = len(due)
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	return n, files, nil
}

// PayloadsForget deletes the retention rows of events received before
// cutoff (dropped with their partitions by the log's retention).
func (s *Store) PayloadsForget(ctx context.Context, cutoff time.Time) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM thin_payloads WHERE received_at < $1`, cutoff); err != nil {
		return fmt.Errorf("forget old payloads: %w", err)
	}
	return nil
}

// PayloadReadLogged is PayloadNoteRead and AccessLogInsert of the
// successful read in one statement (one round trip on the Integration
// API's hot path). On herald.ErrGone nothing was written.
func (s *Store) PayloadReadLogged(ctx context.Context, id uuid.UUID, now time.Time, e *herald.AccessEntry) (time.Time, error) {
	var expires time.Time
	err := s.pool.QueryRow(ctx, `WITH r AS (
			UPDATE thin_payloads SET
				expires_at = CASE WHEN first_read_at IS NULL THEN least(expires_at, $2 + after_first_read) ELSE expires_at END,
				first_read_at = coalesce(first_read_at, $2)
			WHERE event_id = $1 AND expired_at IS NULL AND expires_at > $2
			RETURNING expires_at
		), l AS (
			INSERT INTO integration_access_log (integration_id, tenant_id, at, remote_addr, method, path, event_id,
				file_id, status, outcome)
			SELECT $3, $4, $5, $6, $7, $8, $1, NULL, $9, $10 FROM r
		), u AS (
			UPDATE integrations SET last_used_at = $5
			WHERE id = $3 AND EXISTS (SELECT 1 FROM r) AND (last_used_at IS NULL OR last_used_at < $5 - interval '1 minute')
		)
		SELECT expires_at FROM r`,
		id, now, e.IntegrationID, e.TenantID, e.At, e.RemoteAddr, e.Method, e.Path, e.Status, e.Outcome).Scan(&expires)
	if err == pgx.ErrNoRows {
		return time.Time{}, herald.Gone("the payload of event %s has expired under its retention and was deleted", id)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("note read of %s: %w", id, err)
	}
	return expires, nil
}
