package pull_test

import (
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/pull"
)

func ids(n int) []uuid.UUID {
	out := make([]uuid.UUID, n)
	for i := range out {
		out[i] = uuid.MustParse(fmt.Sprintf("00000000-0000-0000-0000-%012d", i+1))
	}
	return out
}

// shares counts the partitions each instance holds and fails when a
// partition has no holder while instances are live.
func shares(t *testing.T, owners, live []uuid.UUID) map[uuid.UUID]int {
	t.Helper()
	out := map[uuid.UUID]int{}
	for p, o := range owners {
		if o == uuid.Nil {
			if len(live) > 0 {
				t.Fatalf("partition %d has no holder with %d instances", p, len(live))
			}
			continue
		}
		out[o]++
	}
	return out
}

func moves(before, after []uuid.UUID) int {
	n := 0
	for p := range before {
		if before[p] != uuid.Nil && before[p] != after[p] {
			n++
		}
	}
	return n
}

// TestRebalance: each of n instances holds 12/n partitions (one more for
// the first when n does not divide 12), and a join or a leave moves only
// the partitions it has to.
func TestRebalance(t *testing.T) {
	t.Parallel()
	all := ids(13)
	none := make([]uuid.UUID, herald.Partitions)
	tests := []struct {
		name      string
		from      []uuid.UUID // live before (empty: nobody held anything)
		to        []uuid.UUID // live after
		wantMax   int         // the largest share
		wantMin   int
		wantMoves int
	}{
		{"first instance", nil, all[:1], 12, 12, 0},
		{"second joins", all[:1], all[:2], 6, 6, 6},
		{"third joins", all[:2], all[:3], 4, 4, 4},
		{"fourth joins", all[:3], all[:4], 3, 3, 3},
		{"fifth joins", all[:4], all[:5], 3, 2, 2},
		{"sixth joins", all[:5], all[:6], 2, 2, 2},
		{"twelfth joins", all[:11], all[:12], 1, 1, 1},
		{"thirteenth gets nothing", all[:12], all[:13], 1, 0, 0},
		{"one of three leaves", all[:3], all[1:3], 6, 6, 4},
		{"one of four leaves", all[:4], append([]uuid.UUID{all[0]}, all[2:4]...), 4, 4, 3},
		{"all leave", all[:3], nil, 0, 0, 12},
		{"one of twelve leaves", all[:12], all[1:12], 2, 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			before := none
			if len(tc.from) > 0 {
				before = pull.Rebalance(none, tc.from)
			}
			after := pull.Rebalance(before, tc.to)
			got := shares(t, after, tc.to)
			hi, lo := 0, herald.Partitions
			for _, id := range tc.to {
				hi, lo = max(hi, got[id]), min(lo, got[id])
			}
			if len(tc.to) == 0 {
				lo = 0
			}
			if hi != tc.wantMax || lo != tc.wantMin {
				t.Errorf("shares from %d to %d instances: largest %d smallest %d, want %d and %d (%v)",
					len(tc.from), len(tc.to), hi, lo, tc.wantMax, tc.wantMin, got)
			}
			for id := range got {
				found := false
				for _, l := range tc.to {
					found = found || l == id
				}
				if !found {
					t.Errorf("instance %s is gone but holds %d partitions", id, got[id])
				}
			}
			if m := moves(before, after); m != tc.wantMoves {
				t.Errorf("%d partitions moved, want %d", m, tc.wantMoves)
			}
			if again := pull.Rebalance(after, tc.to); moves(after, again) != 0 {
				t.Errorf("a rebalance with nothing changed moved %d partitions", moves(after, again))
			}
		})
	}
}
