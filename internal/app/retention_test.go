package app_test

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestEventTypeRetention: a type's own retention is set, shown and
// cleared through the event type; bad values are refused naming the
// field and the rule, and change nothing.
func TestEventTypeRetention(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	put := func(ret any) response {
		body := map[string]any{"schema": json.RawMessage(orderSchema), "producers": []string{w.producerID},
			"consumers": []string{w.consumerID}}
		if ret != nil {
			body["retention"] = ret
		}
		return e.do(w.ownerAdmin, "PUT", "/v1/event-types/"+w.typ, body)
	}
	m := e.must(200, put(map[string]any{"keep": "720h", "max_count": 1000000}))
	ret, _ := m["retention"].(map[string]any)
	if ret["keep"] != "720h" || ret["max_count"] != float64(1000000) {
		t.Fatalf("retention %v, want keep 720h and max_count 1000000", m["retention"])
	}
	tests := []struct {
		name, field, rule string
		ret               any
	}{
		{"not a duration", "retention.keep", "duration", map[string]any{"keep": "soon"}},
		{"shorter than the retry schedule", "retention.keep", "duration", map[string]any{"keep": "12h"}},
		{"longer than a year", "retention.keep", "duration", map[string]any{"keep": "9000h"}},
		{"negative count", "retention.max_count", "minimum", map[string]any{"max_count": -1}},
	}
	for _, tt := range tests {
		r := put(tt.ret)
		if r.status != 422 || !bytes.Contains(r.body, []byte(`"field":"`+tt.field+`"`)) ||
			!bytes.Contains(r.body, []byte(`"rule":"`+tt.rule+`"`)) {
			t.Errorf("%s: %d %s, want 422 naming %s and %s", tt.name, r.status, r.body, tt.field, tt.rule)
		}
	}
	m = e.must(200, e.do(w.ownerAdmin, "GET", "/v1/event-types/"+w.typ, nil))
	if ret, _ := m["retention"].(map[string]any); ret["keep"] != "720h" {
		t.Fatalf("type changed by refused requests: %v", m["retention"])
	}
	m = e.must(200, put(map[string]any{"keep": "0", "max_count": 0}))
	if _, ok := m["retention"]; ok {
		t.Fatalf(`"0" is the default, shown as no retention of its own: %v`, m["retention"])
	}
}
