package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/herald"
)

// The group_inflight table holds the events handed out to a group's
// instances and not yet acknowledged; group_cursors (the read position and
// the lease) moves with it. Statements that change both lock the cursor
// rows first, in partition order, so a fetch, a seek and a rebalance of
// one partition take turns (acknowledgements: group_acks.go).

// planEach runs a statement that scans group_inflight (every one in this
// package does) with a plan made for that execution (pgx's exec mode: an unnamed statement), not one cached with
// the connection. The table is often empty: a consumer that caught up
// leaves nothing in flight, and a vacuum then records it with no pages.
// A plan cached in that state scans the table, and keeps scanning it as
// a burst fills it with rows and dead row versions (seen after each
// VACUUM: seq scans in the ack and the redelivery, and the drain that
// followed about a third slower). Planning these statements costs a few
// hundredths of a millisecond.
const planEach = pgx.QueryExecModeExec

// Fetched is one event handed out to an instance.
type Fetched struct {
	Partition  int
	Seq        int64
	EventID    uuid.UUID
	ReceivedAt time.Time
	// Deliveries counts the times it was handed out, this one included.
	Deliveries int
	// Type and Body are the stored event's; Body is nil when retention
	// removed the event since it was logged.
	Type string
	Body []byte
}

// FetchLimits bound one fetch: at most Max events, and no more than leaves
// the instance with MaxInFlight unacknowledged ones.
type FetchLimits struct {
	Max         int
	MaxInFlight int
	// MinRoom, when the instance has events in flight, is the least room
	// under MaxInFlight worth reading new events for: a consumer that
	// acknowledges in small steps then gets them in fewer, larger fetches.
	// Events due again are handed out whatever the room.
	MinRoom int
	AckWait time.Duration
	// Touch, when set, records in the fetch's transaction that the
	// instance is alive (GroupInstanceTouch with this TTL): one durable
	// commit for both. An instance that is gone fails the fetch. The
	// fetch then also tells whether the group has instances idle longer
	// than Touch (FetchResult.Expired).
	Touch time.Duration
}

// FetchResult is what GroupFetch hands an instance.
type FetchResult struct {
	Events []Fetched
	// Gaps are retention's gaps in the partitions, each told once.
	Gaps []Gap
	// Held are the partitions the instance held, in order.
	Held []int
	// InFlight is what the instance has in flight after the fetch, not
	// counting events due again that came from other instances (so never
	// more than it has).
	InFlight int
	// Expired says the group has instances idle longer than the Touch
	// TTL, whose partitions and events wait for a membership change.
	Expired bool
}

func scanFetched(row pgx.Row) (Fetched, error) {
	var f Fetched
	var p int16
	var typ *string
	err := row.Scan(&p, &f.Seq, &f.EventID, &f.ReceivedAt, &f.Deliveries, &typ, &f.Body)
	f.Partition = int(p)
	if typ != nil {
		f.Type = *typ
	}
	return f, err
}

// fetchedEvent joins a fetched row (alias r) to its stored event (alias
// e, absent when retention removed it): a lookup by key per row, so only
// the row's day is read.
const fetchedEvent = `LEFT JOIN LATERAL (SELECT e.ce_id, e.type, e.body FROM events e
	WHERE e.id = r.event_id AND e.received_at = r.received_at) e ON true`

// Gap is a run of a group partition's log that retention removed before
// the group had read (or acknowledged) it: FirstMissing is the oldest
// sequence gone, FirstAvailable the oldest kept after it, where the
// partition continues (0: nothing is kept past the gap yet).
type Gap struct {
	Partition      int
	FirstMissing   int64
	FirstAvailable int64
}

