package catalog

import (
	"log/slog"
	"sync"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/filter"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/route"
)

// connectorIndex routes events to enabled connectors the way endpoints are
// routed: type patterns in a trie, optional filters, consume rights.
type connectorIndex struct {
	index   *route.Index[*herald.Connector]
	filters map[uuid.UUID]*filter.Filter
	routes  sync.Map // type name → []*herald.Connector
}

func buildConnectors(logger *slog.Logger, list []*herald.Connector) *connectorIndex {
	b := route.NewIndex[*herald.Connector]()
	ci := &connectorIndex{filters: map[uuid.UUID]*filter.Filter{}}
	for _, c := range list {
		if len(c.Filter) > 0 {
			f, err := filter.Parse(c.Filter)
			if err != nil {
				logger.Error("stored connector filter is invalid; the connector receives nothing", "connector", c.ID, "error", err)
				continue
			}
			ci.filters[c.ID] = f
		}
		for _, p := range c.Types {
			if err := b.Add(p, c); err != nil {
				logger.Error("stored connector pattern is invalid", "connector", c.ID, "pattern", p, "error", err)
			}
		}
	}
	ci.index = b.Build()
	return ci
}

// Connectors returns the enabled connectors that receive events of the
// named type: a pattern matches and the connector's client may consume the
// type (the rule endpoints follow). The result is shared; callers must not
// modify it.
func (s *Snapshot) Connectors(typeName string) []*herald.Connector {
	ci := s.connectors
	if ci == nil {
		return nil
	}
	if v, ok := ci.routes.Load(typeName); ok {
		return v.([]*herald.Connector)
	}
	te := s.types[typeName]
	var out []*herald.Connector
	if te != nil {
		for _, c := range ci.index.Match(typeName, nil) {
			if s.clientMayConsume(c.ClientID, c.TenantID, te.Type) {
				out = append(out, c)
			}
		}
	}
	ci.routes.Store(typeName, out)
	return out
}

// ConnectorFilter returns a connector's compiled filter, or nil (match
// everything).
func (s *Snapshot) ConnectorFilter(id uuid.UUID) *filter.Filter {
	if s.connectors == nil {
		return nil
	}
	return s.connectors.filters[id]
}

// clientMayConsume applies the endpoint rule to any subscriber acting for a
// client of a tenant.
func (s *Snapshot) clientMayConsume(client, tenant uuid.UUID, t *herald.EventType) bool {
	cl := s.clientsID[client]
	if cl == nil || cl.TenantID != tenant {
		return false
	}
	tn := s.tenants[cl.TenantID]
	platformAdmin := tn != nil && tn.Platform && cl.Has(herald.RoleAdmin)
	return t.MayConsume(cl, platformAdmin)
}
