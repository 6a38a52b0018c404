package postgres_test

import (
	"testing"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/internal/schema"
	"github.com/heraldhq/herald/internal/secretbox"
)

// TestMigrateRecordsLegacySchemaDialect: versions stored before schema
// dialects were recorded were compiled as their $schema said (else 2020-12)
// with "format" always asserted. Migration 0009 records exactly that, so they
// validate as before.
func TestMigrateRecordsLegacySchemaDialect(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	pool := openPool(t, heraldtest.NewDatabase(t), 4)

	// Back to the database as it was before 0009 (later migrations too).
	steps := 0
	for _, v := range migrationVersions(t) {
		if v >= 9 {
			steps++
		}
	}
	if err := postgres.MigrateDown(ctx, pool, steps, discard()); err != nil {
		t.Fatal(err)
	}
	if v := schemaVersion(t, pool); v >= 9 {
		t.Fatalf("SchemaVersion after MigrateDown = %d, want below 9", v)
	}
	tenant := uuid.New()
	if _, err := pool.Exec(ctx, `INSERT INTO tenants (id, name) VALUES ($1, 'legacy')`, tenant); err != nil {
		t.Fatal(err)
	}
	legacy := []struct {
		name, doc string
		draft     string
		format    bool
	}{
		{"com.legacy.plain", `{"type": "object"}`, "2020-12", false},
		{"com.legacy.any", `true`, "2020-12", false},
		{"com.legacy.email", `{"properties": {"email": {"format": "email"}}}`, "2020-12", true},
		{"com.legacy.d6", `{"$schema": "http://json-schema.org/draft-06/schema#"}`, "draft-06", true},
		{"com.legacy.d7", `{"$schema": "https://json-schema.org/draft-07/schema", "items": [{"type": "string"}]}`, "draft-07", true},
		{"com.legacy.d2019", `{"$schema": "https://json-schema.org/draft/2019-09/schema#", "format": "email"}`, "2019-09", true},
		{"com.legacy.d2020", `{"$schema": "https://json-schema.org/draft/2020-12/schema"}`, "2020-12", false},
	}
	for _, l := range legacy {
		if _, err := pool.Exec(ctx, `INSERT INTO event_types (name, tenant_id, version) VALUES ($1, $2, 1)`, l.name, tenant); err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `INSERT INTO event_type_versions (type_name, version, schema) VALUES ($1, 1, $2)`, l.name, l.doc); err != nil {
			t.Fatal(err)
		}
	}

	if err := postgres.Migrate(ctx, pool, discard()); err != nil {
		t.Fatal(err)
	}
	store := postgres.New(pool, secretbox.New(secretbox.GenerateKey()))
	for _, l := range legacy {
		et, err := store.EventTypeGet(ctx, l.name)
		if err != nil {
			t.Fatal(err)
		}
		if et.SchemaDraft != l.draft || et.FormatAssertion != l.format {
			t.Errorf("%s: recorded %s, format %v; want %s, %v", l.name, et.SchemaDraft, et.FormatAssertion, l.draft, l.format)
		}
		// Compiled as recorded, it asserts format as it always did.
		sch, err := schema.Compile(et.Schema, schema.Dialect{Draft: et.SchemaDraft, FormatAssertion: et.FormatAssertion})
		if err != nil {
			t.Fatalf("%s: %v", l.name, err)
		}
		if sch.Draft() != l.draft {
			t.Errorf("%s: compiled as %s, want %s", l.name, sch.Draft(), l.draft)
		}
	}
	email, _ := store.EventTypeGet(ctx, "com.legacy.email")
	sch, err := schema.Compile(email.Schema, schema.Dialect{Draft: email.SchemaDraft, FormatAssertion: email.FormatAssertion})
	if err != nil {
		t.Fatal(err)
	}
	if vs := sch.Validate([]byte(`{"email": "nobody"}`)); len(vs) != 1 || vs[0].Rule != "format" {
		t.Errorf("legacy 2020-12 schema no longer asserts format: %v", vs)
	}
}
