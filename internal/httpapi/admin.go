package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/route"
	"github.com/heraldhq/herald/internal/schema"
)

// --- tenants ---

type tenantJSON struct {
	ID        uuid.UUID `json:"id"`
	Name      string    `json:"name"`
	Platform  bool      `json:"platform"`
	CreatedAt time.Time `json:"created_at"`
}

func toTenantJSON(t *herald.Tenant) tenantJSON {
	return tenantJSON{ID: t.ID, Name: t.Name, Platform: t.Platform, CreatedAt: t.CreatedAt}
}

type listJSON[T any] struct {
	Data []T `json:"data"`
}

func requirePlatformAdmin(p herald.Principal) error {
	if !p.PlatformAdmin {
		return herald.Forbidden("only platform admins may manage tenants")
	}
	return nil
}

func (s *Server) handleTenantCreate(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	if err := requirePlatformAdmin(p); err != nil {
		s.writeError(w, r, err)
		return
	}
	var in struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	in.Name = strings.TrimSpace(in.Name)
	if err := validName("name", in.Name); err != nil {
		s.writeError(w, r, err)
		return
	}
	t := &herald.Tenant{ID: uuid.New(), Name: in.Name}
	if err := s.store.TenantCreate(r.Context(), t); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.catalog.Invalidate()
	writeJSON(w, http.StatusCreated, toTenantJSON(t))
}

func validName(field, name string) error {
	switch {
	case name == "":
		return herald.Invalid(field, "required", "must not be empty")
	case utf8.RuneCountInString(name) > 200:
		return herald.Invalid(field, "max-length", "must be at most 200 characters")
	}
	return nil
}

