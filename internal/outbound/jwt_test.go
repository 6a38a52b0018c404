package outbound

import (
	"bytes"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	testIssuer   = "https://herald.example"
	testAudience = "https://receiver.example/webhooks/herald"
)

// verifyToken checks token the way a receiver would: keys come from the
// JWKS document by kid, and audience, issuer, expiry and not-before are
// enforced at time at.
func verifyToken(t *testing.T, token string, jwks []byte, at time.Time, audience string) (*Claims, error) {
	t.Helper()
	keys, err := parseJWKS(jwks)
	if err != nil {
		t.Fatalf("parseJWKS: %v", err)
	}
	claims := &Claims{}
	_, err = jwt.ParseWithClaims(token, claims,
		func(tok *jwt.Token) (any, error) {
			kid, _ := tok.Header["kid"].(string)
			k, ok := keys[kid]
			if !ok {
				return nil, fmt.Errorf("%w: %q", errUnknownKid, kid)
			}
			return k, nil
		},
		jwt.WithValidMethods([]string{"ES256", "EdDSA"}),
		jwt.WithAudience(audience),
		jwt.WithIssuer(testIssuer),
		jwt.WithTimeFunc(func() time.Time { return at }),
		jwt.WithExpirationRequired(),
		jwt.WithNotBeforeRequired(),
		// No WithIssuedAt: golang-jwt, like most libraries, does not check
		// iat by default, and nbf is what tolerates a slow receiver clock.
	)
	return claims, err
}

// tokenHeader decodes a JWT's JOSE header.
func tokenHeader(t *testing.T, token string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestTokenVerifiesAgainstJWKS(t *testing.T) {
	t.Parallel()
	for _, alg := range []KeyAlg{ES256, EdDSA} {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			key := mustKey(t, alg)
			ring := NewKeyRing(key)
			ring.Now = clock.Now
			iss := &JWTIssuer{Issuer: testIssuer, TTL: 2 * time.Minute, Ring: ring, Now: clock.Now}

			tok, err := iss.Token(testAudience, "evt_123", "msg_456")
			if err != nil {
				t.Fatalf("Token: %v", err)
			}
			h := tokenHeader(t, tok)
			if h["alg"] != string(alg) || h["kid"] != key.ID || h["typ"] != "JWT" {
				t.Errorf("header = %v, want alg %s, kid %s, typ JWT", h, alg, key.ID)
			}

			now := clock.Now()
			c, err := verifyToken(t, tok, ring.JWKS(), now, testAudience)
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			checks := []struct {
				name      string
				got, want any
			}{
				{"iss", c.Issuer, testIssuer},
				{"aud", c.Audience, testAudience},
				{"event_id", c.EventID, "evt_123"},
				{"webhook_id", c.WebhookID, "msg_456"},
				{"iat", c.IssuedAt.Unix(), now.Unix()},
				{"nbf", c.NotBefore.Unix(), now.Add(-notBeforeSkew).Unix()},
				{"exp", c.ExpiresAt.Unix(), now.Add(2 * time.Minute).Unix()},
				{"jti length", len(c.ID), 26},
			}
			for _, ch := range checks {
				if ch.got != ch.want {
					t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
				}
			}
		})
	}
}

// TestTokenClaimsForGenericReceivers decodes the payload as plain JSON, as a
// receiver using any library would, to pin the wire names and the single
// string aud.
func TestTokenClaimsForGenericReceivers(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	iss := &JWTIssuer{Issuer: testIssuer, Ring: NewKeyRing(mustKey(t, ES256)), Now: clock.Now}
	tok, err := iss.Token(testAudience, "evt_1", "msg_1")
	if err != nil {
		t.Fatal(err)
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"iss", "aud", "iat", "nbf", "exp", "jti", "event_id", "webhook_id"} {
		if _, ok := claims[name]; !ok {
			t.Errorf("claim %s missing from %s", name, payload)
		}
	}
	if len(claims) != 8 {
		t.Errorf("payload has %d claims, want 8: %s", len(claims), payload)
	}
	if claims["aud"] != testAudience {
		t.Errorf("aud = %#v, want the single string %q", claims["aud"], testAudience)
	}
	// Default lifetime.
	exp, _ := claims["exp"].(float64)
	if want := clock.Now().Add(DefaultTokenTTL).Unix(); int64(exp) != want {
		t.Errorf("exp = %v, want now + DefaultTokenTTL = %d", exp, want)
	}
	// RegisteredClaims, as most Go receivers use, reads it too.
	var rc jwt.RegisteredClaims
	if err := json.Unmarshal(payload, &rc); err != nil || len(rc.Audience) != 1 || rc.Audience[0] != testAudience {
		t.Errorf("RegisteredClaims audience = %v (err %v)", rc.Audience, err)
	}
}

