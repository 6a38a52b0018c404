package httpapi

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/httpjson"
	"github.com/heraldhq/herald/internal/tokens"
)

// A portal link's life: a day unless the admin asks otherwise, at most 30
// days, at least a minute.
const (
	defaultPortalLinkTTL = 24 * time.Hour
	minPortalLinkTTL     = time.Minute
	maxPortalLinkTTL     = 720 * time.Hour
)

// portalLinkJSON is a partner portal link.
type portalLinkJSON struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
	Client    uuid.UUID `json:"client"`
}

// handlePortalLinkCreate makes a signed, expiring link that opens the
// partner portal as one consumer client (package web checks it). Only the
// admins of the client's tenant may make one; the link is stored nowhere,
// and rotating the client's secret ends it.
func (s *Server) handlePortalLinkCreate(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Client    *uuid.UUID `json:"client"`
		ExpiresIn string     `json:"expires_in"`
	}
	if err := httpjson.Decode(w, r, &in); err != nil {
		return err
	}
	if in.Client == nil || *in.Client == uuid.Nil {
		return herald.Invalid("client", "required", "name the consumer client the link is for")
	}
	ttl := defaultPortalLinkTTL
	if in.ExpiresIn != "" {
		d, err := time.ParseDuration(in.ExpiresIn)
		if err != nil {
			return herald.Invalid("expires_in", "format", "must be a Go duration such as 24h or 90m")
		}
		if d < minPortalLinkTTL || d > maxPortalLinkTTL {
			return herald.Invalid("expires_in", "range", "must be from %s to %s",
				herald.ShortDuration(minPortalLinkTTL), herald.ShortDuration(maxPortalLinkTTL))
		}
		ttl = d
	}
	c, err := s.store.ClientGet(r.Context(), *in.Client)
	if err != nil {
		return err
	}
	// Another tenant's client is not found, so ids do not leak.
	if !principal(r).IsAdminOf(c.TenantID) {
		return herald.NotFound("client %s", c.ID)
	}
	if !c.Has(herald.RoleConsumer) {
		return herald.Invalid("client", "role", "client %s has no consumer role; the portal is for consumers", c.ID)
	}
	if s.tokens == nil {
		return herald.ErrUnavailable
	}
	// Stamped with the client's secret: rotating it ends every link.
	tok, exp, err := s.tokens.IssueStamped(c.ID, c.TenantID, tokens.AudiencePortalLink, c.CredentialStamp(), ttl)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	httpjson.Write(w, http.StatusCreated, portalLinkJSON{
		URL:       strings.TrimSuffix(s.publicURL, "/") + "/portal/enter?" + url.Values{"token": {tok}}.Encode(),
		ExpiresAt: exp.UTC(), Client: c.ID,
	})
	return nil
}
