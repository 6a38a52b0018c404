package catalog_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/cloudevents"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/postgres"
)

// attrs is an event with extensions only, for filters.
type attrs map[string]any

func (a attrs) Attr(string) (string, bool) { return "", false }
func (a attrs) Ext(name string) (any, bool) {
	v, ok := a[name]
	return v, ok
}
func (a attrs) Data() []byte { return nil }

// subscriber creates an endpoint with a status and a filter.
func (e *env) subscriber(tenant, client uuid.UUID, status herald.EndpointStatus, filter string, patterns ...string) *herald.Endpoint {
	e.t.Helper()
	ep := &herald.Endpoint{
		ID: uuid.New(), TenantID: tenant, ClientID: client, URL: "https://receiver.example/" + uuid.NewString(),
		Types: patterns, Status: status, Secret: "whsec_dGVzdA==",
	}
	if filter != "" {
		ep.Filter = []byte(filter)
	}
	if err := e.store.EndpointCreate(e.ctx, ep); err != nil {
		e.t.Fatal(err)
	}
	return ep
}

// TestReceivers is the table of the one routing rule: patterns, consume
// rights, statuses, filters, the own-tenant rule of herald.* events and
// addressed test sends, for endpoints and connectors. Each case is asked
// three ways, which must agree: Receivers over the parsed event (ingest),
// Receivers over the stored body (retries, recovery, replays) and Receives
// per endpoint.
func TestReceivers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	platform, err := e.store.TenantEnsurePlatform(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	shop := e.tenant("shop", false)
	a := e.tenant("tenant-a", false)
	b := e.tenant("tenant-b", false)
	listed := e.client(a.ID, "listed", herald.RoleConsumer)
	unlisted := e.client(a.ID, "unlisted", herald.RoleConsumer)
	bc := e.client(b.ID, "b consumer", herald.RoleConsumer)

	const created, shipped = "com.shop.order.created", "com.shop.order.shipped"
	e.eventType(created, shop.ID, false, listed.ID)
	e.eventType(shipped, shop.ID, true)
	e.eventType(herald.OpDeliveryExhausted, platform.ID, true) // as the app registers it

	const big, alpha = `{"data": "$.qty", "gte": 5}`, `{"ext": "team", "eq": "alpha"}`
	active, pending := herald.EndpointActive, herald.EndpointPending
	aAll := e.subscriber(a.ID, listed.ID, active, "", "com.shop.>")
	aBig := e.subscriber(a.ID, listed.ID, active, big, "com.shop.order.>")
	aTeam := e.subscriber(a.ID, listed.ID, active, alpha, "com.shop.order.*")
	aOps := e.subscriber(a.ID, listed.ID, active, "", "herald.>")
	aUnlisted := e.subscriber(a.ID, unlisted.ID, active, "", "com.shop.>")
	aPending := e.subscriber(a.ID, listed.ID, pending, "", created)
	aDisabled := e.subscriber(a.ID, listed.ID, active, "", created)
	if err := e.store.EndpointDisable(e.ctx, aDisabled.ID, "testing"); err != nil {
		t.Fatal(err)
	}
	bAll := e.subscriber(b.ID, bc.ID, active, "", ">")
	bOps := e.subscriber(b.ID, bc.ID, active, "", "herald.>")
	cA := e.connector(a.ID, listed.ID, "a orders", true, alpha, "com.shop.order.>")
	cAOps := e.connector(a.ID, listed.ID, "a ops", true, "", "herald.>")
	cB := e.connector(b.ID, bc.ID, "b all", true, "", ">")
	endpoints := []*herald.Endpoint{aAll, aBig, aTeam, aOps, aUnlisted, aPending, aDisabled, bAll, bOps}
	s := e.fresh()

	type ev struct {
		typ    string
		tenant uuid.UUID
		to     uuid.UUID
		qty    int
		team   string
	}
	tests := []struct {
		name       string
		ev         ev
		endpoints  []*herald.Endpoint
		connectors []*herald.Connector
	}{
		{"listed type, small, alpha", ev{typ: created, tenant: shop.ID, qty: 1, team: "alpha"},
			[]*herald.Endpoint{aAll, aTeam, aPending}, []*herald.Connector{cA}},
		{"listed type, big, no team", ev{typ: created, tenant: shop.ID, qty: 9},
			[]*herald.Endpoint{aAll, aBig, aPending}, nil},
		{"public type, big, alpha", ev{typ: shipped, tenant: shop.ID, qty: 9, team: "alpha"},
			[]*herald.Endpoint{aAll, aBig, aTeam, aUnlisted, bAll}, []*herald.Connector{cA, cB}},
		{"operational event about tenant A", ev{typ: herald.OpDeliveryExhausted, tenant: a.ID},
			[]*herald.Endpoint{aOps}, []*herald.Connector{cAOps}},
		{"operational event about tenant B", ev{typ: herald.OpDeliveryExhausted, tenant: b.ID},
			[]*herald.Endpoint{bAll, bOps}, []*herald.Connector{cB}},
		{"operational event about the shop", ev{typ: herald.OpDeliveryExhausted, tenant: shop.ID}, nil, nil},
		{"unregistered type", ev{typ: "com.shop.order.lost", tenant: shop.ID}, nil, nil},
		{"plain test send", ev{typ: herald.TestEventType, tenant: a.ID, to: aAll.ID}, []*herald.Endpoint{aAll}, nil},
		{"plain test send across tenants", ev{typ: herald.TestEventType, tenant: b.ID, to: aAll.ID}, nil, nil},
		{"plain test send to a disabled endpoint", ev{typ: herald.TestEventType, tenant: a.ID, to: aDisabled.ID}, nil, nil},
		{"plain test send, not addressed", ev{typ: herald.TestEventType, tenant: a.ID}, nil, nil},
		{"sample its filter refuses", ev{typ: created, tenant: a.ID, to: aBig.ID, qty: 1}, nil, nil},
		{"sample its filter accepts", ev{typ: created, tenant: a.ID, to: aBig.ID, qty: 9}, []*herald.Endpoint{aBig}, nil},
		{"sample of a type its client may not consume", ev{typ: created, tenant: a.ID, to: aUnlisted.ID, qty: 9}, nil, nil},
		{"sample of a public type", ev{typ: shipped, tenant: a.ID, to: aUnlisted.ID, qty: 9}, []*herald.Endpoint{aUnlisted}, nil},
		{"sample to a disabled endpoint", ev{typ: created, tenant: a.ID, to: aDisabled.ID, qty: 9}, nil, nil},
		{"operational sample to another tenant's endpoint", ev{typ: herald.OpDeliveryExhausted, tenant: a.ID, to: bOps.ID}, nil, nil},
		{"test event to its consumer", ev{typ: created, tenant: a.ID, to: listed.ID, qty: 9, team: "alpha"},
			[]*herald.Endpoint{aAll, aBig, aTeam, aPending}, nil},
		{"test event its consumer's filter refuses", ev{typ: created, tenant: a.ID, to: listed.ID, qty: 1},
			[]*herald.Endpoint{aAll, aPending}, nil},
		{"test event of a public type", ev{typ: shipped, tenant: a.ID, to: unlisted.ID}, []*herald.Endpoint{aUnlisted}, nil},
		{"test event of a type its consumer may not consume", ev{typ: created, tenant: a.ID, to: unlisted.ID}, nil, nil},
		{"test event to a client of another tenant", ev{typ: shipped, tenant: b.ID, to: listed.ID}, nil, nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ce := &cloudevents.Event{ID: fmt.Sprint("e-", i), Source: "/shop", SpecVersion: cloudevents.SpecVersion,
				Type: tt.ev.typ, DataContentType: "application/json", Time: time.Now(),
				Data: fmt.Appendf(nil, `{"qty": %d}`, tt.ev.qty)}
			if tt.ev.team != "" {
				ce.Extensions = map[string]any{"team": tt.ev.team}
			}
			body, err := ce.MarshalStructured()
			if err != nil {
				t.Fatal(err)
			}
			live := catalog.Event{Type: tt.ev.typ, TenantID: tt.ev.tenant, To: tt.ev.to, Attrs: catalog.CloudEvent(ce)}
			stored := catalog.StoredEvent(&postgres.RoutedEvent{Type: tt.ev.typ, TenantID: tt.ev.tenant, To: tt.ev.to, Body: body})
			for how, ev := range map[string]catalog.Event{"parsed": live, "stored": stored} {
				got := s.Receivers(ev)
				if !slices.Equal(ids(got.Endpoints), ids(tt.endpoints)) {
					t.Errorf("%s: endpoints %v, want %v", how, urls(got.Endpoints), urls(tt.endpoints))
				}
				if !slices.Equal(connectorNames(got.Connectors), connectorNames(tt.connectors)) {
					t.Errorf("%s: connectors %v, want %v", how, connectorNames(got.Connectors), connectorNames(tt.connectors))
				}
				for _, ep := range append(endpoints, &herald.Endpoint{ID: uuid.New()}) {
					want := slices.ContainsFunc(tt.endpoints, func(w *herald.Endpoint) bool { return w.ID == ep.ID })
					if s.Receives(ev, ep.ID) != want {
						t.Errorf("%s: Receives(%s) = %v, want %v", how, ep.URL, !want, want)
					}
				}
			}
		})
	}

	t.Run("reach", func(t *testing.T) {
		t.Parallel()
		for _, tt := range []struct {
			ep        *herald.Endpoint
			types     []string
			ownTypes  []string
			filtered  bool
			reachable bool
		}{
			{aAll, []string{created, shipped}, []string{herald.TestEventType}, false, true},
			{aBig, []string{created, shipped}, []string{herald.TestEventType}, true, true},
			{aUnlisted, []string{shipped}, []string{herald.TestEventType}, false, true},
			{aOps, nil, []string{herald.OpDeliveryExhausted, herald.TestEventType}, false, true},
			{bAll, []string{shipped}, []string{herald.OpDeliveryExhausted, herald.TestEventType}, false, true},
			{aPending, []string{created}, []string{herald.TestEventType}, false, true},
			{aDisabled, nil, nil, false, false},
		} {
			r, ok := s.Reach(tt.ep.ID)
			if ok != tt.reachable || !slices.Equal(r.Types, tt.types) || !slices.Equal(r.OwnTypes, tt.ownTypes) ||
				r.Filtered != tt.filtered {
				t.Errorf("Reach(%s) = %v %v %v %v, want %v %v %v %v", tt.ep.Types, r.Types, r.OwnTypes, r.Filtered, ok,
					tt.types, tt.ownTypes, tt.filtered, tt.reachable)
			}
		}
	})
}

