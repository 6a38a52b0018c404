package herald_test

import (
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

// TestRetentionHorizon: the longest keep decides which days hold nothing
// kept; a default of forever keeps every day.
func TestRetentionHorizon(t *testing.T) {
	t.Parallel()
	const d = 24 * time.Hour
	cases := []struct {
		name  string
		def   time.Duration
		types []time.Duration
		want  time.Duration
	}{
		{"default alone", 5 * d, nil, 5 * d},
		{"a type kept longer", 5 * d, []time.Duration{30 * d, 2 * d}, 30 * d},
		{"types kept shorter", 5 * d, []time.Duration{2 * d, 3 * d}, 5 * d},
		{"default forever", 0, []time.Duration{30 * d}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := herald.RetentionHorizon(c.def, c.types); got != c.want {
				t.Fatalf("RetentionHorizon(%v, %v) = %v, want %v", c.def, c.types, got, c.want)
			}
		})
	}
}

// TestKeepOf: a type's own keep wins over the default.
func TestKeepOf(t *testing.T) {
	t.Parallel()
	if got := (herald.Retention{}).KeepOf(120 * time.Hour); got != 120*time.Hour {
		t.Fatalf("no keep of its own: %v", got)
	}
	if got := (herald.Retention{Keep: 720 * time.Hour}).KeepOf(120 * time.Hour); got != 720*time.Hour {
		t.Fatalf("keep of its own: %v", got)
	}
}

// TestKeptUntil: KeptUntil is the first moment KeptSince lets an event go.
func TestKeptUntil(t *testing.T) {
	t.Parallel()
	for _, at := range []time.Time{
		time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 4, 10, 59, 1, 5, time.UTC),
		time.Date(2026, 12, 4, 23, 59, 59, 999, time.UTC),
	} {
		for _, keep := range []time.Duration{48 * time.Hour, 120 * time.Hour, 50 * time.Hour} {
			until, ok := herald.KeptUntil(at, keep)
			if !ok {
				t.Fatalf("KeptUntil(%v, %v) keeps forever", at, keep)
			}
			if since, _ := herald.KeptSince(keep, until.Add(-time.Nanosecond)); at.Before(since) {
				t.Errorf("%v kept %v: may go at %v already, before %v", at, keep, until.Add(-time.Nanosecond), until)
			}
			if since, _ := herald.KeptSince(keep, until); !at.Before(since) {
				t.Errorf("%v kept %v: still kept at %v", at, keep, until)
			}
		}
	}
	if _, ok := herald.KeptUntil(time.Now(), 0); ok {
		t.Fatal("a zero keep keeps forever")
	}
}
