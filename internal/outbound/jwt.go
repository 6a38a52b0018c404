package outbound

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultTokenTTL is the lifetime of a platform-signed JWT when
// JWTIssuer.TTL is zero. Short, because a token is only needed for the one
// request it rides on; long enough to absorb a slow connection and modest
// clock skew at the receiver.
const DefaultTokenTTL = 5 * time.Minute

// notBeforeSkew backdates nbf. Receivers validate nbf with little or no
// leeway (golang-jwt's default is none), so a receiver whose clock is a few
// seconds behind Herald's would reject a token stamped nbf = now and the
// delivery would fail with a confusing 401. iat stays exact.
const notBeforeSkew = 30 * time.Second

// JWTIssuer signs the short-lived JWTs sent as "Authorization: Bearer" on
// deliveries. Its fields must not change once it is in use; Token is safe
// for concurrent use.
type JWTIssuer struct {
	// Issuer is the "iss" claim: Herald's public base URL, under which the
	// JWKS is published. Required.
	Issuer string
	// TTL is the token lifetime; zero means DefaultTokenTTL.
	TTL time.Duration
	// Ring supplies the signing key. Required.
	Ring *KeyRing
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Claims is the claim set of a platform-signed JWT. Receivers may decode
// tokens into it (it implements jwt.Claims); aud is a single string, which
// RFC 7519 section 4.1.3 allows and every library accepts.
type Claims struct {
	Issuer    string           `json:"iss"`
	Audience  string           `json:"aud"`
	IssuedAt  *jwt.NumericDate `json:"iat"`
	NotBefore *jwt.NumericDate `json:"nbf"`
	ExpiresAt *jwt.NumericDate `json:"exp"`
	// ID ("jti") is random and unique per token, so a receiver can refuse
	// replays.
	ID string `json:"jti"`
	// EventID is the id of the event being delivered.
	EventID string `json:"event_id,omitempty"`
	// WebhookID is the webhook (message) id, as in the webhook-id header.
	WebhookID string `json:"webhook_id,omitempty"`
}

// GetExpirationTime implements jwt.Claims.
func (c *Claims) GetExpirationTime() (*jwt.NumericDate, error) { return c.ExpiresAt, nil }

// GetIssuedAt implements jwt.Claims.
func (c *Claims) GetIssuedAt() (*jwt.NumericDate, error) { return c.IssuedAt, nil }

// GetNotBefore implements jwt.Claims.
func (c *Claims) GetNotBefore() (*jwt.NumericDate, error) { return c.NotBefore, nil }

// GetIssuer implements jwt.Claims.
func (c *Claims) GetIssuer() (string, error) { return c.Issuer, nil }

// GetSubject implements jwt.Claims; these tokens have no subject.
func (c *Claims) GetSubject() (string, error) { return "", nil }

// GetAudience implements jwt.Claims.
func (c *Claims) GetAudience() (jwt.ClaimStrings, error) {
	if c.Audience == "" {
		return nil, nil
	}
	return jwt.ClaimStrings{c.Audience}, nil
}

func (i *JWTIssuer) now() time.Time {
	if i.Now != nil {
		return i.Now()
	}
	return time.Now()
}

// Token returns a signed JWT for one delivery to audience (the endpoint URL)
// of the given event and webhook. Each call yields a new token with a fresh
// jti, so tokens are not cached.
func (i *JWTIssuer) Token(audience, eventID, webhookID string) (string, error) {
	switch {
	case i.Ring == nil:
		return "", errors.New("outbound: JWTIssuer has no key ring")
	case i.Issuer == "":
		return "", errors.New("outbound: JWTIssuer has no issuer")
	case audience == "":
		return "", errors.New("outbound: JWT audience (endpoint URL) is empty")
	case i.TTL < 0:
		return "", fmt.Errorf("outbound: negative JWT lifetime %v", i.TTL)
	}
	ttl := i.TTL
	if ttl == 0 {
		ttl = DefaultTokenTTL
	}
	rk, err := i.Ring.signingKey()
	if err != nil {
		return "", err
	}
	now := i.now()
	claims := &Claims{
		Issuer:    i.Issuer,
		Audience:  audience,
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now.Add(-notBeforeSkew)),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		// 130 random bits in base32: unguessable and header-safe.
		ID:        rand.Text(),
		EventID:   eventID,
		WebhookID: webhookID,
	}
	t := jwt.NewWithClaims(signerMethod{alg: rk.key.Alg}, claims)
	t.Header["kid"] = rk.key.ID
	s, err := t.SignedString(rk.key.Private)
	if err != nil {
		return "", fmt.Errorf("outbound: sign JWT with key %s: %w", rk.key.ID, err)
	}
	return s, nil
}

// signerMethod is a jwt.SigningMethod that signs through crypto.Signer.
// golang-jwt's own ES256 method insists on *ecdsa.PrivateKey, which would
// rule out HSM or KMS keys; going through the interface keeps them possible.
// It is used directly and never registered, so golang-jwt's global ES256 and
// EdDSA methods (which verification uses) stay untouched.
type signerMethod struct{ alg KeyAlg }

// Alg implements jwt.SigningMethod.
func (m signerMethod) Alg() string { return string(m.alg) }

// Verify implements jwt.SigningMethod by deferring to golang-jwt's
// registered method for the algorithm.
func (m signerMethod) Verify(signingString string, sig []byte, key any) error {
	method := jwt.GetSigningMethod(string(m.alg))
	if method == nil {
		return jwt.ErrSignatureInvalid
	}
	return method.Verify(signingString, sig, key)
}

// Sign implements jwt.SigningMethod.
func (m signerMethod) Sign(signingString string, key any) ([]byte, error) {
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: %T is not a crypto.Signer", jwt.ErrInvalidKeyType, key)
	}
	switch m.alg {
	case EdDSA:
		// Ed25519 hashes internally; crypto.Hash(0) asks for pure Ed25519.
		return signer.Sign(rand.Reader, []byte(signingString), crypto.Hash(0))
	case ES256:
		digest := sha256.Sum256([]byte(signingString))
		der, err := signer.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil {
			return nil, err
		}
		return ecdsaRawSignature(der, 32)
	default:
		return nil, fmt.Errorf("%w: unsupported algorithm %q", ErrInvalidKey, m.alg)
	}
}

// ecdsaRawSignature converts the ASN.1 DER signature crypto.Signer returns
// to the fixed-width R || S form JWS requires (RFC 7518 section 3.4), each
// half left-padded to size bytes.
func ecdsaRawSignature(der []byte, size int) ([]byte, error) {
	var sig struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &sig)
	if err != nil || len(rest) != 0 {
		return nil, errors.New("outbound: signer returned a malformed ECDSA signature")
	}
	if sig.R.Sign() <= 0 || sig.S.Sign() <= 0 || sig.R.BitLen() > 8*size || sig.S.BitLen() > 8*size {
		return nil, errors.New("outbound: signer returned an out-of-range ECDSA signature")
	}
	out := make([]byte, 2*size)
	sig.R.FillBytes(out[:size])
	sig.S.FillBytes(out[size:])
	return out, nil
}
