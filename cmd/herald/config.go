package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/webhook"
)

// config is Herald's configuration: each field has a flag and a HERALD_*
// environment variable; the flag wins. Defaults are safe for production
// except where noted.
type config struct {
	Addr            string
	PublicURL       string
	DatabaseURL     string
	DataDir         string
	PGBinDir        string
	BootstrapAdmin  string
	MasterKey       string
	RetrySchedule   webhook.RetrySchedule
	AllowPrivate    bool
	AllowPrefixes   []netip.Prefix
	RequireHTTPS    bool
	TLSCAFile       string
	Workers         int
	DBMaxConns      int
	ShutdownTimeout time.Duration
	ShutdownDelay   time.Duration
	JobTimeout      time.Duration
	RescueMargin    time.Duration
	AutoDisable     time.Duration
	Retention       time.Duration
	BreakerFailures int
	BreakerCooldown time.Duration
	VerifyEndpoints bool
	MaxFileBytes    int64
	FileUploadTTL   time.Duration
	FileURLTTL      time.Duration
	LogLevel        slog.Level
	LogFormat       string
	Steps           int
	// Connectors are the hosted connectors' settings (config_connectors.go).
	Connectors connectorConfig
}

// parseConfig reads flags for a command, falling back to the environment.
// Errors name the flag and the variable.
func parseConfig(cmd string, args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("herald "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	dbDefault := env("HERALD_DATABASE_URL", getenv("DATABASE_URL"))
	addr := fs.String("addr", env("HERALD_ADDR", "127.0.0.1:8080"), "listen address (HERALD_ADDR)")
	publicURL := fs.String("public-url", env("HERALD_PUBLIC_URL", ""), "URL receivers reach this Herald at: the issuer of its JWTs, keys at /.well-known/jwks.json (HERALD_PUBLIC_URL; default http://<addr>)")
	dbURL := fs.String("database-url", dbDefault, "PostgreSQL URL (HERALD_DATABASE_URL or DATABASE_URL); empty runs Herald's own PostgreSQL in the data dir")
	dataDir := fs.String("data-dir", env("HERALD_DATA_DIR", "./herald-data"), "data folder: embedded PostgreSQL and the generated master key (HERALD_DATA_DIR)")
	pgBin := fs.String("pg-bin", env("HERALD_PG_BIN", ""), "folder holding initdb and postgres, if not on PATH or under /usr/lib/postgresql (HERALD_PG_BIN)")
	bootstrap := fs.String("bootstrap-admin", env("HERALD_BOOTSTRAP_ADMIN", ""), "key:secret of a platform admin to ensure at start (HERALD_BOOTSTRAP_ADMIN)")
	masterKey := fs.String("master-key", env("HERALD_MASTER_KEY", ""), "base64 32-byte key encrypting secrets at rest; default: generated into the data dir (HERALD_MASTER_KEY)")
	schedule := fs.String("retry-schedule", env("HERALD_RETRY_SCHEDULE", webhook.DefaultRetrySchedule.String()), "delays before each retry, comma-separated Go durations (HERALD_RETRY_SCHEDULE)")
	allowPrivate := fs.String("allow-private-targets", env("HERALD_ALLOW_PRIVATE_TARGETS", "false"), "true, or comma-separated CIDRs webhooks may reach despite the SSRF guard; for development and tests (HERALD_ALLOW_PRIVATE_TARGETS)")
	requireHTTPS := fs.String("require-https-targets", env("HERALD_REQUIRE_HTTPS_TARGETS", "false"), "refuse http:// endpoint URLs (HERALD_REQUIRE_HTTPS_TARGETS)")
	tlsCAFile := fs.String("tls-ca-file", env("HERALD_TLS_CA_FILE", ""), "PEM bundle of extra CAs (private CAs) trusted for receivers' server certificates, on top of the system roots (HERALD_TLS_CA_FILE)")
	workers := fs.Int("workers", envInt(getenv, "HERALD_WORKERS", 200), "concurrent webhook deliveries on this node (HERALD_WORKERS)")
	maxConns := fs.Int("db-max-conns", envInt(getenv, "HERALD_DB_MAX_CONNS", 40), "PostgreSQL connection pool size (HERALD_DB_MAX_CONNS)")
	verifyEndpoints := fs.String("verify-endpoints", env("HERALD_VERIFY_ENDPOINTS", "true"), "keep new endpoints pending until their receiver consents (CloudEvents webhook OPTIONS handshake) (HERALD_VERIFY_ENDPOINTS)")
	breakerFailures := fs.Int("breaker-failures", envInt(getenv, "HERALD_BREAKER_FAILURES", 20), "consecutive failed attempts that open an endpoint's circuit; 0 turns the breaker off (HERALD_BREAKER_FAILURES)")
	breakerCooldown := fs.String("breaker-cooldown", env("HERALD_BREAKER_COOLDOWN", "30s"), "how long an open circuit waits before one probe attempt (HERALD_BREAKER_COOLDOWN)")
	retention := fs.String("retention", env("HERALD_RETENTION", "720h"), "how long events and delivery history are kept, in whole days; 0 keeps them forever (HERALD_RETENTION)")
	autoDisable := fs.String("auto-disable-after", env("HERALD_AUTO_DISABLE_AFTER", "120h"), "disable an endpoint after this long without a successful delivery; 0 never (HERALD_AUTO_DISABLE_AFTER)")
	shutdown := fs.String("shutdown-timeout", env("HERALD_SHUTDOWN_TIMEOUT", "30s"), "how long shutdown waits for in-flight requests, deliveries and connector runs; those still running then are cancelled and retried later (HERALD_SHUTDOWN_TIMEOUT)")
	shutdownDelay := fs.String("shutdown-delay", env("HERALD_SHUTDOWN_DELAY", "0s"), "on SIGTERM, answer /readyz 503 for this long while still serving, so load balancers stop sending before the listener closes (HERALD_SHUTDOWN_DELAY)")
	jobTimeout := fs.String("job-timeout", env("HERALD_JOB_TIMEOUT", queue.DefaultJobTimeout.String()), "longest run of one delivery job (an attempt is 15s at most) (HERALD_JOB_TIMEOUT)")
	rescueMargin := fs.String("rescue-margin", env("HERALD_RESCUE_MARGIN", queue.DefaultRescueMargin.String()), "how long past its timeout a job still marked running is taken for abandoned by a node that died, and run again (HERALD_RESCUE_MARGIN)")
	maxFileBytes := fs.Int64("max-file-bytes", envInt64(getenv, "HERALD_MAX_FILE_BYTES", 25<<20), "largest file a producer may upload (POST /v1/files), in bytes (HERALD_MAX_FILE_BYTES)")
	fileUploadTTL := fs.String("file-upload-ttl", env("HERALD_FILE_UPLOAD_TTL", "24h"), "how long an uploaded file no event references is kept (HERALD_FILE_UPLOAD_TTL)")
	fileURLTTL := fs.String("file-url-ttl", env("HERALD_FILE_URL_TTL", "5m"), "how long a signed attachment download link works (HERALD_FILE_URL_TTL)")
	logLevel := fs.String("log-level", env("HERALD_LOG_LEVEL", "info"), "debug, info, warn or error (HERALD_LOG_LEVEL)")
	logFormat := fs.String("log-format", env("HERALD_LOG_FORMAT", "text"), "text or json (HERALD_LOG_FORMAT)")
	steps := fs.Int("steps", 1, "migrate down: how many migrations to revert")
	connectors := connectorFlags(fs, getenv)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	c := &config{Addr: *addr, PublicURL: strings.TrimSuffix(*publicURL, "/"), DatabaseURL: *dbURL, DataDir: *dataDir, PGBinDir: *pgBin, BootstrapAdmin: *bootstrap,
		MasterKey: *masterKey, TLSCAFile: *tlsCAFile, Workers: *workers, DBMaxConns: *maxConns, LogFormat: *logFormat, Steps: *steps}
	var err error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return nil, fmt.Errorf("-addr / HERALD_ADDR %q: %w", c.Addr, err)
	}
	if c.RetrySchedule, err = webhook.ParseRetrySchedule(*schedule); err != nil {
		return nil, fmt.Errorf("-retry-schedule / HERALD_RETRY_SCHEDULE: %w", err)
	}
	if c.AllowPrivate, c.AllowPrefixes, err = webhook.ParseAllowPrivate(*allowPrivate); err != nil {
		return nil, fmt.Errorf("-allow-private-targets / HERALD_ALLOW_PRIVATE_TARGETS: %w", err)
	}
	if c.RequireHTTPS, err = strconv.ParseBool(*requireHTTPS); err != nil {
		return nil, fmt.Errorf("-require-https-targets / HERALD_REQUIRE_HTTPS_TARGETS: must be true or false")
	}
	if c.ShutdownTimeout, err = time.ParseDuration(*shutdown); err != nil || c.ShutdownTimeout <= 0 {
		return nil, fmt.Errorf("-shutdown-timeout / HERALD_SHUTDOWN_TIMEOUT: %q is not a positive Go duration such as 30s", *shutdown)
	}
	if c.ShutdownDelay, err = time.ParseDuration(*shutdownDelay); err != nil || c.ShutdownDelay < 0 || c.ShutdownDelay >= c.ShutdownTimeout {
		return nil, fmt.Errorf("-shutdown-delay / HERALD_SHUTDOWN_DELAY: %q must be a Go duration from 0s to less than the shutdown timeout (%s)", *shutdownDelay, c.ShutdownTimeout)
	}
	if c.JobTimeout, err = time.ParseDuration(*jobTimeout); err != nil || c.JobTimeout < webhook.DefaultTimeout+time.Second {
		return nil, fmt.Errorf("-job-timeout / HERALD_JOB_TIMEOUT: %q must be a Go duration longer than one attempt (%s), such as 1m", *jobTimeout, webhook.DefaultTimeout)
	}
	if c.RescueMargin, err = time.ParseDuration(*rescueMargin); err != nil || c.RescueMargin < time.Second {
		return nil, fmt.Errorf("-rescue-margin / HERALD_RESCUE_MARGIN: %q must be a Go duration of at least 1s, such as 30s", *rescueMargin)
	}
	if c.Retention, err = time.ParseDuration(*retention); err != nil || c.Retention < 0 ||
		(c.Retention > 0 && c.Retention < 48*time.Hour) {
		return nil, fmt.Errorf("-retention / HERALD_RETENTION: %q must be 0 (forever) or a Go duration of at least 48h, past the retry schedule", *retention)
	}
	if c.Retention == 0 {
		c.Retention = -1 // forever
	}
	c.BreakerFailures = *breakerFailures
	if c.BreakerFailures < 0 {
		return nil, fmt.Errorf("-breaker-failures / HERALD_BREAKER_FAILURES: must be 0 (off) or more")
	}
	if c.BreakerCooldown, err = time.ParseDuration(*breakerCooldown); err != nil || c.BreakerCooldown <= 0 {
		return nil, fmt.Errorf("-breaker-cooldown / HERALD_BREAKER_COOLDOWN: %q is not a positive Go duration such as 30s", *breakerCooldown)
	}
	if c.VerifyEndpoints, err = strconv.ParseBool(*verifyEndpoints); err != nil {
		return nil, fmt.Errorf("-verify-endpoints / HERALD_VERIFY_ENDPOINTS: must be true or false")
	}
	if c.AutoDisable, err = time.ParseDuration(*autoDisable); err != nil || c.AutoDisable < 0 {
		return nil, fmt.Errorf("-auto-disable-after / HERALD_AUTO_DISABLE_AFTER: %q is not a non-negative Go duration such as 120h", *autoDisable)
	}
	if c.AutoDisable == 0 {
		c.AutoDisable = -1 // never
	}
	if c.Connectors, err = connectors(); err != nil {
		return nil, err
	}
	if c.MaxFileBytes = *maxFileBytes; c.MaxFileBytes < 1 || c.MaxFileBytes > 5<<30 {
		return nil, fmt.Errorf("-max-file-bytes / HERALD_MAX_FILE_BYTES: must be from 1 to %d (5 GiB)", int64(5<<30))
	}
	if c.FileUploadTTL, err = time.ParseDuration(*fileUploadTTL); err != nil || c.FileUploadTTL < time.Minute {
		return nil, fmt.Errorf("-file-upload-ttl / HERALD_FILE_UPLOAD_TTL: %q is not a Go duration of at least 1m, such as 24h", *fileUploadTTL)
	}
	if c.FileURLTTL, err = time.ParseDuration(*fileURLTTL); err != nil || c.FileURLTTL < 10*time.Second || c.FileURLTTL > 24*time.Hour {
		return nil, fmt.Errorf("-file-url-ttl / HERALD_FILE_URL_TTL: %q must be a Go duration from 10s to 24h, such as 5m", *fileURLTTL)
	}
	if c.LogLevel, err = levelFrom(*logLevel); err != nil {
		return nil, fmt.Errorf("-log-level / HERALD_LOG_LEVEL: %w", err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return nil, fmt.Errorf("-log-format / HERALD_LOG_FORMAT: must be text or json, not %q", c.LogFormat)
	}
	if c.Workers < 1 || c.Workers > 10000 {
		return nil, fmt.Errorf("-workers / HERALD_WORKERS: must be from 1 to 10000")
	}
	if c.DBMaxConns < 4 {
		return nil, fmt.Errorf("-db-max-conns / HERALD_DB_MAX_CONNS: must be at least 4")
	}
	if c.BootstrapAdmin != "" {
		k, s, ok := strings.Cut(c.BootstrapAdmin, ":")
		if !ok || k == "" || len(s) < 16 {
			return nil, fmt.Errorf("-bootstrap-admin / HERALD_BOOTSTRAP_ADMIN: must be key:secret with a secret of at least 16 characters")
		}
	}
	return c, nil
}

func envInt(getenv func(string) string, name string, def int) int {
	if v := getenv(name); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
		return -1 // reported by validation as out of range
	}
	return def
}

