// Package schema compiles the JSON Schemas attached to Herald event types and
// validates event data against them on the ingest path.
//
// It is a thin, opinionated layer over github.com/santhosh-tekuri/jsonschema/v6:
//
//   - four drafts are supported, each with its own semantics: draft-06,
//     draft-07, 2019-09 and 2020-12. A stored schema version is compiled
//     under the [Dialect] recorded with it; a new version's draft is chosen
//     by [CompileSubmitted] (the document's "$schema", else the draft the
//     event type names, else one detected from the keywords, else 2020-12),
//     so a schema keeps its meaning even if the library's default moves on;
//   - "format" follows each draft: drafts 6 and 7 assert it; in 2019-09 and
//     2020-12 it is an annotation unless the dialect asks for assertion
//     ([Dialect.FormatAssertion]);
//   - submitted schemas are bounded ([MaxBytes], [MaxDepth], [MaxNodes]) before
//     compiling, because the library's compile time grows faster than
//     linearly with the number and depth of subschemas;
//   - nothing is ever fetched: only in-document references and the
//     meta-schemas compiled into the library resolve, so a schema submitted
//     through the API cannot make Herald read local files or call out to the
//     network;
//   - failures come back as flat [Violation] values (keyword + JSON path) that
//     can be shown to the producer as is.
//
// Compiling is comparatively expensive; ingest should go through [Cache] so each
// event type version is compiled once.
package schema

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/heraldhq/herald/internal/jsoncheck"
)

// Draft names: the values of [Dialect.Draft] and of an event type's
// schema_draft.
const (
	Draft06   = "draft-06"
	Draft07   = "draft-07"
	Draft2019 = "2019-09"
	Draft2020 = "2020-12"
)

// supportedDrafts lists the accepted drafts, oldest first, for error messages.
var supportedDrafts = []string{Draft06, Draft07, Draft2019, Draft2020}

// Drafts lists the supported drafts, oldest first.
func Drafts() []string { return slices.Clone(supportedDrafts) }

// libraryDrafts maps Herald's draft names to the library's.
var libraryDrafts = map[string]*jsonschema.Draft{
	Draft06:   jsonschema.Draft6,
	Draft07:   jsonschema.Draft7,
	Draft2019: jsonschema.Draft2019,
	Draft2020: jsonschema.Draft2020,
}

// Sentinel errors, reachable with errors.Is through a *CompileError, so that
// API handlers can choose a status code or message without parsing text.
var (
	// ErrInvalidJSON means the schema document is not a single JSON value.
	ErrInvalidJSON = errors.New("schema document is not valid JSON")
	// ErrUnsupportedDraft means "$schema" (or the requested draft) names a
	// dialect Herald does not accept.
	ErrUnsupportedDraft = errors.New("unsupported JSON Schema draft")
	// ErrExternalRef means the schema refers to a resource outside the document.
	ErrExternalRef = errors.New("external schema reference not allowed")
	// ErrInvalidSchema means the document is JSON but not a valid schema for its draft.
	ErrInvalidSchema = errors.New("invalid JSON Schema")
	// ErrTooLarge means a submitted document is over MaxBytes.
	ErrTooLarge = errors.New("schema document too large")
	// ErrTooComplex means a submitted document is nested deeper than MaxDepth
	// or holds more than MaxNodes objects and booleans.
	ErrTooComplex = errors.New("schema document too complex")
	// ErrAmbiguousDraft means a submitted document without "$schema" uses
	// keywords of drafts that exclude each other, so no draft can be
	// detected.
	ErrAmbiguousDraft = errors.New("JSON Schema draft is ambiguous")
	// ErrDraftConflict means the requested draft differs from the
	// document's own "$schema".
	ErrDraftConflict = errors.New("requested draft differs from $schema")
)

// baseURL is the identity given to every compiled document, baseDir its
// directory. They use a reserved domain (RFC 2606 ".invalid") so that relative
// references such as "other.json" resolve to URLs that can never exist, and
// they are stripped from the locations and messages shown to users.
const (
	baseDir = "https://schema.herald.invalid/"
	baseURL = baseDir + "root.json"
)

