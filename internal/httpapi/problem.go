package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/heraldhq/herald/internal/cloudevents"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/ingest"
	"github.com/heraldhq/herald/internal/jsoncheck"
	"github.com/heraldhq/herald/internal/postgres"
)

// problemTypeBase prefixes the type URI of every problem Herald returns;
// the suffix names the kind, so clients can branch on it.
const problemTypeBase = "urn:herald:problem:"

// Problem is an RFC 9457 problem details body.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Errors lists each offending field (and, for events, which event).
	Errors []ProblemItem `json:"errors,omitempty"`
	// Omitted counts problems found but not listed.
	Omitted int `json:"omitted,omitempty"`
}

// ProblemItem is one field that broke one rule.
type ProblemItem struct {
	Index  *int   `json:"index,omitempty"`
	ID     string `json:"id,omitempty"`
	Field  string `json:"field"`
	Rule   string `json:"rule"`
	Detail string `json:"detail"`
}

func writeProblem(w http.ResponseWriter, p *Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// problemResponse is a whole HTTP/1.1 response carrying p, for the answers
// written to the connection rather than through a handler (see wire.go).
// The connection is closed after it, as net/http does after those errors.
func problemResponse(p *Problem) []byte {
	body, _ := json.Marshal(p)
	body = append(body, '\n')
	head := fmt.Sprintf("HTTP/1.1 %d %s\r\nContent-Type: application/problem+json\r\nCache-Control: no-store\r\n"+
		"Connection: close\r\nContent-Length: %d\r\n\r\n", p.Status, http.StatusText(p.Status), len(body))
	return append([]byte(head), body...)
}

func problem(status int, kind, title, detail string) *Problem {
	return &Problem{Type: problemTypeBase + kind, Title: title, Status: status, Detail: detail}
}

// writeError is the one place that maps errors to HTTP problems. Errors that
// are not the caller's fault are logged and answered without their text.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var (
		ve   *herald.ValidationError
		ceVE *cloudevents.ValidationError
		tl   *cloudevents.TooLargeError
		rej  *ingest.RejectError
		fe   *herald.ForbiddenError
		ce   *herald.ConflictError
	)
	switch {
	case errors.As(err, &tl):
		detail := fmt.Sprintf("the request body is larger than %d bytes", tl.Limit)
		p := problem(http.StatusRequestEntityTooLarge, "request-too-large", "Request too large", detail)
		if tl.Which == cloudevents.WhichEvent {
			idx := tl.Index
			p = problem(http.StatusRequestEntityTooLarge, "event-too-large", "Event too large",
				fmt.Sprintf("event %d is %d bytes, over the limit of %d bytes per event", tl.Index, tl.Size, tl.Limit))
			p.Errors = []ProblemItem{{Index: &idx, Field: "", Rule: "max-event-size", Detail: p.Detail}}
		}
		writeProblem(w, p)
	case errors.As(err, &ceVE):
		p := problem(http.StatusBadRequest, "invalid-cloudevent", "Invalid CloudEvent",
			"the request holds events that are not valid CloudEvents 1.0; nothing was stored")
		for _, pr := range ceVE.Problems {
			p.Errors = append(p.Errors, ProblemItem{Index: indexPtr(pr.Index), ID: pr.ID, Field: pr.Field, Rule: pr.Rule, Detail: pr.Detail})
		}
		p.Omitted = ceVE.Omitted
		writeProblem(w, p)
	case errors.Is(err, cloudevents.ErrUnsupportedMediaType):
		writeProblem(w, problem(http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported media type", err.Error()))
	case errors.As(err, &rej):
		status, kind, title := http.StatusUnprocessableEntity, "rejected-events", "Events rejected"
		if rej.Forbidden {
			status, kind, title = http.StatusForbidden, "forbidden-event-type", "Not allowed to produce this type"
		}
		p := problem(status, kind, title, fmt.Sprintf("%d event(s) failed; the whole request was rejected and nothing was stored", len(rej.Problems)))
		for _, pr := range rej.Problems {
			p.Errors = append(p.Errors, ProblemItem{Index: indexPtr(pr.Index), ID: pr.ID, Field: pr.Field, Rule: pr.Rule, Detail: pr.Detail})
		}
		writeProblem(w, p)
	case errors.As(err, &ve):
		p := problem(http.StatusUnprocessableEntity, "validation", "Invalid request", ve.Error())
		for _, fe := range ve.Errors {
			p.Errors = append(p.Errors, ProblemItem{Field: fe.Field, Rule: fe.Rule, Detail: fe.Detail})
		}
		writeProblem(w, p)
	case errors.Is(err, errBadJSON):
		writeProblem(w, problem(http.StatusBadRequest, "malformed-json", "Malformed JSON", err.Error()))
	case errors.Is(err, herald.ErrUnauthorized):
		w.Header().Set("WWW-Authenticate", `Basic realm="herald", charset="UTF-8"`)
		writeProblem(w, problem(http.StatusUnauthorized, "unauthorized", "Unauthorized",
			"send a client key and secret with HTTP Basic authentication"))
	case errors.As(err, &fe):
		writeProblem(w, problem(http.StatusForbidden, "forbidden", "Forbidden", fe.Reason))
	case errors.Is(err, herald.ErrForbidden):
		writeProblem(w, problem(http.StatusForbidden, "forbidden", "Forbidden", "you may not do this"))
	case errors.Is(err, herald.ErrNotFound):
		writeProblem(w, problem(http.StatusNotFound, "not-found", "Not found", err.Error()))
	case errors.Is(err, herald.ErrGone):
		writeProblem(w, problem(http.StatusGone, "gone", "Gone", err.Error()))
	case errors.As(err, &ce) && ce.Rule != "":
		p := problem(http.StatusConflict, "conflict", "Conflict", err.Error())
		p.Errors = []ProblemItem{{Field: ce.Field, Rule: ce.Rule, Detail: ce.Reason}}
		writeProblem(w, p)
	case errors.Is(err, herald.ErrConflict):
		writeProblem(w, problem(http.StatusConflict, "conflict", "Conflict", err.Error()))
	case errors.Is(err, herald.ErrUnavailable):
		s.logger.Warn("service unavailable", "method", r.Method, "path", r.URL.Path, "error", err)
		w.Header().Set("Retry-After", "1")
		writeProblem(w, problem(http.StatusServiceUnavailable, "unavailable", "Service unavailable",
			"Herald cannot serve this right now; retry shortly"))
	case postgres.Unavailable(err):
		// The database is down, restarting or unreachable: nothing of the
		// request was stored (or, if its commit's answer was lost, a
		// retry is answered as a duplicate). Herald reconnects by itself.
		s.logger.Warn("database unavailable", "method", r.Method, "path", r.URL.Path, "error", err)
		w.Header().Set("Retry-After", databaseRetryAfter)
		writeProblem(w, problem(http.StatusServiceUnavailable, "database-unavailable", "Database unavailable",
			"Herald cannot reach its database right now; retry shortly (events of this request that were stored after all are answered as duplicates)"))
	case postgres.IsUnstorableText(err):
		// A safety net: every input field refuses such text itself, naming
		// the field; reaching this is a field that forgot to.
		s.logger.Error("unstorable text reached the database", "method", r.Method, "path", r.URL.Path, "error", err)
		writeProblem(w, problem(http.StatusUnprocessableEntity, "unstorable-text", "Unstorable text",
			"the request holds text that cannot be stored: U+0000 or bytes that are not UTF-8"))
	default:
		s.logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		writeProblem(w, problem(http.StatusInternalServerError, "internal", "Internal server error",
			"the request failed on the server; it has been logged"))
	}
}

// databaseRetryAfter is the Retry-After (seconds) of answers refused while
// the database is unreachable: restarts take seconds.
const databaseRetryAfter = "5"

func indexPtr(i int) *int {
	if i < 0 {
		return nil
	}
	return &i
}

var errBadJSON = errors.New("malformed JSON body")

// maxJSONBody bounds the JSON request bodies of the management API.
const maxJSONBody = 1 << 20

// decodeJSON reads a JSON request body into v, refusing unknown fields so
// typos in field names are reported instead of silently ignored. The body
// must pass the one JSON check (package jsoncheck: well-formed UTF-8, no
// member named twice in an object, anywhere: a schema, a filter or a
// config object included), and no string decoded into v may hold U+0000,
// which no name, URL or other text value can store; JSON kept as JSON
// (json.RawMessage fields: schemas, configs, filters, sample data) may.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxJSONBody)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &cloudevents.TooLargeError{Which: cloudevents.WhichRequest, Index: -1, Limit: int(mbe.Limit)}
		}
		return fmt.Errorf("%w: reading the body: %s", errBadJSON, err.Error())
	}
	if jerr := jsoncheck.Check(body); jerr != nil {
		if jerr.Rule == jsoncheck.RuleDuplicateKey {
			return herald.Invalid(jerr.Path.Field(""), jerr.Rule, "%s", jerr.Detail)
		}
		return fmt.Errorf("%w: %s", errBadJSON, jerr.Detail)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return herald.Invalid(ute.Field, "type", "must be %s, not %s", ute.Type.String(), ute.Value)
		}
		return fmt.Errorf("%w: %s", errBadJSON, err.Error())
	}
	if field, ok := unstorableString(reflect.ValueOf(v), ""); ok {
		return herald.Invalid(field, "chars", "must not contain U+0000 (NUL): no text value in Herald can hold it")
	}
	return nil
}

