// Package herald holds Herald's domain types and the errors every layer
// shares. It knows nothing about HTTP, SQL or the queue, so the pipeline's
// packages (ingest, postgres, queue, httpapi) can all speak of the same
// Event, Endpoint and Delivery.
package herald

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Role is what a client may do.
type Role string

// The roles a client can hold.
const (
	RoleAdmin    Role = "admin"
	RoleProducer Role = "producer"
	RoleConsumer Role = "consumer"
)

// ValidRole reports whether r is one of the known roles.
func ValidRole(r Role) bool {
	return r == RoleAdmin || r == RoleProducer || r == RoleConsumer
}

// Tenant is an organisation or team. Every client and endpoint belongs to
// one. The platform tenant's admins administer all tenants.
type Tenant struct {
	ID        uuid.UUID
	Name      string
	Platform  bool
	Branding  Branding
	CreatedAt time.Time
}

// Branding is how a tenant's partner portal presents itself: a name, a
// logo (an https URL) and a colour (#rrggbb); empty fields keep Herald's.
type Branding struct {
	Name    string
	LogoURL string
	Color   string
}

// Client is a credential: a public key id and a secret, of which only a hash
// is kept.
type Client struct {
	ID         uuid.UUID
	TenantID   uuid.UUID
	Name       string
	Key        string
	SecretHash []byte
	Roles      []Role
	CreatedAt  time.Time
}

// Has reports whether the client holds role r.
func (c *Client) Has(r Role) bool { return slices.Contains(c.Roles, r) }

// CredentialStamp names the client's current secret without revealing
// anything about it (a short digest of its hash). Sessions and portal
// links carry the stamp of the secret they were made under, so rotating
// the secret ends them all.
func (c *Client) CredentialStamp() string {
	sum := sha256.Sum256(append([]byte("herald credential stamp v1:"), c.SecretHash...))
	return base64.RawURLEncoding.EncodeToString(sum[:9])
}

// Principal is an authenticated caller.
type Principal struct {
	Client *Client
	// PlatformAdmin is true for admins of the platform tenant, who may act on
	// every tenant.
	PlatformAdmin bool
}

// IsAdminOf reports whether the caller administers the tenant.
func (p Principal) IsAdminOf(tenant uuid.UUID) bool {
	return p.PlatformAdmin || (p.Client.Has(RoleAdmin) && p.Client.TenantID == tenant)
}

// AdminTenant resolves the tenant a management request acts on: given
// (nil or uuid.Nil: the caller's own), which the caller must administer;
// action says what needs the role, for the error.
func (p Principal) AdminTenant(given *uuid.UUID, action string) (uuid.UUID, error) {
	t := p.Client.TenantID
	if given != nil && *given != uuid.Nil {
		t = *given
	}
	if !p.IsAdminOf(t) {
		if t == p.Client.TenantID {
			return uuid.Nil, Forbidden("%s needs the admin role", action)
		}
		return uuid.Nil, Forbidden("you may not administer tenant %s", t)
	}
	return t, nil
}

// AdminScope decides which tenant an admin listing (clients, integration
// credentials) covers: the tenant named by the request's tenant parameter
// (empty: the caller's own, or every tenant — uuid.Nil — for a platform
// admin). The caller must administer it; what names the listing in the
// error.
func (p Principal) AdminScope(tenantParam, what string) (uuid.UUID, error) {
	tenant := p.Client.TenantID
	switch {
	case tenantParam != "":
		id, err := uuid.Parse(tenantParam)
		if err != nil {
			return uuid.Nil, Invalid("tenant", "format", "must be a UUID")
		}
		tenant = id
	case p.PlatformAdmin:
		return uuid.Nil, nil
	}
	if !p.IsAdminOf(tenant) {
		return uuid.Nil, Forbidden("listing %s needs the admin role of the tenant", what)
	}
	return tenant, nil
}

// EventType is a named contract in the schema registry. Names are global;
// the owning tenant's admins manage it.
type EventType struct {
	Name        string
	TenantID    uuid.UUID
	Description string
	Public      bool
	Producers   []uuid.UUID
	Consumers   []uuid.UUID
	Version     int
	Schema      []byte
	// SchemaDraft and FormatAssertion say how the current version's Schema
	// is read: the JSON Schema draft ("draft-06", "draft-07", "2019-09" or
	// "2020-12") and whether "format" is asserted. They belong to the
	// version: changing them makes a new one.
	SchemaDraft     string
	FormatAssertion bool
	// Thin makes the type's push channels carry a notification only (nil:
	// full delivery).
	Thin *ThinDelivery
	// Retention overrides how long (and how many of) the type's events
	// are kept.
	Retention Retention
	CreatedAt time.Time
	UpdatedAt time.Time
}

// MayProduce reports whether client c may send events of this type.
func (t *EventType) MayProduce(c *Client) bool {
	return c.Has(RoleProducer) && slices.Contains(t.Producers, c.ID)
}

