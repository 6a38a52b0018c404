package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// WebSessionEnd records that a console or portal session was signed out;
// until is when it would have expired anyway, after which the record is
// useless and WebSessionPrune drops it.
func (s *Store) WebSessionEnd(ctx context.Context, id uuid.UUID, until time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO web_session_ends (session_id, ends_at) VALUES ($1, $2)
		ON CONFLICT (session_id) DO NOTHING`, id, until)
	if err != nil {
		return fmt.Errorf("end web session %s: %w", id, err)
	}
	return nil
}

// WebSessionEnded reports whether a session was signed out.
func (s *Store) WebSessionEnded(ctx context.Context, id uuid.UUID) (bool, error) {
	var ended bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM web_session_ends WHERE session_id = $1)`, id).Scan(&ended)
	if err != nil {
		return false, fmt.Errorf("read web session %s: %w", id, err)
	}
	return ended, nil
}

// WebSessionPrune drops the sign-outs of sessions that have expired.
func (s *Store) WebSessionPrune(ctx context.Context, now time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM web_session_ends WHERE ends_at < $1`, now)
	if err != nil {
		return 0, fmt.Errorf("prune web sessions: %w", err)
	}
	return tag.RowsAffected(), nil
}
