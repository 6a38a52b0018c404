// Package app wires Herald together: it starts (or connects to) PostgreSQL,
// migrates, builds the store, catalog, queue, ingest service and HTTP
// server, and shuts them down in order. cmd/herald parses configuration and
// calls it; end-to-end tests boot the same App on 127.0.0.1:0.
package app

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	integrationapi "github.com/heraldhq/herald/integration-api"
	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/cloudevents"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/httpapi"
	"github.com/heraldhq/herald/internal/ingest"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/pglocal"
	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/internal/pull"
	"github.com/heraldhq/herald/internal/schema"
	"github.com/heraldhq/herald/internal/secretbox"
	"github.com/heraldhq/herald/internal/tokens"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/web"
	"github.com/heraldhq/herald/webhook"
)

// App is a running Herald node.
type App struct {
	cfg     Config
	logger  *slog.Logger
	cluster *pglocal.Cluster
	pool    *pgxpool.Pool
	// keyed runs the delivery path's lookups by key, planned once per
	// connection (postgres.OpenKeyedPool).
	keyed    *pgxpool.Pool
	store    *postgres.Store
	queue    *queue.Queue
	ingest   *ingest.Service
	sender   *webhook.Sender
	ring     *outbound.KeyRing
	integ    *integrationapi.Handler
	catalog  *catalog.Catalog
	api      *httpapi.Server
	stopKeys context.CancelFunc
	pull     *pull.Engine
	server   *http.Server
	listener net.Listener
	serveErr chan error
	// draining is set when Stop begins: /readyz answers 503 from then on.
	draining atomic.Bool
	stopOnce sync.Once
	stopErr  error
}

