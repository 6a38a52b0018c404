package delivery

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/webhook"
)

// recordTimeout bounds the recording of an attempt that was made.
const recordTimeout = 30 * time.Second

// record stores a sent attempt and what it leads to (dec, see Decide): the
// attempt and the delivery's new state, batched with other attempts' (which
// also keeps the endpoints' health, see recordMany); then the endpoint
// disabled at its receiver's wish, and the exhausted or recovered
// announcements. It returns the wait before the next attempt (0: settled).
func (d *Deliverer) record(ctx context.Context, a *attempt, started time.Time, res webhook.Result, dec Decision) (time.Duration, error) {
	dl := a.delivery()
	rec := &postgres.AttemptRecord{
		DeliveryID: dl.ID, CreatedAt: dl.CreatedAt, EndpointID: dl.EndpointID, TenantID: dl.TenantID,
		Attempt: herald.Attempt{
			Attempt: dec.Attempt, At: started.UTC(), StatusCode: res.StatusCode, Latency: res.Latency,
			ResponseBody: res.ResponseBody, Error: dec.Error,
		},
		Status: dec.Status, NextAttemptAt: dec.NextAttemptAt,
	}
	// The attempt happened: record it even if the job's context ends now
	// (a stop that ran out of time), so its outcome is not lost.
	recCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if _, err := d.records.Do(recCtx, rec); err != nil {
		return 0, fmt.Errorf("deliver %s: %w", dl.ID, err)
	}
	if dec.Disable != "" {
		if err := d.store.EndpointDisable(ctx, dl.EndpointID, dec.Disable); err != nil {
			return 0, fmt.Errorf("deliver %s: %w", dl.ID, err)
		}
		d.logger.Warn("endpoint disabled by its receiver", "endpoint", dl.EndpointID, "reason", dec.Disable)
		d.cfg.Emit.Publish(ctx, d.logger, dl.TenantID, herald.OpEndpointDisabled, "endpoints/"+dl.EndpointID.String(),
			map[string]any{"endpoint_id": dl.EndpointID, "reason": dec.Disable})
	}
	if dec.Exhausted {
		d.logger.Info("delivery failed after last attempt", "delivery", dl.ID, "endpoint", dl.EndpointID,
			"attempts", rec.Attempt.Attempt, "error", rec.Attempt.Error)
		if dec.Announce {
			d.announceExhausted(ctx, dl, rec)
		}
	}
	if dec.ClaimRecovered {
		d.announceRecovered(ctx, dl, rec)
	}
	return dec.Wait, nil
}

// recordMany serves a batch of records with one statement, then tracks
// the endpoints' failure streaks and auto-disables those failing for too
// long. Health errors are logged, not returned: the attempts themselves
// are recorded already.
func (d *Deliverer) recordMany(ctx context.Context, recs []*postgres.AttemptRecord) ([]struct{}, error) {
	if err := d.store.DeliveryRecordAttempts(ctx, recs); err != nil {
		return nil, err
	}
	var ok, failed []uuid.UUID
	for _, r := range recs {
		if r.Status == herald.DeliverySucceeded {
			ok = append(ok, r.EndpointID)
		} else {
			failed = append(failed, r.EndpointID)
		}
	}
	disabled, err := d.store.EndpointHealthRecord(ctx, ok, failed, d.cfg.AutoDisableAfter, d.cfg.Breaker)
	if err != nil {
		d.logger.Error("endpoint health", "error", err)
	}
	for _, id := range disabled {
		d.logger.Warn("endpoint auto-disabled: no successful delivery", "endpoint", id, "after", d.cfg.AutoDisableAfter)
		if ep, err := d.store.EndpointGet(ctx, id); err == nil {
			d.cfg.Emit.Publish(ctx, d.logger, ep.TenantID, herald.OpEndpointDisabled, "endpoints/"+id.String(),
				map[string]any{"endpoint_id": id, "reason": ep.DisabledReason})
		}
	}
	return make([]struct{}, len(recs)), nil
}

// announceExhausted publishes herald.delivery.exhausted for a delivery that
// used up its attempts, marking the delivery first so that the success of
// a later retry, recover or replay announces herald.delivery.recovered.
// The mark is dropped again when the announcement fails: a recovery is
// only announced for an exhaustion that was.
func (d *Deliverer) announceExhausted(ctx context.Context, dl *herald.Delivery, rec *postgres.AttemptRecord) {
	if d.cfg.Emit == nil {
		return
	}
	if err := d.store.DeliverySetExhausted(ctx, dl.ID, dl.CreatedAt, true); err != nil {
		d.logger.Warn("mark delivery exhausted", "delivery", dl.ID, "error", err)
	}
	err := d.cfg.Emit(ctx, dl.TenantID, herald.OpDeliveryExhausted, "deliveries/"+dl.ID.String(), map[string]any{
		"delivery_id": dl.ID, "endpoint_id": dl.EndpointID, "event_id": dl.EventID, "event_type": dl.EventType,
		"attempts": rec.Attempt.Attempt, "last_error": rec.Attempt.Error})
	if err == nil {
		return
	}
	d.logger.Warn("publish operational event", "type", herald.OpDeliveryExhausted, "error", err)
	if err := d.store.DeliverySetExhausted(context.WithoutCancel(ctx), dl.ID, dl.CreatedAt, false); err != nil {
		d.logger.Warn("unmark delivery exhausted", "delivery", dl.ID, "error", err)
	}
}

// announceRecovered publishes herald.delivery.recovered for a delivery
// announced as exhausted that has now succeeded. Claiming the mark in the
// database makes the announcement happen once, however many duplicate
// jobs or nodes see the success.
func (d *Deliverer) announceRecovered(ctx context.Context, dl *herald.Delivery, rec *postgres.AttemptRecord) {
	if d.cfg.Emit == nil {
		return
	}
	ok, err := d.store.DeliveryClaimRecovered(ctx, dl.ID, dl.CreatedAt)
	if err != nil {
		d.logger.Warn("claim delivery recovery", "delivery", dl.ID, "error", err)
		return
	}
	if !ok {
		return
	}
	d.logger.Info("delivery recovered after being exhausted", "delivery", dl.ID, "endpoint", dl.EndpointID,
		"attempts", rec.Attempt.Attempt)
	d.cfg.Emit.Publish(ctx, d.logger, dl.TenantID, herald.OpDeliveryRecovered, "deliveries/"+dl.ID.String(), map[string]any{
		"delivery_id": dl.ID, "endpoint_id": dl.EndpointID, "event_id": dl.EventID, "event_type": dl.EventType,
		"attempts": rec.Attempt.Attempt})
}
