package postgres_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/postgres"
)

// TestSchemaVersionsCompareAsJSON: a schema is a new version only when it
// is other JSON: whitespace, member order, string escapes and number
// spellings do not count, and numbers are compared exactly (no float
// rounding). A \u0000 escape is stored and compared like any character.
func TestSchemaVersionsCompareAsJSON(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	steps := []struct {
		schema  string
		version int
	}{
		{`{"const": "a\u0000b", "maximum": 12345678901234567890, "minimum": 1.50}`, 1},
		{`{"minimum": 15e-1, "maximum": 1234567890123456789.0e1, "const": "\u0061\u0000\u0062"}`, 1},
		{`{"minimum": 1.5, "maximum": 12345678901234567891, "const": "a\u0000b"}`, 2}, // one digit off
		{`{"minimum": 1.5, "maximum": 12345678901234567891, "const": "a\u0000c"}`, 3},
		{`{"minimum": 1.5, "maximum": 12345678901234567891, "const": "a\u0000c", "x": -0}`, 4},
		{`{"minimum": 1.5, "maximum": 12345678901234567891, "const": "a\u0000c", "x": 0.0}`, 4},
		{`{"minimum": 1.5, "maximum": 12345678901234567891, "const": "a\u0000c", "x": [0]}`, 5},
	}
	for i, st := range steps {
		et := &herald.EventType{Name: "com.example.nul", TenantID: f.tenant.ID, Schema: []byte(st.schema), SchemaDraft: "2020-12",
			Producers: []uuid.UUID{}, Consumers: []uuid.UUID{}}
		if _, err := f.store.EventTypePut(ctx, et, func(*herald.EventType) error { return nil }); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if et.Version != st.version {
			t.Fatalf("step %d: %s is version %d, want %d", i, st.schema, et.Version, st.version)
		}
	}
	vs, err := f.store.EventTypeVersions(ctx, "com.example.nul")
	if err != nil {
		t.Fatal(err)
	}
	if string(vs[0].Schema) != steps[0].schema {
		t.Fatalf("version 1 stored as %s, want the bytes given: %s", vs[0].Schema, steps[0].schema)
	}
}

// TestMigration0008DownAndUp: the migration that keeps JSON documents as
// bytes reverts to jsonb with the documents' values (dropping \u0000
// escapes, which jsonb cannot hold, and only those) and applies again.
func TestMigration0008DownAndUp(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	schema := `{"const": "a\u0000b", "description": "a literal \\u0000 and \\\u0000"}`
	et := &herald.EventType{Name: "com.example.down", TenantID: f.tenant.ID, Schema: []byte(schema), SchemaDraft: "2020-12",
		Producers: []uuid.UUID{}, Consumers: []uuid.UUID{}}
	if _, err := f.store.EventTypePut(ctx, et, func(*herald.EventType) error { return nil }); err != nil {
		t.Fatal(err)
	}
	f.endpoint.Config = []byte(`{"sep":"\u0000","team":"a"}`)
	if err := f.store.EndpointUpdate(ctx, f.endpoint); err != nil {
		t.Fatal(err)
	}
	steps := 0
	for _, v := range migrationVersions(t) {
		if v >= 8 {
			steps++
		}
	}
	if err := postgres.MigrateDown(ctx, f.pool, steps, discard()); err != nil {
		t.Fatalf("migrate down: %v", err)
	}
	var typ, got, cfg string
	if err := f.pool.QueryRow(ctx, `SELECT pg_typeof(schema)::text, schema::text FROM event_type_versions
		WHERE type_name = 'com.example.down'`).Scan(&typ, &got); err != nil {
		t.Fatal(err)
	}
	if err := f.pool.QueryRow(ctx, `SELECT config ->> 'team' FROM endpoints WHERE id = $1`, f.endpoint.ID).Scan(&cfg); err != nil {
		t.Fatal(err)
	}
	if typ != "jsonb" || got != `{"const": "ab", "description": "a literal \\u0000 and \\"}` || cfg != "a" {
		t.Fatalf("after down: %s %s, config team %q", typ, got, cfg)
	}
	if err := postgres.Migrate(ctx, f.pool, discard()); err != nil {
		t.Fatalf("migrate up again: %v", err)
	}
	back, err := f.store.EventTypeGet(ctx, "com.example.down")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(back.Schema), `"const": "ab"`) {
		t.Fatalf("after up: %s", back.Schema)
	}
}
