package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/herald"
)

// Dead-event channels: a pull consumer's report, or a webhook delivery
// that failed for good.
const (
	DeadPull    = "pull"
	DeadWebhook = "webhook"
)

// DeadEvent is an event a consumer could not process, kept in its
// dead-event store: reported by a pull consumer (Channel DeadPull, with
// its group and partition) or a webhook delivery that failed for good
// (DeadWebhook, with its endpoint and delivery; ClientID is the
// endpoint's client, uuid.Nil when it has none).
type DeadEvent struct {
	ID         uuid.UUID
	Channel    string
	ClientID   uuid.UUID
	GroupID    uuid.UUID
	EndpointID uuid.UUID
	DeliveryID uuid.UUID
	Partition  int
	EventID    uuid.UUID
	ReceivedAt time.Time
	Seq        int64
	Type       string
	Reason     string
	CreatedAt  time.Time
}

// GroupDead moves the events in flight in a group with CloudEvents id
// ceID into the dead-event store of the group's client, with reason, and
// acknowledges them for the group. An id not in flight in the group is
// invalid "id" and nothing changes.
func (s *Store) GroupDead(ctx context.Context, group uuid.UUID, ceID, reason string) ([]DeadEvent, error) {
	var out []DeadEvent
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		keys, err := groupInflightFind(ctx, tx, group, []string{ceID}, "id")
		if err != nil {
			return err
		}
		// The rows are locked (groupInflightFind); like an ack, this only
		// takes them out of flight.
		parts, seqs := splitKeys(keys)
		rows, err := tx.Query(ctx, `WITH gone AS (
					DELETE FROM group_inflight WHERE group_id = $1
						AND (partition, seq) IN (SELECT * FROM unnest($2::smallint[], $3::bigint[]))
					RETURNING partition, seq, event_id, received_at
				)
				INSERT INTO dead_events (id, tenant_id, client_id, group_id, partition, event_id, received_at, seq, type, reason)
				SELECT gen_random_uuid(), g.tenant_id, g.client_id, g.id, d.partition, d.event_id, d.received_at, d.seq, e.type, $4
				FROM gone d
				JOIN consumer_groups g ON g.id = $1
				JOIN events e ON e.id = d.event_id AND e.received_at = d.received_at
				RETURNING `+deadEventColumns,
			planEach, group, parts, seqs, reason)
		out, err = collect(rows, err, "report dead events of group "+group.String(), scanDeadEvent)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

const deadEventColumns = `id, channel, client_id, group_id, endpoint_id, delivery_id, partition, event_id, received_at,
	seq, type, reason, created_at`

func scanDeadEvent(row pgx.Row) (DeadEvent, error) {
	var d DeadEvent
	var p *int16
	var client, group, endpoint, delivery *uuid.UUID
	err := row.Scan(&d.ID, &d.Channel, &client, &group, &endpoint, &delivery, &p, &d.EventID, &d.ReceivedAt, &d.Seq,
		&d.Type, &d.Reason, &d.CreatedAt)
	if p != nil {
		d.Partition = int(*p)
	}
	for _, u := range []struct{ from, to *uuid.UUID }{
		{client, &d.ClientID}, {group, &d.GroupID}, {endpoint, &d.EndpointID}, {delivery, &d.DeliveryID},
	} {
		if u.from != nil {
			*u.to = *u.from
		}
	}
	return d, err
}

// DeadEventScope is whose dead events a caller sees: those of its client
// (its groups' reports, its endpoints' failed deliveries) and, for an
// admin of a tenant (AdminTenant, uuid.Nil for none), every webhook dead
// event of the tenant's endpoints: the rule that scopes deliveries.
type DeadEventScope struct {
	ClientID    uuid.UUID
	AdminTenant uuid.UUID
}

// deadEventVisible is the scope as SQL over $1 (client) and $2 (admin
// tenant).
const deadEventVisible = `(client_id = $1 OR (channel = 'webhook' AND tenant_id = $2))`

// DeadEventFilter narrows a listing of a client's dead events.
type DeadEventFilter struct {
	GroupID    uuid.UUID // uuid.Nil: any
	EndpointID uuid.UUID // uuid.Nil: any
	Type       string    // "": any
	Since      time.Time // zero: any
	Until      time.Time // zero: any
	// After is where the page starts (see PageKey; Time and ID): the dead
	// events listed after it, newest first.
	After PageKey
	Limit int
}

// DeadEventList returns the dead events a caller sees, newest first.
func (s *Store) DeadEventList(ctx context.Context, scope DeadEventScope, f DeadEventFilter) ([]DeadEvent, error) {
	var group, endpoint *uuid.UUID
	if f.GroupID != uuid.Nil {
		group = &f.GroupID
	}
	if f.EndpointID != uuid.Nil {
		endpoint = &f.EndpointID
	}
	var since, until *time.Time
	if !f.Since.IsZero() {
		since = &f.Since
	}
	if !f.Until.IsZero() {
		until = &f.Until
	}
	rows, err := s.pool.Query(ctx, `SELECT `+deadEventColumns+`
		FROM dead_events WHERE `+deadEventVisible+`
			AND ($3::uuid IS NULL OR group_id = $3)
			AND ($4::uuid IS NULL OR endpoint_id = $4)
			AND ($5 = '' OR type = $5)
			AND ($6::timestamptz IS NULL OR created_at >= $6)
			AND ($7::timestamptz IS NULL OR created_at < $7)
			AND ($9 OR (created_at, id) < ($10, $11))
		ORDER BY created_at DESC, id DESC LIMIT $8`,
		scope.ClientID, scope.AdminTenant, group, endpoint, f.Type, since, until, f.Limit,
		f.After.IsZero(), f.After.Time, f.After.ID)
	return collect(rows, err, "list dead events", scanDeadEvent)
}

// DeadEventGet returns one dead event the caller sees; any other is not
// found.
func (s *Store) DeadEventGet(ctx context.Context, scope DeadEventScope, id uuid.UUID) (DeadEvent, error) {
	d, err := scanDeadEvent(s.pool.QueryRow(ctx, `SELECT `+deadEventColumns+`
		FROM dead_events WHERE `+deadEventVisible+` AND id = $3`, scope.ClientID, scope.AdminTenant, id))
	if err != nil {
		return DeadEvent{}, translate(err, "dead event "+id.String())
	}
	return d, nil
}

// DeadEventRedrive puts a client's pull dead event back in front of its
// group: in flight and due at once, for whoever holds its partition, and
// out of the dead-event store. A dead event of another client or channel
// is not found (a webhook dead event is redriven by retrying its
// delivery, DeliveryRetry); one whose group is gone is a conflict.
func (s *Store) DeadEventRedrive(ctx context.Context, client, id uuid.UUID) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		d, err := scanDeadEvent(tx.QueryRow(ctx, `SELECT `+deadEventColumns+`
			FROM dead_events WHERE id = $1 AND client_id = $2 AND channel = 'pull' FOR UPDATE`, id, client))
		if err != nil {
			return translate(err, "dead event "+id.String())
		}
		if d.GroupID == uuid.Nil {
			return herald.ConflictRule("id", "group-gone", "the consumer group of dead event %s was deleted", id)
		}
		part := []int16{int16(d.Partition)}
		err = groupCursorsLocked(ctx, tx, d.GroupID, part, func() error {
			// An event past the read position (the group was moved back)
			// comes again from the log; only one already read goes back in
			// flight.
			_, err := tx.Exec(ctx, `INSERT INTO group_inflight (group_id, partition, seq, event_id, received_at,
					instance_id, deliver_after, deliveries, ce_id)
				SELECT $1, $2, $3, $4, $5, NULL, now(), 0,
					(SELECT e.ce_id FROM events e WHERE e.id = $4 AND e.received_at = $5) FROM group_cursors
				WHERE group_id = $1 AND partition = $2 AND read_upto >= $3
				ON CONFLICT (group_id, partition, seq) DO UPDATE SET instance_id = NULL, deliver_after = now()`,
				d.GroupID, d.Partition, d.Seq, d.EventID, d.ReceivedAt)
			if err != nil {
				return fmt.Errorf("redrive dead event %s: %w", id, err)
			}
			// In flight below the floor the fetches scan from: lower it.
			if _, err := tx.Exec(ctx, `UPDATE group_cursors SET inflight_floor = LEAST(inflight_floor, $3)
				WHERE group_id = $1 AND partition = $2`, d.GroupID, d.Partition, d.Seq); err != nil {
				return fmt.Errorf("redrive dead event %s: %w", id, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM dead_events WHERE id = $1`, id); err != nil {
			return fmt.Errorf("redrive dead event %s: %w", id, err)
		}
		return s.GroupLogNotify(ctx, tx, []uuid.UUID{d.GroupID})
	})
}

// deadEventsOfFailed is a CTE of the attempt-recording statement
// (DeliveryRecordAttempts, over its arrays $1 ids, $2 created_at, $7
// errors, $9 statuses, and $11 and $12, the span of $2): a webhook delivery whose attempt ends it failed
// enters the dead-event store in the same statement, with the attempt's
// error as reason. A duplicate record of the attempt adds nothing.
var deadEventsOfFailed = `dead AS (
	INSERT INTO dead_events (id, channel, tenant_id, client_id, endpoint_id, delivery_id, event_id, received_at,
		seq, type, reason)
	SELECT gen_random_uuid(), 'webhook', d.tenant_id, ep.client_id, d.endpoint_id, d.id, d.event_id, d.created_at,
		e.seq, e.type, u.error
	FROM unnest($1::uuid[], $2::timestamptz[], $7::text[], $9::text[]) AS u(id, created_at, error, status)
	JOIN deliveries d ON d.id = u.id AND d.created_at = u.created_at
	JOIN events e ON e.id = d.event_id AND e.received_at = d.created_at
	LEFT JOIN endpoints ep ON ep.id = d.endpoint_id
	WHERE u.status = 'failed' AND ` + spanOf("d.created_at", "$11", "$12") + ` AND ` + spanOf("e.received_at", "$11", "$12") + `
	ON CONFLICT (delivery_id) WHERE delivery_id IS NOT NULL DO NOTHING
)`

// deadEventDeleteOfDelivery takes a delivery's dead event out of the
// store: a retry, by hand or by redrive, makes it alive again.
func deadEventDeleteOfDelivery(ctx context.Context, tx pgx.Tx, delivery uuid.UUID) error {
	if _, err := tx.Exec(ctx, `DELETE FROM dead_events WHERE delivery_id = $1`, delivery); err != nil {
		return fmt.Errorf("take delivery %s out of the dead events: %w", delivery, err)
	}
	return nil
}
