package httpapi

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-chi/chi/v5/middleware"

	"github.com/heraldhq/herald/internal/herald"
)

// The middleware answers before a handler runs, so it calls writeError
// itself; it is the same one error mapping the handlers' errors go to.

// authenticate checks HTTP Basic credentials against the catalog. Every
// /v1 route needs a client.
//
// A request that already carries a principal was made in process by the
// web console or portal (package web) for a client it signed in; nothing
// from the network can put one in a request's context.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if herald.PrincipalFrom(r.Context()).Client != nil {
			next.ServeHTTP(w, r)
			return
		}
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
		next.ServeHTTP(w, r.WithContext(herald.ContextWithPrincipal(r.Context(), p)))
	})
}

// authenticateConsumer lets through a client with HTTP Basic credentials
// (authenticate) or with a consumer token (tokenPrincipal), for the
// routes browsers open without headers. The access log never shows the
// query string, so a token in it stays out of the log.
func (s *Server) authenticateConsumer(next http.Handler) http.Handler {
	basic := s.authenticate(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := bearerToken(r)
		if tok == "" {
			basic.ServeHTTP(w, r)
			return
		}
		p, err := s.tokenPrincipal(r, tok)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, withTokenPrincipal(r, p))
	})
}

// principal is the client authenticate let through.
func principal(r *http.Request) herald.Principal { return herald.PrincipalFrom(r.Context()) }

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
