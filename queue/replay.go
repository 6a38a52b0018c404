package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/heraldhq/herald/internal/catalog"
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

// replayPage is how many events one step examines, and replayStepsPerRun
// how many steps one job run makes before yielding (runs stay well inside
// the job timeout; progress is committed after every step).
const (
	replayPage        = 500
	replayStepsPerRun = 20
)

type replayWorker struct {
	river.WorkerDefaults[ReplayArgs]
	q *Queue
}

// Work moves a replay on: it pages through the events of its range that
// its endpoint receives, queueing a delivery for each, then watches those
// deliveries until none is pending and ends the replay done or failed.
func (w *replayWorker) Work(ctx context.Context, job *river.Job[ReplayArgs]) error {
	err := w.work(ctx, job.Args.ReplayID)
	var snooze *rivertype.JobSnoozeError
	if err != nil && !errors.As(err, &snooze) && job.Attempt >= job.MaxAttempts {
		// River discards the job now: end the replay visibly rather than
		// leave it running with nobody working on it.
		w.q.logger.Error("replay stopped after repeated errors", "replay", job.Args.ReplayID, "error", err)
		if ferr := w.q.store.ReplayFail(context.WithoutCancel(ctx), job.Args.ReplayID,
			"the replay stopped after repeated errors; the server log has the details"); ferr != nil {
			w.q.logger.Error("mark replay failed", "replay", job.Args.ReplayID, "error", ferr)
		}
	}
	return err
}

func (w *replayWorker) work(ctx context.Context, id uuid.UUID) error {
	store := w.q.store
	r, err := store.ReplayGet(ctx, id)
	if errors.Is(err, herald.ErrNotFound) {
		return nil // deleted with its endpoint
	}
	if err != nil {
		return fmt.Errorf("replay %s: %w", id, err)
	}
	if r.Status != postgres.ReplayRunning {
		return nil
	}
	if r.ScannedAt.IsZero() {
		snap, err := w.q.snapshot(ctx)
		if err != nil {
			return fmt.Errorf("replay %s: %w", id, err)
		}
		reach, ok := snap.Reach(r.EndpointID)
		if !ok {
			return store.ReplayFail(ctx, r.ID,
				fmt.Sprintf("endpoint %s was disabled or deleted; enable it and start a new replay", r.EndpointID))
		}
		scope := replayScope(reach, r.Types)
		for step := 0; r.ScannedAt.IsZero(); step++ {
			if step == replayStepsPerRun {
				return river.JobSnooze(0) // more to do: continue in a fresh run
			}
			if err := w.page(ctx, snap, reach.Endpoint, scope, r); err != nil {
				return fmt.Errorf("replay %s: %w", id, err)
			}
		}
	}
	c, err := store.ReplayCount(ctx, r)
	if err != nil {
		return err
	}
	status, reason := replayOutcome(c)
	if err := store.ReplaySettle(ctx, r.ID, c, status, reason); err != nil {
		return err
	}
	if status == postgres.ReplayRunning {
		return river.JobSnooze(replayCheckDelay(time.Since(r.ScannedAt)))
	}
	return nil
}

// page examines the next page of the replay's events and queues a delivery
// for each one the endpoint receives, exactly as ingest would (an ordered
// endpoint's keyed deliveries join their key's queue in seq order), with
// the cursor, in one transaction.
func (w *replayWorker) page(ctx context.Context, snap *catalog.Snapshot, ep *herald.Endpoint, scope postgres.ReplayScope, r *postgres.Replay) error {
	store := w.q.store
	evs, err := store.ReplayPage(ctx, r, scope, replayPage)
	if err != nil {
		return err
	}
	var ds []*herald.Delivery
	var keys []string
	for _, ev := range evs {
		if !snap.Receives(catalog.StoredEvent(ev), ep.ID) {
			continue
		}
		ds = append(ds, &herald.Delivery{ID: herald.NewID(ev.ReceivedAt), CreatedAt: ev.ReceivedAt, EventID: ev.ID,
			EndpointID: ep.ID, TenantID: ep.TenantID, Status: herald.DeliveryPending})
		keys = append(keys, ep.OrderKey(ev.PartitionKey))
	}
	if len(evs) > 0 {
		r.CursorSeq = evs[len(evs)-1].Seq
	}
	last := len(evs) < replayPage
	err = pgx.BeginFunc(ctx, w.q.pool, func(tx pgx.Tx) error {
		if err := store.ReplayAdvance(ctx, tx, r, ds, len(evs), last); err != nil {
			return err
		}
		jobs, err := PlaceDeliveries(ctx, tx, store, ds, func(i int) string { return keys[i] })
		if err != nil || len(jobs) == 0 {
			return err
		}
		_, err = w.q.client.InsertManyTx(ctx, tx, jobs)
		return err
	})
	if err != nil {
		return err
	}
	if last {
		r.ScannedAt = time.Now()
	}
	return nil
}

// replayScope narrows the replay's pages to what its endpoint can receive,
// and to the replay's own type patterns (none: all).
func replayScope(reach catalog.Reach, patterns []string) postgres.ReplayScope {
	narrow := func(types []string) []string {
		if len(patterns) == 0 {
			return types
		}
		var out []string
		for _, t := range types {
			if matchesAny(patterns, t) {
				out = append(out, t)
			}
		}
		return out
	}
	return postgres.ReplayScope{Types: narrow(reach.Types), OwnTypes: narrow(reach.OwnTypes),
		TenantID: reach.Endpoint.TenantID, EndpointID: reach.Endpoint.ID, WithBody: reach.Filtered}
}

// replayOutcome is the status of a replay whose cursor is at the end, given
// its deliveries: running while any is pending, then done when all were
// delivered, failed (saying how many) when some exhausted their attempts.
func replayOutcome(c postgres.ReplayCounts) (status, reason string) {
	switch {
	case c.Pending > 0:
		return postgres.ReplayRunning, ""
	case c.Failed > 0:
		return postgres.ReplayFailed, fmt.Sprintf("%d of %d deliveries failed after their last attempt",
			c.Failed, c.Failed+c.Delivered)
	}
	return postgres.ReplayDone, ""
}

// replayCheckDelay is how long a replay waits before counting its pending
// deliveries again: a quarter of the time since its scan ended, between
// half a second and a minute, so a quick replay ends quickly and a long
// one costs a query a minute.
func replayCheckDelay(sinceScan time.Duration) time.Duration {
	return min(max(sinceScan/4, 500*time.Millisecond), time.Minute)
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
