// Package queue runs Herald's background work on River: the delivery jobs
// that ingest enqueues in the same transaction as the events, the retry
// policy that drives them, and periodic maintenance. Delivery history lives
// in Herald's own tables (see package postgres); River's table only holds the
// work in flight, and completed jobs are cleaned within minutes.
package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/webhook"
)

// Queue names.
const (
	QueueDeliveries  = "deliveries"
	QueueMaintenance = "maintenance"
)

// maxJobAttempts only matters when a job errors out instead of scheduling
// its own retry (a database outage, a node stopped mid-attempt, a panic):
// the delivery schedule itself is enforced by the worker through snoozes,
// which River does not count. With jobRetryPolicy's 30-second cap this is
// about 45 minutes of failing runs; after the last, the job's deliveries are
// dead-lettered visibly (see jobErrors).
const maxJobAttempts = 100

// DeliverArgs is the job that makes the next attempt of one delivery. It is
// kept tiny: the event body and the endpoint are read when the job runs.
type DeliverArgs struct {
	DeliveryID uuid.UUID `json:"d"`
	// CreatedAt is the delivery's partition timestamp.
	CreatedAt time.Time `json:"t"`
	// NotBefore (Unix microseconds; 0: none) delays the attempt: a batch
	// hands a delivery that must wait to a job of its own, which snoozes
	// until then (River wakes short snoozes on time, scheduled inserts only
	// on its scheduler's next pass).
	NotBefore int64 `json:"n,omitempty"`
	// Gen is the delivery's job generation this job was made for; a retry
	// by hand moves the delivery on to a new one (see
	// postgres.DeliveryRetry).
	Gen int32 `json:"g,omitempty"`
}

// Kind names the job for River.
func (DeliverArgs) Kind() string { return "herald.deliver" }

// InsertOpts places delivery jobs on their queue.
func (DeliverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueDeliveries, MaxAttempts: maxJobAttempts}
}

// Config tunes the queue.
type Config struct {
	// Workers is how many deliveries are sent at once on this node (River
	// workers of the delivery queue, and requests in flight).
	Workers int
	// FetchCooldown is the least time between two fetches of new jobs; it
	// bounds the added latency of a delivery at low load.
	FetchCooldown time.Duration
	// FetchPollInterval is how often idle nodes poll (inserts also notify).
	FetchPollInterval time.Duration
	Schedule          webhook.RetrySchedule
	// JobTimeout bounds one run of a delivery job, HTTP included (0: one
	// minute). Ordered drains get drainBudget more, connector runs their
	// own limit plus 10 s (connectorJobTimeout).
	JobTimeout time.Duration
	// RescueMargin is how long past its timeout a job that is still marked
	// running is taken for abandoned (its node died) and run again (0: 30
	// s); see RescueAfter.
	RescueMargin time.Duration
	// CompletedRetention is how long River keeps finished jobs.
	CompletedRetention time.Duration
	// Retention is how long events and delivery history are kept (0:
	// forever, as herald.KeptSince reads it). It must exceed the retry
	// schedule's span.
	Retention time.Duration
	// Emit publishes one of Herald's operational events about a tenant
	// (nil: none are published).
	Emit delivery.EmitFunc
	// Breaker opens an endpoint's circuit after consecutive failures
	// (zero Threshold: no breaker).
	Breaker postgres.Breaker
	// AutoDisableAfter disables an endpoint whose attempts have all failed
	// for this long (0: never).
	AutoDisableAfter time.Duration
	// PublicURL is how receivers reach Herald: the handshake's origin and
	// callback base.
	PublicURL string
	// Routing decides where retries, recoveries and replays may send
	// events (nil: none may, and no replays run).
	Routing Routing
	// JWT signs the tokens of endpoints with "jwt" auth; Tokens fetches
	// and caches those of endpoints with "oauth2" auth.
	JWT    *outbound.JWTIssuer
	Tokens *outbound.TokenSource
	// InsertOnly builds a client that enqueues but works nothing (tools,
	// tests of ingest alone).
	InsertOnly bool
	// NoHandoff leaves every first attempt to River's fetch instead of
	// making it on the node that stored the event (see Handoff); for
	// comparisons.
	NoHandoff bool
	// Connectors runs hosted connectors on their own queue (nil: none).
	Connectors *ConnectorConfig
	// PushBody turns a stored event body into what webhooks carry (a thin
	// type's notification); nil sends bodies as stored.
	PushBody delivery.PushBodyFunc
	// Sweep enforces the retention of thin payloads and files, every
	// SweepInterval on the leader (nil: never).
	Sweep         func(ctx context.Context) error
	SweepInterval time.Duration
}

// DefaultWorkers is how many deliveries a node sends at once by default.
const DefaultWorkers = 200

