package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/batch"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/webhook"
)

// Sender hands one signed message to its receiver and reports how it went:
// *webhook.Sender POSTs it over HTTP. A new push channel plugs in here.
type Sender interface {
	Send(ctx context.Context, m webhook.Message) webhook.Result
}

// EmitFunc publishes one of Herald's operational events about a tenant.
type EmitFunc func(ctx context.Context, tenant uuid.UUID, typ, subject string, data map[string]any) error

// Publish emits an operational event, logging (not returning) failures:
// the work that caused it is done and must not be retried for its sake. A
// nil EmitFunc publishes nothing.
func (e EmitFunc) Publish(ctx context.Context, logger *slog.Logger, tenant uuid.UUID, typ, subject string, data map[string]any) {
	if e == nil {
		return
	}
	if err := e(ctx, tenant, typ, subject, data); err != nil {
		logger.Warn("publish operational event", "type", typ, "error", err)
	}
}

// Config tunes the attempts.
type Config struct {
	// InFlight bounds the requests in flight on this node (0: one).
	InFlight int
	// Schedule is the retry schedule (nil: webhook.DefaultRetrySchedule).
	Schedule webhook.RetrySchedule
	// ProbeTimeout is how long the probe of an endpoint's circuit may go
	// unanswered before another attempt may claim it: the longest an
	// attempt's job runs.
	ProbeTimeout time.Duration
	// PreciseWait is the longest wait the job runner wakes exactly on
	// time; a rate-limited delivery waits at most this long per look.
	PreciseWait time.Duration
	// Breaker opens an endpoint's circuit after consecutive failures
	// (zero Threshold: no breaker).
	Breaker postgres.Breaker
	// AutoDisableAfter disables an endpoint whose attempts have all failed
	// for this long (0: never).
	AutoDisableAfter time.Duration
	// JWT signs the tokens of endpoints with "jwt" auth; Tokens fetches
	// and caches those of endpoints with "oauth2" auth.
	JWT    *outbound.JWTIssuer
	Tokens *outbound.TokenSource
	// PushBody turns a stored event body into what webhooks carry (a thin
	// type's notification); nil sends bodies as stored.
	PushBody PushBodyFunc
	// Emit publishes the operational events attempts cause (nil: none).
	Emit EmitFunc
}

// Deliverer makes the attempts of webhook deliveries. Loads and records
// go through batchers, so concurrent attempts share their queries.
type Deliverer struct {
	store   *postgres.Store
	sender  Sender
	cfg     Config
	logger  *slog.Logger
	loads   *batch.Batcher[postgres.DeliveryKey, *postgres.SendTarget]
	records *batch.Batcher[*postgres.AttemptRecord, struct{}]
	// sends bounds the requests in flight on this node: batch jobs send
	// their deliveries in parallel, so the job runner's worker count
	// alone does not bound them.
	sends chan struct{}
}

// maxBatch bounds the deliveries loaded or recorded by one query.
const maxBatch = 256

// New starts a Deliverer; Stop ends its batchers.
func New(store *postgres.Store, sender Sender, cfg Config, logger *slog.Logger) *Deliverer {
	if cfg.Schedule == nil {
		cfg.Schedule = webhook.DefaultRetrySchedule
	}
	d := &Deliverer{store: store, sender: sender, cfg: cfg, logger: logger, sends: make(chan struct{}, max(cfg.InFlight, 1))}
	d.loads = batch.New(2, maxBatch, d.loadMany)
	d.records = batch.New(2, maxBatch, d.recordMany)
	return d
}

// Stop ends the batchers once no attempt runs any more; attempts after it
// fail with batch.ErrStopped.
func (d *Deliverer) Stop() {
	d.records.Stop()
	d.loads.Stop()
}

// Deliver looks at a delivery and makes its next attempt if it is due:
// load → decide → sign and send → classify → record. It returns how long
// the delivery must wait before it is looked at again (a retry, a pending
// or open-circuit endpoint, a rate-limit slot), or 0 once it is settled:
// succeeded, failed for good, no longer there, or handed to a newer job by
// a retry by hand (key.Gen is the generation the job was made for, AnyGen
// for any). snoozes is how many times the job has waited already. An
// error means the job must run again; the attempt, if one was made, is
// recorded first.
func (d *Deliverer) Deliver(ctx context.Context, key postgres.DeliveryKey, snoozes int) (time.Duration, error) {
	// Load: the delivery, its event and endpoint in one batched query,
	// the body rendered, the endpoint's settings opened.
	a, err := d.load(ctx, key)
	if err != nil {
		return 0, fmt.Errorf("deliver %s: %w", key.ID, err)
	}
	a.state.Snoozes = snoozes
	// Decide whether it goes now.
	dec, err := d.gate(ctx, a)
	if err != nil {
		return 0, fmt.Errorf("deliver %s: %w", key.ID, err)
	}
	if dec.Step != StepSend {
		return d.settle(ctx, a, dec)
	}
	// Sign and send.
	started, sent, err := d.send(ctx, a)
	if err != nil {
		return 0, fmt.Errorf("deliver %s: %w", key.ID, err)
	}
	// Classify the outcome and record it.
	dec = Decide(a.state, &sent, d.env(time.Now()))
	if dec.Step != StepRecord {
		return d.settle(ctx, a, dec)
	}
	return d.record(ctx, a, started, sent.Result, dec)
}

