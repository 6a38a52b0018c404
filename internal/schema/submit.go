package schema

import (
	"fmt"
	"slices"
	"strings"
)

// Limits on a submitted schema document. The library's compile time grows
// faster than linearly with the number of subschemas (each one is looked up
// in a list of all the others) and with their depth (meta-schema validation
// builds every location string from its parents'): on a 2-core machine 50,000
// allOf branches take 10 s, and a mere 5,000 nested "not" (40 KB) take over a
// minute. Within these limits the worst shapes measured compile in well under
// a second. Every real event schema seen so far is far inside them.
const (
	// MaxBytes bounds the document's size as sent: 256 KiB, four times the
	// largest event it can describe (64 KiB).
	MaxBytes = 256 << 10
	// MaxDepth bounds the nesting of objects and arrays: 64 levels, about
	// 30 levels of nested object properties.
	MaxDepth = 64
	// MaxNodes bounds the JSON objects and booleans anywhere in the document,
	// each of which can be compiled as a subschema (a "$ref" may point into
	// "enum" or an unknown keyword, so they count too).
	MaxNodes = 5000
)

// CompileSubmitted checks and compiles a schema document submitted for a
// new event type version. want.Draft is the draft the type names explicitly
// ("" for none) and want.FormatAssertion its format setting.
//
// The document must be at most MaxBytes long, nested at most MaxDepth deep
// and hold at most MaxNodes objects and booleans (ErrTooLarge,
// ErrTooComplex); these are checked before compiling. Its draft is, in
// order: its own "$schema" (a different want.Draft is ErrDraftConflict);
// want.Draft; the draft its keywords imply (see detectDraft;
// ErrAmbiguousDraft when they contradict each other); 2020-12.
//
// The returned Schema's Dialect is what to store with the version: Compile
// with it gives the same schema again.
func CompileSubmitted(doc []byte, want Dialect) (*Schema, error) {
	if want.Draft != "" && libraryDrafts[want.Draft] == nil {
		return nil, &CompileError{Kind: ErrUnsupportedDraft, Detail: want.Draft}
	}
	if len(doc) > MaxBytes {
		return nil, &CompileError{Kind: ErrTooLarge,
			Detail: fmt.Sprintf("the document is %d bytes, over the limit of %d bytes (%d KiB)", len(doc), MaxBytes, MaxBytes>>10)}
	}
	v, err := decodeSchema(doc)
	if err != nil {
		return nil, err
	}
	if err := checkComplexity(v); err != nil {
		return nil, err
	}
	declared, err := declaredDraft(v)
	if err != nil {
		return nil, err
	}
	d := want
	switch {
	case declared != "" && want.Draft != "" && declared != want.Draft:
		return nil, &CompileError{Kind: ErrDraftConflict, Location: "/$schema",
			Detail: fmt.Sprintf("the document's $schema is %s but schema_draft asks for %s; drop one of them or make them agree", declared, want.Draft)}
	case declared != "":
		d.Draft = declared
	case want.Draft == "":
		if d.Draft, err = detectDraft(v); err != nil {
			return nil, err
		}
	}
	return compileValue(v, d)
}

// checkComplexity walks the whole document (without recursion, so depth
// costs no stack) and refuses it past MaxDepth or MaxNodes.
func checkComplexity(root any) error {
	type frame struct {
		v     any
		depth int
		ptr   string
	}
	stack := []frame{{root, 1, ""}}
	nodes := 0
	for len(stack) > 0 {
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		switch v := f.v.(type) {
		case map[string]any:
			nodes++
			if f.depth > MaxDepth {
				return tooDeep(f.ptr)
			}
			for k, c := range v {
				stack = append(stack, frame{c, f.depth + 1, f.ptr + "/" + escapePointer(k)})
			}
		case []any:
			if f.depth > MaxDepth {
				return tooDeep(f.ptr)
			}
			for i, c := range v {
				stack = append(stack, frame{c, f.depth + 1, fmt.Sprintf("%s/%d", f.ptr, i)})
			}
		case bool:
			nodes++
		}
		if nodes > MaxNodes {
			return &CompileError{Kind: ErrTooComplex,
				Detail: fmt.Sprintf("it holds more than %d objects and booleans (each can be a subschema); split it or simplify it", MaxNodes)}
		}
	}
	return nil
}