// GroupFetch hands events of the partitions instance holds to it, in one
// transaction: first the in-flight ones that are due again (ack wait over,
// nack delay over, released by an instance that left), then new ones past
// each partition's read position, oldest first, never past a backfill
// still writing the group's log. Each stays in flight for the ack wait.
// It also returns, once, the gaps retention left in the partitions when it
// dropped log days the group had not read (group_gaps; found by the
// statement that locks the partitions, so a fetch without a gap pays
// nothing more).
func (s *Store) GroupFetch(ctx context.Context, group, instance uuid.UUID, lim FetchLimits) (FetchResult, error) {
	var res FetchResult
	_, ttl, stale := touchArgs(Touch{TTL: lim.Touch})
	err := s.txRetry(ctx, func(tx pgx.Tx) error {
		res = FetchResult{}
		// The partitions are locked in order, then each one's in-flight
		// rows are counted from its floor, and the floor raised to the
		// oldest of them (rows locked by this statement already). The
		// instance is recorded alive, and the group's expired instances
		// looked for, in the same statement: the first row says so even
		// when the instance holds no partition.
		rows, err := tx.Query(ctx, `WITH locked AS (
				SELECT c.partition, c.read_upto, c.inflight_floor FROM group_cursors c
				WHERE c.group_id = $1 AND c.owner = $2
				ORDER BY c.partition FOR UPDATE
			), seen AS (
				SELECT l.partition, l.read_upto, l.inflight_floor, f.lo, f.mine FROM locked l
				CROSS JOIN LATERAL (SELECT min(f.seq) AS lo, count(*) FILTER (WHERE f.instance_id = $2) AS mine
					FROM group_inflight f
					WHERE f.group_id = $1 AND f.partition = l.partition AND f.seq >= l.inflight_floor) f
			), raised AS (
				UPDATE group_cursors c SET inflight_floor = COALESCE(s.lo, s.read_upto + 1)
				FROM seen s
				WHERE c.group_id = $1 AND c.partition = s.partition AND c.inflight_floor < COALESCE(s.lo, s.read_upto + 1)
			), `+touchCTEs("$2", "$1", "$3", "$4")+`
			SELECT st.alive, st.expired, s.partition, s.read_upto, g.first_missing, s.mine,
				(SELECT backfill_cursor FROM consumer_groups WHERE id = $1)
			FROM (SELECT `+touchAlive("$3")+` AS alive, $3 > 0 AND EXISTS (
					SELECT 1 FROM group_instances WHERE group_id = $1 AND last_seen < now() - $3 * interval '1 millisecond'
				) AS expired) st
			LEFT JOIN seen s ON true
			LEFT JOIN group_gaps g ON g.group_id = $1 AND g.partition = s.partition
			ORDER BY s.partition`, planEach, group, instance, ttl, stale)
		type heldPart struct {
			none      bool // the row of an instance that holds nothing
			partition int16
			readUpto  int64
			gap       *int64
			inFlight  int
			backfill  *int64
		}
		var alive bool
		parts, err := collect(rows, err, "lock partitions of instance "+instance.String(), func(row pgx.Row) (heldPart, error) {
			var h heldPart
			var part *int16
			var readUpto, inFlight *int64
			err := row.Scan(&alive, &res.Expired, &part, &readUpto, &h.gap, &inFlight, &h.backfill)
			if h.none = part == nil; !h.none {
				h.partition, h.readUpto, h.inFlight = *part, *readUpto, int(*inFlight)
			}
			return h, err
		})
		if err != nil {
			return err
		}
		if !alive {
			return herald.InstanceNotFound(instance.String())
		}
		if parts[0].none {
			return nil
		}
		held := make([]int16, len(parts))
		for i, h := range parts {
			held[i] = h.partition
			res.Held = append(res.Held, int(h.partition))
			if h.gap == nil {
				continue
			}
			next, err := groupFirstKept(ctx, tx, group, h.partition, h.readUpto)
			if err != nil {
				return err
			}
			res.Gaps = append(res.Gaps, Gap{Partition: int(h.partition), FirstMissing: *h.gap, FirstAvailable: next})
			if _, err := tx.Exec(ctx, `DELETE FROM group_gaps WHERE group_id = $1 AND partition = $2`, group, h.partition); err != nil {
				return fmt.Errorf("clear gap of group %s: %w", group, err)
			}
		}
		inFlight := 0
		for _, h := range parts {
			inFlight += h.inFlight
		}
		res.InFlight = inFlight
		n := min(lim.Max, lim.MaxInFlight-inFlight)
		if n <= 0 {
			return nil
		}
		wait := lim.AckWait.Milliseconds()
		// Due by the clock now, not at the transaction's start (now()): a
		// rebalance or nack that began after this transaction and
		// committed before its first statement released rows "due at
		// once", stamped after that start; they must go out before the
		// newer events of their partitions read below.
		// RETURNING gives rows in the order the update met them (where
		// their row versions lie, which each redelivery moves), so the
		// order of the log is asked for again on the way out.
		rows, err = tx.Query(ctx, `WITH redelivered AS (
				UPDATE group_inflight f SET instance_id = $2,
					deliver_after = now() + $4 * interval '1 millisecond', deliveries = f.deliveries + 1
				FROM (SELECT d.partition, d.seq FROM group_cursors c CROSS JOIN LATERAL (
						SELECT i.partition, i.seq FROM group_inflight i
						WHERE i.group_id = c.group_id AND i.partition = c.partition AND i.seq >= c.inflight_floor
							AND i.deliver_after <= clock_timestamp()
						ORDER BY i.seq LIMIT $5) d
					WHERE c.group_id = $1 AND c.partition = ANY($3)
					ORDER BY d.partition, d.seq LIMIT $5) d
				WHERE f.group_id = $1 AND f.partition = d.partition AND f.seq = d.seq
				RETURNING f.partition, f.seq, f.event_id, f.received_at, f.deliveries
			)
			SELECT * FROM redelivered ORDER BY partition, seq`, planEach, group, instance, held, wait, n)
		due, err := collect(rows, err, "redeliver events of group "+group.String(), func(row pgx.Row) (Fetched, error) {
			var f Fetched
			var p int16
			err := row.Scan(&p, &f.Seq, &f.EventID, &f.ReceivedAt, &f.Deliveries)
			f.Partition = int(p)
			return f, err
		})
		if err != nil {
			return err
		}
		if err := eventsLoad(ctx, tx, due); err != nil {
			return err
		}
		res.Events = append(res.Events, due...)
		if n -= len(due); n <= 0 || (inFlight+len(due) > 0 && n < lim.MinRoom) {
			return nil
		}
		fresh, err := groupReadLog(ctx, tx, group, instance, held, parts[0].backfill, wait, n)
		res.Events = append(res.Events, fresh...)
		res.InFlight += len(fresh)
		return err
	})
	if err != nil {
		return FetchResult{}, fmt.Errorf("fetch for instance %s: %w", instance, err)
	}
	return res, nil
}

