package postgres

import "testing"

// TestReadShare: each partition is asked for at least its share of n,
// as a power of two, so the statement's limit takes few values.
func TestReadShare(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ n, parts, want int }{
		{100, 12, 16},
		{96, 12, 8},
		{97, 12, 16},
		{100, 1, 128},
		{1, 12, 1},
		{13, 12, 2},
		{1000, 3, 512},
		{1000, 12, 128},
	} {
		got := readShare(tc.n, tc.parts)
		if got != tc.want {
			t.Errorf("readShare(%d, %d) = %d, want %d", tc.n, tc.parts, got, tc.want)
		}
		if got*tc.parts < tc.n || got&(got-1) != 0 {
			t.Errorf("readShare(%d, %d) = %d: not a power of two covering n", tc.n, tc.parts, got)
		}
	}
}
