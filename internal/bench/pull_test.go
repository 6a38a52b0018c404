package bench

import (
	"slices"
	"testing"
)

func TestEnvelope(t *testing.T) {
	t.Parallel()
	tests := []struct {
		frame string
		want  frameEnvelope
	}{
		{`{"specversion":"1.0","id":"a\u0062","source":"s","type":"t","data":{"id":"inner"}}`,
			frameEnvelope{specVersion: "1.0", id: "ab"}},
		{`{"notice":"partitions_assigned","partitions":[0,1]}`, frameEnvelope{notice: "partitions_assigned"}},
		{`{"notice":"error","problem":{"id":"x"}}`, frameEnvelope{notice: "error"}},
		{`{"data":{"id":"inner"},"id":"late"}`, frameEnvelope{}},
	}
	for _, tt := range tests {
		got, err := envelope([]byte(tt.frame))
		if err != nil || got != tt.want {
			t.Errorf("envelope(%s) = %+v, %v; want %+v", tt.frame, got, err, tt.want)
		}
	}
}

func TestBatchIDs(t *testing.T) {
	t.Parallel()
	body := `[{"specversion":"1.0","data":{"id":"inner","x":[{"id":"deep"}]},"id":"a\u0062"},` +
		`{"id":"c","type":"t"},{"type":"no id"}]`
	got, err := batchIDs([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"ab", "c", ""}; !slices.Equal(got, want) {
		t.Fatalf("batchIDs = %q, want %q", got, want)
	}
	if got, err := batchIDs([]byte(`[]`)); err != nil || len(got) != 0 {
		t.Fatalf("batchIDs([]) = %q, %v", got, err)
	}
	if _, err := batchIDs([]byte(`[{"id":"a"}`)); err == nil {
		t.Fatal("a truncated batch was read")
	}
}

func TestReceiverCountsEachEventOnce(t *testing.T) {
	t.Parallel()
	rc := &receiver{}
	for _, id := range []string{"e-1", "e-2", "e-1", "e-100000", "x-3", "e-", "e-2"} {
		rc.markSeen(id)
	}
	if n := rc.distinct.Load(); n != 3 {
		t.Fatalf("distinct = %d, want 3", n)
	}
}
