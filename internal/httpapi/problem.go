package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/heraldhq/herald/internal/cloudevents"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/httpjson"
	"github.com/heraldhq/herald/internal/ingest"
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
	// Pointer is an RFC 6901 JSON Pointer into the document Field holds
	// (a schema), when the problem has a place inside it.
	Pointer *string `json:"pointer,omitempty"`
	// Line and Column place the problem in the text Field holds (a
	// connector's code), counting from 1.
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
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

// handlerFunc is the shape of every handler Herald serves: it writes its
// success answer itself and returns an error for anything else, before it
// has written anything. It never answers an error itself.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle adapts h to net/http. It is the one error path of every route:
// whatever h returns is answered (and, when it is not the caller's fault,
// logged) by writeError.
func (s *Server) handle(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

// noRouteError: no route serves the request's path.
type noRouteError struct{ path string }

func (e *noRouteError) Error() string { return "no such route: " + e.path }

// methodError: a route serves the path, but not with the request's method.
type methodError struct{ method, path string }

func (e *methodError) Error() string { return e.method + " is not supported on " + e.path }

// upgradeError: a WebSocket route was called without a WebSocket upgrade
// (or without what the upgrade must offer).
type upgradeError struct{ reason string }

func (e *upgradeError) Error() string { return e.reason }

// probeError is a failed health (unhealthy) or readiness (not ready) check;
// its reason is shown, since it names no secret and tells an operator why.
type probeError struct {
	ready bool // readiness, not health
	err   error
}

func (e *probeError) Error() string { return e.err.Error() }

func (e *probeError) Unwrap() error { return e.err }

// writeError answers err with its problem (problemFor), the one mapping
// of errors to HTTP problems.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	p, hdr := s.problemFor(r, err)
	for k, v := range hdr {
		w.Header().Set(k, v)
	}
	writeProblem(w, p)
}