// Start brings a node up; on error everything started so far is stopped.
func Start(ctx context.Context, cfg Config) (_ *App, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	if cfg.DBMaxConns <= 0 {
		cfg.DBMaxConns = DefaultDBMaxConns
	}
	a := &App{cfg: cfg, logger: cfg.Logger, serveErr: make(chan error, 1)}
	defer func() {
		if err != nil {
			a.shutdown(context.Background())
		}
	}()

	dsn := cfg.DatabaseURL
	if dsn == "" {
		if a.cluster, err = StartPostgres(ctx, cfg.DataDir, cfg.PGBinDir, a.logger); err != nil {
			return nil, err
		}
		dsn = a.cluster.ConnString("herald")
	}
	if a.pool, err = postgres.OpenPool(ctx, dsn, int32(cfg.DBMaxConns)); err != nil {
		return nil, err
	}
	if !cfg.SkipMigrate {
		if err = postgres.Migrate(ctx, a.pool, a.logger); err != nil {
			return nil, err
		}
	}
	key, err := loadKey(cfg)
	if err != nil {
		return nil, err
	}
	a.store = postgres.New(a.pool, secretbox.New(key))
	if a.keyed, err = postgres.OpenKeyedPool(ctx, dsn); err != nil {
		return nil, err
	}
	if err = a.bootstrap(ctx); err != nil {
		return nil, err
	}
	if err = postgres.PartitionsEnsure(ctx, a.pool, 8); err != nil {
		return nil, err
	}
	if err = a.store.UseKeyedPool(ctx, a.keyed); err != nil {
		return nil, err
	}

	a.listener = cfg.Listener
	if a.listener == nil {
		if a.listener, err = net.Listen("tcp", cfg.Addr); err != nil {
			return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
		}
	}
	publicURL := cfg.PublicURL
	if publicURL == "" {
		publicURL = "http://" + a.listener.Addr().String()
	}
	ring, err := a.signingKeys(ctx)
	if err != nil {
		return nil, err
	}
	a.ring = ring
	keysCtx, stopKeys := context.WithCancel(context.WithoutCancel(ctx))
	a.stopKeys = stopKeys
	go a.followKeys(keysCtx)

	cat := catalog.New(a.store, a.pool, 500*time.Millisecond, a.logger)
	// Compile the stored schemas in the background, so that the first
	// requests after a restart do not wait for them.
	a.catalog = cat
	cat.Start(ctx)
	policy := webhook.TargetPolicy{AllowPrivate: cfg.AllowPrivateTargets, Allow: cfg.AllowTargetPrefixes, RequireHTTPS: cfg.RequireHTTPS}
	roots, err := rootCAs(cfg.TLSCAFile)
	if err != nil {
		return nil, err
	}
	workers := cfg.Workers
	if workers <= 0 {
		workers = queue.DefaultWorkers
	}
	// As many warm connections per host as requests can be in flight to
	// it: a smaller pool closes and redials connections under load.
	a.sender = webhook.NewSender(webhook.SenderConfig{Policy: policy, RootCAs: roots,
		MaxIdleConnsPerHost: max(workers, webhook.DefaultMaxIdleConnsPerHost)})
	registry, limits := connectorRegistry(cfg, policy, a.sender.HTTPClient())
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	a.integ = integrationapi.New(integrationapi.Deps{
		Store: a.store, Catalog: cat, Signer: integrationapi.NewSigner(key[:]), Logger: a.logger,
		Files: integrationapi.DiskStore{Dir: filepath.Join(cfg.DataDir, "files")},
	}, integrationapi.Config{PublicURL: publicURL, MaxFileBytes: cfg.MaxFileBytes, UploadTTL: cfg.FileUploadTTL,
		URLTTL: cfg.FileURLTTL, Now: now, Retention: cfg.Retention})
	a.queue, err = queue.New(a.pool, a.store, a.sender, queue.Config{
		Workers: cfg.Workers, Schedule: cfg.RetrySchedule, FetchCooldown: cfg.FetchCooldown, NoHandoff: cfg.NoHandoff,
		JobTimeout: cfg.JobTimeout, RescueMargin: cfg.RescueMargin,
		Connectors:       &queue.ConnectorConfig{Registry: registry, Workers: cfg.ConnectorWorkers, Timeout: limits.Timeout},
		AutoDisableAfter: cfg.AutoDisableAfter,
		Retention:        cfg.Retention,
		Breaker:          postgres.Breaker{Threshold: cfg.BreakerThreshold, Cooldown: cfg.BreakerCooldown},
		// Workers run only after Start, when a.ingest is set.
		Emit: func(ctx context.Context, tenant uuid.UUID, typ, subject string, data map[string]any) error {
			return a.ingest.Emit(ctx, tenant, typ, subject, data)
		},
		Routing:   cat,
		PublicURL: publicURL,
		JWT:       &outbound.JWTIssuer{Issuer: publicURL, Ring: ring},
		Tokens:    outbound.NewTokenSource(a.sender.HTTPClient(), nil),
		PushBody:  a.integ.PushBody,
		Sweep:     a.Sweep,
	}, a.logger)
	if err != nil {
		return nil, err
	}
	a.ingest = ingest.New(a.pool, a.store, cat, a.queue.Client(), ingest.Config{Committers: cfg.IngestCommitters}, a.logger)
	a.ingest.SetAttachments(a.store, now)
	a.ingest.SetHandoff(a.queue.Handoff())
	a.ingest.Start()
	if err = a.queue.Start(ctx); err != nil {
		return nil, err
	}

	host, _ := os.Hostname()
	a.pull = pull.New(a.store, pull.Config{InstanceTTL: cfg.ConsumerInstanceTTL, MaxInstances: cfg.ConsumerMaxInstances,
		Node: host, PushBody: a.integ.PushBody, Logger: a.logger})
	// The listener and the sweeper of idle instances stop with the key
	// follower's context, when the node shuts down.
	go a.pull.Listen(keysCtx)
	go a.sweepInstances(keysCtx)
	go a.refreshKeyed(keysCtx)

	tok := tokens.New(key[:], cfg.ConsumerTokenTTL, now)
	api := httpapi.New(httpapi.Deps{
		Pull: a.pull, PublicURL: publicURL,
		Store: a.store, Catalog: cat, Ingest: a.ingest, Retrier: a.queue, Requests: a.queue, Groups: a.queue, Targets: policy,
		Limits: cloudevents.Limits{MaxEventBytes: 64 << 10, MaxRequestBytes: 1 << 20},
		Ready:  a.ready, Healthy: a.healthy, Logger: a.logger, JWKS: ring.JWKS, RotateSigningKey: a.rotateSigningKey,
		VerifyEndpoints: cfg.VerifyEndpoints, Connectors: registry, ConnectorRuns: a.queue, Integration: a.integ,
		Tokens: tok, PingInterval: cfg.ConsumerPingInterval,
	})
	a.api = api
	// The pages sign their sessions under keys derived from the master
	// key, so every node accepts every other node's sessions.
	pages, err := web.New(web.Deps{API: api.Handler(), Auth: catalogAuth{cat}, Links: portalLinks{tok},
		Sessions: a.store, Key: key[:], Logger: a.logger, Now: now}, web.Config{PublicURL: publicURL})
	if err != nil {
		return nil, err
	}
	a.server = &http.Server{
		Handler:           withPages(api.Handler(), pages),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.logger.Handler(), slog.LevelWarn),
	}
	go func() {
		// The listener turns the errors net/http answers by itself into
		// problems like every other error.
		if err := a.server.Serve(httpapi.ProblemListener(a.listener)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.serveErr <- err
		}
		close(a.serveErr)
	}()
	a.logger.Info("herald is serving", "addr", a.listener.Addr().String())
	return a, nil
}

