package web

import (
	"net/http"
	"net/url"

	"github.com/go-chi/chi/v5"
)

// tenantsPage lists every tenant, for platform admins, with the form that
// adds one.
type tenantsPage struct {
	Tenants []tenantWire
	Name    string
	Problem *apiError
}

func (h *Handler) tenantList(w http.ResponseWriter, r *http.Request) error {
	return h.showTenants(w, r, http.StatusOK, tenantsPage{}, "")
}

func (h *Handler) showTenants(w http.ResponseWriter, r *http.Request, status int, p tenantsPage, notice string) error {
	// The API shows a tenant admin their own tenant; the page that manages
	// tenants is the platform admins'.
	if !sessionFrom(r.Context()).Principal.PlatformAdmin {
		return errNotFound
	}
	ts, cursor, err := getPage[tenantWire](h, r, "/v1/tenants", nil)
	if err != nil {
		return err
	}
	p.Tenants = ts
	h.render(w, r, status, "console/tenants", view{Title: "Tenants", Section: "tenants", Notice: notice, Data: p,
		Next: pageLink("/console/tenants", nil, cursor)})
	return nil
}

func (h *Handler) tenantCreate(w http.ResponseWriter, r *http.Request) error {
	p := tenantsPage{Name: r.PostFormValue("name")}
	var t tenantWire
	err := h.call(r.Context(), http.MethodPost, "/v1/tenants", map[string]any{"name": p.Name}, &t)
	if ae, ok := asAPIError(err); ok && (ae.Status == http.StatusUnprocessableEntity || ae.Status == http.StatusConflict) {
		p.Problem = ae
		return h.showTenants(w, r, ae.Status, p, "")
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/console/clients?tenant="+url.QueryEscape(t.ID), http.StatusSeeOther)
	return nil
}

func (h *Handler) tenantDelete(w http.ResponseWriter, r *http.Request) error {
	if err := h.call(r.Context(), http.MethodDelete, "/v1/tenants/"+url.PathEscape(chi.URLParam(r, "id")), nil, nil); err != nil {
		return err
	}
	return h.showTenants(w, r, http.StatusOK, tenantsPage{}, "The tenant and everything in it were deleted.")
}
