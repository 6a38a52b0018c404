package catalog_test

import (
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/herald"
)

func (e *env) connector(tenant, client uuid.UUID, name string, enabled bool, filter string, patterns ...string) *herald.Connector {
	e.t.Helper()
	c := &herald.Connector{ID: uuid.New(), TenantID: tenant, ClientID: client, Name: name, Kind: "function",
		Types: patterns, Code: `() => "success"`, Enabled: enabled}
	if filter != "" {
		c.Filter = []byte(filter)
	}
	if err := e.store.ConnectorCreate(e.ctx, c); err != nil {
		e.t.Fatal(err)
	}
	return c
}

// TestRouteConnectors checks connectors follow the endpoints' routing rules:
// patterns, consume rights, the client's tenant, enabled only, filters.
func TestRouteConnectors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	shop := e.tenant("shop", false)
	warehouse := e.tenant("warehouse", false)
	listed := e.client(warehouse.ID, "listed", herald.RoleConsumer)
	unlisted := e.client(warehouse.ID, "unlisted", herald.RoleConsumer)
	const created, shipped = "com.shop.order.created", "com.shop.order.shipped"
	e.eventType(created, shop.ID, false, listed.ID)
	e.eventType(shipped, shop.ID, true)

	exact := e.connector(warehouse.ID, listed.ID, "exact", true, "", created)
	pattern := e.connector(warehouse.ID, listed.ID, "pattern", true, `{"ext": "team", "eq": "alpha"}`, "com.shop.order.>")
	notAllowed := e.connector(warehouse.ID, unlisted.ID, "unlisted", true, "", "com.shop.>")
	disabled := e.connector(warehouse.ID, listed.ID, "disabled", false, "", ">")
	mismatched := e.connector(shop.ID, listed.ID, "other tenant", true, "", ">")
	_, _ = disabled, mismatched

	s := e.fresh()
	names := func(cs []*herald.Connector) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Name)
		}
		slices.Sort(out)
		return out
	}
	connectors := func(s *catalog.Snapshot, typ string, a attrs) []*herald.Connector {
		return s.Receivers(catalog.Event{Type: typ, TenantID: shop.ID, Attrs: a}).Connectors
	}
	alpha := attrs{"team": "alpha"}
	if got := names(connectors(s, created, alpha)); !slices.Equal(got, []string{exact.Name, pattern.Name}) {
		t.Errorf("connectors of created = %v", got)
	}
	if got := names(connectors(s, shipped, alpha)); !slices.Equal(got, []string{pattern.Name, notAllowed.Name}) {
		t.Errorf("connectors of shipped = %v", got)
	}
	// The pattern connector's filter wants team alpha.
	if got := names(connectors(s, created, attrs{"team": "beta"})); !slices.Equal(got, []string{exact.Name}) {
		t.Errorf("connectors of created, team beta = %v", got)
	}
	if got := connectors(s, "com.shop.nope", alpha); got != nil {
		t.Errorf("unknown type routed to %v", names(got))
	}
	// Deleting a connector changes the version and the routes.
	if err := e.store.ConnectorDelete(e.ctx, exact.ID); err != nil {
		t.Fatal(err)
	}
	if got := names(connectors(e.fresh(), created, alpha)); !slices.Equal(got, []string{pattern.Name}) {
		t.Errorf("after delete: %v", got)
	}
}
