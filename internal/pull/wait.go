package pull

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"
)

// SafetyWake bounds how long a waiting fetch sleeps without looking: it
// covers notifications lost while the listener reconnected. New events
// wake waiters at once through LISTEN/NOTIFY.
const SafetyWake = 10 * time.Second

// waiters wakes the fetches waiting on each group.
type waiters struct {
	mu     sync.Mutex
	groups map[uuid.UUID]map[chan struct{}]struct{}
}

func (w *waiters) subscribe(group uuid.UUID) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.groups == nil {
		w.groups = make(map[uuid.UUID]map[chan struct{}]struct{})
	}
	if w.groups[group] == nil {
		w.groups[group] = make(map[chan struct{}]struct{})
	}
	w.groups[group][ch] = struct{}{}
	return ch, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		delete(w.groups[group], ch)
		if len(w.groups[group]) == 0 {
			delete(w.groups, group)
		}
	}
}

// wake signals the waiters of groups (all groups when nil).
func (w *waiters) wake(groups []uuid.UUID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	signal := func(subs map[chan struct{}]struct{}) {
		for ch := range subs {
			select {
			case ch <- struct{}{}:
			default: // already signalled
			}
		}
	}
	if groups == nil {
		for _, subs := range w.groups {
			signal(subs)
		}
		return
	}
	for _, g := range groups {
		signal(w.groups[g])
	}
}

// Listen wakes this node's waiting fetches when another transaction (on
// any node) writes to their groups' logs or makes events due again. It
// holds one database connection and returns when ctx ends, reconnecting
// after failures.
func (e *Engine) Listen(ctx context.Context) {
	for {
		err := e.store.GroupLogListen(ctx, func() { e.waiting.wake(nil) }, e.waiting.wake)
		if ctx.Err() != nil {
			return
		}
		e.cfg.Logger.WarnContext(ctx, "pull: group log listener failed; reconnecting", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// Wait is Fetch that waits up to wait for events when there are none: it
// returns as soon as a fetch gets some (or a notice), or an empty batch
// when the wait ends.
func (e *Engine) Wait(ctx context.Context, inst *Instance, max int, wait time.Duration) (Batch, error) {
	// Subscribed before the first fetch, so a commit between that fetch
	// and the wait is not missed.
	woken := inst.woken
	if woken == nil {
		ch, done := e.waiting.subscribe(inst.Group.ID)
		defer done()
		woken = ch
	}
	// A following instance whose last fetch came back short got all there
	// was; its subscription kept every wake-up since, so it sleeps first.
	skip := inst.woken != nil && inst.short
	end := time.Now().Add(wait)
	for {
		if !skip {
			b, err := e.Fetch(ctx, inst, max)
			inst.short = err == nil && len(b.Events) < max
			if err != nil || !b.Empty() || !time.Now().Before(end) {
				return b, err
			}
		}
		skip = false
		select {
		case <-e.stopping:
			return Batch{}, nil
		default:
		}
		next := end
		if safety := time.Now().Add(SafetyWake); safety.Before(next) {
			next = safety
		}
		if inst.skipped {
			// The fetch went by the estimate: ask the database soon.
			if soon := time.Now().Add(recheck); soon.Before(next) {
				next = soon
			}
		} else {
			// Events in flight come back at a known time (ack wait, nack
			// delay): sleep until then, not until a notification.
			due, err := e.store.GroupNextDue(ctx, inst.Group.ID, inst.ID)
			if err != nil {
				return Batch{}, err
			}
			if !due.IsZero() && due.Before(next) {
				next = due
			}
		}
		timer := time.NewTimer(time.Until(next))
		select {
		case <-woken:
		case <-timer.C:
		case <-e.stopping:
		case <-ctx.Done():
			timer.Stop()
			return Batch{}, ctx.Err()
		}
		timer.Stop()
	}
}
