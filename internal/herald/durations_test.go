package herald_test

import (
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

func TestShortDuration(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{720 * time.Hour, "720h"},
		{120*time.Hour + 30*time.Minute, "120h30m"},
		{90 * time.Minute, "1h30m"},
		{5 * time.Minute, "5m"},
		{45 * time.Second, "45s"},
		{time.Hour + 5*time.Second, "1h0m5s"},
		{1500 * time.Millisecond, "1.5s"},
	} {
		if got := herald.ShortDuration(c.d); got != c.want {
			t.Errorf("ShortDuration(%v) = %q, want %q", c.d, got, c.want)
		}
		if back, err := time.ParseDuration(herald.ShortDuration(c.d)); err != nil || back != c.d {
			t.Errorf("%q does not parse back to %v: %v, %v", herald.ShortDuration(c.d), c.d, back, err)
		}
	}
}

// TestKeptSince: a zero or negative retention keeps everything; any other
// keeps whole UTC days, counted back from now's day.
func TestKeptSince(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 31, 15, 4, 5, 0, time.FixedZone("CEST", 2*3600))
	for _, c := range []struct {
		name   string
		keep   time.Duration
		want   time.Time
		wantOK bool
	}{
		{"zero keeps forever", 0, time.Time{}, false},
		{"negative keeps forever", -time.Hour, time.Time{}, false},
		{"30 days", 30 * 24 * time.Hour, time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), true},
		{"48h", 48 * time.Hour, time.Date(2025, 3, 29, 0, 0, 0, 0, time.UTC), true},
		{"part of a day rounds down to the day's start", 36 * time.Hour, time.Date(2025, 3, 30, 0, 0, 0, 0, time.UTC), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, ok := herald.KeptSince(c.keep, now)
			if ok != c.wantOK || !got.Equal(c.want) {
				t.Fatalf("KeptSince(%v) = %v, %v; want %v, %v", c.keep, got, ok, c.want, c.wantOK)
			}
		})
	}
}
