package web

import (
	"encoding/json"
	"strings"
)

// exampleFromSchema makes an example value a JSON Schema accepts, for the
// portal's catalogue: the schema's own examples, const, default or first
// enum value where it gives one, else a value of its type that respects
// the simple bounds (minimum, minLength, minItems, format). Schemas with
// constraints it does not model (patterns, not, if/then) may get an
// example they refuse; the catalogue shows the schema next to it.
func exampleFromSchema(raw json.RawMessage) string {
	var root any
	if err := json.Unmarshal(raw, &root); err != nil {
		return "{}"
	}
	g := exampleGen{root: root}
	v := g.value(root, 0)
	b, err := json.Marshal(v)
	if err != nil {
		return "{}"
	}
	return string(b)
}

type exampleGen struct{ root any }

// maxExampleDepth stops recursive schemas.
const maxExampleDepth = 12

func (g exampleGen) value(s any, depth int) any {
	m, ok := s.(map[string]any)
	if !ok || depth > maxExampleDepth {
		return map[string]any{}
	}
	if ex, ok := m["examples"].([]any); ok && len(ex) > 0 {
		return ex[0]
	}
	for _, k := range []string{"const", "default"} {
		if v, ok := m[k]; ok {
			return v
		}
	}
	if enum, ok := m["enum"].([]any); ok && len(enum) > 0 {
		return enum[0]
	}
	if ref, ok := m["$ref"].(string); ok {
		if target := g.resolve(ref); target != nil {
			return g.value(target, depth+1)
		}
	}
	if all, ok := m["allOf"].([]any); ok && len(all) > 0 {
		merged := map[string]any{}
		for _, sub := range all {
			if obj, ok := g.value(sub, depth+1).(map[string]any); ok {
				for k, v := range obj {
					merged[k] = v
				}
			}
		}
		if obj, ok := g.object(m, depth).(map[string]any); ok {
			for k, v := range obj {
				merged[k] = v
			}
		}
		return merged
	}
	for _, k := range []string{"oneOf", "anyOf"} {
		if alts, ok := m[k].([]any); ok && len(alts) > 0 {
			return g.value(alts[0], depth+1)
		}
	}
	switch typeOf(m) {
	case "string":
		return exampleString(m)
	case "integer":
		return exampleNumber(m, true)
	case "number":
		return exampleNumber(m, false)
	case "boolean":
		return true
	case "null":
		return nil
	case "array":
		n := 1
		if mi, ok := m["minItems"].(float64); ok && int(mi) > n {
			n = min(int(mi), 5)
		}
		items := m["items"]
		if prefix, ok := m["prefixItems"].([]any); ok {
			out := make([]any, 0, len(prefix))
			for _, p := range prefix {
				out = append(out, g.value(p, depth+1))
			}
			return out
		}
		if arr, ok := items.([]any); ok { // draft-07 tuple form
			out := make([]any, 0, len(arr))
			for _, p := range arr {
				out = append(out, g.value(p, depth+1))
			}
			return out
		}
		out := make([]any, 0, n)
		for range n {
			out = append(out, g.value(items, depth+1))
		}
		return out
	}
	return g.object(m, depth)
}

// object fills every declared property.
func (g exampleGen) object(m map[string]any, depth int) any {
	out := map[string]any{}
	props, _ := m["properties"].(map[string]any)
	for name, sub := range props {
		out[name] = g.value(sub, depth+1)
	}
	return out
}

// typeOf is the schema's type, the first non-null one of a list, or one
// its keywords imply.
func typeOf(m map[string]any) string {
	switch t := m["type"].(type) {
	case string:
		return t
	case []any:
		for _, x := range t {
			if s, ok := x.(string); ok && s != "null" {
				return s
			}
		}
	}
	switch {
	case m["properties"] != nil:
		return "object"
	case m["items"] != nil || m["prefixItems"] != nil:
		return "array"
	case m["minLength"] != nil || m["format"] != nil || m["pattern"] != nil:
		return "string"
	case m["minimum"] != nil || m["maximum"] != nil:
		return "number"
	}
	return "object"
}

func exampleString(m map[string]any) string {
	switch m["format"] {
	case "date-time":
		return "2026-01-01T12:00:00Z"
	case "date":
		return "2026-01-01"
	case "time":
		return "12:00:00Z"
	case "email":
		return "someone@example.com"
	case "uri", "url", "iri":
		return "https://example.com/"
	case "uuid":
		return "3f1c7c2e-8d4b-4b7e-9a52-6f0e4a1d2b3c"
	case "hostname":
		return "example.com"
	case "ipv4":
		return "192.0.2.1"
	case "ipv6":
		return "2001:db8::1"
	}
	s := "string"
	if n, ok := m["minLength"].(float64); ok && int(n) > len(s) {
		s += strings.Repeat("x", int(n)-len(s))
	}
	if n, ok := m["maxLength"].(float64); ok && int(n) < len(s) {
		s = s[:max(int(n), 0)]
	}
	return s
}

func exampleNumber(m map[string]any, integer bool) any {
	v := 1.0
	if lo, ok := m["minimum"].(float64); ok {
		v = lo
	}
	if lo, ok := m["exclusiveMinimum"].(float64); ok {
		v = lo + 1
	}
	if hi, ok := m["maximum"].(float64); ok && v > hi {
		v = hi
	}
	if integer {
		return int64(v)
	}
	return v
}

// resolve finds a reference inside the document ("#/$defs/x").
func (g exampleGen) resolve(ref string) any {
	if !strings.HasPrefix(ref, "#") {
		return nil
	}
	parts, ok := splitPointer(strings.TrimPrefix(ref, "#"))
	if !ok {
		return nil
	}
	cur := g.root
	for _, p := range parts {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}
