package herald

import "testing"

// TestPartition pins the hash: the expected values were computed
// independently (FNV-1a 32 bit by hand, modulo 12), and a change would move
// keys between the partitions of stored group logs.
func TestPartition(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key, id string
		want    int
	}{
		{"", "", 1},              // FNV offset basis 2166136261 % 12
		{"a", "ignored", 4},      // 3826002220
		{"customer-42", "x", 10}, // 4268273086
		{"order-1", "", 1},       // 729795949
		{"order-2", "", 4},       // 679463092
		{"PUBLIC.forms.submission.created.7f3c", "", 0},      // 464288004
		{"ünïcode", "", 7},                                   // 1173504043: UTF-8 bytes
		{"", "0193d3f0-1b2c-7d4e-8f90-123456789abc", 9},      // no key: the id, 1717749729
		{"0193d3f0-1b2c-7d4e-8f90-123456789abc", "other", 9}, // same string as key
	}
	for _, tt := range tests {
		if got := Partition(tt.key, tt.id); got != tt.want {
			t.Errorf("Partition(%q, %q) = %d, want %d", tt.key, tt.id, got, tt.want)
		}
		e := &Event{PartitionKey: tt.key, CEID: tt.id}
		if got := e.Partition(); got != tt.want {
			t.Errorf("Event{%q, %q}.Partition() = %d, want %d", tt.key, tt.id, got, tt.want)
		}
	}
}
