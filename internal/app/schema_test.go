package app_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// putSchema PUTs w.typ with the given schema and extra fields and returns
// the response.
func (e *env) putSchema(w *world, schema string, extra map[string]any) response {
	e.t.Helper()
	body := map[string]any{"schema": json.RawMessage(schema), "producers": []string{w.producerID}, "consumers": []string{w.consumerID}}
	for k, v := range extra {
		body[k] = v
	}
	return e.do(w.ownerAdmin, "PUT", "/v1/event-types/"+w.typ, body)
}

// eventWith is an event of w's type carrying data.
func eventWith(id string, data any) map[string]any {
	return map[string]any{"specversion": "1.0", "id": id, "source": "/shop", "type": "com.example.order.created",
		"datacontenttype": "application/json", "data": data}
}

// problemItem returns the only item of a problem body.
func problemItem(t *testing.T, p map[string]any) map[string]any {
	t.Helper()
	items, _ := p["errors"].([]any)
	if len(items) != 1 {
		t.Fatalf("problem has %d items, want 1: %v", len(items), p)
	}
	return items[0].(map[string]any)
}

// TestEventTypeSchemaDrafts: a draft-07 schema without $schema is detected
// and validated with draft-07 semantics; a type can name its draft and opt
// into format assertion; contradictions are refused with a named rule.
func TestEventTypeSchemaDrafts(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()

	// The case: array-form items without $schema.
	tuple := `{"type":"array","items":[{"type":"string"},{"type":"integer"}],"additionalItems":false}`
	got := e.must(200, e.putSchema(w, tuple, nil))
	if got["schema_draft"] != "draft-07" || got["format_assertion"] != true || got["version"] != float64(2) {
		t.Fatalf("PUT answered %v", got)
	}
	e.must(202, e.send(w.producer, eventWith("tuple-ok", []any{"a", 1})))
	item := problemItem(t, e.must(422, e.send(w.producer, eventWith("tuple-bad", []any{"a", "b"}))))
	if item["field"] != "data[1]" || item["rule"] != "type" {
		t.Errorf("problem item = %v, want type at data[1]", item)
	}
	problemItem(t, e.must(422, e.send(w.producer, eventWith("tuple-long", []any{"a", 1, 2}))))

	// 2019-09 named by the type: format is an annotation...
	email := `{"type":"object","properties":{"email":{"type":"string","format":"email"}}}`
	got = e.must(200, e.putSchema(w, email, map[string]any{"schema_draft": "2019-09"}))
	if got["schema_draft"] != "2019-09" || got["format_assertion"] != false {
		t.Fatalf("PUT answered %v", got)
	}
	e.must(202, e.send(w.producer, eventWith("email-annotation", map[string]any{"email": "nobody"})))
	// ...unless the type opts into assertion, which is a new version.
	got = e.must(200, e.putSchema(w, email, map[string]any{"schema_draft": "2019-09", "format_assertion": true}))
	if got["format_assertion"] != true || got["version"] != float64(4) {
		t.Fatalf("PUT answered %v", got)
	}
	item = problemItem(t, e.must(422, e.send(w.producer, eventWith("email-asserted", map[string]any{"email": "nobody"}))))
	if item["field"] != "data.email" || item["rule"] != "format" {
		t.Errorf("problem item = %v, want format at data.email", item)
	}
	e.must(202, e.send(w.producer, eventWith("email-ok", map[string]any{"email": "ana@example.md"})))

	// The type and every version say how they are read.
	typ := e.must(200, e.do(w.consumer, "GET", "/v1/event-types/"+w.typ, nil))
	if typ["schema_draft"] != "2019-09" || typ["format_assertion"] != true {
		t.Errorf("GET type = %v", typ)
	}
	vs := e.must(200, e.do(w.consumer, "GET", "/v1/event-types/"+w.typ+"/versions", nil))["data"].([]any)
	var drafts []string
	for _, v := range vs {
		m := v.(map[string]any)
		drafts = append(drafts, fmt.Sprintf("%v/%v", m["schema_draft"], m["format_assertion"]))
	}
	if want := "2020-12/false draft-07/true 2019-09/false 2019-09/true"; strings.Join(drafts, " ") != want {
		t.Errorf("versions read as %q, want %q", strings.Join(drafts, " "), want)
	}
	one := e.must(200, e.do(w.consumer, "GET", "/v1/event-types/"+w.typ+"/versions/2", nil))
	if one["schema_draft"] != "draft-07" {
		t.Errorf("version 2 = %v", one)
	}

	refusals := []struct {
		name        string
		schema      string
		extra       map[string]any
		field, rule string
		detail      []string
	}{
		{"keywords of two drafts", `{"prefixItems":[{"type":"string"}],"properties":{"pair":{"items":[{}]}}}`, nil,
			"schema", "schema-draft-ambiguous", []string{`"prefixItems" at /prefixItems`, `array-form "items" at /properties/pair/items`}},
		{"$schema against schema_draft", `{"$schema":"http://json-schema.org/draft-07/schema#"}`, map[string]any{"schema_draft": "2020-12"},
			"schema_draft", "schema-draft-conflict", []string{"draft-07", "2020-12"}},
		{"unknown draft", `{}`, map[string]any{"schema_draft": "draft-04"},
			"schema_draft", "enum", []string{"draft-06, draft-07, 2019-09, 2020-12"}},
		{"format annotation asked of draft-07", tuple, map[string]any{"format_assertion": false},
			"format_assertion", "format-assertion", []string{"draft-07"}},
		{"invalid for its draft", `{"type":5}`, nil, "schema", "schema", nil},
	}
	for _, r := range refusals {
		item := problemItem(t, e.must(422, e.putSchema(w, r.schema, r.extra)))
		if item["field"] != r.field || item["rule"] != r.rule {
			t.Errorf("%s: problem item = %v, want field %s rule %s", r.name, item, r.field, r.rule)
		}
		for _, d := range r.detail {
			if !strings.Contains(item["detail"].(string), d) {
				t.Errorf("%s: detail %q does not mention %q", r.name, item["detail"], d)
			}
		}
	}
	if v := e.must(200, e.do(w.consumer, "GET", "/v1/event-types/"+w.typ, nil))["version"]; v != float64(4) {
		t.Errorf("refused PUTs changed the version to %v", v)
	}
}