// eventsLoad fills in the type and body of fetched rows from their stored
// events; a row whose event retention removed keeps a nil Body.
func eventsLoad(ctx context.Context, tx pgx.Tx, rows []Fetched) error {
	if len(rows) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, len(rows))
	times := make([]time.Time, len(rows))
	for i, r := range rows {
		ids[i], times[i] = r.EventID, r.ReceivedAt
	}
	q, err := tx.Query(ctx, `SELECT e.id, e.type, e.body FROM events e
		JOIN unnest($1::uuid[], $2::timestamptz[]) AS k (id, received_at) ON e.id = k.id AND e.received_at = k.received_at`,
		ids, times)
	type loaded struct {
		id   uuid.UUID
		typ  string
		body []byte
	}
	evs, err := collect(q, err, "load events", func(row pgx.Row) (loaded, error) {
		var l loaded
		err := row.Scan(&l.id, &l.typ, &l.body)
		return l, err
	})
	if err != nil {
		return err
	}
	byID := make(map[uuid.UUID]loaded, len(evs))
	for _, e := range evs {
		byID[e.id] = e
	}
	for i := range rows {
		if e, ok := byID[rows[i].EventID]; ok {
			rows[i].Type, rows[i].Body = e.typ, e.body
		}
	}
	return nil
}

