package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/herald"
)

// SendTarget is everything one delivery attempt needs, read in one query.
type SendTarget struct {
	Delivery herald.Delivery
	// Seq is the event's sequence number (its receive time is the
	// delivery's CreatedAt).
	Seq          int64
	Body         []byte
	URL          string
	SecretSealed []byte
	OldSecrets   []byte
	AuthSealed   []byte
	RateLimit    int
	// OpenUntil is set while the endpoint's circuit is open (or was, until
	// a probe succeeds).
	OpenUntil time.Time
	// SlotAt is the slot the rate limit reserved for this attempt (zero
	// when none).
	SlotAt         time.Time
	Config         []byte
	HeadersSealed  []byte
	EndpointStatus herald.EndpointStatus
	// MTLSSealed is the endpoint's encrypted client certificate (nil: none).
	MTLSSealed []byte
	// Exhausted is set when the delivery was announced as exhausted and
	// its recovery not yet.
	Exhausted bool
	// ContentMode is the endpoint's CloudEvents content mode (structured
	// or binary).
	ContentMode string
	// JobGen is the delivery's job generation: a job made for an older one
	// was superseded by a retry by hand and must not send.
	JobGen int32
	// RenderErr is set when the body could not be turned into what may be
	// pushed (a thin type's notification); Body must then not be sent.
	RenderErr error
}

// DeliveryFail ends a pending delivery as failed without an attempt (for
// example because its endpoint was disabled or deleted meanwhile); a
// delivery already settled is left as it is.
func (s *Store) DeliveryFail(ctx context.Context, id uuid.UUID, createdAt time.Time, reason string) error {
	_, err := s.pool.Exec(ctx, `UPDATE deliveries SET status = 'failed', last_error = $3, next_attempt_at = NULL,
		updated_at = now() WHERE id = $1 AND created_at = $2 AND status = 'pending'`, id, createdAt, herald.LogText(reason))
	if err != nil {
		return fmt.Errorf("fail delivery %s: %w", id, err)
	}
	return nil
}

// DeliveryRetried is what a retry by hand changed and what the queue must
// do about it: give the delivery a job (Key, carrying the delivery's new job
// generation), or, for the delivery at the head of an ordered key, wake
// that key's drain job (Ordered).
type DeliveryRetried struct {
	Delivery *herald.Delivery
	Key      DeliveryKey
	Ordered  *OrderedKey
}