// problemFor is the one place that maps errors to problems: what a route
// answers on bad input, missing rights or a failure is decided here, never
// in a handler; a WebSocket answers its control frames' errors with the
// same problems (as error notices). It returns the headers that go with
// the problem, if any. Errors that are not the caller's fault are logged
// and answered without their text.
func (s *Server) problemFor(r *http.Request, err error) (*Problem, map[string]string) {
	var (
		ve   *herald.ValidationError
		ceVE *cloudevents.ValidationError
		tl   *cloudevents.TooLargeError
		rej  *ingest.RejectError
		fe   *herald.ForbiddenError
		ce   *herald.ConflictError
	)
	// The HTTP level first. These are returned as they are, never wrapped,
	// so a type switch finds them (without the allocations of errors.As on
	// every error answer), and a probe's reason, which may wrap any error,
	// is shown rather than mapped.
	switch e := err.(type) { //nolint:errorlint // never wrapped, see above
	case *noRouteError:
		return problem(http.StatusNotFound, "not-found", "Not found", e.Error()), nil
	case *methodError:
		return problem(http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed", e.Error()), nil
	case *upgradeError:
		return problem(http.StatusUpgradeRequired, "upgrade-required", "Upgrade required", e.Error()),
			map[string]string{"Upgrade": "websocket", "Connection": "Upgrade"}
	case *probeError:
		if e.ready {
			return problem(http.StatusServiceUnavailable, "not-ready", "Not ready", e.Error()), nil
		}
		return problem(http.StatusServiceUnavailable, "unhealthy", "Unhealthy", e.Error()), nil
	}
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
		return p, nil
	case errors.As(err, &ceVE):
		p := problem(http.StatusBadRequest, "invalid-cloudevent", "Invalid CloudEvent",
			"the request holds events that are not valid CloudEvents 1.0; nothing was stored")
		for _, pr := range ceVE.Problems {
			p.Errors = append(p.Errors, ProblemItem{Index: indexPtr(pr.Index), ID: pr.ID, Field: pr.Field, Rule: pr.Rule, Detail: pr.Detail})
		}
		p.Omitted = ceVE.Omitted
		return p, nil
	case errors.Is(err, cloudevents.ErrUnsupportedMediaType):
		return problem(http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported media type", err.Error()), nil
	case errors.As(err, &rej):
		status, kind, title := http.StatusUnprocessableEntity, "rejected-events", "Events rejected"
		if rej.Forbidden {
			status, kind, title = http.StatusForbidden, "forbidden-event-type", "Not allowed to produce this type"
		}
		p := problem(status, kind, title, fmt.Sprintf("%d event(s) failed; the whole request was rejected and nothing was stored", len(rej.Problems)))
		for _, pr := range rej.Problems {
			p.Errors = append(p.Errors, ProblemItem{Index: indexPtr(pr.Index), ID: pr.ID, Field: pr.Field, Rule: pr.Rule, Detail: pr.Detail})
		}
		return p, nil
	case errors.As(err, &ve):
		p := problem(http.StatusUnprocessableEntity, "validation", "Invalid request", ve.Error())
		for _, fe := range ve.Errors {
			p.Errors = append(p.Errors, ProblemItem{Field: fe.Field, Rule: fe.Rule, Detail: fe.Detail, Pointer: fe.Pointer,
				Line: fe.Line, Column: fe.Column})
		}
		return p, nil
	case errors.Is(err, httpjson.ErrMalformed):
		return problem(http.StatusBadRequest, "malformed-json", "Malformed JSON", err.Error()), nil
	case errors.Is(err, herald.ErrUnauthorized):
		return problem(http.StatusUnauthorized, "unauthorized", "Unauthorized",
				"send a client key and secret with HTTP Basic authentication"),
			map[string]string{"WWW-Authenticate": `Basic realm="herald", charset="UTF-8"`}
	case errors.As(err, &fe):
		return problem(http.StatusForbidden, "forbidden", "Forbidden", fe.Reason), nil
	case errors.Is(err, herald.ErrForbidden):
		return problem(http.StatusForbidden, "forbidden", "Forbidden", "you may not do this"), nil
	case errors.Is(err, herald.ErrNotFound):
		return problem(http.StatusNotFound, "not-found", "Not found", err.Error()), nil
	case errors.Is(err, herald.ErrGone):
		return problem(http.StatusGone, "gone", "Gone", err.Error()), nil
	case errors.As(err, &ce) && ce.Rule != "":
		p := problem(http.StatusConflict, "conflict", "Conflict", err.Error())
		p.Errors = []ProblemItem{{Field: ce.Field, Rule: ce.Rule, Detail: ce.Reason}}
		return p, nil
	case errors.Is(err, herald.ErrConflict):
		return problem(http.StatusConflict, "conflict", "Conflict", err.Error()), nil
	case errors.Is(err, herald.ErrUnavailable):
		s.logger.Warn("service unavailable", "method", r.Method, "path", r.URL.Path, "error", err)
		return problem(http.StatusServiceUnavailable, "unavailable", "Service unavailable",
			"Herald cannot serve this right now; retry shortly"), map[string]string{"Retry-After": "1"}
	case postgres.Unavailable(err):
		// The database is down, restarting or unreachable: nothing of the
		// request was stored (or, if its commit's answer was lost, a
		// retry is answered as a duplicate). Herald reconnects by itself.
		s.logger.Warn("database unavailable", "method", r.Method, "path", r.URL.Path, "error", err)
		return problem(http.StatusServiceUnavailable, "database-unavailable", "Database unavailable",
				"Herald cannot reach its database right now; retry shortly (events of this request that were stored after all are answered as duplicates)"),
			map[string]string{"Retry-After": databaseRetryAfter}
	case postgres.IsUnstorableText(err):
		// A safety net: every input field refuses such text itself, naming
		// the field; reaching this is a field that forgot to.
		s.logger.Error("unstorable text reached the database", "method", r.Method, "path", r.URL.Path, "error", err)
		return problem(http.StatusUnprocessableEntity, "unstorable-text", "Unstorable text",
			"the request holds text that cannot be stored: U+0000 or bytes that are not UTF-8"), nil
	default:
		s.logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		return problem(http.StatusInternalServerError, "internal", "Internal server error",
			"the request failed on the server; it has been logged"), nil
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
