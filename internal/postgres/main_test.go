package postgres_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/internal/secretbox"
)

func TestMain(m *testing.M) {
	os.Exit(heraldtest.Main(m, func(ctx context.Context, dsn string) error {
		pool, err := postgres.OpenPool(ctx, dsn, 4)
		if err != nil {
			return err
		}
		defer pool.Close()
		return postgres.Migrate(ctx, pool, slog.New(slog.DiscardHandler))
	}))
}

// ctxT returns a context for one test, bounded so a hang fails the test
// instead of the whole binary.
func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// openPool connects to dsn and closes the pool when the test ends.
func openPool(t *testing.T, dsn string, maxConns int32) *pgxpool.Pool {
	t.Helper()
	pool, err := postgres.OpenPool(ctxT(t), dsn, maxConns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// newStore gives the test its own migrated database and a store over it.
func newStore(t *testing.T) (*postgres.Store, *pgxpool.Pool) {
	t.Helper()
	pool := openPool(t, heraldtest.NewDatabase(t), 8)
	return postgres.New(pool, secretbox.New(secretbox.GenerateKey())), pool
}

// fixture is a tenant with a consumer client and one active endpoint.
type fixture struct {
	store    *postgres.Store
	pool     *pgxpool.Pool
	tenant   *herald.Tenant
	client   *herald.Client
	endpoint *herald.Endpoint
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	store, pool := newStore(t)
	f := &fixture{store: store, pool: pool}
	f.tenant = createTenant(t, store, "acme")
	f.client = createClient(t, store, f.tenant.ID, "consumer", herald.RoleConsumer)
	f.endpoint = createEndpoint(t, store, f.tenant.ID, f.client.ID, "https://receiver.example/hook", "whsec_c2VjcmV0LWZvci10ZXN0cw==", "com.example.>")
	return f
}

func createTenant(t *testing.T, s *postgres.Store, name string) *herald.Tenant {
	t.Helper()
	tn := &herald.Tenant{ID: uuid.New(), Name: name}
	if err := s.TenantCreate(ctxT(t), tn); err != nil {
		t.Fatal(err)
	}
	return tn
}

func createClient(t *testing.T, s *postgres.Store, tenant uuid.UUID, name string, roles ...herald.Role) *herald.Client {
	t.Helper()
	key, secret := herald.NewCredential()
	c := &herald.Client{ID: uuid.New(), TenantID: tenant, Name: name, Key: key, SecretHash: herald.HashSecret(secret), Roles: roles}
	if err := s.ClientCreate(ctxT(t), c); err != nil {
		t.Fatal(err)
	}
	return c
}

func createEndpoint(t *testing.T, s *postgres.Store, tenant, client uuid.UUID, url, secret string, types ...string) *herald.Endpoint {
	t.Helper()
	e := &herald.Endpoint{
		ID: uuid.New(), TenantID: tenant, ClientID: client, URL: url, Types: types,
		Status: herald.EndpointActive, Secret: secret,
	}
	if err := s.EndpointCreate(ctxT(t), e); err != nil {
		t.Fatal(err)
	}
	return e
}

// newEvent builds an event received at at, with a CloudEvents body.
func newEvent(t *testing.T, tenant, producer uuid.UUID, at time.Time, source, ceID string) *herald.Event {
	t.Helper()
	body, err := json.Marshal(map[string]any{
		"specversion": "1.0", "id": ceID, "source": source, "type": "com.example.order.created",
		"datacontenttype": "application/json", "data": map[string]any{"order": ceID},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &herald.Event{
		ID: herald.NewID(at), ReceivedAt: at, TenantID: tenant, ProducerID: producer,
		Type: "com.example.order.created", Source: source, CEID: ceID, Subject: "subj-" + ceID,
		PartitionKey: "pk", TypeVersion: 1, Body: body,
	}
}

// ingestRows builds the rows of one ingest transaction: each event gets one
// delivery per endpoint.
func ingestRows(at time.Time, events []*herald.Event, endpoints ...*herald.Endpoint) *postgres.IngestRows {
	r := &postgres.IngestRows{ReceivedAt: at, Events: events}
	for _, e := range events {
		r.Keys = append(r.Keys, postgres.EventKey{TenantID: e.TenantID, Source: e.Source, CEID: e.CEID, EventID: e.ID, ReceivedAt: at})
		for _, ep := range endpoints {
			r.Deliveries = append(r.Deliveries, &herald.Delivery{
				ID: herald.NewID(at), CreatedAt: at, EventID: e.ID, EndpointID: ep.ID, TenantID: ep.TenantID,
				Status: herald.DeliveryPending,
			})
		}
	}
	return r
}

// ingest writes events (one delivery each to ep) received at at and
// returns the deliveries.
func (f *fixture) ingest(t *testing.T, at time.Time, ceIDs ...string) []*herald.Delivery {
	t.Helper()
	var events []*herald.Event
	for _, id := range ceIDs {
		events = append(events, newEvent(t, f.tenant.ID, f.client.ID, at, "/shop", id))
	}
	rows := ingestRows(at, events, f.endpoint)
	seqs, _, err := f.store.IngestWrite(ctxT(t), f.pool, rows)
	if err != nil {
		t.Fatal(err)
	}
	if len(seqs) != len(events) {
		t.Fatalf("IngestWrite wrote %d of %d events", len(seqs), len(events))
	}
	return rows.Deliveries
}

func configVersion(t *testing.T, db postgres.DBTX) int64 {
	t.Helper()
	v, err := postgres.ConfigVersion(ctxT(t), db)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