func (d *Deliverer) env(now time.Time) Env {
	return Env{Schedule: d.cfg.Schedule, Now: now, Rand: rand.Float64, PreciseWait: d.cfg.PreciseWait}
}

// gate decides whether the delivery goes now, claiming the endpoint's
// probe and reserving its rate-limit slot when Decide asks for them.
func (d *Deliverer) gate(ctx context.Context, a *attempt) (Decision, error) {
	for {
		dec := Decide(a.state, nil, d.env(time.Now()))
		switch dec.Step {
		case StepClaimProbe:
			claimed, err := d.store.EndpointClaimProbe(ctx, a.delivery().EndpointID, d.cfg.ProbeTimeout)
			if err != nil {
				return Decision{}, err
			}
			a.state.Probe = ProbeTaken
			if claimed {
				a.state.Probe = ProbeClaimed
			}
		case StepReserveSlot:
			dl := a.delivery()
			slot, err := d.store.EndpointReserveSlot(ctx, dl.EndpointID, dl.ID, dl.CreatedAt, a.state.RateLimit)
			if err != nil {
				return Decision{}, err
			}
			if slot.IsZero() {
				return Decision{}, errors.New("no rate-limit slot was reserved")
			}
			a.state.SlotAt = slot
		default:
			return dec, nil
		}
	}
}

// settle carries out a decision that records no attempt.
func (d *Deliverer) settle(ctx context.Context, a *attempt, dec Decision) (time.Duration, error) {
	switch dec.Step {
	case StepDrop:
		return 0, nil
	case StepWait:
		// Snoozes are not attempts.
		return dec.Wait, nil
	case StepRetryJob:
		return 0, fmt.Errorf("deliver %s: %w", a.key.ID, dec.Err)
	case StepFail:
		if dec.Log != "" {
			d.logger.Error(dec.Log, "delivery", a.key.ID, "endpoint", a.delivery().EndpointID, "error", dec.Reason)
		}
		return 0, d.store.DeliveryFail(ctx, a.key.ID, a.key.CreatedAt, dec.Reason)
	}
	return 0, fmt.Errorf("deliver %s: unexpected step %d", a.key.ID, dec.Step)
}

// send makes the attempt, once a request slot of this node is free. Its
// error is the end of ctx while waiting for the slot.
func (d *Deliverer) send(ctx context.Context, a *attempt) (time.Time, Sent, error) {
	select {
	case d.sends <- struct{}{}:
	case <-ctx.Done():
		return time.Time{}, Sent{}, ctx.Err()
	}
	started := time.Now()
	a.msg.Timestamp = started
	res := d.sendAuthenticated(ctx, a)
	<-d.sends
	return started, Sent{Result: res, Interrupted: ctx.Err()}, nil
}

// sendAuthenticated adds the endpoint's outbound authentication: a fresh
// Herald-signed JWT, or a cached OAuth2 token that is dropped when the
// endpoint answers 401 so the next attempt fetches a new one. Failing to
// get a token, or to open the endpoint's credentials, is a failed attempt,
// retried like any other.
func (d *Deliverer) sendAuthenticated(ctx context.Context, a *attempt) webhook.Result {
	if a.credsErr != nil {
		return webhook.Result{Err: a.credsErr}
	}
	m, auth := a.msg, a.auth
	if auth == nil {
		return d.sender.Send(ctx, m)
	}
	if m.Header == nil {
		m.Header = http.Header{}
	}
	switch auth.Type {
	case herald.AuthJWT:
		if d.cfg.JWT == nil {
			return webhook.Result{Err: errors.New("jwt auth: no signing keys configured")}
		}
		tok, err := d.cfg.JWT.Token(m.URL, a.delivery().EventID.String(), m.ID)
		if err != nil {
			return webhook.Result{Err: fmt.Errorf("jwt auth: %w", err)}
		}
		m.Header.Set("Authorization", "Bearer "+tok)
		return d.sender.Send(ctx, m)
	case herald.AuthOAuth2:
		if d.cfg.Tokens == nil {
			return webhook.Result{Err: errors.New("oauth2 auth: no token source configured")}
		}
		creds := outbound.ClientCredentials{TokenURL: auth.TokenURL, ClientID: auth.ClientID,
			ClientSecret: auth.ClientSecret, Scopes: auth.Scopes, Audience: auth.Audience}
		tok, err := d.cfg.Tokens.Token(ctx, creds)
		if err != nil {
			return webhook.Result{Err: fmt.Errorf("oauth2 token: %w", err)}
		}
		m.Header.Set("Authorization", "Bearer "+tok)
		res := d.sender.Send(ctx, m)
		if res.StatusCode == http.StatusUnauthorized {
			d.cfg.Tokens.Invalidate(creds, tok)
		}
		return res
	default:
		return webhook.Result{Err: fmt.Errorf("unknown auth type %q", auth.Type)}
	}
}
