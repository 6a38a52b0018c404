package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
)

// The endpoint pages serve the console and the portal alike: the API
// answers each as the session's client, so an admin sees the tenant's
// endpoints and a partner only their own.

// base is the path the session's pages live under.
func base(r *http.Request) string {
	if ss := sessionFrom(r.Context()); ss != nil && ss.Portal() {
		return "/portal"
	}
	return "/console"
}

// endpointsPage lists endpoints, with the form that adds one.
type endpointsPage struct {
	Base      string
	Endpoints []endpointWire
	// Status filters the list ("": every status).
	Status string
	// Next is the link to the next page of endpoints ("" on the last).
	Next string
	Form endpointForm
}

// endpointForm is the "new endpoint" form.
type endpointForm struct {
	URL         string
	Types       string
	Description string
	Client      string
	// Clients are the consumers an admin may create an endpoint for
	// (empty in the portal, where it is always the partner's own).
	Clients []clientWire
	// Catalog lists the types the form's client may subscribe to.
	Catalog []eventTypeWire
	Problem *apiError
}

// FieldProblems are the API's problems about one field.
func (f endpointForm) FieldProblems(field string) []problemItem {
	if f.Problem == nil {
		return nil
	}
	return f.Problem.field(field)
}

func (h *Handler) endpointList(w http.ResponseWriter, r *http.Request) error {
	return h.showEndpoints(w, r, http.StatusOK, endpointForm{})
}

func (h *Handler) showEndpoints(w http.ResponseWriter, r *http.Request, status int, f endpointForm) error {
	shown := r.URL.Query().Get("status")
	filters := url.Values{"status": {shown}}
	eps, cursor, err := getPage[endpointWire](h, r, "/v1/endpoints", filters)
	if err != nil {
		return err
	}
	next := pageLink(base(r)+"/endpoints", filters, cursor)
	ss := sessionFrom(r.Context())
	if !ss.Portal() {
		var clients listOf[clientWire]
		if err := h.get(r.Context(), "/v1/clients", url.Values{"limit": {strconv.Itoa(pickerSize)}}, &clients); err != nil {
			return err
		}
		for _, c := range clients.Data {
			if strings.Contains(strings.Join(c.Roles, ","), "consumer") {
				f.Clients = append(f.Clients, c)
			}
		}
	}
	var types listOf[eventTypeWire]
	if err := h.get(r.Context(), "/v1/event-types", url.Values{"consumable": {"true"}, "limit": {strconv.Itoa(pickerSize)}}, &types); err != nil {
		return err
	}
	f.Catalog = types.Data
	h.render(w, r, status, "endpoints", view{Title: "Endpoints", Section: "endpoints",
		Data: endpointsPage{Base: base(r), Endpoints: eps, Status: shown, Form: f, Next: next}})
	return nil
}

// endpointCreate registers an endpoint through the API and shows its
// secret once.
func (h *Handler) endpointCreate(w http.ResponseWriter, r *http.Request) error {
	f := endpointForm{URL: strings.TrimSpace(r.PostFormValue("url")), Types: r.PostFormValue("types"),
		Description: r.PostFormValue("description"), Client: r.PostFormValue("client")}
	body := map[string]any{"url": f.URL, "types": splitList(f.Types), "description": f.Description}
	if f.Client != "" && !sessionFrom(r.Context()).Portal() {
		body["client"] = f.Client
	}
	var ep endpointWire
	err := h.call(r.Context(), http.MethodPost, "/v1/endpoints", body, &ep)
	if ae, ok := asAPIError(err); ok && ae.Status == http.StatusUnprocessableEntity {
		f.Problem = ae
		return h.showEndpoints(w, r, http.StatusUnprocessableEntity, f)
	}
	if err != nil {
		return err
	}
	return h.showEndpoint(w, r, http.StatusCreated, ep.ID,
		"Endpoint created. Its signing secret is shown once: "+ep.Secret, ep.Secret)
}

