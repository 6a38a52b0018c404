package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// GroupLogRow is one event in one consumer group's log (the ingest
// statement writes these with the events, backfills afterwards).
type GroupLogRow struct {
	GroupID   uuid.UUID
	Partition int
	// Seq and ReceivedAt are the event's; ingest leaves them zero (the
	// statement fills them in from the events it writes).
	Seq        int64
	EventID    uuid.UUID
	ReceivedAt time.Time
}

// groupLogInsert writes backfilled rows; rows already there are kept, so a
// range written twice (a seek back over a backfill under way) stays one
// row per event.
func groupLogInsert(ctx context.Context, tx pgx.Tx, rows []GroupLogRow) error {
	if len(rows) == 0 {
		return nil
	}
	groups := make([][16]byte, len(rows))
	parts := make([]int16, len(rows))
	seqs := make([]int64, len(rows))
	events := make([][16]byte, len(rows))
	times := make([]time.Time, len(rows))
	for i, r := range rows {
		groups[i], parts[i], seqs[i], events[i], times[i] = r.GroupID, int16(r.Partition), r.Seq, r.EventID, r.ReceivedAt
	}
	if _, err := tx.Exec(ctx, `INSERT INTO group_log (group_id, partition, seq, event_id, received_at)
		SELECT * FROM unnest($1::uuid[], $2::smallint[], $3::bigint[], $4::uuid[], $5::timestamptz[])
		ON CONFLICT DO NOTHING`, groups, parts, seqs, events, times); err != nil {
		return fmt.Errorf("write group log: %w", err)
	}
	return nil
}

// GroupLogChannel is the notification channel that wakes pull consumers:
// its payload is a comma-separated list of group ids with new rows (or
// events due again) in their log.
const GroupLogChannel = "herald_log"

// notifyPayloadGroups bounds the group ids per notification (a payload
// is at most 8,000 bytes; an id takes 37).
const notifyPayloadGroups = 200

// GroupLogNotify tells the listening nodes, when tx commits, that the
// given groups have something to read (ids may repeat; each is sent once).
func (s *Store) GroupLogNotify(ctx context.Context, tx pgx.Tx, groups []uuid.UUID) error {
	seen := make(map[uuid.UUID]bool, len(groups))
	var ids []string
	for _, g := range groups {
		if !seen[g] {
			seen[g] = true
			ids = append(ids, g.String())
		}
	}
	for len(ids) > 0 {
		n := min(len(ids), notifyPayloadGroups)
		if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, GroupLogChannel, strings.Join(ids[:n], ",")); err != nil {
			return fmt.Errorf("notify group log: %w", err)
		}
		ids = ids[n:]
	}
	return nil
}

// GroupLogListen holds one connection listening on GroupLogChannel until
// ctx ends or the connection fails: ready runs once it listens (anything
// committed before may have been missed), each notification calls wake
// with the group ids it names.
func (s *Store) GroupLogListen(ctx context.Context, ready func(), wake func(groups []uuid.UUID)) error {
	pooled, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("listen for group log rows: %w", err)
	}
	// The session state (LISTEN) must not go back to the pool.
	conn := pooled.Hijack()
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `LISTEN `+GroupLogChannel); err != nil {
		return fmt.Errorf("listen for group log rows: %w", err)
	}
	ready()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("wait for group log rows: %w", err)
		}
		var groups []uuid.UUID
		for _, s := range strings.Split(n.Payload, ",") {
			if id, err := uuid.Parse(s); err == nil {
				groups = append(groups, id)
			}
		}
		wake(groups)
	}
}
