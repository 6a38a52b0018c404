package pull

import (
	"slices"

	"github.com/google/uuid"
)

// Rebalance returns who holds each partition after a change of instances:
// owners is the current holder of each partition (uuid.Nil: none), live the
// group's instances in the order they joined. Each live instance gets an
// equal share (12/n; with n not dividing 12 the first ones get one more),
// the instances holding most keep the larger shares, and a partition moves
// only when its holder is gone or holds more than its share, so a join or a
// leave moves as few partitions as possible. Every partition has exactly one
// holder while an instance is live.
func Rebalance(owners []uuid.UUID, live []uuid.UUID) []uuid.UUID {
	out := make([]uuid.UUID, len(owners))
	if len(live) == 0 {
		return out
	}
	held := make(map[uuid.UUID]int, len(live))
	for _, id := range live {
		held[id] = 0
	}
	for _, o := range owners {
		if _, ok := held[o]; ok {
			held[o]++
		}
	}
	order := slices.Clone(live)
	slices.SortStableFunc(order, func(a, b uuid.UUID) int { return held[b] - held[a] })
	quota := make(map[uuid.UUID]int, len(live))
	base, extra := len(owners)/len(live), len(owners)%len(live)
	for i, id := range order {
		quota[id] = base
		if i < extra {
			quota[id]++
		}
	}
	kept := make(map[uuid.UUID]int, len(live))
	for p, o := range owners {
		if q, ok := quota[o]; ok && kept[o] < q {
			out[p] = o
			kept[o]++
		}
	}
	next := 0
	for p := range out {
		if out[p] != uuid.Nil {
			continue
		}
		for kept[order[next]] >= quota[order[next]] {
			next++
		}
		out[p] = order[next]
		kept[order[next]]++
	}
	return out
}