func TestTokenValidationIsEnforced(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	ring := NewKeyRing(mustKey(t, ES256))
	ring.Now = clock.Now
	iss := &JWTIssuer{Issuer: testIssuer, TTL: 5 * time.Minute, Ring: ring, Now: clock.Now}
	tok, err := iss.Token(testAudience, "evt", "msg")
	if err != nil {
		t.Fatal(err)
	}
	other := &JWTIssuer{Issuer: "https://impostor.example", Ring: ring, Now: clock.Now}
	wrongIss, err := other.Token(testAudience, "evt", "msg")
	if err != nil {
		t.Fatal(err)
	}
	foreignRing := NewKeyRing(mustKey(t, ES256))
	foreign, err := (&JWTIssuer{Issuer: testIssuer, Ring: foreignRing, Now: clock.Now}).Token(testAudience, "evt", "msg")
	if err != nil {
		t.Fatal(err)
	}
	// Same header and signature, payload with another audience.
	parts := strings.Split(tok, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	payload = bytes.Replace(payload, []byte("receiver.example"), []byte("attacker.example"), 1)
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]

	now := clock.Now()
	tests := []struct {
		name     string
		token    string
		at       time.Time
		audience string
		wantErr  error // nil: valid
	}{
		{"valid", tok, now, testAudience, nil},
		{"valid just before expiry", tok, now.Add(5*time.Minute - time.Second), testAudience, nil},
		{"receiver clock slightly behind", tok, now.Add(-10 * time.Second), testAudience, nil},
		{"expired", tok, now.Add(5*time.Minute + time.Second), testAudience, jwt.ErrTokenExpired},
		{"before nbf", tok, now.Add(-notBeforeSkew - time.Second), testAudience, jwt.ErrTokenNotValidYet},
		{"other endpoint", tok, now, "https://other.example/hook", jwt.ErrTokenInvalidAudience},
		{"wrong issuer", wrongIss, now, testAudience, jwt.ErrTokenInvalidIssuer},
		{"tampered payload", tampered, now, "https://attacker.example/webhooks/herald", jwt.ErrTokenSignatureInvalid},
		{"key not in JWKS", foreign, now, testAudience, errUnknownKid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := verifyToken(t, tt.token, ring.JWKS(), tt.at, tt.audience)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("verify: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("verify error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// TestTokenAfterRotation walks through a rotation from ES256 to EdDSA: tokens
// signed before it keep verifying while the old key is published and stop
// once it is dropped.
func TestTokenAfterRotation(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	oldKey, newKey := mustKey(t, ES256), mustKey(t, EdDSA)
	ring := NewKeyRing(oldKey)
	ring.Now = clock.Now
	iss := &JWTIssuer{Issuer: testIssuer, TTL: 5 * time.Minute, Ring: ring, Now: clock.Now}

	oldTok, err := iss.Token(testAudience, "evt_1", "msg_1")
	if err != nil {
		t.Fatal(err)
	}
	signedAt := clock.Now()

	clock.Advance(time.Minute)
	if err := ring.Rotate(newKey, iss.TTL); err != nil {
		t.Fatal(err)
	}
	newTok, err := iss.Token(testAudience, "evt_2", "msg_2")
	if err != nil {
		t.Fatal(err)
	}
	newSignedAt := clock.Now()
	if kid := tokenHeader(t, newTok)["kid"]; kid != newKey.ID {
		t.Fatalf("token after Rotate has kid %v, want the new key %s", kid, newKey.ID)
	}

	// Two minutes later the old key is still published: both verify.
	clock.Advance(2 * time.Minute)
	jwks := ring.JWKS()
	for name, tok := range map[string]string{"old": oldTok, "new": newTok} {
		if _, err := verifyToken(t, tok, jwks, clock.Now(), testAudience); err != nil {
			t.Errorf("%s token while both keys are published: %v", name, err)
		}
	}

	// Once keepOld has passed, the old key is gone. Verifying the old token
	// at a time it was otherwise valid isolates the missing key as the
	// reason it fails.
	clock.Advance(3 * time.Minute)
	jwks = ring.JWKS()
	if _, err := verifyToken(t, oldTok, jwks, signedAt, testAudience); !errors.Is(err, errUnknownKid) {
		t.Errorf("old token after its key was dropped: err = %v, want unknown kid", err)
	}
	if _, err := verifyToken(t, newTok, jwks, newSignedAt, testAudience); err != nil {
		t.Errorf("new token after old key was dropped: %v", err)
	}
}

func TestTokenWithOpaqueSigner(t *testing.T) {
	t.Parallel()
	for _, alg := range []KeyAlg{ES256, EdDSA} {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			k := mustKey(t, alg)
			hsm := &SigningKey{ID: "hsm-" + string(alg), Alg: alg, Private: opaqueSigner{k.Private}}
			ring := NewKeyRing(hsm)
			iss := &JWTIssuer{Issuer: testIssuer, Ring: ring}
			// Many tokens, so the ES256 path meets signatures whose R or S
			// has a leading zero byte and needs padding.
			for range 300 {
				tok, err := iss.Token(testAudience, "evt", "msg")
				if err != nil {
					t.Fatalf("Token: %v", err)
				}
				if _, err := verifyToken(t, tok, ring.JWKS(), time.Now(), testAudience); err != nil {
					t.Fatalf("verify: %v", err)
				}
			}
		})
	}
}

func TestTokenJTIIsUnique(t *testing.T) {
	t.Parallel()
	clock := newFakeClock() // frozen: identical iat/exp, only jti differs
	iss := &JWTIssuer{Issuer: testIssuer, Ring: NewKeyRing(mustKey(t, EdDSA)), Now: clock.Now}
	seen := map[string]bool{}
	for range 1000 {
		tok, err := iss.Token(testAudience, "evt", "msg")
		if err != nil {
			t.Fatal(err)
		}
		c, err := verifyToken(t, tok, iss.Ring.JWKS(), clock.Now(), testAudience)
		if err != nil {
			t.Fatal(err)
		}
		if seen[c.ID] {
			t.Fatalf("jti %s repeated", c.ID)
		}
		seen[c.ID] = true
	}
}

func TestTokenErrors(t *testing.T) {
	t.Parallel()
	good := NewKeyRing(mustKey(t, ES256))
	ec := mustKey(t, ES256)
	broken := NewKeyRing(&SigningKey{ID: "broken", Alg: EdDSA, Private: ec.Private})
	tests := []struct {
		name     string
		issuer   *JWTIssuer
		audience string
		wantErr  string
		wantIs   error
	}{
		{"no ring", &JWTIssuer{Issuer: testIssuer}, testAudience, "no key ring", nil},
		{"no issuer", &JWTIssuer{Ring: good}, testAudience, "no issuer", nil},
		{"no audience", &JWTIssuer{Issuer: testIssuer, Ring: good}, "", "audience", nil},
		{"negative TTL", &JWTIssuer{Issuer: testIssuer, Ring: good, TTL: -time.Second}, testAudience, "negative", nil},
		{"empty ring", &JWTIssuer{Issuer: testIssuer, Ring: NewKeyRing()}, testAudience, "no current signing key", ErrNoSigningKey},
		{"invalid current key", &JWTIssuer{Issuer: testIssuer, Ring: broken}, testAudience, "EdDSA needs an Ed25519", ErrInvalidKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tok, err := tt.issuer.Token(tt.audience, "evt", "msg")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Token = %q, %v; want error mentioning %q", tok, err, tt.wantErr)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v does not wrap %v", err, tt.wantIs)
			}
		})
	}
}