func tooDeep(ptr string) error {
	return &CompileError{Kind: ErrTooComplex, Location: ptr,
		Detail: fmt.Sprintf("objects and arrays are nested more than %d levels deep", MaxDepth)}
}

// draftSet is a set of drafts, one bit each.
type draftSet uint8

const (
	set06 draftSet = 1 << iota
	set07
	set2019
	set2020
)

// setDrafts lists the bits with their drafts, in the order detection
// prefers them when several remain possible: 2020-12 (the default), then
// draft-07 (by far the most used older draft; it validates exactly like
// draft-06 unless a draft-07 keyword is used, and no keyword is draft-06
// only), then 2019-09.
var setDrafts = []struct {
	bit   draftSet
	draft string
}{{set2020, Draft2020}, {set07, Draft07}, {set2019, Draft2019}, {set06, Draft06}}

// names lists the drafts in s, oldest first.
func (s draftSet) names() string {
	var out []string
	for _, d := range []struct {
		bit  draftSet
		name string
	}{{set06, Draft06}, {set07, Draft07}, {set2019, Draft2019}, {set2020, Draft2020}} {
		if s&d.bit != 0 {
			out = append(out, d.name)
		}
	}
	return strings.Join(out, ", ")
}

// keywordHint says which drafts a keyword belongs to. A weak hint
// ("definitions", "dependencies", "$defs") only breaks ties: the library
// resolves references into those containers in every draft and still
// applies "dependencies" in 2019-09 and 2020-12, so a mix costs no meaning.
// A strong hint is a keyword that another draft would ignore or refuse, so
// strong hints that contradict each other make the document ambiguous.
type keywordHint struct {
	drafts draftSet
	weak   bool
}

// keywordHints lists the keywords that tell drafts apart. Array-form "items"
// is handled in hintFor.
var keywordHints = map[string]keywordHint{
	"additionalItems":       {set06 | set07 | set2019, false},
	"definitions":           {set06 | set07, true},
	"dependencies":          {set06 | set07, true},
	"$defs":                 {set2019 | set2020, true},
	"dependentRequired":     {set2019 | set2020, false},
	"dependentSchemas":      {set2019 | set2020, false},
	"unevaluatedProperties": {set2019 | set2020, false},
	"unevaluatedItems":      {set2019 | set2020, false},
	"minContains":           {set2019 | set2020, false},
	"maxContains":           {set2019 | set2020, false},
	"$anchor":               {set2019 | set2020, false},
	"$recursiveRef":         {set2019, false},
	"$recursiveAnchor":      {set2019, false},
	"prefixItems":           {set2020, false},
	"$dynamicRef":           {set2020, false},
	"$dynamicAnchor":        {set2020, false},
}

// hintFor returns the hint of keyword k with value v, if it has one.
func hintFor(k string, v any) (keywordHint, bool) {
	if k == "items" {
		if _, isArray := v.([]any); isArray {
			// Tuple validation: "prefixItems" replaced it in 2020-12,
			// whose meta-schema refuses an array here.
			return keywordHint{set06 | set07 | set2019, false}, true
		}
		return keywordHint{}, false
	}
	h, ok := keywordHints[k]
	return h, ok
}

