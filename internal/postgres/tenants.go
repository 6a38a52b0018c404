package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/heraldhq/herald/internal/herald"
)

const tenantColumns = `id, name, platform, brand_name, brand_logo_url, brand_color, created_at`

func scanTenant(row pgx.Row) (*herald.Tenant, error) {
	var t herald.Tenant
	b := &t.Branding
	if err := row.Scan(&t.ID, &t.Name, &t.Platform, &b.Name, &b.LogoURL, &b.Color, &t.CreatedAt); err != nil {
		return nil, err
	}
	return &t, nil
}

// TenantSetBranding replaces a tenant's portal branding.
func (s *Store) TenantSetBranding(ctx context.Context, id uuid.UUID, b herald.Branding) error {
	tag, err := s.pool.Exec(ctx, `UPDATE tenants SET brand_name = $2, brand_logo_url = $3, brand_color = $4 WHERE id = $1`,
		id, b.Name, b.LogoURL, b.Color)
	if err != nil {
		return translate(err, "tenant "+id.String())
	}
	if tag.RowsAffected() == 0 {
		return herald.NotFound("tenant %s", id)
	}
	return nil
}

// TenantCreate inserts a tenant; a taken name is a conflict.
func (s *Store) TenantCreate(ctx context.Context, t *herald.Tenant) error {
	err := s.pool.QueryRow(ctx, `INSERT INTO tenants (id, name, platform) VALUES ($1, $2, $3) RETURNING created_at`,
		t.ID, t.Name, t.Platform).Scan(&t.CreatedAt)
	return translate(err, fmt.Sprintf("tenant %q", t.Name))
}

// TenantGet returns one tenant.
func (s *Store) TenantGet(ctx context.Context, id uuid.UUID) (*herald.Tenant, error) {
	t, err := scanTenant(s.pool.QueryRow(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE id = $1`, id))
	return t, translate(err, "tenant "+id.String())
}

// TenantList returns all tenants by name: with limit > 0, a page of them
// after the key (see PageKey; Name, unique).
func (s *Store) TenantList(ctx context.Context, after PageKey, limit int) ([]*herald.Tenant, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+tenantColumns+` FROM tenants
		WHERE $1 OR name > $2 ORDER BY name LIMIT $3`, after.IsZero(), after.Name, limitArg(limit))
	return collect(rows, err, "list tenants", scanTenant)
}

// TenantDelete removes a tenant with its clients and endpoints. A tenant that
// still owns event types cannot be deleted (their events and consumers
// depend on them): that is a conflict.
func (s *Store) TenantDelete(ctx context.Context, id uuid.UUID) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM tenants WHERE id = $1 AND NOT platform`, id)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" {
		return herald.Conflict("tenant %s still owns event types; move or delete them first", id)
	}
	if err != nil {
		return translate(err, "tenant "+id.String())
	}
	if tag.RowsAffected() == 0 {
		return herald.NotFound("tenant %s", id)
	}
	return nil
}

// TenantEnsurePlatform returns the platform tenant, creating it on first
// start.
func (s *Store) TenantEnsurePlatform(ctx context.Context) (*herald.Tenant, error) {
	_, err := s.pool.Exec(ctx, `INSERT INTO tenants (id, name, platform) VALUES ($1, 'platform', true)
		ON CONFLICT (name) DO NOTHING`, uuid.New())
	if err != nil {
		return nil, fmt.Errorf("ensure platform tenant: %w", err)
	}
	t, err := scanTenant(s.pool.QueryRow(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE platform ORDER BY created_at LIMIT 1`))
	if err != nil {
		return nil, fmt.Errorf("ensure platform tenant: %w", err)
	}
	return t, nil
}
