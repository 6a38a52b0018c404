package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/heraldhq/herald/connectors"
	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/herald"
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
	river.AddWorker(workers, &connectorWorker{
		runs:    delivery.NewConnectorRunner(q.store, cc.Registry, cfg.Schedule, q.logger),
		timeout: connectorJobTimeout(cc.Timeout),
	})
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

// connectorWorker runs one attempt of a connector run (see
// delivery.ConnectorRunner) and schedules the next, exactly as deliveries
// are retried: the job snoozes for the schedule's delay (snoozes are not
// River attempts).
type connectorWorker struct {
	river.WorkerDefaults[ConnectorRunArgs]
	runs    *delivery.ConnectorRunner
	timeout time.Duration
}

func (w *connectorWorker) Timeout(*river.Job[ConnectorRunArgs]) time.Duration { return w.timeout }

// Work makes one attempt.
func (w *connectorWorker) Work(ctx context.Context, job *river.Job[ConnectorRunArgs]) error {
	return snoozeFor(w.runs.Run(ctx, job.Args.RunID))
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
