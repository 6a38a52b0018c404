package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heraldhq/herald/internal/herald"
)

// Retention removes old events in bulk without holding back ingest or
// delivery: whole days of the log go as partition drops once the longest
// keep in force has passed them (herald.RetentionHorizon), and events of
// types kept for less go before, in short transactions of purgeBatch
// events each. (docs/design/pull-consumers.md, section 6.)

// purgeBatch bounds the events one purge transaction deletes.
const purgeBatch = 1000

// retentionKeep and retentionMaxCount store a type's retention (NULL: the
// default, no limit).
func retentionKeep(r herald.Retention) any {
	if r.Keep <= 0 {
		return nil
	}
	return r.Keep
}

func retentionMaxCount(r herald.Retention) any {
	if r.MaxCount <= 0 {
		return nil
	}
	return r.MaxCount
}

// retentionPurgesReset forgets how far the purges got: a type's retention
// changed, so the next run scans from the oldest kept day again.
func retentionPurgesReset(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `DELETE FROM retention_purges`); err != nil {
		return fmt.Errorf("reset retention purges: %w", err)
	}
	return nil
}

// typeRetention is one type's retention as the purges read it.
type typeRetention struct {
	name string
	herald.Retention
}

func typeRetentions(ctx context.Context, db DBTX) ([]typeRetention, error) {
	rows, err := db.Query(ctx, `SELECT name, retention_keep, COALESCE(retention_max_count, 0) FROM event_types
		WHERE retention_keep IS NOT NULL OR retention_max_count IS NOT NULL`)
	return collect(rows, err, "read event type retention", func(row pgx.Row) (typeRetention, error) {
		var t typeRetention
		var keep pgtype.Interval
		err := row.Scan(&t.name, &keep, &t.MaxCount)
		if keep.Valid {
			t.Keep = intervalDuration(keep)
		}
		return t, err
	})
}

// RetentionHorizon is the longest keep in force, given the default
// (HERALD_RETENTION): see herald.RetentionHorizon.
func RetentionHorizon(ctx context.Context, db DBTX, def time.Duration) (time.Duration, error) {
	ts, err := typeRetentions(ctx, db)
	if err != nil {
		return 0, err
	}
	return horizonOf(def, ts), nil
}

func horizonOf(def time.Duration, ts []typeRetention) time.Duration {
	keeps := make([]time.Duration, 0, len(ts))
	for _, t := range ts {
		keeps = append(keeps, t.Keep)
	}
	return herald.RetentionHorizon(def, keeps)
}

// Expired counts what one retention run removed.
type Expired struct {
	// Tables is the number of day partitions dropped.
	Tables int
	// Events is the number of events deleted before their day went.
	Events int64
}

// Expire applies retention at now, given the default keep (0: forever):
// it drops the day partitions of the event log, delivery history and group
// logs older than the longest keep in force (whole days, UTC; see
// herald.KeptSince), with the idempotency keys and connector runs of those
// days, and deletes in batches the events of types kept for less (by age
// or by count), with their idempotency keys and thin payload records
// (their attached files are released to the file sweep). Consumer groups
// that had not read the log rows that go are told so by their next fetch
// (group_gaps).
func Expire(ctx context.Context, pool *pgxpool.Pool, def time.Duration, now time.Time) (Expired, error) {
	var out Expired
	ts, err := typeRetentions(ctx, pool)
	if err != nil {
		return out, err
	}
	if firstKept, ok := herald.KeptSince(horizonOf(def, ts), now); ok {
		if out.Tables, err = dropDays(ctx, pool, firstKept); err != nil {
			return out, err
		}
	}
	for _, c := range purgeClasses(def, ts) {
		n, err := purgeAged(ctx, pool, c, now)
		out.Events += n
		if err != nil {
			return out, err
		}
	}
	for _, t := range ts {
		if t.MaxCount > 0 {
			n, err := purgeCounted(ctx, pool, t)
			out.Events += n
			if err != nil {
				return out, err
			}
		}
	}
	return out, nil
}

