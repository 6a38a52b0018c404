package httpapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/httpjson"
	"github.com/heraldhq/herald/internal/tokens"
)

// Consumer tokens: a consumer client that cannot send HTTP Basic
// credentials on a WebSocket upgrade (a browser) gets a short-lived token
// with them first, and opens the WebSocket with the token as
// ?access_token= or Authorization: Bearer.

// tokenJSON is an issued token.
type tokenJSON struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (s *Server) handleConsumeTokenCreate(w http.ResponseWriter, r *http.Request) error {
	c, err := groupConsumer(r)
	if err != nil {
		return err
	}
	if s.tokens == nil {
		return herald.ErrUnavailable
	}
	tok, exp, err := s.tokens.Issue(c.ID, c.TenantID, tokens.AudienceConsume)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	httpjson.Write(w, http.StatusCreated, tokenJSON{Token: tok, ExpiresAt: exp.UTC()})
	return nil
}

// tokenAuthKey marks a request authenticated by a token.
type tokenAuthKey struct{}

// viaToken reports whether authenticateConsumer let r through on a token.
func viaToken(r *http.Request) bool { return r.Context().Value(tokenAuthKey{}) != nil }

// bearerToken is the token a request carries, as ?access_token= or
// Authorization: Bearer; "" when none.
func bearerToken(r *http.Request) string {
	if t := r.URL.Query().Get("access_token"); t != "" {
		return t
	}
	if scheme, t, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(t)
	}
	return ""
}

// tokenPrincipal is the client a consumer token names; it must still be
// in the catalog, in its tenant (a client deleted since is refused).
func (s *Server) tokenPrincipal(r *http.Request, tok string) (herald.Principal, error) {
	if s.tokens == nil {
		return herald.Principal{}, herald.ErrUnauthorized
	}
	claims, err := s.tokens.Check(tok, tokens.AudienceConsume)
	if err != nil {
		return herald.Principal{}, err
	}
	snap, err := s.catalog.Get(r.Context())
	if err != nil {
		return herald.Principal{}, err
	}
	return snap.ClientPrincipal(claims.Client, claims.Tenant)
}

// withTokenPrincipal is r authenticated by a token as p.
func withTokenPrincipal(r *http.Request, p herald.Principal) *http.Request {
	return r.WithContext(context.WithValue(herald.ContextWithPrincipal(r.Context(), p), tokenAuthKey{}, true))
}
