package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/herald"
)

// GroupInstance is a reader of a consumer group that is gone: expired
// instances are listed for the sweeper to remove.
type GroupInstance struct {
	ID      uuid.UUID
	GroupID uuid.UUID
}

// GroupLock serialises the membership changes of one group (joins, leaves,
// expiries and the rebalance each makes) until tx ends. It also locks the
// group's partition cursors, as fetches do before they touch in-flight
// rows, so a membership change and a fetch never wait for each other in
// opposite orders.
func (s *Store) GroupLock(ctx context.Context, tx pgx.Tx, group uuid.UUID) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1::uuid::text, 7242019002))`, group); err != nil {
		return fmt.Errorf("lock group %s: %w", group, err)
	}
	return groupCursorsLock(ctx, tx, group, nil)
}

// GroupInstanceInsert adds an instance to a group, in tx (under GroupLock).
func (s *Store) GroupInstanceInsert(ctx context.Context, tx pgx.Tx, id, group uuid.UUID, kind, node string) error {
	if _, err := tx.Exec(ctx, `INSERT INTO group_instances (id, group_id, kind, node) VALUES ($1, $2, $3, $4)`,
		id, group, kind, node); err != nil {
		return fmt.Errorf("add instance to group %s: %w", group, err)
	}
	return nil
}

// GroupInstanceDelete removes an instance, in tx (under GroupLock): the
// events it had in flight are due again at once, to whoever holds their
// partition after the rebalance. It reports whether the instance was there.
func (s *Store) GroupInstanceDelete(ctx context.Context, tx pgx.Tx, id uuid.UUID) (bool, error) {
	if _, err := tx.Exec(ctx, `UPDATE group_inflight f SET instance_id = NULL, deliver_after = now()
		FROM group_instances i WHERE i.id = $1 AND f.group_id = i.group_id AND f.instance_id = $1`, planEach, id); err != nil {
		return false, fmt.Errorf("release events of instance %s: %w", id, err)
	}
	tag, err := tx.Exec(ctx, `DELETE FROM group_instances WHERE id = $1`, id)
	if err != nil {
		return false, fmt.Errorf("remove instance %s: %w", id, err)
	}
	return tag.RowsAffected() > 0, nil
}

// GroupInstanceTouch records that an instance of group was seen now. An
// instance that is not there, belongs to another group or was idle longer
// than ttl is not found: its caller has to create a new one.
func (s *Store) GroupInstanceTouch(ctx context.Context, id, group uuid.UUID, ttl time.Duration) error {
	var alive bool
	inst, ms, stale := touchArgs(Touch{Instance: id, TTL: ttl})
	err := s.pool.QueryRow(ctx, `WITH `+touchCTEs("$1", "$2", "$3", "$4")+`
		SELECT `+touchAlive("$3"), inst, group, ms, stale).Scan(&alive)
	if err != nil {
		return fmt.Errorf("touch instance %s: %w", id, err)
	}
	if !alive {
		return herald.InstanceNotFound(id.String())
	}
	return nil
}

// touchStale is how old last_seen must be before a touch writes it again:
// a hundredth of the TTL, at most a second. A long-poll consumer touches
// on every request, its fetch and its ack at once when it pipelines them;
// writing each time made the two wait for each other's commit on the
// instance's row (0.7 ms a touch, measured). An instance is then seen at
// most this much less recently than it was.
func touchStale(ttl time.Duration) time.Duration { return min(ttl/100, time.Second) }

// touchCTEs are the common table expressions with which a statement
// records an instance alive, the one rule of GroupInstanceTouch: cur is
// the instance's row while it is alive, and touched writes its last_seen
// when that is older than touchStale. inst and group name the statement's
// parameters for the instance and its group, ttl and stale those for the
// TTL and touchStale in milliseconds; a ttl of 0 touches and checks
// nothing. Nothing references touched, and PostgreSQL runs such a CTE
// when the main query is done: the instance's row is locked after what
// that query locks, the order membership changes take them in (a
// deadlock all the same is run again: txRetry). The statement tells
// whether the instance is alive with touchAlive.
func touchCTEs(inst, group, ttl, stale string) string {
	return `cur AS (
			SELECT last_seen FROM group_instances
			WHERE id = ` + inst + ` AND group_id = ` + group + ` AND ` + ttl + ` > 0
				AND last_seen >= now() - ` + ttl + ` * interval '1 millisecond'
		), touched AS (
			UPDATE group_instances SET last_seen = now()
			WHERE id = ` + inst + ` AND (SELECT last_seen FROM cur) < now() - ` + stale + ` * interval '1 millisecond'
		)`
}

// touchAlive is the expression that is false when a statement with
// touchCTEs(…, ttl, …) found its instance gone.
func touchAlive(ttl string) string {
	return `(` + ttl + ` = 0 OR EXISTS (SELECT 1 FROM cur))`
}

// touchArgs are the instance, TTL and touchStale arguments of touchCTEs
// for t (the zero Touch: touch nothing).
func touchArgs(t Touch) (uuid.UUID, int64, int64) {
	return t.Instance, t.TTL.Milliseconds(), touchStale(t.TTL).Milliseconds()
}

// GroupInstancesExpired returns the instances idle longer than ttl, of one
// group or (group uuid.Nil) of all.
func (s *Store) GroupInstancesExpired(ctx context.Context, db DBTX, group uuid.UUID, ttl time.Duration) ([]GroupInstance, error) {
	rows, err := db.Query(ctx, `SELECT id, group_id FROM group_instances
		WHERE last_seen < now() - $1 * interval '1 millisecond' AND ($2 = '00000000-0000-0000-0000-000000000000'::uuid OR group_id = $2)
		ORDER BY group_id, id`, ttl.Milliseconds(), group)
	return collect(rows, err, "list expired instances", func(row pgx.Row) (GroupInstance, error) {
		var gi GroupInstance
		err := row.Scan(&gi.ID, &gi.GroupID)
		return gi, err
	})
}

// GroupInstanceCount returns how many instances a group has, in tx.
func (s *Store) GroupInstanceCount(ctx context.Context, tx pgx.Tx, group uuid.UUID) (int, error) {
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM group_instances WHERE group_id = $1`, group).Scan(&n); err != nil {
		return 0, fmt.Errorf("count instances of group %s: %w", group, err)
	}
	return n, nil
}