// dropDays drops the days before firstKept. Each group log day goes first,
// on its own, after noting for every group partition that had not read
// all of it the oldest row it loses; then the other tables' days, the
// idempotency keys and connector runs of those days.
func dropDays(ctx context.Context, pool *pgxpool.Pool, firstKept time.Time) (int, error) {
	rows, err := pool.Query(ctx, `SELECT c.relname FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
		WHERE p.relname = 'group_log' AND c.relname ~ '_[0-9]{8}$'
			AND to_date(right(c.relname, 8), 'YYYYMMDD') < $1::date
		ORDER BY c.relname`, firstKept)
	days, err := collect(rows, err, "list old group log days", func(row pgx.Row) (string, error) {
		var s string
		err := row.Scan(&s)
		return s, err
	})
	if err != nil {
		return 0, err
	}
	for _, day := range days {
		if err := groupLogDayDrop(ctx, pool, day); err != nil {
			return 0, err
		}
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT herald_drop_partitions($1::date)`, firstKept).Scan(&n); err != nil {
		return 0, fmt.Errorf("drop old partitions: %w", err)
	}
	for {
		tag, err := pool.Exec(ctx, `DELETE FROM event_keys WHERE ctid = ANY (ARRAY(
			SELECT ctid FROM event_keys WHERE received_at < $1 LIMIT 10000))`, firstKept)
		if err != nil {
			return 0, fmt.Errorf("expire event keys: %w", err)
		}
		if tag.RowsAffected() < 10000 {
			break
		}
	}
	if _, err := ConnectorRunsExpire(ctx, pool, firstKept); err != nil {
		return 0, err
	}
	return n + len(days), nil
}

// groupLogDayDrop drops one day of the group logs and records the gaps it
// leaves. The whole group log is locked first, as the drop needs, and
// before anything else: a fetch locks its cursors and then reads the log,
// so taking the table lock after any cursor-related lock could deadlock
// with it. Under the lock no fetch moves a read position, so the gaps
// noted are exactly the rows no group had read.
func groupLogDayDrop(ctx context.Context, pool *pgxpool.Pool, day string) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		// While the lock waits for a long reader, ingest and fetches queue
		// behind it: give up after a while and try at the next run.
		if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '10s'`); err != nil {
			return fmt.Errorf("drop %s: %w", day, err)
		}
		if _, err := tx.Exec(ctx, `LOCK TABLE group_log IN ACCESS EXCLUSIVE MODE`); err != nil {
			return fmt.Errorf("drop %s: lock: %w", day, err)
		}
		table := pgx.Identifier{day}.Sanitize()
		if _, err := tx.Exec(ctx, `INSERT INTO group_gaps (group_id, partition, first_missing)
			SELECT c.group_id, c.partition, m.seq FROM group_cursors c
			CROSS JOIN LATERAL (SELECT min(l.seq) AS seq FROM `+table+` l
				WHERE l.group_id = c.group_id AND l.partition = c.partition AND l.seq > c.read_upto) m
			WHERE m.seq IS NOT NULL
			ON CONFLICT (group_id, partition) DO UPDATE
				SET first_missing = least(group_gaps.first_missing, EXCLUDED.first_missing)`); err != nil {
			return fmt.Errorf("drop %s: note gaps: %w", day, err)
		}
		if _, err := tx.Exec(ctx, `DROP TABLE `+table); err != nil {
			return fmt.Errorf("drop %s: %w", day, err)
		}
		return nil
	})
}

// purgeClass is the types one keep applies to: those named, or (Others)
// all but those named.
type purgeClass struct {
	keep   time.Duration
	types  []string
	others bool
}

// purgeClasses groups the types kept for less than the horizon by keep:
// the default's class names the types it does not cover.
func purgeClasses(def time.Duration, ts []typeRetention) []purgeClass {
	horizon := horizonOf(def, ts)
	var out []purgeClass
	add := func(keep time.Duration, name string) {
		for i := range out {
			if out[i].keep == keep && !out[i].others {
				out[i].types = append(out[i].types, name)
				return
			}
		}
		out = append(out, purgeClass{keep: keep, types: []string{name}})
	}
	var own []string
	for _, t := range ts {
		keep := t.KeepOf(def)
		if keep == def {
			continue
		}
		own = append(own, t.name)
		if keep > 0 && (horizon == 0 || keep < horizon) {
			add(keep, t.name)
		}
	}
	if def > 0 && def < horizon {
		out = append(out, purgeClass{keep: def, types: own, others: true})
	}
	slices.SortFunc(out, func(a, b purgeClass) int { return int(a.keep - b.keep) })
	return out
}

