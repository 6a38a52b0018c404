package httpapi_test

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	integrationapi "github.com/heraldhq/herald/integration-api"
	"github.com/heraldhq/herald/internal/httpapi"
)

// TestOneErrorPath: answers decided before or beside any resource handler
// (no route, wrong method, no credentials, and the Integration API's own
// authentication, mounted from its package) come out of the one error
// mapping as the problems they always were.
func TestOneErrorPath(t *testing.T) {
	t.Parallel()
	srv := httpapi.New(httpapi.Deps{Logger: slog.New(slog.DiscardHandler),
		Integration: integrationapi.New(integrationapi.Deps{}, integrationapi.Config{})})
	for _, c := range []struct {
		method, path string
		status       int
		kind, detail string
		authenticate bool // WWW-Authenticate asked for
	}{
		{"GET", "/nope", 404, "not-found", "no such route: /nope", false},
		{"DELETE", "/healthz", 405, "method-not-allowed", "DELETE is not supported on /healthz", false},
		{"GET", "/v1/tenants", 401, "unauthorized", "send a client key and secret with HTTP Basic authentication", true},
		{"GET", "/v1/integration/events/0194b8a0-3c2e-7d4e-9a53-2f1e8c7b6a01", 401, "unauthorized",
			"send a client key and secret with HTTP Basic authentication", true},
		{"GET", "/v1/files/not-a-uuid/content", 401, "unauthorized",
			"send a client key and secret with HTTP Basic authentication", true},
	} {
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
		var p struct {
			Type, Title, Detail string
			Status              int
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
			t.Errorf("%s %s: body %q: %v", c.method, c.path, rec.Body, err)
			continue
		}
		if rec.Code != c.status || p.Status != c.status || p.Type != "urn:herald:problem:"+c.kind || p.Detail != c.detail {
			t.Errorf("%s %s = %d %+v, want %d %s %q", c.method, c.path, rec.Code, p, c.status, c.kind, c.detail)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("%s %s: Content-Type %q", c.method, c.path, ct)
		}
		if got := rec.Header().Get("WWW-Authenticate") != ""; got != c.authenticate {
			t.Errorf("%s %s: WWW-Authenticate present = %v, want %v", c.method, c.path, got, c.authenticate)
		}
	}
}

// errorWriters are the functions that write an error body. Only the one
// mapping (writeError, through writeProblem) and the places that answer
// before any handler runs may call them.
var errorWriters = map[string]bool{"writeError": true, "writeProblem": true, "Error": true}

// mayWriteErrors lists those places: the adapter every handler goes
// through, the mapping itself, and the middleware.
var mayWriteErrors = map[string]bool{
	"handle": true, "writeError": true, // problem.go: the one error path
	"authenticate": true, "authenticateConsumer": true, "recoverPanics": true, "refuseUnstorableURL": true, // middleware.go
}

// TestNoHandlerWritesErrors reads the source of every package whose
// handlers Herald serves and fails when a function other than the one
// error path writes an error body (writeError, writeProblem or
// http.Error): a handler returns its error instead.
func TestNoHandlerWritesErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		dir     string
		allowed map[string]bool
	}{{".", mayWriteErrors}, {"../../integration-api", nil}} {
		files, err := filepath.Glob(filepath.Join(c.dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, name, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range errorWrites(fset, f, c.allowed) {
				t.Errorf("%s; return the error to the adapter instead", w)
			}
		}
	}
}

// errorWrites lists each call of an error writer in f made by a function
// not allowed to.
func errorWrites(fset *token.FileSet, f *ast.File, allowed map[string]bool) []string {
	var out []string
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Body == nil || allowed[fn.Name.Name] {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			var callee string
			switch fun := call.Fun.(type) {
			case *ast.Ident:
				callee = fun.Name
			case *ast.SelectorExpr:
				callee = fun.Sel.Name
				if x, ok := fun.X.(*ast.Ident); callee == "Error" && (!ok || x.Name != "http") {
					return true // err.Error(), not http.Error
				}
			}
			if errorWriters[callee] {
				out = append(out, fmt.Sprintf("%s: %s calls %s", fset.Position(call.Pos()), fn.Name.Name, callee))
			}
			return true
		})
	}
	return out
}

// TestNoHandlerWritesErrorsSeesCalls keeps the source check honest: it
// must see the ways a handler could write an error itself, and pass the
// allowed functions and err.Error().
func TestNoHandlerWritesErrorsSeesCalls(t *testing.T) {
	t.Parallel()
	src := `package x
func (s *Server) handleX(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, nil); writeProblem(w, nil); http.Error(w, "x", 500); _ = err.Error()
}
func (s *Server) handle(w http.ResponseWriter, r *http.Request) { s.writeError(w, r, nil) }`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "x.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := errorWrites(fset, f, mayWriteErrors)
	want := []string{"x.go:3:2: handleX calls writeError", "x.go:3:27: handleX calls writeProblem", "x.go:3:49: handleX calls Error"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errorWrites = %q, want %q", got, want)
	}
}
