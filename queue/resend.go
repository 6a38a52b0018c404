package queue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/postgres"
)

// Routing hands out the current routing snapshot (a *catalog.Catalog).
// Its rule (catalog.Snapshot.Receivers) decides every send the queue makes
// by hand or in the background: retries, endpoint recovery, replays and
// connector run retries send an event only where ingest would send it now.
type Routing interface {
	Get(ctx context.Context) (*catalog.Snapshot, error)
}

var errNoRouting = errors.New("queue: no routing configured")

func (q *Queue) snapshot(ctx context.Context) (*catalog.Snapshot, error) {
	if q.routing == nil {
		return nil, errNoRouting
	}
	snap, err := q.routing.Get(ctx)
	if err != nil {
		return nil, fmt.Errorf("routing: %w", err)
	}
	return snap, nil
}

// mayResend refuses to put a delivery back on the queue when its endpoint
// no longer receives its event: its types, filter or its client's consume
// rights exclude it now, or it was disabled or deleted.
func (q *Queue) mayResend(ctx context.Context, tx pgx.Tx, d *herald.Delivery) error {
	snap, ev, err := q.routedEvent(ctx, tx, d.EventID, d.CreatedAt)
	if err != nil {
		return err
	}
	if !snap.Receives(catalog.StoredEvent(ev), d.EndpointID) {
		return notReceived("endpoint_id", "endpoint", d.EndpointID, ev)
	}
	return nil
}

// routedEvent loads what routing needs of a stored event, and the
// snapshot to route it with.
func (q *Queue) routedEvent(ctx context.Context, tx pgx.Tx, id uuid.UUID, receivedAt time.Time) (*catalog.Snapshot, *postgres.RoutedEvent, error) {
	snap, err := q.snapshot(ctx)
	if err != nil {
		return nil, nil, err
	}
	ev, err := q.store.EventRouted(ctx, tx, id, receivedAt)
	if errors.Is(err, herald.ErrNotFound) {
		return nil, nil, herald.ConflictRule("event_id", "retention", "event %s is no longer stored", id)
	}
	if err != nil {
		return nil, nil, err
	}
	return snap, ev, nil
}

// notReceived is the conflict of a resend to a subscriber that no longer
// receives the event.
func notReceived(field, what string, id uuid.UUID, ev *postgres.RoutedEvent) error {
	return herald.ConflictRule(field, catalog.RuleNotReceived,
		"%s %s no longer receives event %s (%s): its types, filter or its client's consume rights exclude it, or it is disabled or deleted",
		what, id, ev.ID, ev.Type)
}

// Recover puts an endpoint's failed deliveries since a time back on the
// queue (at most limit per call; call again while the result says More).
// Deliveries of events the endpoint no longer receives stay failed and are
// counted as skipped.
func (q *Queue) Recover(ctx context.Context, endpoint uuid.UUID, since time.Time, limit int) (postgres.RecoverResult, error) {
	snap, err := q.snapshot(ctx)
	if err != nil {
		return postgres.RecoverResult{}, err
	}
	reach, ok := snap.Reach(endpoint)
	if !ok {
		return postgres.RecoverResult{}, herald.Conflict("endpoint %s is disabled; enable it before recovering its deliveries", endpoint)
	}
	receives := func(ev *postgres.RoutedEvent) bool { return snap.Receives(catalog.StoredEvent(ev), endpoint) }
	return q.store.DeliveryRecover(ctx, endpoint, since, limit, reach.Filtered, receives,
		func(tx pgx.Tx, keys []postgres.DeliveryKey) error {
			jobs := DeliveryJobs(keys, func(int) uuid.UUID { return endpoint })
			if _, err := q.client.InsertManyTx(ctx, tx, jobs); err != nil {
				return fmt.Errorf("enqueue recovered deliveries: %w", err)
			}
			return nil
		})
}

// mayRerun refuses to run a connector again on an event it no longer
// receives (the rule of mayResend, for connectors).
func (q *Queue) mayRerun(ctx context.Context, tx pgx.Tx, run *herald.ConnectorRun) error {
	snap, ev, err := q.routedEvent(ctx, tx, run.EventID, run.EventReceivedAt)
	if err != nil {
		return err
	}
	rcv := snap.Receivers(catalog.StoredEvent(ev))
	if !slices.ContainsFunc(rcv.Connectors, func(c *herald.Connector) bool { return c.ID == run.ConnectorID }) {
		return notReceived("connector", "connector", run.ConnectorID, ev)
	}
	return nil
}
