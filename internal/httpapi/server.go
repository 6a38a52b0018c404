// Package httpapi is Herald's HTTP interface: the chi router, HTTP Basic
// authentication of clients, the handlers of the admin, producer and
// delivery APIs, and the single mapping from errors to RFC 9457 problems.
// Wire shapes (JSON field names) live here, next to the handlers; the
// domain types they convert from carry none.
package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/google/uuid"

	"github.com/heraldhq/herald/connectors"
	integrationapi "github.com/heraldhq/herald/integration-api"
	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/cloudevents"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/ingest"
	"github.com/heraldhq/herald/internal/postgres"
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

// Deps is what the server needs.
type Deps struct {
	Store   *postgres.Store
	Catalog *catalog.Catalog
	Ingest  *ingest.Service
	Retrier Retrier
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
}

// Server serves Herald's HTTP API.
type Server struct {
	store   *postgres.Store
	catalog *catalog.Catalog
	ingest  *ingest.Service
	retrier Retrier
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
}

// New builds the server and its routes.
func New(d Deps) *Server {
	s := &Server{
		store: d.Store, catalog: d.Catalog, ingest: d.Ingest, retrier: d.Retrier, targets: d.Targets,
		limits: d.Limits, ready: d.Ready, healthy: d.Healthy, jwks: d.JWKS, verify: d.VerifyEndpoints, rotate: d.RotateSigningKey, logger: d.Logger,
		connectors: d.Connectors, runs: d.ConnectorRuns,
		integ: d.Integration,
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
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
	if s.integ != nil {
		s.integ.Bind(s.writeError, writeJSON, decodeJSON, principal)
	}
	s.router = s.routes()
	return s
}

// Handler returns the root handler.
func (s *Server) Handler() http.Handler { return s.router }

// Router exposes the chi router (the OpenAPI contract test walks it).
func (s *Server) Router() chi.Routes { return s.router }

func (s *Server) routes() chi.Router {
	r := chi.NewRouter()
	r.Use(s.recoverPanics)
	r.Use(s.accessLog)
	r.Use(s.refuseUnstorableURL)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, problem(http.StatusNotFound, "not-found", "Not found", "no such route: "+r.URL.Path))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, problem(http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed",
			r.Method+" is not supported on "+r.URL.Path))
	})

	r.Get("/healthz", s.handleHealth)
	r.Get("/readyz", s.handleReady)
	r.Get("/.well-known/jwks.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(s.jwks())
	})
	r.Get("/webhook-verifications/{id}/{token}", s.handleVerificationCallback)
	r.Post("/webhook-verifications/{id}/{token}", s.handleVerificationCallback)
	r.Get("/openapi.yaml", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(openapi.Spec)
	})

	if s.integ != nil {
		// These authenticate on their own (integration credentials, signed
		// links), not as Herald clients.
		s.integ.MountPublic(r)
	}
	r.Route("/v1", func(r chi.Router) {
		r.Use(s.authenticate)
		if s.integ != nil {
			s.integ.MountManagement(r)
		}
		r.Post("/tenants", s.handleTenantCreate)
		r.Get("/tenants", s.handleTenantList)
		r.Get("/tenants/{id}", s.handleTenantGet)
		r.Delete("/tenants/{id}", s.handleTenantDelete)

		r.Post("/clients", s.handleClientCreate)
		r.Get("/clients", s.handleClientList)
		r.Get("/clients/{id}", s.handleClientGet)
		r.Delete("/clients/{id}", s.handleClientDelete)

		r.Get("/event-types", s.handleEventTypeList)
		r.Get("/event-types/{type}", s.handleEventTypeGet)
		r.Put("/event-types/{type}", s.handleEventTypePut)
		r.Get("/event-types/{type}/versions", s.handleEventTypeVersions)
		r.Get("/event-types/{type}/versions/{version}", s.handleEventTypeVersion)

		r.Post("/events", s.handleEventsPost)

		r.Post("/endpoints", s.handleEndpointCreate)
		r.Get("/endpoints", s.handleEndpointList)
		r.Get("/endpoints/{id}", s.handleEndpointGet)
		r.Patch("/endpoints/{id}", s.handleEndpointPatch)
		r.Delete("/endpoints/{id}", s.handleEndpointDelete)
		r.Post("/endpoints/{id}/disable", s.handleEndpointDisable)
		r.Post("/endpoints/{id}/enable", s.handleEndpointEnable)
		r.Post("/endpoints/{id}/secret/rotate", s.handleEndpointRotate)
		r.Get("/endpoints/{id}/secret", s.handleEndpointSecret)
		r.Post("/endpoints/{id}/recover", s.handleEndpointRecover)
		r.Post("/endpoints/{id}/test", s.handleEndpointTest)
		r.Post("/endpoints/{id}/replay", s.handleEndpointReplay)
		r.Post("/endpoints/{id}/verify", s.handleEndpointVerify)
		r.Get("/replays/{id}", s.handleReplayGet)
		r.Get("/endpoints/{id}/deliveries", s.handleDeliveryList)

		r.Post("/signing-keys/rotate", s.handleSigningKeyRotate)

		r.Post("/connectors", s.handleConnectorCreate)
		r.Get("/connectors", s.handleConnectorList)
		r.Get("/connectors/{id}", s.handleConnectorGet)
		r.Patch("/connectors/{id}", s.handleConnectorUpdate)
		r.Delete("/connectors/{id}", s.handleConnectorDelete)
		r.Post("/connectors/{id}/test", s.handleConnectorTest)
		r.Get("/connectors/{id}/runs", s.handleConnectorRuns)
		r.Get("/connector-runs/{id}", s.handleConnectorRunGet)
		r.Post("/connector-runs/{id}/retry", s.handleConnectorRunRetry)

		r.Get("/deliveries/{id}", s.handleDeliveryGet)
		r.Post("/deliveries/{id}/retry", s.handleDeliveryRetry)
	})
	return r
}

