// Package pull serves consumer groups to pull consumers: the instances
// that read a group, the partition leases they share, fetching events in
// partition order, acknowledgements and redelivery
// (docs/design/pull-consumers.md, sections 3 and 4). The state lives in
// PostgreSQL, so several nodes serve one group.
package pull

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/postgres"
)

// Defaults of Config.
const (
	DefaultInstanceTTL  = 5 * time.Minute
	DefaultMaxInFlight  = 1000
	DefaultMaxInstances = herald.Partitions * 4
)

// Instance kinds: a long poll client or a WebSocket.
const (
	KindPoll = "poll"
	KindWS   = "ws"
)

// Config configures an Engine.
type Config struct {
	// InstanceTTL is how long an instance may stay idle before it expires.
	InstanceTTL time.Duration
	// MaxInFlight bounds the events handed to one instance and not yet
	// acknowledged.
	MaxInFlight int
	// MaxInstances bounds the instances of one group.
	MaxInstances int
	// Node names this process in the instances it creates.
	Node string
	// PushBody renders a stored event as push channels carry it (thin
	// types thin); nil carries the stored event as it is.
	PushBody delivery.PushBodyFunc
	Logger   *slog.Logger
}

// Engine serves consumer groups to pull consumers.
type Engine struct {
	store    *postgres.Store
	cfg      Config
	waiting  waiters
	stopping chan struct{}
	stopOnce sync.Once
}