// CompileError describes why a schema document was rejected.
type CompileError struct {
	// Kind is one of the sentinel errors above (ErrInvalidJSON,
	// ErrUnsupportedDraft, ...).
	Kind error
	// Location is a JSON Pointer into the schema document at the first problem
	// ("/properties/qty/minimum"); "" means the document root or unknown.
	Location string
	// URL is the offending URL for ErrUnsupportedDraft and ErrExternalRef.
	URL string
	// Problems lists every meta-schema violation for ErrInvalidSchema, with
	// Pointer/Path addressing the schema document itself. It may be empty when
	// the library reported a structural problem (bad regexp, dangling $ref).
	Problems []Violation
	// Detail completes the message for the kinds Herald detects itself
	// (limits, draft detection): which limit, which keywords.
	Detail string
	// Err is the underlying error from the JSON decoder or the library, if any.
	Err error
}

// Rule names the rule a refusal broke, for API problems: "schema-too-large",
// "schema-too-complex", "schema-draft-ambiguous", "schema-draft-conflict",
// or "schema" for a document that is not a usable schema.
func (e *CompileError) Rule() string {
	switch e.Kind {
	case ErrTooLarge:
		return "schema-too-large"
	case ErrTooComplex:
		return "schema-too-complex"
	case ErrAmbiguousDraft:
		return "schema-draft-ambiguous"
	case ErrDraftConflict:
		return "schema-draft-conflict"
	}
	return "schema"
}

// Error renders a single-line, user-presentable message.
func (e *CompileError) Error() string {
	var b strings.Builder
	b.WriteString("schema: ")
	switch e.Kind {
	case ErrUnsupportedDraft:
		if e.URL == "" {
			fmt.Fprintf(&b, "unsupported draft %q: supported drafts are %s", e.Detail, strings.Join(supportedDrafts, ", "))
			return b.String()
		}
		fmt.Fprintf(&b, "unsupported $schema %q: supported drafts are %s (json-schema.org meta-schema URLs, http or https); omit $schema for %s",
			e.URL, strings.Join(supportedDrafts, ", "), Draft2020)
		return b.String()
	case ErrExternalRef:
		fmt.Fprintf(&b, "reference to external resource %q refused: only references inside the document (\"#...\") and the built-in json-schema.org meta-schemas are allowed", e.URL)
		return b.String()
	}
	if e.Kind != nil {
		b.WriteString(e.Kind.Error())
	} else {
		b.WriteString("compile failed")
	}
	if e.Location != "" {
		fmt.Fprintf(&b, " at %q", e.Location)
	}
	switch {
	case e.Detail != "":
		b.WriteString(": ")
		b.WriteString(e.Detail)
	case len(e.Problems) > 0:
		// Show a few problems; the full list is in Problems for API responses.
		const shown = 3
		for i, p := range e.Problems {
			if i == shown {
				fmt.Fprintf(&b, "; and %d more", len(e.Problems)-shown)
				break
			}
			if i == 0 {
				b.WriteString(": ")
			} else {
				b.WriteString("; ")
			}
			if p.Pointer != e.Location {
				fmt.Fprintf(&b, "at %q: ", p.Pointer)
			}
			b.WriteString(p.Message)
		}
	case e.Err != nil:
		b.WriteString(": ")
		b.WriteString(stripBase(e.Err.Error()))
	}
	return b.String()
}