func TestECDSARawSignature(t *testing.T) {
	t.Parallel()
	der := func(r, s *big.Int) []byte {
		b, err := asn1.Marshal(struct{ R, S *big.Int }{r, s})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	max := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))
	tooBig := new(big.Int).Lsh(big.NewInt(1), 256)
	want := func(r, s byte) []byte {
		out := make([]byte, 64)
		out[31], out[63] = r, s
		return out
	}
	tests := []struct {
		name    string
		der     []byte
		want    []byte // nil: error
		wantMax bool
	}{
		{"small values are left-padded", der(big.NewInt(1), big.NewInt(2)), want(1, 2), false},
		{"full width", der(max, max), nil, true},
		{"zero R", der(big.NewInt(0), big.NewInt(2)), nil, false},
		{"negative S", der(big.NewInt(1), big.NewInt(-2)), nil, false},
		{"R too large", der(tooBig, big.NewInt(2)), nil, false},
		{"trailing bytes", append(der(big.NewInt(1), big.NewInt(2)), 0), nil, false},
		{"not DER", []byte("signature"), nil, false},
		{"empty", nil, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ecdsaRawSignature(tt.der, 32)
			switch {
			case tt.wantMax:
				if err != nil || !bytes.Equal(got, bytes.Repeat([]byte{0xff}, 64)) {
					t.Errorf("got %x, %v; want 64 0xff bytes", got, err)
				}
			case tt.want != nil:
				if err != nil || !bytes.Equal(got, tt.want) {
					t.Errorf("got %x, %v; want %x", got, err, tt.want)
				}
			default:
				if err == nil {
					t.Errorf("got %x, want an error", got)
				}
			}
		})
	}
}

