package queue

import (
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/postgres"
)

// TestReplayOutcome: a replay whose cursor is at the end runs while any of
// its deliveries is pending, then ends done or failed with the count.
func TestReplayOutcome(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		counts         postgres.ReplayCounts
		status, reason string
	}{
		{postgres.ReplayCounts{}, postgres.ReplayDone, ""},
		{postgres.ReplayCounts{Delivered: 7}, postgres.ReplayDone, ""},
		{postgres.ReplayCounts{Delivered: 2, Pending: 1}, postgres.ReplayRunning, ""},
		{postgres.ReplayCounts{Failed: 3, Pending: 1}, postgres.ReplayRunning, ""},
		{postgres.ReplayCounts{Delivered: 2, Failed: 3}, postgres.ReplayFailed, "3 of 5 deliveries failed after their last attempt"},
		{postgres.ReplayCounts{Failed: 1}, postgres.ReplayFailed, "1 of 1 deliveries failed after their last attempt"},
	} {
		if status, reason := replayOutcome(tt.counts); status != tt.status || reason != tt.reason {
			t.Errorf("replayOutcome(%+v) = %q %q, want %q %q", tt.counts, status, reason, tt.status, tt.reason)
		}
	}
}

func TestReplayCheckDelay(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ since, want time.Duration }{
		{0, 500 * time.Millisecond},
		{time.Second, 500 * time.Millisecond},
		{8 * time.Second, 2 * time.Second},
		{time.Hour, time.Minute},
	} {
		if got := replayCheckDelay(tt.since); got != tt.want {
			t.Errorf("replayCheckDelay(%v) = %v, want %v", tt.since, got, tt.want)
		}
	}
}
