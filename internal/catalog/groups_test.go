package catalog_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/cloudevents"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/postgres"
)

// group creates a consumer group starting at the end of the log.
func (e *env) group(tenant, client uuid.UUID, name, filter string, patterns ...string) *herald.ConsumerGroup {
	e.t.Helper()
	g := &herald.ConsumerGroup{ID: uuid.New(), TenantID: tenant, ClientID: client, Name: name, Types: patterns,
		AckWait: herald.DefaultAckWait}
	if filter != "" {
		g.Filter = []byte(filter)
	}
	err := pgx.BeginFunc(e.ctx, e.pool, func(tx pgx.Tx) error {
		return e.store.ConsumerGroupCreate(e.ctx, tx, g, herald.Start{Kind: herald.StartNew})
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return g
}

// TestReceiversGroups: consumer groups are receivers under the one routing
// rule, like endpoints: type patterns ("*", ">"), the consume right of
// their client, filters (subjects included), the own-tenant rule of
// herald.* events; addressed test sends never reach them. Each case is
// asked over the parsed and the stored event, which must agree.
func TestReceiversGroups(t *testing.T) {
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
	e.eventType(herald.OpDeliveryExhausted, platform.ID, true)
	ep := e.endpoint(a.ID, listed.ID, ">")

	forms := `{"attr": "subject", "prefix": "PUBLIC.forms.submission.created."}`
	gAll := e.group(a.ID, listed.ID, "all", "", ">")
	gStar := e.group(a.ID, listed.ID, "star", "", "com.shop.order.*")
	gForms := e.group(a.ID, listed.ID, "forms", forms, "com.shop.>")
	gUnlisted := e.group(a.ID, unlisted.ID, "unlisted", "", ">")
	gB := e.group(b.ID, bc.ID, "b", "", ">")
	gNarrow := e.group(a.ID, listed.ID, "narrow", "", "com.shop.*") // one token: no order types
	s := e.fresh()

	type ev struct {
		typ     string
		tenant  uuid.UUID
		to      uuid.UUID
		subject string
	}
	tests := []struct {
		name   string
		ev     ev
		groups []*herald.ConsumerGroup
	}{
		{"listed type", ev{typ: created, tenant: shop.ID}, []*herald.ConsumerGroup{gAll, gStar}},
		{"listed type, form subject", ev{typ: created, tenant: shop.ID, subject: "PUBLIC.forms.submission.created.7f3c"},
			[]*herald.ConsumerGroup{gAll, gStar, gForms}},
		{"public type", ev{typ: shipped, tenant: shop.ID}, []*herald.ConsumerGroup{gAll, gStar, gUnlisted, gB}},
		{"operational event about tenant A", ev{typ: herald.OpDeliveryExhausted, tenant: a.ID},
			[]*herald.ConsumerGroup{gAll, gUnlisted}},
		{"operational event about the shop", ev{typ: herald.OpDeliveryExhausted, tenant: shop.ID}, nil},
		{"unregistered type", ev{typ: "com.shop.order.lost", tenant: shop.ID}, nil},
		{"test send addressed to an endpoint", ev{typ: shipped, tenant: a.ID, to: ep.ID}, nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ce := &cloudevents.Event{ID: fmt.Sprint("e-", i), Source: "/shop", SpecVersion: cloudevents.SpecVersion,
				Type: tt.ev.typ, Subject: tt.ev.subject, DataContentType: "application/json", Time: time.Now(), Data: []byte(`{}`)}
			body, err := ce.MarshalStructured()
			if err != nil {
				t.Fatal(err)
			}
			live := catalog.Event{Type: tt.ev.typ, TenantID: tt.ev.tenant, To: tt.ev.to, Attrs: catalog.CloudEvent(ce)}
			stored := catalog.StoredEvent(&postgres.RoutedEvent{Type: tt.ev.typ, TenantID: tt.ev.tenant, To: tt.ev.to, Body: body})
			for how, ev := range map[string]catalog.Event{"parsed": live, "stored": stored} {
				got := s.Receivers(ev)
				if !slices.Equal(groupNames(got.Groups), groupNames(tt.groups)) {
					t.Errorf("%s: groups %v, want %v", how, groupNames(got.Groups), groupNames(tt.groups))
				}
				for _, g := range []*herald.ConsumerGroup{gAll, gStar, gForms, gUnlisted, gB, gNarrow} {
					want := slices.Contains(tt.groups, g)
					if got.ReceivedBy(g.ID) != want {
						t.Errorf("%s: ReceivedBy(%s) = %v, want %v", how, g.Name, !want, want)
					}
				}
			}
		})
	}

	t.Run("reach", func(t *testing.T) {
		t.Parallel()
		for _, tt := range []struct {
			g               *herald.ConsumerGroup
			types, ownTypes []string
			filtered        bool
		}{
			{gAll, []string{created, shipped}, []string{herald.OpDeliveryExhausted}, false},
			{gForms, []string{created, shipped}, nil, true},
			{gUnlisted, []string{shipped}, []string{herald.OpDeliveryExhausted}, false},
			{gNarrow, nil, nil, false},
		} {
			r, ok := s.GroupReach(tt.g.ID)
			if !ok || !slices.Equal(r.Types, tt.types) || !slices.Equal(r.OwnTypes, tt.ownTypes) || r.Filtered != tt.filtered {
				t.Errorf("GroupReach(%s) = %v %v %v %v, want %v %v %v", tt.g.Name, r.Types, r.OwnTypes, r.Filtered, ok,
					tt.types, tt.ownTypes, tt.filtered)
			}
		}
		if _, ok := s.GroupReach(uuid.New()); ok {
			t.Error("GroupReach of an unknown group: ok")
		}
	})
}

func groupNames(gs []*herald.ConsumerGroup) []string {
	out := make([]string, 0, len(gs))
	for _, g := range gs {
		out = append(out, g.Name)
	}
	slices.Sort(out)
	return out
}