// TestEventTypeSchemaLimits: schemas too large or too complex to compile
// quickly are refused at registration, naming the rule.
func TestEventTypeSchemaLimits(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.world()

	// The schema: 50,000 allOf branches in about 900 KB.
	var b strings.Builder
	b.WriteString(`{"allOf":[`)
	for i := range 50000 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"type":"object"}`)
	}
	b.WriteString(`]}`)
	tests := []struct {
		name, schema, rule string
	}{
		{"900 KB", b.String(), "schema-too-large"},
		{"5,001 subschemas in 25 KB", `{"allOf":[` + strings.Repeat(`true,`, 5000) + `true]}`, "schema-too-complex"},
		{"5,000 levels in 40 KB", strings.Repeat(`{"not":`, 5000) + "true" + strings.Repeat("}", 5000), "schema-too-complex"},
	}
	for _, tt := range tests {
		start := time.Now()
		item := problemItem(t, e.must(422, e.putSchema(w, tt.schema, nil)))
		if item["field"] != "schema" || item["rule"] != tt.rule {
			t.Errorf("%s: problem item = %v, want rule %s", tt.name, item, tt.rule)
		}
		t.Logf("%s refused in %v", tt.name, time.Since(start))
	}
	if v := e.must(200, e.do(w.consumer, "GET", "/v1/event-types/"+w.typ, nil))["version"]; v != float64(1) {
		t.Errorf("refused PUTs changed the version to %v", v)
	}
}
