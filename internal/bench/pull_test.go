package bench

import "testing"

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
