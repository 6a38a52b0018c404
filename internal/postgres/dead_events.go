package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/herald"
)

// DeadEvent is an event a consumer could not process, kept in its
// dead-event store.
type DeadEvent struct {
	ID         uuid.UUID
	ClientID   uuid.UUID
	GroupID    uuid.UUID
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
				RETURNING id, client_id, group_id, partition, event_id, received_at, seq, type, reason, created_at`,
			group, parts, seqs, reason)
		out, err = collect(rows, err, "report dead events of group "+group.String(), scanDeadEvent)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func scanDeadEvent(row pgx.Row) (DeadEvent, error) {
	var d DeadEvent
	var p *int16
	var group *uuid.UUID
	err := row.Scan(&d.ID, &d.ClientID, &group, &p, &d.EventID, &d.ReceivedAt, &d.Seq, &d.Type, &d.Reason, &d.CreatedAt)
	if p != nil {
		d.Partition = int(*p)
	}
	if group != nil {
		d.GroupID = *group
	}
	return d, err
}

// DeadEventFilter narrows a listing of a client's dead events.
type DeadEventFilter struct {
	GroupID uuid.UUID // uuid.Nil: any
	Type    string    // "": any
	Since   time.Time // zero: any
	Until   time.Time // zero: any
	Limit   int
}

// DeadEventList returns a client's dead events, newest first.
func (s *Store) DeadEventList(ctx context.Context, client uuid.UUID, f DeadEventFilter) ([]DeadEvent, error) {
	var group *uuid.UUID
	if f.GroupID != uuid.Nil {
		group = &f.GroupID
	}
	var since, until *time.Time
	if !f.Since.IsZero() {
		since = &f.Since
	}
	if !f.Until.IsZero() {
		until = &f.Until
	}
	rows, err := s.pool.Query(ctx, `SELECT id, client_id, group_id, partition, event_id, received_at, seq, type, reason, created_at
		FROM dead_events WHERE client_id = $1
			AND ($2::uuid IS NULL OR group_id = $2)
			AND ($3 = '' OR type = $3)
			AND ($4::timestamptz IS NULL OR created_at >= $4)
			AND ($5::timestamptz IS NULL OR created_at < $5)
		ORDER BY created_at DESC, id LIMIT $6`, client, group, f.Type, since, until, f.Limit)
	return collect(rows, err, "list dead events", scanDeadEvent)
}

// DeadEventRedrive puts a client's dead event back in front of its group:
// in flight and due at once, for whoever holds its partition, and out of
// the dead-event store. A dead event of another client is not found; one
// whose group is gone is a conflict.
func (s *Store) DeadEventRedrive(ctx context.Context, client, id uuid.UUID) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		d, err := scanDeadEvent(tx.QueryRow(ctx, `SELECT id, client_id, group_id, partition, event_id, received_at, seq,
				type, reason, created_at
			FROM dead_events WHERE id = $1 AND client_id = $2 FOR UPDATE`, id, client))
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
