// Package openapitest holds Herald's OpenAPI document and its Go code
// against each other in tests: it lists the JSON bodies the document says
// each operation answers, and compares a Go response type with the schema
// of its body, field by field. It is imported by tests only, so its YAML
// parser never reaches the binary.
package openapitest

import (
	"encoding"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/heraldhq/herald/openapi"
)

// Doc is an OpenAPI document read as a tree of maps, slices and scalars.
type Doc struct {
	root map[string]any
}

// Load reads the document the server embeds (openapi.Spec).
func Load() (*Doc, error) { return Parse(openapi.Spec) }

// Parse reads an OpenAPI document.
func Parse(src []byte) (*Doc, error) {
	var v any
	if err := yaml.Unmarshal(src, &v); err != nil {
		return nil, fmt.Errorf("openapi document: %w", err)
	}
	root, ok := normalize(v).(map[string]any)
	if !ok {
		return nil, fmt.Errorf("openapi document: the top level is not a mapping")
	}
	return &Doc{root: root}, nil
}

// normalize turns every mapping into map[string]any, whatever YAML typed
// its keys as (a response code written 200 rather than '200').
func normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = normalize(e)
		}
		return v
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[fmt.Sprint(k)] = normalize(e)
		}
		return out
	case []any:
		for i, e := range v {
			v[i] = normalize(e)
		}
		return v
	}
	return v
}

// Body is one JSON body the document says an operation answers.
type Body struct {
	Op     string // "GET /v1/tenants"
	Status string // "200"
	Media  string // "application/json", or another JSON media type
	Schema any    // as written: a $ref is resolved by CheckFields
}

// Key names the body: "GET /v1/tenants 200 application/json".
func (b Body) Key() string { return b.Op + " " + b.Status + " " + b.Media }

// IsJSON reports whether a media type carries JSON: application/json or
// any +json type.
func IsJSON(media string) bool {
	return media == "application/json" || strings.HasSuffix(media, "+json")
}

