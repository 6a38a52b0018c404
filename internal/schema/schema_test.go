package schema

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

const (
	d6URL    = "http://json-schema.org/draft-06/schema#"
	d7URL    = "http://json-schema.org/draft-07/schema#"
	d2019URL = "https://json-schema.org/draft/2019-09/schema"
	d2020URL = "https://json-schema.org/draft/2020-12/schema"
)

func mustCompile(t testing.TB, doc string) *Schema {
	t.Helper()
	s, err := Compile([]byte(doc))
	if err != nil {
		t.Fatalf("Compile(%s): %v", doc, err)
	}
	return s
}

func rules(vs []Violation) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Rule)
	}
	return out
}

func TestCompileDetectsDraft(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{"absent defaults to 2020-12", `{"type":"object"}`, Draft2020},
		{"boolean schema", `true`, Draft2020},
		{"empty schema", `{}`, Draft2020},
		{"draft-06 http with hash", `{"$schema":"http://json-schema.org/draft-06/schema#"}`, Draft06},
		{"draft-06 https", `{"$schema":"https://json-schema.org/draft-06/schema"}`, Draft06},
		{"draft-07 http", `{"$schema":"http://json-schema.org/draft-07/schema"}`, Draft07},
		{"draft-07 https with hash", `{"$schema":"https://json-schema.org/draft-07/schema#"}`, Draft07},
		{"2019-09 https", `{"$schema":"https://json-schema.org/draft/2019-09/schema"}`, Draft2019},
		{"2019-09 http with hash", `{"$schema":"http://json-schema.org/draft/2019-09/schema#"}`, Draft2019},
		{"2020-12 https", `{"$schema":"https://json-schema.org/draft/2020-12/schema"}`, Draft2020},
		{"2020-12 http", `{"$schema":"http://json-schema.org/draft/2020-12/schema"}`, Draft2020},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := mustCompile(t, tt.doc).Draft(); got != tt.want {
				t.Errorf("Draft() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDraftSpecificBehaviour(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		schema   string
		instance string
		want     []string // rules, nil = valid
		wantPath string   // path of the first violation, if any
	}{
		{
			name:     "draft-07 dependencies enforced",
			schema:   `{"$schema":"` + d7URL + `","dependencies":{"card":["billing"]}}`,
			instance: `{"card":"4111"}`,
			want:     []string{"dependencies"}, wantPath: "$",
		},
		{
			name:     "draft-06 dependencies with schema",
			schema:   `{"$schema":"` + d6URL + `","dependencies":{"card":{"required":["billing"]}}}`,
			instance: `{"card":"4111"}`,
			want:     []string{"required"}, wantPath: "$",
		},
		{
			// The 2019-09/2020-12 meta-schemas keep "dependencies" for
			// backward compatibility and the library still applies it.
			name:     "2020-12 still honours deprecated dependencies",
			schema:   `{"dependencies":{"card":["billing"]}}`,
			instance: `{"card":"4111"}`,
			want:     []string{"dependencies"}, wantPath: "$",
		},
		{
			name:     "2019-09 dependentRequired enforced",
			schema:   `{"$schema":"` + d2019URL + `","dependentRequired":{"card":["billing"]}}`,
			instance: `{"card":"4111"}`,
			want:     []string{"dependentRequired"}, wantPath: "$",
		},
		{
			name:     "draft-07 ignores dependentRequired",
			schema:   `{"$schema":"` + d7URL + `","dependentRequired":{"card":["billing"]}}`,
			instance: `{"card":"4111"}`,
		},
		{
			name:     "2020-12 prefixItems",
			schema:   `{"prefixItems":[{"type":"string"},{"type":"integer"}],"items":false}`,
			instance: `["a","b"]`,
			want:     []string{"type"}, wantPath: "$[1]",
		},
		{
			name:     "2020-12 items false after prefixItems",
			schema:   `{"prefixItems":[{"type":"string"}],"items":false}`,
			instance: `["a",1]`,
			want:     []string{"items"}, wantPath: "$[1]",
		},
		{
			name:     "2019-09 ignores prefixItems",
			schema:   `{"$schema":"` + d2019URL + `","prefixItems":[{"type":"string"},{"type":"integer"}]}`,
			instance: `["a","b"]`,
		},
		{
			name:     "draft-07 tuple items and additionalItems",
			schema:   `{"$schema":"` + d7URL + `","items":[{"type":"string"}],"additionalItems":false}`,
			instance: `["a",1]`,
			want:     []string{"additionalItems"}, wantPath: "$",
		},
		{
			name:     "draft-06 format asserted",
			schema:   `{"$schema":"` + d6URL + `","format":"email"}`,
			instance: `"not-an-email"`,
			want:     []string{"format"}, wantPath: "$",
		},
		{
			name:     "2019-09 format asserted",
			schema:   `{"$schema":"` + d2019URL + `","format":"date-time"}`,
			instance: `"yesterday"`,
			want:     []string{"format"}, wantPath: "$",
		},
		{
			name:     "2020-12 format asserted",
			schema:   `{"format":"date-time"}`,
			instance: `"2024-02-30T10:00:00Z"`,
			want:     []string{"format"}, wantPath: "$",
		},
		{
			name:     "draft-07 if/then",
			schema:   `{"$schema":"` + d7URL + `","if":{"properties":{"kind":{"const":"b2b"}}},"then":{"required":["vat"]}}`,
			instance: `{"kind":"b2b"}`,
			want:     []string{"required"}, wantPath: "$",
		},
		{
			name:     "2019-09 unevaluatedProperties",
			schema:   `{"$schema":"` + d2019URL + `","allOf":[{"properties":{"a":true}}],"unevaluatedProperties":false}`,
			instance: `{"a":1,"b":2}`,
			want:     []string{"unevaluatedProperties"}, wantPath: "$.b",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			vs := mustCompile(t, tt.schema).Validate([]byte(tt.instance))
			if got := rules(vs); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("rules = %q, want %q (violations %v)", got, tt.want, vs)
			}
			if len(vs) > 0 && vs[0].Path != tt.wantPath {
				t.Errorf("path = %q, want %q", vs[0].Path, tt.wantPath)
			}
		})
	}
}

const orderSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["id", "customer", "order"],
  "additionalProperties": false,
  "properties": {
    "id": {"type": "string", "format": "uuid"},
    "status": {"enum": ["pending", "paid", "shipped"]},
    "created_at": {"type": "string", "format": "date-time"},
    "customer": {
      "type": "object",
      "required": ["email"],
      "properties": {
        "email": {"type": "string", "format": "email"},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 8}}
      }
    },
    "order": {
      "type": "object",
      "properties": {
        "items": {
          "type": "array",
          "minItems": 1,
          "items": {"$ref": "#/$defs/item"}
        },
        "matrix": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}}
      }
    },
    "meta": {"type": "object", "additionalProperties": {"type": "string"}}
  },
  "$defs": {
    "item": {
      "type": "object",
      "required": ["sku", "qty"],
      "properties": {
        "sku": {"type": "string", "pattern": "^[A-Z0-9-]+$"},
        "qty": {"type": "integer", "minimum": 1},
        "price": {"type": "number", "exclusiveMinimum": 0}
      }
    }
  }
}`

const validOrder = `{
  "id": "7f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f",
  "status": "paid",
  "created_at": "2024-05-01T12:30:00Z",
  "customer": {"email": "ana@example.md", "tags": ["vip"]},
  "order": {"items": [{"sku": "A-1", "qty": 2, "price": 9.99}], "matrix": [[1, 2], [3]]}
}`

func TestValidateViolations(t *testing.T) {
	t.Parallel()
	s := mustCompile(t, orderSchema)

	type want struct{ path, pointer, rule string }
	tests := []struct {
		name     string
		instance string
		want     []want
		msg      string // substring of the first message
	}{
		{name: "valid", instance: validOrder},
		{
			name:     "required at root",
			instance: `{"id":"7f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f","order":{"items":[{"sku":"A","qty":1}]}}`,
			want:     []want{{"$", "", "required"}},
			msg:      "customer",
		},
		{
			name:     "required nested",
			instance: `{"id":"7f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f","customer":{},"order":{"items":[{"sku":"A","qty":1}]}}`,
			want:     []want{{"$.customer", "/customer", "required"}},
			msg:      "email",
		},
		{
			name:     "type",
			instance: `{"id":42,"customer":{"email":"a@b.md"},"order":{"items":[{"sku":"A","qty":1}]}}`,
			want:     []want{{"$.id", "/id", "type"}},
			msg:      "want string",
		},
		{
			name:     "enum",
			instance: `{"id":"7f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f","status":"lost","customer":{"email":"a@b.md"},"order":{"items":[{"sku":"A","qty":1}]}}`,
			want:     []want{{"$.status", "/status", "enum"}},
			msg:      "pending",
		},
		{
			name:     "minimum in array item via $ref",
			instance: `{"id":"7f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f","customer":{"email":"a@b.md"},"order":{"items":[{"sku":"A","qty":1},{"sku":"B","qty":1},{"sku":"C","qty":0}]}}`,
			want:     []want{{"$.order.items[2].qty", "/order/items/2/qty", "minimum"}},
		},
		{
			name:     "integer type keeps exact numbers",
			instance: `{"id":"7f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f","customer":{"email":"a@b.md"},"order":{"items":[{"sku":"A","qty":9007199254740993.5}]}}`,
			want:     []want{{"$.order.items[0].qty", "/order/items/0/qty", "type"}},
		},
		{
			name:     "format date-time",
			instance: `{"id":"7f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f","created_at":"2024-13-01T00:00:00Z","customer":{"email":"a@b.md"},"order":{"items":[{"sku":"A","qty":1}]}}`,
			want:     []want{{"$.created_at", "/created_at", "format"}},
			msg:      "date-time",
		},
		{
			name:     "format email",
			instance: `{"id":"7f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f","customer":{"email":"nobody"},"order":{"items":[{"sku":"A","qty":1}]}}`,
			want:     []want{{"$.customer.email", "/customer/email", "format"}},
			msg:      "email",
		},
		{
			name:     "additionalProperties false",
			instance: `{"id":"7f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f","zeta":1,"alpha":2,"customer":{"email":"a@b.md"},"order":{"items":[{"sku":"A","qty":1}]}}`,
			want:     []want{{"$", "", "additionalProperties"}},
			msg:      "'alpha', 'zeta'",
		},
		{
			name:     "additionalProperties schema with odd key",
			instance: `{"id":"7f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f","meta":{"a/b c":1},"customer":{"email":"a@b.md"},"order":{"items":[{"sku":"A","qty":1}]}}`,
			want:     []want{{"$.meta['a/b c']", "/meta/a~1b c", "type"}},
		},
		{
			name:     "nested arrays",
			instance: `{"id":"7f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f","customer":{"email":"a@b.md","tags":["ok","much-too-long"]},"order":{"items":[{"sku":"A","qty":1}],"matrix":[[1],[2,"x"]]}}`,
			want: []want{
				{"$.customer.tags[1]", "/customer/tags/1", "maxLength"},
				{"$.order.matrix[1][1]", "/order/matrix/1/1", "type"},
			},
		},
		{
			name:     "many violations in document order",
			instance: `{"id":"nope","customer":{"email":"x"},"order":{"items":[{"sku":"a b","qty":1},{"qty":-1,"price":0}]},"extra":true}`,
			want: []want{
				{"$", "", "additionalProperties"},
				{"$.customer.email", "/customer/email", "format"},
				{"$.id", "/id", "format"},
				{"$.order.items[0].sku", "/order/items/0/sku", "pattern"},
				{"$.order.items[1]", "/order/items/1", "required"},
				{"$.order.items[1].price", "/order/items/1/price", "exclusiveMinimum"},
				{"$.order.items[1].qty", "/order/items/1/qty", "minimum"},
			},
		},
		{
			name:     "minItems",
			instance: `{"id":"7f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f","customer":{"email":"a@b.md"},"order":{"items":[]}}`,
			want:     []want{{"$.order.items", "/order/items", "minItems"}},
		},
		{
			name:     "root type",
			instance: `[1,2]`,
			want:     []want{{"$", "", "type"}},
		},
		{
			name:     "malformed JSON",
			instance: `{"id":`,
			want:     []want{{"$", "", RuleInvalidJSON}},
		},
		{
			name:     "trailing data",
			instance: `{} {}`,
			want:     []want{{"$", "", RuleInvalidJSON}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			vs := s.Validate([]byte(tt.instance))
			var got []want
			for _, v := range vs {
				got = append(got, want{v.Path, v.Pointer, v.Rule})
				if v.Message == "" {
					t.Errorf("violation %+v has no message", v)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("violations:\n got  %v\n want %v\n full %v", got, tt.want, vs)
			}
			if tt.msg != "" && !strings.Contains(vs[0].Message, tt.msg) {
				t.Errorf("message %q does not contain %q", vs[0].Message, tt.msg)
			}
		})
	}
}

func TestViolationSchemaLocation(t *testing.T) {
	t.Parallel()
	s := mustCompile(t, `{"properties":{"v":{"anyOf":[{"type":"string"},{"type":"integer","minimum":10}]}}}`)
	vs := s.Validate([]byte(`{"v":3}`))
	var got []string
	for _, v := range vs {
		got = append(got, v.Rule+" "+v.SchemaLocation)
	}
	want := []string{"minimum #/properties/v/anyOf/1/minimum", "type #/properties/v/anyOf/0/type"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestViolationPaths(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, schema, instance, path, pointer string
	}{
		{"numeric object key", `{"properties":{"2":{"type":"string"}}}`, `{"2":1}`, "$['2']", "/2"},
		{"array index", `{"items":{"type":"string"}}`, `["a",1]`, "$[1]", "/1"},
		{"quote in key", `{"additionalProperties":{"type":"string"}}`, `{"it's":1}`, `$['it\'s']`, "/it's"},
		{"tilde in key", `{"additionalProperties":{"type":"string"}}`, `{"a~b":1}`, "$['a~b']", "/a~0b"},
		{"index ordering is numeric", `{"items":{"type":"string"}}`, `["a","a","a","a","a","a","a","a","a","a",1]`, "$[10]", "/10"},
		{"false subschema", `{"properties":{"secret":false}}`, `{"secret":1}`, "$.secret", "/secret"},
		{"not", `{"properties":{"x":{"not":{"type":"null"}}}}`, `{"x":null}`, "$.x", "/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			vs := mustCompile(t, tt.schema).Validate([]byte(tt.instance))
			if len(vs) != 1 {
				t.Fatalf("got %d violations, want 1: %v", len(vs), vs)
			}
			if vs[0].Path != tt.path || vs[0].Pointer != tt.pointer {
				t.Errorf("path/pointer = %q %q, want %q %q", vs[0].Path, vs[0].Pointer, tt.path, tt.pointer)
			}
		})
	}
}

func TestViolationRulesForSpecialKinds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, schema, instance, rule string
	}{
		{"false property", `{"properties":{"secret":false}}`, `{"secret":1}`, "properties"},
		{"false root", `false`, `1`, "false"},
		{"not", `{"not":{"type":"null"}}`, `null`, "not"},
		{"oneOf both match", `{"oneOf":[{"type":"integer"},{"type":"number"}]}`, `1`, "oneOf"},
		{"contains", `{"contains":{"type":"string"}}`, `[1,2]`, "contains"},
		{"propertyNames", `{"propertyNames":{"maxLength":3}}`, `{"long-name":1}`, "propertyNames"},
		{"const", `{"const":"x"}`, `"y"`, "const"},
		{"uniqueItems", `{"uniqueItems":true}`, `[1,1]`, "uniqueItems"},
		{"multipleOf exact", `{"multipleOf":0.01}`, `0.075`, "multipleOf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			vs := mustCompile(t, tt.schema).Validate([]byte(tt.instance))
			if len(vs) != 1 || vs[0].Rule != tt.rule {
				t.Fatalf("violations %v, want one with rule %q", vs, tt.rule)
			}
		})
	}
}

func TestValidateStableAndDeduplicated(t *testing.T) {
	t.Parallel()
	// The same $ref twice under allOf yields the same failure twice in the
	// library's tree; it must be reported once.
	s := mustCompile(t, `{
		"$defs": {"strict": {"additionalProperties": false}},
		"allOf": [{"$ref": "#/$defs/strict"}, {"$ref": "#/$defs/strict"}]
	}`)
	instance := []byte(`{"e":1,"d":2,"c":3,"b":4,"a":5}`)
	first := s.Validate(instance)
	if len(first) != 1 || first[0].Message != "additional properties 'a', 'b', 'c', 'd', 'e' not allowed" {
		t.Fatalf("got %v", first)
	}
	for range 50 {
		if got := s.Validate(instance); !reflect.DeepEqual(got, first) {
			t.Fatalf("unstable output: %v vs %v", got, first)
		}
	}
}

func TestAcceptsAnything(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{`true`, `{}`, `{"$schema":"` + d7URL + `"}`} {
		s := mustCompile(t, doc)
		for _, inst := range []string{`null`, `1`, `"x"`, `[1,{"a":[]}]`, `{"a":{"b":null}}`} {
			if vs := s.Validate([]byte(inst)); vs != nil {
				t.Errorf("schema %s rejected %s: %v", doc, inst, vs)
			}
		}
	}
}

func TestInternalRefs(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, schema string }{
		{"2020-12 $defs", `{"properties":{"n":{"$ref":"#/$defs/pos"}},"$defs":{"pos":{"type":"integer","minimum":1}}}`},
		{"draft-07 definitions", `{"$schema":"` + d7URL + `","properties":{"n":{"$ref":"#/definitions/pos"}},"definitions":{"pos":{"type":"integer","minimum":1}}}`},
		{"anchor", `{"properties":{"n":{"$ref":"#pos"}},"$defs":{"p":{"$anchor":"pos","type":"integer","minimum":1}}}`},
		{"embedded $id", `{"$id":"https://example.com/order","properties":{"n":{"$ref":"https://example.com/order#/$defs/pos"}},"$defs":{"pos":{"type":"integer","minimum":1}}}`},
		{"recursive", `{"$defs":{"node":{"type":"object","properties":{"n":{"type":"integer","minimum":1},"next":{"$ref":"#/$defs/node"}}}},"$ref":"#/$defs/node"}`},
		{"meta-schema ref is built in", `{"properties":{"sub":{"$ref":"https://json-schema.org/draft/2020-12/schema"},"n":{"type":"integer","minimum":1}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := mustCompile(t, tt.schema)
			if vs := s.Validate([]byte(`{"n":2}`)); vs != nil {
				t.Errorf("valid instance rejected: %v", vs)
			}
			vs := s.Validate([]byte(`{"n":0}`))
			if len(vs) != 1 || vs[0].Rule != "minimum" || vs[0].Path != "$.n" {
				t.Errorf("got %v, want minimum at $.n", vs)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		doc      string
		kind     error
		location string
		contains []string
	}{
		{"not JSON", `{"type":`, ErrInvalidJSON, "", []string{"not valid JSON"}},
		{"two documents", `{} {}`, ErrInvalidJSON, "", nil},
		{"type is a number", `{"type": 5}`, ErrInvalidSchema, "/type", []string{`"/type"`}},
		{"nested bad minimum", `{"properties":{"qty":{"minimum":"one"}}}`, ErrInvalidSchema, "/properties/qty/minimum", []string{"/properties/qty/minimum", "want number"}},
		{"required not array", `{"required":"id"}`, ErrInvalidSchema, "/required", nil},
		{"draft-07 meta rules", `{"$schema":"` + d7URL + `","minLength":-1}`, ErrInvalidSchema, "/minLength", nil},
		{"bad regexp", `{"pattern":"(?<x"}`, ErrInvalidSchema, "/pattern", []string{"regex"}},
		{"not a schema", `5`, ErrInvalidSchema, "", []string{"want boolean or object"}},
		{"dangling ref", `{"$ref":"#/$defs/missing"}`, ErrInvalidSchema, "", []string{`"#/$defs/missing"`}},
		{"$schema not string", `{"$schema":7}`, ErrInvalidSchema, "/$schema", nil},
		{"draft-04", `{"$schema":"http://json-schema.org/draft-04/schema#"}`, ErrUnsupportedDraft, "/$schema", []string{"draft-04", "draft-06, draft-07, 2019-09, 2020-12"}},
		{"draft-03", `{"$schema":"http://json-schema.org/draft-03/schema#"}`, ErrUnsupportedDraft, "/$schema", []string{"supported drafts"}},
		{"unversioned alias", `{"$schema":"https://json-schema.org/schema"}`, ErrUnsupportedDraft, "/$schema", nil},
		{"unknown URL", `{"$schema":"https://example.com/my-meta"}`, ErrUnsupportedDraft, "/$schema", []string{"https://example.com/my-meta"}},
		{"not a URL", `{"$schema":"draft-07"}`, ErrUnsupportedDraft, "/$schema", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := Compile([]byte(tt.doc))
			if err == nil {
				t.Fatalf("Compile succeeded (draft %s), want error", s.Draft())
			}
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not *CompileError: %v", err, err)
			}
			if !errors.Is(err, tt.kind) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.kind)
			}
			if ce.Location != tt.location {
				t.Errorf("Location = %q, want %q (%v)", ce.Location, tt.location, err)
			}
			for _, c := range tt.contains {
				if !strings.Contains(err.Error(), c) {
					t.Errorf("error %q does not contain %q", err, c)
				}
			}
			if strings.Contains(err.Error(), "herald.invalid") {
				t.Errorf("error leaks the internal base URL: %q", err)
			}
		})
	}
}

