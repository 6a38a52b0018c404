package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/heraldhq/herald/internal/batch"
)

// Handoff makes the first attempt of new deliveries on the node that
// stored them, right after their commit, instead of waiting for River to
// notify, fetch and run their job. The job is still inserted with the
// events, as the durable record: scheduled at the end of a lease (the job
// timeout plus the rescue margin), so River runs it only if this node
// never settles it, because it died, was stopped past its shutdown timeout
// or lost the database. Once the attempt is made and recorded, the job is
// deleted, or replaced by the job of the retry it scheduled, in one
// transaction; a job River took over meanwhile is left to River, which
// finds its deliveries settled and drops them.
//
// Only the first-attempt jobs of plain deliveries are handed off: ordered
// deliveries go through their key's drain, so their order holds.
type Handoff struct {
	q       *Queue
	logger  *slog.Logger
	lease   time.Duration
	timeout time.Duration
	limit   int // deliveries in flight at once

	mu       sync.Mutex
	inFlight int
	closed   bool
	wg       sync.WaitGroup
	// paused mirrors the pause of the delivery queue, which holds first
	// attempts made here too; pauseGen counts this node's own pauses and
	// resumes, so a poll that raced one does not undo it.
	paused   bool
	pauseGen uint64

	// ctx ends the attempts still running when a stop runs out of time.
	ctx    context.Context
	cancel context.CancelFunc
	// finish deletes the jobs of settled attempts and inserts those of
	// their retries, many attempts per transaction.
	finish *batch.Batcher[finished, struct{}]
}

// finished is one handed-off job whose attempts are done.
type finished struct {
	id    int64
	later []river.InsertManyParams
}

func newHandoff(q *Queue, cfg Config, logger *slog.Logger) *Handoff {
	ctx, cancel := context.WithCancel(context.Background())
	h := &Handoff{
		q: q, logger: logger, lease: cfg.JobTimeout + cfg.RescueMargin, timeout: cfg.JobTimeout,
		limit: cfg.Workers, ctx: ctx, cancel: cancel,
	}
	h.finish = batch.New(1, maxBatchFinish, h.finishMany)
	return h
}

// maxBatchFinish bounds the jobs one finishing transaction handles.
const maxBatchFinish = 256

// Claim is the share of one insert of jobs that runs on this node once the
// transaction commits. A nil *Claim claims nothing; its methods are safe.
type Claim struct {
	h     *Handoff
	pos   []int // positions in the insert
	args  []river.JobArgs
	sizes []int // deliveries of each job
	n     int   // deliveries reserved
	ids   []int64
	ended bool
}

// Claim takes the first-attempt jobs among params that this node can run
// now, and schedules them at the end of the lease. It returns nil when it
// takes none: the node is stopping, already runs as many deliveries as it
// has workers, or no job is a first attempt. The caller inserts params,
// then calls Inserted with the results, and after the commit Start (or
// Cancel if the transaction does not commit).
func (h *Handoff) Claim(params []river.InsertManyParams) *Claim {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || h.paused {
		return nil
	}
	var c *Claim
	at := time.Now().Add(h.lease)
	for i := range params {
		p := &params[i]
		if p.InsertOpts != nil {
			continue
		}
		n := 0
		switch a := p.Args.(type) {
		case DeliverArgs:
			if a.NotBefore == 0 {
				n = 1
			}
		case DeliverBatchArgs:
			n = len(a.Deliveries)
		}
		if n == 0 || h.inFlight+n > h.limit {
			continue
		}
		if c == nil {
			c = &Claim{h: h}
		}
		h.inFlight += n
		c.n += n
		c.pos = append(c.pos, i)
		c.args = append(c.args, p.Args)
		c.sizes = append(c.sizes, n)
		p.InsertOpts = &river.InsertOpts{ScheduledAt: at}
	}
	return c
}

// Inserted takes the ids of the claimed jobs from the insert's results,
// which are in the order of its params.
func (c *Claim) Inserted(results []*rivertype.JobInsertResult) error {
	if c == nil {
		return nil
	}
	c.ids = make([]int64, len(c.pos))
	for i, p := range c.pos {
		if p >= len(results) || results[p] == nil || results[p].Job == nil {
			return fmt.Errorf("handoff: no inserted job at %d of %d", p, len(results))
		}
		c.ids[i] = results[p].Job.ID
	}
	return nil
}

// Cancel gives back what a transaction that did not commit had claimed.
func (c *Claim) Cancel() {
	if c == nil || c.ended {
		return
	}
	c.ended = true
	c.h.release(c.n)
}

func (h *Handoff) release(n int) {
	h.mu.Lock()
	h.inFlight -= n
	h.mu.Unlock()
}

// Start runs the claimed jobs' attempts, once their transaction committed.
// If the node began to stop meanwhile, it hands them to River at once.
func (c *Claim) Start() {
	if c == nil || c.ended {
		return
	}
	c.ended = true
	h := c.h
	h.mu.Lock()
	if h.closed {
		h.inFlight -= c.n
		h.mu.Unlock()
		h.toRiver(c.ids, errors.New("the node is stopping"))
		return
	}
	h.wg.Add(len(c.ids))
	h.mu.Unlock()
	for i, id := range c.ids {
		go h.run(id, c.args[i], c.sizes[i])
	}
}

