// Package web is Herald's browser interface: the admin console under
// /console and the partner portal under /portal, rendered on the server
// from the Go templates in templates/ with a little htmx, and embedded in
// the binary with everything they load.
//
// The pages are clients of the JSON API. A page calls the API's handler in
// process, as the signed-in client, and renders its answer; a refusal is
// the API's own problem, shown next to the field it names. So every rule
// (who may see what, what a valid schema or endpoint is) lives once, in the
// API, and a portal session can reach exactly what its client could reach
// with its own credentials, whatever URL is typed.
//
// What lives here is what only browsers need: sessions in a signed cookie,
// CSRF tokens, throttled sign-in, and the pages themselves.
package web

import (
	"context"
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/herald"
)

//go:embed templates static
var files embed.FS

// Authenticator checks a client's key and secret, and finds a client
// authenticated earlier; the catalog's snapshot does both.
type Authenticator interface {
	Authenticate(ctx context.Context, key, secret string) (herald.Principal, error)
	Principal(ctx context.Context, client, tenant uuid.UUID) (herald.Principal, error)
}

// LinkChecker verifies a partner portal link's token and says which client
// of which tenant it was issued for, under which credential stamp.
type LinkChecker interface {
	CheckPortalLink(token string) (client, tenant uuid.UUID, stamp string, err error)
}

// SessionStore records sessions that were signed out before they expired,
// so a copied cookie stops working everywhere at once.
type SessionStore interface {
	WebSessionEnd(ctx context.Context, id uuid.UUID, until time.Time) error
	WebSessionEnded(ctx context.Context, id uuid.UUID) (bool, error)
}

// Deps is what the pages need.
type Deps struct {
	// API is the JSON API's handler; pages call it in process.
	API   http.Handler
	Auth  Authenticator
	Links LinkChecker
	// Sessions records sign-outs.
	Sessions SessionStore
	// Key signs session cookies and CSRF tokens: at least 32 random bytes,
	// the same on every node.
	Key    []byte
	Logger *slog.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Config tunes sessions and sign-in.
type Config struct {
	// IdleTimeout ends a session nobody used for this long (0: 30m).
	IdleTimeout time.Duration
	// MaxSession ends every session this long after sign-in (0: 12h).
	MaxSession time.Duration
	// SignInFailures is how many failed sign-ins from one address, or for
	// one key, are allowed within SignInWindow before sign-in is refused
	// for a while (0: 5 in 15m).
	SignInFailures int
	SignInWindow   time.Duration
	// PublicURL is where users reach Herald; an https one makes cookies
	// Secure even when TLS ends at a proxy in front.
	PublicURL string
}

// Handler serves the console, the portal and their assets.
type Handler struct {
	api      http.Handler
	auth     Authenticator
	links    LinkChecker
	sessions *sessions
	throttle *throttle
	pages    *pages
	logger   *slog.Logger
	now      func() time.Time
	router   chi.Router
	// httpsPublic: the public URL is https, so cookies are Secure.
	httpsPublic bool
}

// New builds the handler.
func New(d Deps, cfg Config) (*Handler, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 30 * time.Minute
	}
	if cfg.MaxSession <= 0 {
		cfg.MaxSession = 12 * time.Hour
	}
	if cfg.SignInFailures <= 0 {
		cfg.SignInFailures = 5
	}
	if cfg.SignInWindow <= 0 {
		cfg.SignInWindow = 15 * time.Minute
	}
	p, err := parsePages()
	if err != nil {
		return nil, err
	}
	h := &Handler{
		api: d.API, auth: d.Auth, links: d.Links, logger: d.Logger, now: d.Now, pages: p,
		sessions:    newSessions(d.Key, d.Sessions, cfg.IdleTimeout, cfg.MaxSession, d.Now),
		throttle:    newThrottle(cfg.SignInFailures, cfg.SignInWindow, d.Now),
		httpsPublic: strings.HasPrefix(strings.ToLower(cfg.PublicURL), "https://"),
	}
	h.router = h.routes()
	return h, nil
}

// ServeHTTP serves /console, /portal and /assets.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.router.ServeHTTP(w, r) }

// Prefixes are the paths the handler serves, for the server to route to it.
var Prefixes = []string{"/console", "/portal", "/assets"}

func (h *Handler) routes() chi.Router {
	r := chi.NewRouter()
	r.Use(h.recoverPanics, securityHeaders)
	static, _ := fs.Sub(files, "static")
	r.Handle("/assets/*", http.StripPrefix("/assets/", assetServer(static)))

	r.Route("/console", func(r chi.Router) {
		r.Get("/sign-in", h.page(h.signInPage))
		r.Post("/sign-in", h.page(h.signIn))
		r.Group(func(r chi.Router) {
			r.Use(h.requireSession(audienceConsole))
			r.Post("/sign-out", h.page(h.signOut))
			h.consoleRoutes(r)
		})
	})
	r.Route("/portal", func(r chi.Router) {
		r.Get("/enter", h.page(h.portalEnter))
		r.Group(func(r chi.Router) {
			r.Use(h.requireSession(audiencePortal))
			r.Post("/sign-out", h.page(h.signOut))
			h.portalRoutes(r)
		})
	})
	r.NotFound(h.page(func(w http.ResponseWriter, r *http.Request) error { return errNotFound }))
	return r
}