// groupReadLog hands out up to n new events of the held partitions, past
// their read positions, and moves those. Each partition is asked for its
// share of n first (readShare), so a fetch reads about n log entries rather than n
// from every partition; partitions that had their whole share are asked
// again for what is left, until n are handed out or every partition is
// read to its end. The events come back in log order. A backfill under
// way (backfill, read earlier in the transaction: a bound no later than
// the one committed now) bounds what is read.
func groupReadLog(ctx context.Context, tx pgx.Tx, group, instance uuid.UUID, held []int16, backfill *int64, wait int64, n int) ([]Fetched, error) {
	// The bound is in the statement only while a backfill runs: with two
	// bounds on seq the planner takes a fixed 0.5 % of a partition's log
	// to match and reads all of it, sorted, instead of its first rows in
	// index order (measured: a third slower drains after each ANALYZE).
	bound, args := "", []any{}
	if backfill != nil {
		bound, args = "AND l.seq <= $6", []any{*backfill}
	}
	var out []Fetched
	parts := held
	for len(parts) > 0 && n > 0 {
		share := readShare(n, len(parts))
		rows, err := tx.Query(ctx, `WITH picked AS (
				SELECT l.partition, l.seq, l.event_id, l.received_at
				FROM group_cursors c CROSS JOIN LATERAL (
					SELECT l.partition, l.seq, l.event_id, l.received_at FROM group_log l
					WHERE l.group_id = c.group_id AND l.partition = c.partition AND l.seq > c.read_upto `+bound+`
					ORDER BY l.seq LIMIT `+strconv.Itoa(share)+`) l
				WHERE c.group_id = $1 AND c.partition = ANY($3)
				ORDER BY l.seq LIMIT $5
			), loaded AS (
				SELECT r.*, e.ce_id, e.type, e.body FROM picked r `+fetchedEvent+`
			), ins AS (
				INSERT INTO group_inflight (group_id, partition, seq, event_id, received_at, instance_id, deliver_after, ce_id)
				SELECT $1, r.partition, r.seq, r.event_id, r.received_at, $2, now() + $4 * interval '1 millisecond', r.ce_id
				FROM loaded r
			), moved AS (
				UPDATE group_cursors c SET read_upto = m.seq
				FROM (SELECT partition, max(seq) AS seq FROM picked GROUP BY partition) m
				WHERE c.group_id = $1 AND c.partition = m.partition
			)
			SELECT partition, seq, event_id, received_at, 1, type, body FROM loaded`,
			append([]any{group, instance, parts, wait, n}, args...)...)
		got, err := collect(rows, err, "read the log of group "+group.String(), scanFetched)
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
		n -= len(got)
		// Partitions that gave their whole share may have more.
		count := make(map[int]int, len(parts))
		for _, f := range got {
			count[f.Partition]++
		}
		var more []int16
		for _, p := range parts {
			if count[int(p)] >= share {
				more = append(more, p)
			}
		}
		parts = more
	}
	slices.SortFunc(out, func(a, b Fetched) int { return cmp.Compare(a.Seq, b.Seq) })
	return out, nil
}

// readShare is how many log entries groupReadLog asks each of parts
// partitions for when it wants n: its share of n, rounded up to a power
// of two. The share is written into the statement as a constant, so that
// PostgreSQL plans the statement once per connection (a generic plan)
// rather than on every fetch: with the limit a parameter, a generic plan
// is costed as if a tenth of each partition's log were read, and the
// planner went on planning for every execution, 0.76 ms of a 2.2 ms
// statement (measured). Powers of two keep the variants few; a larger
// share costs a few index entries and spares second rounds.
func readShare(n, parts int) int {
	share := 1
	for share*parts < n {
		share *= 2
	}
	return share
}

