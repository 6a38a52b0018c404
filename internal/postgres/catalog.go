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
	// ConsumerGroups holds every consumer group (routing writes their logs).
	ConsumerGroups []*herald.ConsumerGroup
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
		if c.Tenants, err = collect(rows, err, "load tenants", scanTenant); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT `+clientColumns+` FROM clients`)
		if c.Clients, err = collect(rows, err, "load clients", scanClient); err != nil {
			return err
		}
		if c.EventTypes, err = s.eventTypeList(ctx, tx); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT `+endpointColumns+` FROM endpoints WHERE status IN ('active', 'pending')`)
		if c.Endpoints, err = collect(rows, err, "load endpoints", s.scanEndpoint); err != nil {
			return err
		}
		if c.Connectors, err = connectorsForCatalog(ctx, tx); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT `+consumerGroupColumns+` FROM consumer_groups`)
		c.ConsumerGroups, err = collect(rows, err, "load consumer groups", scanConsumerGroup)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("load catalog: %w", err)
	}
	return &c, nil
}
