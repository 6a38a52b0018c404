package postgres

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// The group_log_purges table lists deleted groups whose log rows are still
// there: a trigger on consumer_groups adds a group when it is deleted
// (migration 0016), and GroupLogPurgeStep removes its rows in batches.

// GroupLogPurgesPending returns the deleted groups whose log is not purged
// yet, oldest deletion first.
func (s *Store) GroupLogPurgesPending(ctx context.Context) ([]uuid.UUID, error) {
	rows, err := s.pool.Query(ctx, `SELECT group_id FROM group_log_purges ORDER BY deleted_at, group_id`)
	return collect(rows, err, "pending group log purges", scanUUID)
}

// GroupLogPurgeStep deletes up to batch rows of a deleted group's log, one
// short transaction, and reports whether the log is now empty; then the
// group is struck from group_log_purges. A group still in consumer_groups
// is left alone (done, so a stray job ends).
func (s *Store) GroupLogPurgeStep(ctx context.Context, group uuid.UUID, batch int) (done bool, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var pending bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM group_log_purges WHERE group_id = $1)
			AND NOT EXISTS (SELECT FROM consumer_groups WHERE id = $1)`, group).Scan(&pending); err != nil {
			return err
		}
		if !pending {
			done = true
			return nil
		}
		// Along the log's primary key, whose leading column is the group.
		tag, err := tx.Exec(ctx, `DELETE FROM group_log l USING (
				SELECT partition, seq, received_at FROM group_log WHERE group_id = $1 LIMIT $2) d
			WHERE l.group_id = $1 AND l.partition = d.partition AND l.seq = d.seq AND l.received_at = d.received_at`,
			group, batch)
		if err != nil {
			return err
		}
		if tag.RowsAffected() < int64(batch) {
			done = true
			_, err = tx.Exec(ctx, `DELETE FROM group_log_purges WHERE group_id = $1`, group)
		}
		return err
	})
	if err != nil {
		return false, fmt.Errorf("purge log of deleted group %s: %w", group, err)
	}
	return done, nil
}
