package schema

import (
	"bytes"
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

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/heraldhq/herald/internal/jsoncheck"
)

const (
	d6URL    = "http://json-schema.org/draft-06/schema#"
	d7URL    = "http://json-schema.org/draft-07/schema#"
	d2019URL = "https://json-schema.org/draft/2019-09/schema"
	d2020URL = "https://json-schema.org/draft/2020-12/schema"
)

// mustCompile compiles a stored document under the zero Dialect: its
// $schema, else 2020-12, with format as an annotation in 2019-09 and later.
func mustCompile(t testing.TB, doc string) *Schema {
	t.Helper()
	return mustCompileAs(t, doc, Dialect{})
}

func mustCompileAs(t testing.TB, doc string, d Dialect) *Schema {
	t.Helper()
	s, err := Compile([]byte(doc), d)
	if err != nil {
		t.Fatalf("Compile(%s, %+v): %v", doc, d, err)
	}
	return s
}

// asserting is the dialect of types that opt into format assertion.
var asserting = Dialect{FormatAssertion: true}

func rules(vs []Violation) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Rule)
	}
	return out
}

func TestCompileDraftFromSchemaOrDialect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		doc  string
		d    Dialect
		want string
	}{
		{"absent defaults to 2020-12", `{"type":"object"}`, Dialect{}, Draft2020},
		{"boolean schema", `true`, Dialect{}, Draft2020},
		{"empty schema", `{}`, Dialect{}, Draft2020},
		{"dialect applies without $schema", `{"items":[{"type":"string"}]}`, Dialect{Draft: Draft07}, Draft07},
		{"$schema wins over the dialect", `{"$schema":"` + d2019URL + `"}`, Dialect{Draft: Draft06}, Draft2019},
		{"draft-06 http with hash", `{"$schema":"http://json-schema.org/draft-06/schema#"}`, Dialect{}, Draft06},
		{"draft-06 https", `{"$schema":"https://json-schema.org/draft-06/schema"}`, Dialect{}, Draft06},
		{"draft-07 http", `{"$schema":"http://json-schema.org/draft-07/schema"}`, Dialect{}, Draft07},
		{"draft-07 https with hash", `{"$schema":"https://json-schema.org/draft-07/schema#"}`, Dialect{}, Draft07},
		{"2019-09 https", `{"$schema":"https://json-schema.org/draft/2019-09/schema"}`, Dialect{}, Draft2019},
		{"2019-09 http with hash", `{"$schema":"http://json-schema.org/draft/2019-09/schema#"}`, Dialect{}, Draft2019},
		{"2020-12 https", `{"$schema":"https://json-schema.org/draft/2020-12/schema"}`, Dialect{}, Draft2020},
		{"2020-12 http", `{"$schema":"http://json-schema.org/draft/2020-12/schema"}`, Dialect{}, Draft2020},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := mustCompileAs(t, tt.doc, tt.d).Draft(); got != tt.want {
				t.Errorf("Draft() = %q, want %q", got, tt.want)
			}
		})
	}
}

// compileFails marks a draft under which the document is not a valid schema.
var compileFails = []string{"compile error"}