// groupFirstKept returns the oldest sequence in a group partition's log
// after seq whose event is still stored (0: none).
func groupFirstKept(ctx context.Context, tx pgx.Tx, group uuid.UUID, partition int16, after int64) (int64, error) {
	var next int64
	err := tx.QueryRow(ctx, `SELECT l.seq FROM group_log l
		WHERE l.group_id = $1 AND l.partition = $2 AND l.seq > $3
			AND EXISTS (SELECT 1 FROM events e WHERE e.id = l.event_id AND e.received_at = l.received_at)
		ORDER BY l.seq LIMIT 1`, group, partition, after).Scan(&next)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("find the first kept event of group %s partition %d: %w", group, partition, err)
	}
	return next, nil
}

// GroupNextDue returns when the next event in flight in the partitions an
// instance holds is due again (zero: none is due later; one due already
// waits for room under the instance's in-flight limit).
func (s *Store) GroupNextDue(ctx context.Context, group, instance uuid.UUID) (time.Time, error) {
	var due *time.Time
	if err := s.pool.QueryRow(ctx, `SELECT min(f.deliver_after) FROM group_inflight f
		JOIN group_cursors c ON c.group_id = f.group_id AND c.partition = f.partition AND f.seq >= c.inflight_floor
		WHERE c.group_id = $1 AND c.owner = $2 AND f.deliver_after > now()`, planEach, group, instance).Scan(&due); err != nil {
		return time.Time{}, fmt.Errorf("next due event of instance %s: %w", instance, err)
	}
	if due == nil {
		return time.Time{}, nil
	}
	return *due, nil
}

// GroupSkipGone deals with events a fetch handed out whose stored events
// retention removed since they were logged (or due again): there is
// nothing to deliver, so in each partition the group skips from the oldest
// of them to the oldest kept event after it (every log row between is
// gone too), as if acknowledged, and the returned gaps say so.
func (s *Store) GroupSkipGone(ctx context.Context, group uuid.UUID, gone []Fetched) ([]Gap, error) {
	sorted := slices.Clone(gone)
	slices.SortFunc(sorted, func(a, b Fetched) int {
		if a.Partition != b.Partition {
			return a.Partition - b.Partition
		}
		return cmp.Compare(a.Seq, b.Seq)
	})
	var parts []int16
	for _, f := range sorted {
		if p := int16(f.Partition); len(parts) == 0 || parts[len(parts)-1] != p {
			parts = append(parts, p)
		}
	}
	var gaps []Gap
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		gaps = nil
		return groupCursorsLocked(ctx, tx, group, parts, func() error {
			for i := 0; i < len(sorted); {
				g := sorted[i]
				p := int16(g.Partition)
				next, err := groupFirstKept(ctx, tx, group, p, g.Seq)
				if err != nil {
					return err
				}
				gaps = append(gaps, Gap{Partition: g.Partition, FirstMissing: g.Seq, FirstAvailable: next})
				// From the gone row up to the next kept one (or the
				// partition's last row), everything is gone.
				if _, err := tx.Exec(ctx, `WITH upto AS (
						SELECT CASE WHEN $4 > 0 THEN $4 - 1 ELSE
							(SELECT COALESCE(max(seq), 0) FROM group_log WHERE group_id = $1 AND partition = $2) END AS seq
					), forgot AS (
						DELETE FROM group_inflight WHERE group_id = $1 AND partition = $2 AND seq >= $3
							AND seq <= (SELECT seq FROM upto)
					)
					UPDATE group_cursors SET read_upto = greatest(read_upto, (SELECT seq FROM upto))
					WHERE group_id = $1 AND partition = $2`, planEach, group, p, g.Seq, next); err != nil {
					return fmt.Errorf("skip removed events of group %s: %w", group, err)
				}
				for i < len(sorted) && sorted[i].Partition == g.Partition && (next == 0 || sorted[i].Seq < next) {
					i++
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return gaps, nil
}
