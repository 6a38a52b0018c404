package herald

import (
	"strings"
	"time"
)

// KeptSince reads a retention setting (HERALD_RETENTION): the one rule
// every path that deletes old data follows, so that they all agree on it.
// A zero (or negative) retention keeps everything forever, and ok is false.
// Otherwise data received before since may go: since is the start of the
// UTC day that keep before now falls in, because the event log is dropped a
// daily partition at a time and the data kept with it must not outlive it.
func KeptSince(keep time.Duration, now time.Time) (since time.Time, ok bool) {
	if keep <= 0 {
		return time.Time{}, false
	}
	return now.UTC().Add(-keep).Truncate(24 * time.Hour), true
}

// KeptUntil is when an event received at receivedAt may be removed under
// a retention of keep (ok false: kept forever): the moment KeptSince
// passes its receive time, the end of its UTC day plus keep. The
// maintenance job removes it at its first run after that.
func KeptUntil(receivedAt time.Time, keep time.Duration) (until time.Time, ok bool) {
	if keep <= 0 {
		return time.Time{}, false
	}
	return receivedAt.UTC().Truncate(24 * time.Hour).Add(24*time.Hour + keep), true
}

// ShortDuration writes a duration as Go parses it, without the zero units
// time.Duration.String appends: "720h", not "720h0m0s".
func ShortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
