package postgres_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/herald"
)

// schemas in the tests below.
const (
	schemaV1 = `{"type": "object", "required": ["order"], "properties": {"order": {"type": "string"}}}`
	// The same JSON with other whitespace and key order.
	schemaV1Reformatted = `{
		"properties": {"order": {"type": "string"}},
		"required": ["order"],
		"type":"object"
	}`
	schemaV2 = `{"type": "object", "required": ["order", "qty"], "properties": {"order": {"type": "string"}, "qty": {"type": "integer"}}}`
)

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("decode %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

func TestEventTypePut(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	const name = "com.example.order.created"
	allowAll := func(*herald.EventType) error { return nil }
	var putAs func(schema, description, draft string, format bool, allowed func(*herald.EventType) error) (*herald.EventType, bool, error)
	put := func(schema, description string, allowed func(*herald.EventType) error) (*herald.EventType, bool, error) {
		return putAs(schema, description, "2020-12", false, allowed)
	}
	putAs = func(schema, description, draft string, format bool, allowed func(*herald.EventType) error) (*herald.EventType, bool, error) {
		et := &herald.EventType{
			Name: name, TenantID: f.tenant.ID, Description: description, Schema: []byte(schema),
			SchemaDraft: draft, FormatAssertion: format, Producers: []uuid.UUID{f.client.ID}, Consumers: []uuid.UUID{},
		}
		created, err := f.store.EventTypePut(ctx, et, allowed)
		return et, created, err
	}

	steps := []struct {
		name        string
		schema      string
		draft       string
		format      bool
		description string
		wantCreated bool
		wantVersion int
	}{
		{"new type", schemaV1, "2020-12", false, "first", true, 1},
		{"same schema", schemaV1, "2020-12", false, "second", false, 1},
		{"reformatted schema", schemaV1Reformatted, "2020-12", false, "third", false, 1},
		{"changed schema", schemaV2, "2020-12", false, "fourth", false, 2},
		{"changed schema again", schemaV2, "2020-12", false, "fifth", false, 2},
		// How the schema is read is part of the version.
		{"other draft", schemaV2, "2019-09", false, "sixth", false, 3},
		{"format assertion", schemaV2, "2019-09", true, "seventh", false, 4},
		{"back to 2020-12", schemaV2, "2020-12", false, "fifth", false, 5},
	}
	for _, st := range steps { // in order: each builds on the last
		et, created, err := putAs(st.schema, st.description, st.draft, st.format, allowAll)
		if err != nil {
			t.Fatalf("%s: EventTypePut: %v", st.name, err)
		}
		if created != st.wantCreated || et.Version != st.wantVersion {
			t.Errorf("%s: created %v version %d, want %v %d", st.name, created, et.Version, st.wantCreated, st.wantVersion)
		}
		if et.Description != st.description || et.TenantID != f.tenant.ID || len(et.Producers) != 1 || et.CreatedAt.IsZero() {
			t.Errorf("%s: returned type %+v", st.name, et)
		}
		if !jsonEqual(t, et.Schema, []byte(st.schema)) || et.SchemaDraft != st.draft || et.FormatAssertion != st.format {
			t.Errorf("%s: schema %s %s %v, want %s %s %v", st.name, et.Schema, et.SchemaDraft, et.FormatAssertion,
				st.schema, st.draft, st.format)
		}
	}

	versions, err := f.store.EventTypeVersions(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if len(versions) != 5 || versions[0].Version != 1 || versions[1].Version != 2 {
		t.Fatalf("EventTypeVersions = %+v, want versions 1 to 5", versions)
	}
	if !jsonEqual(t, versions[0].Schema, []byte(schemaV1)) || !jsonEqual(t, versions[1].Schema, []byte(schemaV2)) {
		t.Errorf("EventTypeVersions schemas = %s, %s", versions[0].Schema, versions[1].Schema)
	}
	if v := versions[3]; v.SchemaDraft != "2019-09" || !v.FormatAssertion {
		t.Errorf("version 4 is read as %s, format %v; want 2019-09, true", v.SchemaDraft, v.FormatAssertion)
	}

	// allowed sees the stored row and its refusal aborts the change.
	refusal := errors.New("not the owner")
	var seen *herald.EventType
	_, _, err = put(`{"type": "string"}`, "refused", func(existing *herald.EventType) error {
		seen = existing
		return refusal
	})
	if !errors.Is(err, refusal) {
		t.Fatalf("refused put: err = %v, want the refusal", err)
	}
	if seen == nil || seen.Version != 5 || seen.Description != "fifth" {
		t.Errorf("allowed saw %+v", seen)
	}
	got, err := f.store.EventTypeGet(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 5 || got.Description != "fifth" || !jsonEqual(t, got.Schema, []byte(schemaV2)) || got.SchemaDraft != "2020-12" {
		t.Errorf("refused put changed the type: %+v", got)
	}
	if versions, _ := f.store.EventTypeVersions(ctx, name); len(versions) != 5 {
		t.Errorf("refused put added a version: %d versions", len(versions))
	}

	// A new type does not consult allowed.
	other := &herald.EventType{Name: "com.example.other", TenantID: f.tenant.ID, Schema: []byte(`true`), SchemaDraft: "2020-12", Producers: []uuid.UUID{}, Consumers: []uuid.UUID{}}
	created, err := f.store.EventTypePut(ctx, other, func(*herald.EventType) error { return refusal })
	if err != nil || !created || other.Version != 1 {
		t.Errorf("new type with a refusing allowed: created %v version %d err %v", created, other.Version, err)
	}
	if _, err := f.store.EventTypeVersions(ctx, "com.example.missing"); !errors.Is(err, herald.ErrNotFound) {
		t.Errorf("EventTypeVersions of an unknown type: err = %v, want not found", err)
	}
	list, err := f.store.EventTypeList(ctx)
	if err != nil || len(list) != 2 || list[0].Name != name || list[1].Name != "com.example.other" {
		t.Errorf("EventTypeList = %v, %v", list, err)
	}
}

// An update of a type that waits for another transaction's update of the
// same type (the row lock) must go on from the version that one committed.
func TestEventTypePutAfterConcurrentUpdate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	const name = "com.example.concurrent"
	newType := func(schema string) *herald.EventType {
		return &herald.EventType{Name: name, TenantID: f.tenant.ID, Schema: []byte(schema), SchemaDraft: "2020-12", Producers: []uuid.UUID{}, Consumers: []uuid.UUID{}}
	}
	allowAll := func(*herald.EventType) error { return nil }
	if _, err := f.store.EventTypePut(ctx, newType(schemaV1), allowAll); err != nil {
		t.Fatal(err)
	}

	// Another node is in the middle of EventTypePut with a new schema: it
	// holds the row lock and has written version 2.
	other, err := f.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = other.Rollback(ctx) }()
	for _, q := range []string{
		`SELECT 1 FROM event_types WHERE name = $1 FOR UPDATE`,
		`INSERT INTO event_type_versions (type_name, version, schema, schema_draft, format_assertion)
			VALUES ($1, 2, '{"type": "object"}', '2020-12', false)`,
		`UPDATE event_types SET version = 2, updated_at = now() WHERE name = $1`,
	} {
		if _, err := other.Exec(ctx, q, name); err != nil {
			t.Fatal(err)
		}
	}

	type result struct {
		t   *herald.EventType
		err error
	}
	done := make(chan result, 1)
	go func() {
		et := newType(schemaV2)
		_, err := f.store.EventTypePut(ctx, et, allowAll)
		done <- result{et, err}
	}()
	// Wait until our EventTypePut waits for the row lock, then let the
	// other one commit.
	for {
		var waiting bool
		if err := f.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock')`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting {
			break
		}
		select {
		case r := <-done:
			t.Fatalf("EventTypePut did not wait for the row lock: %+v, %v", r.t, r.err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	if err := other.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("EventTypePut after a concurrent update: %v", r.err)
	}
	if r.t.Version != 3 {
		t.Errorf("version %d, want 3", r.t.Version)
	}
	versions, err := f.store.EventTypeVersions(ctx, name)
	if err != nil || len(versions) != 3 {
		t.Errorf("EventTypeVersions = %+v, %v; want 3 versions", versions, err)
	}
}