// Defaults of Config.JobTimeout and Config.RescueMargin.
const (
	DefaultJobTimeout   = time.Minute
	DefaultRescueMargin = 30 * time.Second
)

// RescueAfter is how long a job may be marked running before it is taken
// for abandoned by a node that died (kill -9, a lost machine) and run again
// by another node, or by this one after a restart: the longest job timeout
// plus the margin. Jobs honour their timeout (their context ends then), so a
// job still marked running after it was not cut short by its own node.
func RescueAfter(cfg Config) time.Duration {
	cfg = cfg.withDefaults()
	longest := cfg.JobTimeout + drainBudget
	if cc := cfg.Connectors; cc != nil {
		longest = max(longest, connectorJobTimeout(cc.Timeout))
	}
	return longest + cfg.RescueMargin
}

func (c Config) withDefaults() Config {
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	if c.FetchCooldown <= 0 {
		c.FetchCooldown = 5 * time.Millisecond
	}
	if c.FetchPollInterval <= 0 {
		c.FetchPollInterval = 200 * time.Millisecond
	}
	if c.FetchPollInterval < c.FetchCooldown {
		c.FetchPollInterval = c.FetchCooldown
	}
	if c.Schedule == nil {
		c.Schedule = webhook.DefaultRetrySchedule
	}
	if c.JobTimeout <= 0 {
		c.JobTimeout = DefaultJobTimeout
	}
	if c.RescueMargin <= 0 {
		c.RescueMargin = DefaultRescueMargin
	}
	if c.CompletedRetention <= 0 {
		c.CompletedRetention = 10 * time.Minute
	}
	return c
}

// Queue owns the River client.
type Queue struct {
	client *river.Client[pgx.Tx]
	pool   *pgxpool.Pool
	store  *postgres.Store
	emit   delivery.EmitFunc
	logger *slog.Logger
	// attempts makes the deliveries' attempts; the jobs only schedule them.
	attempts *delivery.Deliverer
	// stopping tells long-running jobs (ordered drains) to yield at their
	// next step, so a graceful stop does not wait for whole drains.
	stopping atomic.Bool
	// routing decides who may receive what (resend.go).
	routing Routing
	// handoff makes first attempts right after their commit (nil: River
	// makes them all).
	handoff *Handoff
}

// New builds the River client with Herald's workers.
func New(pool *pgxpool.Pool, store *postgres.Store, sender delivery.Sender, cfg Config, logger *slog.Logger) (*Queue, error) {
	cfg = cfg.withDefaults()
	q := &Queue{pool: pool, store: store, emit: cfg.Emit, logger: logger, routing: cfg.Routing}
	q.attempts = delivery.New(store, sender, delivery.Config{
		InFlight: cfg.Workers, Schedule: cfg.Schedule, ProbeTimeout: cfg.JobTimeout, PreciseWait: maxPreciseSnooze,
		Breaker: cfg.Breaker, AutoDisableAfter: cfg.AutoDisableAfter, JWT: cfg.JWT, Tokens: cfg.Tokens,
		PushBody: cfg.PushBody, Emit: cfg.Emit,
	}, logger)
	rc := &river.Config{
		Logger:                      logger.With("component", "river"),
		FetchCooldown:               cfg.FetchCooldown,
		FetchPollInterval:           cfg.FetchPollInterval,
		CompletedJobRetentionPeriod: cfg.CompletedRetention,
		JobTimeout:                  cfg.JobTimeout,
		MaxAttempts:                 maxJobAttempts,
		// River's default is an hour: far too long for deliveries
		// stranded on a node that died.
		RescueStuckJobsAfter: RescueAfter(cfg),
		RetryPolicy:          jobRetryPolicy{},
		ErrorHandler:         &jobErrors{store: store, logger: logger},
	}
	if !cfg.InsertOnly {
		workers := river.NewWorkers()
		river.AddWorker(workers, &deliverWorker{q: q, timeout: cfg.JobTimeout})
		river.AddWorker(workers, &deliverBatchWorker{q: q, timeout: cfg.JobTimeout})
		river.AddWorker(workers, &drainWorker{q: q, timeout: cfg.JobTimeout})
		river.AddWorker(workers, &maintenanceWorker{q: q, store: store, retention: cfg.Retention, logger: logger})
		river.AddWorker(workers, &groupPurgeWorker{q: q})
		if hs, ok := sender.(Handshaker); ok {
			river.AddWorker(workers, &verifyWorker{q: q, hs: hs, publicURL: cfg.PublicURL, logger: logger})
		}
		if cfg.Routing != nil {
			river.AddWorker(workers, &replayWorker{q: q})
			river.AddWorker(workers, &groupBackfillWorker{q: q})
		}
		if cfg.Sweep != nil {
			river.AddWorker(workers, &sweepWorker{sweep: cfg.Sweep})
		}
		rc.Workers = workers
		rc.Queues = map[string]river.QueueConfig{
			QueueDeliveries:  {MaxWorkers: cfg.Workers},
			QueueMaintenance: {MaxWorkers: 1},
		}
		q.addConnectorWorker(workers, rc.Queues, cfg)
		if !cfg.NoHandoff {
			q.handoff = newHandoff(q, cfg, logger)
		}
		rc.PeriodicJobs = []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(6*time.Hour), func() (river.JobArgs, *river.InsertOpts) {
				return MaintenanceArgs{}, nil
			}, &river.PeriodicJobOpts{ID: "herald.maintenance", RunOnStart: true}),
		}
		if cfg.Sweep != nil {
			rc.PeriodicJobs = append(rc.PeriodicJobs, sweepJob(cfg.SweepInterval))
		}
	}
	client, err := river.NewClient(riverpgxv5.New(pool), rc)
	if err != nil {
		q.attempts.Stop()
		return nil, fmt.Errorf("river client: %w", err)
	}
	q.client = client
	return q, nil
}

