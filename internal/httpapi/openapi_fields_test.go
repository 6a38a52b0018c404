package httpapi

import (
	"reflect"
	"testing"

	integrationapi "github.com/heraldhq/herald/integration-api"
	"github.com/heraldhq/herald/internal/httpjson"
	"github.com/heraldhq/herald/openapi/openapitest"
)

// responseTypes names, for every JSON body of a 2xx answer that the
// OpenAPI document gives a route served here, the Go type the handler
// encodes it from, or openapitest.Raw saying why no Go type is held
// against it.
// The Integration API's routes are in its own package's table.
var responseTypes = map[string]any{
	"GET /healthz 200 application/json":                             statusJSON{},
	"GET /readyz 200 application/json":                              statusJSON{},
	"GET /.well-known/jwks.json 200 application/jwk-set+json":       openapitest.Raw("the key ring's JWKS bytes, written as the webhook package encodes them"),
	"GET /webhook-verifications/{id}/{token} 200 application/json":  statusJSON{},
	"POST /webhook-verifications/{id}/{token} 200 application/json": statusJSON{},

	"POST /v1/tenants 201 application/json":       tenantJSON{},
	"GET /v1/tenants 200 application/json":        httpjson.Page[tenantJSON]{},
	"GET /v1/tenants/{id} 200 application/json":   tenantJSON{},
	"PATCH /v1/tenants/{id} 200 application/json": tenantJSON{},

	"POST /v1/clients 201 application/json":     clientCreatedJSON{},
	"GET /v1/clients 200 application/json":      httpjson.Page[clientJSON]{},
	"GET /v1/clients/{id} 200 application/json": clientJSON{},

	"GET /v1/event-types 200 application/json":                           httpjson.Page[eventTypeJSON]{},
	"GET /v1/event-types/{type} 200 application/json":                    eventTypeJSON{},
	"PUT /v1/event-types/{type} 200 application/json":                    eventTypeJSON{},
	"PUT /v1/event-types/{type} 201 application/json":                    eventTypeJSON{},
	"GET /v1/event-types/{type}/versions 200 application/json":           httpjson.List[schemaVersionJSON]{},
	"GET /v1/event-types/{type}/versions/{version} 200 application/json": schemaVersionJSON{},
	"POST /v1/event-types/{type}/validate 200 application/json":          validJSON{},
	"POST /v1/clients/{id}/secret/rotate 200 application/json":           clientCreatedJSON{},
	"POST /v1/portal-links 201 application/json":                         portalLinkJSON{},

	"POST /v1/events 202 application/json":      acceptedJSON{},
	"POST /v1/test-events 202 application/json": acceptedJSON{},

	"POST /v1/endpoints 201 application/json":                    endpointCreatedJSON{},
	"GET /v1/endpoints 200 application/json":                     httpjson.Page[endpointJSON]{},
	"GET /v1/endpoints/{id} 200 application/json":                endpointJSON{},
	"PATCH /v1/endpoints/{id} 200 application/json":              endpointJSON{},
	"POST /v1/endpoints/{id}/disable 200 application/json":       endpointJSON{},
	"POST /v1/endpoints/{id}/enable 200 application/json":        endpointJSON{},
	"POST /v1/endpoints/{id}/verify 200 application/json":        endpointJSON{},
	"GET /v1/endpoints/{id}/secret 200 application/json":         secretJSON{},
	"POST /v1/endpoints/{id}/secret/rotate 200 application/json": secretJSON{},
	"POST /v1/endpoints/{id}/recover 202 application/json":       recoverJSON{},
	"POST /v1/endpoints/{id}/test 202 application/json":          deliveryJSON{},
	"POST /v1/endpoints/{id}/replay 202 application/json":        replayJSON{},
	"GET /v1/replays/{id} 200 application/json":                  replayJSON{},
	"GET /v1/endpoints/{id}/deliveries 200 application/json":     deliveryPageJSON{},

	"POST /v1/consumer-groups 201 application/json":                                  groupJSON{},
	"GET /v1/consumer-groups 200 application/json":                                   httpjson.List[groupJSON]{},
	"GET /v1/consumer-groups/{name} 200 application/json":                            groupJSON{},
	"POST /v1/consumer-groups/{name}/seek 200 application/json":                      groupJSON{},
	"POST /v1/consumer-groups/{name}/instances 201 application/json":                 instanceJSON{},
	"POST /v1/consumer-groups/{name}/instances/{instance}/dead 201 application/json": httpjson.List[deadEventJSON]{},
	"GET /v1/dead-events 200 application/json":                                       httpjson.Page[deadEventJSON]{},
	"POST /v1/consume/tokens 201 application/json":                                   tokenJSON{},
	"GET /v1/consumer-groups/{name}/instances/{instance}/events 200 application/cloudevents-batch+json": openapitest.Raw(
		"the stored events as the pull engine renders them (pull.Delivery.Event), joined into a JSON array"),

	"GET /v1/deliveries/{id} 200 application/json":         deliveryJSON{},
	"POST /v1/deliveries/{id}/retry 202 application/json":  deliveryJSON{},
	"GET /v1/deliveries/{id}/request 200 application/json": requestJSON{},

	"POST /v1/signing-keys/rotate 200 application/json": signingKeyJSON{},

	"GET /v1/stats 200 application/json": statsJSON{},

	"POST /v1/connectors 201 application/json":                connectorJSON{},
	"GET /v1/connectors 200 application/json":                 httpjson.Page[connectorJSON]{},
	"GET /v1/connectors/{id} 200 application/json":            connectorJSON{},
	"PATCH /v1/connectors/{id} 200 application/json":          connectorJSON{},
	"POST /v1/connectors/{id}/test 200 application/json":      runResultJSON{},
	"GET /v1/connectors/{id}/runs 200 application/json":       connectorRunPageJSON{},
	"GET /v1/connector-runs/{id} 200 application/json":        connectorRunJSON{},
	"POST /v1/connector-runs/{id}/retry 202 application/json": connectorRunJSON{},
}

// TestOpenAPIResponseFields holds every route's success body against the
// document, field by field: the JSON names (and JSON types, and whether
// they are always present) that the Go response type encodes must be the
// properties (types, required list) of the schema the document gives the
// answer, $refs resolved and allOf merged, down to the leaves. Every JSON
// success body the document lists must be named in responseTypes (or be
// the Integration API's), and every entry must be in the document.
func TestOpenAPIResponseFields(t *testing.T) {
	t.Parallel()
	doc, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	integ := integrationapi.New(integrationapi.Deps{}, integrationapi.Config{})
	integration := map[string]bool{}
	for _, rt := range integ.PublicRoutes() {
		integration[rt.Method+" "+rt.Pattern] = true
	}
	for _, rt := range integ.ClientRoutes() {
		integration[rt.Method+" /v1"+rt.Pattern] = true
	}

	for _, p := range doc.CheckResponses(responseTypes, func(op string) bool { return !integration[op] }) {
		t.Error(p)
	}
}

// TestOpenAPIProblemFields holds the error body of every route, Problem,
// against components.schemas.Problem.
func TestOpenAPIProblemFields(t *testing.T) {
	t.Parallel()
	doc, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	schema, ok := doc.Schema("Problem")
	if !ok {
		t.Fatal("components.schemas.Problem is missing")
	}
	for _, p := range doc.CheckFields(reflect.TypeOf(Problem{}), schema, "") {
		t.Errorf("Problem: %s", p)
	}
}
