package queue

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/postgres"
)

func TestDeliveryJobs(t *testing.T) {
	t.Parallel()
	a, b, c := uuid.New(), uuid.New(), uuid.New()
	for _, tc := range []struct {
		name string
		eps  []uuid.UUID
		want []int // deliveries per job, in order; 1 means a DeliverArgs job
	}{
		{"none", nil, nil},
		{"one", []uuid.UUID{a}, []int{1}},
		{"two endpoints, one each", []uuid.UUID{a, b}, []int{1, 1}},
		{"grouped by endpoint, first-seen order", []uuid.UUID{a, b, a, c, b, a}, []int{3, 2, 1}},
		{"split at the batch size", repeat(a, MaxDeliveryBatch*2+1), []int{MaxDeliveryBatch, MaxDeliveryBatch, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			keys := make([]postgres.DeliveryKey, len(tc.eps))
			for i := range keys {
				keys[i] = postgres.DeliveryKey{ID: uuid.New(), CreatedAt: time.Unix(int64(i), 0)}
			}
			jobs := DeliveryJobs(keys, func(i int) uuid.UUID { return tc.eps[i] })
			if len(jobs) != len(tc.want) {
				t.Fatalf("%d jobs, want %d", len(jobs), len(tc.want))
			}
			seen := map[uuid.UUID]bool{}
			for i, j := range jobs {
				var ids []uuid.UUID
				switch args := j.Args.(type) {
				case DeliverArgs:
					ids = []uuid.UUID{args.DeliveryID}
				case DeliverBatchArgs:
					if len(args.Deliveries) < 2 {
						t.Fatalf("job %d: a batch of %d", i, len(args.Deliveries))
					}
					for _, it := range args.Deliveries {
						ids = append(ids, it.DeliveryID)
					}
				}
				if len(ids) != tc.want[i] {
					t.Fatalf("job %d has %d deliveries, want %d", i, len(ids), tc.want[i])
				}
				for _, id := range ids {
					if seen[id] {
						t.Fatalf("delivery %s in two jobs", id)
					}
					seen[id] = true
				}
			}
			if len(seen) != len(keys) {
				t.Fatalf("%d of %d deliveries have a job", len(seen), len(keys))
			}
		})
	}
}

func repeat(id uuid.UUID, n int) []uuid.UUID {
	out := make([]uuid.UUID, n)
	for i := range out {
		out[i] = id
	}
	return out
}
