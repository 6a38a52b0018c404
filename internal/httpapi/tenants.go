package httpapi

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/httpjson"
	"github.com/heraldhq/herald/internal/postgres"
)

type tenantJSON struct {
	ID        uuid.UUID    `json:"id"`
	Name      string       `json:"name"`
	Platform  bool         `json:"platform"`
	Branding  brandingJSON `json:"branding"`
	CreatedAt time.Time    `json:"created_at"`
}

// brandingJSON is how the tenant's partner portal presents itself.
type brandingJSON struct {
	Name    string `json:"name"`
	LogoURL string `json:"logo_url"`
	Color   string `json:"color"`
}

func toTenantJSON(t *herald.Tenant) tenantJSON {
	return tenantJSON{ID: t.ID, Name: t.Name, Platform: t.Platform, CreatedAt: t.CreatedAt,
		Branding: brandingJSON{Name: t.Branding.Name, LogoURL: t.Branding.LogoURL, Color: t.Branding.Color}}
}

// brandColor is a colour as #rrggbb.
var brandColor = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// handleTenantPatch changes a tenant's portal branding; its admins may.
func (s *Server) handleTenantPatch(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id", "tenant")
	if err != nil {
		return err
	}
	p := principal(r)
	if !p.IsAdminOf(id) {
		if p.Client.TenantID == id {
			return herald.Forbidden("changing the tenant needs its admin role")
		}
		return herald.NotFound("tenant %s", id)
	}
	var in struct {
		Branding *brandingJSON `json:"branding"`
	}
	if err := httpjson.Decode(w, r, &in); err != nil {
		return err
	}
	t, err := s.store.TenantGet(r.Context(), id)
	if err != nil {
		return err
	}
	if in.Branding != nil {
		b := herald.Branding{Name: strings.TrimSpace(in.Branding.Name), LogoURL: strings.TrimSpace(in.Branding.LogoURL),
			Color: strings.ToLower(strings.TrimSpace(in.Branding.Color))}
		ve := &herald.ValidationError{}
		if utf8.RuneCountInString(b.Name) > 100 {
			ve.Add("branding.name", "max-length", "must be at most 100 characters")
		}
		if b.LogoURL != "" {
			u, err := url.Parse(b.LogoURL)
			switch {
			case err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil:
				ve.Add("branding.logo_url", "format", "must be an https URL without credentials")
			case len(b.LogoURL) > 2000:
				ve.Add("branding.logo_url", "max-length", "must be at most 2000 bytes")
			}
		}
		if b.Color != "" && !brandColor.MatchString(b.Color) {
			ve.Add("branding.color", "format", "must be a colour as #rrggbb")
		}
		if err := ve.Err(); err != nil {
			return err
		}
		if err := s.store.TenantSetBranding(r.Context(), id, b); err != nil {
			return err
		}
		t.Branding = b
	}
	httpjson.Write(w, http.StatusOK, toTenantJSON(t))
	return nil
}

func requirePlatformAdmin(p herald.Principal) error {
	if !p.PlatformAdmin {
		return herald.Forbidden("only platform admins may manage tenants")
	}
	return nil
}

func (s *Server) handleTenantCreate(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	if err := requirePlatformAdmin(p); err != nil {
		return err
	}
	var in struct {
		Name string `json:"name"`
	}
	if err := httpjson.Decode(w, r, &in); err != nil {
		return err
	}
	in.Name = strings.TrimSpace(in.Name)
	if err := validName("name", in.Name); err != nil {
		return err
	}
	t := &herald.Tenant{ID: uuid.New(), Name: in.Name}
	if err := s.store.TenantCreate(r.Context(), t); err != nil {
		return err
	}
	s.catalog.Invalidate()
	httpjson.Write(w, http.StatusCreated, toTenantJSON(t))
	return nil
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

func (s *Server) handleTenantList(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	if !p.PlatformAdmin {
		// Everyone else sees just their own tenant.
		t, err := s.store.TenantGet(r.Context(), p.Client.TenantID)
		if err != nil {
			return err
		}
		httpjson.Write(w, http.StatusOK, httpjson.List[tenantJSON]{Data: []tenantJSON{toTenantJSON(t)}})
		return nil
	}
	limit, after, err := pageParams(r)
	if err != nil {
		return err
	}
	ts, err := s.store.TenantList(r.Context(), after, limit)
	if err != nil {
		return err
	}
	out := httpjson.PageOf(ts, toTenantJSON, limit,
		func(t *herald.Tenant) postgres.PageKey { return postgres.PageKey{Name: t.Name} })
	httpjson.Write(w, http.StatusOK, out)
	return nil
}

func (s *Server) handleTenantGet(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id", "tenant")
	if err != nil {
		return err
	}
	p := principal(r)
	if !p.PlatformAdmin && p.Client.TenantID != id {
		return herald.NotFound("tenant %s", id)
	}
	t, err := s.store.TenantGet(r.Context(), id)
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, toTenantJSON(t))
	return nil
}

func (s *Server) handleTenantDelete(w http.ResponseWriter, r *http.Request) error {
	if err := requirePlatformAdmin(principal(r)); err != nil {
		return err
	}
	id, err := pathUUID(r, "id", "tenant")
	if err != nil {
		return err
	}
	if err := s.store.TenantDelete(r.Context(), id); err != nil {
		return err
	}
	s.catalog.Invalidate()
	s.purgeDeletedGroups(r.Context())
	w.WriteHeader(http.StatusNoContent)
	return nil
}
