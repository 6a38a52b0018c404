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
	"github.com/heraldhq/herald/internal/httpjson"
	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/internal/route"
	"github.com/heraldhq/herald/internal/schema"
)

// eventTypeJSON is an event type on the wire.
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
	// Retention is the type's own retention (absent: the default).
	Retention *retentionJSON `json:"retention,omitempty"`
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
	if t.Retention != (herald.Retention{}) {
		out.Retention = &retentionJSON{MaxCount: t.Retention.MaxCount}
		if t.Retention.Keep > 0 {
			out.Retention.Keep = herald.ShortDuration(t.Retention.Keep)
		}
	}
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

func (s *Server) handleEventTypePut(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	name := chi.URLParam(r, "type")
	if err := route.ValidateTypeName(name); err != nil {
		return herald.Invalid("type", "format", "%s", err.Error())
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
		Retention    *retentionJSON     `json:"retention"`
	}
	if err := httpjson.Decode(w, r, &in); err != nil {
		return err
	}
	tenant, err := tenantFor(p, in.Tenant)
	if err != nil {
		return err
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
		return err
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
	ret := checkRetention(ve, in.Retention)
	if err := ve.Err(); err != nil {
		return err
	}
	d := sch.Dialect()
	t := &herald.EventType{Name: name, TenantID: tenant, Description: in.Description, Public: in.Public,
		Producers: dedupIDs(in.Producers), Consumers: dedupIDs(in.Consumers), Schema: doc,
		SchemaDraft: d.Draft, FormatAssertion: d.FormatAssertion, Thin: thinCfg, Retention: ret}
	if dry, err := dryRun(r); err != nil || dry {
		// Checked as a PUT would be, nothing stored: forms validate as
		// their author types.
		if err != nil {
			return err
		}
		if existing, err := s.store.EventTypeGet(r.Context(), name); err == nil && !p.IsAdminOf(existing.TenantID) {
			return herald.Forbidden("event type %q belongs to another tenant", name)
		}
		httpjson.Write(w, http.StatusOK, toEventTypeJSON(t, p))
		return nil
	}
	created, err := s.store.EventTypePut(r.Context(), t, func(existing *herald.EventType) error {
		if !p.IsAdminOf(existing.TenantID) {
			return herald.Forbidden("event type %q belongs to another tenant", name)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// The schema was compiled above; the first event need not compile it.
	s.catalog.Prime(t, sch)
	s.catalog.Invalidate()
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	httpjson.Write(w, status, toEventTypeJSON(t, p))
	return nil
}

// retentionJSON is an event type's own retention: how long its events
// are kept (a Go duration; "0" or absent: the default, HERALD_RETENTION)
// and how many of them each tenant keeps at most (0 or absent: no limit).
type retentionJSON struct {
	Keep     string `json:"keep,omitempty"`
	MaxCount int64  `json:"max_count,omitempty"`
}

// checkRetention validates an event type's retention, adding problems to
// ve.
func checkRetention(ve *herald.ValidationError, in *retentionJSON) herald.Retention {
	var r herald.Retention
	if in == nil {
		return r
	}
	if in.Keep != "" && in.Keep != "0" {
		d, err := time.ParseDuration(in.Keep)
		if err != nil || d < herald.MinRetentionKeep || d > herald.MaxRetentionKeep {
			ve.Add("retention.keep", "duration", "must be 0 (the default retention) or a Go duration from %s to %s, such as 720h",
				herald.ShortDuration(herald.MinRetentionKeep), herald.ShortDuration(herald.MaxRetentionKeep))
		} else {
			r.Keep = d
		}
	}
	if in.MaxCount < 0 {
		ve.Add("retention.max_count", "minimum", "must be 0 (no limit) or a positive number of events")
	} else {
		r.MaxCount = in.MaxCount
	}
	return r
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
		switch {
		case ce == nil || field != "schema":
			ve.Add(field, rule, "%s", err.Error())
		case len(ce.Problems) > 0:
			// One item per place in the document, so a form can mark the
			// line; what each alternative of the meta-schema wanted there
			// is joined into it.
			var places []string
			said := map[string][]string{}
			for _, pr := range ce.Problems {
				if _, seen := said[pr.Pointer]; !seen {
					places = append(places, pr.Pointer)
				}
				said[pr.Pointer] = append(said[pr.Pointer], pr.Message)
			}
			for _, at := range places {
				ve.AddAt(field, at, rule, "not a valid schema at %q: %s", at, strings.Join(said[at], "; or "))
			}
		default:
			ve.AddAt(field, ce.Location, rule, "%s", err.Error())
		}
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

func (s *Server) handleEventTypeGet(w http.ResponseWriter, r *http.Request) error {
	t, err := s.store.EventTypeGet(r.Context(), chi.URLParam(r, "type"))
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, toEventTypeJSON(t, principal(r)))
	return nil
}

func (s *Server) handleEventTypeList(w http.ResponseWriter, r *http.Request) error {
	consumable, err := boolParam(r, "consumable")
	if err != nil {
		return err
	}
	limit, err := httpjson.PageLimit(r, maxPage)
	if err != nil {
		return err
	}
	var after postgres.PageKey
	if err := httpjson.DecodeCursor(r, &after); err != nil {
		return err
	}
	p := principal(r)
	keep := func(t *herald.EventType) bool {
		// The catalogue a subscriber picks from: the one consume rule.
		return !consumable || t.MayConsume(p.Client, p.PlatformAdmin)
	}
	// The consume rule is Go's, so a page is filled by reading on past
	// the types it drops, until it is full or the types run out.
	var ts []*herald.EventType
	for {
		batch, err := s.store.EventTypePage(r.Context(), after, limit)
		if err != nil {
			return err
		}
		for _, t := range batch {
			after = postgres.PageKey{Name: t.Name}
			if keep(t) {
				ts = append(ts, t)
				if len(ts) == limit {
					break
				}
			}
		}
		if limit == 0 || len(batch) < limit || len(ts) == limit {
			break
		}
	}
	out := httpjson.PageOf(ts, func(t *herald.EventType) eventTypeJSON { return toEventTypeJSON(t, p) }, limit,
		func(t *herald.EventType) postgres.PageKey { return postgres.PageKey{Name: t.Name} })
	httpjson.Write(w, http.StatusOK, out)
	return nil
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

func (s *Server) handleEventTypeVersions(w http.ResponseWriter, r *http.Request) error {
	vs, err := s.store.EventTypeVersions(r.Context(), chi.URLParam(r, "type"))
	if err != nil {
		return err
	}
	out := httpjson.ListOf(vs, toSchemaVersionJSON)
	httpjson.Write(w, http.StatusOK, out)
	return nil
}

func (s *Server) handleEventTypeVersion(w http.ResponseWriter, r *http.Request) error {
	name := chi.URLParam(r, "type")
	n, err := strconv.Atoi(chi.URLParam(r, "version"))
	if err != nil {
		return herald.NotFound("version %q of event type %q", chi.URLParam(r, "version"), name)
	}
	vs, err := s.store.EventTypeVersions(r.Context(), name)
	if err != nil {
		return err
	}
	for _, v := range vs {
		if v.Version == n {
			httpjson.Write(w, http.StatusOK, toSchemaVersionJSON(v))
			return nil
		}
	}
	return herald.NotFound("version %d of event type %q", n, name)
}

// dryRun reads the dry_run query parameter: true checks a request without
// changing anything.
func dryRun(r *http.Request) (bool, error) { return boolParam(r, "dry_run") }

// boolParam reads a query parameter that is true, false or absent.
func boolParam(r *http.Request, name string) (bool, error) {
	switch v := r.URL.Query().Get(name); v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, herald.Invalid(name, "enum", "must be true or false")
	}
}

// handleEventTypeValidate checks sample data against the type's current
// schema, exactly as an event's data is checked, and stores nothing.
func (s *Server) handleEventTypeValidate(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Data json.RawMessage `json:"data"`
	}
	if err := httpjson.Decode(w, r, &in); err != nil {
		return err
	}
	if len(in.Data) == 0 {
		return herald.Invalid("data", "required", "give the sample data to check")
	}
	if err := s.ingest.CheckData(r.Context(), chi.URLParam(r, "type"), in.Data); err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, validJSON{Valid: true})
	return nil
}

// validJSON is the answer of a check that passed.
type validJSON struct {
	Valid bool `json:"valid"`
}
