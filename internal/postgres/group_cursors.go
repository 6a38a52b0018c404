package postgres

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/herald"
)

// groupCursorsInsert makes a new group's partition cursors, all at cursor.
func groupCursorsInsert(ctx context.Context, tx pgx.Tx, group uuid.UUID, cursor int64) error {
	if _, err := tx.Exec(ctx, `INSERT INTO group_cursors (group_id, partition, read_upto)
		SELECT $1, p, $2 FROM generate_series(0, $3 - 1) AS p`, group, cursor, herald.Partitions); err != nil {
		return fmt.Errorf("create cursors of group %s: %w", group, err)
	}
	return nil
}

// groupCursorsSet moves every partition cursor of a group to cursor, and
// its read position with it: what was in flight is forgotten, the group
// reads again from there.
func groupCursorsSet(ctx context.Context, tx pgx.Tx, group uuid.UUID, cursor int64) error {
	if _, err := tx.Exec(ctx, `UPDATE group_cursors SET read_upto = $2, inflight_floor = 0 WHERE group_id = $1`,
		group, cursor); err != nil {
		return fmt.Errorf("move cursors of group %s: %w", group, err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM group_inflight WHERE group_id = $1`, planEach, group); err != nil {
		return fmt.Errorf("forget in-flight events of group %s: %w", group, err)
	}
	// Gaps behind the old position are no longer the group's to hear of.
	if _, err := tx.Exec(ctx, `DELETE FROM group_gaps WHERE group_id = $1`, group); err != nil {
		return fmt.Errorf("forget gaps of group %s: %w", group, err)
	}
	return nil
}

// GroupPartitions returns each partition of a group with its cursor, the
// last sequence in its log and its lag: the rows of its log past the
// cursor, counted along the group log's primary key up to one past
// herald.LagCap, so that a listing costs at most that many index entries
// per partition however far behind the group is. The cursor (what is
// acknowledged) is derived, never stored: just below the partition's
// oldest event in flight, or its read position when none is. So an ack
// only deletes in-flight rows and takes no lock a fetch holds.
func (s *Store) GroupPartitions(ctx context.Context, group uuid.UUID) ([]herald.GroupPartition, error) {
	rows, err := s.pool.Query(ctx, `WITH c AS (
			SELECT c.group_id, c.partition, COALESCE(
				(SELECT min(f.seq) - 1 FROM group_inflight f WHERE f.group_id = c.group_id AND f.partition = c.partition
					AND f.seq >= c.inflight_floor),
				c.read_upto) AS acked_upto
			FROM group_cursors c WHERE c.group_id = $1
		)
		SELECT c.partition, c.acked_upto,
			COALESCE((SELECT max(l.seq) FROM group_log l WHERE l.group_id = c.group_id AND l.partition = c.partition), 0),
			(SELECT count(*) FROM (SELECT FROM group_log l WHERE l.group_id = c.group_id AND l.partition = c.partition
				AND l.seq > c.acked_upto LIMIT $2) AS past)
		FROM c ORDER BY c.partition`, planEach, group, herald.LagCap+1)
	return collect(rows, err, "partitions of group "+group.String(), func(row pgx.Row) (herald.GroupPartition, error) {
		var p herald.GroupPartition
		var part int16
		err := row.Scan(&part, &p.AckedUpto, &p.Last, &p.Lag)
		p.Partition = int(part)
		p.LagExact = p.Lag <= herald.LagCap
		p.Lag = min(p.Lag, herald.LagCap)
		return p, err
	})
}

// groupCursorsLock locks the cursors of a group's partitions (all of them
// when parts is nil) until tx ends, in partition order. Statements that
// move a read position (fetch, seek, skipping removed events) or put an
// event back in flight below it (redrive) take these locks first, so they
// take turns with each other and with rebalances moving the partitions.
// Acks do not: they only delete in-flight rows, and a partition's
// acknowledged position is derived from those (GroupPartitions).
func groupCursorsLock(ctx context.Context, tx pgx.Tx, group uuid.UUID, parts []int16) error {
	if _, err := tx.Exec(ctx, `SELECT 1 FROM group_cursors WHERE group_id = $1 AND ($2::smallint[] IS NULL OR partition = ANY($2))
		ORDER BY partition FOR UPDATE`, group, parts); err != nil {
		return fmt.Errorf("lock cursors of group %s: %w", group, err)
	}
	return nil
}

// groupCursorsLocked runs change with the cursors of parts locked
// (groupCursorsLock).
func groupCursorsLocked(ctx context.Context, tx pgx.Tx, group uuid.UUID, parts []int16, change func() error) error {
	if err := groupCursorsLock(ctx, tx, group, parts); err != nil {
		return err
	}
	return change()
}
