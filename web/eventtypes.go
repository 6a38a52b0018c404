package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
)

// eventTypeForm is the event type editor: what was typed, and the API's
// refusals placed at their fields and, for the schema, at their lines.
type eventTypeForm struct {
	New         bool
	Name        string
	Description string
	Schema      string
	Public      bool
	Producers   []string
	Consumers   []string
	Clients     []clientWire
	Problem     *apiError
	// SchemaProblems are the schema's problems with their lines.
	SchemaProblems []textProblem
	// Type and Versions are the stored type (nil: a new one).
	Type     *eventTypeWire
	Versions []schemaVersionWire
	CSRF     string
}

// Selected reports whether client id is in ids, for the form's options.
func (f *eventTypeForm) Selected(ids []string, id string) bool { return slices.Contains(ids, id) }

// FieldProblems are the API's problems about one field.
func (f *eventTypeForm) FieldProblems(field string) []problemItem {
	if f.Problem == nil {
		return nil
	}
	return f.Problem.field(field)
}

const defaultSchema = `{
  "type": "object",
  "required": [],
  "properties": {}
}`

func (h *Handler) eventTypeList(w http.ResponseWriter, r *http.Request) error {
	types, cursor, err := getPage[eventTypeWire](h, r, "/v1/event-types", nil)
	if err != nil {
		return err
	}
	next := pageLink("/console/event-types", nil, cursor)
	h.render(w, r, http.StatusOK, "console/event-types", view{Title: "Event types", Section: "event-types", Data: types, Next: next})
	return nil
}

func (h *Handler) eventTypeNew(w http.ResponseWriter, r *http.Request) error {
	f := &eventTypeForm{New: true, Schema: defaultSchema}
	return h.showEventType(w, r, http.StatusOK, f)
}

func (h *Handler) eventTypeShow(w http.ResponseWriter, r *http.Request) error {
	name := chi.URLParam(r, "type")
	var t eventTypeWire
	if err := h.get(r.Context(), "/v1/event-types/"+url.PathEscape(name), nil, &t); err != nil {
		return err
	}
	f := &eventTypeForm{Name: t.Name, Description: t.Description, Schema: prettyJSON(t.Schema), Public: t.Public,
		Producers: t.Producers, Consumers: t.Consumers, Type: &t}
	return h.showEventType(w, r, http.StatusOK, f)
}

// showEventType renders the editor with the tenant's clients to choose
// producers and consumers from, and the stored versions.
func (h *Handler) showEventType(w http.ResponseWriter, r *http.Request, status int, f *eventTypeForm) error {
	var clients listOf[clientWire]
	if err := h.get(r.Context(), "/v1/clients", url.Values{"limit": {strconv.Itoa(pickerSize)}}, &clients); err != nil {
		return err
	}
	f.Clients = clients.Data
	if f.Type != nil {
		var vs listOf[schemaVersionWire]
		if err := h.get(r.Context(), "/v1/event-types/"+url.PathEscape(f.Type.Name)+"/versions", nil, &vs); err != nil {
			return err
		}
		f.Versions = vs.Data
		slices.Reverse(f.Versions)
	}
	title := "New event type"
	if !f.New {
		title = f.Name
	}
	notice := ""
	if r.URL.Query().Get("saved") != "" {
		notice = "Saved."
	}
	h.render(w, r, status, "console/event-type", view{Title: title, Section: "event-types", Notice: notice, Data: f})
	return nil
}