// Client exposes the River client (ingest inserts through it).
func (q *Queue) Client() *river.Client[pgx.Tx] { return q.client }

// Handoff is where ingest hands the first attempts of the deliveries it
// commits (nil when River makes them all).
func (q *Queue) Handoff() *Handoff { return q.handoff }

// Start begins working jobs. ctx bounds starting only: the queue works
// until Stop, which lets running jobs finish. (River treats the end of the
// context given to its Start as an order to cancel running jobs at once,
// so a signal context reaching it would cut deliveries off on the wire.)
func (q *Queue) Start(ctx context.Context) error {
	if err := q.client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start queue: %w", err)
	}
	if q.handoff != nil {
		if err := q.handoff.readPause(ctx); err != nil {
			return err
		}
		go q.handoff.watchPause()
	}
	return nil
}

// Healthy reports a River client that stopped although Stop was not called:
// this node works no jobs any more and cannot recover by itself.
func (q *Queue) Healthy() error {
	select {
	case <-q.client.Stopped():
		if !q.stopping.Load() {
			return errors.New("the job queue's client stopped unexpectedly; this node works no jobs")
		}
	default:
	}
	return nil
}

// Stop lets running deliveries finish (bounded by ctx), then stops. Jobs not
// finished by then are picked up again later (by this node after a restart,
// or by another node).
func (q *Queue) Stop(ctx context.Context) error {
	q.stopping.Store(true)
	defer q.attempts.Stop()
	var handoffDone sync.WaitGroup
	if q.handoff != nil {
		handoffDone.Go(func() { q.handoff.stop(ctx) })
	}
	// The attempts made in process finish (or are handed to River) before
	// the attempts' batchers stop.
	defer handoffDone.Wait()
	err := q.client.Stop(ctx)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("stop queue: %w", err)
	}
	if err != nil {
		// The soft stop ran out of time: cancel the rest so their attempts
		// are retried rather than left running.
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = q.client.StopAndCancel(stopCtx)
	}
	return nil
}

// DeliveryRequest shows the request a delivery's next attempt would make,
// unsigned (see delivery.Deliverer.Request).
func (q *Queue) DeliveryRequest(ctx context.Context, d *herald.Delivery) (webhook.Request, error) {
	return q.attempts.Request(ctx, d)
}

