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

// RoutedEvent is what routing reads of a stored event (see
// catalog.StoredEvent), with what its callers need to place deliveries.
type RoutedEvent struct {
	ID         uuid.UUID
	ReceivedAt time.Time
	Seq        int64
	TenantID   uuid.UUID
	Type       string
	// PartitionKey orders deliveries to ordered endpoints.
	PartitionKey string
	// CEID is the event's CloudEvents id (with PartitionKey, it places the
	// event in a consumer group partition: herald.Partition).
	CEID string
	// To is the endpoint a test send was addressed to (uuid.Nil: none).
	To uuid.UUID
	// Body is the stored CloudEvents JSON, for filters (nil when the
	// caller did not ask for it).
	Body []byte
}

// routedEventColumns reads a RoutedEvent from events e, all but the body,
// which queries add (or NULL) as the last column.
const routedEventColumns = `e.id, e.received_at, e.seq, e.tenant_id, e.type, e.partition_key, e.ce_id, e.addressed_to`

// scanRoutedEvent scans a row of routedEventColumns and the body, after
// the columns that fill before (if any).
func scanRoutedEvent(row pgx.Row, before ...any) (*RoutedEvent, error) {
	var e RoutedEvent
	var to *uuid.UUID
	if err := row.Scan(append(before, &e.ID, &e.ReceivedAt, &e.Seq, &e.TenantID, &e.Type, &e.PartitionKey, &e.CEID, &to,
		&e.Body)...); err != nil {
		return nil, err
	}
	if to != nil {
		e.To = *to
	}
	return &e, nil
}

// EventRouted returns the routing view of one stored event, body included.
func (s *Store) EventRouted(ctx context.Context, db DBTX, id uuid.UUID, receivedAt time.Time) (*RoutedEvent, error) {
	e, err := scanRoutedEvent(db.QueryRow(ctx, `SELECT `+routedEventColumns+`, e.body FROM events e
		WHERE e.id = $1 AND e.received_at = $2`, raw(id), receivedAt))
	if err != nil {
		return nil, translate(err, "event "+id.String())
	}
	return e, nil
}

// EventAddress marks a stored test send as addressed to one endpoint, or a
// consumer's test event to its client, in the transaction that stores it,
// so that no path routes it elsewhere (replays and group backfills skip
// addressed events).
func (s *Store) EventAddress(ctx context.Context, db DBTX, id uuid.UUID, receivedAt time.Time, endpoint uuid.UUID) error {
	if _, err := db.Exec(ctx, `UPDATE events SET addressed_to = $3 WHERE id = $1 AND received_at = $2`,
		raw(id), receivedAt, raw(endpoint)); err != nil {
		return fmt.Errorf("address event %s: %w", id, err)
	}
	return nil
}

