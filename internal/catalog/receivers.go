package catalog

import (
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/cloudevents"
	"github.com/heraldhq/herald/internal/filter"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/postgres"
)

// This file is the one rule that decides who receives an event. Every path
// that sends an event anywhere asks it: ingest (endpoints and connectors,
// Herald's operational events included), test sends, replays, manual
// retries, endpoint recovery and connector run retries. A subscriber
// receives an event when all of these hold:
//
//   - it is live: an active or pending endpoint, an enabled connector (the
//     snapshot holds no others);
//   - one of its type patterns matches the event's type, and the type is
//     registered;
//   - its client belongs to its tenant and may consume the type;
//   - Herald's operational events (herald.*) reach only subscribers of the
//     tenant they are about;
//   - its filter, if any, accepts the event's attributes, extensions and
//     data;
//   - a test send is addressed to one endpoint: only that endpoint, and
//     only while the rules above let it receive the sample's type (the
//     plain herald.endpoint.test event needs no subscription). Connectors
//     and consumer groups never receive test sends;
//   - a consumer's test event (POST /v1/test-events) is addressed to its
//     consumer client: of the subscribers the rules above pick, only that
//     client's endpoints and consumer groups in its own tenant, never a
//     connector.
//
// Consumer groups are receivers like endpoints: a group's log gets the
// events its patterns match, its client may consume and its filter admits.

// RuleNotReceived names the rule in problems that refuse to send an event
// to a subscriber that does not receive it (a test send, a retry).
const RuleNotReceived = "not-received"

// Event is what routing reads of an event.
type Event struct {
	// Type is the event type's name.
	Type string
	// TenantID is the tenant the event belongs to: its producer's, or for
	// Herald's operational events the tenant they are about.
	TenantID uuid.UUID
	// To is the endpoint a test send is addressed to, or the consumer
	// client a test event is addressed to (ids of endpoints and clients
	// never collide); uuid.Nil for events routed by subscription.
	To uuid.UUID
	// Attrs shows the event to filters (see CloudEvent and StoredEvent). It
	// is read only when a candidate subscriber has a filter, and filters
	// read data at most once.
	Attrs filter.Event
}

// Receivers are the endpoints and connectors that receive one event. The
// slices may be shared with the snapshot's cache: callers must not modify
// them.
type Receivers struct {
	Endpoints  []*herald.Endpoint
	Connectors []*herald.Connector
	// Groups are the consumer groups whose logs get the event.
	Groups []*herald.ConsumerGroup
}

// typeRoute caches, per type name, the subscribers whose patterns match the
// type and whose clients may consume it: the part of the rule that does not
// depend on the event itself.
type typeRoute struct {
	endpoints  []*herald.Endpoint
	connectors []*herald.Connector
	groups     []*herald.ConsumerGroup
	// has indexes endpoints, so single-endpoint questions (Receives) cost
	// the same whatever the number of subscribers.
	has map[uuid.UUID]bool
	// perEvent is true when the answer depends on the event (a subscriber
	// has a filter, or the type is tenant-bound); otherwise the lists are
	// the answer for every event of the type.
	perEvent bool
}

// route returns the cached typeRoute of a type name.
func (s *Snapshot) route(typeName string) *typeRoute {
	if v, ok := s.routes.Load(typeName); ok {
		return v.(*typeRoute)
	}
	r := &typeRoute{has: map[uuid.UUID]bool{}, perEvent: tenantBound(typeName)}
	if te := s.types[typeName]; te != nil {
		for _, ep := range s.endpoints.Match(typeName, nil) {
			if s.clientMayConsume(ep.ClientID, ep.TenantID, te.Type) {
				r.endpoints = append(r.endpoints, ep)
				r.has[ep.ID] = true
				r.perEvent = r.perEvent || s.filters[ep.ID] != nil
			}
		}
		if ci := s.connectors; ci != nil {
			for _, c := range ci.index.Match(typeName, nil) {
				if s.clientMayConsume(c.ClientID, c.TenantID, te.Type) {
					r.connectors = append(r.connectors, c)
					r.perEvent = r.perEvent || ci.filters[c.ID] != nil
				}
			}
		}
		if gi := s.groups; gi != nil {
			for _, g := range gi.index.Match(typeName, nil) {
				if s.clientMayConsume(g.ClientID, g.TenantID, te.Type) {
					r.groups = append(r.groups, g)
					r.perEvent = r.perEvent || gi.filters[g.ID] != nil
				}
			}
		}
	}
	s.routes.Store(typeName, r)
	return r
}

