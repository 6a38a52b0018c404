// Package httpapi is Herald's HTTP interface: the chi router, HTTP Basic
// authentication of clients, the handlers of the admin, producer and
// delivery APIs, and the single mapping from errors to RFC 9457 problems.
// Wire shapes (JSON field names) live here, next to the handlers; the
// domain types they convert from carry none.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/heraldhq/herald/connectors"
	integrationapi "github.com/heraldhq/herald/integration-api"
	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/cloudevents"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/httpjson"
	"github.com/heraldhq/herald/internal/ingest"
	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/internal/pull"
	"github.com/heraldhq/herald/internal/tokens"
	"github.com/heraldhq/herald/openapi"
	"github.com/heraldhq/herald/webhook"
)

// Retrier re-queues a finished delivery.
type Retrier interface {
	Retry(ctx context.Context, id uuid.UUID, authorize func(*herald.Delivery) error) (*herald.Delivery, error)
	Recover(ctx context.Context, endpoint uuid.UUID, since time.Time, limit int) (postgres.RecoverResult, error)
	StartReplay(ctx context.Context, r *postgres.Replay) error
	StartVerification(ctx context.Context, endpoint uuid.UUID) error
}

// RequestDescriber shows the request a delivery's next attempt would
// make (see delivery.Deliverer.Request).
type RequestDescriber interface {
	DeliveryRequest(ctx context.Context, d *herald.Delivery) (webhook.Request, error)
}

// Deps is what the server needs.
type Deps struct {
	Store   *postgres.Store
	Catalog *catalog.Catalog
	Ingest  *ingest.Service
	Retrier Retrier
	// Requests serves GET /v1/deliveries/{id}/request (nil: 404).
	Requests RequestDescriber
	// Targets is the policy endpoint URLs are checked against at creation.
	Targets webhook.TargetPolicy
	Limits  cloudevents.Limits
	// VerifyEndpoints makes new endpoints (and endpoints whose URL changes)
	// pending until their receiver consents through the CloudEvents webhook
	// handshake.
	VerifyEndpoints bool
	// JWKS returns the JSON Web Key Set of the keys Herald signs outbound
	// JWTs with, published at /.well-known/jwks.json.
	JWKS func() []byte
	// RotateSigningKey makes a new JWT signing key current and returns its
	// key id.
	RotateSigningKey func(ctx context.Context) (string, error)
	// Integration serves the Integration API, integration credentials and
	// files (nil: not served).
	Integration *integrationapi.Handler
	// Ready reports whether the server can serve (database reachable,
	// migrations applied).
	Ready func(ctx context.Context) error
	// Healthy reports whether the process can still recover by itself;
	// when it cannot, /healthz fails so an orchestrator restarts it (nil:
	// always healthy).
	Healthy func(ctx context.Context) error
	Logger  *slog.Logger
	// Connectors validates and builds hosted connectors; ConnectorRuns
	// retries their failed runs.
	Connectors    *connectors.Registry
	ConnectorRuns ConnectorRetrier
	// Groups creates and moves consumer groups.
	Groups GroupStarter
	// Pull serves consumer groups to long poll clients; PublicURL is the
	// base of the instances' base_uri ("" makes them relative).
	Pull      *pull.Engine
	PublicURL string
	// Tokens issues and checks consumer tokens (nil: none are issued,
	// WebSockets take HTTP Basic only).
	Tokens *tokens.Issuer
	// PingInterval is how often WebSockets are pinged (0:
	// DefaultPingInterval).
	PingInterval time.Duration
}

// Server serves Herald's HTTP API.
type Server struct {
	store   *postgres.Store
	catalog *catalog.Catalog
	ingest  *ingest.Service
	retrier Retrier
	reqs    RequestDescriber
	targets webhook.TargetPolicy
	limits  cloudevents.Limits
	ready   func(ctx context.Context) error
	healthy func(ctx context.Context) error
	jwks    func() []byte
	verify  bool
	rotate  func(ctx context.Context) (string, error)
	integ   *integrationapi.Handler
	logger  *slog.Logger
	router  chi.Router

	connectors *connectors.Registry
	runs       ConnectorRetrier
	groups     GroupStarter
	pull       *pull.Engine
	publicURL  string

	tokens       *tokens.Issuer
	pingInterval time.Duration
	sockets      sync.WaitGroup // open WebSockets
}

