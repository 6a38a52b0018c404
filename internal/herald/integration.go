package herald

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Delivery modes of an event type.
const (
	// DeliveryFull pushes the whole event to every channel (the default).
	DeliveryFull = "full"
	// DeliveryThin pushes a notification only; the full payload is read
	// through the Integration API.
	DeliveryThin = "thin"
)

// Default retention of a thin event's full payload (PlanX: 30 days, or 5
// days after the first successful retrieval, whichever comes first).
const (
	DefaultThinKeep           = 30 * 24 * time.Hour
	DefaultThinAfterFirstRead = 5 * 24 * time.Hour
)

// ThinDelivery makes an event type thin: webhooks and every other push
// channel carry the CloudEvents attributes, the Fields kept from data and a
// dataref pointing at the full payload in the Integration API.
type ThinDelivery struct {
	// Fields are JSON paths ("$.team", "$.payment.id") of data members that
	// carry no personal data and are kept in the notification.
	Fields []string
	// Keep is how long the full payload stays readable after receipt.
	Keep time.Duration
	// AfterFirstRead is how long it stays readable after its first
	// successful read (whichever ends first).
	AfterFirstRead time.Duration
}

// Integration is a key and secret pair a tenant issues to one consuming
// platform (one per deployment) to read events through the Integration API,
// scoped to event types or patterns.
type Integration struct {
	ID         uuid.UUID
	TenantID   uuid.UUID
	Name       string
	Key        string
	SecretHash []byte
	// Types are event type names or NATS-style patterns the credential may
	// read.
	Types      []string
	ExpiresAt  time.Time // zero: never
	RevokedAt  time.Time // zero: live
	LastUsedAt time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Usable says why the credential cannot be used at now ("" when it can).
func (i *Integration) Usable(now time.Time) string {
	switch {
	case !i.RevokedAt.IsZero():
		return "the integration credential was revoked"
	case !i.ExpiresAt.IsZero() && !now.Before(i.ExpiresAt):
		return "the integration credential has expired"
	}
	return ""
}

// NewIntegrationCredential returns a fresh integration key and secret. The
// prefixes (hik_, his_) tell them apart from client credentials.
func NewIntegrationCredential() (key, secret string) {
	var k [10]byte
	var s [32]byte
	_, _ = rand.Read(k[:])
	_, _ = rand.Read(s[:])
	return "hik_" + lower(keyEncoding.EncodeToString(k[:])), "his_" + base64.RawURLEncoding.EncodeToString(s[:])
}

// File is a producer's upload, attached to at most one event.
type File struct {
	ID          uuid.UUID
	TenantID    uuid.UUID
	ClientID    uuid.UUID
	Name        string
	ContentType string
	Size        int64
	SHA256      []byte
	CreatedAt   time.Time
	// ExpiresAt is when an unattached upload is deleted.
	ExpiresAt time.Time
	// EventID is the event the file is attached to (uuid.Nil: none yet).
	EventID    uuid.UUID
	AttachedAt time.Time
}

// AccessEntry is one Integration API request in the audit log.
type AccessEntry struct {
	ID            int64
	IntegrationID uuid.UUID
	TenantID      uuid.UUID
	At            time.Time
	RemoteAddr    string
	Method        string
	Path          string
	EventID       uuid.UUID
	FileID        uuid.UUID
	Status        int
	Outcome       string
}

// ErrGone means something existed but is deliberately gone for good (an
// expired thin payload); callers must not retry.
var ErrGone = errors.New("gone")

// GoneError says what is gone and why.
type GoneError struct{ Reason string }

func (e *GoneError) Error() string { return "gone: " + e.Reason }

// Unwrap lets errors.Is(err, ErrGone) match.
func (e *GoneError) Unwrap() error { return ErrGone }

// Gone builds a GoneError.
func Gone(format string, args ...any) error {
	return &GoneError{Reason: fmt.Sprintf(format, args...)}
}
