package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// OrderedKey names the queue of one partition key at one ordered endpoint.
type OrderedKey struct {
	EndpointID uuid.UUID
	Key        string
}

// OrderedItem is a delivery to append to its key's queue.
type OrderedItem struct {
	OrderedKey
	DeliveryID uuid.UUID
	CreatedAt  time.Time
}

// OrderedEntry is a queued delivery and its position in its key's queue.
type OrderedEntry struct {
	Pos int64
	DeliveryKey
}

// OrderedAppend appends deliveries to their keys' queues, in the order
// given for deliveries of one key, and returns the keys it activated: each
// needs a drain job, to be inserted in the same transaction. It must run in
// the transaction that writes the deliveries: the key's cursor row stays
// locked until commit, so the positions of concurrent appends follow their
// commit order.
func (s *Store) OrderedAppend(ctx context.Context, db DBTX, items []OrderedItem) ([]OrderedKey, error) {
	if len(items) == 0 {
		return nil, nil
	}
	n := len(items)
	eps := make([][16]byte, n)
	keys := make([]string, n)
	ids := make([][16]byte, n)
	created := make([]time.Time, n)
	for i, it := range items {
		eps[i], keys[i], ids[i], created[i] = it.EndpointID, it.Key, it.DeliveryID, it.CreatedAt
	}
	rows, err := db.Query(ctx, `WITH u AS (
			SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::timestamptz[])
				WITH ORDINALITY AS u(endpoint_id, partition_key, delivery_id, created_at, ord)
		), c AS (
			SELECT endpoint_id, partition_key, count(*) AS n FROM u GROUP BY endpoint_id, partition_key
		), k AS (
			-- Cursor rows are locked in one global order, whatever the
			-- order of the items, so two appends cannot deadlock.
			INSERT INTO ordered_keys AS o (endpoint_id, partition_key, last_pos)
			SELECT endpoint_id, partition_key, n FROM c ORDER BY endpoint_id, partition_key
			ON CONFLICT (endpoint_id, partition_key)
				DO UPDATE SET last_pos = o.last_pos + EXCLUDED.last_pos, created = false
			RETURNING endpoint_id, partition_key, last_pos, created
		), q AS (
			INSERT INTO ordered_queue (endpoint_id, partition_key, pos, delivery_id, created_at)
			SELECT u.endpoint_id, u.partition_key,
				k.last_pos - c.n + row_number() OVER (PARTITION BY u.endpoint_id, u.partition_key ORDER BY u.ord),
				u.delivery_id, u.created_at
			FROM u JOIN c USING (endpoint_id, partition_key) JOIN k USING (endpoint_id, partition_key)
		)
		SELECT endpoint_id, partition_key FROM k WHERE created`, eps, keys, ids, created)
	return collect(rows, err, "append ordered deliveries", scanOrderedKey)
}

// OrderedNext drops a key's queue entries up to position settled and
// returns the next ones (at most limit), lowest position first.
func (s *Store) OrderedNext(ctx context.Context, k OrderedKey, settled int64, limit int) ([]OrderedEntry, error) {
	rows, err := s.pool.Query(ctx, `WITH d AS (
			DELETE FROM ordered_queue WHERE endpoint_id = $1 AND partition_key = $2 AND pos <= $3
		)
		SELECT pos, delivery_id, created_at FROM ordered_queue
		WHERE endpoint_id = $1 AND partition_key = $2 AND pos > $3
		ORDER BY pos LIMIT $4`, k.EndpointID, k.Key, settled, limit)
	return collect(rows, err, "next ordered deliveries of "+k.EndpointID.String(), func(row pgx.Row) (OrderedEntry, error) {
		var e OrderedEntry
		err := row.Scan(&e.Pos, &e.ID, &e.CreatedAt)
		return e, err
	})
}

// OrderedSettle drops a key's queue entries up to position settled.
func (s *Store) OrderedSettle(ctx context.Context, k OrderedKey, settled int64) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM ordered_queue WHERE endpoint_id = $1 AND partition_key = $2 AND pos <= $3`,
		k.EndpointID, k.Key, settled); err != nil {
		return fmt.Errorf("settle ordered deliveries of %s: %w", k.EndpointID, err)
	}
	return nil
}

// OrderedRelease ends the drain of a key whose queue looks empty: it drops
// the entries up to settled and deactivates the key unless deliveries were
// appended meanwhile, in which case it returns false and the drain goes on.
func (s *Store) OrderedRelease(ctx context.Context, k OrderedKey, settled int64) (bool, error) {
	var done bool
	if err := s.pool.QueryRow(ctx, `SELECT herald_ordered_release($1, $2, $3)`, k.EndpointID, k.Key, settled).
		Scan(&done); err != nil {
		return false, fmt.Errorf("release ordered key of %s: %w", k.EndpointID, err)
	}
	return done, nil
}

// OrderedDrainJob finds the River job (of the given kind) draining a key,
// unless it is running or finished: the one a retry by hand wakes.
func (s *Store) OrderedDrainJob(ctx context.Context, kind string, k OrderedKey) (int64, bool, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `SELECT id FROM river_job
		WHERE kind = $1 AND state IN ('available', 'scheduled', 'retryable', 'pending')
			AND args->>'e' = $2 AND args->>'k' = $3
		ORDER BY id LIMIT 1`, kind, k.EndpointID.String(), k.Key).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("find the drain job of %s: %w", k.EndpointID, err)
	}
	return id, true, nil
}

// OrderedOrphans returns keys that have deliveries waiting but no live
// drain job: River discarded it after repeated errors (a long database
// outage, a bug). The cursor row and its job commit together and the job
// stays live until it deletes the row, so within one snapshot a row without
// a live job is truly orphaned.
func (s *Store) OrderedOrphans(ctx context.Context, kind string) ([]OrderedKey, error) {
	rows, err := s.pool.Query(ctx, `SELECT k.endpoint_id, k.partition_key FROM ordered_keys k
		WHERE NOT EXISTS (
			SELECT 1 FROM river_job j
			WHERE j.kind = $1 AND j.state NOT IN ('completed', 'cancelled', 'discarded')
				AND j.args->>'e' = k.endpoint_id::text AND j.args->>'k' = k.partition_key)`, kind)
	return collect(rows, err, "find orphaned ordered keys", scanOrderedKey)
}

func scanOrderedKey(row pgx.Row) (OrderedKey, error) {
	var k OrderedKey
	err := row.Scan(&k.EndpointID, &k.Key)
	return k, err
}
