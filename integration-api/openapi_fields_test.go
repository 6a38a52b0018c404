package integrationapi

import (
	"testing"

	"github.com/heraldhq/herald/internal/httpjson"
	"github.com/heraldhq/herald/openapi/openapitest"
)

// responseTypes names, for every JSON body of a 2xx answer the OpenAPI
// document gives one of this package's routes, the Go type the handler
// encodes it from, or openapitest.Raw saying why no Go type is held
// against it.
var responseTypes = map[string]any{
	"POST /v1/integrations 201 application/json":                       integrationIssuedJSON{},
	"GET /v1/integrations 200 application/json":                        httpjson.Page[integrationJSON]{},
	"GET /v1/integrations/{id} 200 application/json":                   integrationJSON{},
	"POST /v1/integrations/{id}/secret/rotate 200 application/json":    integrationIssuedJSON{},
	"GET /v1/integrations/{id}/access-log 200 application/json":        accessPageJSON{},
	"POST /v1/files 201 application/json":                              fileJSON{},
	"GET /v1/files/{id} 200 application/json":                          fileJSON{},
	"GET /v1/integration/events/{id} 200 application/json":             eventJSON{},
	"GET /v1/integration/events/{id} 200 application/cloudevents+json": openapitest.Raw("the stored event's bytes, exactly as the producer sent them"),
}

// TestOpenAPIResponseFields holds the success bodies of this package's
// routes against the OpenAPI document field by field (see
// openapitest.Doc.CheckFields); internal/httpapi does the same for its own.
// Every JSON success body the document lists for a route of ClientRoutes
// or PublicRoutes must be named in responseTypes, and every entry must be
// in the document.
func TestOpenAPIResponseFields(t *testing.T) {
	t.Parallel()
	doc, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	h := New(Deps{}, Config{})
	ours := map[string]bool{}
	for _, rt := range h.PublicRoutes() {
		ours[rt.Method+" "+rt.Pattern] = true
	}
	for _, rt := range h.ClientRoutes() {
		ours[rt.Method+" /v1"+rt.Pattern] = true
	}
	for _, p := range doc.CheckResponses(responseTypes, func(op string) bool { return ours[op] }) {
		t.Error(p)
	}
}
