package postgres_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/internal/secretbox"
)

func TestEndpointSecretIsEncrypted(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	const secret = "whsec_cGxhaW50ZXh0LXNlY3JldC12YWx1ZQ=="
	ep := createEndpoint(t, f.store, f.tenant.ID, f.client.ID, "https://x.example/", secret, "com.example.>")
	other := createEndpoint(t, f.store, f.tenant.ID, f.client.ID, "https://y.example/", secret, "com.example.>")

	var sealed, sealedOther []byte
	if err := f.pool.QueryRow(ctx, `SELECT secret_enc FROM endpoints WHERE id = $1`, ep.ID).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if err := f.pool.QueryRow(ctx, `SELECT secret_enc FROM endpoints WHERE id = $1`, other.ID).Scan(&sealedOther); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{secret, strings.TrimPrefix(secret, "whsec_")} {
		if bytes.Contains(sealed, []byte(s)) {
			t.Fatalf("secret_enc contains the plaintext %q", s)
		}
	}
	if bytes.Equal(sealed, sealedOther) {
		t.Error("two endpoints with the same secret have the same ciphertext")
	}

	got, err := f.store.OpenSecret(ep.ID, sealed)
	if err != nil || got != secret {
		t.Fatalf("OpenSecret = %q, %v; want %q", got, err, secret)
	}
	// The ciphertext is bound to its endpoint: another id does not open it.
	if got, err := f.store.OpenSecret(other.ID, sealed); err == nil {
		t.Errorf("OpenSecret with another endpoint's id succeeded: %q", got)
	}
	// Nor does another key.
	stranger := postgres.New(f.pool, secretbox.New(secretbox.GenerateKey()))
	if _, err := stranger.OpenSecret(ep.ID, sealed); err == nil {
		t.Error("OpenSecret with another master key succeeded")
	}

	// The secret is not readable through EndpointGet or EndpointList.
	e, err := f.store.EndpointGet(ctx, ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	if e.Secret != "" {
		t.Errorf("EndpointGet returned the secret")
	}
	if e.URL != ep.URL || e.Status != herald.EndpointActive || e.ClientID != f.client.ID || len(e.Types) != 1 {
		t.Errorf("EndpointGet = %+v", e)
	}
}
