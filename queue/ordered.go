package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/postgres"
)

// DrainArgs is the job that sends the queued deliveries of one partition key
// to one ordered endpoint, one at a time and in order. There is at most one
// per key: it is inserted when an append activates the key, and it ends by
// deactivating the key once the queue is empty (see migrations/0002).
type DrainArgs struct {
	EndpointID uuid.UUID `json:"e"`
	Key        string    `json:"k"`
}

// Kind names the job for River.
func (DrainArgs) Kind() string { return "herald.drain" }

// InsertOpts places drain jobs on the delivery queue: a drain job is one
// delivery at a time, like a delivery job.
func (DrainArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueDeliveries, MaxAttempts: maxJobAttempts}
}

// DrainJobs builds the drain jobs of the keys an append activated.
func DrainJobs(keys []postgres.OrderedKey) []river.InsertManyParams {
	jobs := make([]river.InsertManyParams, len(keys))
	for i, k := range keys {
		jobs[i] = river.InsertManyParams{Args: DrainArgs{EndpointID: k.EndpointID, Key: k.Key}}
	}
	return jobs
}

// PlaceDeliveries places new deliveries, in tx, the way ingest does: a delivery
// whose orderKey(i) is not "" joins that key's queue at its (ordered)
// endpoint, in the order given, and each key this activates gets a drain
// job; the others get delivery jobs, batched per endpoint. It returns the
// jobs, for the caller to insert in tx.
func PlaceDeliveries(ctx context.Context, tx postgres.DBTX, store *postgres.Store, ds []*herald.Delivery, orderKey func(i int) string) ([]river.InsertManyParams, error) {
	var ordered []postgres.OrderedItem
	var plain []postgres.DeliveryKey
	var plainEndpoints []uuid.UUID
	for i, d := range ds {
		if key := orderKey(i); key != "" {
			ordered = append(ordered, postgres.OrderedItem{
				OrderedKey: postgres.OrderedKey{EndpointID: d.EndpointID, Key: key}, DeliveryID: d.ID, CreatedAt: d.CreatedAt})
			continue
		}
		plain = append(plain, postgres.DeliveryKey{ID: d.ID, CreatedAt: d.CreatedAt})
		plainEndpoints = append(plainEndpoints, d.EndpointID)
	}
	jobs := DeliveryJobs(plain, func(i int) uuid.UUID { return plainEndpoints[i] })
	if len(ordered) > 0 {
		activated, err := store.OrderedAppend(ctx, tx, ordered)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, DrainJobs(activated)...)
	}
	return jobs, nil
}

const (
	// drainChunk is how many queued deliveries one query reads ahead.
	drainChunk = 32
	// drainBudget bounds one run of a drain job, well inside the job
	// timeout; a busy key then yields its worker and continues in a new run
	// (at once when the node is stopping).
	drainBudget = 10 * time.Second
)

type drainWorker struct {
	river.WorkerDefaults[DrainArgs]
	q       *Queue
	timeout time.Duration
}

func (w *drainWorker) Timeout(*river.Job[DrainArgs]) time.Duration { return w.timeout + drainBudget }

// Work sends the key's deliveries in position order. A delivery that must
// wait (a retry, a pending endpoint, an open circuit, a rate-limit slot)
// holds back the deliveries behind it: the job snoozes for that wait and
// starts from the same delivery. Settled deliveries leave the queue; a
// crash between settling and leaving only means the next run skips it.
func (w *drainWorker) Work(ctx context.Context, job *river.Job[DrainArgs]) error {
	k := postgres.OrderedKey{EndpointID: job.Args.EndpointID, Key: job.Args.Key}
	store := w.q.store
	deadline := time.Now().Add(drainBudget)
	var settled int64 // entries up to this position are done
	for {
		next, err := store.OrderedNext(ctx, k, settled, drainChunk)
		if err != nil {
			return err
		}
		if len(next) == 0 {
			done, err := store.OrderedRelease(ctx, k, settled)
			if err != nil || done {
				return err
			}
			continue // appended meanwhile
		}
		for _, e := range next {
			dk := e.DeliveryKey
			dk.Gen = delivery.AnyGen
			wait, err := w.q.attempts.Deliver(ctx, dk, snoozes(job.Metadata))
			if err != nil {
				return w.keep(ctx, k, settled, fmt.Errorf("drain %s: %w", k.EndpointID, err))
			}
			if wait > 0 {
				return w.keep(ctx, k, settled, river.JobSnooze(wait))
			}
			settled = e.Pos
			if time.Now().After(deadline) || w.q.stopping.Load() {
				return w.keep(ctx, k, settled, river.JobSnooze(0))
			}
		}
	}
}

// keep saves the drain's progress before the job ends with result (a
// snooze or an error), so the next run need not skip settled deliveries.
func (w *drainWorker) keep(ctx context.Context, k postgres.OrderedKey, settled int64, result error) error {
	if settled > 0 {
		if err := w.q.store.OrderedSettle(context.WithoutCancel(ctx), k, settled); err != nil {
			w.q.logger.Warn("save ordered progress", "endpoint", k.EndpointID, "error", err)
		}
	}
	return result
}

// wakeDrain makes the drain job of an ordered key run now: it may be
// snoozed until its head's next attempt. A drain that is running needs
// nothing when it is mid-attempt (that attempt is the retry), but River
// records a snooze a moment after the job returns, so a job still marked
// running is looked at again for a few seconds before giving up.
func (q *Queue) wakeDrain(ctx context.Context, k postgres.OrderedKey) error {
	deadline := time.Now().Add(drainWakeWait)
	for {
		id, ok, err := q.store.OrderedDrainJob(ctx, DrainArgs{}.Kind(), k)
		if err != nil {
			return err
		}
		if ok {
			if _, err := q.client.JobRetry(ctx, id); err != nil {
				return fmt.Errorf("wake the drain of %s: %w", k.EndpointID, err)
			}
			return nil
		}
		if time.Now().After(deadline) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// drainWakeWait bounds how long a retry by hand waits for a drain job that
// is marked running to become one it can wake.
const drainWakeWait = 5 * time.Second

// restartOrphans gives a new drain job to every ordered key that has
// deliveries waiting but lost its job.
func (q *Queue) restartOrphans(ctx context.Context) error {
	keys, err := q.store.OrderedOrphans(ctx, DrainArgs{}.Kind())
	if err != nil || len(keys) == 0 {
		return err
	}
	if _, err := q.client.InsertMany(ctx, DrainJobs(keys)); err != nil {
		return fmt.Errorf("restart ordered drains: %w", err)
	}
	q.logger.Warn("restarted the drain of ordered keys that had lost their job", "keys", len(keys))
	return nil
}