// purgeAged deletes the events of a class received before its keep's
// first kept day, from where the last run stopped, walking the log's
// primary key (event ids are time-ordered) in batches. No index on the
// type is needed, and so none is paid for by ingest: a run reads the days
// that expired since the last one.
func purgeAged(ctx context.Context, pool *pgxpool.Pool, c purgeClass, now time.Time) (int64, error) {
	cutoff, ok := herald.KeptSince(c.keep, now)
	if !ok {
		return 0, nil
	}
	var from time.Time
	err := pool.QueryRow(ctx, `SELECT purged_before FROM retention_purges WHERE keep = $1`, c.keep).Scan(&from)
	if err != nil && err != pgx.ErrNoRows {
		return 0, fmt.Errorf("read retention purge of %s: %w", c.keep, err)
	}
	if !from.Before(cutoff) {
		return 0, nil
	}
	types := c.types
	if types == nil {
		types = []string{}
	}
	var total int64
	var last uuid.UUID
	for {
		var n int64
		var next *uuid.UUID
		err := pool.QueryRow(ctx, `WITH doomed AS (
				SELECT id, received_at FROM events
				WHERE received_at >= $1 AND received_at < $2 AND (type = ANY($3)) <> $4 AND id > $5
				ORDER BY id LIMIT $6
			)`+purgeEvents+`
			SELECT count(*), (SELECT id FROM doomed ORDER BY id DESC LIMIT 1) FROM doomed`, from, cutoff, types, c.others, last, purgeBatch).Scan(&n, &next)
		if err != nil {
			return total, fmt.Errorf("purge events kept %s: %w", herald.ShortDuration(c.keep), err)
		}
		total += n
		if n < purgeBatch || next == nil {
			break
		}
		last = *next
	}
	if _, err := pool.Exec(ctx, `INSERT INTO retention_purges (keep, purged_before) VALUES ($1, $2)
		ON CONFLICT (keep) DO UPDATE SET purged_before = EXCLUDED.purged_before`, c.keep, cutoff); err != nil {
		return total, fmt.Errorf("record retention purge of %s: %w", c.keep, err)
	}
	return total, nil
}

// purgeEvents deletes the events of the CTE "doomed" (id, received_at)
// with what belongs to them alone: their idempotency keys and thin payload
// records; their attached files become unattached uploads expired now,
// which the file sweep deletes with their content. Log rows of consumer
// groups stay until their day goes: a fetch that meets one skips it and
// tells the group of the gap. Delivery history stays too, like the
// history of any event, until its day goes.
const purgeEvents = `, gone AS (
		DELETE FROM events e USING doomed d WHERE e.id = d.id AND e.received_at = d.received_at
		RETURNING e.id, e.tenant_id, e.source, e.ce_id
	), keys AS (
		DELETE FROM event_keys k USING gone g
		WHERE k.tenant_id = g.tenant_id AND k.source = g.source AND k.ce_id = g.ce_id AND k.event_id = g.id
	), thin AS (
		DELETE FROM thin_payloads p USING gone g WHERE p.event_id = g.id
	), files AS (
		UPDATE files f SET event_id = NULL, event_received_at = NULL, expires_at = now()
		FROM gone g WHERE f.event_id = g.id
	)`

// purgeCounted deletes the oldest events of a type beyond its count limit,
// per tenant. Finding each tenant's limit reads the type's events once
// (the log has no index on type: see purgeAged), then the excess goes in
// batches along the sequence index.
func purgeCounted(ctx context.Context, pool *pgxpool.Pool, t typeRetention) (int64, error) {
	rows, err := pool.Query(ctx, `SELECT tenant_id, seq FROM (
			SELECT tenant_id, seq, row_number() OVER (PARTITION BY tenant_id ORDER BY seq DESC) AS n
			FROM events WHERE type = $1) x
		WHERE n = $2 + 1`, t.name, t.MaxCount)
	type bound struct {
		tenant uuid.UUID
		seq    int64
	}
	bounds, err := collect(rows, err, "count events of "+t.name, func(row pgx.Row) (bound, error) {
		var b bound
		err := row.Scan(&b.tenant, &b.seq)
		return b, err
	})
	if err != nil {
		return 0, err
	}
	var total int64
	for _, b := range bounds {
		var last int64
		for {
			var n int64
			var next *int64
			err := pool.QueryRow(ctx, `WITH doomed AS (
					SELECT id, received_at, seq FROM events
					WHERE type = $1 AND tenant_id = $2 AND seq > $3 AND seq <= $4
					ORDER BY seq LIMIT $5
				)`+purgeEvents+`
				SELECT count(*), max(seq) FROM doomed`, t.name, b.tenant, last, b.seq, purgeBatch).Scan(&n, &next)
			if err != nil {
				return total, fmt.Errorf("purge events of %s past %d: %w", t.name, t.MaxCount, err)
			}
			total += n
			if n < purgeBatch || next == nil {
				break
			}
			last = *next
		}
	}
	return total, nil
}
