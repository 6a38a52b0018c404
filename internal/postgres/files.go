package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/herald"
)

const fileColumns = `id, tenant_id, client_id, name, content_type, size, sha256, created_at, expires_at, event_id, attached_at`

func scanFile(row pgx.Row) (*herald.File, error) {
	var f herald.File
	var client, event *uuid.UUID
	var attached *time.Time
	if err := row.Scan(&f.ID, &f.TenantID, &client, &f.Name, &f.ContentType, &f.Size, &f.SHA256, &f.CreatedAt,
		&f.ExpiresAt, &event, &attached); err != nil {
		return nil, err
	}
	if client != nil {
		f.ClientID = *client
	}
	if event != nil {
		f.EventID = *event
	}
	f.AttachedAt = orZero(attached)
	return &f, nil
}

// FileCreate records an uploaded file (its content is already stored).
func (s *Store) FileCreate(ctx context.Context, f *herald.File) error {
	err := s.pool.QueryRow(ctx, `INSERT INTO files (id, tenant_id, client_id, name, content_type, size, sha256, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING created_at`,
		f.ID, f.TenantID, nullUUID(f.ClientID), f.Name, f.ContentType, f.Size, f.SHA256, f.ExpiresAt).Scan(&f.CreatedAt)
	return translate(err, "file "+f.ID.String())
}

// FileGet returns one file's record.
func (s *Store) FileGet(ctx context.Context, id uuid.UUID) (*herald.File, error) {
	f, err := scanFile(s.pool.QueryRow(ctx, `SELECT `+fileColumns+` FROM files WHERE id = $1`, id))
	return f, translate(err, "file "+id.String())
}

// FilesOfEvent returns the files attached to an event, oldest first.
func (s *Store) FilesOfEvent(ctx context.Context, event uuid.UUID) ([]*herald.File, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+fileColumns+` FROM files WHERE event_id = $1 ORDER BY created_at, id`, event)
	return collect(rows, err, "files of event "+event.String(), scanFile)
}

// FilesAttachable checks that files may be attached to a new event of the
// tenant at now. It returns, for each id that may not, the reason.
func (s *Store) FilesAttachable(ctx context.Context, tenant uuid.UUID, ids []uuid.UUID, now time.Time) (map[uuid.UUID]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, tenant_id, event_id IS NOT NULL, expires_at FROM files WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("check attachments: %w", err)
	}
	defer rows.Close()
	found := map[uuid.UUID]string{}
	for rows.Next() {
		var id, owner uuid.UUID
		var attached bool
		var expires time.Time
		if err := rows.Scan(&id, &owner, &attached, &expires); err != nil {
			return nil, fmt.Errorf("check attachments: %w", err)
		}
		switch {
		case owner != tenant:
			found[id] = "not-found"
		case attached:
			found[id] = "attached"
		case !now.Before(expires):
			found[id] = "expired"
		default:
			found[id] = ""
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("check attachments: %w", err)
	}
	out := map[uuid.UUID]string{}
	for _, id := range ids {
		reason, ok := found[id]
		if !ok {
			reason = "not-found"
		}
		if reason != "" {
			out[id] = reason
		}
	}
	return out, nil
}

// FilesExpire deletes the records of unattached uploads past their expiry
// and of files attached to events received before cutoff (dropped by the
// log's retention; zero cutoff: none), and returns their ids so the caller
// removes their content.
func (s *Store) FilesExpire(ctx context.Context, now, cutoff time.Time) ([]uuid.UUID, error) {
	rows, err := s.pool.Query(ctx, `DELETE FROM files
		WHERE (event_id IS NULL AND expires_at <= $1) OR (event_id IS NOT NULL AND event_received_at < $2)
		RETURNING id`, now, cutoff)
	if err != nil {
		return nil, fmt.Errorf("expire files: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("expire files: %w", err)
	}
	return ids, nil
}
