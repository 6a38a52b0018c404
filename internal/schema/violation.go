package schema

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/heraldhq/herald/internal/jsoncheck"
)

// RuleInvalidJSON is the Rule of the single violation reported when the
// instance bytes are not one JSON value.
const RuleInvalidJSON = "json"

// Violation is one reason an instance failed validation.
type Violation struct {
	// Path is the instance location as a JSON path: "$" for the root,
	// "$.order.items[2].qty", "$['odd key']" for members that are not
	// identifiers. For "required" and "additionalProperties" it is the object
	// that is missing or carries the property; the message names it.
	Path string
	// Pointer is the same location as an RFC 6901 JSON Pointer
	// ("/order/items/2/qty"; "" for the root).
	Pointer string
	// Rule is the failing keyword: "required", "type", "minimum", "format",
	// "additionalProperties", ... For a `false` subschema it is the keyword
	// holding it ("properties", "items", ...) or "false" when that is unclear.
	Rule string
	// Message is the validator's human-readable explanation.
	Message string
	// SchemaLocation points at the failing keyword inside the schema,
	// e.g. "#/properties/qty/minimum". It tells alternatives of anyOf/oneOf
	// apart ("#/anyOf/1/type"). It is an absolute URL when the keyword lives in
	// an embedded resource with its own $id or in a meta-schema.
	SchemaLocation string
}

// String formats the violation as "<path>: <rule>: <message>".
func (v Violation) String() string {
	return fmt.Sprintf("%s: %s: %s", v.Path, v.Rule, v.Message)
}

// printer renders library messages. message.Printer is safe for concurrent
// use (the library shares one the same way).
var printer = message.NewPrinter(language.English)

// flatten turns the library's error tree into sorted, deduplicated leaves.
// instance is the decoded value that was validated; it is used to tell array
// indexes from object keys when rendering JSON paths.
func flatten(root *jsonschema.ValidationError, instance any) []Violation {
	type item struct {
		v    Violation
		toks []string
	}
	var items []item
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 && !leafWithCauses(e.ErrorKind) {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		items = append(items, item{v: leaf(e, instance), toks: e.InstanceLocation})
	}
	walk(root)

	slices.SortStableFunc(items, func(a, b item) int {
		if c := compareTokens(a.toks, b.toks); c != 0 {
			return c
		}
		if c := cmp.Compare(a.v.Rule, b.v.Rule); c != 0 {
			return c
		}
		return cmp.Compare(a.v.Message, b.v.Message)
	})
	out := make([]Violation, 0, len(items))
	for i, it := range items {
		// The same failure can be reached through several paths (a $ref used
		// twice under allOf, say); after sorting, duplicates are adjacent.
		if i > 0 {
			p := out[len(out)-1]
			if p.Pointer == it.v.Pointer && p.Rule == it.v.Rule && p.Message == it.v.Message {
				continue
			}
		}
		out = append(out, it.v)
	}
	return out
}

// leafWithCauses reports kinds whose causes describe evaluations that are not
// failures in their own right: items that merely did not match "contains", or
// a property name checked as a string against "propertyNames" (whose causes
// carry locations relative to that name, not to the instance).
func leafWithCauses(k jsonschema.ErrorKind) bool {
	switch k.(type) {
	case *kind.Contains, *kind.MinContains, *kind.PropertyNames, *kind.ContentSchema:
		return true
	}
	return false
}

