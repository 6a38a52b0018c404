package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/heraldhq/herald/connectors"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/webhook"
)

// QueueConnectors is the queue of connector runs, apart from deliveries so
// slow functions cannot starve webhook delivery (and the other way round).
const QueueConnectors = "connectors"

// ConnectorRunArgs is the job that makes the next attempt of one connector
// run. The connector and the event are read when it runs.
type ConnectorRunArgs struct {
	RunID uuid.UUID `json:"r"`
}

// Kind names the job for River.
func (ConnectorRunArgs) Kind() string { return "herald.connector.run" }

// InsertOpts places connector jobs on their queue.
func (ConnectorRunArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueConnectors, MaxAttempts: maxJobAttempts}
}

// ConnectorConfig enables the connector worker.
type ConnectorConfig struct {
	Registry *connectors.Registry
	// Workers is how many connector runs execute at once on this node (0:
	// DefaultConnectorWorkers).
	Workers int
	// Timeout is a run's limit; the job gets a little more for recording.
	Timeout time.Duration
}

// DefaultConnectorWorkers is how many connector runs execute at once on a
// node by default.
const DefaultConnectorWorkers = 8

// addConnectorWorker registers the connector worker and its queue.
func (q *Queue) addConnectorWorker(workers *river.Workers, queues map[string]river.QueueConfig, cfg Config) {
	cc := cfg.Connectors
	if cc == nil || cc.Registry == nil {
		return
	}
	if cc.Workers <= 0 {
		cc.Workers = DefaultConnectorWorkers
	}
	if cc.Timeout <= 0 {
		cc.Timeout = connectors.DefaultTimeout
	}
	river.AddWorker(workers, &connectorWorker{store: q.store, registry: cc.Registry, schedule: cfg.Schedule,
		logger: q.logger, timeout: connectorJobTimeout(cc.Timeout)})
	queues[QueueConnectors] = river.QueueConfig{MaxWorkers: cc.Workers}
}

// connectorJobTimeout is a connector job's timeout: the run's limit, and
// time to record it.
func connectorJobTimeout(run time.Duration) time.Duration {
	if run <= 0 {
		run = connectors.DefaultTimeout
	}
	return run + 10*time.Second
}

// connectorWorker runs one attempt of a connector run and schedules the
// next, exactly as deliveries are retried: a failed attempt is recorded and
// the job snoozed for the schedule's delay (snoozes are not River attempts).
type connectorWorker struct {
	river.WorkerDefaults[ConnectorRunArgs]
	store    *postgres.Store
	registry *connectors.Registry
	schedule webhook.RetrySchedule
	logger   *slog.Logger
	timeout  time.Duration
}

func (w *connectorWorker) Timeout(*river.Job[ConnectorRunArgs]) time.Duration { return w.timeout }

// Work makes one attempt.
func (w *connectorWorker) Work(ctx context.Context, job *river.Job[ConnectorRunArgs]) error {
	id := job.Args.RunID
	t, err := w.store.ConnectorRunLoad(ctx, id)
	if errors.Is(err, herald.ErrNotFound) {
		return nil // the connector was deleted with its runs
	}
	if err != nil {
		return fmt.Errorf("connector run %s: %w", id, err)
	}
	run := t.Run
	switch {
	case run.Status != herald.ConnectorRunPending:
		return nil // a duplicate job for a settled run
	case t.Connector == nil:
		return w.store.ConnectorRunFail(ctx, id, "connector no longer exists")
	case !t.Connector.Enabled:
		return w.store.ConnectorRunFail(ctx, id, "connector disabled")
	case t.Event == nil:
		return w.store.ConnectorRunFail(ctx, id, "event no longer stored (retention)")
	}
	c := t.Connector
	attempt := herald.ConnectorAttempt{Attempt: run.Attempts + 1, At: time.Now().UTC()}
	runnable, err := w.registry.Build(c.Kind, connectors.Spec{Code: c.Code, Config: c.MergedConfig()})
	var res connectors.Result
	if err != nil {
		// Saved configurations were validated; this is a change of rules.
		res = connectors.Failed("connector configuration is not valid: %v", err)
	} else {
		res = runnable.Run(ctx, connectors.Input{Event: t.Event})
		if ctx.Err() != nil {
			// Shutdown (or River's job timeout) cut the run short: not the
			// connector's failure. River runs the job again later.
			return fmt.Errorf("connector run %s interrupted: %w", id, ctx.Err())
		}
	}
	res = connectors.Redact(res, c.Secrets)
	attempt.Status, attempt.Error, attempt.Logs = string(res.Status), res.Error, res.Logs
	attempt.Requests, attempt.Duration = res.Requests, res.Duration
	status, next, snooze := herald.ConnectorRunSucceeded, time.Time{}, time.Duration(0)
	if res.Status != connectors.StatusSuccess {
		status = herald.ConnectorRunFailed
		if err == nil {
			if delay, ok := w.schedule.Next(attempt.Attempt-run.RetryBase, webhook.Result{}, rand.Float64); ok {
				status, next, snooze = herald.ConnectorRunPending, time.Now().Add(delay).UTC(), delay
			}
		}
	}
	applied, rerr := w.store.ConnectorRunRecord(context.WithoutCancel(ctx), id, attempt, status, next)
	if rerr != nil {
		return fmt.Errorf("connector run %s: %w", id, rerr)
	}
	if !applied {
		return nil // another job recorded this attempt
	}
	switch status {
	case herald.ConnectorRunFailed:
		w.logger.Info("connector run failed after last attempt", "run", id, "connector", c.ID,
			"attempts", attempt.Attempt, "error", res.Error)
	case herald.ConnectorRunPending:
		return river.JobSnooze(snooze)
	}
	return nil
}

// RetryConnectorRun puts a finished connector run back on the queue with a
// fresh retry cycle, if its connector still receives the event (see
// mayRerun).
func (q *Queue) RetryConnectorRun(ctx context.Context, id uuid.UUID, authorize func(*herald.ConnectorRun) error) (*herald.ConnectorRun, error) {
	var out *herald.ConnectorRun
	err := pgx.BeginFunc(ctx, q.pool, func(tx pgx.Tx) error {
		r, err := q.store.ConnectorRunRetry(ctx, tx, id, func(run *herald.ConnectorRun) error {
			if err := authorize(run); err != nil {
				return err
			}
			return q.mayRerun(ctx, tx, run)
		})
		if err != nil {
			return err
		}
		if _, err := q.client.InsertTx(ctx, tx, ConnectorRunArgs{RunID: id}, nil); err != nil {
			return fmt.Errorf("enqueue retry of connector run %s: %w", id, err)
		}
		out = r
		return nil
	})
	return out, err
}
