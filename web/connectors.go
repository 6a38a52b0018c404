package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
)

type connectorWire struct {
	ID          string            `json:"id"`
	Client      string            `json:"client"`
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Kind        string            `json:"kind"`
	Types       []string          `json:"types"`
	Code        string            `json:"code"`
	Config      json.RawMessage   `json:"config"`
	Secrets     map[string]string `json:"secrets"`
	Enabled     bool              `json:"enabled"`
	CreatedAt   time.Time         `json:"created_at"`
	UpdatedAt   time.Time         `json:"updated_at"`
}

type runAttemptWire struct {
	Attempt    int       `json:"attempt"`
	At         time.Time `json:"at"`
	Status     string    `json:"status"`
	Error      string    `json:"error"`
	Logs       []string  `json:"logs"`
	Requests   int       `json:"requests"`
	DurationMS float64   `json:"duration_ms"`
}

type connectorRunWire struct {
	ID            string           `json:"id"`
	Connector     string           `json:"connector"`
	EventID       string           `json:"event_id"`
	EventType     string           `json:"event_type"`
	Status        string           `json:"status"`
	Attempts      int              `json:"attempts"`
	NextAttemptAt *time.Time       `json:"next_attempt_at"`
	LastError     string           `json:"last_error"`
	History       []runAttemptWire `json:"history"`
	CreatedAt     time.Time        `json:"created_at"`
}

// connectorForm is the connector editor.
type connectorForm struct {
	New         bool
	ID          string
	Name        string
	Description string
	Kind        string
	Types       string
	Code        string
	Config      string
	// Secrets holds new secret values typed in; stored ones are never
	// shown, only their keys.
	Secrets    string
	SecretKeys []string
	Enabled    bool
	Problem    *apiError
	// CodeProblems are the code's problems with their lines.
	CodeProblems []problemItem
	Runs         []connectorRunWire
	NextRuns     string
}

// FieldProblems are the API's problems about one field.
func (f *connectorForm) FieldProblems(field string) []problemItem {
	if f.Problem == nil {
		return nil
	}
	return f.Problem.field(field)
}

const defaultConnectorCode = `async ({event, config, request}) => {
  const res = request.post(config.url, event.data);
  return res.ok ? "success" : "answered " + res.status;
}`

func (h *Handler) connectorList(w http.ResponseWriter, r *http.Request) error {
	cs, cursor, err := getPage[connectorWire](h, r, "/v1/connectors", nil)
	if err != nil {
		return err
	}
	next := pageLink("/console/connectors", nil, cursor)
	h.render(w, r, http.StatusOK, "console/connectors", view{Title: "Connectors", Section: "connectors", Data: cs, Next: next})
	return nil
}

func (h *Handler) connectorNew(w http.ResponseWriter, r *http.Request) error {
	f := &connectorForm{New: true, Kind: "function", Code: defaultConnectorCode, Config: "{}", Enabled: true}
	h.render(w, r, http.StatusOK, "console/connector", view{Title: "New connector", Section: "connectors", Data: f})
	return nil
}

func (h *Handler) connectorShow(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "id")
	var c connectorWire
	if err := h.get(r.Context(), "/v1/connectors/"+url.PathEscape(id), nil, &c); err != nil {
		return err
	}
	f := &connectorForm{ID: c.ID, Name: c.Name, Description: c.Description, Kind: c.Kind, Types: strings.Join(c.Types, ", "),
		Code: c.Code, Config: prettyJSON(c.Config), Enabled: c.Enabled}
	for k := range c.Secrets {
		f.SecretKeys = append(f.SecretKeys, k)
	}
	if err := h.loadRuns(r, f); err != nil {
		return err
	}
	notice := ""
	switch r.URL.Query().Get("done") {
	case "saved":
		notice = "Saved."
	case "retry":
		notice = "The run was queued again."
	}
	h.render(w, r, http.StatusOK, "console/connector", view{Title: c.Name, Section: "connectors", Notice: notice, Data: f})
	return nil
}

// loadRuns reads a page of the connector's run history.
func (h *Handler) loadRuns(r *http.Request, f *connectorForm) error {
	var runs listOf[connectorRunWire]
	q := r.URL.Query()
	err := h.get(r.Context(), "/v1/connectors/"+url.PathEscape(f.ID)+"/runs",
		url.Values{"cursor": {q.Get("cursor")}, "limit": {"20"}}, &runs)
	if err != nil {
		return err
	}
	f.Runs = runs.Data
	if runs.NextCursor != "" {
		f.NextRuns = "/console/connectors/" + url.PathEscape(f.ID) + "?cursor=" + url.QueryEscape(runs.NextCursor)
	}
	return nil
}

