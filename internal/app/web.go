package app

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/tokens"
	"github.com/heraldhq/herald/web"
)

// catalogAuth signs in console users and finds session clients through
// the catalog, as the API authenticates its clients.
type catalogAuth struct{ cat *catalog.Catalog }

func (c catalogAuth) Authenticate(ctx context.Context, key, secret string) (herald.Principal, error) {
	snap, err := c.cat.Get(ctx)
	if err != nil {
		return herald.Principal{}, err
	}
	return snap.Authenticate(key, secret)
}

func (c catalogAuth) Principal(ctx context.Context, client, tenant uuid.UUID) (herald.Principal, error) {
	snap, err := c.cat.Get(ctx)
	if err != nil {
		return herald.Principal{}, err
	}
	return snap.ClientPrincipal(client, tenant)
}

// portalLinks checks the tokens of the links POST /v1/portal-links makes.
type portalLinks struct{ tok *tokens.Issuer }

func (p portalLinks) CheckPortalLink(token string) (uuid.UUID, uuid.UUID, string, error) {
	c, err := p.tok.Check(token, tokens.AudiencePortalLink)
	if err != nil {
		return uuid.Nil, uuid.Nil, "", err
	}
	return c.Client, c.Tenant, c.Stamp, nil
}

// withPages routes the console's, the portal's and their assets' paths to
// the pages and everything else to the API.
func withPages(api, pages http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, p := range web.Prefixes {
			if r.URL.Path == p || strings.HasPrefix(r.URL.Path, p+"/") {
				pages.ServeHTTP(w, r)
				return
			}
		}
		api.ServeHTTP(w, r)
	})
}

// clock is the app's time source.
func (a *App) clock() time.Time {
	if a.cfg.Now != nil {
		return a.cfg.Now()
	}
	return time.Now()
}