// Unwrap exposes both the sentinel kind and the underlying cause.
func (e *CompileError) Unwrap() []error {
	errs := make([]error, 0, 2)
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// Dialect is how a schema document is read. A stored schema version keeps
// the Dialect it was registered with, so its meaning never changes.
type Dialect struct {
	// Draft applies where the document has no "$schema": Draft06, Draft07,
	// Draft2019 or Draft2020 ("" means Draft2020).
	Draft string
	// FormatAssertion makes "format" an assertion in 2019-09 and 2020-12,
	// where it is otherwise an annotation. Drafts 6 and 7 always assert it.
	FormatAssertion bool
}

// assertsFormat reports whether "format" is an assertion under draft with
// the requested setting: always in drafts 6 and 7 (the library's behaviour
// for them, and what those drafts' users expect), on request in 2019-09 and
// 2020-12.
func assertsFormat(draft string, requested bool) bool {
	return requested || draft == Draft06 || draft == Draft07
}

// Schema is a compiled schema. It is immutable and safe for concurrent use.
type Schema struct {
	sch     *jsonschema.Schema
	dialect Dialect
}

// Compile parses and compiles a stored schema document under d.
//
// The draft is the document's "$schema" (draft-06, draft-07, 2019-09 or
// 2020-12 meta-schema URL, http or https, with or without a trailing "#");
// without one it is d.Draft. References may only point inside the document
// or at the built-in json-schema.org meta-schemas; anything else fails with
// ErrExternalRef and no I/O is attempted. Every failure is a *CompileError.
//
// Compile neither detects drafts nor enforces the size limits: documents
// submitted through the API go through CompileSubmitted, which does, and
// records the Dialect to compile them with later.
func Compile(doc []byte, d Dialect) (*Schema, error) {
	v, err := decodeSchema(doc)
	if err != nil {
		return nil, err
	}
	declared, err := declaredDraft(v)
	if err != nil {
		return nil, err
	}
	if declared != "" {
		d.Draft = declared
	}
	if d.Draft == "" {
		d.Draft = Draft2020
	}
	return compileValue(v, d)
}

// decodeSchema parses a schema document the way the library does (numbers
// kept exact).
func decodeSchema(doc []byte) (any, error) {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, &CompileError{Kind: ErrInvalidJSON, Err: err}
	}
	return v, nil
}

// declaredDraft returns the draft named by the document's "$schema", or ""
// when it has none.
func declaredDraft(v any) (string, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return "", nil
	}
	raw, present := obj["$schema"]
	if !present {
		return "", nil
	}
	s, ok := raw.(string)
	if !ok {
		return "", &CompileError{Kind: ErrInvalidSchema, Location: "/$schema", Err: errors.New("$schema must be a string")}
	}
	d, ok := draftFromURL(s)
	if !ok {
		return "", &CompileError{Kind: ErrUnsupportedDraft, Location: "/$schema", URL: s}
	}
	return d, nil
}

// compileValue compiles a decoded document under d, whose Draft is set.
func compileValue(v any, d Dialect) (*Schema, error) {
	lib, ok := libraryDrafts[d.Draft]
	if !ok {
		return nil, &CompileError{Kind: ErrUnsupportedDraft, Detail: d.Draft}
	}
	d.FormatAssertion = assertsFormat(d.Draft, d.FormatAssertion)
	c := jsonschema.NewCompiler()
	c.DefaultDraft(lib)
	if d.FormatAssertion {
		c.AssertFormat()
	}
	// The library's default loader reads file:// URLs; replace it with one
	// that refuses everything. Meta-schemas are served from the library's
	// embedded copies before the loader is consulted, so they keep working.
	c.UseLoader(refuseLoader{})
	if err := c.AddResource(baseURL, v); err != nil {
		return nil, &CompileError{Kind: ErrInvalidSchema, Err: err}
	}
	sch, err := c.Compile(baseURL)
	if err != nil {
		return nil, compileError(err, v)
	}
	return &Schema{sch: sch, dialect: d}, nil
}

// Draft reports the dialect the schema was compiled with: "draft-06",
// "draft-07", "2019-09" or "2020-12".
func (s *Schema) Draft() string { return s.dialect.Draft }

// Dialect reports how the schema was compiled: its draft and whether
// "format" is asserted (always true for drafts 6 and 7). Storing it with the
// document and compiling with it again gives the same schema.
func (s *Schema) Dialect() Dialect { return s.dialect }