// GroupLeases returns, in tx, the holder of each partition of a group
// (uuid.Nil: none) and its live instances in the order they joined.
func (s *Store) GroupLeases(ctx context.Context, tx pgx.Tx, group uuid.UUID) (owners, live []uuid.UUID, err error) {
	rows, err := tx.Query(ctx, `SELECT COALESCE(owner, '00000000-0000-0000-0000-000000000000'::uuid)
		FROM group_cursors WHERE group_id = $1 ORDER BY partition`, group)
	owners, err = collect(rows, err, "read leases of group "+group.String(), scanUUID)
	if err != nil {
		return nil, nil, err
	}
	rows, err = tx.Query(ctx, `SELECT id FROM group_instances WHERE group_id = $1 ORDER BY created_at, id`, group)
	live, err = collect(rows, err, "list instances of group "+group.String(), scanUUID)
	return owners, live, err
}

// GroupLeasesSet gives each partition of a group to owners[partition]
// (uuid.Nil: nobody), in tx under GroupLock. The events in flight of a
// partition that changes hands are due again at once, for its new holder.
func (s *Store) GroupLeasesSet(ctx context.Context, tx pgx.Tx, group uuid.UUID, owners []uuid.UUID) error {
	parts := make([]int16, len(owners))
	ids := make([][16]byte, len(owners))
	for p, o := range owners {
		parts[p], ids[p] = int16(p), o
	}
	rows, err := tx.Query(ctx, `UPDATE group_cursors c SET owner = NULLIF(n.owner, '00000000-0000-0000-0000-000000000000'::uuid)
		FROM unnest($2::smallint[], $3::uuid[]) AS n (partition, owner)
		WHERE c.group_id = $1 AND c.partition = n.partition
			AND c.owner IS DISTINCT FROM NULLIF(n.owner, '00000000-0000-0000-0000-000000000000'::uuid)
		RETURNING c.partition`, group, parts, ids)
	moved, err := collect(rows, err, "move leases of group "+group.String(), func(row pgx.Row) (int16, error) {
		var p int16
		err := row.Scan(&p)
		return p, err
	})
	if err != nil || len(moved) == 0 {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE group_inflight SET instance_id = NULL, deliver_after = LEAST(deliver_after, now())
		WHERE group_id = $1 AND partition = ANY($2)`, planEach, group, moved); err != nil {
		return fmt.Errorf("release events of moved partitions of group %s: %w", group, err)
	}
	return nil
}