// SuccessBodies lists the JSON bodies of every 2xx answer of every
// operation under paths, sorted by Key.
func (d *Doc) SuccessBodies() []Body {
	var out []Body
	paths, _ := d.root["paths"].(map[string]any)
	for path, item := range paths {
		ops, _ := item.(map[string]any)
		for method, op := range ops {
			if !isMethod(method) {
				continue
			}
			resps, _ := d.resolve(asMap(op)["responses"]).(map[string]any)
			for code, resp := range resps {
				if !strings.HasPrefix(code, "2") {
					continue
				}
				content, _ := asMap(d.resolve(resp))["content"].(map[string]any)
				for media, m := range content {
					if IsJSON(media) {
						out = append(out, Body{Op: strings.ToUpper(method) + " " + path, Status: code, Media: media,
							Schema: asMap(m)["schema"]})
					}
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out
}

// Schema returns components.schemas[name].
func (d *Doc) Schema(name string) (any, bool) {
	s, ok := asMap(asMap(d.root["components"])["schemas"])[name]
	return s, ok
}

func isMethod(m string) bool {
	switch strings.ToUpper(m) {
	case http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete, http.MethodOptions,
		http.MethodHead, http.MethodPatch, http.MethodTrace:
		return true
	}
	return false
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// resolve follows $ref (in-document JSON pointers) until it reaches a node
// that is not a reference. The other members of a node holding a $ref
// (a description, say) are dropped, as they do not shape the body.
func (d *Doc) resolve(v any) any {
	for range 32 {
		ref, ok := asMap(v)["$ref"].(string)
		if !ok {
			return v
		}
		v = d.pointer(ref)
	}
	return nil
}

func (d *Doc) pointer(ref string) any {
	if !strings.HasPrefix(ref, "#/") {
		return nil
	}
	var v any = d.root
	for _, tok := range strings.Split(ref[2:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		v = asMap(v)[tok]
	}
	return v
}

// CheckFields compares the JSON encoding of Go type t with schema, field by
// field, and returns each difference with its JSON path under at:
//   - a field the Go type encodes that the schema does not declare, and a
//     property the schema declares that the Go type never encodes;
//   - a property the schema requires that the Go type omits when empty
//     (omitempty), and a field the Go type always encodes that the schema
//     does not list as required;
//   - a JSON type that differs (a Go string documented as an integer...);
//   - a property the document marks writeOnly (sent in requests only) that
//     the Go type encodes.
//
// Objects, arrays and their items are walked to the leaves; $ref is
// resolved, and allOf, oneOf and anyOf contribute their properties. JSON
// kept as JSON (json.RawMessage, any) and maps are leaves.
func (d *Doc) CheckFields(t reflect.Type, schema any, at string) []string {
	var c checker
	c.doc = d
	c.walk(t, schema, at)
	return c.problems
}

type checker struct {
	doc      *Doc
	problems []string
}

func (c *checker) addf(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

// jsonType is the JSON type Go type t encodes as ("" when it can be any).
func jsonType(t reflect.Type) string {
	switch {
	case t.Implements(jsonMarshaler) || reflect.PointerTo(t).Implements(jsonMarshaler):
		return "" // json.RawMessage: JSON kept as JSON
	case t.Implements(textMarshaler) || reflect.PointerTo(t).Implements(textMarshaler):
		return "string" // time.Time, uuid.UUID
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	}
	return ""
}

// shape is what a schema says of a JSON value, its subschemas merged.
type shape struct {
	types    []string
	props    map[string]any
	required []string
	items    any
}

func (c *checker) shapeOf(schema any) shape {
	s := shape{props: map[string]any{}}
	c.collect(schema, &s, 0)
	return s
}

func (c *checker) collect(schema any, s *shape, depth int) {
	m := asMap(c.doc.resolve(schema))
	if m == nil || depth > 16 {
		return
	}
	switch ty := m["type"].(type) {
	case string:
		s.types = append(s.types, ty)
	case []any:
		for _, e := range ty {
			if e, ok := e.(string); ok {
				s.types = append(s.types, e)
			}
		}
	}
	for name, p := range asMap(m["properties"]) {
		s.props[name] = p
	}
	for _, r := range asSlice(m["required"]) {
		if r, ok := r.(string); ok {
			s.required = append(s.required, r)
		}
	}
	if it, ok := m["items"]; ok && s.items == nil {
		s.items = it
	}
	for _, kw := range []string{"allOf", "oneOf", "anyOf"} {
		for _, sub := range asSlice(m[kw]) {
			c.collect(sub, s, depth+1)
		}
	}
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// field is one member of a Go struct's JSON encoding.
type field struct {
	typ       reflect.Type
	omitEmpty bool
}

// jsonFields lists the members a struct encodes, as encoding/json names
// them (untagged embedded structs promote their fields).
func jsonFields(t reflect.Type) map[string]field {
	out := map[string]field{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" && opts == "" {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for n, sub := range jsonFields(ft) {
					if _, ok := out[n]; !ok {
						out[n] = sub
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = field{typ: f.Type, omitEmpty: slices.Contains(strings.Split(opts, ","), "omitempty")}
	}
	return out
}

func (c *checker) walk(t reflect.Type, schema any, at string) {
	// A pointer encodes as its target or null; whether the document admits
	// null is not checked (absent and null are both "no value" here).
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	s := c.shapeOf(schema)
	goType := jsonType(t)
	if goType != "" && len(s.types) > 0 {
		ok := slices.Contains(s.types, goType) || goType == "integer" && slices.Contains(s.types, "number")
		if !ok {
			c.addf("%s: the Go type encodes %s (%s), the document says %s", at, goType, t, strings.Join(s.types, " or "))
		}
	}
	switch goType {
	case "array":
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
			return
		}
		if s.items == nil {
			if len(s.types) > 0 {
				c.addf("%s: an array in the Go type, with no items in the document", at)
			}
			return
		}
		c.walk(t.Elem(), s.items, at+"[]")
	case "object":
		if t.Kind() != reflect.Struct {
			return // a map: its keys are data, not fields
		}
		c.walkStruct(t, s, at)
	}
}

func (c *checker) walkStruct(t reflect.Type, s shape, at string) {
	fields := jsonFields(t)
	join := func(name string) string {
		if at == "" {
			return name
		}
		return at + "." + name
	}
	names := make([]string, 0, len(fields)+len(s.props))
	for n := range fields {
		names = append(names, n)
	}
	for n := range s.props {
		if _, ok := fields[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		f, inGo := fields[n]
		p, inDoc := s.props[n]
		required := slices.Contains(s.required, n)
		// A writeOnly property is sent in requests only (a secret).
		writeOnly, _ := asMap(c.doc.resolve(p))["writeOnly"].(bool)
		switch {
		case !inDoc:
			c.addf("%s: the Go type %s encodes it; the document does not declare it", join(n), t)
		case !inGo && writeOnly:
		case !inGo:
			c.addf("%s: the document declares it; the Go type %s never encodes it", join(n), t)
		case writeOnly:
			c.addf("%s: the document says it is writeOnly (never in an answer); the Go type %s encodes it", join(n), t)
		default:
			if required && f.omitEmpty {
				c.addf("%s: the document requires it; the Go type %s omits it when empty", join(n), t)
			}
			if !required && !f.omitEmpty {
				c.addf("%s: the Go type %s always encodes it; the document does not list it as required", join(n), t)
			}
			c.walk(f.typ, p, join(n))
		}
	}
	for _, n := range s.required {
		if _, ok := s.props[n]; !ok {
			c.addf("%s: the document requires it but declares no such property", join(n))
		}
	}
}

// Raw stands in a response type table for a body that is not encoded from
// a Go type (bytes written as they were stored, say); it says why.
type Raw string

// CheckResponses holds the Go type of each JSON success body in types
// (keyed by Body.Key, a value of the type, or Raw) against the schema of
// its body (CheckFields), and checks that the table and the document list
// the same bodies: every key must be a JSON success body of the document,
// and every such body of an operation ours accepts ("GET /v1/tenants")
// must be in the table. It returns each difference, prefixed with the
// body's key.
func (d *Doc) CheckResponses(types map[string]any, ours func(op string) bool) []string {
	bodies := map[string]Body{}
	for _, b := range d.SuccessBodies() {
		if ours(b.Op) {
			bodies[b.Key()] = b
		}
	}
	var problems []string
	for key, typ := range types {
		b, ok := bodies[key]
		if !ok {
			problems = append(problems, key+": in the response type table, but the document has no such JSON success body")
			continue
		}
		switch typ := typ.(type) {
		case nil:
			problems = append(problems, key+": no Go type; use Raw to say why there is none")
		case Raw:
			if typ == "" {
				problems = append(problems, key+": Raw, with no reason why")
			}
		default:
			for _, p := range d.CheckFields(reflect.TypeOf(typ), b.Schema, "") {
				problems = append(problems, key+": "+p)
			}
		}
	}
	for key := range bodies {
		if _, ok := types[key]; !ok {
			problems = append(problems, key+": the document lists this body; add the Go type it is encoded from to the table")
		}
	}
	sort.Strings(problems)
	return problems
}
