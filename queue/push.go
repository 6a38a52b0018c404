package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/heraldhq/herald/internal/postgres"
)

// PushBodyFunc returns what a push channel carries for a stored event: for
// a thin event type, the notification (attributes, the declared fields and
// a dataref), never the full payload.
type PushBodyFunc func(ctx context.Context, event uuid.UUID, typ string, body []byte) ([]byte, error)

// pushBodies replaces the loaded bodies by what may be pushed. Every
// attempt (first sends, retries, recoveries, replays and test sends) loads
// its body through here, so a thin payload cannot leave by another path.
func pushBodies(ctx context.Context, push PushBodyFunc, targets map[uuid.UUID]*postgres.SendTarget) error {
	if push == nil {
		return nil
	}
	for _, t := range targets {
		b, err := push(ctx, t.Delivery.EventID, t.Delivery.EventType, t.Body)
		if err != nil {
			// Only this delivery fails; the others loaded with it go on.
			t.Body, t.RenderErr = nil, fmt.Errorf("render delivery %s: %w", t.Delivery.ID, err)
			continue
		}
		t.Body = b
	}
	return nil
}

// SweepArgs is the periodic job enforcing the retention of thin payloads
// and files.
type SweepArgs struct{}

// Kind names the job for River.
func (SweepArgs) Kind() string { return "herald.payloads.sweep" }

// InsertOpts places the sweep on the maintenance queue.
func (SweepArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: QueueMaintenance} }

// DefaultSweepInterval is how often expired payloads and files are removed.
const DefaultSweepInterval = 10 * time.Minute

func sweepJob(every time.Duration) *river.PeriodicJob {
	if every <= 0 {
		every = DefaultSweepInterval
	}
	return river.NewPeriodicJob(river.PeriodicInterval(every), func() (river.JobArgs, *river.InsertOpts) {
		return SweepArgs{}, nil
	}, &river.PeriodicJobOpts{ID: "herald.payloads.sweep", RunOnStart: true})
}

type sweepWorker struct {
	river.WorkerDefaults[SweepArgs]
	sweep func(ctx context.Context) error
}

// Work runs one sweep.
func (w *sweepWorker) Work(ctx context.Context, _ *river.Job[SweepArgs]) error {
	return w.sweep(ctx)
}