// DeliveryRetry makes a delivery due now, inside tx so the caller can
// enqueue its job atomically. A finished delivery (succeeded or failed)
// starts a fresh retry cycle. A delivery still waiting for its next attempt
// keeps its cycle and is tried at once: its job generation moves on, so the
// job it had (snoozed until later, or stuck on a node that died) ends
// without sending when it runs. A delivery of an ordered endpoint waiting at
// its key's head is tried at once by the key's drain job; one waiting
// behind earlier deliveries of its key is a conflict. A failed delivery
// leaves the dead-event store (a redrive of a webhook dead event is this
// retry). authorize sees the delivery before anything changes and may
// refuse.
func (s *Store) DeliveryRetry(ctx context.Context, tx pgx.Tx, id uuid.UUID, authorize func(*herald.Delivery) error) (*DeliveryRetried, error) {
	createdAt := herald.IDTime(id)
	var d herald.Delivery
	var status, partitionKey string
	var ordered bool
	err := tx.QueryRow(ctx, `SELECT d.id, d.created_at, d.event_id, d.endpoint_id, d.tenant_id, d.status, ep.ordered, e.partition_key
		FROM deliveries d
		JOIN endpoints ep ON ep.id = d.endpoint_id
		JOIN events e ON e.id = d.event_id AND e.received_at = d.created_at
		WHERE d.id = $1 AND d.created_at = $2 FOR UPDATE OF d`, raw(id), createdAt).
		Scan(&d.ID, &d.CreatedAt, &d.EventID, &d.EndpointID, &d.TenantID, &status, &ordered, &partitionKey)
	if err != nil {
		return nil, translate(err, "delivery "+id.String())
	}
	d.Status = herald.DeliveryStatus(status)
	if err := authorize(&d); err != nil {
		return nil, err
	}
	out := &DeliveryRetried{Delivery: &d}
	if d.Status == herald.DeliveryPending && ordered && partitionKey != "" {
		var head bool
		err := tx.QueryRow(ctx, `SELECT q.delivery_id = $3 FROM ordered_queue q
			WHERE q.endpoint_id = $1 AND q.partition_key = $2 ORDER BY q.pos LIMIT 1`,
			raw(d.EndpointID), partitionKey, raw(d.ID)).Scan(&head)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			// Not queued (any more): retried like an unordered delivery.
		case err != nil:
			return nil, fmt.Errorf("retry delivery %s: %w", id, err)
		case !head:
			return nil, herald.Conflict("delivery %s waits behind earlier events of its partition key %q on this ordered endpoint; retry the first of them", id, partitionKey)
		default:
			if _, err := tx.Exec(ctx, `UPDATE deliveries SET next_attempt_at = now(), updated_at = now()
				WHERE id = $1 AND created_at = $2`, raw(id), createdAt); err != nil {
				return nil, fmt.Errorf("retry delivery %s: %w", id, err)
			}
			out.Ordered = &OrderedKey{EndpointID: d.EndpointID, Key: partitionKey}
			return out, nil
		}
	}
	// A pending delivery keeps its retry cycle; a finished one starts anew.
	err = tx.QueryRow(ctx, `UPDATE deliveries SET status = 'pending',
			retry_base = CASE WHEN status = 'pending' THEN retry_base ELSE attempts END,
			next_attempt_at = now(), updated_at = now(), job_gen = job_gen + 1
		WHERE id = $1 AND created_at = $2 RETURNING job_gen`, raw(id), createdAt).Scan(&out.Key.Gen)
	if err != nil {
		return nil, fmt.Errorf("retry delivery %s: %w", id, err)
	}
	d.Status = herald.DeliveryPending
	out.Key.ID, out.Key.CreatedAt = d.ID, d.CreatedAt
	if err := deadEventDeleteOfDelivery(ctx, tx, d.ID); err != nil {
		return nil, err
	}
	return out, nil
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
	// The page is chosen from deliveries alone, by the endpoint's index, and
	// only its rows are joined to their events: joined first, the planner
	// cannot tell how few rows the LIMIT needs and hashes every delivery
	// of the endpoint against every event (about a second at 1M).
	// Pending and failed deliveries are found through the index of those
	// alone (deliveries_unsettled_idx), which the literal condition lets
	// the planner use whatever the parameter.
	unsettled := ""
	if status != nil && *status != string(herald.DeliverySucceeded) {
		unsettled = `AND d.status <> 'succeeded'`
	}
	rows, err := s.pool.Query(ctx, `SELECT `+deliveryColumns+` FROM (
			SELECT * FROM deliveries d
			WHERE d.endpoint_id = $1 AND ($2::text IS NULL OR d.status = $2) `+unsettled+`
				AND ($3::timestamptz IS NULL OR (d.created_at, d.id) < ($3, $4))
			ORDER BY d.created_at DESC, d.id DESC LIMIT $5) d
		JOIN events e ON e.id = d.event_id AND e.received_at = d.created_at
		ORDER BY d.created_at DESC, d.id DESC`, f.EndpointID, status, beforeTime, beforeID, f.Limit)
	out, err := collect(rows, err, "list deliveries", scanDelivery)
	if err != nil {
		return nil, err
	}
	if err := s.attachAttempts(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
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

// DeliveryKey names a delivery and its partition timestamp, and the job
// generation a job for it is made for (see DeliveryRetry).
type DeliveryKey struct {
	ID        uuid.UUID
	CreatedAt time.Time
	Gen       int32
}

// deliveryLoadSQL reads deliveries for sending, by key: $1 and $2 the
// keys, $3 and $4 their span of days.
var deliveryLoadSQL = `SELECT d.id, d.created_at, d.event_id, d.endpoint_id, d.tenant_id, d.status,
		d.attempts, d.retry_base, e.body, e.type, ep.url, ep.secret_enc, ep.status, ep.config, ep.headers_enc, ep.old_secrets_enc, ep.auth_enc,
		coalesce(ep.rate_limit, 0), d.slot_at, h.open_until, ep.mtls_enc, d.exhausted_at IS NOT NULL, ep.content_mode,
		d.job_gen, e.seq
	FROM unnest($1::uuid[], $2::timestamptz[]) AS k(id, created_at)
	JOIN deliveries d ON d.id = k.id AND d.created_at = k.created_at
	JOIN events e ON e.id = d.event_id AND e.received_at = d.created_at
	JOIN endpoints ep ON ep.id = d.endpoint_id
	LEFT JOIN endpoint_health h ON h.endpoint_id = d.endpoint_id
	WHERE ` + spanOf("d.created_at", "$3", "$4") + ` AND ` + spanOf("e.received_at", "$3", "$4")

// DeliveryLoadMany reads many deliveries for sending in one query; the
// delivery workers batch their loads through it. Deliveries that no longer
// exist (or whose endpoint was deleted) are absent from the result.
func (s *Store) DeliveryLoadMany(ctx context.Context, keys []DeliveryKey) (map[uuid.UUID]*SendTarget, error) {
	ids := make([][16]byte, len(keys))
	times := make([]time.Time, len(keys))
	for i, k := range keys {
		ids[i], times[i] = k.ID, k.CreatedAt
	}
	lo, hi := span(times)
	rows, err := s.keyedPool().Query(ctx, deliveryLoadSQL, ids, times, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("load deliveries: %w", err)
	}
	defer rows.Close()
	out := make(map[uuid.UUID]*SendTarget, len(keys))
	for rows.Next() {
		var t SendTarget
		var status, epStatus string
		var slot, openUntil *time.Time
		d := &t.Delivery
		if err := rows.Scan(&d.ID, &d.CreatedAt, &d.EventID, &d.EndpointID, &d.TenantID, &status, &d.Attempts,
			&d.RetryBase, &t.Body, &d.EventType, &t.URL, &t.SecretSealed, &epStatus, &t.Config, &t.HeadersSealed, &t.OldSecrets, &t.AuthSealed, &t.RateLimit, &slot, &openUntil,
			&t.MTLSSealed, &t.Exhausted, &t.ContentMode, &t.JobGen, &t.Seq); err != nil {
			return nil, fmt.Errorf("load deliveries: %w", err)
		}
		if slot != nil {
			t.SlotAt = *slot
		}
		if openUntil != nil {
			t.OpenUntil = *openUntil
		}
		d.Status = herald.DeliveryStatus(status)
		t.EndpointStatus = herald.EndpointStatus(epStatus)
		out[d.ID] = &t
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load deliveries: %w", err)
	}
	return out, nil
}

// RecoverResult is what one DeliveryRecover call did: deliveries put back
// on the queue, failed deliveries left as they are because the endpoint no
// longer receives their events, and whether it stopped at its limit (more
// may be recoverable).
type RecoverResult struct {
	Recovered, Skipped int
	More               bool
}

// recoverPage is how many failed deliveries DeliveryRecover examines per
// query.
const recoverPage = 500

// DeliveryRecover puts an endpoint's failed deliveries created since a time
// back to pending with a fresh retry cycle, oldest first, at most limit of
// them, calling enqueue in the same transaction for their jobs. receives
// decides for each delivery's event whether the endpoint still receives
// it; those it refuses stay failed and are counted as skipped. withBody
// reads the events' bodies for receives (filters need them).
func (s *Store) DeliveryRecover(ctx context.Context, endpoint uuid.UUID, since time.Time, limit int, withBody bool,
	receives func(*RoutedEvent) bool, enqueue func(tx pgx.Tx, ds []DeliveryKey) error) (RecoverResult, error) {
	var res RecoverResult
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		res = RecoverResult{}
		var after DeliveryKey
		for res.Recovered < limit {
			page, err := recoverCandidates(ctx, tx, endpoint, since, after, withBody)
			if err != nil {
				return err
			}
			var keys []DeliveryKey
			for _, c := range page {
				after = c.key
				if res.Recovered+len(keys) == limit {
					res.More = true
					break
				}
				if !receives(c.event) {
					res.Skipped++
					continue
				}
				keys = append(keys, c.key)
			}
			if len(keys) > 0 {
				if err := recoverDeliveries(ctx, tx, keys); err != nil {
					return err
				}
				if err := enqueue(tx, keys); err != nil {
					return err
				}
				res.Recovered += len(keys)
			}
			if res.More || len(page) < recoverPage {
				return nil
			}
		}
		res.More = true
		return nil
	})
	if err != nil {
		return RecoverResult{}, err
	}
	return res, nil
}

