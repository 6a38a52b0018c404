package main

import (
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/connectors"
	integrationapi "github.com/heraldhq/herald/integration-api"
	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/pull"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/webhook"
)

// settings declares every setting of `herald serve` and `herald migrate`
// once. The flags and their help, the environment lookup, the startup log
// line and docs/configuration.md (TestConfigurationReference) all come from
// it. Where a package below owns a default, the table names its constant,
// so each default value is written once.
//
// A zero duration or count means the same at every layer: for a setting
// that can be off (retention, auto-disable, shutdown delay, breaker), zero
// is off; the others refuse zero here, and a zero field of app.Config means
// "not set" (see app.Config).
var settings = []setting{
	// Server
	{group: "Server", flag: "addr", env: "HERALD_ADDR", def: "127.0.0.1:8080",
		help: "listen address",
		set: func(c *config, v string) error {
			if _, _, err := net.SplitHostPort(v); err != nil {
				return badValue{err}
			}
			c.Addr = v
			return nil
		}},
	{group: "Server", flag: "public-url", env: "HERALD_PUBLIC_URL", unset: "`http://<addr>`",
		help: "URL receivers reach this Herald at: the issuer of its JWTs, keys at /.well-known/jwks.json; default http://<addr>",
		more: "Also the base of thin notifications' `dataref` and of attachment download links.",
		set:  func(c *config, v string) error { c.PublicURL = strings.TrimSuffix(v, "/"); return nil }},
	{group: "Server", flag: "data-dir", env: "HERALD_DATA_DIR", def: "./herald-data",
		help: "data folder: embedded PostgreSQL and the generated master key",
		more: "Uploaded files are kept in its `files/` folder, which all nodes must share.",
		set:  func(c *config, v string) error { c.DataDir = v; return nil }},
	{group: "Server", flag: "bootstrap-admin", env: "HERALD_BOOTSTRAP_ADMIN",
		help: "key:secret of a platform admin to ensure at start",
		mask: maskCredential,
		set: func(c *config, v string) error {
			if v != "" {
				if _, _, err := app.ParseBootstrapAdmin(v); err != nil {
					return err
				}
			}
			c.BootstrapAdmin = v
			return nil
		}},
	{group: "Server", flag: "master-key", env: "HERALD_MASTER_KEY", unset: "generated into the data dir",
		help: "base64 32-byte key encrypting secrets at rest; default: generated into the data dir",
		more: "Encrypts endpoint signing secrets, static headers, OAuth2 client secrets, mutual-TLS private keys and connector secrets (AES-256-GCM).",
		mask: maskSecret,
		set:  func(c *config, v string) error { c.MasterKey = v; return nil }},

	// Database
	{group: "Database", flag: "database-url", env: "HERALD_DATABASE_URL", alias: "DATABASE_URL", unset: "Herald's own PostgreSQL",
		help: "PostgreSQL URL; empty runs Herald's own PostgreSQL in the data dir",
		mask: func(s string) string {
			if s == "" {
				return "embedded"
			}
			return maskURL(s)
		},
		set: func(c *config, v string) error { c.DatabaseURL = v; return nil }},
	{group: "Database", flag: "pg-bin", env: "HERALD_PG_BIN", unset: "searched on `PATH` and under `/usr/lib/postgresql`",
		help: "folder holding initdb and postgres, if not on PATH or under /usr/lib/postgresql",
		set:  func(c *config, v string) error { c.PGBinDir = v; return nil }},
	{group: "Database", flag: "db-max-conns", env: "HERALD_DB_MAX_CONNS", def: strconv.Itoa(app.DefaultDBMaxConns), integer: true,
		help: "PostgreSQL connection pool size (plus 5 connections for the delivery path's lookups by key)",
		set:  intField(func(c *config) *int { return &c.DBMaxConns }, 4, math.MaxInt32, "must be at least 4")},

	// Delivery
	{group: "Delivery", flag: "workers", env: "HERALD_WORKERS", def: strconv.Itoa(queue.DefaultWorkers), integer: true,
		help: "concurrent webhook deliveries on this node",
		set:  intField(func(c *config) *int { return &c.Workers }, 1, 10000, "must be from 1 to 10000")},
	{group: "Delivery", flag: "retry-schedule", env: "HERALD_RETRY_SCHEDULE", def: scheduleText(webhook.DefaultRetrySchedule),
		help: "delays before each retry, comma-separated Go durations",
		more: "Each delay gets ±20 % jitter; `Retry-After` is honoured (capped at 1 h).",
		set: func(c *config, v string) (err error) {
			c.RetrySchedule, err = webhook.ParseRetrySchedule(v)
			return err
		}},
	{group: "Delivery", flag: "verify-endpoints", env: "HERALD_VERIFY_ENDPOINTS", def: "true",
		help: "keep new endpoints pending until their receiver consents (CloudEvents webhook OPTIONS handshake)",
		set: func(c *config, v string) (err error) {
			c.VerifyEndpoints, err = boolean(v)
			return err
		}},
	{group: "Delivery", flag: "breaker-failures", env: "HERALD_BREAKER_FAILURES", def: "20", integer: true, off: "turns the circuit breaker off",
		help: "consecutive failed attempts that open an endpoint's circuit; 0 turns the breaker off",
		set:  intField(func(c *config) *int { return &c.BreakerThreshold }, 0, math.MaxInt32, "must be 0 (off) or more")},
	{group: "Delivery", flag: "breaker-cooldown", env: "HERALD_BREAKER_COOLDOWN", def: "30s",
		help: "how long an open circuit waits before one probe attempt",
		set: durationField(func(c *config) *time.Duration { return &c.BreakerCooldown },
			positive, "%q is not a positive Go duration such as 30s")},
	{group: "Delivery", flag: "auto-disable-after", env: "HERALD_AUTO_DISABLE_AFTER", def: "120h", off: "never disables an endpoint",
		help: "disable an endpoint after this long without a successful delivery; 0 never",
		set: durationField(func(c *config) *time.Duration { return &c.AutoDisableAfter },
			func(d time.Duration) bool { return d >= 0 }, "%q is not a non-negative Go duration such as 120h")},
	{group: "Delivery", flag: "retention", env: "HERALD_RETENTION", def: "120h", off: "keeps events forever",
		help: "how long events and delivery history are kept, in whole days, unless an event type sets its own retention; 0 keeps them forever",
		more: "Old days are dropped as daily partitions once the longest keep in force (this one or an event type's `retention.keep`) has passed them, with their idempotency keys, connector runs, thin payloads' records, access log entries and attached files; events of types kept for less are deleted before, in batches.",
		set: durationField(func(c *config) *time.Duration { return &c.Retention },
			func(d time.Duration) bool { return d == 0 || d >= herald.MinRetentionKeep },
			"%q must be 0 (forever) or a Go duration of at least 48h, past the retry schedule")},
	{group: "Delivery", flag: "job-timeout", env: "HERALD_JOB_TIMEOUT", def: herald.ShortDuration(queue.DefaultJobTimeout),
		help: "longest run of one delivery job (an attempt is 15s at most)",
		set: durationField(func(c *config) *time.Duration { return &c.JobTimeout },
			func(d time.Duration) bool { return d >= webhook.DefaultTimeout+time.Second },
			"%q must be a Go duration longer than one attempt ("+webhook.DefaultTimeout.String()+"), such as 1m")},
	{group: "Delivery", flag: "rescue-margin", env: "HERALD_RESCUE_MARGIN", def: herald.ShortDuration(queue.DefaultRescueMargin),
		help: "how long past its timeout a job still marked running is taken for abandoned by a node that died, and run again",
		more: "A dead node's deliveries resume about `HERALD_JOB_TIMEOUT` + 10 s + this margin after it died (1m40s by default).",
		set: durationField(func(c *config) *time.Duration { return &c.RescueMargin },
			func(d time.Duration) bool { return d >= time.Second },
			"%q must be a Go duration of at least 1s, such as 30s")},

	{group: "Delivery", flag: "consumer-instance-ttl", env: "HERALD_CONSUMER_INSTANCE_TTL", def: herald.ShortDuration(pull.DefaultInstanceTTL),
		help: "how long a consumer group instance (long poll) may stay idle before it expires and its events go to the others",
		set: durationField(func(c *config) *time.Duration { return &c.ConsumerInstanceTTL },
			func(d time.Duration) bool { return d >= time.Minute },
			"%q must be a Go duration of at least 1m (a long poll waits up to 50s), such as 5m")},
	{group: "Delivery", flag: "consumer-max-instances", env: "HERALD_CONSUMER_MAX_INSTANCES", def: strconv.Itoa(pull.DefaultMaxInstances), integer: true,
		help: "most instances one consumer group may have",
		set:  intField(func(c *config) *int { return &c.ConsumerMaxInstances }, 1, 100000, "must be from 1 to 100000")},

	// Webhook targets
	{group: "Webhook targets", flag: "allow-private-targets", env: "HERALD_ALLOW_PRIVATE_TARGETS", def: "false",
		help: "true, or comma-separated CIDRs webhooks may reach despite the SSRF guard; for development and tests",
		set: func(c *config, v string) (err error) {
			c.AllowPrivateTargets, c.AllowTargetPrefixes, err = webhook.ParseAllowPrivate(v)
			return err
		}},
	{group: "Webhook targets", flag: "require-https-targets", env: "HERALD_REQUIRE_HTTPS_TARGETS", def: "false",
		help: "refuse http:// endpoint URLs",
		set: func(c *config, v string) (err error) {
			c.RequireHTTPS, err = boolean(v)
			return err
		}},
	{group: "Webhook targets", flag: "tls-ca-file", env: "HERALD_TLS_CA_FILE",
		help: "PEM bundle of extra CAs (private CAs) trusted for receivers' server certificates, on top of the system roots",
		set:  func(c *config, v string) error { c.TLSCAFile = v; return nil }},

	// Connectors
	{group: "Connectors", flag: "connector-timeout", env: "HERALD_CONNECTOR_TIMEOUT", def: herald.ShortDuration(connectors.DefaultTimeout),
		help: "time limit of one connector run, JavaScript included",
		set: durationField(func(c *config) *time.Duration { return &c.ConnectorTimeout },
			func(d time.Duration) bool { return d > 0 && d <= 5*time.Minute },
			"%q must be a Go duration from 1ms to 5m, such as 5s")},
	{group: "Connectors", flag: "connector-memory-mb", env: "HERALD_CONNECTOR_MEMORY_MB", def: strconv.Itoa(connectors.DefaultMemory >> 20), integer: true,
		help: "memory limit of one connector function's JavaScript, in MiB",
		set:  intField(func(c *config) *int { return &c.ConnectorMemoryMB }, 4, 4096, "must be from 4 to 4096")},
	{group: "Connectors", flag: "connector-max-requests", env: "HERALD_CONNECTOR_MAX_REQUESTS", def: strconv.Itoa(connectors.DefaultMaxRequests), integer: true,
		help: "outbound requests one connector run may make",
		set:  intField(func(c *config) *int { return &c.ConnectorMaxRequests }, 1, 1000, "must be from 1 to 1000")},
	{group: "Connectors", flag: "connector-workers", env: "HERALD_CONNECTOR_WORKERS", def: strconv.Itoa(queue.DefaultConnectorWorkers), integer: true,
		help: "connector runs executing at once on this node",
		more: "Connectors have their own queue, apart from deliveries.",
		set:  intField(func(c *config) *int { return &c.ConnectorWorkers }, 1, 1000, "must be from 1 to 1000")},
	{group: "Connectors", flag: "connector-allow-plain-smtp", env: "HERALD_CONNECTOR_ALLOW_PLAIN_SMTP", def: "false",
		help: "let e-mail connectors send without TLS; for development",
		set: func(c *config, v string) (err error) {
			c.AllowPlainSMTP, err = boolean(v)
			return err
		}},

	// Files
	{group: "Files", flag: "max-file-bytes", env: "HERALD_MAX_FILE_BYTES", def: strconv.Itoa(integrationapi.DefaultMaxFileBytes), integer: true,
		help: "largest file a producer may upload (POST /v1/files), in bytes",
		more: "25 MiB by default, 5 GiB at most.",
		set: func(c *config, v string) error {
			var err error
			c.MaxFileBytes, err = intWithin(v, 1, 5<<30, fmt.Sprintf("must be from 1 to %d (5 GiB)", int64(5<<30)))
			return err
		}},
	{group: "Files", flag: "file-upload-ttl", env: "HERALD_FILE_UPLOAD_TTL", def: herald.ShortDuration(integrationapi.DefaultUploadTTL),
		help: "how long an uploaded file no event references is kept",
		set: durationField(func(c *config) *time.Duration { return &c.FileUploadTTL },
			func(d time.Duration) bool { return d >= time.Minute },
			"%q is not a Go duration of at least 1m, such as 24h")},
	{group: "Files", flag: "file-url-ttl", env: "HERALD_FILE_URL_TTL", def: herald.ShortDuration(integrationapi.DefaultURLTTL),
		help: "how long a signed attachment download link works",
		set: durationField(func(c *config) *time.Duration { return &c.FileURLTTL },
			func(d time.Duration) bool { return d >= 10*time.Second && d <= 24*time.Hour },
			"%q must be a Go duration from 10s to 24h, such as 5m")},

	// Shutdown
	{group: "Shutdown", flag: "shutdown-timeout", env: "HERALD_SHUTDOWN_TIMEOUT", def: herald.ShortDuration(app.DefaultShutdownTimeout),
		help: "how long shutdown waits for in-flight requests, deliveries and connector runs; those still running then are cancelled and retried later",
		more: "They are sent again later with the same `webhook-id`.",
		set: durationField(func(c *config) *time.Duration { return &c.ShutdownTimeout },
			positive, "%q is not a positive Go duration such as 30s")},
	// After shutdown-timeout, which bounds it.
	{group: "Shutdown", flag: "shutdown-delay", env: "HERALD_SHUTDOWN_DELAY", def: "0s", off: "closes the listener at once",
		help: "on SIGTERM, answer /readyz 503 for this long while still serving, so load balancers stop sending before the listener closes",
		set: func(c *config, v string) (err error) {
			c.ShutdownDelay, err = durationWhere(v, func(d time.Duration) bool { return d >= 0 && d < c.ShutdownTimeout },
				"%q must be a Go duration from 0s to less than the shutdown timeout ("+c.ShutdownTimeout.String()+")")
			return err
		}},

	// Logging
	{group: "Logging", flag: "log-level", env: "HERALD_LOG_LEVEL", def: "info",
		help: "debug, info, warn or error",
		set: func(c *config, v string) (err error) {
			c.LogLevel, err = levelFrom(v)
			return err
		}},
	{group: "Logging", flag: "log-format", env: "HERALD_LOG_FORMAT", def: "text",
		help: "text or json",
		set: func(c *config, v string) error {
			if v != "text" && v != "json" {
				return fmt.Errorf("must be text or json, not %q", v)
			}
			c.LogFormat = v
			return nil
		}},
}

