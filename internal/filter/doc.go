// Package filter implements subscription filters: conditions on a CloudEvent's
// attributes, its extension attributes and its JSON data, combined with and,
// or and not. A webhook endpoint (and later a connector) carries an optional
// filter on top of its event type patterns; an event is delivered to the
// endpoint only when the filter matches.
//
// A filter arrives as JSON in the API, is checked and compiled once by
// [Parse], and is then evaluated by [Filter.Match] on the ingest path for every
// (event, candidate endpoint) pair. Parse therefore does all the work it can
// (validation, number normalisation, path parsing, ordering) so that Match
// stays cheap: it normally does not allocate, and it reads the event's data
// at most once, in a single streaming pass that picks out only the values the
// filter refers to, and only when a data condition is actually reached.
//
// # Document shape
//
// A filter is a JSON object, either one condition or one combinator:
//
//	filter     = condition | and | or | not
//	and        = {"and": [filter, ...]}   every filter matches (one at least)
//	or         = {"or":  [filter, ...]}   at least one filter matches (one at least)
//	not        = {"not": filter}          the filter does not match
//	condition  = {target, operator}       exactly one of each, in either order
//
//	target     = "attr": name    a CloudEvents context attribute: id, source,
//	                             type, subject, datacontenttype, dataschema,
//	                             time or specversion
//	           | "ext":  name    an extension attribute: 1 to 20 of a-z, 0-9
//	           | "data": path    a value inside the event's JSON data
//
//	operator   = "eq": scalar        equal
//	           | "ne": scalar        present and not equal
//	           | "in": [scalar, ...] equal to one of the values (1 to 256 of them)
//	           | "exists": bool      present (true) or absent (false)
//	           | "prefix": string    string starts with
//	           | "suffix": string    string ends with
//	           | "contains": string  string contains
//	           | "pattern": string   string matches a token pattern, the
//	                                 same "*"/">" patterns as event types
//	           | "gt" | "gte" | "lt" | "lte": number
//	                                 numerically greater, greater or equal, ...
//
//	scalar     = string | number | true | false | null   (null: data only)
//
// An object holding and, or or not holds nothing else, and a condition holds
// exactly one target and one operator. Unknown and duplicate keys are errors,
// so a typo ("prefx") is refused instead of silently matching everything.
// The JSON literal null as the whole document means "no filter": Parse
// returns a nil *Filter, which matches every event. The empty object {} is an
// error, because it is more likely a mistake than a deliberate match-all.
//
// Example: paid orders of at least 100 from the shop, for the alpha or beta
// team, unless they are tagged as tests:
//
//	{"and": [
//	  {"attr": "source", "prefix": "/shop/"},
//	  {"attr": "subject", "suffix": ".pdf"},
//	  {"ext": "team", "in": ["alpha", "beta"]},
//	  {"data": "$.order.total", "gte": 100},
//	  {"data": "$.customer.vip", "exists": true},
//	  {"or": [
//	    {"data": "$.country", "eq": "MD"},
//	    {"not": {"data": "$.tags[0]", "eq": "test"}}
//	  ]}
//	]}
//
// More examples:
//
//	{"data": "$['customer-id']", "eq": "cus_1"}         quoted member name
//	{"data": "$.items[-1].sku", "prefix": "BOOK-"}      last array element
//	{"ext": "priority", "gte": 5}                       integer extension
//	{"not": {"attr": "subject", "exists": true}}        events without subject
//	{"attr": "subject", "pattern": "PUBLIC.forms.>"}    one stream family
//
// # Data paths
//
// A path is a subset of JSONPath (RFC 9535) that names exactly one value:
//
//	path       = "$" segment*             "$" alone is the whole data value
//	segment    = "." member-name          $.order.total
//	           | "[" quoted-name "]"      $['order-id'], $["a.b"]
//	           | "[" index "]"            $.tags[0]; negative counts from the
//	                                      end: $.tags[-1] is the last element
//
// A member-name after "." starts with a letter, "_" or a non-ASCII character
// and continues with those or digits; any other name must be quoted. Blank
// space may precede a segment and pad the inside of brackets. Quoted
// names take JSON-style escapes (\', \", \\, \/, \b, \f, \n, \r, \t, \uXXXX).
// Wildcards (*), recursive descent (..), slices, unions and filter
// expressions are refused with an error naming them: a path must name one
// value, so that every operator has one value to test. A path has at most
// [MaxPathSegments] segments. [Filter.MarshalJSON] writes paths in a
// canonical form: ".name" for ASCII identifiers, "['...']" otherwise.
// Paths are read by package jsonpath (its Singular rules), which also
// finds their values in the data.
//
// # Matching rules
//
// A condition whose value is missing (no such attribute or extension, no data,
// data that is not JSON, a path leading nowhere) is false for every operator
// except "exists": false. In particular "ne" is false for a missing value: a
// filter saying "env ne prod" delivers only events that state their env,
// which is the safer reading for a filter that decides who receives data.
// Write {"not": {..., "eq": ...}} to include events without the value.
//
// "ne" is, for a present value, exactly the negation of "eq". So it is true
// when the value has another type than the operand (a number is not equal
// to a string). Every other operator is false on a type mismatch: "prefix" on
// a number, "gt" on a string, "eq" with a string operand on a number, and so
// on. Mismatches are never errors when matching; operand types are checked
// once, by Parse.
//
// Attributes and extensions are compared in their CloudEvents canonical
// string form, because the HTTP binary content mode carries no types: an
// integer extension sent as a header arrives as the string "5", sent in a
// structured event as the integer 5, and a filter must treat both alike.
// Hence, for attr and ext targets:
//
//   - a string operand equals the string form (integer 5 has form "5", a
//     boolean has form "true" or "false"); a boolean operand is the same as
//     its string form;
//   - a number operand, and the operators gt, gte, lt and lte, read the
//     string form as a JSON number (strict JSON syntax: "5" and "-2.5e3" are
//     numbers, "+5", " 5" and "0x10" are not) and compare numerically, so
//     {"ext": "priority", "eq": 5} matches both 5 and "5";
//   - null operands are refused by Parse: attributes are never null;
//   - prefix, suffix and contains apply to the string form.
//
// "pattern" takes exactly the syntax of an endpoint's or a consumer group's
// event type patterns: dot-separated tokens, "*" for any one token, a final
// ">" for one or more tokens ("PUBLIC.forms.>" matches
// "PUBLIC.forms.submission.created.f-9" but not "PUBLIC.forms"). Parse checks
// the operand with route.ValidatePattern and Match calls route.Match, the
// very functions that route events by type, so the two never disagree. The
// tested string is split on dots as it stands and compared token by token,
// case-sensitively; the empty string matches no pattern. It is false for
// numbers, booleans, null, objects and arrays in data.
//
// The time attribute is whatever [Event.Attr] returns (RFC 3339), compared as
// a string: prefix works ("2025-01-"), numeric comparisons do not.
//
// Data values keep their JSON types: the string "5" does not equal the number
// 5, true does not equal "true", and null equals only null. Only scalars can
// be compared; objects and arrays can be tested with exists (and are "ne" to
// every scalar). Strings compare by their decoded text, so "\u00e9" equals
// "é", and string operations work on bytes (case-sensitive, no Unicode
// normalisation). When an object repeats a member name, the last one counts,
// as with encoding/json and Herald's schema validation.
//
// Numbers compare exactly, by decimal value, not by converting to float64:
// 100, 100.0 and 1e2 are equal, and 9007199254740993 is greater than
// 9007199254740992 (float64 cannot tell them apart). The only approximation
// is that decimal exponents are clamped to ±10^17, far beyond any real data.
// [Filter.MarshalJSON] keeps each number's literal text as written.
//
// Data is expected to be valid JSON, as ingest validates it; malformed data
// never causes a panic, and values that cannot be read from it count as
// missing.
//
// # Limits
//
// To bound the cost of Match, a filter document has at most [MaxBytes]
// bytes, nests at most [MaxDepth] filters deep (a lone condition has depth 1,
// each and, or or not adds a level), holds at most [MaxConditions]
// conditions and at most [MaxInValues] values per "in".
//
// # Errors
//
// Parse reports the first problem as an [*Error] whose Path is a JSON Pointer
// (RFC 6901) into the filter document, e.g. "/and/1/data" for a bad path in
// the second operand of and, "/and/0/in/3" for a bad fourth "in" value, ""
// for the document as a whole.
package filter
