package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/webhook"
)

// Handshaker performs the CloudEvents webhook abuse-protection handshake.
type Handshaker interface {
	Handshake(ctx context.Context, r webhook.HandshakeRequest) (webhook.HandshakeResult, error)
}

// VerifyArgs is the job that asks a pending endpoint's receiver for consent.
type VerifyArgs struct {
	EndpointID uuid.UUID `json:"e"`
}

// Kind names the job for River.
func (VerifyArgs) Kind() string { return "herald.verify" }

// verifyMaxAttempts bounds the handshakes of one verification.
const verifyMaxAttempts = 12

// InsertOpts retries a refused handshake on verifyBackoff (seconds, then
// minutes, then hours: about 11 hours in all); the receiver can also grant
// later through the callback, or an admin by hand.
func (VerifyArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueMaintenance, MaxAttempts: verifyMaxAttempts}
}

// verifyBackoff is the wait after failed handshake number attempt: River's
// default curve (attempt⁴ seconds) without its jitter, so that the time
// shown to the endpoint's owner is the time of the next try.
func verifyBackoff(attempt int) time.Duration {
	return time.Duration(attempt*attempt*attempt*attempt) * time.Second
}

// CallbackPath is where a receiver grants consent asynchronously:
// GET or POST {public URL}/webhook-verifications/{endpoint id}/{token}.
const CallbackPath = "/webhook-verifications/"

type verifyWorker struct {
	river.WorkerDefaults[VerifyArgs]
	q         *Queue
	hs        Handshaker
	publicURL string
	logger    *slog.Logger
}

// Work sends the OPTIONS handshake; consent activates the endpoint and its
// queued deliveries flow. No consent is an error, so River tries again.
func (w *verifyWorker) Work(ctx context.Context, job *river.Job[VerifyArgs]) error {
	id := job.Args.EndpointID
	ep, err := w.q.store.EndpointGet(ctx, id)
	if errors.Is(err, herald.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if ep.Status != herald.EndpointPending {
		return nil
	}
	token, err := w.q.store.EndpointVerifyToken(ctx, id)
	if err != nil {
		return err
	}
	origin := w.publicURL
	if u, err := url.Parse(w.publicURL); err == nil && u.Hostname() != "" {
		origin = u.Hostname()
	}
	now := time.Now()
	res, err := w.hs.Handshake(ctx, webhook.HandshakeRequest{
		URL: ep.URL, Origin: origin, CallbackURL: w.publicURL + CallbackPath + id.String() + "/" + token,
		RequestRate: ep.RateLimit * 60, // the spec's rates are per minute
		ClientCert:  delivery.ClientCertificate(ep.MTLS),
	})
	// The outcome is recorded on the endpoint whatever it is, so its
	// owner can see why it is still pending.
	v := herald.Verification{Attempts: job.Attempt, LastAttemptAt: now, StatusCode: res.StatusCode, Error: res.Reason}
	if err != nil {
		v.Error = err.Error()
	}
	if !res.Granted && job.Attempt < job.MaxAttempts {
		v.NextAttemptAt = now.Add(verifyBackoff(job.Attempt))
	}
	if rerr := w.q.store.EndpointVerificationRecord(ctx, id, v); rerr != nil {
		w.logger.Warn("record endpoint verification", "endpoint", id, "error", rerr)
	}
	if err != nil {
		return fmt.Errorf("verify endpoint %s: %w", id, err)
	}
	if !res.Granted {
		return fmt.Errorf("verify endpoint %s: no consent yet: %s", id, res.Reason)
	}
	if res.AllowedRate > 0 {
		// The receiver caps the rate (per minute); Herald's limits are per
		// second, so round up to at least one.
		if err := w.q.store.EndpointCapRate(ctx, id, max(1, res.AllowedRate/60)); err != nil {
			return err
		}
	}
	if _, err := w.q.store.EndpointVerify(ctx, id, "handshake"); err != nil {
		return err
	}
	w.logger.Info("endpoint verified by handshake", "endpoint", id, "allowed_rate", res.AllowedRate)
	w.q.emit.Publish(ctx, w.logger, ep.TenantID, herald.OpEndpointVerified, "endpoints/"+id.String(), map[string]any{
		"endpoint_id": id, "verified_by": "handshake"})
	return nil
}

// NextRetry schedules the next handshake at the time recorded for the
// endpoint's owner (see verifyBackoff).
func (w *verifyWorker) NextRetry(job *river.Job[VerifyArgs]) time.Time {
	return time.Now().Add(verifyBackoff(job.Attempt))
}

// StartVerification queues the handshake of a pending endpoint.
func (q *Queue) StartVerification(ctx context.Context, endpoint uuid.UUID) error {
	if _, err := q.client.Insert(ctx, VerifyArgs{EndpointID: endpoint}, nil); err != nil {
		return fmt.Errorf("queue verification of %s: %w", endpoint, err)
	}
	return nil
}
