package app_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// jwksKeys parses a JWKS document into public keys by kid, the way a
// receiver would.
func jwksKeys(t *testing.T, doc []byte) map[string]crypto.PublicKey {
	t.Helper()
	var set struct {
		Keys []struct{ Kid, Kty, Crv, X, Y string } `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		t.Fatalf("jwks %s: %v", doc, err)
	}
	b64 := func(s string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	out := map[string]crypto.PublicKey{}
	for _, k := range set.Keys {
		switch k.Kty {
		case "EC":
			out[k.Kid] = &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(b64(k.X)), Y: new(big.Int).SetBytes(b64(k.Y))}
		case "OKP":
			out[k.Kid] = ed25519.PublicKey(b64(k.X))
		}
	}
	return out
}

// TestJWTAuthVerifiesAgainstJWKS: an endpoint with jwt auth receives a
// short-lived token for its own URL that verifies with Herald's published
// keys.
func TestJWTAuthVerifiesAgainstJWKS(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	rc := newReceiver(t)
	var mu sync.Mutex
	var authz, webhookID string
	rc.srv.Config.Handler = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		authz, webhookID = r.Header.Get("Authorization"), r.Header.Get("webhook-id")
		mu.Unlock()
		rw.WriteHeader(http.StatusNoContent)
	})
	m := e.must(201, e.do(w.consumer, "POST", "/v1/endpoints", map[string]any{
		"url": rc.URL(), "types": []string{w.typ}, "auth": map[string]any{"type": "jwt"},
	}))
	if m["auth"].(map[string]any)["type"] != "jwt" {
		t.Fatalf("endpoint = %v", m)
	}
	stored := e.must(202, e.send(w.producer, orderEvent("jwt-1", 1)))["events"].([]any)[0].(map[string]any)
	eventually(t, 10*time.Second, "delivery", func() bool { mu.Lock(); defer mu.Unlock(); return authz != "" })

	r := e.do(cred{}, "GET", "/.well-known/jwks.json", nil)
	if r.status != 200 || strings.Contains(string(r.body), `"d"`) {
		t.Fatalf("jwks: %d %s", r.status, r.body)
	}
	keys := jwksKeys(t, r.body)
	mu.Lock()
	raw, _ := strings.CutPrefix(authz, "Bearer ")
	id := webhookID
	mu.Unlock()
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(tok *jwt.Token) (any, error) {
		k, ok := keys[fmt.Sprint(tok.Header["kid"])]
		if !ok {
			return nil, fmt.Errorf("unknown kid %v", tok.Header["kid"])
		}
		return k, nil
	}, jwt.WithAudience(rc.URL()), jwt.WithIssuer(e.app.URL()), jwt.WithExpirationRequired(),
		jwt.WithValidMethods([]string{"ES256", "EdDSA"}))
	if err != nil {
		t.Fatalf("token does not verify against the JWKS: %v", err)
	}
	if claims["event_id"] != stored["id"] || claims["webhook_id"] != id || claims["jti"] == "" {
		t.Fatalf("claims = %v (event %v, webhook-id %s)", claims, stored["id"], id)
	}
	// The same token does not pass for another endpoint URL.
	if _, err := jwt.Parse(raw, func(tok *jwt.Token) (any, error) { return keys[fmt.Sprint(tok.Header["kid"])], nil },
		jwt.WithAudience("https://elsewhere.example/hook")); err == nil {
		t.Fatal("token accepted for another audience")
	}
}

// TestOAuth2AuthFetchesCachesAndRefreshes: Herald fetches a token from the
// partner's token endpoint once, reuses it, and fetches a new one after the
// endpoint answers 401.
func TestOAuth2AuthFetchesCachesAndRefreshes(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	var issued atomic.Int32
	tokenSrv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if err := r.ParseForm(); err != nil || !ok || user != "herald-client" || pass != "s3cret" ||
			r.PostForm.Get("grant_type") != "client_credentials" || r.PostForm.Get("scope") != "events:write" {
			http.Error(rw, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		n := issued.Add(1)
		rw.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(rw, `{"access_token":"tok-%d","token_type":"Bearer","expires_in":3600}`, n)
	}))
	t.Cleanup(tokenSrv.Close)

	rc := newReceiver(t)
	var revoked atomic.Bool
	var mu sync.Mutex
	seen := map[string]int{}
	rc.respond = func(_ int, r *http.Request) int {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		mu.Lock()
		seen[tok]++
		mu.Unlock()
		if tok == "" || (tok == "tok-1" && revoked.Load()) {
			return http.StatusUnauthorized
		}
		return http.StatusNoContent
	}
	m := e.must(201, e.do(w.consumer, "POST", "/v1/endpoints", map[string]any{
		"url": rc.URL(), "types": []string{w.typ},
		"auth": map[string]any{"type": "oauth2", "token_url": tokenSrv.URL + "/token", "client_id": "herald-client",
			"client_secret": "s3cret", "scopes": []string{"events:write"}},
	}))
	rc.secret = m["secret"].(string)
	if a := m["auth"].(map[string]any); a["client_secret"] != nil || a["client_id"] != "herald-client" {
		t.Fatalf("auth shown as %v", a)
	}
	for i := range 5 {
		e.must(202, e.send(w.producer, orderEvent(fmt.Sprintf("oa-%d", i), 1)))
	}
	rc.waitEvents(5, 10*time.Second)
	if n := issued.Load(); n != 1 {
		t.Fatalf("token endpoint called %d times for 5 deliveries, want 1 (cached)", n)
	}
	revoked.Store(true)
	e.must(202, e.send(w.producer, orderEvent("oa-after-revoke", 1)))
	rc.waitEvents(6, 10*time.Second)
	mu.Lock()
	defer mu.Unlock()
	if issued.Load() != 2 || seen["tok-2"] < 1 {
		t.Fatalf("after a 401: tokens issued %d, seen %v", issued.Load(), seen)
	}
	// Static Authorization cannot be combined with managed auth.
	p := e.must(422, e.do(w.consumer, "POST", "/v1/endpoints", map[string]any{
		"url": rc.URL(), "types": []string{w.typ}, "auth": map[string]any{"type": "jwt"},
		"headers": map[string]string{"Authorization": "Bearer x"},
	}))
	if p["errors"].([]any)[0].(map[string]any)["field"] != "headers" {
		t.Fatalf("problem = %v", p)
	}
	e.must(422, e.do(w.consumer, "POST", "/v1/endpoints", map[string]any{
		"url": rc.URL(), "types": []string{w.typ}, "auth": map[string]any{"type": "oauth2"},
	}))
}

// TestSigningKeyRotation: after a rotation the JWKS publishes both keys,
// new tokens carry the new kid, and only platform admins may rotate.
func TestSigningKeyRotation(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	before := jwksKeys(t, e.do(cred{}, "GET", "/.well-known/jwks.json", nil).body)
	if len(before) != 1 {
		t.Fatalf("keys before rotation: %d", len(before))
	}
	e.must(403, e.do(w.ownerAdmin, "POST", "/v1/signing-keys/rotate", nil))
	kid := e.must(200, e.do(admin, "POST", "/v1/signing-keys/rotate", nil))["kid"].(string)
	after := jwksKeys(t, e.do(cred{}, "GET", "/.well-known/jwks.json", nil).body)
	if len(after) != 2 || after[kid] == nil {
		t.Fatalf("keys after rotation: %v (new kid %s)", after, kid)
	}
	rc := newReceiver(t)
	var mu sync.Mutex
	var authz string
	rc.srv.Config.Handler = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		authz = r.Header.Get("Authorization")
		mu.Unlock()
		rw.WriteHeader(http.StatusNoContent)
	})
	e.must(201, e.do(w.consumer, "POST", "/v1/endpoints", map[string]any{
		"url": rc.URL(), "types": []string{w.typ}, "auth": map[string]any{"type": "jwt"},
	}))
	e.must(202, e.send(w.producer, orderEvent("after-rotation", 1)))
	eventually(t, 10*time.Second, "delivery", func() bool { mu.Lock(); defer mu.Unlock(); return authz != "" })
	mu.Lock()
	raw := strings.TrimPrefix(authz, "Bearer ")
	mu.Unlock()
	tok, err := jwt.Parse(raw, func(tok *jwt.Token) (any, error) { return after[fmt.Sprint(tok.Header["kid"])], nil })
	if err != nil {
		t.Fatalf("token after rotation does not verify: %v", err)
	}
	if tok.Header["kid"] != kid {
		t.Fatalf("token after rotation has kid %v, want %s", tok.Header["kid"], kid)
	}
	// A restarted node reads both keys back from the database.
	e.stop()
	e.start()
	if again := jwksKeys(t, e.do(cred{}, "GET", "/.well-known/jwks.json", nil).body); len(again) != 2 {
		t.Fatalf("keys after restart: %d", len(again))
	}
}
