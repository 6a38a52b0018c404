package web

import (
	"sync"
	"time"
)

// throttle counts failed sign-ins per address and per key. Once either has
// failed limit times within window, sign-in for it is refused, right
// password or not, until window has passed since its latest failure: a
// guesser gets limit tries per window, however many addresses or keys it
// spreads them over, and a locked-out admin waits at most window.
//
// The counts live in the node's memory. Behind a load balancer that
// spreads one browser over several nodes, the limit is per node; that
// still bounds guessing to limit × nodes per window.
type throttle struct {
	mu     sync.Mutex
	limit  int
	window time.Duration
	now    func() time.Time
	seen   map[string]*failures
	swept  time.Time
}

type failures struct {
	times []time.Time // within the window, oldest first
}

func newThrottle(limit int, window time.Duration, now func() time.Time) *throttle {
	return &throttle{limit: limit, window: window, now: now, seen: make(map[string]*failures)}
}

// blocked reports whether any of subjects is locked out, and for how much
// longer.
func (t *throttle) blocked(subjects ...string) (bool, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	var wait time.Duration
	for _, s := range subjects {
		f := t.seen[s]
		if f == nil {
			continue
		}
		f.trim(now, t.window)
		if len(f.times) >= t.limit {
			wait = max(wait, f.times[len(f.times)-1].Add(t.window).Sub(now))
		}
	}
	return wait > 0, wait
}

// fail records a failed sign-in for each subject.
func (t *throttle) fail(subjects ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	for _, s := range subjects {
		f := t.seen[s]
		if f == nil {
			f = &failures{}
			t.seen[s] = f
		}
		f.trim(now, t.window)
		f.times = append(f.times, now)
		if len(f.times) > t.limit {
			f.times = f.times[len(f.times)-t.limit:]
		}
	}
	// Forget quiet subjects now and then, so addresses that failed once
	// do not pile up.
	if now.Sub(t.swept) > t.window {
		for s, f := range t.seen {
			if f.trim(now, t.window); len(f.times) == 0 {
				delete(t.seen, s)
			}
		}
		t.swept = now
	}
}

// succeed forgets the failures of a key that signed in.
func (t *throttle) succeed(subject string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.seen, subject)
}

func (f *failures) trim(now time.Time, window time.Duration) {
	i := 0
	for i < len(f.times) && now.Sub(f.times[i]) >= window {
		i++
	}
	f.times = f.times[i:]
}
