package queue

import (
	"context"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/postgres"
)

// announceExhausted publishes herald.delivery.exhausted for a delivery that
// used up its attempts, marking the delivery first so that the success of
// a later retry, recover or replay announces herald.delivery.recovered.
// The mark is dropped again when the announcement fails: a recovery is
// only announced for an exhaustion that was.
func (q *Queue) announceExhausted(ctx context.Context, d *herald.Delivery, rec *postgres.AttemptRecord) {
	if q.emit == nil {
		return
	}
	if err := q.store.DeliverySetExhausted(ctx, d.ID, d.CreatedAt, true); err != nil {
		q.logger.Warn("mark delivery exhausted", "delivery", d.ID, "error", err)
	}
	err := q.emit(ctx, d.TenantID, herald.OpDeliveryExhausted, "deliveries/"+d.ID.String(), map[string]any{
		"delivery_id": d.ID, "endpoint_id": d.EndpointID, "event_id": d.EventID, "event_type": d.EventType,
		"attempts": rec.Attempt.Attempt, "last_error": rec.Attempt.Error})
	if err == nil {
		return
	}
	q.logger.Warn("publish operational event", "type", herald.OpDeliveryExhausted, "error", err)
	if err := q.store.DeliverySetExhausted(context.WithoutCancel(ctx), d.ID, d.CreatedAt, false); err != nil {
		q.logger.Warn("unmark delivery exhausted", "delivery", d.ID, "error", err)
	}
}

// announceRecovered publishes herald.delivery.recovered when a delivery
// announced as exhausted has now succeeded. Claiming the mark in the
// database makes the announcement happen once, however many duplicate
// jobs or nodes see the success.
func (q *Queue) announceRecovered(ctx context.Context, t *postgres.SendTarget, rec *postgres.AttemptRecord) {
	if !t.Exhausted || rec.Status != herald.DeliverySucceeded || q.emit == nil {
		return
	}
	d := &t.Delivery
	ok, err := q.store.DeliveryClaimRecovered(ctx, d.ID, d.CreatedAt)
	if err != nil {
		q.logger.Warn("claim delivery recovery", "delivery", d.ID, "error", err)
		return
	}
	if !ok {
		return
	}
	q.logger.Info("delivery recovered after being exhausted", "delivery", d.ID, "endpoint", d.EndpointID,
		"attempts", rec.Attempt.Attempt)
	q.publish(ctx, d.TenantID, herald.OpDeliveryRecovered, "deliveries/"+d.ID.String(), map[string]any{
		"delivery_id": d.ID, "endpoint_id": d.EndpointID, "event_id": d.EventID, "event_type": d.EventType,
		"attempts": rec.Attempt.Attempt})
}
