package web

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// brandingWire is a tenant's portal branding as the API gives it.
type brandingWire struct {
	Name    string `json:"name"`
	LogoURL string `json:"logo_url"`
	Color   string `json:"color"`
}

// brand reads the branding of the portal session's tenant; a failure
// leaves Herald's own look rather than failing the page.
func (h *Handler) brand(r *http.Request) *brandingWire {
	ss := sessionFrom(r.Context())
	if ss == nil || !ss.Portal() {
		return nil
	}
	var t tenantWire
	if err := h.get(r.Context(), "/v1/tenants/"+url.PathEscape(ss.Principal.Client.TenantID.String()), nil, &t); err != nil {
		h.logger.Warn("read portal branding", "tenant", ss.Principal.Client.TenantID, "err", err)
		return nil
	}
	return &t.Branding
}

// brandCSS colours the portal's header in the tenant's colour, with black
// or white text, whichever contrasts more. A stylesheet, not an inline
// style, so the pages' Content-Security-Policy stays strict.
func (h *Handler) brandCSS(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "private, max-age=60")
	b := h.brand(r)
	if b == nil || b.Color == "" {
		return nil
	}
	fg := textOn(b.Color)
	_, err := fmt.Fprintf(w, "body.portal header.top { background: %s; color: %s; }\nbody.portal header.top a, body.portal header.top button.link { color: %s; }\n"+
		"body.portal nav a[aria-current=\"page\"] { border-bottom-color: %s; }\n", b.Color, fg, fg, fg)
	return err
}

// textOn is the text colour, black or white, with the higher WCAG
// contrast on a background of #rrggbb.
func textOn(bg string) string {
	if contrast(bg, "#ffffff") >= contrast(bg, "#000000") {
		return "#ffffff"
	}
	return "#000000"
}

// luminance is the WCAG 2 relative luminance of #rrggbb (0 for anything
// else, which contrasts as black).
func luminance(hex string) float64 {
	hex = strings.TrimPrefix(hex, "#")
	if len(hex) != 6 {
		return 0
	}
	channel := func(h string) float64 {
		v, _ := strconv.ParseUint(h, 16, 8)
		c := float64(v) / 255
		if c <= 0.03928 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	return 0.2126*channel(hex[0:2]) + 0.7152*channel(hex[2:4]) + 0.0722*channel(hex[4:6])
}

// contrast is the WCAG 2 contrast ratio of two #rrggbb colours, from 1 to
// 21; body text needs 4.5 (level AA).
func contrast(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// portalSettings is the console's portal page: the branding and the form
// that makes a link.
type portalSettings struct {
	Tenant    tenantWire
	Consumers []clientWire
	Link      string
	LinkUntil time.Time
	Client    string
	ExpiresIn string
	Problem   *apiError
}

// FieldProblems are the API's problems about one field.
func (p portalSettings) FieldProblems(field string) []problemItem {
	if p.Problem == nil {
		return nil
	}
	return p.Problem.field(field)
}

func (h *Handler) portalSettingsPage(w http.ResponseWriter, r *http.Request) error {
	return h.showPortalSettings(w, r, http.StatusOK, portalSettings{ExpiresIn: "24h"}, "")
}

func (h *Handler) showPortalSettings(w http.ResponseWriter, r *http.Request, status int, p portalSettings, notice string) error {
	ss := sessionFrom(r.Context())
	if err := h.get(r.Context(), "/v1/tenants/"+ss.Principal.Client.TenantID.String(), nil, &p.Tenant); err != nil {
		return err
	}
	var cs listOf[clientWire]
	if err := h.get(r.Context(), "/v1/clients", url.Values{"limit": {strconv.Itoa(pickerSize)}}, &cs); err != nil {
		return err
	}
	for _, c := range cs.Data {
		if strings.Contains(","+strings.Join(c.Roles, ",")+",", ",consumer,") {
			p.Consumers = append(p.Consumers, c)
		}
	}
	h.render(w, r, status, "console/portal", view{Title: "Partner portal", Section: "portal", Notice: notice, Data: p})
	return nil
}

// portalBrandingSave sets the tenant's branding through the API.
func (h *Handler) portalBrandingSave(w http.ResponseWriter, r *http.Request) error {
	ss := sessionFrom(r.Context())
	b := brandingWire{Name: r.PostFormValue("brand_name"), LogoURL: r.PostFormValue("logo_url"), Color: r.PostFormValue("color")}
	err := h.call(r.Context(), http.MethodPatch, "/v1/tenants/"+ss.Principal.Client.TenantID.String(), map[string]any{"branding": b}, nil)
	if ae, ok := asAPIError(err); ok && ae.Status == http.StatusUnprocessableEntity {
		p := portalSettings{Problem: ae, ExpiresIn: "24h"}
		if err := h.showPortalSettings(w, r, http.StatusUnprocessableEntity, p, ""); err != nil {
			return err
		}
		return nil
	}
	if err != nil {
		return err
	}
	return h.showPortalSettings(w, r, http.StatusOK, portalSettings{ExpiresIn: "24h"}, "Branding saved.")
}

// portalLinkCreate makes a portal link through the API and shows it.
func (h *Handler) portalLinkCreate(w http.ResponseWriter, r *http.Request) error {
	p := portalSettings{Client: r.PostFormValue("client"), ExpiresIn: r.PostFormValue("expires_in")}
	var out struct {
		URL       string    `json:"url"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	body := map[string]any{"client": p.Client}
	if p.ExpiresIn != "" {
		body["expires_in"] = p.ExpiresIn
	}
	err := h.call(r.Context(), http.MethodPost, "/v1/portal-links", body, &out)
	if ae, ok := asAPIError(err); ok && ae.Status == http.StatusUnprocessableEntity {
		p.Problem = ae
		return h.showPortalSettings(w, r, http.StatusUnprocessableEntity, p, "")
	}
	if err != nil {
		return err
	}
	p.Link, p.LinkUntil = out.URL, out.ExpiresAt
	return h.showPortalSettings(w, r, http.StatusCreated, p, "Portal link made. Send it to the partner as you would a password.")
}
