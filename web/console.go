package web

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/go-chi/chi/v5"
)

// consoleRoutes are the admin console's pages, behind a console session.
func (h *Handler) consoleRoutes(r chi.Router) {
	r.Get("/", h.page(h.overview))
	r.Get("/event-types", h.page(h.eventTypeList))
	r.Get("/event-types/new", h.page(h.eventTypeNew))
	r.Post("/event-types", h.page(h.eventTypeSave))
	r.Post("/event-types/check", h.page(h.eventTypeCheck))
	r.Get("/event-types/{type}", h.page(h.eventTypeShow))
	r.Post("/event-types/{type}/try", h.page(h.eventTypeTry))
	h.endpointRoutes(r)
	r.Get("/dead-letters", h.page(h.deadLetters))
	r.Post("/dead-letters/{id}/redrive", h.page(h.deadLetterRedrive))
	r.Get("/connectors", h.page(h.connectorList))
	r.Get("/connectors/new", h.page(h.connectorNew))
	r.Post("/connectors", h.page(h.connectorSave))
	r.Post("/connectors/check", h.page(h.connectorCheck))
	r.Get("/connectors/{id}", h.page(h.connectorShow))
	r.Post("/connectors/{id}/test", h.page(h.connectorTest))
	r.Post("/connectors/{id}/runs/{run}/retry", h.page(h.connectorRunRetry))
	r.Get("/integrations", h.page(h.integrationList))
	r.Post("/integrations", h.page(h.integrationCreate))
	r.Get("/integrations/{id}", h.page(h.integrationAccess))
	r.Post("/integrations/{id}/{action}", h.page(h.integrationAction))
	r.Get("/consumer-groups", h.page(h.groupList))
	r.Get("/portal", h.page(h.portalSettingsPage))
	r.Post("/portal/branding", h.page(h.portalBrandingSave))
	r.Post("/portal/links", h.page(h.portalLinkCreate))
	r.Get("/tenants", h.page(h.tenantList))
	r.Post("/tenants", h.page(h.tenantCreate))
	r.Post("/tenants/{id}/delete", h.page(h.tenantDelete))
	r.Get("/clients", h.page(h.clientList))
	r.Post("/clients", h.page(h.clientCreate))
	r.Post("/clients/{id}/delete", h.page(h.clientDelete))
	r.Post("/clients/{id}/rotate", h.page(h.clientRotate))
}

// endpointRoutes are the endpoint and delivery pages both the console and
// the portal serve.
func (h *Handler) endpointRoutes(r chi.Router) {
	r.Get("/endpoints", h.page(h.endpointList))
	r.Post("/endpoints", h.page(h.endpointCreate))
	r.Get("/endpoints/{id}", h.page(h.endpointShow))
	r.Post("/endpoints/{id}/{action}", h.page(h.endpointAction))
	r.Get("/deliveries/{id}", h.page(h.deliveryShow))
	r.Post("/deliveries/{id}/retry", h.page(h.deliveryRetry))
}

// deadLettersPage is a page of dead events with its filters.
type deadLettersPage struct {
	Events   []deadEventWire
	Endpoint string
	Type     string
	Next     string
}

func (h *Handler) deadLetters(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p := deadLettersPage{Endpoint: q.Get("endpoint"), Type: q.Get("type")}
	filters := url.Values{"endpoint": {p.Endpoint}, "type": {p.Type}}
	events, cursor, err := getPage[deadEventWire](h, r, "/v1/dead-events", filters)
	if err != nil {
		return err
	}
	p.Events, p.Next = events, pageLink("/console/dead-letters", filters, cursor)
	notice := ""
	if q.Get("done") == "redrive" {
		notice = "The dead letter was redriven: it is being delivered again."
	}
	h.render(w, r, http.StatusOK, "console/dead-letters", view{Title: "Dead letters", Section: "dead-letters", Notice: notice, Data: p})
	return nil
}

func (h *Handler) deadLetterRedrive(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "id")
	if err := h.call(r.Context(), http.MethodPost, "/v1/dead-events/"+url.PathEscape(id)+"/redrive", nil, nil); err != nil {
		return err
	}
	http.Redirect(w, r, "/console/dead-letters?done=redrive", http.StatusSeeOther)
	return nil
}

// clientsPage lists the tenant's clients, with the form that adds one.
type clientsPage struct {
	// Tenant is the tenant a platform admin chose ("": the caller's own).
	Tenant     string
	TenantName string
	Clients    []clientWire
	// Created is a client just created, with its secret shown once.
	Created *clientWire
	Name    string
	Roles   []string
	Problem *apiError
}

func (h *Handler) clientList(w http.ResponseWriter, r *http.Request) error {
	return h.showClients(w, r, http.StatusOK, clientsPage{}, "")
}

func (h *Handler) showClients(w http.ResponseWriter, r *http.Request, status int, p clientsPage, notice string) error {
	p.Tenant = r.URL.Query().Get("tenant")
	if p.Tenant == "" {
		p.Tenant = r.PostFormValue("tenant")
	}
	filters := url.Values{"tenant": {p.Tenant}}
	cs, cursor, err := getPage[clientWire](h, r, "/v1/clients", filters)
	if err != nil {
		return err
	}
	p.Clients = cs
	// Also after a POST (create, rotate, revoke): the list's own page.
	next := pageLink("/console/clients", filters, cursor)
	if p.Tenant != "" {
		var t tenantWire
		if err := h.get(r.Context(), "/v1/tenants/"+url.PathEscape(p.Tenant), nil, &t); err != nil {
			return err
		}
		p.TenantName = t.Name
	}
	h.render(w, r, status, "console/clients", view{Title: "Clients", Section: "clients", Notice: notice, Data: p, Next: next})
	return nil
}

func (h *Handler) clientCreate(w http.ResponseWriter, r *http.Request) error {
	p := clientsPage{Name: r.PostFormValue("name"), Roles: r.PostForm["roles"]}
	var c clientWire
	body := map[string]any{"name": p.Name, "roles": nonNilStrings(p.Roles)}
	if t := r.PostFormValue("tenant"); t != "" {
		body["tenant"] = t
	}
	err := h.call(r.Context(), http.MethodPost, "/v1/clients", body, &c)
	if ae, ok := asAPIError(err); ok && ae.Status == http.StatusUnprocessableEntity {
		p.Problem = ae
		return h.showClients(w, r, http.StatusUnprocessableEntity, p, "")
	}
	if err != nil {
		return err
	}
	return h.showClients(w, r, http.StatusCreated, clientsPage{Created: &c}, "Client created.")
}

func (h *Handler) clientDelete(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "id")
	if err := h.call(r.Context(), http.MethodDelete, "/v1/clients/"+url.PathEscape(id), nil, nil); err != nil {
		return err
	}
	return h.showClients(w, r, http.StatusOK, clientsPage{}, "The client was revoked: its credentials no longer work.")
}

// clientRotate gives a client a new secret and shows it once.
func (h *Handler) clientRotate(w http.ResponseWriter, r *http.Request) error {
	var c clientWire
	if err := h.call(r.Context(), http.MethodPost, "/v1/clients/"+url.PathEscape(chi.URLParam(r, "id"))+"/secret/rotate", nil, &c); err != nil {
		return err
	}
	return h.showClients(w, r, http.StatusOK, clientsPage{Created: &c}, "The secret was rotated; the old one no longer works.")
}

func itoa(n int) string { return strconv.Itoa(n) }
