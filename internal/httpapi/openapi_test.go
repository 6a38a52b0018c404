package httpapi_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	integrationapi "github.com/heraldhq/herald/integration-api"
	"github.com/heraldhq/herald/internal/httpapi"
	"github.com/heraldhq/herald/openapi"
)

// The module has no YAML parser among its direct requirements, so these tests
// read openapi.yaml with a small line-based reader. It relies on the layout
// the file keeps: two-space indentation, top-level sections at column 0, path
// and webhook keys at 2 spaces, methods at 4, operation fields at 6 and
// response codes at 8. Block scalars (description: |) are skipped whole.

// specOp is one operation found in the paths: or webhooks: section.
type specOp struct {
	key         string // "GET /v1/tenants"
	line        int
	operationID string
	hasResps    bool
	codes       []string
	publicSec   bool // has "security: []"
}

type specDoc struct {
	first      string
	ops        []*specOp           // paths:
	webhookOps []*specOp           // webhooks:
	components map[string][]string // kind ("schemas") -> names
	refs       map[string][]int    // "#/components/schemas/X" -> lines
	dupPaths   []string            // path keys seen twice
}

var httpMethods = map[string]bool{
	"get": true, "put": true, "post": true, "delete": true, "options": true,
	"head": true, "patch": true, "trace": true,
}

var (
	keyRe = regexp.MustCompile(`^( *)(?:- )?('[^']*'|"[^"]*"|[^\s'":#][^:]*?):(?:\s+(.*))?$`)
	refRe = regexp.MustCompile(`\$ref:\s*['"]?(#/[^'"\s]+)['"]?`)
	// A value that opens a block scalar: | or > with optional chomping and
	// indentation indicators, and an optional comment.
	blockRe = regexp.MustCompile(`^[|>][-+0-9]*\s*(#.*)?$`)
)

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '\'' && s[len(s)-1] == '\'' || s[0] == '"' && s[len(s)-1] == '"') {
		return s[1 : len(s)-1]
	}
	return s
}

func parseSpec(t *testing.T, src []byte) *specDoc {
	t.Helper()
	doc := &specDoc{components: map[string][]string{}, refs: map[string][]int{}}
	lines := strings.Split(strings.ReplaceAll(string(src), "\r\n", "\n"), "\n")
	var (
		section   string // top-level key
		curPath   string
		curOp     *specOp
		inResps   bool
		compKind  string
		blockInd  = -1 // indentation of the key owning an open block scalar
		seenPaths = map[string]bool{}
	)
	for i, raw := range lines {
		ln := i + 1
		if strings.TrimSpace(raw) == "" {
			continue
		}
		if strings.Contains(raw, "\t") && strings.TrimLeft(raw, " ")[0] == '\t' {
			t.Errorf("openapi.yaml:%d: indented with a tab", ln)
		}
		indent := len(raw) - len(strings.TrimLeft(raw, " "))
		if blockInd >= 0 {
			if indent > blockInd {
				continue // block scalar content
			}
			blockInd = -1
		}
		trimmed := strings.TrimSpace(raw)
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if doc.first == "" {
			doc.first = trimmed
		}
		for _, m := range refRe.FindAllStringSubmatch(raw, -1) {
			doc.refs[m[1]] = append(doc.refs[m[1]], ln)
		}
		m := keyRe.FindStringSubmatch(raw)
		if m == nil {
			continue // a sequence item or a continuation line
		}
		listItem := strings.HasPrefix(strings.TrimLeft(raw, " "), "- ")
		key, val := unquote(strings.TrimSpace(m[2])), strings.TrimSpace(m[3])
		if blockRe.MatchString(val) {
			blockInd = indent
			if listItem {
				blockInd = indent + 2
			}
		}
		if listItem {
			continue
		}
		switch {
		case indent == 0:
			section, curPath, curOp, inResps, compKind = key, "", nil, false, ""
			continue
		case section == "components":
			switch indent {
			case 2:
				compKind = key
			case 4:
				doc.components[compKind] = append(doc.components[compKind], key)
			}
			continue
		case section != "paths" && section != "webhooks":
			continue
		}
		switch indent {
		case 2:
			curPath, curOp, inResps = key, nil, false
			if section == "paths" {
				if !strings.HasPrefix(key, "/") {
					t.Errorf("openapi.yaml:%d: path %q does not start with /", ln, key)
				}
				if seenPaths[key] {
					doc.dupPaths = append(doc.dupPaths, key)
				}
				seenPaths[key] = true
			}
		case 4:
			curOp, inResps = nil, false
			if !httpMethods[key] {
				continue // parameters, summary, ...
			}
			curOp = &specOp{key: strings.ToUpper(key) + " " + curPath, line: ln}
			if section == "paths" {
				doc.ops = append(doc.ops, curOp)
			} else {
				doc.webhookOps = append(doc.webhookOps, curOp)
			}
		case 6:
			inResps = false
			if curOp == nil {
				continue
			}
			switch key {
			case "operationId":
				curOp.operationID = unquote(val)
			case "responses":
				curOp.hasResps, inResps = true, true
			case "security":
				curOp.publicSec = strings.ReplaceAll(val, " ", "") == "[]"
			}
		case 8:
			if curOp != nil && inResps {
				curOp.codes = append(curOp.codes, key)
			}
		}
	}
	return doc
}