// TestParseJWKSHelper keeps the test's receiver-side decoder honest, since
// the JWKS tests are only as strict as it is.
func TestParseJWKSHelper(t *testing.T) {
	t.Parallel()
	ring := NewKeyRing(mustKey(t, ES256))
	good := string(ring.JWKS())
	kid := ring.Current().ID
	var set struct{ Keys []map[string]any }
	if err := json.Unmarshal([]byte(good), &set); err != nil {
		t.Fatal(err)
	}
	set.Keys[0]["y"] = set.Keys[0]["x"] // (x, x) is not a point on P-256
	offCurveBytes, err := json.Marshal(map[string]any{"keys": set.Keys})
	if err != nil {
		t.Fatal(err)
	}
	offCurve := string(offCurveBytes)
	tests := []struct {
		name    string
		doc     string
		wantErr bool
	}{
		{"Herald's JWKS", good, false},
		{"empty set", `{"keys":[]}`, false},
		{"no keys member", `{}`, true},
		{"private member", strings.Replace(good, `"kty"`, `"d":"AAAA","kty"`, 1), true},
		{"short x", strings.Replace(good, `"x":"`, `"x":"AA`, 1), true},
		{"point not on curve", offCurve, true},
		{"RSA key", `{"keys":[{"kty":"RSA","kid":"r","use":"sig","alg":"RS256","n":"AQAB","e":"AQAB"}]}`, true},
		{"encryption key", strings.Replace(good, `"use":"sig"`, `"use":"enc"`, 1), true},
		{"duplicate kid", `{"keys":[` + good[len(`{"keys":[`):len(good)-2] + `,` + good[len(`{"keys":[`):], true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			keys, err := parseJWKS([]byte(tt.doc))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseJWKS(%s) = %v, %v; wantErr %v", tt.doc, keys, err, tt.wantErr)
			}
			if tt.name == "Herald's JWKS" && keys[kid] == nil {
				t.Errorf("key %s missing", kid)
			}
		})
	}
}