// New builds the server and its routes.
func New(d Deps) *Server {
	s := &Server{
		store: d.Store, catalog: d.Catalog, ingest: d.Ingest, retrier: d.Retrier, reqs: d.Requests, targets: d.Targets,
		limits: d.Limits, ready: d.Ready, healthy: d.Healthy, jwks: d.JWKS, verify: d.VerifyEndpoints, rotate: d.RotateSigningKey, logger: d.Logger,
		connectors: d.Connectors, runs: d.ConnectorRuns, groups: d.Groups, pull: d.Pull, publicURL: d.PublicURL,
		integ: d.Integration, tokens: d.Tokens, pingInterval: d.PingInterval,
	}
	if s.pingInterval <= 0 {
		s.pingInterval = DefaultPingInterval
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.pull == nil {
		s.pull = pull.New(d.Store, pull.Config{Logger: s.logger})
	}
	if s.connectors == nil {
		s.connectors = connectors.NewRegistry()
	}
	if s.jwks == nil {
		s.jwks = func() []byte { return []byte(`{"keys":[]}`) }
	}
	if s.ready == nil {
		s.ready = func(context.Context) error { return nil }
	}
	if s.healthy == nil {
		s.healthy = func(context.Context) error { return nil }
	}
	s.router = s.routes()
	return s
}

// Handler returns the root handler.
func (s *Server) Handler() http.Handler { return s.router }

// Router exposes the chi router (the OpenAPI contract test walks it).
func (s *Server) Router() chi.Routes { return s.router }

// routes is the API's index: every route, the handler that serves it, and
// the middleware in front. Every handler returns its errors to s.handle.
func (s *Server) routes() chi.Router {
	r := chi.NewRouter()
	r.Use(s.recoverPanics)
	r.Use(s.accessLog)
	r.Use(s.refuseUnstorableURL)
	r.NotFound(s.handle(func(_ http.ResponseWriter, r *http.Request) error {
		return &noRouteError{path: r.URL.Path}
	}))
	r.MethodNotAllowed(s.handle(func(_ http.ResponseWriter, r *http.Request) error {
		return &methodError{method: r.Method, path: r.URL.Path}
	}))

	r.Get("/healthz", s.handle(s.handleHealth))
	r.Get("/readyz", s.handle(s.handleReady))
	r.Get("/.well-known/jwks.json", s.handle(s.handleJWKS))
	r.Get("/webhook-verifications/{id}/{token}", s.handle(s.handleVerificationCallback))
	r.Post("/webhook-verifications/{id}/{token}", s.handle(s.handleVerificationCallback))
	r.Get("/openapi.yaml", s.handle(handleOpenAPI))

	if s.integ != nil {
		// These authenticate on their own (integration credentials, signed
		// links), not as Herald clients.
		for _, rt := range s.integ.PublicRoutes() {
			r.Method(rt.Method, rt.Pattern, s.handle(rt.Handle))
		}
	}
	// WebSockets authenticate with HTTP Basic or a consumer token.
	r.With(s.authenticateConsumer).Get("/v1/consume/ws", s.handle(s.handleConsumeWS))
	r.Route("/v1", func(r chi.Router) {
		r.Use(s.authenticate)
		if s.integ != nil {
			for _, rt := range s.integ.ClientRoutes() {
				r.Method(rt.Method, rt.Pattern, s.handle(rt.Handle))
			}
		}
		r.Post("/tenants", s.handle(s.handleTenantCreate))
		r.Get("/tenants", s.handle(s.handleTenantList))
		r.Get("/tenants/{id}", s.handle(s.handleTenantGet))
		r.Patch("/tenants/{id}", s.handle(s.handleTenantPatch))
		r.Delete("/tenants/{id}", s.handle(s.handleTenantDelete))

		r.Post("/clients", s.handle(s.handleClientCreate))
		r.Get("/clients", s.handle(s.handleClientList))
		r.Get("/clients/{id}", s.handle(s.handleClientGet))
		r.Delete("/clients/{id}", s.handle(s.handleClientDelete))
		r.Post("/clients/{id}/secret/rotate", s.handle(s.handleClientRotate))

		r.Get("/event-types", s.handle(s.handleEventTypeList))
		r.Get("/event-types/{type}", s.handle(s.handleEventTypeGet))
		r.Put("/event-types/{type}", s.handle(s.handleEventTypePut))
		r.Get("/event-types/{type}/versions", s.handle(s.handleEventTypeVersions))
		r.Get("/event-types/{type}/versions/{version}", s.handle(s.handleEventTypeVersion))
		r.Post("/event-types/{type}/validate", s.handle(s.handleEventTypeValidate))

		r.Post("/events", s.handle(s.handleEventsPost))
		r.Post("/test-events", s.handle(s.handleTestEventPost))

		r.Post("/endpoints", s.handle(s.handleEndpointCreate))
		r.Get("/endpoints", s.handle(s.handleEndpointList))
		r.Get("/endpoints/{id}", s.handle(s.handleEndpointGet))
		r.Patch("/endpoints/{id}", s.handle(s.handleEndpointPatch))
		r.Delete("/endpoints/{id}", s.handle(s.handleEndpointDelete))
		r.Post("/endpoints/{id}/disable", s.handle(s.handleEndpointDisable))
		r.Post("/endpoints/{id}/enable", s.handle(s.handleEndpointEnable))
		r.Post("/endpoints/{id}/secret/rotate", s.handle(s.handleEndpointRotate))
		r.Get("/endpoints/{id}/secret", s.handle(s.handleEndpointSecret))
		r.Post("/endpoints/{id}/recover", s.handle(s.handleEndpointRecover))
		r.Post("/endpoints/{id}/test", s.handle(s.handleEndpointTest))
		r.Post("/endpoints/{id}/replay", s.handle(s.handleEndpointReplay))
		r.Post("/endpoints/{id}/verify", s.handle(s.handleEndpointVerify))
		r.Get("/replays/{id}", s.handle(s.handleReplayGet))
		r.Get("/endpoints/{id}/deliveries", s.handle(s.handleDeliveryList))

		r.Post("/signing-keys/rotate", s.handle(s.handleSigningKeyRotate))
		r.Post("/portal-links", s.handle(s.handlePortalLinkCreate))

		r.Post("/connectors", s.handle(s.handleConnectorCreate))
		r.Get("/connectors", s.handle(s.handleConnectorList))
		r.Get("/connectors/{id}", s.handle(s.handleConnectorGet))
		r.Patch("/connectors/{id}", s.handle(s.handleConnectorUpdate))
		r.Delete("/connectors/{id}", s.handle(s.handleConnectorDelete))
		r.Post("/connectors/{id}/test", s.handle(s.handleConnectorTest))
		r.Get("/connectors/{id}/runs", s.handle(s.handleConnectorRuns))
		r.Get("/connector-runs/{id}", s.handle(s.handleConnectorRunGet))
		r.Post("/connector-runs/{id}/retry", s.handle(s.handleConnectorRunRetry))

		r.Post("/consumer-groups", s.handle(s.handleGroupCreate))
		r.Get("/consumer-groups", s.handle(s.handleGroupList))
		r.Get("/consumer-groups/{name}", s.handle(s.handleGroupGet))
		r.Delete("/consumer-groups/{name}", s.handle(s.handleGroupDelete))
		r.Post("/consumer-groups/{name}/seek", s.handle(s.handleGroupSeek))
		r.Post("/consumer-groups/{name}/instances", s.handle(s.handleInstanceCreate))
		r.Get("/consumer-groups/{name}/instances/{instance}/events", s.handle(s.handleInstanceEvents))
		r.Post("/consumer-groups/{name}/instances/{instance}/ack", s.handle(s.handleInstanceAck))
		r.Post("/consumer-groups/{name}/instances/{instance}/nack", s.handle(s.handleInstanceNack))
		r.Delete("/consumer-groups/{name}/instances/{instance}", s.handle(s.handleInstanceDelete))
		r.Post("/consumer-groups/{name}/instances/{instance}/dead", s.handle(s.handleInstanceDead))
		r.Post("/consume/tokens", s.handle(s.handleConsumeTokenCreate))
		r.Get("/dead-events", s.handle(s.handleDeadEventList))
		r.Post("/dead-events/{id}/redrive", s.handle(s.handleDeadEventRedrive))

		r.Get("/deliveries/{id}", s.handle(s.handleDeliveryGet))
		r.Post("/deliveries/{id}/retry", s.handle(s.handleDeliveryRetry))
		r.Get("/deliveries/{id}/request", s.handle(s.handleDeliveryRequest))

		r.Get("/stats", s.handle(s.handleStats))
	})
	return r
}

// statusJSON is the answer of the probes and of a verification callback.
type statusJSON struct {
	Status string `json:"status"`
}

// handleHealth answers whether the process is alive and can recover by
// itself; a database that is down makes the node unready, not unhealthy.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) error {
	if err := s.healthy(r.Context()); err != nil {
		return &probeError{err: err}
	}
	httpjson.Write(w, http.StatusOK, statusJSON{Status: "ok"})
	return nil
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		return &probeError{ready: true, err: err}
	}
	httpjson.Write(w, http.StatusOK, statusJSON{Status: "ready"})
	return nil
}

// handleJWKS publishes the keys Herald signs outbound JWTs with.
func (s *Server) handleJWKS(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(s.jwks())
	return nil
}

// handleOpenAPI serves the embedded OpenAPI document.
func handleOpenAPI(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(openapi.Spec)
	return nil
}

// signingKeyJSON names the key outbound JWTs are signed with from now on.
type signingKeyJSON struct {
	KID string `json:"kid"`
}

// handleSigningKeyRotate rotates the key Herald signs outbound JWTs with
// (platform admins only). The previous key stays published an hour so
// tokens it signed keep verifying.
func (s *Server) handleSigningKeyRotate(w http.ResponseWriter, r *http.Request) error {
	if !principal(r).PlatformAdmin {
		return herald.Forbidden("only platform admins may rotate Herald's signing keys")
	}
	if s.rotate == nil {
		return herald.ErrUnavailable
	}
	kid, err := s.rotate(r.Context())
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, signingKeyJSON{KID: kid})
	return nil
}
