package app

import (
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/heraldhq/herald/webhook"
)

// Config is everything the server needs, already parsed and validated by
// cmd/herald (or set by a test). Defaults are declared once, in
// cmd/herald's table of settings, which fills every field; a zero field
// here means the same as a zero setting there:
//
//   - A setting that can be off is off at zero: Retention 0 keeps data
//     forever, AutoDisableAfter 0 never disables, ShutdownDelay 0 closes the
//     listener at once, BreakerThreshold 0 has no breaker, VerifyEndpoints
//     false skips the handshake. Every layer below (queue, postgres,
//     integration-api) reads zero the same way.
//   - A setting that cannot be off (a timeout, a TTL, a size, a pool)
//     cannot be zero on the command line; a zero field means "not set" and
//     the package that owns the setting uses its Default constant, the very
//     constant the table names as the default.
type Config struct {
	// Addr is the listen address (host:port); ignored when Listener is set.
	Addr     string
	Listener net.Listener
	// DatabaseURL selects an external PostgreSQL; empty starts Herald's own
	// cluster under DataDir.
	DatabaseURL string
	DataDir     string
	PGBinDir    string
	// BootstrapAdmin is "key:secret" of a platform admin to ensure at start.
	BootstrapAdmin string
	// MasterKey encrypts secrets at rest; empty loads or creates
	// DataDir/master.key.
	MasterKey     string
	RetrySchedule webhook.RetrySchedule
	// AllowPrivateTargets lets webhooks reach private, loopback and other
	// internal addresses (development, tests); AllowTargetPrefixes allows
	// only the listed ranges.
	AllowPrivateTargets bool
	AllowTargetPrefixes []netip.Prefix
	RequireHTTPS        bool
	// TLSCAFile names a PEM bundle of extra certificate authorities that
	// receivers' server certificates may chain to (private CAs), on top of
	// the system roots; empty: the system roots only.
	TLSCAFile string
	// Workers is how many deliveries a node sends at once (0:
	// queue.DefaultWorkers); DBMaxConns the database pool's size (0:
	// DefaultDBMaxConns).
	Workers    int
	DBMaxConns int
	// ShutdownTimeout bounds Stop: in-flight requests, deliveries and
	// connector runs get this long to finish; what still runs then is
	// cancelled and retried later (0: DefaultShutdownTimeout).
	ShutdownTimeout time.Duration
	// ShutdownDelay is how long Stop keeps serving, with /readyz answering
	// 503, before it closes the listener, so load balancers stop sending
	// first (0: close at once).
	ShutdownDelay time.Duration
	// JobTimeout bounds one run of a delivery job, and RescueMargin is how
	// long past a job's timeout a job still marked running is taken for
	// abandoned by a node that died (0: queue's defaults).
	JobTimeout   time.Duration
	RescueMargin time.Duration
	// VerifyEndpoints keeps new endpoints pending until their receiver
	// consents through the CloudEvents webhook handshake (OPTIONS).
	VerifyEndpoints bool
	// Retention is how long events and delivery history are kept (0:
	// forever; herald.KeptSince is the one reading of it).
	Retention time.Duration
	// BreakerThreshold consecutive failed attempts open an endpoint's
	// circuit for BreakerCooldown (0: no circuit breaker).
	BreakerThreshold int
	BreakerCooldown  time.Duration
	// AutoDisableAfter disables an endpoint after this long without a
	// successful delivery while attempts fail (0: never).
	AutoDisableAfter time.Duration
	// PublicURL is how receivers reach this Herald (the issuer of its JWTs,
	// whose keys are at PublicURL/.well-known/jwks.json); default
	// http://<listen address>.
	PublicURL string
	// IngestCommitters is how many ingest transactions may run at once
	// (default 2: fewer, larger transactions measured faster on 2 cores).
	IngestCommitters int
	// NoHandoff leaves every first attempt to the job queue's fetch instead
	// of making it on this node right after the commit (see queue.Handoff);
	// for comparisons.
	NoHandoff bool
	// FetchCooldown tunes how eagerly idle workers look for new jobs.
	FetchCooldown time.Duration
	// ConnectorTimeout caps one connector run (0: connectors.DefaultTimeout);
	// ConnectorMemoryMB caps a function's JavaScript heap (0:
	// connectors.DefaultMemory); ConnectorMaxRequests caps the outbound
	// requests of one run (0: connectors.DefaultMaxRequests);
	// ConnectorWorkers is how many runs execute at once per node (0:
	// queue.DefaultConnectorWorkers).
	ConnectorTimeout     time.Duration
	ConnectorMemoryMB    int
	ConnectorMaxRequests int
	ConnectorWorkers     int
	// AllowPlainSMTP lets e-mail connectors send without TLS (development).
	AllowPlainSMTP bool
	// SMTPRootCAs verifies SMTP servers' certificates (nil: the system's
	// roots); for private CAs and tests.
	SMTPRootCAs *x509.CertPool
	// MaxFileBytes caps one file upload; FileUploadTTL is how long an upload
	// no event references is kept; FileURLTTL how long a signed download
	// link works (0: integrationapi's defaults).
	MaxFileBytes  int64
	FileUploadTTL time.Duration
	FileURLTTL    time.Duration
	// Now is the clock of the Integration API, file links and payload
	// retention (nil: time.Now); tests jump it days ahead.
	Now func() time.Time
	// ConsumerInstanceTTL is how long a consumer group instance may stay
	// idle before it expires (0: pull.DefaultInstanceTTL);
	// ConsumerMaxInstances bounds the instances of one group (0:
	// pull.DefaultMaxInstances).
	ConsumerInstanceTTL  time.Duration
	ConsumerMaxInstances int
	// ConsumerPingInterval is how often consumer WebSockets are pinged
	// (0: httpapi.DefaultPingInterval); ConsumerTokenTTL how long a
	// consumer token is valid (0: tokens.DefaultTTL).
	ConsumerPingInterval time.Duration
	ConsumerTokenTTL     time.Duration
	// SkipMigrate assumes the schema is current (tests using a migrated
	// template database).
	SkipMigrate bool
	Logger      *slog.Logger
}

// Defaults of the settings app itself owns (see Config).
const (
	DefaultShutdownTimeout = 30 * time.Second
	DefaultDBMaxConns      = 40
)

// ParseBootstrapAdmin splits Config.BootstrapAdmin into the admin's key and
// secret, refusing a short secret.
func ParseBootstrapAdmin(s string) (key, secret string, err error) {
	key, secret, ok := strings.Cut(s, ":")
	if !ok || key == "" || len(secret) < 16 {
		return "", "", errors.New("must be key:secret with a secret of at least 16 characters")
	}
	return key, secret, nil
}