func positive(d time.Duration) bool { return d > 0 }

// durationWhere parses a Go duration that ok accepts; refusal is the error
// otherwise, with %q for the value.
func durationWhere(v string, ok func(time.Duration) bool, refusal string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || !ok(d) {
		return 0, fmt.Errorf(refusal, v)
	}
	return d, nil
}

// intField sets an int field to an integer from lo to hi.
func intField(field func(*config) *int, lo, hi int64, refusal string) func(*config, string) error {
	return func(c *config, v string) error {
		n, err := intWithin(v, lo, hi, refusal)
		*field(c) = int(n)
		return err
	}
}

// durationField sets a duration field to a Go duration that ok accepts.
func durationField(field func(*config) *time.Duration, ok func(time.Duration) bool, refusal string) func(*config, string) error {
	return func(c *config, v string) (err error) {
		*field(c), err = durationWhere(v, ok, refusal)
		return err
	}
}

// intWithin parses an integer from lo to hi; refusal is the error otherwise.
func intWithin(v string, lo, hi int64, refusal string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, errors.New(refusal)
	}
	return n, nil
}

// boolean parses true or false (and the other forms strconv.ParseBool reads).
func boolean(v string) (bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, errors.New("must be true or false")
	}
	return b, nil
}

// scheduleText writes a retry schedule as the variable takes it, in short
// durations.
func scheduleText(rs webhook.RetrySchedule) string {
	parts := make([]string, len(rs))
	for i, d := range rs {
		parts[i] = herald.ShortDuration(d)
	}
	return strings.Join(parts, ",")
}