func connectorNames(cs []*herald.Connector) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.Name)
	}
	slices.Sort(out)
	return out
}

// TestReceiversShared: when every subscriber of the type receives the
// event, the answer is the cached list itself (ingest's hot path allocates
// nothing for routing). Not parallel: AllocsPerRun counts the process's
// allocations.
func TestReceiversShared(t *testing.T) {
	e := newEnv(t)
	shop := e.tenant("shop", false)
	c := e.client(shop.ID, "consumer", herald.RoleConsumer)
	const typ = "com.shop.order.created"
	e.eventType(typ, shop.ID, true)
	const filtered = "com.shop.order.shipped"
	e.eventType(filtered, shop.ID, true)
	e.subscriber(shop.ID, c.ID, herald.EndpointActive, "", typ)
	e.subscriber(shop.ID, c.ID, herald.EndpointActive, "", "com.>")
	e.subscriber(shop.ID, c.ID, herald.EndpointActive, `{"ext": "team", "eq": "alpha"}`, filtered)
	s := e.fresh()
	for _, ev := range []catalog.Event{
		{Type: typ, TenantID: shop.ID, Attrs: attrs{}},
		{Type: filtered, TenantID: shop.ID, Attrs: attrs{"team": "alpha"}}, // every filter accepts
	} {
		if n := len(s.Receivers(ev).Endpoints); n != 2 {
			t.Fatalf("%s: %d receivers, want 2", ev.Type, n)
		}
		if allocs := testing.AllocsPerRun(100, func() { s.Receivers(ev) }); allocs != 0 {
			t.Errorf("%s: Receivers allocates %v times per event", ev.Type, allocs)
		}
	}
}