// EventCount counts stored events (used by tests and the benchmark).
func (s *Store) EventCount(ctx context.Context) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM events`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count events: %w", err)
	}
	return n, nil
}

// IngestRows is what one ingest transaction writes: events (one per key,
// in the same order) and the deliveries routed for them.
type IngestRows struct {
	ReceivedAt time.Time
	Keys       []EventKey
	Events     []*herald.Event
	Deliveries []*herald.Delivery
	// ConnectorRuns are the runs routed for the events; ingest writes those
	// of new events with ConnectorRunsInsert.
	ConnectorRuns []*herald.ConnectorRun
	// GroupRows are the consumer group log rows routed for the events
	// (GroupID, Partition and EventID; the statement adds the rest).
	GroupRows []GroupLogRow
	// RoutesVersion is set by IngestWrite: the config version of the last
	// consumer group change committed before the events were numbered.
	// Routing older than that must be done again, or a group would miss
	// events numbered after its creation (see log_head.go).
	RoutesVersion int64
}

// IngestWrite claims the events' keys and writes the new events and their
// deliveries in a single statement (one round trip): keys already taken are
// duplicates, and neither they nor their deliveries are written. It returns
// the sequence numbers of the new events by id, and the config version the
// statement saw, so the caller can check its routing was current.
func (s *Store) IngestWrite(ctx context.Context, db DBTX, r *IngestRows) (map[uuid.UUID]int64, int64, error) {
	n := len(r.Events)
	ids := make([][16]byte, n)
	tenants := make([][16]byte, n)
	producers := make([][16]byte, n)
	types := make([]string, n)
	sources := make([]string, n)
	ceIDs := make([]string, n)
	subjects := make([]string, n)
	pkeys := make([]string, n)
	versions := make([]int32, n)
	bodies := make([][]byte, n)
	for i, e := range r.Events {
		ids[i], tenants[i], producers[i] = e.ID, e.TenantID, e.ProducerID
		types[i], sources[i], ceIDs[i], subjects[i], pkeys[i] = e.Type, e.Source, e.CEID, e.Subject, e.PartitionKey
		versions[i], bodies[i] = int32(e.TypeVersion), e.Body
	}
	m := len(r.Deliveries)
	dIDs := make([][16]byte, m)
	dEvents := make([][16]byte, m)
	dEndpoints := make([][16]byte, m)
	dTenants := make([][16]byte, m)
	for i, d := range r.Deliveries {
		dIDs[i], dEvents[i], dEndpoints[i], dTenants[i] = d.ID, d.EventID, d.EndpointID, d.TenantID
	}
	g := len(r.GroupRows)
	gGroups := make([][16]byte, g)
	gParts := make([]int16, g)
	gEvents := make([][16]byte, g)
	for i, row := range r.GroupRows {
		gGroups[i], gParts[i], gEvents[i] = row.GroupID, int16(row.Partition), row.EventID
	}
	// Sequence numbers follow the order of r.Events (the order the events
	// were accepted in, which ordered delivery follows too), so that
	// readers of the log by seq see each key's events in order. The range
	// is taken from log_head, whose row lock is held until COMMIT: the next
	// committer waits for this one's commit before it numbers anything, so
	// commit order is sequence order and a reader of seq > cursor never
	// misses an event that commits later with a smaller number. Keys found
	// taken leave their numbers unused; holes are harmless, an order that
	// disagrees with commits is not. The claims are then made in key order,
	// so that concurrent commits lock keys in one order. The materialised
	// CTE fixes the numbers before the sort. The log head also carries the
	// config version of the last consumer group change: this statement's
	// snapshot may predate a change committed while it waited for the
	// lock, but the locked row is read as committed, so r.RoutesVersion
	// covers it. (It is read with a scalar subquery: joining h in the last
	// SELECT made the statement some 40 times slower, ~16 ms instead of
	// ~0.4 ms for one event.)
	rows, err := db.Query(ctx, `WITH h AS (
			UPDATE log_head SET seq = seq + cardinality($2::uuid[])
			RETURNING seq - cardinality($2::uuid[]) AS base, routes_version
		), s AS MATERIALIZED (
			SELECT u.id, u.tenant_id, u.source, u.ce_id, h.base + u.ord AS seq
			FROM h, unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[]) WITH ORDINALITY AS u(id, tenant_id, source, ce_id, ord)
			ORDER BY u.ord
		), k AS (
			INSERT INTO event_keys (tenant_id, source, ce_id, event_id, received_at, seq)
			SELECT s.tenant_id, s.source, s.ce_id, s.id, $1, s.seq FROM s
			ORDER BY s.tenant_id, s.source, s.ce_id
			ON CONFLICT DO NOTHING
			RETURNING event_id, seq
		), e AS (
			INSERT INTO events (id, received_at, seq, tenant_id, producer_id, type, source, ce_id, subject,
				partition_key, type_version, body)
			SELECT u.id, $1, k.seq, u.tenant_id, u.producer_id, u.type, u.source, u.ce_id, u.subject, u.pkey, u.tv, u.body
			FROM unnest($2::uuid[], $3::uuid[], $6::uuid[], $7::text[], $4::text[], $5::text[], $8::text[], $9::text[],
				$10::int[], $11::bytea[]) AS u(id, tenant_id, producer_id, type, source, ce_id, subject, pkey, tv, body)
			JOIN k ON k.event_id = u.id
		), d AS (
			INSERT INTO deliveries (id, created_at, event_id, endpoint_id, tenant_id, status, next_attempt_at)
			SELECT x.id, $1, x.event_id, x.endpoint_id, x.tenant_id, 'pending', $1
			FROM unnest($12::uuid[], $13::uuid[], $14::uuid[], $15::uuid[]) AS x(id, event_id, endpoint_id, tenant_id)
			JOIN k ON k.event_id = x.event_id
		), g AS (
			INSERT INTO group_log (group_id, partition, seq, event_id, received_at)
			SELECT x.group_id, x.partition, k.seq, x.event_id, $1
			FROM unnest($16::uuid[], $17::smallint[], $18::uuid[]) AS x(group_id, partition, event_id)
			JOIN k ON k.event_id = x.event_id
		)
		SELECT event_id, seq, NULL::bigint FROM k
		UNION ALL
		SELECT NULL, config_version, (SELECT routes_version FROM h) FROM herald_state`,
		r.ReceivedAt, ids, tenants, sources, ceIDs, producers, types, subjects, pkeys, versions, bodies,
		dIDs, dEvents, dEndpoints, dTenants, gGroups, gParts, gEvents)
	if err != nil {
		return nil, 0, fmt.Errorf("write events: %w", err)
	}
	defer rows.Close()
	seqs := make(map[uuid.UUID]int64, n)
	var version int64
	for rows.Next() {
		var id *uuid.UUID
		var v int64
		var routes *int64
		if err := rows.Scan(&id, &v, &routes); err != nil {
			return nil, 0, fmt.Errorf("write events: %w", err)
		}
		if id == nil {
			version, r.RoutesVersion = v, *routes
		} else {
			seqs[*id] = v
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("write events: %w", err)
	}
	return seqs, version, nil
}