// Receivers answers who receives ev: the rule described at the top of
// this file. It does not allocate when every subscriber of the type
// receives the event.
func (s *Snapshot) Receivers(ev Event) Receivers {
	if cl, ok := s.addressee(ev); ok {
		if cl == uuid.Nil {
			return Receivers{}
		}
		all := s.Receivers(Event{Type: ev.Type, TenantID: ev.TenantID, Attrs: ev.Attrs})
		return Receivers{
			Endpoints: keep(all.Endpoints, func(ep *herald.Endpoint) bool { return ep.ClientID == cl }),
			Groups:    keep(all.Groups, func(g *herald.ConsumerGroup) bool { return g.ClientID == cl }),
		}
	}
	if ev.To != uuid.Nil {
		if s.Receives(ev, ev.To) {
			return Receivers{Endpoints: []*herald.Endpoint{s.endpointsID[ev.To]}}
		}
		return Receivers{}
	}
	r := s.route(ev.Type)
	if !r.perEvent {
		return Receivers{Endpoints: r.endpoints, Connectors: r.connectors, Groups: r.groups}
	}
	return Receivers{
		Endpoints: keep(r.endpoints, func(ep *herald.Endpoint) bool {
			return admits(ep.TenantID, s.filters[ep.ID], ev)
		}),
		Connectors: keep(r.connectors, func(c *herald.Connector) bool {
			return admits(c.TenantID, s.connectors.filters[c.ID], ev)
		}),
		Groups: keep(r.groups, func(g *herald.ConsumerGroup) bool {
			return admits(g.TenantID, s.groups.filters[g.ID], ev)
		}),
	}
}

// Receives reports whether one endpoint receives ev: the same answer as
// whether Receivers(ev) lists it, without evaluating other subscribers'
// filters.
func (s *Snapshot) Receives(ev Event, endpoint uuid.UUID) bool {
	ep := s.endpointsID[endpoint]
	if ep == nil {
		return false // disabled, deleted, or unroutable (an invalid stored filter)
	}
	if cl, ok := s.addressee(ev); ok {
		if cl == uuid.Nil || ep.ClientID != cl {
			return false
		}
	} else if ev.To != uuid.Nil {
		if ev.To != endpoint || ep.TenantID != ev.TenantID {
			return false
		}
		if ev.Type == herald.TestEventType {
			return true
		}
	}
	return s.route(ev.Type).has[endpoint] && admits(ep.TenantID, s.filters[endpoint], ev)
}

// addressee tells whether ev is a test event addressed to a client (ok)
// and which: the client when it belongs to the event's tenant, uuid.Nil
// (reaching nobody) when it does not. A test send names an endpoint: not
// ok.
func (s *Snapshot) addressee(ev Event) (client uuid.UUID, ok bool) {
	if ev.To == uuid.Nil {
		return uuid.Nil, false
	}
	cl := s.clientsID[ev.To]
	if cl == nil {
		return uuid.Nil, false
	}
	if cl.TenantID != ev.TenantID {
		return uuid.Nil, true
	}
	return cl.ID, true
}

// admits is the part of the rule that depends on the event, for a
// subscriber of tenant that the type's route picked.
func admits(tenant uuid.UUID, f *filter.Filter, ev Event) bool {
	if !visibleTo(ev.Type, ev.TenantID, tenant) {
		return false
	}
	if f == nil {
		return true
	}
	if ev.Attrs == nil {
		return f.Match(noAttrs{})
	}
	return f.Match(ev.Attrs)
}

// tenantBound reports whether events of a type reach only the tenant they
// are about: Herald's operational events, whose subjects are one tenant's
// endpoints and deliveries.
func tenantBound(typeName string) bool { return herald.IsOperational(typeName) }

// visibleTo reports whether an event of eventTenant may reach tenant as far
// as tenant-bound types go (other types: always).
func visibleTo(typeName string, eventTenant, tenant uuid.UUID) bool {
	return !tenantBound(typeName) || eventTenant == tenant
}

// keep returns the elements of all that ok accepts, all itself when it
// accepts every one.
func keep[T any](all []T, ok func(T) bool) []T {
	for i, v := range all {
		if ok(v) {
			continue
		}
		out := append(make([]T, 0, len(all)-1), all[:i]...)
		for _, w := range all[i+1:] {
			if ok(w) {
				out = append(out, w)
			}
		}
		return out
	}
	return all
}

// Reach describes which stored events an endpoint can receive, so that a
// query selecting them (a replay's pages) reads no others. It narrows; the
// answer for each event is still Receives.
type Reach struct {
	Endpoint *herald.Endpoint
	// Types are the registered types the endpoint receives from any tenant;
	// OwnTypes those it receives only from its own tenant (tenant-bound),
	// with the type of plain test sends, which are addressed to it. Both
	// are sorted.
	Types, OwnTypes []string
	// Filtered is true when the endpoint has a filter, so deciding needs the
	// event's attributes.
	Filtered bool
}