// MayConsume reports whether client c may receive events of this type:
// the type is public, c is a listed consumer, or c administers the owner.
func (t *EventType) MayConsume(c *Client, platformAdmin bool) bool {
	if t.Public || platformAdmin {
		return true
	}
	if c.Has(RoleAdmin) && c.TenantID == t.TenantID {
		return true
	}
	return slices.Contains(t.Consumers, c.ID)
}

// SchemaVersion is one historical schema of an event type.
type SchemaVersion struct {
	Version         int
	Schema          []byte
	SchemaDraft     string
	FormatAssertion bool
	CreatedAt       time.Time
}

// EndpointStatus says whether an endpoint receives deliveries.
type EndpointStatus string

// Endpoint statuses.
const (
	EndpointPending  EndpointStatus = "pending"
	EndpointActive   EndpointStatus = "active"
	EndpointDisabled EndpointStatus = "disabled"
)

// CloudEvents HTTP content modes an endpoint can receive.
const (
	// ContentModeStructured sends the event in the JSON event format
	// (application/cloudevents+json).
	ContentModeStructured = "structured"
	// ContentModeBinary sends the event's data as the body, with its media
	// type, and the attributes as ce- headers.
	ContentModeBinary = "binary"
)

// Endpoint is a webhook target subscribed to event types or patterns.
type Endpoint struct {
	ID       uuid.UUID
	TenantID uuid.UUID
	// ClientID is the consumer the endpoint receives for; its consume rights
	// decide which events reach the endpoint. Nil when that client was
	// deleted, which stops deliveries.
	ClientID       uuid.UUID
	URL            string
	Description    string
	Types          []string
	Status         EndpointStatus
	DisabledReason string
	// Secret is the whsec_ signing secret, only filled when it is needed
	// (creation and delivery).
	Secret string
	// Signing is "v1" (HMAC, whsec_ secrets) or "v1a" (ed25519, whsk_
	// secrets whose public key receivers verify with).
	Signing string
	// PublicKey is the whpk_ key matching a v1a secret ("" for v1).
	PublicKey string
	// OldSecrets are rotated-out secrets still signing until they expire.
	OldSecrets []OldSecret
	// RateLimit caps deliveries per second across all nodes (0: none).
	RateLimit int
	// Ordered sends the events of one partition key one at a time, in the
	// order Herald accepted them (events without a key are not ordered).
	// See OrderKey.
	Ordered bool
	// ContentMode is how deliveries carry the event: ContentModeStructured
	// (the whole event as JSON, the default) or ContentModeBinary.
	ContentMode string
	// VerifiedAt and VerifiedBy record when and how the receiver consented
	// (the handshake, its callback, or an admin by hand).
	VerifiedAt time.Time
	VerifiedBy string
	// VerifyToken is the one-time callback token of a pending endpoint,
	// only filled when it is created or its URL changes.
	VerifyToken string
	// Verification is the latest verification handshake, which tells a
	// pending endpoint's owner why it is still pending (nil: none tried
	// since the endpoint last became pending).
	Verification *Verification
	// Auth is how Herald authenticates to the endpoint (nil: only the
	// signature and any static headers).
	Auth *EndpointAuth
	// MTLS is the client certificate Herald presents to the endpoint in
	// the TLS handshake (nil: none). Stored encrypted; the private key is
	// never shown.
	MTLS *ClientCert
	// Filter is the endpoint's filter document (canonical JSON) narrowing
	// its subscription beyond type patterns; nil when none.
	Filter []byte
	// Config is a JSON object of the endpoint owner's choosing, sent with
	// every delivery (nil when none).
	Config []byte
	// Headers are static headers added to every delivery (an API key the
	// partner chose, say). Stored encrypted.
	Headers   map[string]string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Verification is the outcome of an endpoint's latest verification
// handshake (the CloudEvents webhook OPTIONS request).
type Verification struct {
	// Attempts counts the handshakes of the current verification.
	Attempts      int
	LastAttemptAt time.Time
	// StatusCode is the receiver's answer (0: no response arrived).
	StatusCode int
	// Error says why there was no consent: the answer lacked it, or no
	// answer came ("" once granted).
	Error string
	// NextAttemptAt is when the handshake is tried again (zero: it is not;
	// the receiver's callback or an admin can still verify).
	NextAttemptAt time.Time
}

// Outbound authentication modes of an endpoint.
const (
	AuthJWT    = "jwt"
	AuthOAuth2 = "oauth2"
)

// EndpointAuth is how Herald authenticates to an endpoint beyond the
// signature: a short-lived JWT signed by Herald (verifiable with its JWKS),
// or an OAuth2 client-credentials token fetched from the partner.
type EndpointAuth struct {
	Type string
	// OAuth2 client credentials.
	TokenURL     string
	ClientID     string
	ClientSecret string
	Scopes       []string
	Audience     string
}

// ClientCert is a mutual-TLS credential toward an endpoint: a PEM
// certificate chain (leaf first) and the leaf's PEM private key.
type ClientCert struct {
	Certificate []byte
	PrivateKey  []byte
}

// OldSecret is a rotated-out signing secret in its grace period.
type OldSecret struct {
	Secret    string
	ExpiresAt time.Time
}

// MaxOldSecrets bounds how many rotated-out secrets sign at once.
const MaxOldSecrets = 10

// LiveSecrets returns the secrets a delivery at now is signed with: the
// current one and the rotated-out ones whose grace has not ended.
func (e *Endpoint) LiveSecrets(now time.Time) []string {
	out := make([]string, 0, 1+len(e.OldSecrets))
	out = append(out, e.Secret)
	for _, o := range e.OldSecrets {
		if now.Before(o.ExpiresAt) {
			out = append(out, o.Secret)
		}
	}
	return out
}

// OrderKey is the queue a delivery of an event with the given partition
// key joins at this endpoint: the key itself when the endpoint is ordered,
// "" (no queue, sent at once) when it is not or the event has no key.
func (e *Endpoint) OrderKey(partitionKey string) string {
	if !e.Ordered {
		return ""
	}
	return partitionKey
}

// Event is one stored CloudEvent.
type Event struct {
	ID           uuid.UUID
	Seq          int64
	ReceivedAt   time.Time
	TenantID     uuid.UUID
	ProducerID   uuid.UUID
	Type         string
	Source       string
	CEID         string
	Subject      string
	PartitionKey string
	TypeVersion  int
	// Body is the event in CloudEvents structured JSON, as it is delivered.
	Body []byte
	// AddressedTo is the consumer client a test event is addressed to
	// (uuid.Nil for events routed by subscription): routing sends it to
	// that client's endpoints and groups only.
	AddressedTo uuid.UUID
}

// DeliveryStatus is where a delivery stands.
type DeliveryStatus string

// Delivery statuses. Failed is terminal until someone retries it by hand: it
// is Herald's dead letter.
const (
	DeliveryPending   DeliveryStatus = "pending"
	DeliverySucceeded DeliveryStatus = "succeeded"
	DeliveryFailed    DeliveryStatus = "failed"
)

// Delivery is one event on its way to one endpoint.
type Delivery struct {
	ID             uuid.UUID
	CreatedAt      time.Time
	EventID        uuid.UUID
	EndpointID     uuid.UUID
	TenantID       uuid.UUID
	Status         DeliveryStatus
	Attempts       int
	RetryBase      int
	NextAttemptAt  time.Time
	LastAttemptAt  time.Time
	LastStatusCode int
	LastError      string
	UpdatedAt      time.Time
	AttemptLog     []Attempt
	EventType      string
}

// Attempt is one HTTP try of a delivery.
type Attempt struct {
	Attempt      int
	At           time.Time
	StatusCode   int
	Latency      time.Duration
	Error        string
	ResponseBody []byte
}

// NewID returns a UUIDv7 whose timestamp is t's millisecond. Events and
// deliveries use it so that the id alone tells which daily partition holds
// the row (see IDTime).
func NewID(t time.Time) uuid.UUID {
	var id uuid.UUID
	ms := uint64(t.UnixMilli())
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], ms)
	copy(id[0:6], buf[2:8])
	_, _ = rand.Read(id[6:])
	id[6] = (id[6] & 0x0f) | 0x70 // version 7
	id[8] = (id[8] & 0x3f) | 0x80 // RFC 9562 variant
	return id
}