// New returns an Engine over store.
func New(store *postgres.Store, cfg Config) *Engine {
	if cfg.InstanceTTL <= 0 {
		cfg.InstanceTTL = DefaultInstanceTTL
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.MaxInstances <= 0 {
		cfg.MaxInstances = DefaultMaxInstances
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Engine{store: store, cfg: cfg, stopping: make(chan struct{})}
}

// Stop ends every waiting fetch at once, with what it has (nothing), and
// makes later waits return without waiting: the node is shutting down.
func (e *Engine) Stop() { e.stopOnce.Do(func() { close(e.stopping) }) }

// Stopping is closed when the node shuts down (Stop): connections that
// outlive a fetch (WebSockets) close then.
func (e *Engine) Stopping() <-chan struct{} { return e.stopping }

// Instance is one reader of a group.
type Instance struct {
	ID    uuid.UUID
	Group *herald.ConsumerGroup

	// watch makes fetches tell the instance when its partitions change;
	// held is what it was last told (Partitions).
	watch bool
	held  []int
	// woken is a subscription to the group's wake-ups that lives with the
	// instance (Follow); short says its last fetch came back with fewer
	// events than asked for.
	woken <-chan struct{}
	short bool
	// inFlight estimates the events the instance has in flight: what its
	// last fetch left, less what was acknowledged through it since (never
	// more than it has). checked is when that fetch ran; skipped says the
	// last Fetch went by the estimate, not to the database.
	inFlight atomic.Int64
	checked  time.Time
	skipped  bool
	// fetchedHeld are the partitions held at the last fetch.
	fetchedHeld []int
	// touched is when this value last recorded that the instance is alive
	// (unix nanoseconds, 0: never).
	touched atomic.Int64
}

// WatchPartitions makes the instance's fetches return partitions_revoked
// and partitions_assigned notices whenever the partitions it holds
// change, the first fetch included when it holds any. Only for an
// Instance value that lives as long as its reader (a WebSocket), fetched
// by one goroutine at a time.
func (i *Instance) WatchPartitions() { i.watch = true }

// Join adds an instance of kind to g and gives it its share of the
// partitions. Instances of g that expired are removed first, so they do
// not count against MaxInstances; a group that has MaxInstances already is
// a conflict.
func (e *Engine) Join(ctx context.Context, g *herald.ConsumerGroup, kind string) (*Instance, error) {
	inst := &Instance{ID: uuid.New(), Group: g}
	err := e.membership(ctx, g.ID, func(tx pgx.Tx) error {
		n, err := e.store.GroupInstanceCount(ctx, tx, g.ID)
		if err != nil {
			return err
		}
		if n >= e.cfg.MaxInstances {
			return herald.ConflictRule("instances", "maximum",
				"consumer group %q has %d instances, the most it may have; delete one or wait for idle ones to expire",
				g.Name, n)
		}
		return e.store.GroupInstanceInsert(ctx, tx, inst.ID, g.ID, kind, e.cfg.Node)
	})
	if err != nil {
		return nil, err
	}
	return inst, nil
}

// Leave removes an instance of g: its partitions go to the others and the
// events it had in flight are due again at once.
func (e *Engine) Leave(ctx context.Context, g *herald.ConsumerGroup, id uuid.UUID) error {
	return e.membership(ctx, g.ID, func(tx pgx.Tx) error {
		ok, err := e.store.GroupInstanceDelete(ctx, tx, id)
		if err == nil && !ok {
			err = herald.InstanceNotFound(id.String())
		}
		return err
	})
}

// membership changes the instances of a group under its lock: it removes
// the expired ones, applies change and moves the partitions to match.
func (e *Engine) membership(ctx context.Context, group uuid.UUID, change func(tx pgx.Tx) error) error {
	err := pgx.BeginFunc(ctx, e.store.Pool(), func(tx pgx.Tx) error {
		if err := e.store.GroupLock(ctx, tx, group); err != nil {
			return err
		}
		expired, err := e.store.GroupInstancesExpired(ctx, tx, group, e.cfg.InstanceTTL)
		if err != nil {
			return err
		}
		for _, gi := range expired {
			if _, err := e.store.GroupInstanceDelete(ctx, tx, gi.ID); err != nil {
				return err
			}
		}
		if change != nil {
			if err := change(tx); err != nil {
				return err
			}
		}
		owners, live, err := e.store.GroupLeases(ctx, tx, group)
		if err != nil {
			return err
		}
		if err := e.store.GroupLeasesSet(ctx, tx, group, Rebalance(owners, live)); err != nil {
			return err
		}
		// Partitions and released events may have new holders waiting.
		return e.store.GroupLogNotify(ctx, tx, []uuid.UUID{group})
	})
	if err != nil {
		return fmt.Errorf("change instances of group %s: %w", group, err)
	}
	return nil
}

// Sweep removes the instances of every group that have been idle longer
// than the TTL and rebalances their groups. Any node may run it; fetches
// also expire the idle instances of their own group.
func (e *Engine) Sweep(ctx context.Context) error {
	expired, err := e.store.GroupInstancesExpired(ctx, e.store.Pool(), uuid.Nil, e.cfg.InstanceTTL)
	if err != nil {
		return err
	}
	var last uuid.UUID
	for _, gi := range expired {
		if gi.GroupID == last {
			continue
		}
		last = gi.GroupID
		if err := e.membership(ctx, gi.GroupID, nil); err != nil {
			return err
		}
	}
	return nil
}

// Follow subscribes inst to its group's wake-ups for as long as it lives,
// until stop: a Wait after a fetch that came back short then sleeps until
// something happens instead of fetching nothing first. For an Instance
// value that lives as long as its reader (a WebSocket).
func (e *Engine) Follow(inst *Instance) (stop func()) {
	ch, done := e.waiting.subscribe(inst.Group.ID)
	inst.woken = ch
	return done
}

// touch records that the instance is alive; an expired or unknown one is
// not found (its caller creates a new one). An Instance value that
// recorded it less than a tenth of the TTL ago does not record it again
// (a WebSocket fetches and acks many times a second); touched reports
// whether it did.
func (e *Engine) touch(ctx context.Context, inst *Instance) (touched bool, err error) {
	t := e.touchIn(inst)
	if t.TTL == 0 {
		return false, nil
	}
	if err := e.store.GroupInstanceTouch(ctx, t.Instance, inst.Group.ID, t.TTL); err != nil {
		return false, err
	}
	e.touched(inst, t)
	return true, nil
}

// touchDue reports whether inst is to record that it is alive with its
// next call (touch).
func (e *Engine) touchDue(inst *Instance) bool {
	last := inst.touched.Load()
	return last == 0 || time.Since(time.Unix(0, last)) >= e.cfg.InstanceTTL/10
}

// touchIn is the Touch with which a statement records, in its
// transaction, that inst is alive, when inst is due to (touchDue); the
// zero Touch when it is not. Call touched once the statement succeeded.
func (e *Engine) touchIn(inst *Instance) postgres.Touch {
	if !e.touchDue(inst) {
		return postgres.Touch{}
	}
	return postgres.Touch{Instance: inst.ID, TTL: e.cfg.InstanceTTL}
}

// touched notes that a statement with t recorded inst alive.
func (e *Engine) touched(inst *Instance, t postgres.Touch) {
	if t.TTL > 0 {
		inst.touched.Store(time.Now().UnixNano())
	}
}

// Ack acknowledges events in flight in the instance's group by their
// CloudEvents ids. Ids not in flight in the group are invalid and nothing
// changes.
func (e *Engine) Ack(ctx context.Context, inst *Instance, ids []string) error {
	t := e.touchIn(inst)
	if err := e.store.GroupAck(ctx, inst.Group.ID, ids, t); err != nil {
		return err
	}
	e.touched(inst, t)
	e.madeRoom(inst, len(ids))
	return nil
}

// madeRoom wakes this node's waiting fetches of the instance's group after
// events left flight through inst (freed of them; -1: an unknown number):
// one held back by the in-flight limit can go on.
func (e *Engine) madeRoom(inst *Instance, freed int) {
	if freed < 0 {
		inst.inFlight.Store(0)
	} else if inst.inFlight.Add(-int64(freed)) < 0 {
		inst.inFlight.Store(0)
	}
	e.waiting.wake([]uuid.UUID{inst.Group.ID})
}

// AckUpto acknowledges everything the instance was handed in a partition
// it holds, up to seq.
func (e *Engine) AckUpto(ctx context.Context, inst *Instance, partition int, seq int64) error {
	if _, err := e.touch(ctx, inst); err != nil {
		return err
	}
	if err := e.store.GroupAckUpto(ctx, inst.Group.ID, inst.ID, partition, seq); err != nil {
		return err
	}
	e.madeRoom(inst, -1)
	return nil
}

// Nack gives events in flight back to the group, due again after delay.
func (e *Engine) Nack(ctx context.Context, inst *Instance, ids []string, delay time.Duration) error {
	if _, err := e.touch(ctx, inst); err != nil {
		return err
	}
	if err := e.store.GroupNack(ctx, inst.Group.ID, ids, delay); err != nil {
		return err
	}
	e.madeRoom(inst, len(ids))
	return nil
}

// Dead reports an event the consumer cannot process: it is acknowledged
// for the group and kept, with reason, in the consumer's dead-event store.
func (e *Engine) Dead(ctx context.Context, inst *Instance, id, reason string) ([]postgres.DeadEvent, error) {
	if _, err := e.touch(ctx, inst); err != nil {
		return nil, err
	}
	dead, err := e.store.GroupDead(ctx, inst.Group.ID, id, reason)
	if err != nil {
		return nil, err
	}
	e.madeRoom(inst, 1)
	return dead, nil
}