func TestExternalRefRefused(t *testing.T) {
	t.Parallel()

	// A server that counts hits proves that refusal happens before any I/O.
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte(`{"type":"string"}`))
	}))
	t.Cleanup(srv.Close)

	// A readable, valid schema file: refused although loading would work.
	file := filepath.Join(t.TempDir(), "s.json")
	if err := os.WriteFile(file, []byte(`{"type":"string"}`), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, doc, url string
	}{
		{"file passwd", `{"$ref":"file:///etc/passwd"}`, "file:///etc/passwd"},
		{"https", `{"$ref":"https://example.com/x.json"}`, "https://example.com/x.json"},
		{"https with fragment", `{"properties":{"a":{"$ref":"https://example.com/x.json#/$defs/a"}}}`, "https://example.com/x.json"},
		{"existing file", `{"$ref":"file://` + filepath.ToSlash(file) + `"}`, "file://" + filepath.ToSlash(file)},
		{"local server", `{"$ref":"` + srv.URL + `/s.json"}`, srv.URL + "/s.json"},
		{"relative", `{"items":{"$ref":"other.json"}}`, "other.json"},
		{"relative to own $id", `{"$id":"https://example.com/a/root.json","$ref":"b.json"}`, "https://example.com/a/b.json"},
		{"draft-07 ref", `{"$schema":"` + d7URL + `","definitions":{"x":{"$ref":"http://example.com/y"}},"$ref":"#/definitions/x"}`, "http://example.com/y"},
		{"custom meta-schema in subresource", `{"$defs":{"x":{"$id":"https://example.com/x","$schema":"https://example.com/meta"}}}`, "https://example.com/meta"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Compile([]byte(tt.doc))
			if !errors.Is(err, ErrExternalRef) {
				t.Fatalf("err = %v, want ErrExternalRef", err)
			}
			var ce *CompileError
			if errors.As(err, &ce) && ce.URL != tt.url {
				t.Errorf("URL = %q, want %q", ce.URL, tt.url)
			}
			if !strings.Contains(err.Error(), "refused") {
				t.Errorf("message %q does not say the reference was refused", err)
			}
		})
	}
	t.Cleanup(func() {
		if n := hits.Load(); n != 0 {
			t.Errorf("test server was contacted %d times", n)
		}
	})
}

