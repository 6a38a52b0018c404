package integrationapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/httpjson"
	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/internal/route"
)

// integrationJSON is the wire shape of an integration credential.
type integrationJSON struct {
	ID         uuid.UUID  `json:"id"`
	Tenant     uuid.UUID  `json:"tenant"`
	Name       string     `json:"name"`
	Key        string     `json:"key"`
	Types      []string   `json:"types"`
	Status     string     `json:"status"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
}

// integrationIssuedJSON is a credential with the secret just issued
// (creation, rotation), after every other field, as it always was.
type integrationIssuedJSON struct {
	integrationJSON
	Secret string `json:"secret"`
}

func toIntegrationJSON(i *herald.Integration, now time.Time) integrationJSON {
	status := "active"
	switch {
	case !i.RevokedAt.IsZero():
		status = "revoked"
	case !i.ExpiresAt.IsZero() && !now.Before(i.ExpiresAt):
		status = "expired"
	}
	return integrationJSON{ID: i.ID, Tenant: i.TenantID, Name: i.Name, Key: i.Key, Types: i.Types, Status: status,
		ExpiresAt: httpjson.Time(i.ExpiresAt), RevokedAt: httpjson.Time(i.RevokedAt), LastUsedAt: httpjson.Time(i.LastUsedAt),
		CreatedAt: i.CreatedAt, UpdatedAt: i.UpdatedAt}
}

// adminTenant resolves the tenant a management request acts on: the
// caller's own when none is given; the caller must administer it.
func adminTenant(p herald.Principal, given *uuid.UUID) (uuid.UUID, error) {
	return p.AdminTenant(given, "managing integrations")
}

// MaxIntegrationTypes bounds the patterns of one credential.
const MaxIntegrationTypes = 100

func (h *Handler) handleCreate(w http.ResponseWriter, r *http.Request) error {
	p := herald.PrincipalFrom(r.Context())
	var in struct {
		Tenant    *uuid.UUID `json:"tenant"`
		Name      string     `json:"name"`
		Types     []string   `json:"types"`
		ExpiresAt *time.Time `json:"expires_at"`
	}
	if err := httpjson.Decode(w, r, &in); err != nil {
		return err
	}
	tenant, err := adminTenant(p, in.Tenant)
	if err != nil {
		return err
	}
	now := h.now()
	ve := &herald.ValidationError{}
	in.Name = strings.TrimSpace(in.Name)
	switch {
	case in.Name == "":
		ve.Add("name", "required", "must not be empty; name the consuming platform and deployment, e.g. \"bops-staging\"")
	case utf8.RuneCountInString(in.Name) > 200:
		ve.Add("name", "max-length", "must be at most 200 characters")
	}
	switch {
	case len(in.Types) == 0:
		ve.Add("types", "required", "give at least one event type name or pattern the credential may read")
	case len(in.Types) > MaxIntegrationTypes:
		ve.Add("types", "max-items", "at most %d types or patterns", MaxIntegrationTypes)
	}
	types := make([]string, 0, len(in.Types))
	for i, t := range in.Types {
		if err := route.ValidatePattern(t); err != nil {
			ve.Add(fmt.Sprintf("types[%d]", i), "pattern", "%s", err.Error())
			continue
		}
		types = append(types, t)
	}
	var expires time.Time
	if in.ExpiresAt != nil {
		expires = in.ExpiresAt.UTC()
		if !expires.After(now) {
			ve.Add("expires_at", "future", "must be in the future")
		}
	}
	if err := ve.Err(); err != nil {
		return err
	}
	key, secret := herald.NewIntegrationCredential()
	i := &herald.Integration{ID: uuid.New(), TenantID: tenant, Name: in.Name, Key: key,
		SecretHash: herald.HashSecret(secret), Types: types, ExpiresAt: expires}
	if err := h.Store.IntegrationCreate(r.Context(), i); err != nil {
		return err
	}
	out := integrationIssuedJSON{integrationJSON: toIntegrationJSON(i, now), Secret: secret}
	w.Header().Set("Cache-Control", "no-store")
	httpjson.Write(w, http.StatusCreated, out)
	return nil
}

func (h *Handler) handleList(w http.ResponseWriter, r *http.Request) error {
	p := herald.PrincipalFrom(r.Context())
	tenant, err := p.AdminScope(r.URL.Query().Get("tenant"), "integrations")
	if err != nil {
		return err
	}
	var after postgres.PageKey
	limit, err := httpjson.PageLimit(r, 250)
	if err == nil {
		err = httpjson.DecodeCursor(r, &after)
	}
	if err != nil {
		return err
	}
	is, err := h.Store.IntegrationList(r.Context(), tenant, after, limit)
	if err != nil {
		return err
	}
	now := h.now()
	out := httpjson.PageOf(is, func(i *herald.Integration) integrationJSON { return toIntegrationJSON(i, now) }, limit,
		func(i *herald.Integration) postgres.PageKey { return postgres.PageKey{Time: i.CreatedAt, ID: i.ID} })
	httpjson.Write(w, http.StatusOK, out)
	return nil
}

// visible loads an integration the caller administers; others are not
// found, so ids of other tenants don't leak.
func (h *Handler) visible(r *http.Request) (*herald.Integration, error) {
	id, err := uuid.Parse(chi.URLParam(r, "id"))
	if err != nil {
		return nil, herald.NotFound("integration %q", chi.URLParam(r, "id"))
	}
	i, err := h.Store.IntegrationGet(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if !herald.PrincipalFrom(r.Context()).IsAdminOf(i.TenantID) {
		return nil, herald.NotFound("integration %s", id)
	}
	return i, nil
}

func (h *Handler) handleGet(w http.ResponseWriter, r *http.Request) error {
	i, err := h.visible(r)
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, toIntegrationJSON(i, h.now()))
	return nil
}

// handleRevoke revokes the credential for good; it stays listed (revoked)
// with its access log.
func (h *Handler) handleRevoke(w http.ResponseWriter, r *http.Request) error {
	i, err := h.visible(r)
	if err != nil {
		return err
	}
	if _, err := h.Store.IntegrationRevoke(r.Context(), i.ID, h.now()); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleRotate issues a new secret; the old one stops working at once.
func (h *Handler) handleRotate(w http.ResponseWriter, r *http.Request) error {
	i, err := h.visible(r)
	if err != nil {
		return err
	}
	_, secret := herald.NewIntegrationCredential()
	i, err = h.Store.IntegrationRotate(r.Context(), i.ID, herald.HashSecret(secret))
	if err != nil {
		return err
	}
	out := integrationIssuedJSON{integrationJSON: toIntegrationJSON(i, h.now()), Secret: secret}
	w.Header().Set("Cache-Control", "no-store")
	httpjson.Write(w, http.StatusOK, out)
	return nil
}

// accessJSON is one access log entry on the wire.
type accessJSON struct {
	ID         int64      `json:"id"`
	At         time.Time  `json:"at"`
	RemoteAddr string     `json:"remote_addr"`
	Method     string     `json:"method"`
	Path       string     `json:"path"`
	EventID    *uuid.UUID `json:"event_id,omitempty"`
	FileID     *uuid.UUID `json:"file_id,omitempty"`
	Status     int        `json:"status"`
	Outcome    string     `json:"outcome"`
}

// accessPageJSON is a page of the access log, newest first; NextBefore is
// the before parameter of the next page (absent on the last).
type accessPageJSON struct {
	Data       []accessJSON `json:"data"`
	NextBefore int64        `json:"next_before,omitempty"`
}

func uuidPtr(id uuid.UUID) *uuid.UUID {
	if id == uuid.Nil {
		return nil
	}
	return &id
}

func (h *Handler) handleAccessLog(w http.ResponseWriter, r *http.Request) error {
	i, err := h.visible(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	limit := 100
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return herald.Invalid("limit", "range", "must be an integer from 1 to 1000")
		}
		limit = n
	}
	var before int64
	if s := q.Get("before"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			return herald.Invalid("before", "format", "must be the next_before value of the previous page")
		}
		before = n
	}
	es, err := h.Store.AccessLogList(r.Context(), i.ID, before, limit)
	if err != nil {
		return err
	}
	out := accessPageJSON{Data: make([]accessJSON, 0, len(es))}
	for _, e := range es {
		out.Data = append(out.Data, accessJSON{ID: e.ID, At: e.At, RemoteAddr: e.RemoteAddr, Method: e.Method,
			Path: e.Path, EventID: uuidPtr(e.EventID), FileID: uuidPtr(e.FileID), Status: e.Status, Outcome: e.Outcome})
	}
	if len(es) == limit {
		out.NextBefore = es[len(es)-1].ID
	}
	httpjson.Write(w, http.StatusOK, out)
	return nil
}
