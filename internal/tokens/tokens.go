// Package tokens issues and checks Herald's short-lived bearer tokens:
// signed statements that a client of a tenant authenticated a moment ago,
// for callers that cannot send HTTP Basic credentials (a browser's
// WebSocket; the web console's sessions later). A token is an HS256 JWT
// under a key derived from the node's master key, so every node of an
// installation accepts the tokens of the others and none of them stores
// tokens. A token names its audience, so one issued for consuming is not
// accepted where another use is expected.
package tokens

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/herald"
)

// DefaultTTL is how long a token is valid.
const DefaultTTL = 5 * time.Minute

// AudienceConsume is the audience of tokens that open a WebSocket
// consumer connection (GET /v1/consume/ws).
const AudienceConsume = "herald:consume"

// AudiencePortalLink is the audience of the tokens in partner portal
// links (POST /v1/portal-links), which start a portal session.
const AudiencePortalLink = "herald:portal-link"

// issuer names Herald in the tokens it signs.
const issuer = "herald"

// keyLabel derives the signing key from the master key: never the master
// key itself, which seals stored secrets.
const keyLabel = "herald bearer tokens v1"

// Claims is what a valid token says: a client of a tenant, and the stamp
// of the credential it was issued under ("" when none was given).
type Claims struct {
	Client  uuid.UUID
	Tenant  uuid.UUID
	Expires time.Time
	Stamp   string
}

// Issuer issues and checks tokens.
type Issuer struct {
	key []byte
	ttl time.Duration
	now func() time.Time
}

// New returns an Issuer whose key is derived from masterKey (an HMAC of a
// fixed label under it). ttl <= 0 means DefaultTTL; now nil means
// time.Now.
func New(masterKey []byte, ttl time.Duration, now func() time.Time) *Issuer {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	if now == nil {
		now = time.Now
	}
	m := hmac.New(sha256.New, masterKey)
	m.Write([]byte(keyLabel))
	return &Issuer{key: m.Sum(nil), ttl: ttl, now: now}
}

// TTL is how long the tokens it issues are valid.
func (i *Issuer) TTL() time.Duration { return i.ttl }

// claims is the JWT form of Claims: sub the client, tid its tenant, stp
// the credential stamp.
type claims struct {
	Tenant string `json:"tid"`
	Stamp  string `json:"stp,omitempty"`
	jwt.RegisteredClaims
}

// Issue returns a token for the client of tenant, for audience, and when
// it expires.
func (i *Issuer) Issue(client, tenant uuid.UUID, audience string) (string, time.Time, error) {
	return i.IssueFor(client, tenant, audience, i.ttl)
}

// IssueFor is Issue with its own time to live, for tokens that outlive the
// issuer's default (a portal link lasts as long as its admin chose).
func (i *Issuer) IssueFor(client, tenant uuid.UUID, audience string, ttl time.Duration) (string, time.Time, error) {
	return i.IssueStamped(client, tenant, audience, "", ttl)
}

// IssueStamped is IssueFor with the stamp of the client's credential
// (herald.Client.CredentialStamp), which the checker compares with the
// client's current one: a token made before a secret rotation is refused.
func (i *Issuer) IssueStamped(client, tenant uuid.UUID, audience, stamp string, ttl time.Duration) (string, time.Time, error) {
	now := i.now().Truncate(time.Second)
	exp := now.Add(ttl)
	c := claims{Tenant: tenant.String(), Stamp: stamp, RegisteredClaims: jwt.RegisteredClaims{
		Issuer: issuer, Subject: client.String(), Audience: jwt.ClaimStrings{audience},
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp), ID: uuid.NewString(),
	}}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(i.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign token: %w", err)
	}
	return s, exp, nil
}

// Check verifies a token for audience: its signature, issuer, audience and
// expiry. Every failure is herald.ErrUnauthorized (the reason wrapped for
// logs, never shown: it would help forging). Whether the client may still
// act is the caller's to check, against the catalog.
func (i *Issuer) Check(token, audience string) (Claims, error) {
	var c claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return i.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithIssuer(issuer),
		jwt.WithAudience(audience), jwt.WithExpirationRequired(), jwt.WithTimeFunc(i.now))
	if err != nil {
		return Claims{}, fmt.Errorf("%w: token: %w", herald.ErrUnauthorized, err)
	}
	client, err1 := uuid.Parse(c.Subject)
	tenant, err2 := uuid.Parse(c.Tenant)
	if err := errors.Join(err1, err2); err != nil {
		return Claims{}, fmt.Errorf("%w: token names no client: %w", herald.ErrUnauthorized, err)
	}
	return Claims{Client: client, Tenant: tenant, Expires: c.ExpiresAt.Time, Stamp: c.Stamp}, nil
}