func envInt64(getenv func(string) string, name string, def int64) int64 {
	if v := getenv(name); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
		return -1 // reported by validation as out of range
	}
	return def
}

func (c *config) logger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// logAttrs is the effective configuration with secrets masked.
func (c *config) logAttrs() []any {
	mask := func(s string) string {
		if s == "" {
			return ""
		}
		return "****"
	}
	db := "embedded (" + c.DataDir + ")"
	if c.DatabaseURL != "" {
		db = maskURL(c.DatabaseURL)
	}
	admin := ""
	if k, _, ok := strings.Cut(c.BootstrapAdmin, ":"); ok {
		admin = k + ":****"
	}
	return []any{"addr", c.Addr, "database", db, "bootstrap_admin", admin, "master_key", mask(c.MasterKey),
		"retry_schedule", c.RetrySchedule.String(), "allow_private_targets", c.AllowPrivate,
		"allow_target_prefixes", len(c.AllowPrefixes), "tls_ca_file", c.TLSCAFile, "workers", c.Workers,
		"db_max_conns", c.DBMaxConns, "shutdown_timeout", c.ShutdownTimeout.String(), "shutdown_delay", c.ShutdownDelay.String(),
		"job_timeout", c.JobTimeout.String(), "rescue_margin", c.RescueMargin.String(), "connector_timeout", c.Connectors.Timeout, "connector_workers", c.Connectors.Workers,
		"max_file_bytes", c.MaxFileBytes, "file_upload_ttl", c.FileUploadTTL, "file_url_ttl", c.FileURLTTL}
}

