package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/heraldhq/herald/internal/herald"
)

// problem is the API's RFC 9457 answer, as the pages read it.
type problem struct {
	Type   string        `json:"type"`
	Title  string        `json:"title"`
	Status int           `json:"status"`
	Detail string        `json:"detail"`
	Errors []problemItem `json:"errors"`
}

// problemItem is one field that broke one rule; Pointer, when set, points
// into the JSON document the field holds (a schema).
type problemItem struct {
	Field   string `json:"field"`
	Rule    string `json:"rule"`
	Detail  string `json:"detail"`
	Pointer string `json:"pointer"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
}

// apiError is a refusal by the API: its status and problem.
type apiError struct {
	Status  int
	Problem problem
}

func (e *apiError) Error() string {
	if e.Problem.Detail != "" {
		return fmt.Sprintf("%d %s: %s", e.Status, e.Problem.Title, e.Problem.Detail)
	}
	return fmt.Sprintf("%d %s", e.Status, e.Problem.Title)
}

// field returns the problems about one field and the places inside it
// ("filter.x", "filter[0]", "filter/and/0").
func (e *apiError) field(name string) []problemItem {
	var out []problemItem
	for _, it := range e.Problem.Errors {
		if it.Field == name || strings.HasPrefix(it.Field, name+".") || strings.HasPrefix(it.Field, name+"[") ||
			strings.HasPrefix(it.Field, name+"/") {
			out = append(out, it)
		}
	}
	return out
}

// asAPIError unwraps an API refusal.
func asAPIError(err error) (*apiError, bool) {
	var ae *apiError
	ok := errors.As(err, &ae)
	return ae, ok
}

// call makes one API request in process as the session's client and
// decodes a 2xx JSON answer into out (nil: ignore the body). Any other
// answer is an *apiError carrying the API's problem.
func (h *Handler) call(ctx context.Context, method, path string, in, out any) error {
	ss := sessionFrom(ctx)
	if ss == nil {
		return errNoSession
	}
	var body io.Reader = http.NoBody
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	// The API routes the request afresh: the page's own chi routing
	// state must not reach it, or its router would take the request for
	// one mounted under the page's route.
	apiCtx := context.WithValue(herald.ContextWithPrincipal(ctx, ss.Principal), chi.RouteCtxKey, (*chi.Context)(nil))
	req, err := http.NewRequestWithContext(apiCtx, method, path, body)
	if err != nil {
		return fmt.Errorf("call %s %s: %w", method, path, err)
	}
	req.RemoteAddr = "in-process"
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := &recorder{header: make(http.Header)}
	h.api.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.status < 200 || rec.status > 299 {
		ae := &apiError{Status: rec.status}
		if err := json.Unmarshal(rec.body.Bytes(), &ae.Problem); err != nil {
			ae.Problem.Title = http.StatusText(rec.status)
		}
		return ae
	}
	if out == nil || rec.status == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
		return fmt.Errorf("read answer of %s %s: %w", method, path, err)
	}
	return nil
}

// get is call for a GET of path with query parameters (empty ones left
// out).
func (h *Handler) get(ctx context.Context, path string, query url.Values, out any) error {
	for k, v := range query {
		if len(v) == 0 || (len(v) == 1 && v[0] == "") {
			delete(query, k)
		}
	}
	if len(query) > 0 {
		path += "?" + query.Encode()
	}
	return h.call(ctx, http.MethodGet, path, nil, out)
}

// recorder is the response writer of an in-process API call.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// pageSize is how many rows a list page shows.
const pageSize = 50

// pickerSize bounds the choices a form's picker (a select of clients or
// types) loads: the API's largest page.
const pickerSize = 250

// getPage asks the API for the page of a list that r's ?cursor= names
// (the first without one), pageSize rows, with the list's filters in
// query, and returns with it the next page's cursor ("" on the last page).
func getPage[T any](h *Handler, r *http.Request, path string, query url.Values) ([]T, string, error) {
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	q.Set("limit", strconv.Itoa(pageSize))
	q.Set("cursor", r.URL.Query().Get("cursor"))
	var out listOf[T]
	if err := h.get(r.Context(), path, q, &out); err != nil {
		return nil, "", err
	}
	return out.Data, out.NextCursor, nil
}

// pageLink is the link to a list page's next page: the page's path with
// its filters (empty ones left out) and the cursor; "" without a cursor.
func pageLink(path string, filters url.Values, cursor string) string {
	if cursor == "" {
		return ""
	}
	q := url.Values{"cursor": {cursor}}
	for k, v := range filters {
		if len(v) > 0 && v[0] != "" {
			q[k] = v
		}
	}
	return path + "?" + q.Encode()
}
