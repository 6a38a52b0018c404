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