// splitList reads a list typed one per line or separated by commas.
func splitList(s string) []string {
	out := []string{}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' || r == ' ' }) {
		out = append(out, f)
	}
	return out
}

// endpointPage is an endpoint with a page of its deliveries.
type endpointPage struct {
	Base       string
	Endpoint   endpointWire
	Deliveries []deliveryWire
	Status     string
	Next       string
	// Secret is a secret just created or rotated, shown this once.
	Secret string
	// Edit is the settings form: as stored, or as sent with the API's
	// problems.
	Edit endpointEdit
}

// ReplayWindows are the choices of the replay and recover forms.
func (endpointPage) ReplayWindows() []struct{ Value, Label string } { return replayWindows }

// endpointEdit is the endpoint's settings form.
type endpointEdit struct {
	URL         string
	Types       string
	Description string
	Filter      string
	Config      string
	Problem     *apiError
}

// FieldProblems are the API's problems about one field.
func (f endpointEdit) FieldProblems(field string) []problemItem {
	if f.Problem == nil {
		return nil
	}
	return f.Problem.field(field)
}

// replayWindows are the replay and recover form's choices.
var replayWindows = []struct{ Value, Label string }{
	{"1h", "the last hour"}, {"6h", "the last 6 hours"}, {"24h", "the last 24 hours"}, {"120h", "the last 5 days"},
}

func (h *Handler) endpointShow(w http.ResponseWriter, r *http.Request) error {
	notice := ""
	switch r.URL.Query().Get("done") {
	case "disabled":
		notice = "The endpoint is disabled: nothing is sent to it until it is enabled."
	case "enabled":
		notice = "The endpoint is enabled."
	case "test":
		notice = "A test event was sent; its delivery is listed below."
	case "verify":
		notice = "Verification started: Herald sends the handshake again now."
	case "saved":
		notice = "Saved."
	case "replay":
		notice = "Replay started: the stored events are sent again as new deliveries."
	case "recover":
		notice = "The failed deliveries were put back; they are being sent again."
	}
	return h.showEndpoint(w, r, http.StatusOK, chi.URLParam(r, "id"), notice, "")
}

func (h *Handler) showEndpoint(w http.ResponseWriter, r *http.Request, status int, id, notice, secret string) error {
	return h.showEndpointEdit(w, r, status, id, notice, secret, nil)
}

// showEndpointEdit shows the endpoint with its settings form: as stored,
// or as edit (sent and refused).
func (h *Handler) showEndpointEdit(w http.ResponseWriter, r *http.Request, status int, id, notice, secret string, edit *endpointEdit) error {
	var ep endpointWire
	if err := h.get(r.Context(), "/v1/endpoints/"+url.PathEscape(id), nil, &ep); err != nil {
		return err
	}
	q := r.URL.Query()
	page := endpointPage{Base: base(r), Endpoint: ep, Status: q.Get("status"), Secret: secret}
	if edit != nil {
		page.Edit = *edit
	} else {
		page.Edit = endpointEdit{URL: ep.URL, Types: strings.Join(ep.Types, ", "), Description: ep.Description,
			Filter: prettyJSON(ep.Filter), Config: prettyJSON(ep.Config)}
	}
	var ds listOf[deliveryWire]
	err := h.get(r.Context(), "/v1/endpoints/"+url.PathEscape(id)+"/deliveries",
		url.Values{"status": {page.Status}, "cursor": {q.Get("cursor")}, "limit": {"25"}}, &ds)
	if err != nil {
		return err
	}
	page.Deliveries = ds.Data
	if ds.NextCursor != "" {
		page.Next = page.Base + "/endpoints/" + url.PathEscape(id) + "?" +
			url.Values{"status": {page.Status}, "cursor": {ds.NextCursor}}.Encode()
	}
	h.render(w, r, status, "endpoint", view{Title: "Endpoint " + ep.URL, Section: "endpoints", Notice: notice, Data: page})
	return nil
}