// IDTime returns the millisecond timestamp embedded in a UUIDv7, in UTC.
// For ids made by NewID it equals the row's partition timestamp.
func IDTime(id uuid.UUID) time.Time {
	var buf [8]byte
	copy(buf[2:8], id[0:6])
	return time.UnixMilli(int64(binary.BigEndian.Uint64(buf[:]))).UTC()
}

// Now returns the current time truncated to the millisecond, the precision
// Herald stores timestamps that are also embedded in ids.
func Now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// Operational event types: Herald's own CloudEvents about the platform,
// registered at start as public types of the platform tenant and routed
// only to endpoints of the tenant they concern.
const (
	OpEndpointDisabled  = "herald.endpoint.disabled"
	OpEndpointVerified  = "herald.endpoint.verified"
	OpDeliveryExhausted = "herald.delivery.exhausted"
	// OpDeliveryRecovered announces that a delivery announced as exhausted
	// later succeeded (a manual retry, an endpoint recover or a replay).
	OpDeliveryRecovered = "herald.delivery.recovered"
)

// IsOperational reports whether a type is one of Herald's own.
func IsOperational(typ string) bool { return strings.HasPrefix(typ, "herald.") }

// TestEventType is the type of the event "send test event" delivers when no
// sample is given. It is not a registered type: a test event is addressed
// to one endpoint, never routed by subscription.
const TestEventType = "herald.endpoint.test"
