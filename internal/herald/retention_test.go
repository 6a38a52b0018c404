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
