package httpapi

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/httpjson"
	"github.com/heraldhq/herald/internal/postgres"
)

type clientJSON struct {
	ID        uuid.UUID `json:"id"`
	Tenant    uuid.UUID `json:"tenant"`
	Name      string    `json:"name"`
	Key       string    `json:"key"`
	Roles     []string  `json:"roles"`
	CreatedAt time.Time `json:"created_at"`
}

// clientCreatedJSON is the creation answer: the client and, this once, its
// secret (after every other field, as it always was).
type clientCreatedJSON struct {
	clientJSON
	Secret string `json:"secret"`
}

func toClientJSON(c *herald.Client) clientJSON {
	roles := make([]string, len(c.Roles))
	for i, r := range c.Roles {
		roles[i] = string(r)
	}
	return clientJSON{ID: c.ID, Tenant: c.TenantID, Name: c.Name, Key: c.Key, Roles: roles, CreatedAt: c.CreatedAt}
}

// tenantFor resolves an optional tenant field: the caller's own tenant when
// empty, otherwise one the caller administers.
func tenantFor(p herald.Principal, given *uuid.UUID) (uuid.UUID, error) {
	return p.AdminTenant(given, "this")
}

func (s *Server) handleClientCreate(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	var in struct {
		Tenant *uuid.UUID `json:"tenant"`
		Name   string     `json:"name"`
		Roles  []string   `json:"roles"`
	}
	if err := httpjson.Decode(w, r, &in); err != nil {
		return err
	}
	tenant, err := tenantFor(p, in.Tenant)
	if err != nil {
		return err
	}
	ve := &herald.ValidationError{}
	in.Name = strings.TrimSpace(in.Name)
	if err := validName("name", in.Name); err != nil {
		ve.Errors = append(ve.Errors, err.(*herald.ValidationError).Errors...)
	}
	if len(in.Roles) == 0 {
		ve.Add("roles", "required", "give at least one of admin, producer, consumer")
	}
	roles := make([]herald.Role, 0, len(in.Roles))
	for i, rs := range in.Roles {
		role := herald.Role(rs)
		if !herald.ValidRole(role) {
			ve.Add(fmt.Sprintf("roles[%d]", i), "enum", "%q is not a role; use admin, producer or consumer", rs)
			continue
		}
		if !slices.Contains(roles, role) {
			roles = append(roles, role)
		}
	}
	if t, err := s.store.TenantGet(r.Context(), tenant); err != nil {
		return err
	} else if t.Platform && !slices.Equal(roles, []herald.Role{herald.RoleAdmin}) && len(ve.Errors) == 0 {
		ve.Add("roles", "platform", "clients of the platform tenant can only be admins")
	}
	if err := ve.Err(); err != nil {
		return err
	}
	key, secret := herald.NewCredential()
	c := &herald.Client{ID: uuid.New(), TenantID: tenant, Name: in.Name, Key: key, SecretHash: herald.HashSecret(secret), Roles: roles}
	if err := s.store.ClientCreate(r.Context(), c); err != nil {
		return err
	}
	s.catalog.Invalidate()
	out := clientCreatedJSON{clientJSON: toClientJSON(c), Secret: secret}
	w.Header().Set("Cache-Control", "no-store")
	httpjson.Write(w, http.StatusCreated, out)
	return nil
}

func (s *Server) handleClientList(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	tenant, err := p.AdminScope(r.URL.Query().Get("tenant"), "clients")
	if err != nil {
		return err
	}
	limit, after, err := pageParams(r)
	if err != nil {
		return err
	}
	cs, err := s.store.ClientList(r.Context(), tenant, after, limit)
	if err != nil {
		return err
	}
	out := httpjson.PageOf(cs, toClientJSON, limit,
		func(c *herald.Client) postgres.PageKey { return postgres.PageKey{Time: c.CreatedAt, ID: c.ID} })
	httpjson.Write(w, http.StatusOK, out)
	return nil
}

// visibleClient loads a client the caller administers (or is); others are
// reported as not found so ids of other tenants don't leak.
func (s *Server) visibleClient(r *http.Request) (*herald.Client, error) {
	id, err := pathUUID(r, "id", "client")
	if err != nil {
		return nil, err
	}
	c, err := s.store.ClientGet(r.Context(), id)
	if err != nil {
		return nil, err
	}
	p := principal(r)
	if !p.IsAdminOf(c.TenantID) && p.Client.ID != c.ID {
		return nil, herald.NotFound("client %s", id)
	}
	return c, nil
}

func (s *Server) handleClientGet(w http.ResponseWriter, r *http.Request) error {
	c, err := s.visibleClient(r)
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, toClientJSON(c))
	return nil
}

// handleClientRotate gives a client a new secret, shown once; the key
// stays, the old secret stops working.
func (s *Server) handleClientRotate(w http.ResponseWriter, r *http.Request) error {
	c, err := s.visibleClient(r)
	if err != nil {
		return err
	}
	if !principal(r).IsAdminOf(c.TenantID) {
		return herald.Forbidden("rotating a client's secret needs the admin role of its tenant")
	}
	_, secret := herald.NewCredential()
	c.SecretHash = herald.HashSecret(secret)
	if err := s.store.ClientSetSecret(r.Context(), c.ID, c.SecretHash); err != nil {
		return err
	}
	s.catalog.Invalidate()
	w.Header().Set("Cache-Control", "no-store")
	httpjson.Write(w, http.StatusOK, clientCreatedJSON{clientJSON: toClientJSON(c), Secret: secret})
	return nil
}

func (s *Server) handleClientDelete(w http.ResponseWriter, r *http.Request) error {
	c, err := s.visibleClient(r)
	if err != nil {
		return err
	}
	if !principal(r).IsAdminOf(c.TenantID) {
		return herald.Forbidden("deleting a client needs the admin role of its tenant")
	}
	if err := s.store.ClientDelete(r.Context(), c.ID); err != nil {
		return err
	}
	s.catalog.Invalidate()
	s.purgeDeletedGroups(r.Context())
	w.WriteHeader(http.StatusNoContent)
	return nil
}
