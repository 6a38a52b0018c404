package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/herald"
)

// Acknowledgements take events out of flight (ack, cumulative ack) or give
// them back (nack). An ack by id locks only the in-flight rows it deletes,
// never the cursor rows a fetch holds, so it does not wait for a fetch's
// commit; a cumulative ack checks the partition is the instance's and a
// nack makes events due again below a read position, so both lock their
// partitions' cursors and take turns with fetches.

// inflightKey is an in-flight row found by its CloudEvents id.
type inflightKey struct {
	partition int16
	seq       int64
}

// groupInflightFind returns the in-flight rows of a group whose events have
// the given CloudEvents ids, locked in (partition, seq) order, the order
// fetches lock them in. An id with none is unknown: an error naming field,
// and the caller changes nothing.
func groupInflightFind(ctx context.Context, tx pgx.Tx, group uuid.UUID, ids []string, field string) ([]inflightKey, error) {
	rows, err := tx.Query(ctx, `SELECT partition, seq, ce_id FROM group_inflight
		WHERE group_id = $1 AND ce_id = ANY($2)
		ORDER BY partition, seq FOR UPDATE`, planEach, group, ids)
	if err != nil {
		return nil, fmt.Errorf("find events in flight of group %s: %w", group, err)
	}
	defer rows.Close()
	var keys []inflightKey
	found := make(map[string]bool, len(ids))
	for rows.Next() {
		var k inflightKey
		var id string
		if err := rows.Scan(&k.partition, &k.seq, &id); err != nil {
			return nil, fmt.Errorf("find events in flight of group %s: %w", group, err)
		}
		keys, found[id] = append(keys, k), true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find events in flight of group %s: %w", group, err)
	}
	return keys, checkKnown(ids, found, field)
}

// checkKnown returns the problem for ids that found no event in flight.
func checkKnown(ids []string, found map[string]bool, field string) error {
	var unknown []string
	for _, id := range ids {
		if !found[id] && !slices.Contains(unknown, id) {
			unknown = append(unknown, id)
		}
	}
	if len(unknown) > 0 {
		return herald.Invalid(field, "unknown",
			"no event in flight in this group has id %s (acknowledged already, or never delivered to it)",
			strings.Join(unknown, ", "))
	}
	return nil
}

func splitKeys(keys []inflightKey) (parts []int16, seqs []int64) {
	for _, k := range keys {
		parts, seqs = append(parts, k.partition), append(seqs, k.seq)
	}
	return parts, seqs
}

// Touch names an instance to record alive in a statement's transaction
// (GroupInstanceTouch), with the TTL it is checked against; the zero
// Touch records nothing.
type Touch struct {
	Instance uuid.UUID
	TTL      time.Duration
}

// GroupAck acknowledges the events in flight in a group with the given
// CloudEvents ids (an id in flight twice, from two sources, is
// acknowledged twice), and records touch's instance alive in the same
// transaction. Unknown ids change nothing and are invalid "ids".
//
// One statement finds and deletes the rows, in the order of their ids:
// locking them first in partition and sequence order cost a second
// statement and a row-lock record per event, about half of what an
// acknowledgement cost. A fetch redelivering the same rows (their ack
// wait just over) may then deadlock with it; txRetry runs the victim again.
func (s *Store) GroupAck(ctx context.Context, group uuid.UUID, ids []string, touch Touch) error {
	inst, ttl, stale := touchArgs(touch)
	return s.txRetry(ctx, func(tx pgx.Tx) error {
		var acked []string
		var alive bool
		err := tx.QueryRow(ctx, `WITH acked AS (
				DELETE FROM group_inflight WHERE group_id = $1 AND ce_id = ANY($2) RETURNING ce_id
			), `+touchCTEs("$3", "$1", "$4", "$5")+`
			SELECT ARRAY(SELECT ce_id FROM acked), `+touchAlive("$4"),
			planEach, group, ids, inst, ttl, stale).Scan(&acked, &alive)
		if err != nil {
			return fmt.Errorf("acknowledge events of group %s: %w", group, err)
		}
		found := make(map[string]bool, len(acked))
		for _, id := range acked {
			found[id] = true
		}
		if err := checkKnown(ids, found, "ids"); err != nil {
			return err // rolls the deletions back
		}
		if !alive {
			return herald.InstanceNotFound(touch.Instance.String())
		}
		return nil
	})
}

// GroupAckUpto acknowledges everything instance was handed in a partition
// up to seq. The partition must be the instance's, and seq no later than
// what it was handed ("past-end").
func (s *Store) GroupAckUpto(ctx context.Context, group, instance uuid.UUID, partition int, seq int64) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var owner *uuid.UUID
		var readUpto, floor int64
		err := tx.QueryRow(ctx, `SELECT owner, read_upto, inflight_floor FROM group_cursors WHERE group_id = $1 AND partition = $2
			FOR UPDATE`, group, partition).Scan(&owner, &readUpto, &floor)
		if errors.Is(err, pgx.ErrNoRows) {
			return herald.NotFound("consumer group %s", group)
		}
		if err != nil {
			return fmt.Errorf("lock partition %d of group %s: %w", partition, group, err)
		}
		if owner == nil || *owner != instance {
			return herald.Invalid("partition", "held", "partition %d is not held by this instance", partition)
		}
		if seq > readUpto {
			return herald.Invalid("sequence", "past-end", "sequence %s was not delivered yet (the last delivered in partition %d is %s)",
				herald.FormatSeq(seq), partition, herald.FormatSeq(readUpto))
		}
		if _, err := tx.Exec(ctx, `DELETE FROM group_inflight WHERE group_id = $1 AND partition = $2 AND seq BETWEEN $4 AND $3`,
			planEach, group, partition, seq, floor); err != nil {
			return fmt.Errorf("acknowledge partition %d of group %s: %w", partition, group, err)
		}
		return nil
	})
}

// GroupNack gives events in flight in a group back, due again after delay
// (to whoever holds their partition then). Unknown ids change nothing and
// are invalid "ids".
func (s *Store) GroupNack(ctx context.Context, group uuid.UUID, ids []string, delay time.Duration) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		keys, err := groupInflightFind(ctx, tx, group, ids, "ids")
		if err != nil {
			return err
		}
		parts, seqs := splitKeys(keys)
		if err := groupCursorsLock(ctx, tx, group, parts); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE group_inflight SET instance_id = NULL,
				deliver_after = now() + $4 * interval '1 millisecond'
			WHERE group_id = $1 AND (partition, seq) IN (SELECT * FROM unnest($2::smallint[], $3::bigint[]))`,
			planEach, group, parts, seqs, delay.Milliseconds()); err != nil {
			return fmt.Errorf("give back events of group %s: %w", group, err)
		}
		return nil
	})
}
