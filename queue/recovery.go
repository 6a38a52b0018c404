package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/heraldhq/herald/internal/postgres"
)

// jobRetryPolicy schedules the run of a job that failed (not a failed
// delivery attempt, which the worker schedules itself): the database was
// unreachable, the node stopped mid-attempt, the job was rescued from a
// node that died. Those causes clear within seconds or minutes, so the wait
// doubles from one second up to 30 seconds, with jitter so that a backlog
// does not return in one wave. (River's default, attempt⁴ seconds, waits
// over four minutes after the fourth failure: a minute's database outage
// would delay deliveries long after it ended.)
type jobRetryPolicy struct{}

// jobRetryMax caps the wait between runs of a failing job.
const jobRetryMax = 30 * time.Second

// NextRetry implements river.ClientRetryPolicy.
func (jobRetryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().Add(jobRetryDelay(len(job.Errors)+1, rand.Float64))
}

// jobRetryDelay is the wait after the n-th failed run (n ≥ 1); random gives
// a number in [0, 1) for ±10 % jitter.
func jobRetryDelay(n int, random func() float64) time.Duration {
	d := min(time.Second<<min(max(n-1, 0), 6), jobRetryMax)
	return time.Duration(float64(d) * (0.9 + 0.2*random()))
}

// jobErrors dead-letters the deliveries of a delivery job whose runs keep
// failing (River discards a job after its last attempt): without this they
// would stay pending with no job to send them. The reason is recorded on
// each delivery, so the failure is visible and a retry by hand can start
// them again.
type jobErrors struct {
	store  *postgres.Store
	logger *slog.Logger
}

// HandleError implements river.ErrorHandler.
func (h *jobErrors) HandleError(ctx context.Context, job *rivertype.JobRow, err error) *river.ErrorHandlerResult {
	if job.Attempt >= job.MaxAttempts {
		h.deadLetter(ctx, job, fmt.Sprintf("Herald could not run this delivery's job (%d tries): %v", job.Attempt, err))
	}
	return nil
}

// HandlePanic implements river.ErrorHandler.
func (h *jobErrors) HandlePanic(ctx context.Context, job *rivertype.JobRow, panicVal any, trace string) *river.ErrorHandlerResult {
	h.logger.Error("job panicked", "kind", job.Kind, "job", job.ID, "attempt", job.Attempt, "panic", panicVal, "trace", trace)
	if job.Attempt >= job.MaxAttempts {
		h.deadLetter(ctx, job, fmt.Sprintf("Herald could not run this delivery's job (%d tries): panic: %v", job.Attempt, panicVal))
	}
	return nil
}

// deadLetterTimeout bounds the dead-lettering of a discarded job's
// deliveries.
const deadLetterTimeout = 30 * time.Second

// deadLetter fails the still-pending deliveries a job was for.
func (h *jobErrors) deadLetter(ctx context.Context, job *rivertype.JobRow, reason string) {
	var keys []postgres.DeliveryKey
	switch job.Kind {
	case DeliverArgs{}.Kind():
		var a DeliverArgs
		if json.Unmarshal(job.EncodedArgs, &a) == nil {
			keys = append(keys, postgres.DeliveryKey{ID: a.DeliveryID, CreatedAt: a.CreatedAt})
		}
	case DeliverBatchArgs{}.Kind():
		var a DeliverBatchArgs
		if json.Unmarshal(job.EncodedArgs, &a) == nil {
			for _, it := range a.Deliveries {
				keys = append(keys, postgres.DeliveryKey{ID: it.DeliveryID, CreatedAt: it.CreatedAt})
			}
		}
	default:
		// Drains are restarted by maintenance (restartOrphans); other
		// jobs record their own failures.
		h.logger.Error("job discarded after its last attempt", "kind", job.Kind, "job", job.ID, "reason", reason)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deadLetterTimeout)
	defer cancel()
	for _, k := range keys {
		if err := h.store.DeliveryFail(ctx, k.ID, k.CreatedAt, reason); err != nil {
			h.logger.Error("dead-letter delivery of a discarded job", "delivery", k.ID, "error", err)
		}
	}
	h.logger.Error("delivery job discarded after its last attempt; its pending deliveries are failed", "kind", job.Kind,
		"job", job.ID, "deliveries", len(keys), "reason", reason)
}
