package app_test

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestGroupSubjectPattern: a group whose filter matches the subject with a
// token pattern receives exactly the events of the streams it names, as
// CHEFS names them (PUBLIC.forms.submission.created.<form id>), and the
// pattern's syntax is checked as a type pattern's is.
func TestGroupSubjectPattern(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()
	pool := e.pool()

	e.must(201, e.do(w.consumer, "POST", "/v1/consumer-groups", map[string]any{
		"name": "forms", "filter": map[string]any{"attr": "subject", "pattern": "PUBLIC.forms.>"}}))
	e.must(201, e.do(w.consumer, "POST", "/v1/consumer-groups", map[string]any{
		"name": "created", "filter": map[string]any{"attr": "subject", "pattern": "PUBLIC.forms.*.created.*"}}))

	var seqs []int64
	for _, subject := range []string{
		"PUBLIC.forms.submission.created.f-1", // forms, created
		"PUBLIC.forms.submission.deleted.f-1", // forms
		"PRIVATE.forms.submission.created.f-1",
		"PUBLIC.forms", // ">" needs one more token
		"public.forms.submission.created.f-2",
		"",                               // no subject at all
		"PUBLIC.forms.draft.created.f-3", // forms, created
	} {
		ev := orderEvent("s-"+subject, 1)
		if subject != "" {
			ev["subject"] = subject
		}
		m := e.must(202, e.send(w.producer, ev))
		seqs = append(seqs, int64(m["events"].([]any)[0].(map[string]any)["sequence"].(float64)))
	}
	want := map[string][]int64{
		"forms":   {seqs[0], seqs[1], seqs[6]},
		"created": {seqs[0], seqs[6]},
	}
	for name, s := range want {
		eventually(t, 15*time.Second, name+" log", func() bool {
			return slices.Equal(e.groupLog(pool, w.consumerID, name), s)
		})
	}

	r := e.do(w.consumer, "POST", "/v1/consumer-groups", map[string]any{
		"name": "bad", "filter": map[string]any{"attr": "subject", "pattern": "PUBLIC.form*"}})
	if p := wantProblem(t, r, 422, "filter/pattern", "filter"); !strings.Contains(p["detail"].(string), "whole token") {
		t.Errorf("bad pattern's problem does not locate it: %s", r.body)
	}
}
