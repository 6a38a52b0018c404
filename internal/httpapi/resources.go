package httpapi

import (
	"context"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/httpjson"
	"github.com/heraldhq/herald/internal/postgres"
)

// receivingClient resolves the client a new endpoint or connector receives
// for: the caller, or (for a tenant admin) a consumer or admin client of a
// tenant the caller administers. what names the resource in the error.
func (s *Server) receivingClient(r *http.Request, given *uuid.UUID, what string) (*herald.Client, error) {
	p := principal(r)
	if given != nil && *given != p.Client.ID {
		c, err := s.store.ClientGet(r.Context(), *given)
		if err != nil || !p.IsAdminOf(c.TenantID) {
			return nil, herald.Invalid("client", "exists", "no client %s in a tenant you administer", *given)
		}
		if !c.Has(herald.RoleConsumer) && !c.Has(herald.RoleAdmin) {
			return nil, herald.Invalid("client", "role", "client %s has neither the consumer nor the admin role", c.ID)
		}
		return c, nil
	}
	if !p.Client.Has(herald.RoleConsumer) && !p.Client.Has(herald.RoleAdmin) {
		return nil, herald.Forbidden("creating %s needs the consumer or admin role", what)
	}
	return p.Client, nil
}

// mayManage says whether the caller may manage a resource a client owns
// within a tenant (an endpoint, a connector): the tenant's admins and that
// client may.
func mayManage(p herald.Principal, tenant, client uuid.UUID) bool {
	return p.IsAdminOf(tenant) || (client != uuid.Nil && client == p.Client.ID)
}

// ownedListScope reads which client-owned resources (endpoints,
// connectors) a list request covers: platform admins see all, or one
// tenant's with ?tenant=; tenant admins their tenant's; other clients only
// their own. A nil tenant means every tenant, a nil client every client.
func ownedListScope(r *http.Request, what string) (tenant, client uuid.UUID, err error) {
	p := principal(r)
	tenant = p.Client.TenantID
	switch q := r.URL.Query().Get("tenant"); {
	case p.PlatformAdmin && q == "":
		tenant = uuid.Nil
	case q != "":
		id, err := uuid.Parse(q)
		if err != nil {
			return uuid.Nil, uuid.Nil, herald.Invalid("tenant", "format", "must be a UUID")
		}
		switch {
		case p.IsAdminOf(id):
		case id == p.Client.TenantID:
			client = p.Client.ID
		default:
			return uuid.Nil, uuid.Nil, herald.Forbidden("you may not list %s of tenant %s", what, id)
		}
		tenant = id
	case !p.IsAdminOf(tenant):
		client = p.Client.ID // consumers see their own
	}
	return tenant, client, nil
}

// visibleOwned loads the client-owned resource (an endpoint, a connector)
// named by the path's id; one the caller may not manage is reported as not
// found, so its existence does not leak.
func visibleOwned[T any](r *http.Request, what string, get func(context.Context, uuid.UUID) (T, error),
	owner func(T) (tenant, client uuid.UUID)) (T, error) {
	var zero T
	id, err := pathUUID(r, "id", what)
	if err != nil {
		return zero, err
	}
	v, err := get(r.Context(), id)
	if err != nil {
		return zero, err
	}
	if tenant, client := owner(v); !mayManage(principal(r), tenant, client) {
		return zero, herald.NotFound("%s %s", what, id)
	}
	return v, nil
}

// pageCursor reads ?cursor=, the next_cursor of the page before (the id
// the next page starts after); none is the first page (uuid.Nil).
func pageCursor(r *http.Request) (uuid.UUID, error) {
	c := r.URL.Query().Get("cursor")
	if c == "" {
		return uuid.Nil, nil
	}
	id, err := uuid.Parse(c)
	if err != nil {
		return uuid.Nil, herald.Invalid("cursor", "format", "use the next_cursor of the previous page")
	}
	return id, nil
}

// maxPage is the largest page a paged list gives.
const maxPage = 250

// pageParams reads a paged list's ?limit= (0, everything, when absent)
// and ?cursor= (the first page when absent).
func pageParams(r *http.Request) (int, postgres.PageKey, error) {
	var after postgres.PageKey
	limit, err := httpjson.PageLimit(r, maxPage)
	if err == nil {
		err = httpjson.DecodeCursor(r, &after)
	}
	return limit, after, err
}

// parseLimit reads ?limit= with a default and a maximum.
func parseLimit(r *http.Request, def, max int) (int, error) {
	q := r.URL.Query().Get("limit")
	if q == "" {
		return def, nil
	}
	n, err := strconv.Atoi(q)
	if err != nil || n < 1 || n > max {
		return 0, herald.Invalid("limit", "range", "must be a whole number from 1 to %d", max)
	}
	return n, nil
}

// pathUUID parses a UUID path parameter; a malformed one is simply not found.
func pathUUID(r *http.Request, name, what string) (uuid.UUID, error) {
	id, err := uuid.Parse(chi.URLParam(r, name))
	if err != nil {
		return uuid.Nil, herald.NotFound("%s %q", what, chi.URLParam(r, name))
	}
	return id, nil
}