// endpointAction runs one of the endpoint's buttons through the API and
// shows the endpoint again.
func (h *Handler) endpointAction(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "id")
	action := chi.URLParam(r, "action")
	path := "/v1/endpoints/" + url.PathEscape(id)
	switch action {
	case "disable", "enable", "verify":
		if err := h.call(r.Context(), http.MethodPost, path+"/"+action, nil, nil); err != nil {
			return err
		}
		done := action + "d"
		if action == "verify" {
			done = "verify"
		}
		http.Redirect(w, r, base(r)+"/endpoints/"+url.PathEscape(id)+"?done="+done, http.StatusSeeOther)
		return nil
	case "test":
		body := map[string]any{}
		if typ := strings.TrimSpace(r.PostFormValue("type")); typ != "" {
			data, p := compactJSON(r.PostFormValue("data"))
			if p != nil {
				return h.showEndpoint(w, r, http.StatusUnprocessableEntity, id, "The sample data is not JSON: line "+
					itoa(p.Line)+": "+p.Detail, "")
			}
			body["type"], body["data"] = typ, json.RawMessage(data)
		}
		if err := h.call(r.Context(), http.MethodPost, path+"/test", body, nil); err != nil {
			if ae, ok := asAPIError(err); ok && ae.Status < 500 {
				return h.showEndpoint(w, r, ae.Status, id, "The test event was refused: "+ae.Error(), "")
			}
			return err
		}
		http.Redirect(w, r, base(r)+"/endpoints/"+url.PathEscape(id)+"?done=test", http.StatusSeeOther)
		return nil
	case "edit":
		return h.endpointSave(w, r, id)
	case "replay", "recover":
		d, err := time.ParseDuration(r.PostFormValue("window"))
		if err != nil || d <= 0 || d > 120*time.Hour {
			return h.showEndpoint(w, r, http.StatusUnprocessableEntity, id, "Choose how far back to go.", "")
		}
		from := h.now().Add(-d).UTC().Format(time.RFC3339)
		body := map[string]any{"since": from}
		if action == "replay" {
			body = map[string]any{"from": from}
		}
		if err := h.call(r.Context(), http.MethodPost, path+"/"+action, body, nil); err != nil {
			if ae, ok := asAPIError(err); ok && ae.Status < 500 {
				return h.showEndpoint(w, r, ae.Status, id, "Refused: "+ae.Error(), "")
			}
			return err
		}
		http.Redirect(w, r, base(r)+"/endpoints/"+url.PathEscape(id)+"?done="+action, http.StatusSeeOther)
		return nil
	case "rotate":
		var out struct {
			Secret string `json:"secret"`
		}
		if err := h.call(r.Context(), http.MethodPost, path+"/secret/rotate", map[string]any{}, &out); err != nil {
			return err
		}
		return h.showEndpoint(w, r, http.StatusOK, id,
			"The secret was rotated. The new one is shown once; the old one keeps verifying for the grace period the API applies.", out.Secret)
	}
	return errNotFound
}

// deliveryPage is one delivery with every attempt and the request its
// attempts make (or why it cannot be shown).
type deliveryPage struct {
	Base         string
	Delivery     deliveryWire
	Request      *deliveryRequest
	RequestError string
}

// deliveryRequest is the request view, headers in name order and a JSON
// body indented for reading.
type deliveryRequest struct {
	Method, URL string
	Headers     []headerLine
	Body        string
	Binary      bool
}

type headerLine struct{ Name, Value string }