// eventTypeFromForm reads the editor's fields into the form and the PUT
// body. A schema that is not JSON is reported at its line without asking
// the API.
func eventTypeFromForm(r *http.Request) (*eventTypeForm, map[string]any) {
	f := &eventTypeForm{
		New: r.PostFormValue("new") != "", Name: strings.TrimSpace(r.PostFormValue("name")),
		Description: r.PostFormValue("description"), Schema: r.PostFormValue("schema"),
		Public: r.PostFormValue("public") != "", Producers: r.PostForm["producers"], Consumers: r.PostForm["consumers"],
	}
	body := map[string]any{"description": f.Description, "public": f.Public,
		"producers": nonNilStrings(f.Producers), "consumers": nonNilStrings(f.Consumers)}
	if strings.TrimSpace(f.Schema) != "" {
		doc, p := compactJSON(f.Schema)
		if p != nil {
			f.SchemaProblems = []textProblem{*p}
			return f, nil
		}
		body["schema"] = doc
	}
	return f, body
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// eventTypeSave stores the type through the API, or shows the form again
// with the API's problems at their places.
func (h *Handler) eventTypeSave(w http.ResponseWriter, r *http.Request) error {
	f, body := eventTypeFromForm(r)
	if body != nil {
		err := h.call(r.Context(), http.MethodPut, "/v1/event-types/"+url.PathEscape(f.Name), body, nil)
		if err == nil {
			http.Redirect(w, r, "/console/event-types/"+url.PathEscape(f.Name)+"?saved=1", http.StatusSeeOther)
			return nil
		}
		ae, ok := asAPIError(err)
		if !ok || ae.Status == http.StatusNotFound && f.Name == "" {
			return err
		}
		f.Problem = ae
		f.SchemaProblems = placeSchemaProblems(f.Schema, ae)
	}
	if !f.New {
		var t eventTypeWire
		if err := h.get(r.Context(), "/v1/event-types/"+url.PathEscape(f.Name), nil, &t); err == nil {
			f.Type = &t
		}
	}
	return h.showEventType(w, r, http.StatusUnprocessableEntity, f)
}

// eventTypeCheck validates the editor as its author types (htmx): the
// API's dry run, so the rules are the API's own.
func (h *Handler) eventTypeCheck(w http.ResponseWriter, r *http.Request) error {
	f, body := eventTypeFromForm(r)
	if body != nil {
		name := f.Name
		if name == "" {
			name = "console.draft.check"
		}
		err := h.call(r.Context(), http.MethodPut, "/v1/event-types/"+url.PathEscape(name)+"?dry_run=true", body, nil)
		if ae, ok := asAPIError(err); ok {
			f.Problem = ae
			f.SchemaProblems = placeSchemaProblems(f.Schema, ae)
		} else if err != nil {
			return err
		}
	}
	h.fragment(w, r, http.StatusOK, "console/event-type", "schema-check", f)
	return nil
}

// placeSchemaProblems turns the API's problems about the schema into
// problems at lines of the text the author typed.
func placeSchemaProblems(text string, ae *apiError) []textProblem {
	var out []textProblem
	for _, it := range ae.Problem.Errors {
		if it.Field != "schema" && it.Field != "schema_draft" {
			continue
		}
		tp := textProblem{Rule: it.Rule, Detail: it.Detail, Pointer: it.Pointer}
		if it.Pointer != "" || it.Field == "schema" {
			tp.Line = pointerLine(text, it.Pointer)
		}
		out = append(out, tp)
	}
	return out
}

// sampleResult is the answer to "try a sample event".
type sampleResult struct {
	Valid    bool
	Problem  *apiError
	Syntax   *textProblem
	TypeName string
}

// eventTypeTry checks sample data against the type's current schema
// (htmx), through the API's validate call.
func (h *Handler) eventTypeTry(w http.ResponseWriter, r *http.Request) error {
	name := chi.URLParam(r, "type")
	res := sampleResult{TypeName: name}
	data, p := compactJSON(r.PostFormValue("data"))
	if p != nil {
		res.Syntax = p
	} else {
		err := h.call(r.Context(), http.MethodPost, "/v1/event-types/"+url.PathEscape(name)+"/validate",
			map[string]any{"data": json.RawMessage(data)}, nil)
		if ae, ok := asAPIError(err); ok {
			res.Problem = ae
		} else if err != nil {
			return err
		}
		res.Valid = err == nil
	}
	h.fragment(w, r, http.StatusOK, "console/event-type", "sample-result", res)
	return nil
}