func (s *Server) handleTenantList(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	if !p.PlatformAdmin {
		// Everyone else sees just their own tenant.
		t, err := s.store.TenantGet(r.Context(), p.Client.TenantID)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, listJSON[tenantJSON]{Data: []tenantJSON{toTenantJSON(t)}})
		return
	}
	ts, err := s.store.TenantList(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := listJSON[tenantJSON]{Data: make([]tenantJSON, 0, len(ts))}
	for _, t := range ts {
		out.Data = append(out.Data, toTenantJSON(t))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleTenantGet(w http.ResponseWriter, r *http.Request) {
	id, err := pathUUID(r, "id", "tenant")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p := principal(r)
	if !p.PlatformAdmin && p.Client.TenantID != id {
		s.writeError(w, r, herald.NotFound("tenant %s", id))
		return
	}
	t, err := s.store.TenantGet(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toTenantJSON(t))
}

func (s *Server) handleTenantDelete(w http.ResponseWriter, r *http.Request) {
	if err := requirePlatformAdmin(principal(r)); err != nil {
		s.writeError(w, r, err)
		return
	}
	id, err := pathUUID(r, "id", "tenant")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.store.TenantDelete(r.Context(), id); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.catalog.Invalidate()
	w.WriteHeader(http.StatusNoContent)
}

// --- clients ---

type clientJSON struct {
	ID        uuid.UUID `json:"id"`
	Tenant    uuid.UUID `json:"tenant"`
	Name      string    `json:"name"`
	Key       string    `json:"key"`
	Roles     []string  `json:"roles"`
	CreatedAt time.Time `json:"created_at"`
	// Secret is only present in the creation response.
	Secret string `json:"secret,omitempty"`
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

func (s *Server) handleClientCreate(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	var in struct {
		Tenant *uuid.UUID `json:"tenant"`
		Name   string     `json:"name"`
		Roles  []string   `json:"roles"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	tenant, err := tenantFor(p, in.Tenant)
	if err != nil {
		s.writeError(w, r, err)
		return
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
		s.writeError(w, r, err)
		return
	} else if t.Platform && !slices.Equal(roles, []herald.Role{herald.RoleAdmin}) && len(ve.Errors) == 0 {
		ve.Add("roles", "platform", "clients of the platform tenant can only be admins")
	}
	if err := ve.Err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	key, secret := herald.NewCredential()
	c := &herald.Client{ID: uuid.New(), TenantID: tenant, Name: in.Name, Key: key, SecretHash: herald.HashSecret(secret), Roles: roles}
	if err := s.store.ClientCreate(r.Context(), c); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.catalog.Invalidate()
	out := toClientJSON(c)
	out.Secret = secret
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) handleClientList(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	tenant, err := p.AdminScope(r.URL.Query().Get("tenant"), "clients")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	cs, err := s.store.ClientList(r.Context(), tenant)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := listJSON[clientJSON]{Data: make([]clientJSON, 0, len(cs))}
	for _, c := range cs {
		out.Data = append(out.Data, toClientJSON(c))
	}
	writeJSON(w, http.StatusOK, out)
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

func (s *Server) handleClientGet(w http.ResponseWriter, r *http.Request) {
	c, err := s.visibleClient(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toClientJSON(c))
}

func (s *Server) handleClientDelete(w http.ResponseWriter, r *http.Request) {
	c, err := s.visibleClient(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !principal(r).IsAdminOf(c.TenantID) {
		s.writeError(w, r, herald.Forbidden("deleting a client needs the admin role of its tenant"))
		return
	}
	if err := s.store.ClientDelete(r.Context(), c.ID); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.catalog.Invalidate()
	w.WriteHeader(http.StatusNoContent)
}

// --- event types ---

type eventTypeJSON struct {
	Name        string          `json:"name"`
	Tenant      uuid.UUID       `json:"tenant"`
	Description string          `json:"description"`
	Public      bool            `json:"public"`
	Version     int             `json:"version"`
	Schema      json.RawMessage `json:"schema"`
	// SchemaDraft and FormatAssertion say how the current version's schema
	// is read (see schema.Dialect).
	SchemaDraft     string `json:"schema_draft"`
	FormatAssertion bool   `json:"format_assertion"`
	// Delivery is "full" or "thin"; a thin type's push channels carry a
	// notification with ThinFields kept from data (see thin.go).
	Delivery      string             `json:"delivery"`
	ThinFields    []string           `json:"thin_fields,omitempty"`
	ThinRetention *thinRetentionJSON `json:"thin_retention,omitempty"`
	// Producers and Consumers are shown to the owning tenant's admins only.
	Producers []uuid.UUID `json:"producers,omitempty"`
	Consumers []uuid.UUID `json:"consumers,omitempty"`
	CreatedAt time.Time   `json:"created_at"`
	UpdatedAt time.Time   `json:"updated_at"`
}

func toEventTypeJSON(t *herald.EventType, p herald.Principal) eventTypeJSON {
	out := eventTypeJSON{Name: t.Name, Tenant: t.TenantID, Description: t.Description, Public: t.Public,
		Version: t.Version, Schema: json.RawMessage(t.Schema), SchemaDraft: t.SchemaDraft, FormatAssertion: t.FormatAssertion,
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
	thinJSON(&out, t)
	if p.IsAdminOf(t.TenantID) {
		out.Producers = nonNil(t.Producers)
		out.Consumers = nonNil(t.Consumers)
	}
	return out
}

func nonNil(ids []uuid.UUID) []uuid.UUID {
	if ids == nil {
		return []uuid.UUID{}
	}
	return ids
}

func (s *Server) handleEventTypePut(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	name := chi.URLParam(r, "type")
	if err := route.ValidateTypeName(name); err != nil {
		s.writeError(w, r, herald.Invalid("type", "format", "%s", err.Error()))
		return
	}
	var in struct {
		Tenant      *uuid.UUID      `json:"tenant"`
		Description string          `json:"description"`
		Schema      json.RawMessage `json:"schema"`
		SchemaDraft string          `json:"schema_draft"`
		// FormatAssert is a pointer to tell "false" from absent: drafts 6
		// and 7 always assert, so an explicit false is refused for them.
		FormatAssert *bool              `json:"format_assertion"`
		Producers    []uuid.UUID        `json:"producers"`
		Consumers    []uuid.UUID        `json:"consumers"`
		Public       bool               `json:"public"`
		Delivery     string             `json:"delivery"`
		ThinFields   []string           `json:"thin_fields"`
		ThinRet      *thinRetentionJSON `json:"thin_retention"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	tenant, err := tenantFor(p, in.Tenant)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ve := &herald.ValidationError{}
	if _, err := s.store.TenantGet(r.Context(), tenant); err != nil {
		ve.Add("tenant", "exists", "no tenant has id %s", tenant)
	}
	if utf8.RuneCountInString(in.Description) > 2000 {
		ve.Add("description", "max-length", "must be at most 2000 characters")
	}
	doc := []byte(in.Schema)
	if len(doc) == 0 || string(doc) == "null" {
		doc = []byte("true") // no schema given: any data is accepted
	}
	sch := checkSchema(ve, doc, in.SchemaDraft, in.FormatAssert)
	snap, err := s.catalog.Get(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	checkClients := func(field string, ids []uuid.UUID) {
		for i, id := range ids {
			if snap.Client(id) == nil {
				// The snapshot may lag a client created on another node.
				if _, err := s.store.ClientGet(r.Context(), id); err != nil {
					ve.Add(fmt.Sprintf("%s[%d]", field, i), "exists", "no client has id %s", id)
				}
			}
		}
	}
	checkClients("producers", in.Producers)
	checkClients("consumers", in.Consumers)
	thinCfg := checkThin(ve, in.Delivery, in.ThinFields, in.ThinRet)
	if err := ve.Err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	d := sch.Dialect()
	t := &herald.EventType{Name: name, TenantID: tenant, Description: in.Description, Public: in.Public,
		Producers: dedupIDs(in.Producers), Consumers: dedupIDs(in.Consumers), Schema: doc,
		SchemaDraft: d.Draft, FormatAssertion: d.FormatAssertion, Thin: thinCfg}
	created, err := s.store.EventTypePut(r.Context(), t, func(existing *herald.EventType) error {
		if !p.IsAdminOf(existing.TenantID) {
			return herald.Forbidden("event type %q belongs to another tenant", name)
		}
		return nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// The schema was compiled above; the first event need not compile it.
	s.catalog.Prime(t, sch)
	s.catalog.Invalidate()
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, toEventTypeJSON(t, p))
}

// checkSchema compiles a submitted schema document as a new version's,
// with the draft and format assertion the request asks for, and adds what
// is wrong to ve. It returns the compiled schema, or nil when ve has
// errors.
func checkSchema(ve *herald.ValidationError, doc []byte, draft string, formatAssertion *bool) *schema.Schema {
	if draft != "" && !slices.Contains(schema.Drafts(), draft) {
		ve.Add("schema_draft", "enum", "must be one of %s", strings.Join(schema.Drafts(), ", "))
		return nil
	}
	sch, err := schema.CompileSubmitted(doc, schema.Dialect{Draft: draft, FormatAssertion: formatAssertion != nil && *formatAssertion})
	if err != nil {
		field, rule := "schema", "schema"
		var ce *schema.CompileError
		if errors.As(err, &ce) {
			rule = ce.Rule()
		}
		if errors.Is(err, schema.ErrDraftConflict) {
			field = "schema_draft"
		}
		ve.Add(field, rule, "%s", err.Error())
		return nil
	}
	if formatAssertion != nil && *formatAssertion != sch.Dialect().FormatAssertion {
		ve.Add("format_assertion", "format-assertion",
			"the schema is read as %s, which always asserts \"format\"; leave format_assertion out or set it to true", sch.Draft())
		return nil
	}
	return sch
}

func dedupIDs(ids []uuid.UUID) []uuid.UUID {
	out := make([]uuid.UUID, 0, len(ids))
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

func (s *Server) handleEventTypeGet(w http.ResponseWriter, r *http.Request) {
	t, err := s.store.EventTypeGet(r.Context(), chi.URLParam(r, "type"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toEventTypeJSON(t, principal(r)))
}

func (s *Server) handleEventTypeList(w http.ResponseWriter, r *http.Request) {
	ts, err := s.store.EventTypeList(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p := principal(r)
	out := listJSON[eventTypeJSON]{Data: make([]eventTypeJSON, 0, len(ts))}
	for _, t := range ts {
		out.Data = append(out.Data, toEventTypeJSON(t, p))
	}
	writeJSON(w, http.StatusOK, out)
}

type schemaVersionJSON struct {
	Version         int             `json:"version"`
	Schema          json.RawMessage `json:"schema"`
	SchemaDraft     string          `json:"schema_draft"`
	FormatAssertion bool            `json:"format_assertion"`
	CreatedAt       time.Time       `json:"created_at"`
}

func toSchemaVersionJSON(v herald.SchemaVersion) schemaVersionJSON {
	return schemaVersionJSON{Version: v.Version, Schema: v.Schema, SchemaDraft: v.SchemaDraft,
		FormatAssertion: v.FormatAssertion, CreatedAt: v.CreatedAt}
}

func (s *Server) handleEventTypeVersions(w http.ResponseWriter, r *http.Request) {
	vs, err := s.store.EventTypeVersions(r.Context(), chi.URLParam(r, "type"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := listJSON[schemaVersionJSON]{Data: make([]schemaVersionJSON, 0, len(vs))}
	for _, v := range vs {
		out.Data = append(out.Data, toSchemaVersionJSON(v))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleEventTypeVersion(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "type")
	n, err := strconv.Atoi(chi.URLParam(r, "version"))
	if err != nil {
		s.writeError(w, r, herald.NotFound("version %q of event type %q", chi.URLParam(r, "version"), name))
		return
	}
	vs, err := s.store.EventTypeVersions(r.Context(), name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	for _, v := range vs {
		if v.Version == n {
			writeJSON(w, http.StatusOK, toSchemaVersionJSON(v))
			return
		}
	}
	s.writeError(w, r, herald.NotFound("version %d of event type %q", n, name))
}
