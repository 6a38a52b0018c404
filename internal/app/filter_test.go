package app_test

import (
	"encoding/json"
	"testing"
	"time"
)

// TestEndpointFilters: an endpoint receives only the events its filter
// accepts; invalid filters are refused with the position of the error.
func TestEndpointFilters(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	rc := newReceiver(t)
	m := e.must(201, e.do(w.consumer, "POST", "/v1/endpoints", map[string]any{
		"url": rc.URL(), "types": []string{w.typ},
		"filter": json.RawMessage(`{"and": [
			{"data": "$.qty", "gte": 5},
			{"or": [{"ext": "team", "in": ["alpha", "beta"]}, {"attr": "subject", "prefix": "vip/"}]}
		]}`),
	}))
	rc.secret = m["secret"].(string)
	if m["filter"] == nil {
		t.Fatalf("filter not shown: %v", m)
	}
	ev := func(id string, qty int, team, subject string) map[string]any {
		x := orderEvent(id, qty)
		if team != "" {
			x["team"] = team
		}
		if subject != "" {
			x["subject"] = subject
		}
		return x
	}
	e.must(202, e.send(w.producer,
		ev("small-alpha", 1, "alpha", ""),    // qty too small
		ev("big-alpha", 9, "alpha", ""),      // match
		ev("big-gamma", 9, "gamma", ""),      // wrong team, no vip subject
		ev("big-vip", 7, "", "vip/customer"), // match by subject
		ev("exact-beta", 5, "beta", ""),      // match (gte)
	))
	rc.waitEvents(3, 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	events, _, _, _ := rc.snapshot()
	if len(events) != 3 || events["big-alpha"] != 1 || events["big-vip"] != 1 || events["exact-beta"] != 1 {
		t.Fatalf("received %v", events)
	}

	for _, tc := range []struct {
		filter string
		field  string
	}{
		{`{"and": [{"data": "$.qty", "gte": 5}, {"data": "$.x", "between": 1}]}`, "filter/and/1/between"},
		{`{"or": []}`, "filter/or"},
		{`{"attr": "colour", "eq": "red"}`, "filter/attr"},
		{`[1, 2]`, "filter"},
	} {
		p := e.must(422, e.do(w.consumer, "POST", "/v1/endpoints", map[string]any{
			"url": rc.URL(), "types": []string{w.typ}, "filter": json.RawMessage(tc.filter),
		}))
		f := p["errors"].([]any)[0].(map[string]any)
		if f["field"] != tc.field || f["rule"] != "filter" {
			t.Errorf("filter %s: problem %v, want field %s", tc.filter, f, tc.field)
		}
	}
}