// run makes the attempts of one job, which reserved n deliveries, and
// finishes it.
func (h *Handoff) run(id int64, args river.JobArgs, n int) {
	defer h.wg.Done()
	var later []river.InsertManyParams
	var err error
	func() {
		defer func() {
			if v := recover(); v != nil {
				err = fmt.Errorf("panic: %v", v)
			}
		}()
		ctx, cancel := context.WithTimeout(h.ctx, h.timeout)
		defer cancel()
		switch a := args.(type) {
		case DeliverArgs:
			later, err = h.q.attemptBatch(ctx, []BatchItem{{DeliveryID: a.DeliveryID, CreatedAt: a.CreatedAt, Gen: a.Gen}})
		case DeliverBatchArgs:
			later, err = h.q.attemptBatch(ctx, a.Deliveries)
		default:
			err = fmt.Errorf("job kind %s cannot be handed off", args.Kind())
		}
	}()
	h.release(n)
	if err != nil {
		h.toRiver([]int64{id}, err)
		return
	}
	// Not tied to h.ctx: a stop that ran out of time still records that
	// these attempts are done.
	if _, ferr := h.finish.Do(context.Background(), finished{id: id, later: later}); ferr != nil {
		// The job stays scheduled: River runs it at the lease's end,
		// finds what is settled and attempts what is due.
		h.logger.Warn("handoff: finish job", "job", id, "error", ferr)
	}
}

// toRiver makes jobs whose attempts could not be made here available to
// River now, so its retry policy (and another node) takes over instead of
// waiting for the lease. If even that fails, the lease's end does it.
func (h *Handoff) toRiver(ids []int64, cause error) {
	h.logger.Warn("handoff: first attempt handed to the job queue", "jobs", len(ids), "error", cause)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, id := range ids {
		if _, err := h.q.client.JobRetry(ctx, id); err != nil {
			h.logger.Warn("handoff: make job available", "job", id, "error", err)
		}
	}
}

// finishMany deletes the jobs of finished attempts and inserts the jobs of
// their retries, in one transaction. A job River is running (its lease
// ended first) is not deleted, and its retries are left to it.
func (h *Handoff) finishMany(ctx context.Context, fs []finished) ([]struct{}, error) {
	ids := make([]int64, len(fs))
	for i, f := range fs {
		ids[i] = f.id
	}
	tx, err := h.q.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("handoff: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	// Nothing here needs to survive a crash: the attempts are recorded
	// durably already, and a job whose deletion is lost runs at its lease's
	// end, finds its deliveries settled or due, and does what the lost
	// retry jobs would have done. So this commit does not wait for the WAL
	// flush that ingest's and the attempts' commits wait for.
	if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
		return nil, fmt.Errorf("handoff: %w", err)
	}
	res, err := h.q.client.JobDeleteManyTx(ctx, tx, river.NewJobDeleteManyParams().
		IDs(ids...).States(rivertype.JobStateScheduled).First(len(ids)))
	if err != nil {
		return nil, fmt.Errorf("handoff: delete %d jobs: %w", len(ids), err)
	}
	deleted := make(map[int64]bool, len(res.Jobs))
	for _, j := range res.Jobs {
		deleted[j.ID] = true
	}
	var later []river.InsertManyParams
	for _, f := range fs {
		if deleted[f.id] {
			later = append(later, f.later...)
		}
	}
	if len(later) > 0 {
		if _, err := h.q.client.InsertManyTx(ctx, tx, later); err != nil {
			return nil, fmt.Errorf("handoff: schedule %d retries: %w", len(later), err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("handoff: commit: %w", err)
	}
	return make([]struct{}, len(fs)), nil
}

// setPaused records a pause or resume of the delivery queue made by this
// node.
func (h *Handoff) setPaused(paused bool) {
	h.mu.Lock()
	h.paused = paused
	h.pauseGen++
	h.mu.Unlock()
}

// pausePoll is how often a node reads whether the delivery queue is paused
// (another node may have paused it).
const pausePoll = time.Second

// readPause reads whether the delivery queue is paused.
func (h *Handoff) readPause(ctx context.Context) error {
	h.mu.Lock()
	gen := h.pauseGen
	h.mu.Unlock()
	paused := false
	rq, err := h.q.client.QueueGet(ctx, QueueDeliveries)
	switch {
	case errors.Is(err, rivertype.ErrNotFound): // no node has worked it yet
	case err != nil:
		return fmt.Errorf("handoff: read the delivery queue's pause: %w", err)
	default:
		paused = rq.PausedAt != nil
	}
	h.mu.Lock()
	if h.pauseGen == gen {
		h.paused = paused
	}
	h.mu.Unlock()
	return nil
}

// watchPause follows the delivery queue's pause until the handoff stops.
func (h *Handoff) watchPause() {
	t := time.NewTicker(pausePoll)
	defer t.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(h.ctx, pausePoll)
			if err := h.readPause(ctx); err != nil && h.ctx.Err() == nil {
				h.logger.Debug("handoff: pause poll", "error", err)
			}
			cancel()
		}
	}
}

// stop takes no more claims and waits for the attempts running, until ctx
// ends; then it cancels them, and their jobs go to River.
func (h *Handoff) stop(ctx context.Context) {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		h.cancel()
		<-done
	}
	h.cancel()
	h.finish.Stop()
}
