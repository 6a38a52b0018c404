package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"runtime/debug"
	"strings"
	"time"
)

// pages holds every page's template, each parsed with the layout and the
// shared partials.
type pages struct {
	byName map[string]*template.Template
}

// funcs are the helpers templates may call.
var funcs = template.FuncMap{
	"time":      timeTag,
	"json":      prettyJSON,
	"join":      strings.Join,
	"short":     shortID,
	"statusCSS": statusClass,
	"add":       func(a, b int) int { return a + b },
	"list":      func(s ...string) []string { return s },
	"deref": func(t *time.Time) time.Time {
		if t == nil {
			return time.Time{}
		}
		return *t
	},
}

func parsePages() (*pages, error) {
	base, err := template.New("").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/partials.html")
	if err != nil {
		return nil, fmt.Errorf("parse layout: %w", err)
	}
	p := &pages{byName: make(map[string]*template.Template)}
	err = fs.WalkDir(files, "templates", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(name) != ".html" {
			return err
		}
		key := strings.TrimSuffix(strings.TrimPrefix(name, "templates/"), ".html")
		if key == "layout" || key == "partials" {
			return nil
		}
		t, err := template.Must(base.Clone()).ParseFS(files, name)
		if err != nil {
			return fmt.Errorf("parse %s: %w", name, err)
		}
		p.byName[key] = t
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// view is what every page template gets.
type view struct {
	Title   string
	Session *session
	// Section is the navigation entry to mark as current.
	Section string
	// Notice is a one-line message shown above the page (a secret shown
	// once, a done action).
	Notice string
	Data   any
	// Next is the link to a list's next page, shown below the page ("":
	// none).
	Next string
	// Brand is the portal's tenant branding (nil: Herald's look).
	Brand *brandingWire
}

// render writes page name inside the layout, or, for an htmx request that
// asks for a fragment, only the named template.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	t, ok := h.pages.byName[name]
	if !ok {
		h.fail(w, r, fmt.Errorf("no page template %q", name))
		return
	}
	if v.Session == nil {
		v.Session = sessionFrom(r.Context())
	}
	if v.Brand == nil && v.Session != nil && v.Session.Portal() {
		v.Brand = h.brand(r)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		h.logger.Error("render page", "page", name, "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// fragment writes one named template of a page, for htmx to swap in.
func (h *Handler) fragment(w http.ResponseWriter, r *http.Request, status int, page, name string, data any) {
	t, ok := h.pages.byName[page]
	if !ok {
		h.fail(w, r, fmt.Errorf("no page template %q", page))
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, data); err != nil {
		h.logger.Error("render fragment", "page", page, "fragment", name, "err", err)
		http.Error(w, "the fragment could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// pageFunc is a page handler: it renders or redirects by itself and
// returns anything else as an error for fail to show.
type pageFunc func(w http.ResponseWriter, r *http.Request) error

func (h *Handler) page(f pageFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := f(w, r); err != nil {
			h.fail(w, r, err)
		}
	}
}

// The errors pages return for fail to explain.
var (
	errNotFound = errors.New("no such page")
	errCSRF     = errors.New("missing or wrong CSRF token")
	// errPortalSessionEnded: the portal has no sign-in page; a partner
	// needs a new link.
	errPortalSessionEnded = errors.New("portal session ended")
)

// errorPage is the data of the error page.
type errorPage struct {
	Status int
	Title  string
	Detail string
	Back   string
}

// fail shows an error page: the API's own problem when the API refused,
// a plain explanation otherwise. Unexpected errors are logged, not shown.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := errorPage{Status: http.StatusInternalServerError, Title: "Something went wrong",
		Detail: "Herald could not show this page. The error is in the server's log."}
	if ae, ok := asAPIError(err); ok {
		e = errorPage{Status: ae.Status, Title: ae.Problem.Title, Detail: ae.Problem.Detail}
		if e.Detail == "" && len(ae.Problem.Errors) > 0 {
			e.Detail = ae.Problem.Errors[0].Field + ": " + ae.Problem.Errors[0].Detail
		}
	} else {
		switch {
		case errors.Is(err, errNotFound):
			e = errorPage{Status: http.StatusNotFound, Title: "Not found", Detail: "There is no such page, or it is not yours to see."}
		case errors.Is(err, errCSRF):
			e = errorPage{Status: http.StatusForbidden, Title: "Form refused",
				Detail: "The form did not carry this session's CSRF token, so nothing was changed. Reload the page and try again."}
		case errors.Is(err, errPortalSessionEnded), errors.Is(err, errBadLink):
			e = errorPage{Status: http.StatusUnauthorized, Title: "This link is not valid",
				Detail: "The portal link has expired, was changed, or its session has ended. Ask the organisation that sent it for a new link."}
		case errors.Is(err, errNoSession):
			e = errorPage{Status: http.StatusUnauthorized, Title: "Signed out", Detail: "Your session has ended. Sign in again."}
		default:
			h.logger.Error("page failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
	}
	if e.Title == "" {
		e.Title = http.StatusText(e.Status)
	}
	if r.Header.Get("HX-Request") != "" {
		h.fragment(w, r, e.Status, "error", "error-box", e)
		return
	}
	h.render(w, r, e.Status, "error", view{Title: e.Title, Data: e})
}

// recoverPanics shows the error page for a handler's panic and logs it.
func (h *Handler) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler { //nolint:errorlint // net/http's sentinel, compared as net/http does
				panic(v)
			}
			h.logger.Error("page panicked", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
			h.fail(w, r, fmt.Errorf("panic serving %s: %v", r.URL.Path, v))
		}()
		next.ServeHTTP(w, r)
	})
}

// securityHeaders forbid framing, inline scripts from elsewhere and
// sending page URLs (which may hold a portal link) to other sites.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: https:; style-src 'self'; "+
			"script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// assetServer serves the embedded assets; their names carry their
// versions, so they may be cached for long.
func assetServer(fsys fs.FS) http.Handler {
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}

// timeTag renders a time as a <time> element in UTC; the page's script
// shows it in the viewer's zone.
func timeTag(t time.Time) template.HTML {
	if t.IsZero() {
		return template.HTML("—")
	}
	u := t.UTC()
	return template.HTML(fmt.Sprintf(`<time datetime="%s">%s</time>`,
		u.Format(time.RFC3339Nano), template.HTMLEscapeString(u.Format("2006-01-02 15:04:05 UTC"))))
}

// prettyJSON indents JSON for display.
func prettyJSON(v any) string {
	var raw []byte
	switch x := v.(type) {
	case json.RawMessage:
		raw = x
	case []byte:
		raw = x
	case string:
		raw = []byte(x)
	default:
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return ""
		}
		return string(b)
	}
	if len(raw) == 0 {
		return ""
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return string(raw)
	}
	return buf.String()
}

// shortID is the last 8 hex digits of a UUID: enough to tell rows apart.
// Not the first: a UUIDv7 starts with its time, the same for ids made in
// the same millisecond.
func shortID(v any) string {
	s := fmt.Sprint(v)
	if len(s) == 36 {
		return s[28:]
	}
	return s
}

// statusClass names the CSS class of a status badge.
func statusClass(s string) string {
	switch s {
	case "succeeded", "active", "ok", "healthy", "verified", "completed":
		return "badge ok"
	case "failed", "disabled", "dead", "error", "discarded":
		return "badge bad"
	default:
		return "badge"
	}
}
