// Package queue runs Herald's background work on River: the delivery jobs
// that ingest enqueues in the same transaction as the events, the retry
// policy that drives them, and periodic maintenance. Delivery history lives
// in Herald's own tables (see package postgres); River's table only holds the
// work in flight, and completed jobs are cleaned within minutes.
package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf16"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/heraldhq/herald/internal/cloudevents"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/internal/thin"
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
	Emit func(ctx context.Context, tenant uuid.UUID, typ, subject string, data map[string]any) error
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
	// Connectors runs hosted connectors on their own queue (nil: none).
	Connectors *ConnectorConfig
	// PushBody turns a stored event body into what webhooks carry (a thin
	// type's notification); nil sends bodies as stored. See push.go.
	PushBody PushBodyFunc
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

// Sender makes one webhook attempt.
type Sender interface {
	Send(ctx context.Context, m webhook.Message) webhook.Result
}

// Queue owns the River client.
type Queue struct {
	client  *river.Client[pgx.Tx]
	pool    *pgxpool.Pool
	store   *postgres.Store
	emit    func(ctx context.Context, tenant uuid.UUID, typ, subject string, data map[string]any) error
	logger  *slog.Logger
	loads   *batcher[postgres.DeliveryKey, *postgres.SendTarget]
	records *batcher[*postgres.AttemptRecord, struct{}]
	// stopping tells long-running jobs (ordered drains) to yield at their
	// next step, so a graceful stop does not wait for whole drains.
	stopping atomic.Bool
	// sends bounds the requests in flight on this node to Config.Workers:
	// batch jobs send their deliveries in parallel, so River's job count
	// alone does not bound them.
	sends chan struct{}
	// routing decides who may receive what (resend.go).
	routing Routing
}

var errStopped = errors.New("queue stopped")

// pendingDelay is how long a delivery to an endpoint awaiting verification
// waits before looking again: 1 s, doubling with each look, at most 5 min,
// so a long-pending endpoint's backlog does not churn the queue.
func pendingDelay(metadata []byte) time.Duration {
	var m struct {
		Snoozes int `json:"snoozes"`
	}
	_ = json.Unmarshal(metadata, &m)
	return min(time.Second<<min(max(m.Snoozes, 0), 9), 5*time.Minute)
}

// anyGen is the job generation of a drain job's deliveries: a drain owns the
// deliveries queued on its key whatever their generation (a retry by hand
// of a queued delivery wakes the drain rather than giving it a job).
const anyGen int32 = -1

// recordTimeout bounds the recording of an attempt that was made.
const recordTimeout = 30 * time.Second

// maxBatch bounds the deliveries loaded or recorded by one query.
const maxBatch = 256

// New builds the River client with Herald's workers.
func New(pool *pgxpool.Pool, store *postgres.Store, sender Sender, cfg Config, logger *slog.Logger) (*Queue, error) {
	cfg = cfg.withDefaults()
	q := &Queue{pool: pool, store: store, emit: cfg.Emit, logger: logger, sends: make(chan struct{}, cfg.Workers),
		routing: cfg.Routing}
	q.loads = newBatcher(2, maxBatch, func(ctx context.Context, keys []postgres.DeliveryKey) ([]*postgres.SendTarget, error) {
		found, err := store.DeliveryLoadMany(ctx, keys)
		if err != nil {
			return nil, err
		}
		if err := pushBodies(ctx, cfg.PushBody, found); err != nil {
			return nil, err
		}
		out := make([]*postgres.SendTarget, len(keys))
		for i, k := range keys {
			out[i] = found[k.ID] // nil: gone
		}
		return out, nil
	})
	q.records = newBatcher(2, maxBatch, func(ctx context.Context, recs []*postgres.AttemptRecord) ([]struct{}, error) {
		if err := store.DeliveryRecordAttempts(ctx, recs); err != nil {
			return nil, err
		}
		q.noteHealth(ctx, recs, cfg.AutoDisableAfter, cfg.Breaker, logger)
		return make([]struct{}, len(recs)), nil
	})
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
		dw := &deliverWorker{
			q: q, store: store, sender: sender, schedule: cfg.Schedule, logger: logger, timeout: cfg.JobTimeout,
			jwt: cfg.JWT, tokens: cfg.Tokens,
		}
		river.AddWorker(workers, dw)
		river.AddWorker(workers, &deliverBatchWorker{d: dw})
		river.AddWorker(workers, &drainWorker{d: dw})
		river.AddWorker(workers, &maintenanceWorker{q: q, store: store, retention: cfg.Retention, logger: logger})
		if hs, ok := sender.(Handshaker); ok {
			river.AddWorker(workers, &verifyWorker{q: q, hs: hs, publicURL: cfg.PublicURL, logger: logger})
		}
		if cfg.Routing != nil {
			river.AddWorker(workers, &replayWorker{q: q})
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
		q.loads.stop()
		q.records.stop()
		return nil, fmt.Errorf("river client: %w", err)
	}
	q.client = client
	return q, nil
}

