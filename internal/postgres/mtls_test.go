package postgres_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/postgres"
)

func TestEndpointMTLSIsEncrypted(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	certPEM, keyPEM := heraldtest.NewCA(t, "ca").ClientCert(t, "herald")
	ep := &herald.Endpoint{ID: herald.NewID(time.Now()), TenantID: f.tenant.ID, ClientID: f.client.ID,
		URL: "https://mtls.example/hook", Types: []string{"com.>"}, Status: herald.EndpointActive,
		Secret: "whsec_c2VjcmV0", MTLS: &herald.ClientCert{Certificate: certPEM, PrivateKey: keyPEM}}
	if err := f.store.EndpointCreate(ctx, ep); err != nil {
		t.Fatal(err)
	}
	var sealed []byte
	if err := f.pool.QueryRow(ctx, `SELECT mtls_enc FROM endpoints WHERE id = $1`, ep.ID).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, keyPEM[30:60]) || bytes.Contains(sealed, []byte("PRIVATE KEY")) {
		t.Fatal("mtls_enc holds the plaintext key")
	}
	if _, err := f.store.OpenMTLS(f.endpoint.ID, sealed); err == nil {
		t.Fatal("another endpoint's id opened the client certificate")
	}
	got, err := f.store.EndpointGet(ctx, ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.MTLS == nil || !bytes.Equal(got.MTLS.Certificate, certPEM) || !bytes.Equal(got.MTLS.PrivateKey, keyPEM) {
		t.Fatalf("EndpointGet MTLS = %+v", got.MTLS)
	}

	// The delivery load carries it, still sealed.
	at := herald.Now()
	rows := ingestRows(at, []*herald.Event{newEvent(t, f.tenant.ID, f.client.ID, at, "/shop", "m1")}, ep)
	if _, _, err := f.store.IngestWrite(ctx, f.pool, rows); err != nil {
		t.Fatal(err)
	}
	d := rows.Deliveries[0]
	loaded, err := f.store.DeliveryLoadMany(ctx, []postgres.DeliveryKey{{ID: d.ID, CreatedAt: d.CreatedAt}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.store.OpenMTLS(ep.ID, loaded[d.ID].MTLSSealed)
	if err != nil || c == nil || !bytes.Equal(c.PrivateKey, keyPEM) {
		t.Fatalf("OpenMTLS of the loaded target = %v, %v", c, err)
	}

	// Removing it clears the column.
	got.MTLS = nil
	if err := f.store.EndpointUpdate(ctx, got); err != nil {
		t.Fatal(err)
	}
	if again, err := f.store.EndpointGet(ctx, ep.ID); err != nil || again.MTLS != nil {
		t.Fatalf("after removal: %+v, %v", again, err)
	}
}

// The exhausted mark: the load reports it, a claim succeeds once and only
// after the delivery succeeded.
func TestDeliveryExhaustedMark(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	d := f.ingest(t, herald.Now(), "x1")[0]
	key := postgres.DeliveryKey{ID: d.ID, CreatedAt: d.CreatedAt}
	exhausted := func() bool {
		t.Helper()
		got, err := f.store.DeliveryLoadMany(ctx, []postgres.DeliveryKey{key})
		if err != nil {
			t.Fatal(err)
		}
		return got[d.ID].Exhausted
	}
	if exhausted() {
		t.Fatal("a new delivery is marked exhausted")
	}
	if err := f.store.DeliverySetExhausted(ctx, d.ID, d.CreatedAt, true); err != nil {
		t.Fatal(err)
	}
	if !exhausted() {
		t.Fatal("mark not loaded")
	}
	if ok, err := f.store.DeliveryClaimRecovered(ctx, d.ID, d.CreatedAt); err != nil || ok {
		t.Fatalf("claim of a pending delivery = %v, %v; want false", ok, err)
	}
	rec := &postgres.AttemptRecord{DeliveryID: d.ID, CreatedAt: d.CreatedAt, EndpointID: d.EndpointID,
		Attempt: herald.Attempt{Attempt: 1, At: time.Now(), StatusCode: 200}, Status: herald.DeliverySucceeded}
	if err := f.store.DeliveryRecordAttempts(ctx, []*postgres.AttemptRecord{rec}); err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, false} {
		if ok, err := f.store.DeliveryClaimRecovered(ctx, d.ID, d.CreatedAt); err != nil || ok != want {
			t.Fatalf("claim #%d = %v, %v; want %v", i+1, ok, err, want)
		}
	}
	if exhausted() {
		t.Fatal("mark survived its claim")
	}
	// Clearing an unannounced mark works the same way.
	if err := f.store.DeliverySetExhausted(ctx, d.ID, d.CreatedAt, true); err != nil {
		t.Fatal(err)
	}
	if err := f.store.DeliverySetExhausted(ctx, d.ID, d.CreatedAt, false); err != nil {
		t.Fatal(err)
	}
	if ok, _ := f.store.DeliveryClaimRecovered(ctx, d.ID, d.CreatedAt); ok {
		t.Fatal("a cleared mark was claimed")
	}
}
