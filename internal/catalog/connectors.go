package catalog

import (
	"log/slog"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/filter"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/route"
)

// subscriberIndex holds receivers other than endpoints (hosted connectors,
// consumer groups) for routing (receivers.go), which treats them as it
// treats endpoints: type patterns in a trie, optional filters, consume
// rights.
type subscriberIndex[T comparable] struct {
	index   *route.Index[T]
	filters map[uuid.UUID]*filter.Filter
}

// subscriber is what the index reads of a receiver.
type subscriber struct {
	id     uuid.UUID
	types  []string
	filter []byte
}

// buildIndex indexes list; kind names the receivers in log messages. A
// receiver whose stored filter no longer parses receives nothing.
func buildIndex[T comparable](logger *slog.Logger, kind string, list []T, view func(T) subscriber) *subscriberIndex[T] {
	b := route.NewIndex[T]()
	si := &subscriberIndex[T]{filters: map[uuid.UUID]*filter.Filter{}}
	for _, v := range list {
		sub := view(v)
		if len(sub.filter) > 0 {
			f, err := filter.Parse(sub.filter)
			if err != nil {
				logger.Error("stored "+kind+" filter is invalid; the "+kind+" receives nothing", kind, sub.id, "error", err)
				continue
			}
			si.filters[sub.id] = f
		}
		for _, p := range sub.types {
			if err := b.Add(p, v); err != nil {
				logger.Error("stored "+kind+" pattern is invalid", kind, sub.id, "pattern", p, "error", err)
			}
		}
	}
	si.index = b.Build()
	return si
}

func buildConnectors(logger *slog.Logger, list []*herald.Connector) *subscriberIndex[*herald.Connector] {
	return buildIndex(logger, "connector", list, func(c *herald.Connector) subscriber {
		return subscriber{id: c.ID, types: c.Types, filter: c.Filter}
	})
}

func buildGroups(logger *slog.Logger, list []*herald.ConsumerGroup) *subscriberIndex[*herald.ConsumerGroup] {
	return buildIndex(logger, "group", list, func(g *herald.ConsumerGroup) subscriber {
		return subscriber{id: g.ID, types: g.Types, filter: g.Filter}
	})
}
