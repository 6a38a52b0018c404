package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/connectors"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/webhook"
)

// ConnectorRunner makes the attempts of connector runs, on the webhook
// retry schedule: a failed attempt is recorded in the run's history and the
// next one is due after the schedule's delay.
type ConnectorRunner struct {
	store    *postgres.Store
	registry *connectors.Registry
	schedule webhook.RetrySchedule
	logger   *slog.Logger
}

// NewConnectorRunner returns a runner building connectors from registry
// (schedule nil: webhook.DefaultRetrySchedule).
func NewConnectorRunner(store *postgres.Store, registry *connectors.Registry, schedule webhook.RetrySchedule, logger *slog.Logger) *ConnectorRunner {
	if schedule == nil {
		schedule = webhook.DefaultRetrySchedule
	}
	return &ConnectorRunner{store: store, registry: registry, schedule: schedule, logger: logger}
}

// Run makes the next attempt of a connector run: load → build → run →
// redact → record. It returns the wait before the next attempt, or 0 once
// the run is settled (or gone). An error means the job must run again:
// nothing is recorded when this node's own context cut the run short.
func (r *ConnectorRunner) Run(ctx context.Context, id uuid.UUID) (time.Duration, error) {
	t, err := r.store.ConnectorRunLoad(ctx, id)
	if errors.Is(err, herald.ErrNotFound) {
		return 0, nil // the connector was deleted with its runs
	}
	if err != nil {
		return 0, fmt.Errorf("connector run %s: %w", id, err)
	}
	run := t.Run
	switch {
	case run.Status != herald.ConnectorRunPending:
		return 0, nil // a duplicate job for a settled run
	case t.Connector == nil:
		return 0, r.store.ConnectorRunFail(ctx, id, "connector no longer exists")
	case !t.Connector.Enabled:
		return 0, r.store.ConnectorRunFail(ctx, id, "connector disabled")
	case t.Event == nil:
		return 0, r.store.ConnectorRunFail(ctx, id, "event no longer stored (retention)")
	}
	c := t.Connector
	attempt := herald.ConnectorAttempt{Attempt: run.Attempts + 1, At: time.Now().UTC()}
	runnable, err := r.registry.Build(c.Kind, connectors.Spec{Code: c.Code, Config: c.MergedConfig()})
	var res connectors.Result
	if err != nil {
		// Saved configurations were validated; this is a change of rules.
		res = connectors.Failed("connector configuration is not valid: %v", err)
	} else {
		res = runnable.Run(ctx, connectors.Input{Event: t.Event})
		if ctx.Err() != nil {
			// Shutdown (or the job's timeout) cut the run short: not the
			// connector's failure. The job runs again later.
			return 0, fmt.Errorf("connector run %s interrupted: %w", id, ctx.Err())
		}
	}
	res = connectors.Redact(res, c.Secrets)
	attempt.Status, attempt.Error, attempt.Logs = string(res.Status), res.Error, res.Logs
	attempt.Requests, attempt.Duration = res.Requests, res.Duration
	status, next, wait := herald.ConnectorRunSucceeded, time.Time{}, time.Duration(0)
	if res.Status != connectors.StatusSuccess {
		status = herald.ConnectorRunFailed
		if err == nil {
			if delay, ok := r.schedule.Next(attempt.Attempt-run.RetryBase, webhook.Result{}, rand.Float64); ok {
				// A due retry still waits a moment: a zero wait means settled.
				status, next, wait = herald.ConnectorRunPending, time.Now().Add(delay).UTC(), max(delay, minRetryWait)
			}
		}
	}
	applied, rerr := r.store.ConnectorRunRecord(context.WithoutCancel(ctx), id, attempt, status, next)
	if rerr != nil {
		return 0, fmt.Errorf("connector run %s: %w", id, rerr)
	}
	if !applied {
		return 0, nil // another job recorded this attempt
	}
	if status == herald.ConnectorRunFailed {
		r.logger.Info("connector run failed after last attempt", "run", id, "connector", c.ID,
			"attempts", attempt.Attempt, "error", res.Error)
	}
	return wait, nil
}
