package catalog_test

import (
	"slices"
	"testing"

	"github.com/google/uuid"

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
	if got := names(s.Connectors(created)); !slices.Equal(got, []string{exact.Name, pattern.Name}) {
		t.Errorf("Connectors(created) = %v", got)
	}
	if got := names(s.Connectors(shipped)); !slices.Equal(got, []string{pattern.Name, notAllowed.Name}) {
		t.Errorf("Connectors(shipped) = %v", got)
	}
	if s.ConnectorFilter(pattern.ID) == nil || s.ConnectorFilter(exact.ID) != nil {
		t.Error("filters not compiled per connector")
	}
	if got := s.Connectors("com.shop.nope"); got != nil {
		t.Errorf("unknown type routed to %v", names(got))
	}
	// Deleting a connector changes the version and the routes.
	if err := e.store.ConnectorDelete(e.ctx, exact.ID); err != nil {
		t.Fatal(err)
	}
	if got := names(e.fresh().Connectors(created)); !slices.Equal(got, []string{pattern.Name}) {
		t.Errorf("after delete: %v", got)
	}
}