// handleHealth answers whether the process is alive and can recover by
// itself; a database that is down makes the node unready, not unhealthy.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	if err := s.healthy(r.Context()); err != nil {
		writeProblem(w, problem(http.StatusServiceUnavailable, "unhealthy", "Unhealthy", err.Error()))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		writeProblem(w, problem(http.StatusServiceUnavailable, "not-ready", "Not ready", err.Error()))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

type principalKey struct{}

// authenticate checks HTTP Basic credentials against the catalog. Every
// /v1 route needs a client.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, secret, ok := r.BasicAuth()
		if !ok {
			s.writeError(w, r, herald.ErrUnauthorized)
			return
		}
		snap, err := s.catalog.Get(r.Context())
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		p, err := snap.Authenticate(key, secret)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

func principal(r *http.Request) herald.Principal {
	p, _ := r.Context().Value(principalKey{}).(herald.Principal)
	return p
}

// accessLog logs each request at debug level, with its client key; never
// its credentials or body.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		if s.logger.Enabled(r.Context(), slog.LevelDebug) {
			s.logger.Debug("http request", "method", r.Method, "path", r.URL.Path, "status", ww.Status(),
				"duration", time.Since(start))
		}
	})
}

// recoverPanics answers a handler's panic with the internal-error problem
// (and logs it with its stack) instead of net/http's bare 500.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler { //nolint:errorlint // net/http's sentinel, compared as net/http does
				panic(v)
			}
			s.logger.Error("handler panicked", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
			s.writeError(w, r, fmt.Errorf("panic serving %s %s: %v", r.Method, r.URL.Path, v))
		}()
		next.ServeHTTP(w, r)
	})
}

// refuseUnstorableURL refuses request paths and query parameters holding
// text no name or value in Herald can have, U+0000 or bytes that are not
// UTF-8 (a percent-encoded %00 or %FF), before they reach a handler and
// then PostgreSQL, which cannot store them. A path is not found; a query
// parameter is invalid input naming the parameter.
func (s *Server) refuseUnstorableURL(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !herald.StorableText(r.URL.Path) {
			s.writeError(w, r, herald.NotFound("path %q", r.URL.Path))
			return
		}
		for name, values := range r.URL.Query() {
			ok := herald.StorableText(name)
			for _, v := range values {
				ok = ok && herald.StorableText(v)
			}
			if !ok {
				s.writeError(w, r, herald.Invalid(strings.ToValidUTF8(name, "\ufffd"), "chars",
					"query parameter %q holds U+0000 or bytes that are not UTF-8, which no value can hold", name))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// pathUUID parses a UUID path parameter; a malformed one is simply not found.
func pathUUID(r *http.Request, name, what string) (uuid.UUID, error) {
	id, err := uuid.Parse(chi.URLParam(r, name))
	if err != nil {
		return uuid.Nil, herald.NotFound("%s %q", what, chi.URLParam(r, name))
	}
	return id, nil
}

// handleSigningKeyRotate rotates the key Herald signs outbound JWTs with
// (platform admins only). The previous key stays published an hour so
// tokens it signed keep verifying.
func (s *Server) handleSigningKeyRotate(w http.ResponseWriter, r *http.Request) {
	if !principal(r).PlatformAdmin {
		s.writeError(w, r, herald.Forbidden("only platform admins may rotate Herald's signing keys"))
		return
	}
	if s.rotate == nil {
		s.writeError(w, r, herald.ErrUnavailable)
		return
	}
	kid, err := s.rotate(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"kid": kid})
}
