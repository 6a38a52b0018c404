package postgres

import (
	"context"
	"fmt"

	"github.com/heraldhq/herald/internal/herald"
)

// The log_head table numbers the event log; IngestWrite (events.go) takes
// each commit's range from it. This file holds what consumer group changes
// do with it.

// logHeadLock locks the log head until tx ends and returns the last
// sequence handed out: commits in flight finish first, and later ones wait,
// so every event up to the returned number is committed and every later one
// will be numbered after tx commits.
func logHeadLock(ctx context.Context, db DBTX) (int64, error) {
	var head int64
	if err := db.QueryRow(ctx, `UPDATE log_head SET seq = seq RETURNING seq`).Scan(&head); err != nil {
		return 0, fmt.Errorf("lock log head: %w", err)
	}
	return head, nil
}

// logHeadStampRoutes records the config version tx has made (after a
// consumer group change) on the locked log head, where the next ingest
// statement reads it back: one routed with an older snapshot then routes
// again, so no event numbered after the change misses it.
func logHeadStampRoutes(ctx context.Context, db DBTX) error {
	if _, err := db.Exec(ctx, `UPDATE log_head SET routes_version = (SELECT config_version FROM herald_state)`); err != nil {
		return fmt.Errorf("stamp log head: %w", err)
	}
	return nil
}

// LogHead returns the last sequence number handed out (its events may
// still be committing).
func (s *Store) LogHead(ctx context.Context, db DBTX) (int64, error) {
	var head int64
	if err := db.QueryRow(ctx, `SELECT seq FROM log_head`).Scan(&head); err != nil {
		return 0, fmt.Errorf("read log head: %w", err)
	}
	return head, nil
}

// seqInLog checks a sequence a reader starts at (a group's start or seek,
// a replay's from_sequence) against the log's head: up to the last one
// plus one (start at the next event) is a position; beyond is invalid
// field "past-end".
func seqInLog(field string, seq, head int64) error {
	if seq > head+1 {
		return herald.Invalid(field, "past-end", "sequence %d is past the end of the log (the last is %d)", seq, head)
	}
	return nil
}
