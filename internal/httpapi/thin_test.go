package httpapi

import (
	"testing"
	"time"
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
		if got := shortDuration(c.d); got != c.want {
			t.Errorf("shortDuration(%v) = %q, want %q", c.d, got, c.want)
		}
		if back, err := time.ParseDuration(shortDuration(c.d)); err != nil || back != c.d {
			t.Errorf("%q does not parse back to %v: %v, %v", shortDuration(c.d), c.d, back, err)
		}
	}
}