// unstorableString finds the first string in v (walking structs by their
// JSON names, slices, arrays, maps and pointers) that PostgreSQL text
// cannot hold, and returns its JSON path. Byte slices (json.RawMessage) are
// JSON or binary kept as bytes, so they are not looked into.
func unstorableString(v reflect.Value, path string) (string, bool) {
	join := func(name string) string {
		if path == "" {
			return name
		}
		return path + "." + name
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return unstorableString(v.Elem(), path)
		}
	case reflect.String:
		if !herald.StorableText(v.String()) {
			return path, true
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			p := path
			if !f.Anonymous || name != "" {
				if name == "" {
					name = f.Name
				}
				p = join(name)
			}
			if field, bad := unstorableString(v.Field(i), p); bad {
				return field, true
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return "", false
		}
		for i := range v.Len() {
			if field, bad := unstorableString(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); bad {
				return field, true
			}
		}
	case reflect.Map:
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
		for _, k := range keys {
			name := fmt.Sprint(k.Interface())
			if k.Kind() == reflect.String && !herald.StorableText(k.String()) {
				return join(strings.ToValidUTF8(strings.ReplaceAll(name, "\x00", "\\u0000"), "\ufffd")), true
			}
			if field, bad := unstorableString(v.MapIndex(k), join(name)); bad {
				return field, true
			}
		}
	}
	return "", false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		slog.Default().Debug("write response", "error", err)
	}
}
