package queue

import (
	"context"
	"time"

	"github.com/riverqueue/river"
)

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
