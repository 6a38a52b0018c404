// Package jsonpath reads the JSON paths people write into Herald, in one
// grammar, and finds their values in a document in one pass.
//
// Two features take paths: a filter's data conditions ({"data":
// "$.order.total", ...}) and a thin event type's kept fields
// ("thin_fields": ["$.payment.id"]). Both are read by [Parse], into a
// [jsoncheck.Path], and both find values with a [Set]. What each accepts
// is a set of [Rules] over the one grammar: the two features grew apart
// before they shared a reader, and each still accepts exactly what it
// accepted then, with the same error messages.
//
// # Grammar
//
// A subset of JSONPath (RFC 9535) that names exactly one value:
//
//	path       = "$" *( [blank] segment )   "$" alone is the whole document
//	segment    = "." member-name           $.order.total
//	           | "[" [blank] quoted-name [blank] "]"   $['order-id'], $["a.b"]
//	           | "[" [blank] index [blank] "]"         $.tags[0], $.tags[-1]
//	member-name = name-first *( name-first / DIGIT / "-" )
//	name-first = ALPHA / "_" / DIGIT / non-ASCII character
//	index      = "0" / ["-"] non-zero-digit *DIGIT    at most nine digits
//
// A quoted name is written between ' or " and takes JSON's escapes and \'
// (\', \", \\, \/, \b, \f, \n, \r, \t, \uXXXX with surrogates in pairs).
// A negative index counts from the end of an array: -1 is the last
// element. Wildcards, recursive descent, slices, unions and filter
// expressions are refused, naming them.
//
// # Rules
//
// [Singular] is the grammar of filter data paths, RFC 9535's singular
// queries: a member-name after "." starts with a letter, "_" or a
// non-ASCII character and holds no "-" (quote any other name); blank
// space may precede a segment that follows "$" or a bracket, not one that
// follows a dotted name (where it would be part of the name), and pad the
// inside of brackets; a quoted name escapes its control characters; a path
// has at most [MaxSegments] segments.
//
// [Members] is the grammar of thin fields, which name object members from
// the root of data: 1 to 16 members, each ".name" with ASCII letters,
// digits, "_" and "-" (not first), or "['name']" in single quotes with any
// characters but "'" and "\" and no escapes; no indexes, no blank space.
//
// Neither set holds the other: "$.a-b" is a thin field but no filter path,
// "$.tags[0]" the reverse.
//
// # Finding values
//
// A [Set] is the trie of the paths a caller reads from one document.
// [Set.Lookup] walks the document once with package jsoncheck's walkers,
// descending only into members and elements some path continues through,
// skipping everything else without decoding it, and records where each
// path's value lies. It trusts the document to be valid JSON, as Herald
// has checked every document it holds; malformed text never causes a
// panic, and what cannot be read counts as missing. When an object repeats
// a member name the last one counts, as with encoding/json.
package jsonpath