// Keywords whose values hold subschemas, in any supported draft; detection
// walks only these, so a property named "items" or "if" is not taken for a
// keyword.
var (
	schemaKeywords = []string{"additionalItems", "additionalProperties", "contains", "contentSchema", "else",
		"if", "items", "not", "propertyNames", "then", "unevaluatedItems", "unevaluatedProperties"}
	schemaArrayKeywords = []string{"allOf", "anyOf", "oneOf", "prefixItems", "items"}
	schemaMapKeywords   = []string{"$defs", "definitions", "dependencies", "dependentSchemas", "patternProperties", "properties"}
)

// evidence is one keyword found at a location.
type evidence struct {
	keyword string
	ptr     string
	hint    keywordHint
}

// label describes e for messages: `"prefixItems" at /prefixItems (2020-12)`.
func (e evidence) label() string {
	kw := fmt.Sprintf("%q", e.keyword)
	if e.keyword == "items" {
		kw = `array-form "items"`
	}
	ptr := e.ptr
	if ptr == "" {
		ptr = "the root"
	}
	return fmt.Sprintf("%s at %s (%s)", kw, ptr, e.hint.drafts.names())
}

// detectDraft picks the draft of a document without "$schema" from the
// keywords its subschemas use: the drafts every strong hint allows, narrowed
// by the weak hints where they agree, and among those the first of
// setDrafts. No hint at all gives 2020-12. Strong hints with no draft in
// common are an ErrAmbiguousDraft naming two of them.
//
// Subschemas that declare their own "$schema" are left out: they say what
// they are.
func detectDraft(root any) (string, error) {
	var found []evidence
	var walk func(v any, ptr string)
	walk = func(v any, ptr string) {
		obj, ok := v.(map[string]any)
		if !ok {
			return
		}
		if _, own := obj["$schema"]; own && ptr != "" {
			return
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys) // deterministic messages
		for _, k := range keys {
			if h, ok := hintFor(k, obj[k]); ok {
				found = append(found, evidence{k, ptr + "/" + escapePointer(k), h})
			}
		}
		for _, k := range keys {
			kp := ptr + "/" + escapePointer(k)
			switch val := obj[k].(type) {
			case map[string]any:
				if slices.Contains(schemaKeywords, k) {
					walk(val, kp)
				} else if slices.Contains(schemaMapKeywords, k) {
					names := make([]string, 0, len(val))
					for name := range val {
						names = append(names, name)
					}
					slices.Sort(names)
					for _, name := range names {
						walk(val[name], kp+"/"+escapePointer(name))
					}
				}
			case []any:
				if slices.Contains(schemaArrayKeywords, k) {
					for i, item := range val {
						walk(item, fmt.Sprintf("%s/%d", kp, i))
					}
				}
			}
		}
	}
	walk(root, "")

	strong := set06 | set07 | set2019 | set2020
	for i, e := range found {
		if e.hint.weak {
			continue
		}
		if strong&e.hint.drafts == 0 {
			return "", ambiguous(found[:i], e)
		}
		strong &= e.hint.drafts
	}
	// Weak hints narrow the choice only if they all agree with the strong
	// ones and each other; otherwise they say nothing.
	candidates := strong
	for _, e := range found {
		if e.hint.weak {
			candidates &= e.hint.drafts
		}
	}
	if candidates == 0 {
		candidates = strong
	}
	for _, d := range setDrafts {
		if candidates&d.bit != 0 {
			return d.draft, nil
		}
	}
	return Draft2020, nil // not reached: candidates is never empty
}

// ambiguous describes strong hint e contradicting the strong hints before
// it, naming one it shares no draft with.
func ambiguous(before []evidence, e evidence) error {
	detail := fmt.Sprintf("%s contradicts the draft the keywords before it imply", e.label())
	for _, p := range before {
		if !p.hint.weak && p.hint.drafts&e.hint.drafts == 0 {
			detail = fmt.Sprintf("%s and %s belong to different drafts", p.label(), e.label())
			break
		}
	}
	return &CompileError{Kind: ErrAmbiguousDraft, Location: e.ptr,
		Detail: detail + `; add "$schema" to the document or set schema_draft`}
}
