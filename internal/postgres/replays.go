package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/herald"
)

// Replay statuses: running until the cursor is at the end of the range and
// none of the replay's deliveries is pending; then done when all were
// delivered, failed when some exhausted their attempts (or the replay
// could not go on).
const (
	ReplayRunning = "running"
	ReplayDone    = "done"
	ReplayFailed  = "failed"
)

// Replay is a resend of stored events to one endpoint, with its progress.
type Replay struct {
	ID         uuid.UUID
	TenantID   uuid.UUID
	EndpointID uuid.UUID
	Types      []string
	From, To   time.Time
	// FromSeq, when not 0, is the first sequence replayed; From is then
	// the zero Unix time (no lower time bound).
	FromSeq int64
	Status  string
	// CursorSeq is the seq of the last event examined.
	CursorSeq int64
	// ScannedAt is when the cursor reached the end (zero before).
	ScannedAt time.Time
	Scanned   int64
	Queued    int64
	// Counts are the replay's deliveries by status, as last seen.
	Counts    ReplayCounts
	Error     string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ReplayCounts counts a replay's deliveries by status.
type ReplayCounts struct {
	Delivered, Failed, Pending int64
}

const replayColumns = `id, tenant_id, endpoint_id, types, from_time, to_time, COALESCE(from_seq, 0), status, cursor_seq,
	scanned_at, scanned, queued, delivered, failed, pending, error, created_at, updated_at`

func scanReplay(row pgx.Row) (*Replay, error) {
	var r Replay
	var scannedAt *time.Time
	if err := row.Scan(&r.ID, &r.TenantID, &r.EndpointID, &r.Types, &r.From, &r.To, &r.FromSeq, &r.Status, &r.CursorSeq, &scannedAt,
		&r.Scanned, &r.Queued, &r.Counts.Delivered, &r.Counts.Failed, &r.Counts.Pending, &r.Error, &r.CreatedAt,
		&r.UpdatedAt); err != nil {
		return nil, err
	}
	if scannedAt != nil {
		r.ScannedAt = *scannedAt
	}
	return &r, nil
}

// ReplayCreate stores a new replay in tx (its job is enqueued alongside).
// A replay from a sequence starts its cursor just below it; a sequence
// past the end of the log (beyond the last plus one) is invalid
// "from_sequence".
func (s *Store) ReplayCreate(ctx context.Context, tx pgx.Tx, r *Replay) error {
	var fromSeq *int64
	if r.FromSeq > 0 {
		head, err := s.LogHead(ctx, tx)
		if err != nil {
			return err
		}
		if err := seqInLog("from_sequence", r.FromSeq, head); err != nil {
			return err
		}
		fromSeq, r.CursorSeq = &r.FromSeq, r.FromSeq-1
	}
	err := tx.QueryRow(ctx, `INSERT INTO replays (id, tenant_id, endpoint_id, types, from_time, to_time, from_seq, cursor_seq)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING status, created_at, updated_at`,
		raw(r.ID), raw(r.TenantID), raw(r.EndpointID), r.Types, r.From, r.To, fromSeq, r.CursorSeq).
		Scan(&r.Status, &r.CreatedAt, &r.UpdatedAt)
	return translate(err, "replay")
}

// ReplayGet returns one replay.
func (s *Store) ReplayGet(ctx context.Context, id uuid.UUID) (*Replay, error) {
	r, err := scanReplay(s.pool.QueryRow(ctx, `SELECT `+replayColumns+` FROM replays WHERE id = $1`, id))
	return r, translate(err, "replay "+id.String())
}

// ReplayScope narrows a replay's pages to the events its endpoint can
// receive (see catalog.Reach): types received from any tenant, types
// received from the endpoint's own tenant only, and test sends addressed
// to the endpoint itself. WithBody reads the events' bodies, for filters.
type ReplayScope struct {
	Types, OwnTypes []string
	TenantID        uuid.UUID
	EndpointID      uuid.UUID
	WithBody        bool
}

// ReplayPage returns up to limit events of the replay's time range and
// scope after its cursor, in seq order: the order events were accepted in,
// which keeps each partition key's order. Partitions outside the range are
// pruned, and each remaining one is read along its seq index.
func (s *Store) ReplayPage(ctx context.Context, r *Replay, scope ReplayScope, limit int) ([]*RoutedEvent, error) {
	if len(scope.Types) == 0 && len(scope.OwnTypes) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT `+routedEventColumns+`, CASE WHEN $8 THEN e.body END FROM events e
		WHERE e.seq > $1 AND e.received_at >= $2 AND e.received_at < $3
			AND (e.type = ANY($4) OR (e.type = ANY($5) AND e.tenant_id = $6))
			AND (e.addressed_to IS NULL OR e.addressed_to = $7)
		ORDER BY e.seq LIMIT $9`,
		r.CursorSeq, r.From, r.To, scope.Types, scope.OwnTypes, raw(scope.TenantID), raw(scope.EndpointID), scope.WithBody,
		limit)
	return collect(rows, err, "replay "+r.ID.String()+": page", func(row pgx.Row) (*RoutedEvent, error) {
		return scanRoutedEvent(row)
	})
}

// ReplayAdvance records a page in tx: the new deliveries (linked to the
// replay; the caller queues them in the same tx), the cursor and the
// counts; scannedAll says the cursor reached the end of the range.
func (s *Store) ReplayAdvance(ctx context.Context, tx pgx.Tx, r *Replay, ds []*herald.Delivery, scanned int, scannedAll bool) error {
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
			INSERT INTO deliveries (id, created_at, event_id, endpoint_id, tenant_id, status, next_attempt_at, exhausted_at,
				replay_id)
			SELECT u.id, u.created_at, u.event_id, $4, $5, 'pending', now(),
				CASE WHEN u.event_id IN (SELECT event_id FROM moved) THEN now() END, $6
			FROM unnest($1::uuid[], $2::timestamptz[], $3::uuid[]) AS u(id, created_at, event_id)`,
			ids, created, events, raw(r.EndpointID), raw(r.TenantID), raw(r.ID)); err != nil {
			return fmt.Errorf("replay %s: deliveries: %w", r.ID, err)
		}
	}
	_, err := tx.Exec(ctx, `UPDATE replays SET cursor_seq = $2, scanned = scanned + $3, queued = queued + $4,
		scanned_at = CASE WHEN $5 THEN now() END, updated_at = now() WHERE id = $1`,
		raw(r.ID), r.CursorSeq, scanned, len(ds), scannedAll)
	if err != nil {
		return fmt.Errorf("replay %s: progress: %w", r.ID, err)
	}
	return nil
}