// Validate checks one JSON instance given as raw bytes. A nil result means
// the instance is valid. Violations are leaf failures, deduplicated and sorted
// by instance location, then rule, then message.
//
// Bytes that are not exactly one JSON value yield a single violation with
// Rule RuleInvalidJSON at the root.
func (s *Schema) Validate(instance []byte) []Violation {
	// jsoncheck.Decode keeps numbers as json.Number so that integer and
	// multipleOf checks see the exact value the producer sent.
	v, err := jsoncheck.Decode(instance)
	if err != nil {
		// Invalid instances are rare, so decode them again with the library:
		// producers keep getting encoding/json's wording, and should the two
		// decoders ever disagree, the library's verdict stands and a
		// document that used to validate is never rejected as malformed.
		v, err = jsonschema.UnmarshalJSON(bytes.NewReader(instance))
		if err != nil {
			return []Violation{{Path: "$", Rule: RuleInvalidJSON, Message: "instance is not valid JSON: " + err.Error()}}
		}
	}
	return s.ValidateValue(v)
}

// ValidateValue is Validate for an instance the caller has already decoded
// (for example as part of a CloudEvent envelope). v must be made of nil, bool,
// string, json.Number or float64, []any and map[string]any; decode with
// jsonschema.UnmarshalJSON or a json.Decoder with UseNumber for exact numbers.
func (s *Schema) ValidateValue(v any) []Violation {
	err := s.sch.Validate(v)
	if err == nil {
		return nil
	}
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		// Not expected from the library; still report rather than accept.
		return []Violation{{Path: "$", Message: err.Error()}}
	}
	return flatten(verr, v)
}

// draftFromURL maps a "$schema" value to a supported draft. It is stricter than
// the library: draft-04 and the unversioned "json-schema.org/schema" alias are
// refused, the former because Herald does not support it, the latter because
// its meaning changes whenever a new draft is published.
func draftFromURL(s string) (string, bool) {
	u := strings.TrimSuffix(s, "#")
	if rest, ok := strings.CutPrefix(u, "https://"); ok {
		u = rest
	} else if rest, ok := strings.CutPrefix(u, "http://"); ok {
		u = rest
	} else {
		return "", false
	}
	switch u {
	case "json-schema.org/draft-06/schema":
		return Draft06, true
	case "json-schema.org/draft-07/schema":
		return Draft07, true
	case "json-schema.org/draft/2019-09/schema":
		return Draft2019, true
	case "json-schema.org/draft/2020-12/schema":
		return Draft2020, true
	}
	return "", false
}

// errRefused is returned by refuseLoader; compileError recognises it inside the
// library's *LoadURLError.
var errRefused = errors.New("loading external resources is disabled")

// refuseLoader is the compiler's URLLoader. It never performs I/O.
type refuseLoader struct{}

// Load implements jsonschema.URLLoader by refusing every URL.
func (refuseLoader) Load(string) (any, error) { return nil, errRefused }

// compileError converts a library compile error into a *CompileError.
func compileError(err error, doc any) *CompileError {
	var load *jsonschema.LoadURLError
	if errors.As(err, &load) && errors.Is(load.Err, errRefused) {
		return &CompileError{Kind: ErrExternalRef, URL: stripBase(load.URL), Err: err}
	}
	var meta *jsonschema.SchemaValidationError
	if errors.As(err, &meta) {
		ce := &CompileError{Kind: ErrInvalidSchema, Err: err}
		var verr *jsonschema.ValidationError
		if errors.As(meta.Err, &verr) {
			// The meta-schema's instance is the schema document, so the
			// violations' locations point into the user's schema.
			ce.Problems = flatten(verr, doc)
			if len(ce.Problems) > 0 {
				ce.Location = ce.Problems[0].Pointer
			}
		}
		return ce
	}
	return &CompileError{Kind: ErrInvalidSchema, Err: err}
}

// stripBase removes the synthetic document URL from library messages so users
// see "#/$defs/x" or "other.json" rather than an address they never wrote.
func stripBase(s string) string {
	s = strings.ReplaceAll(s, baseURL, "")
	return strings.ReplaceAll(s, baseDir, "")
}
