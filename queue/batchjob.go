package queue

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/heraldhq/herald/internal/postgres"
)

// DeliverBatchArgs is the job that makes the first attempt of several new
// deliveries to one endpoint at once. One River job per delivery costs
// PostgreSQL an insert, a fetch and a completion each, a large share of its
// work per delivery; ingest therefore gives the deliveries of one commit to
// one endpoint a job per batch. Deliveries that must be tried again get
// jobs of their own, so retries keep their individual schedule.
type DeliverBatchArgs struct {
	// Deliveries are the batch's deliveries (at most MaxDeliveryBatch).
	Deliveries []BatchItem `json:"b"`
}

// BatchItem names one delivery of a batch.
type BatchItem struct {
	DeliveryID uuid.UUID `json:"d"`
	// CreatedAt is the delivery's partition timestamp.
	CreatedAt time.Time `json:"t"`
	// Gen is the delivery's job generation (see DeliverArgs.Gen).
	Gen int32 `json:"g,omitempty"`
}

// Kind names the job for River.
func (DeliverBatchArgs) Kind() string { return "herald.deliver_batch" }

// InsertOpts places batches on the delivery queue.
func (DeliverBatchArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueDeliveries, MaxAttempts: maxJobAttempts}
}

// MaxDeliveryBatch bounds the deliveries of one batch job: they are sent in
// parallel, so it also bounds the requests one job makes to its endpoint at
// once.
const MaxDeliveryBatch = 32

// DeliveryJobs builds the jobs of new deliveries: a DeliverArgs job for a
// delivery alone to its endpoint, batch jobs of up to MaxDeliveryBatch for
// several to the same endpoint. endpoint gives each delivery's endpoint.
func DeliveryJobs(keys []postgres.DeliveryKey, endpoint func(i int) uuid.UUID) []river.InsertManyParams {
	groups := make(map[uuid.UUID][]BatchItem)
	var order []uuid.UUID
	for i, k := range keys {
		ep := endpoint(i)
		if _, seen := groups[ep]; !seen {
			order = append(order, ep)
		}
		groups[ep] = append(groups[ep], BatchItem{DeliveryID: k.ID, CreatedAt: k.CreatedAt, Gen: k.Gen})
	}
	jobs := make([]river.InsertManyParams, 0, len(order))
	for _, ep := range order {
		items := groups[ep]
		for len(items) > 0 {
			n := min(len(items), MaxDeliveryBatch)
			if n == 1 {
				it := items[0]
				jobs = append(jobs, river.InsertManyParams{Args: DeliverArgs{DeliveryID: it.DeliveryID, CreatedAt: it.CreatedAt, Gen: it.Gen}})
			} else {
				jobs = append(jobs, river.InsertManyParams{Args: DeliverBatchArgs{Deliveries: items[:n:n]}})
			}
			items = items[n:]
		}
	}
	return jobs
}

type deliverBatchWorker struct {
	river.WorkerDefaults[DeliverBatchArgs]
	q       *Queue
	timeout time.Duration
}

func (w *deliverBatchWorker) Timeout(*river.Job[DeliverBatchArgs]) time.Duration { return w.timeout }

// Work makes the first attempt of every delivery of the batch in parallel.
// Those that must wait (a retry, a pending endpoint, an open circuit, a
// rate-limit slot) are handed to jobs of their own, due then, in one
// insert; the batch completes when all are settled or handed on. If
// anything fails the whole batch is retried by River: deliveries already
// settled are skipped, so the retry only repeats attempts that were due.
func (w *deliverBatchWorker) Work(ctx context.Context, job *river.Job[DeliverBatchArgs]) error {
	later, err := w.q.attemptBatch(ctx, job.Args.Deliveries)
	if err != nil {
		return err
	}
	if len(later) > 0 {
		if _, err := w.q.client.InsertMany(ctx, later); err != nil {
			return fmt.Errorf("delivery batch: schedule %d retries: %w", len(later), err)
		}
	}
	return nil
}

// attemptBatch makes the first attempt of every delivery of a batch in
// parallel, and returns the jobs of those that must wait, due then. An
// error means the batch must run again.
func (q *Queue) attemptBatch(ctx context.Context, items []BatchItem) ([]river.InsertManyParams, error) {
	waits := make([]time.Duration, len(items))
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	for i, it := range items {
		wg.Go(func() {
			waits[i], errs[i] = q.attempts.Deliver(ctx, postgres.DeliveryKey{ID: it.DeliveryID, CreatedAt: it.CreatedAt, Gen: it.Gen}, 0)
		})
	}
	wg.Wait()
	var later []river.InsertManyParams
	now := time.Now()
	for i, it := range items {
		if errs[i] != nil {
			return nil, fmt.Errorf("delivery batch: %w", errs[i])
		}
		if waits[i] > 0 {
			later = append(later, laterJob(it, now.Add(waits[i]), waits[i]))
		}
	}
	return later, nil
}

// laterJob is the job of a delivery that must wait wait, until at.
func laterJob(it BatchItem, at time.Time, wait time.Duration) river.InsertManyParams {
	p := river.InsertManyParams{Args: DeliverArgs{DeliveryID: it.DeliveryID, CreatedAt: it.CreatedAt, NotBefore: at.UnixMicro(), Gen: it.Gen}}
	if wait > maxPreciseSnooze {
		// Long waits need no precision: park the job until then.
		p.InsertOpts = &river.InsertOpts{ScheduledAt: at}
	}
	return p
}
