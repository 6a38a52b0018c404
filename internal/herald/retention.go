package herald

import "time"

// Retention is an event type's own retention: how long its events are
// kept (Keep, 0: the default, HERALD_RETENTION) and how many of them each
// tenant keeps at most (MaxCount, 0: no limit; the newest stay).
type Retention struct {
	Keep     time.Duration
	MaxCount int64
}

// Bounds of a retention's keep, the default's and a type's alike: at least
// MinRetentionKeep, past the retry schedule, so a webhook delivery has all
// its attempts before its event may go.
const (
	MinRetentionKeep = 48 * time.Hour
	MaxRetentionKeep = 8784 * time.Hour
)

// KeepOf is how long events of a type with retention r are kept, given the
// default (0: forever).
func (r Retention) KeepOf(def time.Duration) time.Duration {
	if r.Keep > 0 {
		return r.Keep
	}
	return def
}

// RetentionHorizon is the longest keep in force: whole days of the event
// log older than it hold nothing kept and are dropped at once (see
// KeptSince); events of types kept for less go before, in batches. It is 0
// (forever) when the default keeps events forever, since every type
// without a keep of its own then does.
func RetentionHorizon(def time.Duration, typeKeeps []time.Duration) time.Duration {
	if def <= 0 {
		return 0
	}
	h := def
	for _, k := range typeKeeps {
		h = max(h, k)
	}
	return h
}