func loadSpec(t *testing.T) *specDoc {
	t.Helper()
	if len(openapi.Spec) == 0 {
		t.Fatal("openapi.Spec is empty")
	}
	return parseSpec(t, openapi.Spec)
}

// routerRoutes walks the real router. New only wires closures; it does not
// touch its dependencies, so an empty Deps is enough.
func routerRoutes(t *testing.T) map[string]bool {
	t.Helper()
	// Every optional part is on, so all its routes are walked.
	srv := httpapi.New(httpapi.Deps{Integration: integrationapi.New(integrationapi.Deps{}, integrationapi.Config{})})
	routes := map[string]bool{}
	err := chi.Walk(srv.Router(), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if route != "/" {
			route = strings.TrimSuffix(route, "/")
		}
		routes[method+" "+route] = true
		return nil
	})
	if err != nil {
		t.Fatalf("chi.Walk: %v", err)
	}
	if len(routes) == 0 {
		t.Fatal("the router has no routes")
	}
	return routes
}

func TestOpenAPIMatchesRouter(t *testing.T) {
	doc := loadSpec(t)
	routes := routerRoutes(t)

	documented := map[string]bool{}
	for _, op := range doc.ops {
		if documented[op.key] {
			t.Errorf("openapi.yaml:%d: %s is documented twice", op.line, op.key)
		}
		documented[op.key] = true
	}
	for _, p := range doc.dupPaths {
		t.Errorf("openapi.yaml: path %s appears twice", p)
	}

	var missing, extra []string
	for r := range routes {
		if !documented[r] {
			missing = append(missing, r)
		}
	}
	for d := range documented {
		if !routes[d] {
			extra = append(extra, d)
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	if len(missing) > 0 {
		t.Errorf("routes served but not in openapi.yaml:\n  %s", strings.Join(missing, "\n  "))
	}
	if len(extra) > 0 {
		t.Errorf("operations in openapi.yaml that the router does not serve:\n  %s", strings.Join(extra, "\n  "))
	}
	t.Logf("%d routes, %d documented operations", len(routes), len(documented))
}

func TestOpenAPIDocument(t *testing.T) {
	doc := loadSpec(t)
	if !strings.HasPrefix(doc.first, "openapi: 3.1") {
		t.Errorf("openapi.yaml must start with `openapi: 3.1.x`, starts with %q", doc.first)
	}
	if len(doc.ops) == 0 {
		t.Fatal("no operations found under paths:")
	}
	if len(doc.webhookOps) == 0 {
		t.Error("no webhooks documented (expected webhooks.cloudEvent)")
	}

	ids := map[string]string{}
	for _, op := range append(slices.Clone(doc.ops), doc.webhookOps...) {
		if op.operationID == "" {
			t.Errorf("openapi.yaml:%d: %s has no operationId", op.line, op.key)
		} else if prev, dup := ids[op.operationID]; dup {
			t.Errorf("openapi.yaml:%d: operationId %q of %s is also used by %s", op.line, op.operationID, op.key, prev)
		} else {
			ids[op.operationID] = op.key
		}
		if !op.hasResps || len(op.codes) == 0 {
			t.Errorf("openapi.yaml:%d: %s has no responses", op.line, op.key)
		}
	}

	for _, op := range doc.ops {
		path := op.key[strings.IndexByte(op.key, ' ')+1:]
		// A WebSocket's success is the switch to its protocol.
		hasSuccess := slices.ContainsFunc(op.codes, func(c string) bool { return strings.HasPrefix(c, "2") || c == "101" })
		if !hasSuccess {
			t.Errorf("openapi.yaml:%d: %s documents no 2xx response", op.line, op.key)
		}
		if strings.HasPrefix(path, "/v1/") {
			// Every /v1 route sits behind HTTP Basic authentication.
			if !slices.Contains(op.codes, "401") {
				t.Errorf("openapi.yaml:%d: %s is authenticated but documents no 401", op.line, op.key)
			}
			if op.publicSec {
				t.Errorf("openapi.yaml:%d: %s is authenticated but has security: []", op.line, op.key)
			}
		} else if !op.publicSec {
			t.Errorf("openapi.yaml:%d: %s needs no credentials; mark it security: []", op.line, op.key)
		}
	}

	defined := map[string]bool{}
	for kind, names := range doc.components {
		for _, n := range names {
			defined["#/components/"+kind+"/"+n] = true
		}
	}
	if len(doc.components["schemas"]) == 0 {
		t.Fatal("no components.schemas found")
	}
	for _, want := range []string{"Problem", "CloudEvent", "Accepted", "Tenant", "Client", "ClientCreated",
		"EventType", "SchemaVersion", "Endpoint", "EndpointCreated", "Delivery", "Attempt"} {
		if !defined["#/components/schemas/"+want] {
			t.Errorf("components.schemas.%s is missing", want)
		}
	}
	if !defined["#/components/securitySchemes/basicAuth"] {
		t.Error("components.securitySchemes.basicAuth is missing")
	}
	for ref, lines := range doc.refs {
		if !strings.HasPrefix(ref, "#/components/") {
			continue // other in-document pointers are not used, but legal
		}
		if !defined[ref] {
			t.Errorf("openapi.yaml:%v: $ref %s points at nothing", lines, ref)
		}
	}
	used := map[string]bool{}
	for ref := range doc.refs {
		used[ref] = true
	}
	for _, n := range doc.components["schemas"] {
		if !used["#/components/schemas/"+n] {
			t.Logf("note: components.schemas.%s is never referenced", n)
		}
	}
}

// TestOpenAPIParserSelfCheck keeps the line reader honest on the constructs
// it must handle, so a silent misparse cannot make the contract tests pass.
func TestOpenAPIParserSelfCheck(t *testing.T) {
	src := `openapi: 3.1.0
info:
  description: |
    paths:
      /not/a/path:
        get:
paths:
  /a/{id}:
    parameters:
      - $ref: '#/components/parameters/Id'
    get:
      operationId: getA
      description: >-
        get: not a method
      responses:
        '200':
          $ref: '#/components/responses/Ok'
    post:
      security: []
      responses:
        default:
          description: x
  '/b':
    delete:
      operationId: delB
webhooks:
  hook:
    post:
      operationId: onHook
      responses:
        '2XX':
          description: ok
components:
  schemas:
    Thing:
      type: object
  parameters:
    Id:
      name: id
`
	doc := parseSpec(t, []byte(src))
	var keys []string
	for _, op := range doc.ops {
		keys = append(keys, op.key)
	}
	if want := []string{"GET /a/{id}", "POST /a/{id}", "DELETE /b"}; !slices.Equal(keys, want) {
		t.Fatalf("ops = %q, want %q", keys, want)
	}
	if g := doc.ops[0]; g.operationID != "getA" || !slices.Equal(g.codes, []string{"200"}) || g.publicSec {
		t.Errorf("GET /a/{id} = %+v", *g)
	}
	if p := doc.ops[1]; p.operationID != "" || !p.publicSec || !slices.Equal(p.codes, []string{"default"}) {
		t.Errorf("POST /a/{id} = %+v", *p)
	}
	if d := doc.ops[2]; d.hasResps {
		t.Errorf("DELETE /b = %+v", *d)
	}
	if len(doc.webhookOps) != 1 || doc.webhookOps[0].key != "POST hook" || doc.webhookOps[0].operationID != "onHook" {
		t.Errorf("webhooks = %+v", doc.webhookOps)
	}
	if !slices.Equal(doc.components["schemas"], []string{"Thing"}) || !slices.Equal(doc.components["parameters"], []string{"Id"}) {
		t.Errorf("components = %v", doc.components)
	}
	if len(doc.refs) != 2 || doc.refs["#/components/responses/Ok"] == nil || doc.refs["#/components/parameters/Id"] == nil {
		t.Errorf("refs = %v", doc.refs)
	}
}

// TestOpenAPIServed checks that the server publishes the embedded document.
func TestOpenAPIServed(t *testing.T) {
	srv := httpapi.New(httpapi.Deps{Logger: slog.New(slog.DiscardHandler)})
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi.yaml", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /openapi.yaml: status %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/yaml" {
		t.Errorf("GET /openapi.yaml: Content-Type %q", ct)
	}
	body, _ := io.ReadAll(rec.Body)
	if !bytes.Equal(body, openapi.Spec) {
		t.Error("GET /openapi.yaml does not serve the embedded openapi.yaml")
	}
}
