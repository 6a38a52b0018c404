package postgres

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/herald"
)

const clientColumns = `id, tenant_id, name, key, secret_hash, roles, created_at`

func scanClient(row pgx.Row) (*herald.Client, error) {
	var c herald.Client
	var roles []string
	if err := row.Scan(&c.ID, &c.TenantID, &c.Name, &c.Key, &c.SecretHash, &roles, &c.CreatedAt); err != nil {
		return nil, err
	}
	c.Roles = make([]herald.Role, len(roles))
	for i, r := range roles {
		c.Roles[i] = herald.Role(r)
	}
	return &c, nil
}

func roleStrings(rs []herald.Role) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}

// ClientCreate inserts a client.
func (s *Store) ClientCreate(ctx context.Context, c *herald.Client) error {
	err := s.pool.QueryRow(ctx, `INSERT INTO clients (id, tenant_id, name, key, secret_hash, roles)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING created_at`,
		c.ID, c.TenantID, c.Name, c.Key, c.SecretHash, roleStrings(c.Roles)).Scan(&c.CreatedAt)
	return translate(err, "client "+c.Name)
}

// ClientGet returns one client.
func (s *Store) ClientGet(ctx context.Context, id uuid.UUID) (*herald.Client, error) {
	c, err := scanClient(s.pool.QueryRow(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = $1`, id))
	return c, translate(err, "client "+id.String())
}

// ClientList returns the clients of one tenant, or of all tenants when
// tenant is uuid.Nil, oldest first: with limit > 0, a page of them after
// the key (see PageKey; Time and ID).
func (s *Store) ClientList(ctx context.Context, tenant uuid.UUID, after PageKey, limit int) ([]*herald.Client, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+clientColumns+` FROM clients
		WHERE ($1::uuid IS NULL OR tenant_id = $1) AND ($2 OR (created_at, id) > ($3, $4))
		ORDER BY created_at, id LIMIT $5`, nullUUID(tenant), after.IsZero(), after.Time, after.ID, limitArg(limit))
	return collect(rows, err, "list clients", scanClient)
}

// ClientSetSecret replaces a client's secret hash; the old secret stops
// working as soon as each node's catalog sees the change (the write bumps
// the config version routing and authentication follow).
func (s *Store) ClientSetSecret(ctx context.Context, id uuid.UUID, hash []byte) error {
	tag, err := s.pool.Exec(ctx, `UPDATE clients SET secret_hash = $2 WHERE id = $1`, id, hash)
	if err != nil {
		return translate(err, "client "+id.String())
	}
	if tag.RowsAffected() == 0 {
		return herald.NotFound("client %s", id)
	}
	return nil
}

// ClientDelete removes a client; its credential stops working.
func (s *Store) ClientDelete(ctx context.Context, id uuid.UUID) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM clients WHERE id = $1`, id)
	if err != nil {
		return translate(err, "client "+id.String())
	}
	if tag.RowsAffected() == 0 {
		return herald.NotFound("client %s", id)
	}
	return nil
}

// ClientEnsure makes sure a client with c.Key exists with c's tenant, roles
// and secret hash (used for the bootstrap admin): created if missing,
// updated otherwise. c.ID is set to the stored id.
func (s *Store) ClientEnsure(ctx context.Context, c *herald.Client) error {
	err := s.pool.QueryRow(ctx, `INSERT INTO clients (id, tenant_id, name, key, secret_hash, roles)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (key) DO UPDATE SET tenant_id = EXCLUDED.tenant_id, secret_hash = EXCLUDED.secret_hash,
			roles = EXCLUDED.roles
		RETURNING id, created_at`,
		c.ID, c.TenantID, c.Name, c.Key, c.SecretHash, roleStrings(c.Roles)).Scan(&c.ID, &c.CreatedAt)
	return translate(err, "client "+c.Key)
}

func nullUUID(id uuid.UUID) *uuid.UUID {
	if id == uuid.Nil {
		return nil
	}
	return &id
}
