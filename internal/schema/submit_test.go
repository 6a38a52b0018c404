package schema

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestCompileSubmittedDraft(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		doc   string
		want  Dialect // requested; Draft "" lets the document decide
		draft string
	}{
		{"no hint is 2020-12", `{"type":"object","properties":{"a":{"type":"string"}}}`, Dialect{}, Draft2020},
		{"boolean schema", `true`, Dialect{}, Draft2020},
		{"$schema decides", `{"$schema":"` + d2019URL + `","items":[{}]}`, Dialect{}, Draft2019},
		{"$schema and an agreeing request", `{"$schema":"` + d6URL + `"}`, Dialect{Draft: Draft06}, Draft06},
		{"explicit draft beats keywords", `{"prefixItems":[{}]}`, Dialect{Draft: Draft07}, Draft07},
		{"explicit draft-06", `{"type":"string"}`, Dialect{Draft: Draft06}, Draft06},

		// The case: a draft-07 schema using array-form items.
		{"array-form items", `{"type":"array","items":[{"type":"string"},{"type":"integer"}]}`, Dialect{}, Draft07},
		{"array-form items deep down", `{"properties":{"pair":{"items":[{"type":"string"}]}}}`, Dialect{}, Draft07},
		{"additionalItems", `{"additionalItems":false}`, Dialect{}, Draft07},
		{"dependencies", `{"dependencies":{"card":["billing"]}}`, Dialect{}, Draft07},
		{"definitions", `{"definitions":{"s":{"type":"string"}},"$ref":"#/definitions/s"}`, Dialect{}, Draft07},
		{"array items with if/then", `{"items":[{}],"if":{"required":["a"]},"then":{"required":["b"]}}`, Dialect{}, Draft07},
		{"array items with definitions", `{"items":[{"$ref":"#/definitions/s"}],"definitions":{"s":{}}}`, Dialect{}, Draft07},
		{"if/then alone stays 2020-12", `{"if":{"required":["a"]},"then":{"required":["b"]}}`, Dialect{}, Draft2020},

		{"prefixItems", `{"prefixItems":[{"type":"string"}],"items":false}`, Dialect{}, Draft2020},
		{"$defs with $dynamicRef", `{"$dynamicAnchor":"n","$defs":{"n":{"$dynamicRef":"#n"}}}`, Dialect{}, Draft2020},
		{"$defs", `{"$defs":{"s":{"type":"string"}},"$ref":"#/$defs/s"}`, Dialect{}, Draft2020},
		{"dependentSchemas alone", `{"dependentSchemas":{"a":{"required":["b"]}}}`, Dialect{}, Draft2020},
		{"unevaluatedProperties alone", `{"unevaluatedProperties":false}`, Dialect{}, Draft2020},

		{"$recursiveRef", `{"$recursiveAnchor":true,"properties":{"kids":{"items":{"$recursiveRef":"#"}}}}`, Dialect{}, Draft2019},
		{"dependentSchemas with array items", `{"items":[{}],"dependentSchemas":{"a":{"required":["b"]}}}`, Dialect{}, Draft2019},
		{"unevaluatedItems with array items", `{"items":[{}],"unevaluatedItems":false}`, Dialect{}, Draft2019},
		{"$defs with array items", `{"items":[{"$ref":"#/$defs/s"}],"$defs":{"s":{}}}`, Dialect{}, Draft2019},
		{"definitions with $recursiveRef", `{"$recursiveAnchor":true,"definitions":{"x":{"$recursiveRef":"#"}}}`, Dialect{}, Draft2019},

		// Weak hints pointing different ways say nothing.
		{"definitions and $defs", `{"definitions":{"a":{}},"$defs":{"b":{}}}`, Dialect{}, Draft2020},
		{"dependencies with prefixItems", `{"dependencies":{"a":["b"]},"prefixItems":[{}]}`, Dialect{}, Draft2020},

		// Names that are not keywords where they stand.
		{"property named items", `{"properties":{"items":{"type":"array"},"if":{"type":"string"}}}`, Dialect{}, Draft2020},
		{"enum holding keyword-like objects", `{"enum":[{"items":[1]},{"prefixItems":[]}]}`, Dialect{}, Draft2020},
		{"subschema with its own $schema", `{"$defs":{"old":{"$id":"old.json","$schema":"` + d7URL + `","items":[{}]}}}`, Dialect{}, Draft2020},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := CompileSubmitted([]byte(tt.doc), tt.want)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Draft(); got != tt.draft {
				t.Errorf("Draft() = %q, want %q", got, tt.draft)
			}
		})
	}
}

func TestCompileSubmittedRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		doc      string
		want     Dialect
		kind     error
		rule     string
		location string
		contains []string
	}{
		{
			name: "prefixItems and array-form items", doc: `{"prefixItems":[{}],"properties":{"t":{"items":[{}]}}}`,
			kind: ErrAmbiguousDraft, rule: "schema-draft-ambiguous", location: "/properties/t/items",
			contains: []string{`"prefixItems" at /prefixItems (2020-12)`, `array-form "items" at /properties/t/items (draft-06, draft-07, 2019-09)`, "$schema", "schema_draft"},
		},
		{
			name: "additionalItems and $dynamicRef", doc: `{"additionalItems":false,"$dynamicRef":"#x"}`,
			kind: ErrAmbiguousDraft, rule: "schema-draft-ambiguous",
			contains: []string{`"$dynamicRef"`, `"additionalItems"`},
		},
		{
			name: "$recursiveRef and prefixItems", doc: `{"$recursiveRef":"#","prefixItems":[{}]}`,
			kind: ErrAmbiguousDraft, rule: "schema-draft-ambiguous",
			contains: []string{`"$recursiveRef"`, `"prefixItems"`},
		},
		{
			name: "request contradicts $schema", doc: `{"$schema":"` + d7URL + `"}`, want: Dialect{Draft: Draft2020},
			kind: ErrDraftConflict, rule: "schema-draft-conflict", location: "/$schema",
			contains: []string{"draft-07", "2020-12"},
		},
		{
			name: "unknown requested draft", doc: `{}`, want: Dialect{Draft: "draft-04"},
			kind: ErrUnsupportedDraft, rule: "schema", contains: []string{`"draft-04"`, "draft-06, draft-07, 2019-09, 2020-12"},
		},
		{
			name: "unsupported $schema", doc: `{"$schema":"http://json-schema.org/draft-04/schema#"}`,
			kind: ErrUnsupportedDraft, rule: "schema", location: "/$schema",
		},
		{
			name: "invalid for the detected draft", doc: `{"items":[{"type":5}]}`,
			kind: ErrInvalidSchema, rule: "schema", contains: []string{`"/items/0/type"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkRefusal(t, []byte(tt.doc), tt.want, tt.kind, tt.rule, tt.location, tt.contains...)
		})
	}
}

func checkRefusal(t *testing.T, doc []byte, want Dialect, kind error, rule, location string, contains ...string) {
	t.Helper()
	s, err := CompileSubmitted(doc, want)
	if err == nil {
		t.Fatalf("CompileSubmitted succeeded (draft %s), want %v", s.Draft(), kind)
	}
	var ce *CompileError
	if !errors.As(err, &ce) {
		t.Fatalf("error %T is not *CompileError: %v", err, err)
	}
	if !errors.Is(err, kind) {
		t.Errorf("errors.Is(%v, %v) = false", err, kind)
	}
	if ce.Rule() != rule {
		t.Errorf("Rule() = %q, want %q", ce.Rule(), rule)
	}
	if location != "" && ce.Location != location {
		t.Errorf("Location = %q, want %q (%v)", ce.Location, location, err)
	}
	for _, c := range contains {
		if !strings.Contains(err.Error(), c) {
			t.Errorf("error %q does not contain %q", err, c)
		}
	}
}

// allOf returns a schema of n allOf branches, each branch being one
// {"type":"object"}, padded to at least size bytes with a description.
func allOf(n, size int) []byte {
	var b strings.Builder
	b.WriteString(`{"allOf":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"type":"object"}`)
	}
	b.WriteString(`],"description":"`)
	for b.Len() < size-2 {
		b.WriteByte('x')
	}
	b.WriteString(`"}`)
	return []byte(b.String())
}

// nested returns n "not" subschemas nested in each other.
func nested(n int) []byte {
	return []byte(strings.Repeat(`{"not":`, n) + "true" + strings.Repeat("}", n))
}

func TestCompileSubmittedLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		doc      []byte
		kind     error // nil: accepted
		rule     string
		contains []string
	}{
		// The schema: 900 KB, 50,000 allOf branches.
		{"issue's 50,000 allOf branches", allOf(50000, 900_000), ErrTooLarge, "schema-too-large", []string{"262144 bytes"}},
		{"one byte over", allOf(1, MaxBytes+1), ErrTooLarge, "schema-too-large", []string{fmt.Sprint(MaxBytes + 1)}},
		{"at the size limit", allOf(1, MaxBytes), nil, "", nil},
		{"too many subschemas in few bytes", []byte(`{"allOf":[` + strings.Repeat(`true,`, MaxNodes) + `true]}`), ErrTooComplex, "schema-too-complex", []string{"5000 objects and booleans"}},
		{"at the node limit", allOf(MaxNodes-1, 0), nil, "", nil},
		{"objects in enum count", []byte(`{"enum":[` + strings.Repeat(`{},`, MaxNodes) + `{}]}`), ErrTooComplex, "schema-too-complex", nil},
		{"deep nesting", nested(5000), ErrTooComplex, "schema-too-complex", []string{"64 levels"}},
		{"one level too deep", nested(MaxDepth + 1), ErrTooComplex, "schema-too-complex", nil},
		{"at the depth limit", nested(MaxDepth), nil, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.kind == nil {
				if _, err := CompileSubmitted(tt.doc, Dialect{}); err != nil {
					t.Fatalf("refused within the limits: %v", err)
				}
				return
			}
			checkRefusal(t, tt.doc, Dialect{}, tt.kind, tt.rule, "", tt.contains...)
		})
	}
}

// TestCompileIgnoresLimits: limits apply to new versions only, so a stored
// schema accepted before they existed keeps compiling.
func TestCompileIgnoresLimits(t *testing.T) {
	t.Parallel()
	if _, err := Compile(allOf(10, MaxBytes+1), Dialect{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Compile(nested(MaxDepth+5), Dialect{}); err != nil {
		t.Fatal(err)
	}
}