// maskURL hides a password in a database URL or keyword/value string.
func maskURL(s string) string {
	if i := strings.Index(s, "://"); i >= 0 {
		rest := s[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			cred := rest[:at]
			if u, _, ok := strings.Cut(cred, ":"); ok {
				return s[:i+3] + u + ":****@" + rest[at+1:]
			}
		}
		return s
	}
	var out []string
	for _, f := range strings.Fields(s) {
		if strings.HasPrefix(f, "password=") {
			f = "password=****"
		}
		out = append(out, f)
	}
	return strings.Join(out, " ")
}

func (c *config) appConfig(logger *slog.Logger) app.Config {
	cfg := app.Config{
		Addr: c.Addr, PublicURL: c.PublicURL, DatabaseURL: c.DatabaseURL, DataDir: c.DataDir, PGBinDir: c.PGBinDir,
		BootstrapAdmin: c.BootstrapAdmin, MasterKey: c.MasterKey, RetrySchedule: c.RetrySchedule,
		AllowPrivateTargets: c.AllowPrivate, AllowTargetPrefixes: c.AllowPrefixes, RequireHTTPS: c.RequireHTTPS,
		TLSCAFile: c.TLSCAFile, Workers: c.Workers, DBMaxConns: c.DBMaxConns, ShutdownTimeout: c.ShutdownTimeout,
		ShutdownDelay: c.ShutdownDelay, JobTimeout: c.JobTimeout, RescueMargin: c.RescueMargin,
		Logger:           logger,
		AutoDisableAfter: c.AutoDisable, VerifyEndpoints: c.VerifyEndpoints, Retention: c.Retention,
		BreakerThreshold: c.BreakerFailures, BreakerCooldown: c.BreakerCooldown,
		MaxFileBytes: c.MaxFileBytes, FileUploadTTL: c.FileUploadTTL, FileURLTTL: c.FileURLTTL,
	}
	c.Connectors.apply(&cfg)
	return cfg
}