// Reach returns what the endpoint can receive, and false when it receives
// nothing at all (disabled, deleted or unroutable).
func (s *Snapshot) Reach(endpoint uuid.UUID) (Reach, bool) {
	ep := s.endpointsID[endpoint]
	if ep == nil {
		return Reach{}, false
	}
	out := Reach{Endpoint: ep, Filtered: s.filters[endpoint] != nil}
	for name := range s.types {
		switch {
		case !s.route(name).has[endpoint]:
		case tenantBound(name):
			out.OwnTypes = append(out.OwnTypes, name)
		default:
			out.Types = append(out.Types, name)
		}
	}
	out.OwnTypes = append(out.OwnTypes, herald.TestEventType)
	slices.Sort(out.Types)
	slices.Sort(out.OwnTypes)
	return out, true
}

// StoredEvent is the routing view of a stored event. Its body is parsed
// only if a filter asks for an attribute, and then once.
func StoredEvent(e *postgres.RoutedEvent) Event {
	return Event{Type: e.Type, TenantID: e.TenantID, To: e.To, Attrs: &storedAttrs{body: e.Body}}
}

// storedAttrs shows a stored body (CloudEvents structured JSON) to filters.
type storedAttrs struct {
	body   []byte
	parsed bool
	ev     *cloudevents.Event // nil when the body does not parse
}

func (s *storedAttrs) event() filter.Event {
	if !s.parsed {
		s.parsed = true
		s.ev, _ = cloudevents.ParseStored(s.body)
	}
	if s.ev == nil {
		// Stored bodies were valid when stored; one that no longer parses
		// shows no attributes, so filters that test any refuse it.
		return noAttrs{}
	}
	return CloudEvent(s.ev)
}

func (s *storedAttrs) Attr(name string) (string, bool) { return s.event().Attr(name) }
func (s *storedAttrs) Ext(name string) (any, bool)     { return s.event().Ext(name) }
func (s *storedAttrs) Data() []byte                    { return s.event().Data() }

// noAttrs is an event with no attributes, extensions or data.
type noAttrs struct{}

func (noAttrs) Attr(string) (string, bool) { return "", false }
func (noAttrs) Ext(string) (any, bool)     { return nil, false }
func (noAttrs) Data() []byte               { return nil }

// CloudEvent shows a parsed CloudEvent to filters.
func CloudEvent(e *cloudevents.Event) filter.Event { return cloudEvent{e} }

type cloudEvent struct{ e *cloudevents.Event }

func (f cloudEvent) Attr(name string) (string, bool) {
	e := f.e
	var v string
	switch name {
	case "id":
		v = e.ID
	case "source":
		v = e.Source
	case "type":
		v = e.Type
	case "specversion":
		v = e.SpecVersion
	case "subject":
		v = e.Subject
	case "datacontenttype":
		v = e.DataContentType
	case "dataschema":
		v = e.DataSchema
	case "time":
		if e.Time.IsZero() {
			return "", false
		}
		return e.Time.Format(time.RFC3339Nano), true
	}
	return v, v != ""
}

func (f cloudEvent) Ext(name string) (any, bool) {
	v, ok := f.e.Extensions[name]
	return v, ok
}

func (f cloudEvent) Data() []byte {
	if !f.e.DataIsJSON() {
		return nil
	}
	return f.e.Data
}

// GroupReach describes which stored events a consumer group's log can
// receive, so that a backfill's pages read no others. It narrows; the
// answer for each event is still Receivers.
type GroupReach struct {
	Group *herald.ConsumerGroup
	// Types are the registered types the group receives from any tenant,
	// OwnTypes those it receives only from its own tenant; both sorted.
	Types, OwnTypes []string
	// Filtered is true when the group has a filter, so deciding needs the
	// event's attributes.
	Filtered bool
}

// GroupReach returns what the group can receive, and false when the
// snapshot does not hold it (deleted, or created after the snapshot).
func (s *Snapshot) GroupReach(group uuid.UUID) (GroupReach, bool) {
	g := s.groupsID[group]
	if g == nil {
		return GroupReach{}, false
	}
	out := GroupReach{Group: g, Filtered: s.groups.filters[group] != nil}
	for name := range s.types {
		switch {
		case !slices.Contains(s.route(name).groups, g):
		case tenantBound(name):
			out.OwnTypes = append(out.OwnTypes, name)
		default:
			out.Types = append(out.Types, name)
		}
	}
	slices.Sort(out.Types)
	slices.Sort(out.OwnTypes)
	return out, true
}

// ReceivedBy reports whether the receivers include the consumer group.
func (r Receivers) ReceivedBy(group uuid.UUID) bool {
	return slices.ContainsFunc(r.Groups, func(g *herald.ConsumerGroup) bool { return g.ID == group })
}
