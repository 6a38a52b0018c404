package queue

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/internal/route"
)

// ReplayArgs is the background job that resends stored events to one
// endpoint; its progress lives in the replays table.
type ReplayArgs struct {
	ReplayID uuid.UUID `json:"r"`
}

// Kind names the job for River.
func (ReplayArgs) Kind() string { return "herald.replay" }

// InsertOpts keeps replays off the delivery queue, so a big one never
// delays live deliveries' fetches.
func (ReplayArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueMaintenance, MaxAttempts: maxJobAttempts}
}

// Routes tells whether an endpoint currently receives a type (its patterns
// match and its consumer may consume the type).
type Routes interface {
	Receives(ctx context.Context, endpoint uuid.UUID, eventType string) (bool, error)
}

// replayPage is how many events one step examines, and replayStepsPerRun
// how many steps one job run makes before yielding (runs stay well inside
// the job timeout; progress is committed after every step).
const (
	replayPage        = 500
	replayStepsPerRun = 20
)

type replayWorker struct {
	river.WorkerDefaults[ReplayArgs]
	q      *Queue
	routes Routes
}

// Work examines pages of the replay's events, queueing a delivery for each
// one the endpoint receives, and commits progress page by page.
func (w *replayWorker) Work(ctx context.Context, job *river.Job[ReplayArgs]) error {
	store := w.q.store
	r, err := store.ReplayGet(ctx, job.Args.ReplayID)
	if err != nil {
		return fmt.Errorf("replay %s: %w", job.Args.ReplayID, err)
	}
	if r.Status != "running" {
		return nil
	}
	for range replayStepsPerRun {
		evs, err := store.ReplayPage(ctx, r, replayPage)
		if err != nil {
			return err
		}
		var ds []*herald.Delivery
		for _, ev := range evs {
			if len(r.Types) > 0 && !matchesAny(r.Types, ev.Type) {
				continue
			}
			ok, err := w.routes.Receives(ctx, r.EndpointID, ev.Type)
			if err != nil {
				return fmt.Errorf("replay %s: %w", r.ID, err)
			}
			if ok {
				ds = append(ds, &herald.Delivery{ID: herald.NewID(ev.ReceivedAt), CreatedAt: ev.ReceivedAt, EventID: ev.ID})
			}
		}
		if len(evs) > 0 {
			r.Cursor = evs[len(evs)-1].ID
		}
		done := len(evs) < replayPage
		err = pgx.BeginFunc(ctx, w.q.pool, func(tx pgx.Tx) error {
			if err := store.ReplayAdvance(ctx, tx, r, ds, len(evs), done); err != nil {
				return err
			}
			if len(ds) == 0 {
				return nil
			}
			keys := make([]postgres.DeliveryKey, len(ds))
			for i, d := range ds {
				keys[i] = postgres.DeliveryKey{ID: d.ID, CreatedAt: d.CreatedAt}
			}
			_, err := w.q.client.InsertManyTx(ctx, tx, DeliveryJobs(keys, func(int) uuid.UUID { return r.EndpointID }))
			return err
		})
		if err != nil {
			return fmt.Errorf("replay %s: %w", r.ID, err)
		}
		if done {
			return nil
		}
	}
	return river.JobSnooze(0) // more to do: continue in a fresh run
}

func matchesAny(patterns []string, typ string) bool {
	for _, p := range patterns {
		if route.Match(p, typ) {
			return true
		}
	}
	return false
}

// StartReplay records a replay and enqueues its job in one transaction.
func (q *Queue) StartReplay(ctx context.Context, r *postgres.Replay) error {
	return pgx.BeginFunc(ctx, q.pool, func(tx pgx.Tx) error {
		if err := q.store.ReplayCreate(ctx, tx, r); err != nil {
			return err
		}
		if _, err := q.client.InsertTx(ctx, tx, ReplayArgs{ReplayID: r.ID}, nil); err != nil {
			return fmt.Errorf("enqueue replay %s: %w", r.ID, err)
		}
		return nil
	})
}
