package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/herald"
)

// consumerGroupColumns reads a herald.ConsumerGroup (scanConsumerGroup).
const consumerGroupColumns = `id, tenant_id, client_id, name, types, filter, ack_wait_ms, created_seq, log_from,
	backfill_cursor, backfill_to, created_at`

func scanConsumerGroup(row pgx.Row) (*herald.ConsumerGroup, error) {
	g := &herald.ConsumerGroup{}
	var ackMS int64
	var cursor, to *int64
	if err := row.Scan(&g.ID, &g.TenantID, &g.ClientID, &g.Name, &g.Types, &g.Filter, &ackMS, &g.CreatedSeq,
		&g.LogFrom, &cursor, &to, &g.CreatedAt); err != nil {
		return nil, err
	}
	g.AckWait = time.Duration(ackMS) * time.Millisecond
	if to != nil && cursor != nil {
		g.Backfill = &herald.Backfill{Cursor: *cursor, To: *to}
	}
	return g, nil
}

// ConsumerGroupCreate stores a new group of g.ClientID with its partition
// cursors at the start position, in tx. It holds the log head (see
// logHeadLock) so that the group's creation sequence splits the log
// exactly: ingest routes every later event to the group, and the group's
// backfill (g.Backfill, set when start reaches back) writes the earlier
// ones. A name the client already uses is a conflict on "name"; a start
// past the end of the log is invalid.
func (s *Store) ConsumerGroupCreate(ctx context.Context, tx pgx.Tx, g *herald.ConsumerGroup, start herald.Start) error {
	head, err := logHeadLock(ctx, tx)
	if err != nil {
		return err
	}
	cursor, err := startCursor(ctx, tx, start, head)
	if err != nil {
		return err
	}
	g.CreatedSeq, g.LogFrom, g.Backfill = head, cursor, nil
	if cursor < head {
		g.Backfill = &herald.Backfill{Cursor: cursor, To: head}
	}
	var bfCursor, bfTo *int64
	if g.Backfill != nil {
		bfCursor, bfTo = &g.Backfill.Cursor, &g.Backfill.To
	}
	err = tx.QueryRow(ctx, `INSERT INTO consumer_groups (id, tenant_id, client_id, name, types, filter, ack_wait_ms,
			created_seq, log_from, backfill_cursor, backfill_to)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (client_id, name) DO NOTHING
		RETURNING created_at`,
		g.ID, g.TenantID, g.ClientID, g.Name, g.Types, g.Filter, g.AckWait.Milliseconds(), g.CreatedSeq, g.LogFrom,
		bfCursor, bfTo).Scan(&g.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return herald.ConflictRule("name", "unique", "you already have a consumer group named %q", g.Name)
	}
	if err != nil {
		return fmt.Errorf("create consumer group %q: %w", g.Name, err)
	}
	if err := groupCursorsInsert(ctx, tx, g.ID, cursor); err != nil {
		return err
	}
	return logHeadStampRoutes(ctx, tx)
}

// startCursor turns a start position into the cursor it means (the
// sequence after which events are read), given the log head: new is the
// head, all is 0, a sequence N is N-1 (N itself is read), a time is just
// before the first event received at or after it. Positions past the end
// of the log are invalid.
func startCursor(ctx context.Context, db DBTX, start herald.Start, head int64) (int64, error) {
	switch start.Kind {
	case herald.StartNew:
		return head, nil
	case herald.StartAll:
		return 0, nil
	case herald.StartSequence:
		if err := seqInLog("start.sequence", start.Sequence, head); err != nil {
			return 0, err
		}
		return max(start.Sequence-1, 0), nil
	case herald.StartTime:
		if start.Time.After(time.Now()) {
			return 0, herald.Invalid("start.time", "past-end", "%s is in the future", start.Time.Format(time.RFC3339))
		}
		var first *int64
		if err := db.QueryRow(ctx, `SELECT min(seq) FROM events WHERE received_at >= $1`, start.Time).Scan(&first); err != nil {
			return 0, fmt.Errorf("find the first event since %s: %w", start.Time, err)
		}
		if first == nil {
			return head, nil
		}
		return min(*first-1, head), nil
	}
	return 0, herald.Invalid("start", "enum", `must be "new", "all", {"sequence": N} or {"time": "RFC 3339"}`)
}

// ConsumerGroupGet returns a client's group by name; a name the client does
// not have is not found, whoever else has it.
func (s *Store) ConsumerGroupGet(ctx context.Context, client uuid.UUID, name string) (*herald.ConsumerGroup, error) {
	g, err := scanConsumerGroup(s.pool.QueryRow(ctx, `SELECT `+consumerGroupColumns+` FROM consumer_groups
		WHERE client_id = $1 AND name = $2`, client, name))
	if err != nil {
		return nil, translate(err, fmt.Sprintf("consumer group %q", name))
	}
	return g, nil
}

// ConsumerGroupByID returns a group by id.
func (s *Store) ConsumerGroupByID(ctx context.Context, id uuid.UUID) (*herald.ConsumerGroup, error) {
	g, err := scanConsumerGroup(s.pool.QueryRow(ctx, `SELECT `+consumerGroupColumns+` FROM consumer_groups WHERE id = $1`, id))
	if err != nil {
		return nil, translate(err, "consumer group "+id.String())
	}
	return g, nil
}

