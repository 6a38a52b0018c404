package web

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
)

type integrationWire struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Key        string     `json:"key"`
	Types      []string   `json:"types"`
	Status     string     `json:"status"`
	ExpiresAt  *time.Time `json:"expires_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	CreatedAt  time.Time  `json:"created_at"`
	Secret     string     `json:"secret"`
}

type accessWire struct {
	ID         int64     `json:"id"`
	At         time.Time `json:"at"`
	RemoteAddr string    `json:"remote_addr"`
	Method     string    `json:"method"`
	Path       string    `json:"path"`
	Status     int       `json:"status"`
	Outcome    string    `json:"outcome"`
}

// integrationsPage lists integration credentials with the form that
// issues one.
type integrationsPage struct {
	Integrations []integrationWire
	// Issued is a credential just issued or rotated, its secret shown once.
	Issued  *integrationWire
	Name    string
	Types   string
	Problem *apiError
}

// FieldProblems are the API's problems about one field.
func (p integrationsPage) FieldProblems(field string) []problemItem {
	if p.Problem == nil {
		return nil
	}
	return p.Problem.field(field)
}

func (h *Handler) integrationList(w http.ResponseWriter, r *http.Request) error {
	return h.showIntegrations(w, r, http.StatusOK, integrationsPage{}, "")
}

func (h *Handler) showIntegrations(w http.ResponseWriter, r *http.Request, status int, p integrationsPage, notice string) error {
	list, cursor, err := getPage[integrationWire](h, r, "/v1/integrations", nil)
	if err != nil {
		return err
	}
	p.Integrations = list
	h.render(w, r, status, "console/integrations", view{Title: "Integration credentials", Section: "integrations", Notice: notice, Data: p,
		Next: pageLink("/console/integrations", nil, cursor)})
	return nil
}

func (h *Handler) integrationCreate(w http.ResponseWriter, r *http.Request) error {
	p := integrationsPage{Name: r.PostFormValue("name"), Types: r.PostFormValue("types")}
	var in integrationWire
	err := h.call(r.Context(), http.MethodPost, "/v1/integrations", map[string]any{"name": p.Name, "types": splitList(p.Types)}, &in)
	if ae, ok := asAPIError(err); ok && ae.Status == http.StatusUnprocessableEntity {
		p.Problem = ae
		return h.showIntegrations(w, r, http.StatusUnprocessableEntity, p, "")
	}
	if err != nil {
		return err
	}
	return h.showIntegrations(w, r, http.StatusCreated, integrationsPage{Issued: &in}, "Credential issued.")
}

// integrationAction rotates or revokes a credential.
func (h *Handler) integrationAction(w http.ResponseWriter, r *http.Request) error {
	path := "/v1/integrations/" + url.PathEscape(chi.URLParam(r, "id"))
	switch chi.URLParam(r, "action") {
	case "rotate":
		var in integrationWire
		if err := h.call(r.Context(), http.MethodPost, path+"/secret/rotate", nil, &in); err != nil {
			return err
		}
		return h.showIntegrations(w, r, http.StatusOK, integrationsPage{Issued: &in}, "The secret was rotated; the old one no longer works.")
	case "revoke":
		if err := h.call(r.Context(), http.MethodDelete, path, nil, nil); err != nil {
			return err
		}
		return h.showIntegrations(w, r, http.StatusOK, integrationsPage{}, "The credential was revoked.")
	}
	return errNotFound
}

// accessPage is a page of a credential's access log.
type accessPage struct {
	Integration integrationWire
	Entries     []accessWire
	Next        string
}

func (h *Handler) integrationAccess(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "id")
	p := accessPage{}
	if err := h.get(r.Context(), "/v1/integrations/"+url.PathEscape(id), nil, &p.Integration); err != nil {
		return err
	}
	var log struct {
		Data       []accessWire `json:"data"`
		NextBefore int64        `json:"next_before"`
	}
	err := h.get(r.Context(), "/v1/integrations/"+url.PathEscape(id)+"/access-log",
		url.Values{"before": {r.URL.Query().Get("before")}, "limit": {"50"}}, &log)
	if err != nil {
		return err
	}
	p.Entries = log.Data
	if log.NextBefore != 0 {
		p.Next = "/console/integrations/" + url.PathEscape(id) + "?before=" + strconv.FormatInt(log.NextBefore, 10)
	}
	h.render(w, r, http.StatusOK, "console/integration", view{Title: p.Integration.Name, Section: "integrations", Data: p})
	return nil
}