// Addr is the address the API listens on.
func (a *App) Addr() string { return a.listener.Addr().String() }

// URL is the API's base URL.
func (a *App) URL() string { return "http://" + a.Addr() }

// Store exposes the store (tests inspect state through it).
func (a *App) Store() *postgres.Store { return a.store }

// Queue exposes the delivery queue (the benchmark pauses it).
func (a *App) Queue() *queue.Queue { return a.queue }

// Catalog exposes the catalog (tests watch its schema warm-up).
func (a *App) Catalog() *catalog.Catalog { return a.catalog }

// Pool exposes the database pool (the benchmark measures its COPY floor
// through it).
func (a *App) Pool() *pgxpool.Pool { return a.pool }

// Sweep enforces the retention of thin payloads and files once (the
// periodic maintenance job calls it; tests call it after moving the clock).
// What goes with the log's days follows the longest keep in force, the
// day the log itself drops: an event of a type kept longer than the
// default keeps its payload record and files.
func (a *App) Sweep(ctx context.Context) error {
	horizon, err := postgres.RetentionHorizon(ctx, a.pool, a.cfg.Retention)
	if err != nil {
		return err
	}
	if err := a.integ.Sweep(ctx, horizon); err != nil {
		return err
	}
	if _, err := a.store.WebSessionPrune(ctx, a.clock()); err != nil {
		return err
	}
	return nil
}

// refreshKeyed has the store count its daily partitions every hour, so
// that on every node the delivery path leaves the keyed pool once the days
// kept outgrow it (postgres.Store.KeyedRefresh), whichever node's
// maintenance added them.
func (a *App) refreshKeyed(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := a.store.KeyedRefresh(ctx); err != nil && ctx.Err() == nil {
				a.logger.Warn("count daily partitions", "err", err)
			}
		}
	}
}

// sweepInstances expires idle consumer group instances now and then, so
// groups nobody fetches from also hand their events on. Fetches and joins
// expire the idle instances of their own group as they go.
func (a *App) sweepInstances(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := a.pull.Sweep(ctx); err != nil && ctx.Err() == nil {
				a.logger.Warn("sweep consumer group instances", "err", err)
			}
		}
	}
}

// Err reports a failure of the HTTP server after Start.
func (a *App) Err() <-chan error { return a.serveErr }

func loadKey(cfg Config) (secretbox.Key, error) {
	if cfg.MasterKey != "" {
		k, err := secretbox.ParseKey(cfg.MasterKey)
		if err != nil {
			return k, fmt.Errorf("HERALD_MASTER_KEY: %w", err)
		}
		return k, nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return secretbox.Key{}, fmt.Errorf("create data dir: %w", err)
	}
	path := filepath.Join(cfg.DataDir, "master.key")
	k, err := secretbox.LoadOrCreateKeyFile(path)
	if err != nil {
		return k, fmt.Errorf("master key: %w", err)
	}
	return k, nil
}

// bootstrap ensures the platform tenant and, if configured, its admin.
func (a *App) bootstrap(ctx context.Context) error {
	t, err := a.store.TenantEnsurePlatform(ctx)
	if err != nil {
		return err
	}
	for _, typ := range ingest.OperationalTypes {
		et := &herald.EventType{Name: typ, TenantID: t.ID, Public: true, Schema: []byte("true"), SchemaDraft: schema.Draft2020,
			Description: "Herald's own operational event; each tenant receives those about itself."}
		if _, err := a.store.EventTypePut(ctx, et, func(*herald.EventType) error { return nil }); err != nil {
			return fmt.Errorf("register %s: %w", typ, err)
		}
	}
	if a.cfg.BootstrapAdmin == "" {
		return nil
	}
	key, secret, err := ParseBootstrapAdmin(a.cfg.BootstrapAdmin)
	if err != nil {
		return fmt.Errorf("HERALD_BOOTSTRAP_ADMIN %w", err)
	}
	c := &herald.Client{ID: uuid.New(), TenantID: t.ID, Name: "bootstrap admin", Key: key,
		SecretHash: herald.HashSecret(secret), Roles: []herald.Role{herald.RoleAdmin}}
	if err := a.store.ClientEnsure(ctx, c); err != nil {
		return fmt.Errorf("bootstrap admin: %w", err)
	}
	a.logger.Info("bootstrap admin ensured", "key", key)
	return nil
}

