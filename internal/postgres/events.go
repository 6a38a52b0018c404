package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/herald"
)

// EventKey identifies an event for idempotent ingest: a producer tenant's
// (source, id) pair, and the Herald id it was (or would be) stored under.
type EventKey struct {
	TenantID   uuid.UUID
	Source     string
	CEID       string
	EventID    uuid.UUID
	ReceivedAt time.Time
}

// StoredKey is what an earlier ingest stored for a key.
type StoredKey struct {
	EventID    uuid.UUID
	ReceivedAt time.Time
	Seq        int64
}

// EventKeysInsert claims keys for new events. It returns the sequence number
// of every event whose key was free, by event id; events whose key was taken
// are duplicates and absent from the map. Callers sort keys so concurrent
// batches lock them in the same order.
func (s *Store) EventKeysInsert(ctx context.Context, db DBTX, keys []EventKey) (map[uuid.UUID]int64, error) {
	tenants := make([]uuid.UUID, len(keys))
	sources := make([]string, len(keys))
	ids := make([]string, len(keys))
	eventIDs := make([]uuid.UUID, len(keys))
	times := make([]time.Time, len(keys))
	for i, k := range keys {
		tenants[i], sources[i], ids[i], eventIDs[i], times[i] = k.TenantID, k.Source, k.CEID, k.EventID, k.ReceivedAt
	}
	rows, err := db.Query(ctx, `INSERT INTO event_keys (tenant_id, source, ce_id, event_id, received_at)
		SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::timestamptz[])
		ON CONFLICT DO NOTHING
		RETURNING event_id, seq`, tenants, sources, ids, eventIDs, times)
	if err != nil {
		return nil, fmt.Errorf("insert event keys: %w", err)
	}
	defer rows.Close()
	out := make(map[uuid.UUID]int64, len(keys))
	for rows.Next() {
		var id uuid.UUID
		var seq int64
		if err := rows.Scan(&id, &seq); err != nil {
			return nil, fmt.Errorf("insert event keys: %w", err)
		}
		out[id] = seq
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("insert event keys: %w", err)
	}
	return out, nil
}

// EventKeysLookup returns what is stored for each key, in input order (zero
// StoredKey where none).
func (s *Store) EventKeysLookup(ctx context.Context, db DBTX, keys []EventKey) ([]StoredKey, error) {
	tenants := make([]uuid.UUID, len(keys))
	sources := make([]string, len(keys))
	ids := make([]string, len(keys))
	for i, k := range keys {
		tenants[i], sources[i], ids[i] = k.TenantID, k.Source, k.CEID
	}
	rows, err := db.Query(ctx, `SELECT k.ord, e.event_id, e.received_at, e.seq
		FROM unnest($1::uuid[], $2::text[], $3::text[]) WITH ORDINALITY AS k(tenant_id, source, ce_id, ord)
		JOIN event_keys e USING (tenant_id, source, ce_id)`, tenants, sources, ids)
	if err != nil {
		return nil, fmt.Errorf("look up event keys: %w", err)
	}
	defer rows.Close()
	out := make([]StoredKey, len(keys))
	for rows.Next() {
		var ord int
		var sk StoredKey
		if err := rows.Scan(&ord, &sk.EventID, &sk.ReceivedAt, &sk.Seq); err != nil {
			return nil, fmt.Errorf("look up event keys: %w", err)
		}
		out[ord-1] = sk
	}
	return out, rows.Err()
}

var eventCopyColumns = []string{"id", "received_at", "seq", "tenant_id", "producer_id", "type", "source", "ce_id",
	"subject", "partition_key", "type_version", "body"}

// EventsCopy writes events with COPY, the cheapest bulk path.
func (s *Store) EventsCopy(ctx context.Context, db DBTX, events []*herald.Event) error {
	_, err := db.CopyFrom(ctx, pgx.Identifier{"events"}, eventCopyColumns, pgx.CopyFromSlice(len(events), func(i int) ([]any, error) {
		e := events[i]
		return []any{e.ID, e.ReceivedAt, e.Seq, e.TenantID, e.ProducerID, e.Type, e.Source, e.CEID, e.Subject,
			e.PartitionKey, e.TypeVersion, e.Body}, nil
	}))
	if err != nil {
		return fmt.Errorf("copy events: %w", err)
	}
	return nil
}

var deliveryCopyColumns = []string{"id", "created_at", "event_id", "endpoint_id", "tenant_id", "status", "next_attempt_at"}

// DeliveriesCopy writes new pending deliveries with COPY.
func (s *Store) DeliveriesCopy(ctx context.Context, db DBTX, ds []*herald.Delivery) error {
	_, err := db.CopyFrom(ctx, pgx.Identifier{"deliveries"}, deliveryCopyColumns, pgx.CopyFromSlice(len(ds), func(i int) ([]any, error) {
		d := ds[i]
		return []any{d.ID, d.CreatedAt, d.EventID, d.EndpointID, d.TenantID, string(d.Status), d.CreatedAt}, nil
	}))
	if err != nil {
		return fmt.Errorf("copy deliveries: %w", err)
	}
	return nil
}

// EventGet returns one stored event. The id's embedded time names the
// partition, so the lookup touches one day.
func (s *Store) EventGet(ctx context.Context, id uuid.UUID) (*herald.Event, error) {
	var e herald.Event
	err := s.pool.QueryRow(ctx, `SELECT id, received_at, seq, tenant_id, producer_id, type, source, ce_id, subject,
		partition_key, type_version, body FROM events WHERE id = $1 AND received_at = $2`, id, herald.IDTime(id)).
		Scan(&e.ID, &e.ReceivedAt, &e.Seq, &e.TenantID, &e.ProducerID, &e.Type, &e.Source, &e.CEID, &e.Subject,
			&e.PartitionKey, &e.TypeVersion, &e.Body)
	if err != nil {
		return nil, translate(err, "event "+id.String())
	}
	return &e, nil
}

// EventCount counts stored events (used by tests and the benchmark).
func (s *Store) EventCount(ctx context.Context) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM events`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count events: %w", err)
	}
	return n, nil
}
