package postgres_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/postgres"
)

func TestConnectorSecretsEncryptedAndRoundTrip(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	c := &herald.Connector{ID: uuid.New(), TenantID: f.tenant.ID, ClientID: f.client.ID, Name: "mailer", Kind: "email",
		Types: []string{"com.example.>"}, Config: map[string]any{"host": "smtp.example.com"},
		Secrets: map[string]any{"password": "pl41ntext-password"}, Enabled: true}
	if err := f.store.ConnectorCreate(ctx, c); err != nil {
		t.Fatal(err)
	}
	var sealed []byte
	if err := f.pool.QueryRow(ctx, `SELECT secrets_enc FROM connectors WHERE id = $1`, c.ID).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if len(sealed) == 0 || bytes.Contains(sealed, []byte("pl41ntext")) {
		t.Fatalf("secrets_enc %q holds the plaintext", sealed)
	}
	got, err := f.store.ConnectorGet(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Secrets["password"] != "pl41ntext-password" || got.Config["host"] != "smtp.example.com" || got.MergedConfig()["password"] != "pl41ntext-password" {
		t.Fatalf("got %+v", got)
	}
	dup := *c
	dup.ID = uuid.New()
	if err := f.store.ConnectorCreate(ctx, &dup); !errors.Is(err, herald.ErrConflict) {
		t.Fatalf("duplicate name: %v", err)
	}
	// The routing catalog sees the connector, without code or secrets.
	cat, err := f.store.CatalogLoad(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Connectors) != 1 || cat.Connectors[0].Secrets != nil || cat.Connectors[0].ClientID != f.client.ID {
		t.Fatalf("catalog connectors %+v", cat.Connectors)
	}
	before := cat.Version
	got.Enabled = false
	if err := f.store.ConnectorUpdate(ctx, got); err != nil {
		t.Fatal(err)
	}
	if cat, err = f.store.CatalogLoad(ctx); err != nil || len(cat.Connectors) != 0 || cat.Version <= before {
		t.Fatalf("after disable: %+v %v", cat, err)
	}
}

func TestConnectorRunRecord(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	c := &herald.Connector{ID: uuid.New(), TenantID: f.tenant.ID, ClientID: f.client.ID, Name: "fn", Kind: "function",
		Types: []string{"com.example.>"}, Code: `() => "success"`, Enabled: true}
	if err := f.store.ConnectorCreate(ctx, c); err != nil {
		t.Fatal(err)
	}
	now := herald.Now()
	run := &herald.ConnectorRun{ID: herald.NewID(now), ConnectorID: c.ID, TenantID: f.tenant.ID, EventID: herald.NewID(now),
		EventReceivedAt: now, EventType: "com.example.x", Input: "com.example.x id=1", CreatedAt: now}
	if err := pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error { return f.store.ConnectorRunsInsert(ctx, tx, []*herald.ConnectorRun{run}) }); err != nil {
		t.Fatal(err)
	}
	tgt, err := f.store.ConnectorRunLoad(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if tgt.Connector == nil || tgt.Connector.Code != c.Code || tgt.Event != nil || tgt.Run.Status != herald.ConnectorRunPending {
		t.Fatalf("load %+v", tgt)
	}
	// 25 failed attempts: history keeps the last 20; a replayed attempt
	// number is not recorded twice.
	for i := 1; i <= 25; i++ {
		a := herald.ConnectorAttempt{Attempt: i, At: time.Now().UTC(), Status: "failed", Error: fmt.Sprint("boom ", i),
			Logs: []string{"line"}, Duration: time.Millisecond}
		ok, err := f.store.ConnectorRunRecord(ctx, run.ID, a, herald.ConnectorRunPending, time.Now().Add(time.Second))
		if err != nil || !ok {
			t.Fatalf("attempt %d: %v %v", i, ok, err)
		}
		if ok, err := f.store.ConnectorRunRecord(ctx, run.ID, a, herald.ConnectorRunPending, time.Time{}); err != nil || ok {
			t.Fatalf("attempt %d recorded twice: %v %v", i, ok, err)
		}
	}
	got, err := f.store.ConnectorRunGet(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Attempts != 25 || len(got.History) != 20 || got.History[0].Attempt != 6 || got.History[19].Error != "boom 25" || got.LastError != "boom 25" {
		t.Fatalf("run %+v", got)
	}
	// Retry is refused while pending; after failure it starts a new cycle.
	err = pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		_, err := f.store.ConnectorRunRetry(ctx, tx, run.ID, func(*herald.ConnectorRun) error { return nil })
		return err
	})
	if !errors.Is(err, herald.ErrConflict) {
		t.Fatalf("retry of a pending run: %v", err)
	}
	if err := f.store.ConnectorRunFail(ctx, run.ID, "gone"); err != nil {
		t.Fatal(err)
	}
	err = pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		r, err := f.store.ConnectorRunRetry(ctx, tx, run.ID, func(*herald.ConnectorRun) error { return nil })
		if err == nil && (r.RetryBase != 25 || r.Status != herald.ConnectorRunPending) {
			err = fmt.Errorf("retried run %+v", r)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// Retention removes old runs; deleting the connector removes the rest.
	if n, err := postgres.ConnectorRunsExpire(ctx, f.pool, now.Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("expire: %d %v", n, err)
	}
	if err := f.store.ConnectorDelete(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.ConnectorRunGet(ctx, run.ID); !errors.Is(err, herald.ErrNotFound) {
		t.Fatalf("run after delete: %v", err)
	}
}