// ReplayCount counts the replay's deliveries by status. Its deliveries
// share the days of its events, so only the range's partitions are read.
func (s *Store) ReplayCount(ctx context.Context, r *Replay) (ReplayCounts, error) {
	var c ReplayCounts
	err := s.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'succeeded'),
			count(*) FILTER (WHERE status = 'failed'), count(*) FILTER (WHERE status = 'pending')
		FROM deliveries WHERE replay_id = $1 AND created_at >= $2 AND created_at < $3`, raw(r.ID), r.From, r.To).
		Scan(&c.Delivered, &c.Failed, &c.Pending)
	if err != nil {
		return c, fmt.Errorf("replay %s: count deliveries: %w", r.ID, err)
	}
	return c, nil
}

// ReplaySettle records the counts of a running replay and its status
// (running, done or failed, with the reason when failed). A replay that
// has ended already is left as it is.
func (s *Store) ReplaySettle(ctx context.Context, id uuid.UUID, c ReplayCounts, status, reason string) error {
	_, err := s.pool.Exec(ctx, `UPDATE replays SET delivered = $2, failed = $3, pending = $4, status = $5, error = $6,
		updated_at = now() WHERE id = $1 AND status = 'running'`, raw(id), c.Delivered, c.Failed, c.Pending, status, reason)
	if err != nil {
		return fmt.Errorf("replay %s: settle: %w", id, err)
	}
	return nil
}

// ReplayFail ends a running replay as failed with a reason.
func (s *Store) ReplayFail(ctx context.Context, id uuid.UUID, reason string) error {
	_, err := s.pool.Exec(ctx, `UPDATE replays SET status = 'failed', error = $2, updated_at = now()
		WHERE id = $1 AND status = 'running'`, raw(id), herald.LogText(reason))
	if err != nil {
		return fmt.Errorf("replay %s: %w", id, err)
	}
	return nil
}
