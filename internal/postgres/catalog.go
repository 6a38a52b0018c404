package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/herald"
)

// Catalog is everything authentication and routing read on the hot path,
// loaded in one consistent snapshot.
type Catalog struct {
	Version    int64
	Tenants    []*herald.Tenant
	Clients    []*herald.Client
	EventTypes []*herald.EventType
	// Endpoints holds active and pending endpoints: the ones routing may
	// pick (a pending endpoint's deliveries wait for its verification).
	Endpoints []*herald.Endpoint
	// Connectors holds the enabled connectors, without code or secrets.
	Connectors []*herald.Connector
}

// ConfigVersion returns the counter that changes with every write to
// tenants, clients, event types or endpoints.
func ConfigVersion(ctx context.Context, db DBTX) (int64, error) {
	var v int64
	if err := db.QueryRow(ctx, `SELECT config_version FROM herald_state`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read config version: %w", err)
	}
	return v, nil
}

// CatalogLoad reads the catalog in one repeatable-read transaction, so the
// version matches the rows.
func (s *Store) CatalogLoad(ctx context.Context) (*Catalog, error) {
	var c Catalog
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		if c.Version, err = ConfigVersion(ctx, tx); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+tenantColumns+` FROM tenants`)
		if err != nil {
			return fmt.Errorf("load tenants: %w", err)
		}
		for rows.Next() {
			t, err := scanTenant(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("load tenants: %w", err)
			}
			c.Tenants = append(c.Tenants, t)
		}
		rows.Close()
		rows, err = tx.Query(ctx, `SELECT `+clientColumns+` FROM clients`)
		if err != nil {
			return fmt.Errorf("load clients: %w", err)
		}
		for rows.Next() {
			cl, err := scanClient(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("load clients: %w", err)
			}
			c.Clients = append(c.Clients, cl)
		}
		rows.Close()
		if c.EventTypes, err = s.eventTypeList(ctx, tx); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT `+endpointColumns+` FROM endpoints WHERE status IN ('active', 'pending')`)
		if err != nil {
			return fmt.Errorf("load endpoints: %w", err)
		}
		c.Endpoints, err = s.collectEndpoints(rows)
		rows.Close()
		if err != nil {
			return err
		}
		c.Connectors, err = connectorsForCatalog(ctx, tx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("load catalog: %w", err)
	}
	return &c, nil
}
