package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/herald"
)

const integrationColumns = `id, tenant_id, name, key, secret_hash, types, expires_at, revoked_at, last_used_at,
	created_at, updated_at`

func scanIntegration(row pgx.Row) (*herald.Integration, error) {
	var i herald.Integration
	var expires, revoked, used *time.Time
	if err := row.Scan(&i.ID, &i.TenantID, &i.Name, &i.Key, &i.SecretHash, &i.Types, &expires, &revoked, &used,
		&i.CreatedAt, &i.UpdatedAt); err != nil {
		return nil, err
	}
	i.ExpiresAt, i.RevokedAt, i.LastUsedAt = orZero(expires), orZero(revoked), orZero(used)
	return &i, nil
}

func orZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// IntegrationCreate inserts an integration credential.
func (s *Store) IntegrationCreate(ctx context.Context, i *herald.Integration) error {
	err := s.pool.QueryRow(ctx, `INSERT INTO integrations (id, tenant_id, name, key, secret_hash, types, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING created_at, updated_at`,
		i.ID, i.TenantID, i.Name, i.Key, i.SecretHash, i.Types, nullTime(i.ExpiresAt)).Scan(&i.CreatedAt, &i.UpdatedAt)
	return translate(err, "integration "+i.Name)
}

// IntegrationGet returns one integration credential.
func (s *Store) IntegrationGet(ctx context.Context, id uuid.UUID) (*herald.Integration, error) {
	i, err := scanIntegration(s.pool.QueryRow(ctx, `SELECT `+integrationColumns+` FROM integrations WHERE id = $1`, id))
	return i, translate(err, "integration "+id.String())
}

// IntegrationGetByKey returns the credential with a key (authentication
// reads it on every Integration API request, so a revocation takes effect
// at once on every node).
func (s *Store) IntegrationGetByKey(ctx context.Context, key string) (*herald.Integration, error) {
	if !herald.StorableText(key) {
		// No key holds such text, and PostgreSQL could not compare it.
		return nil, herald.NotFound("integration key")
	}
	i, err := scanIntegration(s.pool.QueryRow(ctx, `SELECT `+integrationColumns+` FROM integrations WHERE key = $1`, key))
	return i, translate(err, "integration key")
}

// IntegrationList returns a tenant's integrations (all tenants' when
// tenant is uuid.Nil), oldest first: with limit > 0, a page of them after
// the key (see PageKey; Time and ID).
func (s *Store) IntegrationList(ctx context.Context, tenant uuid.UUID, after PageKey, limit int) ([]*herald.Integration, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+integrationColumns+` FROM integrations
		WHERE ($1::uuid IS NULL OR tenant_id = $1) AND ($2 OR (created_at, id) > ($3, $4))
		ORDER BY created_at, id LIMIT $5`, nullUUID(tenant), after.IsZero(), after.Time, after.ID, limitArg(limit))
	return collect(rows, err, "list integrations", scanIntegration)
}

// IntegrationRotate replaces a live credential's secret hash; the old
// secret stops working at once.
func (s *Store) IntegrationRotate(ctx context.Context, id uuid.UUID, hash []byte) (*herald.Integration, error) {
	i, err := scanIntegration(s.pool.QueryRow(ctx, `UPDATE integrations SET secret_hash = $2, updated_at = now()
		WHERE id = $1 AND revoked_at IS NULL RETURNING `+integrationColumns, id, hash))
	if err == pgx.ErrNoRows {
		if _, gerr := s.IntegrationGet(ctx, id); gerr == nil {
			return nil, herald.Conflict("integration %s is revoked; create a new one", id)
		}
	}
	return i, translate(err, "integration "+id.String())
}

// IntegrationRevoke revokes a credential for good (idempotent).
func (s *Store) IntegrationRevoke(ctx context.Context, id uuid.UUID, at time.Time) (*herald.Integration, error) {
	i, err := scanIntegration(s.pool.QueryRow(ctx, `UPDATE integrations SET revoked_at = coalesce(revoked_at, $2),
		updated_at = now() WHERE id = $1 RETURNING `+integrationColumns, id, at))
	return i, translate(err, "integration "+id.String())
}

// AccessLogInsert records one Integration API request; a successful one
// also stamps the credential's last use (at most once a minute, so
// concurrent readers of one credential don't queue on its row lock).
func (s *Store) AccessLogInsert(ctx context.Context, e *herald.AccessEntry) error {
	_, err := s.pool.Exec(ctx, `WITH l AS (
			INSERT INTO integration_access_log (integration_id, tenant_id, at, remote_addr, method, path, event_id,
				file_id, status, outcome)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		)
		UPDATE integrations SET last_used_at = $3
		WHERE id = $1 AND $9 < 300 AND (last_used_at IS NULL OR last_used_at < $3 - interval '1 minute')`,
		e.IntegrationID, e.TenantID, e.At, e.RemoteAddr, e.Method, herald.LogText(e.Path), nullUUID(e.EventID), nullUUID(e.FileID),
		e.Status, e.Outcome)
	if err != nil {
		return fmt.Errorf("record integration access: %w", err)
	}
	return nil
}

// AccessLogList pages through an integration's access log, newest first:
// entries with ids below before (0: from the newest), at most limit.
func (s *Store) AccessLogList(ctx context.Context, integration uuid.UUID, before int64, limit int) ([]*herald.AccessEntry, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, integration_id, tenant_id, at, remote_addr, method, path, event_id,
			file_id, status, outcome
		FROM integration_access_log WHERE integration_id = $1 AND ($2 = 0 OR id < $2)
		ORDER BY id DESC LIMIT $3`, integration, before, limit)
	if err != nil {
		return nil, fmt.Errorf("list integration access: %w", err)
	}
	defer rows.Close()
	var out []*herald.AccessEntry
	for rows.Next() {
		var e herald.AccessEntry
		var ev, file *uuid.UUID
		if err := rows.Scan(&e.ID, &e.IntegrationID, &e.TenantID, &e.At, &e.RemoteAddr, &e.Method, &e.Path, &ev, &file,
			&e.Status, &e.Outcome); err != nil {
			return nil, fmt.Errorf("list integration access: %w", err)
		}
		if ev != nil {
			e.EventID = *ev
		}
		if file != nil {
			e.FileID = *file
		}
		out = append(out, &e)
	}
	return out, rows.Err()
}

// AccessLogExpire deletes access log entries older than before.
func (s *Store) AccessLogExpire(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM integration_access_log WHERE at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("expire integration access log: %w", err)
	}
	return tag.RowsAffected(), nil
}