// ready says whether this node should be sent traffic: not while it shuts
// down, nor while its database is unreachable (an embedded server being
// restarted, an external one down) or behind this binary's schema.
func (a *App) ready(ctx context.Context) error {
	if a.draining.Load() {
		return errors.New("shutting down")
	}
	if a.cluster != nil {
		if h := a.cluster.Health(); h.State != pglocal.StateRunning {
			return fmt.Errorf("embedded PostgreSQL is %s since %s (it exited: %s); Herald is restarting it",
				h.State, h.Since.UTC().Format(time.RFC3339), h.LastExit)
		}
	}
	v, err := postgres.SchemaVersion(ctx, a.pool)
	if err != nil {
		return fmt.Errorf("database not reachable: %w", err)
	}
	if want := postgres.LatestVersion(); v < want {
		return fmt.Errorf("database schema is at version %d, this binary needs %d: run herald migrate", v, want)
	}
	return nil
}

// healthy says whether this node can still recover by itself; when it
// cannot, /healthz fails so that an orchestrator restarts the process. A
// database that is down is not such a case (the node waits and resumes, and
// /readyz says it is not ready), unless the embedded server could not be
// restarted for minutes.
func (a *App) healthy(context.Context) error {
	if a.cluster != nil {
		if h := a.cluster.Health(); h.State == pglocal.StateFailed {
			return fmt.Errorf("embedded PostgreSQL could not be restarted since %s: %v",
				h.Since.UTC().Format(time.RFC3339), h.LastError)
		}
	}
	if a.queue != nil {
		if err := a.queue.Healthy(); err != nil {
			return err
		}
	}
	return nil
}

// Stop shuts the node down gracefully: /readyz answers 503 at once; after
// ShutdownDelay the listener closes and requests in flight are answered;
// queued events are committed; running deliveries and connector runs finish
// and their outcome is recorded; then the database is closed and the
// embedded cluster stopped. All of it is bounded by ShutdownTimeout: work
// still running then is cancelled, and River runs it again later (on this
// node after a restart, or on another), with the same webhook-id. Safe to
// call more than once.
func (a *App) Stop(ctx context.Context) error {
	a.stopOnce.Do(func() {
		a.draining.Store(true)
		ctx, cancel := context.WithTimeout(ctx, a.cfg.ShutdownTimeout)
		defer cancel()
		if d := a.cfg.ShutdownDelay; d > 0 {
			a.logger.Info("not ready any more; serving on until the listener closes", "delay", d)
			select {
			case <-time.After(d):
			case <-ctx.Done():
			}
		}
		a.stopErr = a.shutdown(ctx)
	})
	return a.stopErr
}

func (a *App) shutdown(ctx context.Context) error {
	var errs []error
	if a.stopKeys != nil {
		a.stopKeys()
	}
	if a.catalog != nil {
		a.catalog.Stop() // the schema warm-up; requests compile what they need
	}
	// The listener and the job queue wind down side by side, each within
	// the same deadline: slow HTTP clients must not eat the time running
	// deliveries need.
	var queueErr error
	var queueDone sync.WaitGroup
	if a.queue != nil {
		queueDone.Go(func() { queueErr = a.queue.Stop(ctx) })
	}
	if a.pull != nil {
		// Waiting long polls answer now (an empty batch) instead of
		// holding the shutdown for their whole wait.
		a.pull.Stop()
	}
	if a.server != nil {
		if err := a.server.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		}
	}
	if a.api != nil {
		// WebSockets are hijacked connections, which Shutdown does not
		// wait for: Stop closed them (1001); they leave their groups
		// while the pool is still open.
		if err := a.api.WaitSockets(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	queueDone.Wait()
	if queueErr != nil {
		errs = append(errs, queueErr)
	}
	// Ingest stops last: requests in flight and workers (which publish
	// operational events through it) are done now.
	if a.ingest != nil {
		a.ingest.Stop()
	}
	if a.sender != nil {
		a.sender.Close()
	}
	if a.keyed != nil {
		a.keyed.Close()
	}
	if a.pool != nil {
		a.pool.Close()
	}
	if a.cluster != nil {
		if err := a.cluster.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop postgres: %w", err))
		}
	}
	return errors.Join(errs...)
}

// rootCAs returns the system roots plus the certificates of the PEM bundle
// at file (nil, meaning the system roots, when file is empty).
func rootCAs(file string) (*x509.CertPool, error) {
	if file == "" {
		return nil, nil
	}
	pemData, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("HERALD_TLS_CA_FILE: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool() // no system roots here: the bundle alone
	}
	if !pool.AppendCertsFromPEM(pemData) {
		return nil, fmt.Errorf("HERALD_TLS_CA_FILE: %s holds no PEM certificate", file)
	}
	return pool, nil
}