// Retry makes a delivery's next attempt now, if its endpoint still receives
// its event (see mayResend): a finished delivery starts a fresh retry cycle,
// and one waiting for its next attempt (or whose job was left on a node
// that died) is tried at once, superseding the job it had. See
// postgres.DeliveryRetry.
func (q *Queue) Retry(ctx context.Context, id uuid.UUID, authorize func(d *herald.Delivery) error) (*herald.Delivery, error) {
	var r *postgres.DeliveryRetried
	err := pgx.BeginFunc(ctx, q.pool, func(tx pgx.Tx) error {
		var err error
		r, err = q.store.DeliveryRetry(ctx, tx, id, func(d *herald.Delivery) error {
			if err := authorize(d); err != nil {
				return err
			}
			return q.mayResend(ctx, tx, d)
		})
		if err != nil {
			return err
		}
		if r.Ordered != nil {
			return nil // its drain is woken once this commits
		}
		if _, err := q.client.InsertTx(ctx, tx, DeliverArgs{DeliveryID: r.Key.ID, CreatedAt: r.Key.CreatedAt, Gen: r.Key.Gen}, nil); err != nil {
			return fmt.Errorf("enqueue retry of %s: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if r.Ordered != nil {
		if err := q.wakeDrain(ctx, *r.Ordered); err != nil {
			return nil, fmt.Errorf("retry %s: %w", id, err)
		}
	}
	return r.Delivery, nil
}

// deliverWorker makes one look at a delivery (see delivery.Deliverer) and
// schedules the next.
type deliverWorker struct {
	river.WorkerDefaults[DeliverArgs]
	q       *Queue
	timeout time.Duration
}

func (w *deliverWorker) Timeout(*river.Job[DeliverArgs]) time.Duration { return w.timeout }

// Work sends the delivery once. A failed attempt is not returned as an
// error: the attempt is recorded and the job snoozed until the next attempt
// is due, so Herald's schedule (with Retry-After and jitter) decides, and the
// attempt count lives in Herald's table.
func (w *deliverWorker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	if job.Args.NotBefore != 0 {
		if wait := time.Until(time.UnixMicro(job.Args.NotBefore)); wait > 0 {
			return river.JobSnooze(wait)
		}
	}
	key := postgres.DeliveryKey{ID: job.Args.DeliveryID, CreatedAt: job.Args.CreatedAt, Gen: job.Args.Gen}
	return snoozeFor(w.q.attempts.Deliver(ctx, key, snoozes(job.Metadata)))
}

// snoozeFor turns an attempt's wait into the job's result: a snooze
// until the delivery is looked at again (River does not count snoozes as
// attempts), done once it is settled, or its error.
func snoozeFor(wait time.Duration, err error) error {
	if err != nil {
		return err
	}
	if wait > 0 {
		return river.JobSnooze(wait)
	}
	return nil
}

// snoozes is how many times a job has snoozed, from its metadata.
func snoozes(metadata []byte) int {
	var m struct {
		Snoozes int `json:"snoozes"`
	}
	_ = json.Unmarshal(metadata, &m)
	return m.Snoozes
}

// MaintenanceArgs is the periodic housekeeping job.
type MaintenanceArgs struct{}

// Kind names the job for River.
func (MaintenanceArgs) Kind() string { return "herald.maintenance" }

// InsertOpts places maintenance on its own queue so a delivery backlog never
// delays it.
func (MaintenanceArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueMaintenance}
}

type maintenanceWorker struct {
	river.WorkerDefaults[MaintenanceArgs]
	q         *Queue
	store     *postgres.Store
	retention time.Duration
	logger    *slog.Logger
}

// Work creates the coming days' partitions of the event log, restarts the
// drain of ordered keys whose job was lost and the purge of deleted groups'
// logs that have no job, and removes events past retention (the default's
// and each type's, see postgres.Expire).
func (w *maintenanceWorker) Work(ctx context.Context, _ *river.Job[MaintenanceArgs]) error {
	if err := postgres.PartitionsEnsure(ctx, w.store.Pool(), 8); err != nil {
		return err
	}
	if err := w.q.restartOrphans(ctx); err != nil {
		return err
	}
	if err := w.q.PurgeDeletedGroups(ctx); err != nil {
		return err
	}
	n, err := postgres.Expire(ctx, w.store.Pool(), w.retention, time.Now())
	if err != nil {
		return err
	}
	if n.Tables > 0 || n.Events > 0 {
		w.logger.Info("retention removed old events", "tables", n.Tables, "events", n.Events, "retention", w.retention)
	}
	return nil
}

// RunMaintenance enqueues a maintenance run now instead of waiting for the
// next periodic one.
func (q *Queue) RunMaintenance(ctx context.Context) error {
	if _, err := q.client.Insert(ctx, MaintenanceArgs{}, nil); err != nil {
		return fmt.Errorf("enqueue maintenance: %w", err)
	}
	return nil
}

// PauseDeliveries stops fetching delivery jobs on every node (the benchmark
// uses it to measure ingest alone; operators can use it in an incident).
// First attempts made in process (Handoff) stop at once on this node, and
// within a second on the others.
func (q *Queue) PauseDeliveries(ctx context.Context) error {
	if err := q.client.QueuePause(ctx, QueueDeliveries, nil); err != nil {
		return fmt.Errorf("pause deliveries: %w", err)
	}
	if q.handoff != nil {
		q.handoff.setPaused(true)
	}
	return nil
}

// ResumeDeliveries undoes PauseDeliveries.
func (q *Queue) ResumeDeliveries(ctx context.Context) error {
	if err := q.client.QueueResume(ctx, QueueDeliveries, nil); err != nil {
		return fmt.Errorf("resume deliveries: %w", err)
	}
	if q.handoff != nil {
		q.handoff.setPaused(false)
	}
	return nil
}

// maxPreciseSnooze is the longest snooze River wakes exactly on time (below
// its scheduler interval).
const maxPreciseSnooze = 4500 * time.Millisecond