// TestDraftSemantics compiles one document (without $schema) under each
// draft and checks the keywords whose meaning differs between drafts.
func TestDraftSemantics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		schema   string
		format   bool // Dialect.FormatAssertion
		instance string
		want     map[string][]string // draft → rules; nil means valid
	}{
		{
			name:     "array-form items is tuple validation before 2020-12",
			schema:   `{"items":[{"type":"string"}],"additionalItems":false}`,
			instance: `["a",1]`,
			want: map[string][]string{Draft06: {"additionalItems"}, Draft07: {"additionalItems"}, Draft2019: {"additionalItems"},
				Draft2020: compileFails},
		},
		{
			name:     "prefixItems exists only in 2020-12",
			schema:   `{"prefixItems":[{"type":"string"}],"items":{"type":"integer"}}`,
			instance: `["a",1]`,
			// Before 2020-12 "items" applies to every element, "a" included.
			want: map[string][]string{Draft06: {"type"}, Draft07: {"type"}, Draft2019: {"type"}, Draft2020: nil},
		},
		{
			name:     "dependentRequired from 2019-09 on",
			schema:   `{"dependentRequired":{"card":["billing"]}}`,
			instance: `{"card":"4111"}`,
			want:     map[string][]string{Draft06: nil, Draft07: nil, Draft2019: {"dependentRequired"}, Draft2020: {"dependentRequired"}},
		},
		{
			// The 2019-09/2020-12 meta-schemas keep "dependencies" for
			// backward compatibility and the library still applies it.
			name:     "dependencies in every draft",
			schema:   `{"dependencies":{"card":["billing"]}}`,
			instance: `{"card":"4111"}`,
			want: map[string][]string{Draft06: {"dependencies"}, Draft07: {"dependencies"}, Draft2019: {"dependencies"},
				Draft2020: {"dependencies"}},
		},
		{
			name:     "$ref siblings ignored before 2019-09",
			schema:   `{"definitions":{"s":{"type":"string"}},"properties":{"x":{"$ref":"#/definitions/s","maxLength":2}}}`,
			instance: `{"x":"abc"}`,
			want:     map[string][]string{Draft06: nil, Draft07: nil, Draft2019: {"maxLength"}, Draft2020: {"maxLength"}},
		},
		{
			name:     "if/then/else from draft-07 on",
			schema:   `{"if":{"required":["kind"]},"then":{"required":["vat"]}}`,
			instance: `{"kind":"b2b"}`,
			want:     map[string][]string{Draft06: nil, Draft07: {"required"}, Draft2019: {"required"}, Draft2020: {"required"}},
		},
		{
			name:     "unevaluatedProperties from 2019-09 on",
			schema:   `{"allOf":[{"properties":{"a":true}}],"unevaluatedProperties":false}`,
			instance: `{"a":1,"b":2}`,
			want:     map[string][]string{Draft06: nil, Draft07: nil, Draft2019: {"unevaluatedProperties"}, Draft2020: {"unevaluatedProperties"}},
		},
		{
			name:     "format asserted in drafts 6 and 7, an annotation later",
			schema:   `{"format":"email"}`,
			instance: `"not-an-email"`,
			want:     map[string][]string{Draft06: {"format"}, Draft07: {"format"}, Draft2019: nil, Draft2020: nil},
		},
		{
			name:     "format asserted in every draft with format assertion",
			schema:   `{"format":"date-time"}`,
			format:   true,
			instance: `"2024-02-30T10:00:00Z"`,
			want:     map[string][]string{Draft06: {"format"}, Draft07: {"format"}, Draft2019: {"format"}, Draft2020: {"format"}},
		},
	}
	for _, tt := range tests {
		for _, draft := range supportedDrafts {
			t.Run(tt.name+"/"+draft, func(t *testing.T) {
				t.Parallel()
				want := tt.want[draft]
				s, err := Compile([]byte(tt.schema), Dialect{Draft: draft, FormatAssertion: tt.format})
				if reflect.DeepEqual(want, compileFails) {
					if !errors.Is(err, ErrInvalidSchema) {
						t.Fatalf("Compile err = %v, want ErrInvalidSchema", err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				vs := s.Validate([]byte(tt.instance))
				if got := rules(vs); !reflect.DeepEqual(got, want) {
					t.Fatalf("rules = %q, want %q (violations %v)", got, want, vs)
				}
			})
		}
	}
}

func TestDialectFormatAssertion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    Dialect
		want bool
	}{
		{Dialect{Draft: Draft06}, true},
		{Dialect{Draft: Draft07}, true},
		{Dialect{Draft: Draft2019}, false},
		{Dialect{Draft: Draft2020}, false},
		{Dialect{}, false},
		{Dialect{Draft: Draft2019, FormatAssertion: true}, true},
		{Dialect{Draft: Draft2020, FormatAssertion: true}, true},
	}
	for _, tt := range tests {
		s := mustCompileAs(t, `{"format":"email"}`, tt.d)
		if got := s.Dialect().FormatAssertion; got != tt.want {
			t.Errorf("%+v: FormatAssertion = %v, want %v", tt.d, got, tt.want)
		}
		// The reported dialect compiles to the same behaviour.
		again := mustCompileAs(t, `{"format":"email"}`, s.Dialect())
		if again.Dialect() != s.Dialect() {
			t.Errorf("%+v: recompiled dialect %+v, want %+v", tt.d, again.Dialect(), s.Dialect())
		}
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
	s := mustCompileAs(t, orderSchema, asserting)

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
			s, err := Compile([]byte(tt.doc), Dialect{})
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
			_, err := Compile([]byte(tt.doc), Dialect{})
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
	s := mustCompileAs(t, orderSchema, asserting)
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

// referenceDecode is how Validate reads an instance that Decode refuses, to
// word the problem as the library does.
func referenceDecode(data []byte) (any, error) {
	return jsonschema.UnmarshalJSON(bytes.NewReader(data))
}

func TestValidateInvalidJSONMessageUnchanged(t *testing.T) {
	t.Parallel()
	s := mustCompile(t, `{}`)
	for _, in := range []string{``, `{"id":`, `{} {}`, `[01]`, `"\x"`, "\"\x01\"", `{"a" 1}`, strings.Repeat("[", jsoncheck.MaxDepth+1)} {
		_, refErr := referenceDecode([]byte(in))
		want := []Violation{{Path: "$", Rule: RuleInvalidJSON, Message: "instance is not valid JSON: " + refErr.Error()}}
		if got := s.Validate([]byte(in)); !reflect.DeepEqual(got, want) {
			t.Errorf("Validate(%.40q) = %v, want %v", in, got, want)
		}
	}
}