func TestValidateValue(t *testing.T) {
	t.Parallel()
	s := mustCompile(t, `{"type":"object","properties":{"n":{"type":"integer"}}}`)
	if vs := s.ValidateValue(map[string]any{"n": 3.0}); vs != nil {
		t.Errorf("float64 integer rejected: %v", vs)
	}
	vs := s.ValidateValue(map[string]any{"n": "3"})
	if len(vs) != 1 || vs[0].Path != "$.n" || vs[0].Rule != "type" {
		t.Errorf("got %v", vs)
	}
}

func TestViolationString(t *testing.T) {
	t.Parallel()
	v := Violation{Path: "$.a", Rule: "type", Message: "got string, want integer"}
	if got, want := v.String(), "$.a: type: got string, want integer"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestValidateConcurrent(t *testing.T) {
	t.Parallel()
	s := mustCompile(t, orderSchema)
	bad := []byte(`{"id":"nope","zeta":1,"alpha":2,"customer":{},"order":{"items":[{"qty":0}]}}`)
	want := s.Validate(bad)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if s.Validate([]byte(validOrder)) != nil {
					t.Error("valid order rejected")
					return
				}
				if got := s.Validate(bad); !reflect.DeepEqual(got, want) {
					t.Errorf("concurrent result differs: %v", got)
					return
				}
			}
		})
	}
	wg.Wait()
}
