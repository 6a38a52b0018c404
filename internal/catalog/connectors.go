package catalog

import (
	"log/slog"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/filter"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/route"
)

// connectorIndex holds the enabled connectors for routing (receivers.go),
// which treats them as it treats endpoints: type patterns in a trie,
// optional filters, consume rights.
type connectorIndex struct {
	index   *route.Index[*herald.Connector]
	filters map[uuid.UUID]*filter.Filter
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