// connectorFromForm reads the editor into the form and the API body; a
// config or secrets field that is not JSON is reported without asking the
// API.
func connectorFromForm(r *http.Request) (*connectorForm, map[string]any, *apiError) {
	f := &connectorForm{
		New: r.PostFormValue("new") != "", ID: r.PostFormValue("id"), Name: r.PostFormValue("name"),
		Description: r.PostFormValue("description"), Kind: r.PostFormValue("kind"), Types: r.PostFormValue("types"),
		Code: r.PostFormValue("code"), Config: r.PostFormValue("config"), Secrets: r.PostFormValue("secrets"),
		Enabled: r.PostFormValue("enabled") != "",
	}
	body := map[string]any{"name": f.Name, "description": f.Description, "types": splitList(f.Types),
		"code": f.Code, "enabled": f.Enabled}
	if f.New {
		body["kind"] = f.Kind
	}
	var local []problemItem
	for _, fld := range []struct {
		name, text string
	}{{"config", f.Config}, {"secrets", f.Secrets}} {
		if strings.TrimSpace(fld.text) == "" {
			continue
		}
		doc, p := compactJSON(fld.text)
		if p != nil {
			local = append(local, problemItem{Field: fld.name, Rule: "json", Detail: "line " + itoa(p.Line) + ": " + p.Detail})
			continue
		}
		body[fld.name] = doc
	}
	if len(local) > 0 {
		return f, nil, &apiError{Status: http.StatusUnprocessableEntity,
			Problem: problem{Title: "Invalid request", Errors: local}}
	}
	return f, body, nil
}

// connectorSave creates or updates the connector through the API, or
// shows the editor again with the API's problems at their places.
func (h *Handler) connectorSave(w http.ResponseWriter, r *http.Request) error {
	f, body, ae := connectorFromForm(r)
	if ae == nil {
		var c connectorWire
		var err error
		if f.New {
			err = h.call(r.Context(), http.MethodPost, "/v1/connectors", body, &c)
		} else {
			err = h.call(r.Context(), http.MethodPatch, "/v1/connectors/"+url.PathEscape(f.ID), body, &c)
		}
		if err == nil {
			http.Redirect(w, r, "/console/connectors/"+url.PathEscape(c.ID)+"?done=saved", http.StatusSeeOther)
			return nil
		}
		var ok bool
		if ae, ok = asAPIError(err); !ok || ae.Status != http.StatusUnprocessableEntity {
			return err
		}
	}
	f.Problem = ae
	f.CodeProblems = ae.field("code")
	if !f.New {
		if err := h.loadRuns(r, f); err != nil {
			return err
		}
	}
	h.render(w, r, http.StatusUnprocessableEntity, "console/connector", view{Title: "Connector", Section: "connectors", Data: f})
	return nil
}

// connectorCheck checks the editor as its author types (htmx), through
// the API's dry run.
func (h *Handler) connectorCheck(w http.ResponseWriter, r *http.Request) error {
	f, body, ae := connectorFromForm(r)
	if ae == nil {
		var err error
		if f.New {
			err = h.call(r.Context(), http.MethodPost, "/v1/connectors?dry_run=true", body, nil)
		} else {
			err = h.call(r.Context(), http.MethodPatch, "/v1/connectors/"+url.PathEscape(f.ID)+"?dry_run=true", body, nil)
		}
		var ok bool
		if ae, ok = asAPIError(err); !ok && err != nil {
			return err
		}
	}
	if ae != nil {
		f.CodeProblems = ae.field("code")
	}
	h.fragment(w, r, http.StatusOK, "console/connector", "code-check", f)
	return nil
}

// testRun is the outcome of a test run.
type testRun struct {
	Status     string   `json:"status"`
	Error      string   `json:"error"`
	Logs       []string `json:"logs"`
	Requests   int      `json:"requests"`
	DurationMS float64  `json:"duration_ms"`
	Problem    *apiError
}

// connectorTest runs the stored connector once against a sample event
// (htmx) and shows its outcome and logs.
func (h *Handler) connectorTest(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "id")
	body := map[string]any{}
	if ev := strings.TrimSpace(r.PostFormValue("event")); ev != "" {
		doc, p := compactJSON(ev)
		if p != nil {
			h.fragment(w, r, http.StatusOK, "console/connector", "test-result", testRun{Problem: &apiError{
				Status: http.StatusUnprocessableEntity, Problem: problem{Title: "The sample event is not JSON",
					Detail: "line " + itoa(p.Line) + ": " + p.Detail}}})
			return nil
		}
		body["event"] = doc
	}
	var out testRun
	err := h.call(r.Context(), http.MethodPost, "/v1/connectors/"+url.PathEscape(id)+"/test", body, &out)
	if ae, ok := asAPIError(err); ok {
		out.Problem = ae
	} else if err != nil {
		return err
	}
	h.fragment(w, r, http.StatusOK, "console/connector", "test-result", out)
	return nil
}

func (h *Handler) connectorRunRetry(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "run")
	var run connectorRunWire
	if err := h.call(r.Context(), http.MethodPost, "/v1/connector-runs/"+url.PathEscape(id)+"/retry", nil, &run); err != nil {
		return err
	}
	http.Redirect(w, r, "/console/connectors/"+url.PathEscape(chi.URLParam(r, "id"))+"?done=retry", http.StatusSeeOther)
	return nil
}
