package postgres

import (
	"context"
	"fmt"
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