// loadRequest asks the API for the request a delivery's attempt makes. A
// refusal (the event's body cannot be rendered, retention removed it) is
// shown in place of the request rather than failing the page.
func (h *Handler) loadRequest(ctx context.Context, id string, page *deliveryPage) error {
	var rw requestWire
	err := h.get(ctx, "/v1/deliveries/"+url.PathEscape(id)+"/request", nil, &rw)
	if ae, ok := asAPIError(err); ok && ae.Status < 500 {
		page.RequestError = ae.Problem.Detail
		if page.RequestError == "" {
			page.RequestError = ae.Problem.Title
		}
		return nil
	}
	if err != nil {
		return err
	}
	req := &deliveryRequest{Method: rw.Method, URL: rw.URL, Body: rw.Body, Binary: rw.BodyBase64 != ""}
	if req.Binary {
		req.Body = rw.BodyBase64
	} else if json.Valid([]byte(rw.Body)) {
		var buf bytes.Buffer
		if json.Indent(&buf, []byte(rw.Body), "", "  ") == nil {
			req.Body = buf.String()
		}
	}
	for k, v := range rw.Headers {
		req.Headers = append(req.Headers, headerLine{Name: k, Value: v})
	}
	slices.SortFunc(req.Headers, func(a, b headerLine) int { return strings.Compare(a.Name, b.Name) })
	page.Request = req
	return nil
}

func (h *Handler) deliveryShow(w http.ResponseWriter, r *http.Request) error {
	notice := ""
	if r.URL.Query().Get("done") == "retry" {
		notice = "The delivery was queued again."
	}
	var d deliveryWire
	if err := h.get(r.Context(), "/v1/deliveries/"+url.PathEscape(chi.URLParam(r, "id")), nil, &d); err != nil {
		return err
	}
	page := deliveryPage{Base: base(r), Delivery: d}
	if err := h.loadRequest(r.Context(), d.ID, &page); err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "delivery", view{Title: "Delivery " + shortID(d.ID), Section: "endpoints",
		Notice: notice, Data: page})
	return nil
}

func (h *Handler) deliveryRetry(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "id")
	if err := h.call(r.Context(), http.MethodPost, "/v1/deliveries/"+url.PathEscape(id)+"/retry", nil, nil); err != nil {
		return err
	}
	http.Redirect(w, r, base(r)+"/deliveries/"+url.PathEscape(id)+"?done=retry", http.StatusSeeOther)
	return nil
}

// endpointSave changes the endpoint's settings through the API, or shows
// the form again with the API's problems.
func (h *Handler) endpointSave(w http.ResponseWriter, r *http.Request, id string) error {
	f := endpointEdit{URL: strings.TrimSpace(r.PostFormValue("url")), Types: r.PostFormValue("types"),
		Description: r.PostFormValue("description"), Filter: r.PostFormValue("filter"), Config: r.PostFormValue("config")}
	body := map[string]any{"url": f.URL, "types": splitList(f.Types), "description": f.Description}
	var local []problemItem
	for _, fld := range []struct{ name, text string }{{"filter", f.Filter}, {"config", f.Config}} {
		if strings.TrimSpace(fld.text) == "" {
			// An empty box removes the filter or config.
			body[fld.name] = nil
			continue
		}
		doc, p := compactJSON(fld.text)
		if p != nil {
			local = append(local, problemItem{Field: fld.name, Rule: "json", Detail: "line " + itoa(p.Line) + ": " + p.Detail})
			continue
		}
		body[fld.name] = json.RawMessage(doc)
	}
	if len(local) > 0 {
		f.Problem = &apiError{Status: http.StatusUnprocessableEntity, Problem: problem{Title: "Invalid request", Errors: local}}
		return h.showEndpointEdit(w, r, http.StatusUnprocessableEntity, id, "", "", &f)
	}
	err := h.call(r.Context(), http.MethodPatch, "/v1/endpoints/"+url.PathEscape(id), body, nil)
	if ae, ok := asAPIError(err); ok && ae.Status == http.StatusUnprocessableEntity {
		f.Problem = ae
		return h.showEndpointEdit(w, r, http.StatusUnprocessableEntity, id, "", "", &f)
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, base(r)+"/endpoints/"+url.PathEscape(id)+"?done=saved", http.StatusSeeOther)
	return nil
}