// Client exposes the River client (ingest inserts through it).
func (q *Queue) Client() *river.Client[pgx.Tx] { return q.client }

// Start begins working jobs. ctx bounds starting only: the queue works
// until Stop, which lets running jobs finish. (River treats the end of the
// context given to its Start as an order to cancel running jobs at once,
// so a signal context reaching it would cut deliveries off on the wire.)
func (q *Queue) Start(ctx context.Context) error {
	if err := q.client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start queue: %w", err)
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
	defer q.records.stop()
	defer q.loads.stop()
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

// publish emits an operational event, logging (not returning) failures:
// the work that caused it is done and must not be retried for its sake.
func (q *Queue) publish(ctx context.Context, tenant uuid.UUID, typ, subject string, data map[string]any) {
	if q.emit == nil {
		return
	}
	if err := q.emit(ctx, tenant, typ, subject, data); err != nil {
		q.logger.Warn("publish operational event", "type", typ, "error", err)
	}
}

// noteHealth tracks endpoints' failure streaks from a batch of attempts and
// auto-disables those failing for too long. Its errors are logged, not
// returned: the attempts themselves are recorded already.
func (q *Queue) noteHealth(ctx context.Context, recs []*postgres.AttemptRecord, disableAfter time.Duration, br postgres.Breaker, logger *slog.Logger) {
	var ok, failed []uuid.UUID
	for _, r := range recs {
		if r.Status == herald.DeliverySucceeded {
			ok = append(ok, r.EndpointID)
		} else {
			failed = append(failed, r.EndpointID)
		}
	}
	disabled, err := q.store.EndpointHealthRecord(ctx, ok, failed, disableAfter, br)
	if err != nil {
		logger.Error("endpoint health", "error", err)
	}
	for _, id := range disabled {
		logger.Warn("endpoint auto-disabled: no successful delivery", "endpoint", id, "after", disableAfter)
		if ep, err := q.store.EndpointGet(ctx, id); err == nil {
			q.publish(ctx, ep.TenantID, herald.OpEndpointDisabled, "endpoints/"+id.String(), map[string]any{
				"endpoint_id": id, "reason": ep.DisabledReason})
		}
	}
}

// deliverWorker makes one attempt of a delivery and schedules the next.
type deliverWorker struct {
	river.WorkerDefaults[DeliverArgs]
	q        *Queue
	store    *postgres.Store
	sender   Sender
	schedule webhook.RetrySchedule
	logger   *slog.Logger
	timeout  time.Duration
	jwt      *outbound.JWTIssuer
	tokens   *outbound.TokenSource
}

func (w *deliverWorker) Timeout(*river.Job[DeliverArgs]) time.Duration { return w.timeout }

// Work sends the delivery once. A failed attempt is not returned as an
// error: the worker records it and snoozes the job until the next attempt
// is due, so Herald's schedule (with Retry-After and jitter) decides, and the
// attempt count lives in Herald's table.
func (w *deliverWorker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	if job.Args.NotBefore != 0 {
		if wait := time.Until(time.UnixMicro(job.Args.NotBefore)); wait > 0 {
			return river.JobSnooze(wait)
		}
	}
	wait, err := w.deliver(ctx, postgres.DeliveryKey{ID: job.Args.DeliveryID, CreatedAt: job.Args.CreatedAt, Gen: job.Args.Gen}, job.Metadata)
	if err != nil {
		return err
	}
	if wait > 0 {
		return river.JobSnooze(wait)
	}
	return nil
}

// deliver loads a delivery and makes its next attempt if it is due. It
// returns how long the delivery must wait before it is looked at again (a
// retry, a pending or open-circuit endpoint, a rate-limit slot), or 0 once
// the delivery is settled: succeeded, failed for good, no longer there, or
// handed to a newer job by a retry by hand (key.Gen is the generation the
// job was made for). metadata is the River job's, whose snooze count paces
// pending endpoints.
func (w *deliverWorker) deliver(ctx context.Context, key postgres.DeliveryKey, metadata []byte) (time.Duration, error) {
	id, createdAt := key.ID, key.CreatedAt
	t, err := w.q.loads.do(ctx, key)
	if err != nil {
		return 0, fmt.Errorf("deliver %s: %w", id, err)
	}
	if t == nil {
		// The event was dropped by retention, or the endpoint deleted.
		return 0, w.store.DeliveryFail(ctx, id, createdAt, "endpoint or event no longer exists")
	}
	d := &t.Delivery
	if d.Status != herald.DeliveryPending {
		return 0, nil // a duplicate job for a delivery already settled
	}
	if key.Gen != anyGen && t.JobGen != key.Gen {
		return 0, nil // superseded: a retry by hand gave the delivery a new job
	}
	if err := t.RenderErr; err != nil {
		if errors.Is(err, thin.ErrUnrenderable) {
			// No attempt could ever send it: dead-letter it visibly.
			w.logger.Error("delivery cannot be rendered", "delivery", id, "error", err)
			return 0, w.store.DeliveryFail(ctx, id, createdAt, err.Error())
		}
		return 0, fmt.Errorf("deliver %s: %w", id, err) // River retries
	}
	if t.EndpointStatus == herald.EndpointPending {
		// Waiting for the receiver's consent: keep the delivery, look again
		// later. Snoozes are not attempts.
		return pendingDelay(metadata), nil
	}
	if t.EndpointStatus != herald.EndpointActive {
		return 0, w.store.DeliveryFail(ctx, id, createdAt, "endpoint disabled")
	}
	if wait, err := w.circuitWait(ctx, t); err != nil {
		return 0, fmt.Errorf("deliver %s: %w", id, err)
	} else if wait > 0 {
		// The endpoint's circuit is open: don't hammer a receiver that is
		// down. Snoozes are not attempts.
		return wait, nil
	}
	if wait, err := w.rateWait(ctx, t); err != nil {
		return 0, fmt.Errorf("deliver %s: %w", id, err)
	} else if wait > 0 {
		// Over the endpoint's rate: wait for the reserved slot. Snoozes are
		// not attempts.
		return wait, nil
	}
	secrets, err := w.secrets(t)
	if err == nil {
		var header http.Header
		if header, err = w.extraHeaders(t); err == nil {
			m := webhook.Message{URL: t.URL, ID: d.ID.String(), Body: t.Body, Secrets: secrets, Header: header}
			if t.ContentMode == herald.ContentModeBinary {
				if err := toBinary(&m); err != nil {
					// Only a stored event that is no longer valid gets here.
					w.logger.Error("delivery cannot be encoded in binary mode", "delivery", id, "error", err)
					return 0, w.store.DeliveryFail(ctx, id, createdAt, "cannot encode the event in binary mode: "+err.Error())
				}
			}
			return w.attempt(ctx, t, m)
		}
	}
	// The endpoint's sealed settings cannot be opened (a wrong master
	// key): no attempt can succeed, so dead-letter the delivery visibly.
	w.logger.Error("delivery cannot be signed", "delivery", id, "endpoint", d.EndpointID, "error", err)
	return 0, w.store.DeliveryFail(ctx, id, createdAt, "endpoint settings cannot be decrypted: "+err.Error())
}

// toBinary turns a message carrying a structured-mode event into the HTTP
// binary content mode: the event's data as the body (signed as sent), its
// attributes as ce- headers, which win over static headers of those names.
func toBinary(m *webhook.Message) error {
	ev, err := cloudevents.ParseStored(m.Body)
	if err != nil {
		return err
	}
	h, body, ct, err := ev.Binary()
	if err != nil {
		return err
	}
	if m.Header == nil {
		m.Header = make(http.Header, len(h))
	}
	for k, v := range h {
		m.Header[k] = v
	}
	m.Body, m.ContentType, m.OmitContentType = body, ct, ct == ""
	return nil
}

// attempt sends the delivery once, records the attempt and schedules the
// next one (see deliver for the result).
func (w *deliverWorker) attempt(ctx context.Context, t *postgres.SendTarget, m webhook.Message) (time.Duration, error) {
	d := &t.Delivery
	id, createdAt := d.ID, d.CreatedAt
	select {
	case w.q.sends <- struct{}{}:
	case <-ctx.Done():
		return 0, fmt.Errorf("deliver %s: %w", id, ctx.Err())
	}
	started := time.Now()
	m.Timestamp = started
	res := w.send(ctx, t, m)
	<-w.q.sends
	if res.Err != nil && ctx.Err() != nil {
		// This node cut the attempt short (its shutdown timeout, the job's
		// timeout): not the receiver's failure, so it is not recorded as an
		// attempt. The job's error makes River run it again soon, with the
		// same webhook-id; the receiver may have seen this request.
		return 0, fmt.Errorf("deliver %s: attempt interrupted: %w", id, ctx.Err())
	}
	rec := &postgres.AttemptRecord{
		DeliveryID: id, CreatedAt: createdAt, EndpointID: d.EndpointID,
		Attempt: herald.Attempt{
			Attempt: d.Attempts + 1, At: started.UTC(), StatusCode: res.StatusCode, Latency: res.Latency,
			ResponseBody: res.ResponseBody,
		},
	}
	if res.Err != nil {
		rec.Attempt.Error = res.Err.Error()
	} else if !res.Success() {
		rec.Attempt.Error = fmt.Sprintf("receiver answered HTTP %d", res.StatusCode)
	}
	var snooze time.Duration
	switch {
	case res.Success():
		rec.Status = herald.DeliverySucceeded
	case res.Gone():
		rec.Status = herald.DeliveryFailed
		rec.Attempt.Error = "receiver answered 410 Gone: endpoint disabled"
	case res.Control == webhook.ControlAbortMessage || res.Control == webhook.ControlDisable:
		// The receiver asked for no more retries of this message (and, for
		// disable, of anything).
		rec.Status = herald.DeliveryFailed
		rec.Attempt.Error = "receiver answered webhook-delivery: " + res.Control
	default:
		delay, ok := w.schedule.Next(rec.Attempt.Attempt-d.RetryBase, res, rand.Float64)
		if ok {
			rec.Status = herald.DeliveryPending
			rec.NextAttemptAt = time.Now().Add(delay).UTC()
			snooze = delay
		} else {
			rec.Status = herald.DeliveryFailed
		}
	}
	// The attempt happened: record it even if the job's context ends now
	// (a stop that ran out of time), so its outcome is not lost.
	recCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if _, err := w.q.records.do(recCtx, rec); err != nil {
		return 0, fmt.Errorf("deliver %s: %w", id, err)
	}
	if reason := disableReason(res); reason != "" {
		if err := w.store.EndpointDisable(ctx, d.EndpointID, reason); err != nil {
			return 0, fmt.Errorf("deliver %s: %w", id, err)
		}
		w.logger.Warn("endpoint disabled by its receiver", "endpoint", d.EndpointID, "reason", reason)
		w.q.publish(ctx, d.TenantID, herald.OpEndpointDisabled, "endpoints/"+d.EndpointID.String(), map[string]any{
			"endpoint_id": d.EndpointID, "reason": reason})
	}
	if rec.Status == herald.DeliveryFailed && disableReason(res) == "" {
		w.logger.Info("delivery failed after last attempt", "delivery", id, "endpoint", d.EndpointID,
			"attempts", rec.Attempt.Attempt, "error", rec.Attempt.Error)
		if !herald.IsOperational(d.EventType) { // no events about failing operational events
			w.q.announceExhausted(ctx, d, rec)
		}
	}
	w.q.announceRecovered(ctx, t, rec)
	if rec.Status == herald.DeliveryPending {
		return max(snooze, time.Millisecond), nil
	}
	return 0, nil
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
// drain of ordered keys whose job was lost, and drops partitions past
// retention.
func (w *maintenanceWorker) Work(ctx context.Context, _ *river.Job[MaintenanceArgs]) error {
	if err := postgres.PartitionsEnsure(ctx, w.store.Pool(), 8); err != nil {
		return err
	}
	if err := w.q.restartOrphans(ctx); err != nil {
		return err
	}
	n, err := postgres.Expire(ctx, w.store.Pool(), w.retention, time.Now())
	if err != nil {
		return err
	}
	if n > 0 {
		w.logger.Info("retention dropped old partitions", "tables", n, "retention", w.retention)
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
func (q *Queue) PauseDeliveries(ctx context.Context) error {
	if err := q.client.QueuePause(ctx, QueueDeliveries, nil); err != nil {
		return fmt.Errorf("pause deliveries: %w", err)
	}
	return nil
}

// ResumeDeliveries undoes PauseDeliveries.
func (q *Queue) ResumeDeliveries(ctx context.Context) error {
	if err := q.client.QueueResume(ctx, QueueDeliveries, nil); err != nil {
		return fmt.Errorf("resume deliveries: %w", err)
	}
	return nil
}

// send makes the attempt, adding the endpoint's outbound authentication:
// a fresh Herald-signed JWT, or a cached OAuth2 token that is dropped when
// the endpoint answers 401 so the next attempt fetches a new one. Failing to
// get a token is a failed attempt, retried like any other.
func (w *deliverWorker) send(ctx context.Context, t *postgres.SendTarget, m webhook.Message) webhook.Result {
	auth, err := w.store.OpenAuth(t.Delivery.EndpointID, t.AuthSealed)
	if err != nil {
		return webhook.Result{Err: err}
	}
	if m.ClientCert, err = w.clientCert(t); err != nil {
		return webhook.Result{Err: err}
	}
	if auth == nil {
		return w.sender.Send(ctx, m)
	}
	if m.Header == nil {
		m.Header = http.Header{}
	}
	switch auth.Type {
	case herald.AuthJWT:
		if w.jwt == nil {
			return webhook.Result{Err: errors.New("jwt auth: no signing keys configured")}
		}
		tok, err := w.jwt.Token(t.URL, t.Delivery.EventID.String(), m.ID)
		if err != nil {
			return webhook.Result{Err: fmt.Errorf("jwt auth: %w", err)}
		}
		m.Header.Set("Authorization", "Bearer "+tok)
		return w.sender.Send(ctx, m)
	case herald.AuthOAuth2:
		if w.tokens == nil {
			return webhook.Result{Err: errors.New("oauth2 auth: no token source configured")}
		}
		creds := outbound.ClientCredentials{TokenURL: auth.TokenURL, ClientID: auth.ClientID,
			ClientSecret: auth.ClientSecret, Scopes: auth.Scopes, Audience: auth.Audience}
		tok, err := w.tokens.Token(ctx, creds)
		if err != nil {
			return webhook.Result{Err: fmt.Errorf("oauth2 token: %w", err)}
		}
		m.Header.Set("Authorization", "Bearer "+tok)
		res := w.sender.Send(ctx, m)
		if res.StatusCode == http.StatusUnauthorized {
			w.tokens.Invalidate(creds, tok)
		}
		return res
	default:
		return webhook.Result{Err: fmt.Errorf("unknown auth type %q", auth.Type)}
	}
}

// circuitWait says how long a delivery must wait because its endpoint's
// circuit is open (0: go ahead). After the cool-down one attempt, the probe,
// goes through; its outcome closes the circuit or opens it again.
func (w *deliverWorker) circuitWait(ctx context.Context, t *postgres.SendTarget) (time.Duration, error) {
	if t.OpenUntil.IsZero() {
		return 0, nil
	}
	// Spread the waiting deliveries' wake-ups over a second.
	jitter := time.Duration(rand.Int64N(int64(time.Second)))
	if wait := time.Until(t.OpenUntil); wait > 0 {
		return wait + jitter, nil
	}
	probe, err := w.store.EndpointClaimProbe(ctx, t.Delivery.EndpointID, w.timeout)
	if err != nil {
		return 0, err
	}
	if probe {
		return 0, nil
	}
	return time.Second + jitter, nil // another attempt is probing
}

// rateEarly tolerates waking a little before a reserved slot.
const rateEarly = 5 * time.Millisecond

// rateWait applies the endpoint's rate limit: it reserves this attempt's
// slot (once) and says how long to wait for it (0: send now).
func (w *deliverWorker) rateWait(ctx context.Context, t *postgres.SendTarget) (time.Duration, error) {
	if t.RateLimit <= 0 {
		return 0, nil
	}
	slot := t.SlotAt
	if slot.IsZero() {
		var err error
		d := &t.Delivery
		if slot, err = w.store.EndpointReserveSlot(ctx, d.EndpointID, d.ID, d.CreatedAt, t.RateLimit); err != nil {
			return 0, err
		}
	}
	if wait := time.Until(slot); wait > rateEarly {
		// River parks longer snoozes until its scheduler's next 5-second
		// pass, which would bunch deliveries; shorter ones wake on time.
		return min(wait, maxPreciseSnooze), nil
	}
	return 0, nil
}

// maxPreciseSnooze is the longest snooze River wakes exactly on time (below
// its scheduler interval).
const maxPreciseSnooze = 4500 * time.Millisecond

// disableReason says why a response disables its endpoint ("" if it
// does not): 410 Gone, or the receiver's webhook-delivery: disable header.
func disableReason(res webhook.Result) string {
	switch {
	case res.Gone():
		return "receiver answered 410 Gone"
	case res.Control == webhook.ControlDisable:
		return "receiver answered webhook-delivery: disable"
	}
	return ""
}

// secrets returns the endpoint's live signing secrets: the current one and
// those rotated out whose grace has not ended (one signature each).
func (w *deliverWorker) secrets(t *postgres.SendTarget) ([]string, error) {
	ep := &herald.Endpoint{ID: t.Delivery.EndpointID}
	var err error
	if ep.Secret, err = w.store.OpenSecret(ep.ID, t.SecretSealed); err != nil {
		return nil, err
	}
	if ep.OldSecrets, err = w.store.OpenOldSecrets(ep.ID, t.OldSecrets); err != nil {
		return nil, err
	}
	return ep.LiveSecrets(time.Now()), nil
}

// ConfigHeader carries the endpoint's config object with every delivery, as
// compact JSON with non-ASCII characters escaped (header values are ASCII).
const ConfigHeader = "Herald-Endpoint-Config"

// extraHeaders builds the endpoint's static headers and its config header.
func (w *deliverWorker) extraHeaders(t *postgres.SendTarget) (http.Header, error) {
	static, err := w.store.OpenHeaders(t.Delivery.EndpointID, t.HeadersSealed)
	if err != nil {
		return nil, err
	}
	if len(static) == 0 && len(t.Config) == 0 {
		return nil, nil
	}
	h := make(http.Header, len(static)+1)
	for k, v := range static {
		h.Set(k, v)
	}
	if len(t.Config) > 0 {
		v, err := asciiJSON(t.Config)
		if err != nil {
			return nil, err
		}
		h.Set(ConfigHeader, v)
	}
	return h, nil
}

// asciiJSON compacts a JSON document and escapes every non-ASCII character,
// so it can travel in an HTTP header.
func asciiJSON(doc []byte) (string, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, doc); err != nil {
		return "", fmt.Errorf("compact config: %w", err)
	}
	var b strings.Builder
	for _, r := range buf.String() {
		switch {
		case r < 0x80:
			b.WriteRune(r)
		case r > 0xFFFF:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&b, "\\u%04x\\u%04x", r1, r2)
		default:
			fmt.Fprintf(&b, "\\u%04x", r)
		}
	}
	return b.String(), nil
}
