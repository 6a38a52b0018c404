package postgres_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/herald"
)

func TestConfigVersionBumps(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	tests := []struct {
		name  string
		write func(t *testing.T)
	}{
		{"tenant create", func(t *testing.T) { createTenant(t, f.store, "tenant-"+uuid.NewString()) }},
		{"tenant delete", func(t *testing.T) {
			tn := createTenant(t, f.store, "doomed-"+uuid.NewString())
			before := configVersion(t, f.pool)
			if err := f.store.TenantDelete(ctx, tn.ID); err != nil {
				t.Fatal(err)
			}
			if after := configVersion(t, f.pool); after <= before {
				t.Errorf("TenantDelete: version %d -> %d", before, after)
			}
		}},
		{"client create", func(t *testing.T) { createClient(t, f.store, f.tenant.ID, "c", herald.RoleProducer) }},
		{"client delete", func(t *testing.T) {
			c := createClient(t, f.store, f.tenant.ID, "gone", herald.RoleConsumer)
			before := configVersion(t, f.pool)
			if err := f.store.ClientDelete(ctx, c.ID); err != nil {
				t.Fatal(err)
			}
			if after := configVersion(t, f.pool); after <= before {
				t.Errorf("ClientDelete: version %d -> %d", before, after)
			}
		}},
		{"event type put", func(t *testing.T) {
			et := &herald.EventType{Name: "com.example.v" + strings.ReplaceAll(uuid.NewString(), "-", ""), TenantID: f.tenant.ID, Schema: []byte(`true`), SchemaDraft: "2020-12", Producers: []uuid.UUID{}, Consumers: []uuid.UUID{}}
			if _, err := f.store.EventTypePut(ctx, et, nil); err != nil {
				t.Fatal(err)
			}
		}},
		{"endpoint create", func(t *testing.T) {
			createEndpoint(t, f.store, f.tenant.ID, f.client.ID, "https://z.example/", "whsec_eg==", "a.b")
		}},
		{"endpoint update", func(t *testing.T) {
			e := *f.endpoint
			e.Description = "changed " + uuid.NewString()
			if err := f.store.EndpointUpdate(ctx, &e); err != nil {
				t.Fatal(err)
			}
		}},
		{"endpoint disable", func(t *testing.T) {
			e := createEndpoint(t, f.store, f.tenant.ID, f.client.ID, "https://d.example/", "whsec_ZA==", "a.b")
			before := configVersion(t, f.pool)
			if err := f.store.EndpointDisable(ctx, e.ID, "410"); err != nil {
				t.Fatal(err)
			}
			if after := configVersion(t, f.pool); after <= before {
				t.Errorf("EndpointDisable: version %d -> %d", before, after)
			}
		}},
		{"endpoint delete", func(t *testing.T) {
			e := createEndpoint(t, f.store, f.tenant.ID, f.client.ID, "https://e.example/", "whsec_ZQ==", "a.b")
			before := configVersion(t, f.pool)
			if err := f.store.EndpointDelete(ctx, e.ID); err != nil {
				t.Fatal(err)
			}
			if after := configVersion(t, f.pool); after <= before {
				t.Errorf("EndpointDelete: version %d -> %d", before, after)
			}
		}},
	}
	// Sequential: every case reads the one counter of the database.
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := configVersion(t, f.pool)
			tt.write(t)
			if after := configVersion(t, f.pool); after <= before {
				t.Errorf("version %d -> %d, want it to grow", before, after)
			}
		})
	}

	// Writes elsewhere (events, deliveries) leave it alone.
	before := configVersion(t, f.pool)
	f.ingest(t, herald.Now(), "no-bump")
	if after := configVersion(t, f.pool); after != before {
		t.Errorf("ingest changed the config version %d -> %d", before, after)
	}
}

func TestCatalogLoad(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	off := createEndpoint(t, f.store, f.tenant.ID, f.client.ID, "https://off.example/", "whsec_b2Zm", "com.>")
	if err := f.store.EndpointDisable(ctx, off.ID, "testing"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.EventTypePut(ctx, &herald.EventType{Name: "com.example.a", TenantID: f.tenant.ID, Schema: []byte(`{}`), SchemaDraft: "2020-12", Producers: []uuid.UUID{}, Consumers: []uuid.UUID{}}, nil); err != nil {
		t.Fatal(err)
	}
	c, err := f.store.CatalogLoad(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Version != configVersion(t, f.pool) {
		t.Errorf("Catalog.Version = %d, want %d", c.Version, configVersion(t, f.pool))
	}
	if len(c.Tenants) != 1 || len(c.Clients) != 1 || len(c.EventTypes) != 1 {
		t.Errorf("catalog has %d tenants, %d clients, %d types; want 1 each", len(c.Tenants), len(c.Clients), len(c.EventTypes))
	}
	if len(c.Endpoints) != 1 || c.Endpoints[0].ID != f.endpoint.ID {
		t.Errorf("catalog endpoints = %v, want only the active one", c.Endpoints)
	}
}