type recoverCandidate struct {
	key   DeliveryKey
	event *RoutedEvent
}

// recoverCandidates locks the next page of the endpoint's failed
// deliveries after a key, with their events.
func recoverCandidates(ctx context.Context, tx pgx.Tx, endpoint uuid.UUID, since time.Time, after DeliveryKey, withBody bool) ([]recoverCandidate, error) {
	rows, err := tx.Query(ctx, `SELECT d.id, d.created_at, d.job_gen, `+routedEventColumns+`, CASE WHEN $5 THEN e.body END
		FROM deliveries d JOIN events e ON e.id = d.event_id AND e.received_at = d.created_at
		WHERE d.endpoint_id = $1 AND d.status = 'failed' AND d.created_at >= $2 AND (d.created_at, d.id) > ($3, $4)
		ORDER BY d.created_at, d.id LIMIT $6
		FOR UPDATE OF d`, raw(endpoint), since, after.CreatedAt, raw(after.ID), withBody, recoverPage)
	if err != nil {
		return nil, fmt.Errorf("recover deliveries: %w", err)
	}
	defer rows.Close()
	var out []recoverCandidate
	for rows.Next() {
		var c recoverCandidate
		var err error
		if c.event, err = scanRoutedEvent(rows, &c.key.ID, &c.key.CreatedAt, &c.key.Gen); err != nil {
			return nil, fmt.Errorf("recover deliveries: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("recover deliveries: %w", err)
	}
	return out, nil
}

// recoverDeliveries puts failed deliveries back to pending with a fresh
// retry cycle.
func recoverDeliveries(ctx context.Context, tx pgx.Tx, keys []DeliveryKey) error {
	ids := make([][16]byte, len(keys))
	created := make([]time.Time, len(keys))
	for i, k := range keys {
		ids[i], created[i] = k.ID, k.CreatedAt
	}
	if _, err := tx.Exec(ctx, `UPDATE deliveries d SET status = 'pending', retry_base = attempts, next_attempt_at = now(),
			updated_at = now()
		FROM unnest($1::uuid[], $2::timestamptz[]) AS k(id, created_at)
		WHERE d.id = k.id AND d.created_at = k.created_at`, ids, created); err != nil {
		return fmt.Errorf("recover deliveries: %w", err)
	}
	return nil
}

// DeliverySetExhausted records (exhausted true) or forgets that the
// delivery was announced as exhausted: set before the announcement, so a
// retry that follows it sees the mark, and cleared again when the
// announcement could not be made.
func (s *Store) DeliverySetExhausted(ctx context.Context, id uuid.UUID, createdAt time.Time, exhausted bool) error {
	_, err := s.pool.Exec(ctx, `UPDATE deliveries SET exhausted_at = CASE WHEN $3 THEN now() END
		WHERE id = $1 AND created_at = $2`, raw(id), createdAt, exhausted)
	if err != nil {
		return fmt.Errorf("mark delivery %s exhausted: %w", id, err)
	}
	return nil
}

// DeliveryClaimRecovered clears the exhausted mark of a delivery that has
// succeeded. It reports true to the one caller that cleared it, who
// announces the recovery; duplicates and deliveries never announced as
// exhausted get false.
func (s *Store) DeliveryClaimRecovered(ctx context.Context, id uuid.UUID, createdAt time.Time) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE deliveries SET exhausted_at = NULL
		WHERE id = $1 AND created_at = $2 AND status = 'succeeded' AND exhausted_at IS NOT NULL`, raw(id), createdAt)
	if err != nil {
		return false, fmt.Errorf("claim recovery of delivery %s: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}