// ConsumerGroupList returns a client's groups by name.
func (s *Store) ConsumerGroupList(ctx context.Context, client uuid.UUID) ([]*herald.ConsumerGroup, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+consumerGroupColumns+` FROM consumer_groups WHERE client_id = $1 ORDER BY name`,
		client)
	return collect(rows, err, "list consumer groups", scanConsumerGroup)
}

// ConsumerGroupDelete removes a group and its cursors in tx, holding the
// log head so that no commit writes rows for it afterwards. Its log is
// only noted for the purge (a trigger does it, also when the client or
// tenant goes, see group_log_purges.go): the caller queues the job.
func (s *Store) ConsumerGroupDelete(ctx context.Context, tx pgx.Tx, id uuid.UUID) error {
	if _, err := logHeadLock(ctx, tx); err != nil {
		return err
	}
	tag, err := tx.Exec(ctx, `DELETE FROM consumer_groups WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete consumer group %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return herald.NotFound("consumer group %s", id)
	}
	return logHeadStampRoutes(ctx, tx)
}

// ConsumerGroupSeek moves every partition cursor of g to the start
// position, in tx. A position below what the group's log holds extends the
// log backwards: g.Backfill is set to the range to write (idempotently:
// rows already there are kept), and the caller queues the backfill.
func (s *Store) ConsumerGroupSeek(ctx context.Context, tx pgx.Tx, g *herald.ConsumerGroup, start herald.Start) error {
	head, err := s.LogHead(ctx, tx)
	if err != nil {
		return err
	}
	// The group row is locked so that concurrent seeks and backfill steps
	// see one another's ranges.
	locked, err := scanConsumerGroup(tx.QueryRow(ctx, `SELECT `+consumerGroupColumns+` FROM consumer_groups
		WHERE id = $1 FOR UPDATE`, g.ID))
	if err != nil {
		return translate(err, fmt.Sprintf("consumer group %q", g.Name))
	}
	*g = *locked
	cursor, err := startCursor(ctx, tx, start, head)
	if err != nil {
		return err
	}
	if cursor < g.LogFrom {
		to := g.LogFrom
		if g.Backfill != nil {
			to = max(to, g.Backfill.To)
		}
		g.Backfill, g.LogFrom = &herald.Backfill{Cursor: cursor, To: to}, cursor
		if _, err := tx.Exec(ctx, `UPDATE consumer_groups SET log_from = $2, backfill_cursor = $3, backfill_to = $4
			WHERE id = $1`, g.ID, g.LogFrom, g.Backfill.Cursor, g.Backfill.To); err != nil {
			return fmt.Errorf("seek consumer group %q: %w", g.Name, err)
		}
	}
	return groupCursorsSet(ctx, tx, g.ID, cursor)
}

// ConsumerGroupBackfillAdvance records a backfill step in tx: the group
// log rows of one page and the backfill cursor moved from `from` to `to`
// (the end of the range ends the backfill). It reports false, writing
// nothing, when the backfill is no longer at `from` (a seek restarted it,
// another run moved it, the group is gone): the caller stops.
func (s *Store) ConsumerGroupBackfillAdvance(ctx context.Context, tx pgx.Tx, group uuid.UUID, from, to int64, rows []GroupLogRow) (bool, error) {
	tag, err := tx.Exec(ctx, `UPDATE consumer_groups
		SET backfill_cursor = CASE WHEN $3 >= backfill_to THEN NULL ELSE $3 END,
			backfill_to = CASE WHEN $3 >= backfill_to THEN NULL ELSE backfill_to END
		WHERE id = $1 AND backfill_cursor = $2`, group, from, to)
	if err != nil {
		return false, fmt.Errorf("advance backfill of group %s: %w", group, err)
	}
	if tag.RowsAffected() == 0 {
		return false, nil
	}
	if err := groupLogInsert(ctx, tx, rows); err != nil {
		return false, err
	}
	// The backfill cursor moved: readers held back by it can go on.
	return true, s.GroupLogNotify(ctx, tx, []uuid.UUID{group})
}

// ConsumerGroupBackfillPage returns up to limit events of the backfill
// range after cursor, in seq order, of the types the group can receive
// (types from any tenant, ownTypes from its own), with bodies when the
// group's filter needs them. Test sends (addressed events) are left out.
func (s *Store) ConsumerGroupBackfillPage(ctx context.Context, g *herald.ConsumerGroup, cursor, to int64,
	types, ownTypes []string, withBody bool, limit int) ([]*RoutedEvent, error) {
	if len(types) == 0 && len(ownTypes) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT `+routedEventColumns+`, CASE WHEN $6 THEN e.body END FROM events e
		WHERE e.seq > $1 AND e.seq <= $2
			AND (e.type = ANY($3) OR (e.type = ANY($4) AND e.tenant_id = $5))
			AND e.addressed_to IS NULL
		ORDER BY e.seq LIMIT $7`,
		cursor, to, types, ownTypes, raw(g.TenantID), withBody, limit)
	return collect(rows, err, "backfill group "+g.ID.String(), func(row pgx.Row) (*RoutedEvent, error) {
		return scanRoutedEvent(row)
	})
}