// leaf builds the Violation for one leaf error.
func leaf(e *jsonschema.ValidationError, instance any) Violation {
	k := e.ErrorKind
	if ap, ok := k.(*kind.AdditionalProperties); ok {
		// The library collects these while ranging over a map; sort for a
		// stable message.
		slices.Sort(ap.Properties)
	}
	loc := stripBase(e.SchemaURL)
	var rule string
	var kw []string
	switch k := k.(type) {
	case *kind.Not:
		kw = []string{"not"}
	case *kind.Dependency:
		// The library reports "dependency"; the keyword is "dependencies".
		kw = []string{"dependencies", k.Prop}
	case *kind.PropertyNames:
		// SchemaURL already points at the propertyNames subschema.
		rule = "propertyNames"
	case *kind.FalseSchema:
		rule = falseSchemaRule(loc)
	case *kind.RefCycle:
		rule = "$ref"
	case *kind.InvalidJsonValue:
		rule = "type"
	default:
		kw = k.KeywordPath()
	}
	if len(kw) > 0 {
		rule = kw[0]
		if !strings.Contains(loc, "#") {
			loc += "#"
		}
		for _, tok := range kw {
			loc += "/" + escapePointer(tok)
		}
	}
	if rule == "" {
		rule = "schema"
	}
	return Violation{
		Path:           jsonPath(instance, e.InstanceLocation),
		Pointer:        jsonPointer(e.InstanceLocation),
		Rule:           rule,
		Message:        k.LocalizedString(printer),
		SchemaLocation: loc,
	}
}

// subschemaContainers are keywords whose value is an object or array of
// subschemas; a false subschema at "<kw>/<name>" is reported as <kw>.
var subschemaContainers = map[string]bool{
	"properties": true, "patternProperties": true, "dependentSchemas": true,
	"dependencies": true, "prefixItems": true, "items": true,
	"allOf": true, "anyOf": true, "oneOf": true,
}

// falseSchemaRule names the keyword that holds a `false` subschema, given the
// subschema's location ("#/properties/x" → "properties", "#/items" → "items").
func falseSchemaRule(loc string) string {
	_, frag, _ := strings.Cut(loc, "#")
	frag = strings.TrimPrefix(frag, "/")
	if frag == "" {
		return "false"
	}
	toks := strings.Split(frag, "/")
	n := len(toks)
	if n >= 2 {
		if subschemaContainers[toks[n-2]] {
			return toks[n-2]
		}
		if toks[n-2] == "$defs" || toks[n-2] == "definitions" {
			// Reached through $ref; the referencing keyword is not known here.
			return "false"
		}
	}
	return toks[n-1]
}

// jsonPointer renders tokens as an RFC 6901 pointer.
func jsonPointer(toks []string) string {
	var b strings.Builder
	for _, t := range toks {
		b.WriteByte('/')
		b.WriteString(escapePointer(t))
	}
	return b.String()
}

func escapePointer(tok string) string {
	if !strings.ContainsAny(tok, "~/") {
		return tok
	}
	return strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1")
}

// jsonPath renders tokens as a JSON path, the way every JSON path in a
// problem is written (jsoncheck.Path, which also names repeated members).
// The library's instance location does not say whether "2" is an array
// index or an object key, so walk the instance alongside the tokens.
func jsonPath(instance any, toks []string) string {
	p := make(jsoncheck.Path, 0, len(toks))
	cur := instance
	for _, tok := range toks {
		switch c := cur.(type) {
		case []any:
			cur = nil
			i, ok := arrayIndex(tok)
			if !ok {
				p = append(p, jsoncheck.Step{Name: tok})
				continue
			}
			p = append(p, jsoncheck.Step{Index: i, IsIndex: true})
			if i < len(c) {
				cur = c[i]
			}
		case map[string]any:
			p = append(p, jsoncheck.Step{Name: tok})
			cur = c[tok]
		default:
			p = append(p, jsoncheck.Step{Name: tok})
			cur = nil
		}
	}
	return p.String()
}

func arrayIndex(tok string) (int, bool) {
	if tok == "" || len(tok) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(tok); i++ {
		if tok[i] < '0' || tok[i] > '9' {
			return 0, false
		}
		n = n*10 + int(tok[i]-'0')
	}
	return n, true
}

// compareTokens orders instance locations in document order: parents before
// children, and array indexes numerically ("2" before "10").
func compareTokens(a, b []string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		xi, xok := arrayIndex(x)
		yi, yok := arrayIndex(y)
		if xok && yok {
			return cmp.Compare(xi, yi)
		}
		return cmp.Compare(x, y)
	}
	return cmp.Compare(len(a), len(b))
}
