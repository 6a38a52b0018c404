package filter

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	t.Parallel()
	cond := `{"attr": "type", "eq": "x"}`
	nots := func(n int) string { // n nested nots around cond
		return strings.Repeat(`{"not": `, n) + cond + strings.Repeat(`}`, n)
	}
	conds := func(n int) string { // and of n conditions
		return `{"and": [` + strings.TrimSuffix(strings.Repeat(cond+",", n), ",") + `]}`
	}
	values := func(n int) string { // in with n values
		return `{"ext": "team", "in": [` + strings.TrimSuffix(strings.Repeat(`"v",`, n), ",") + `]}`
	}
	tests := []struct {
		name     string
		doc      string
		wantPath string
		wantMsg  string // a substring of the message
	}{
		// The document as a whole.
		{"array", `[]`, "", "want a filter object"},
		{"string", `"x"`, "", "want a filter object"},
		{"number", `1`, "", "want a filter object"},
		{"true", `true`, "", "want a filter object"},
		{"empty object", `{}`, "", "empty filter object"},
		{"whitespace only", ` `, "", "unexpected end"},
		{"syntax error", `{"attr": "type", "eq": }`, "/eq", "invalid JSON at byte"},
		{"syntax error nested", `{"and": [{"attr": "type",}]}`, "/and/0", "invalid JSON at byte"},
		{"truncated", `{"and": [{"attr": "type", "eq": "x"}`, "/and", "unexpected end"},
		{"trailing data", cond + ` {}`, "", "unexpected data after the filter"},
		{"trailing garbage", cond + ` x`, "", "unexpected data after the filter"},
		{"too large", `{"attr": "type", "eq": "` + strings.Repeat("x", MaxBytes) + `"}`, "", "over the limit"},
		{"duplicate key", `{"attr": "type", "attr": "id", "eq": "x"}`, "/attr", "duplicate key"},
		{"duplicate key nested", `{"or": [` + cond + `, {"ext": "a", "eq": 1, "eq": 2}]}`, "/or/1/eq", "duplicate key"},
		{"JSON nested too deep", `{"attr": "type", "in": ` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`, "/in" + strings.Repeat("/0", 63), "nested more than 64 levels"},

		// Keys.
		{"unknown key", `{"attr": "type", "eq": "x", "note": "hi"}`, "/note", `unknown key "note"`},
		{"unknown key typo target", `{"atr": "type", "eq": "x"}`, "/atr", `did you mean "attr"`},
		{"unknown key typo operator", `{"attr": "type", "prefx": "x"}`, "/prefx", `did you mean "prefix"`},
		{"unknown key upper case", `{"attr": "type", "EQ": "x"}`, "/EQ", `did you mean "eq"`},
		{"unknown key escaped in pointer", `{"a/b~c": 1}`, "/a~1b~0c", "unknown key"},
		{"unknown key empty", `{"": 1}`, "/", "unknown key"},
		{"no operator", `{"attr": "type"}`, "", "has no operator"},
		{"no target", `{"eq": "x"}`, "", "has no target"},
		{"two operators", `{"attr": "type", "eq": "a", "ne": "b"}`, "/ne", `"eq" and "ne"`},
		{"two targets", `{"attr": "type", "ext": "a", "eq": "b"}`, "/ext", `"attr" and "ext"`},
		{"combinator with condition", `{"and": [` + cond + `], "attr": "type"}`, "/attr", `"attr" cannot share an object with "and"`},
		{"condition with combinator", `{"attr": "type", "eq": "x", "or": []}`, "/or", `"or" cannot share an object with "attr"`},
		{"two combinators", `{"and": [], "or": []}`, "/or", "cannot share an object"},

		// Combinators.
		{"and empty", `{"and": []}`, "/and", "at least one filter"},
		{"or empty", `{"or": []}`, "/or", "at least one filter"},
		{"and object", `{"and": ` + cond + `}`, "/and", "takes an array"},
		{"or null", `{"or": null}`, "/or", "takes an array"},
		{"and element not object", `{"and": [` + cond + `, 1]}`, "/and/1", "want a filter object"},
		{"and element empty", `{"and": [{}]}`, "/and/0", "empty filter object"},
		{"not array", `{"not": [` + cond + `]}`, "/not", "takes one filter object"},
		{"not empty", `{"not": {"not": {}}}`, "/not/not", "empty filter object"},
		{"error in second operand", `{"or": [` + cond + `, {"attr": "nope", "eq": "b"}]}`, "/or/1/attr", `unknown attribute "nope"`},
		{"deep error", `{"and": [` + cond + `, {"or": [` + cond + `, {"not": {"data": "$..a", "eq": 1}}]}]}`, "/and/1/or/1/not/data", "recursive descent"},

		// Limits.
		{"depth at limit is fine, one more is not", nots(MaxDepth), strings.Repeat("/not", MaxDepth), fmt.Sprintf("more than %d levels", MaxDepth)},
		{"too many conditions", conds(MaxConditions + 1), fmt.Sprintf("/and/%d", MaxConditions), fmt.Sprintf("at most %d conditions", MaxConditions)},
		{"too many in values", values(MaxInValues + 1), fmt.Sprintf("/in/%d", MaxInValues), fmt.Sprintf("at most %d values", MaxInValues)},
		{"too many path segments", `{"data": "$` + strings.Repeat(".a", MaxPathSegments+1) + `", "exists": true}`, "/data", fmt.Sprintf("at most %d segments", MaxPathSegments)},

		// Targets.
		{"attr not string", `{"attr": 1, "eq": "x"}`, "/attr", "attr takes a string"},
		{"attr unknown", `{"attr": "nope", "eq": "x"}`, "/attr", "want one of id, source"},
		{"attr upper case", `{"attr": "Source", "eq": "x"}`, "/attr", "lowercase"},
		{"attr is extension", `{"attr": "team", "eq": "x"}`, "/attr", `use {"ext": "team"}`},
		{"attr data", `{"attr": "data", "eq": "x"}`, "/attr", `{"data": "$..."}`},
		{"ext not string", `{"ext": true, "eq": "x"}`, "/ext", "ext takes a string"},
		{"ext core attribute", `{"ext": "source", "eq": "x"}`, "/ext", `use {"attr": "source"}`},
		{"ext data", `{"ext": "data", "eq": "x"}`, "/ext", "is the event data"},
		{"ext upper case", `{"ext": "Team", "eq": "x"}`, "/ext", `must be lowercase: "team"`},
		{"ext bad character", `{"ext": "my_team", "eq": "x"}`, "/ext", "each a-z or 0-9"},
		{"ext empty", `{"ext": "", "eq": "x"}`, "/ext", "1 to 20 characters"},
		{"ext too long", `{"ext": "abcdefghijklmnopqrstu", "eq": "x"}`, "/ext", "1 to 20 characters"},
		{"data not string", `{"data": ["$"], "eq": "x"}`, "/data", "data takes a string"},

		// Data paths.
		{"path without $", `{"data": "order.total", "eq": 1}`, "/data", `must start with "$", e.g. "$.order.total"`},
		{"path dot without $", `{"data": ".order", "eq": 1}`, "/data", `e.g. "$.order"`},
		{"path empty", `{"data": "", "eq": 1}`, "/data", `must start with "$"`},
		{"path recursive descent", `{"data": "$.a..b", "eq": 1}`, "/data", "recursive descent"},
		{"path recursive descent at root", `{"data": "$..b", "eq": 1}`, "/data", "at offset 1: recursive descent"},
		{"path wildcard member", `{"data": "$.a.*", "eq": 1}`, "/data", "wildcards"},
		{"path wildcard index", `{"data": "$.a[*]", "eq": 1}`, "/data", "wildcards"},
		{"path wildcard root", `{"data": "$*", "eq": 1}`, "/data", "wildcards"},
		{"path slice", `{"data": "$.a[1:2]", "eq": 1}`, "/data", "slices"},
		{"path slice open", `{"data": "$.a[:2]", "eq": 1}`, "/data", "slices"},
		{"path union", `{"data": "$.a[0,1]", "eq": 1}`, "/data", "unions"},
		{"path filter expression", `{"data": "$.a[?@.b == 1]", "eq": 1}`, "/data", "filter expressions"},
		{"path trailing dot", `{"data": "$.a.", "eq": 1}`, "/data", "missing member name"},
		{"path dash in name", `{"data": "$.order-id", "eq": 1}`, "/data", `quote the name: ['order-id']`},
		{"path digit first", `{"data": "$.0", "eq": 1}`, "/data", "write [0]"},
		{"path space", `{"data": "$.a b", "eq": 1}`, "/data", "quote the name"},
		{"path bad char", `{"data": "$a", "eq": 1}`, "/data", `unexpected 'a'`},
		{"path unclosed bracket", `{"data": "$[0", "eq": 1}`, "/data", "unclosed"},
		{"path unclosed bracket after blank", `{"data": "$[ ", "eq": 1}`, "/data", "unclosed"},
		{"path unterminated quote", `{"data": "$['a", "eq": 1}`, "/data", "unterminated quoted name"},
		{"path bad escape", `{"data": "$['\\x']", "eq": 1}`, "/data", `invalid escape "\\x"`},
		{"path bad unicode escape", `{"data": "$['\\u12']", "eq": 1}`, "/data", `invalid \u escape`},
		{"path lone surrogate", `{"data": "$['\\ud800']", "eq": 1}`, "/data", `invalid \u escape`},
		{"path control character", `{"data": "$['a\tb']", "eq": 1}`, "/data", "control character"},
		{"path leading zero", `{"data": "$.a[01]", "eq": 1}`, "/data", "leading zero"},
		{"path minus zero", `{"data": "$.a[-0]", "eq": 1}`, "/data", "leading zero"},
		{"path minus alone", `{"data": "$.a[-]", "eq": 1}`, "/data", "needs digits"},
		{"path index too large", `{"data": "$.a[1234567890]", "eq": 1}`, "/data", "out of range"},
		{"path junk after index", `{"data": "$.a[1 x]", "eq": 1}`, "/data", `want "]"`},
		{"path bracket junk", `{"data": "$[a]", "eq": 1}`, "/data", "want a quoted name or an index"},

		// Operands.
		{"eq object", `{"data": "$.a", "eq": {}}`, "/eq", "eq takes a string, number, boolean or null, not an object"},
		{"ne array", `{"data": "$.a", "ne": [1]}`, "/ne", "not an array"},
		{"eq null on attr", `{"attr": "subject", "eq": null}`, "/eq", "never null"},
		{"ne null on ext", `{"ext": "team", "ne": null}`, "/ne", "never null"},
		{"in null on attr", `{"attr": "subject", "in": ["a", null]}`, "/in/1", "never null"},
		{"in not array", `{"data": "$.a", "in": "x"}`, "/in", "array of values"},
		{"in empty", `{"data": "$.a", "in": []}`, "/in", "at least one value"},
		{"in nested array", `{"data": "$.a", "in": [1, [2]]}`, "/in/1", "in takes a string, number, boolean or null"},
		{"exists string", `{"attr": "subject", "exists": "yes"}`, "/exists", "true or false"},
		{"exists null", `{"attr": "subject", "exists": null}`, "/exists", "true or false"},
		{"prefix number", `{"attr": "subject", "prefix": 1}`, "/prefix", "prefix takes a string"},
		{"suffix null", `{"attr": "subject", "suffix": null}`, "/suffix", "suffix takes a string"},
		{"contains array", `{"attr": "subject", "contains": ["a"]}`, "/contains", "contains takes a string"},
		{"pattern number", `{"attr": "subject", "pattern": 1}`, "/pattern", "pattern takes a string"},
		{"pattern empty", `{"attr": "subject", "pattern": ""}`, "/pattern", "must not be empty"},
		{"pattern tail not last", `{"attr": "subject", "pattern": "a.>.b"}`, "/pattern", `">" must be the last token`},
		{"pattern partial wildcard", `{"attr": "subject", "pattern": "PUBLIC.form*"}`, "/pattern", "must be a whole token"},
		{"pattern empty token", `{"attr": "subject", "pattern": "a..b"}`, "/pattern", "empty token"},
		{"gt string number", `{"data": "$.a", "gt": "100"}`, "/gt", "write 100 without quotes"},
		{"gte string", `{"data": "$.a", "gte": "abc"}`, "/gte", "gte takes a number"},
		{"lt bool", `{"data": "$.a", "lt": true}`, "/lt", "lt takes a number"},
		{"lte null", `{"data": "$.a", "lte": null}`, "/lte", "lte takes a number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, err := Parse([]byte(tt.doc))
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("Parse(%.200s) = %v, %v; want an *Error", tt.doc, f, err)
			}
			if fe.Path != tt.wantPath || !strings.Contains(fe.Message, tt.wantMsg) {
				t.Errorf("Parse(%.200s) error:\n got  %q %q\n want %q ...%q...", tt.doc, fe.Path, fe.Message, tt.wantPath, tt.wantMsg)
			}
		})
	}
}

// TestParseLimitsInclusive checks that each limit itself is allowed.
func TestParseLimitsInclusive(t *testing.T) {
	t.Parallel()
	cond := `{"attr": "type", "eq": "x"}`
	docs := map[string]string{
		"depth":    strings.Repeat(`{"not": `, MaxDepth-1) + cond + strings.Repeat(`}`, MaxDepth-1),
		"and":      `{"and": [` + strings.TrimSuffix(strings.Repeat(cond+",", MaxConditions), ",") + `]}`,
		"in":       `{"ext": "team", "in": [` + strings.TrimSuffix(strings.Repeat(`"v",`, MaxInValues), ",") + `]}`,
		"segments": `{"data": "$` + strings.Repeat("[0]", MaxPathSegments) + `", "exists": true}`,
		"paths":    `{"or": [{"data": "$.a", "eq": 1}` + pathConds(MaxConditions-1) + `]}`,
	}
	for name, doc := range docs {
		f, err := Parse([]byte(doc))
		if err != nil {
			t.Errorf("%s at the limit: %v", name, err)
			continue
		}
		// Exercise the scan state at its fullest: the "paths" filter uses
		// every slot, and only conditions in its last slots match.
		ev := newEvent()
		ev.data = []byte(`{"a": 0, "p61": [0, 1], "p62": [1, 2, 3], "p63": [7]}`)
		if got, want := f.Match(ev), name == "paths"; got != want && name != "depth" {
			t.Errorf("%s at the limit: Match = %v, want %v", name, got, want)
		}
	}
}

// pathConds returns n conditions on n distinct paths, each with a leading
// comma, to fill every slot of the scan state.
func pathConds(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `, {"data": "$.p%d[%d]", "exists": true}`, i, i%3-1)
	}
	return b.String()
}

func TestErrorString(t *testing.T) {
	t.Parallel()
	if got := (&Error{Path: "/and/1", Message: "bad"}).Error(); got != "filter at /and/1: bad" {
		t.Errorf("Error() = %q", got)
	}
	if got := (&Error{Message: "bad"}).Error(); got != "filter: bad" {
		t.Errorf("Error() = %q", got)
	}
	long := `{"attr": "` + strings.Repeat("é", 100) + `", "eq": 1}`
	_, err := Parse([]byte(long))
	if err == nil || len(err.Error()) > 400 {
		t.Errorf("error for a long name is not shortened: %v", err)
	}
}

func TestMarshalCanonical(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{`{ "eq" : "x", "attr":"type" }`, `{"attr":"type","eq":"x"}`},
		{`{"data": "$['order'][\"total\"]", "gte": 1e2}`, `{"data":"$.order.total","gte":1e2}`},
		{`{"data": "$[ 'a b' ][ 0 ]['it\\'s'][-1]", "exists": false}`, `{"data":"$['a b'][0]['it\\'s'][-1]","exists":false}`},
		{`{"data": "$.ünï['_x1'].A", "ne": null}`, `{"data":"$['ünï']._x1.A","ne":null}`},
		{`{"data": "$['a\\\\b\\u0001']", "eq": true}`, `{"data":"$['a\\\\b\\u0001']","eq":true}`},
		{`{"data": "$['1']", "in": [1, "1", true, null, -0.50]}`, `{"data":"$['1']","in":[1,"1",true,null,-0.50]}`},
		{`{"pattern": "a.*.>", "attr": "subject"}`, `{"attr":"subject","pattern":"a.*.>"}`},
		{`{"ext": "team", "eq": "<a&b>\u2028\"\n"}`, `{"ext":"team","eq":"<a&b>\u2028\"\n"}`},
		{`{"or": [{"not": {"attr": "id", "prefix": "a"}}, {"and": [{"data": "$", "exists": true}]}]}`, `{"or":[{"not":{"attr":"id","prefix":"a"}},{"and":[{"data":"$","exists":true}]}]}`},
	}
	for _, tt := range tests {
		f, err := Parse([]byte(tt.in))
		if err != nil {
			t.Fatalf("Parse(%s): %v", tt.in, err)
		}
		got, err := f.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tt.want {
			t.Errorf("MarshalJSON(%s)\n got  %s\n want %s", tt.in, got, tt.want)
		}
		// encoding/json (as the API uses it) escapes <, > and & in what
		// MarshalJSON returns; the value is the same.
		viaJSON, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		var a, b any
		if json.Unmarshal(got, &a) != nil || json.Unmarshal(viaJSON, &b) != nil || fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("json.Marshal gives %s, which differs from %s", viaJSON, got)
		}
	}
}

// TestRoundTrip parses every filter of the match table, marshals it, parses
// the result and checks that it is a fixed point and still matches alike.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range matchCases() {
		f, err := Parse([]byte(tc.filter))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		b1, err := f.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(b1) {
			t.Fatalf("%s: MarshalJSON gave invalid JSON %s", tc.name, b1)
		}
		g, err := Parse(b1)
		if err != nil {
			t.Fatalf("%s: re-parsing %s: %v", tc.name, b1, err)
		}
		b2, _ := g.MarshalJSON()
		if string(b1) != string(b2) {
			t.Errorf("%s: not a fixed point:\n %s\n %s", tc.name, b1, b2)
		}
		ev := tc.ev
		if ev == nil {
			ev = newEvent()
		}
		cp := *ev
		if got := g.Match(&cp); got != tc.want {
			t.Errorf("%s: after a round trip through %s, Match = %v, want %v", tc.name, b1, got, tc.want)
		}
	}
}

// readCases are documents with the tree the reader builds ("= " and the
// tree as dumpValue writes it) or its error ("pointer: message"). The trees
// and the errors other than syntax errors are those the reader on
// encoding/json's tokenizer gave; syntax errors are found at the same
// place, worded since by jsoncheck (clients never see them: the API checks
// every body with jsoncheck before a filter is read).
var readCases = []struct{ doc, want string }{
	{"null",
		"= null"},
	{`{"attr":"type","eq":"x"}`,
		`= {"attr":"type","eq":"x"}`},
	{` {"and": [{"data": "$.a", "in": [1, 2.50, -0, "\u00e9", true, null]}]} `,
		`= {"and":[{"data":"$.a","in":[1,2.50,-0,"é",true,null]}]}`},
	{`{"a":1,"a":2}`,
		`/a: duplicate key "a"`},
	{`{"or":[{"x":1},{"x":1,"x":2}]}`,
		`/or/1/x: duplicate key "x"`},
	{`{"\u0061":1,"a":2}`,
		`/a: duplicate key "a"`},
	{"{\"k\": \"\xff\"}",
		`= {"k":"�"}`},
	{`{"attr": "type", "eq": }`,
		"/eq: invalid JSON at byte 23: unexpected character '}' looking for the beginning of a value"},
	{`{"and": [{"attr": "type",}]}`,
		"/and/0: invalid JSON at byte 25: unexpected character '}' looking for a member name (a string)"},
	{"[1 2]",
		"/1: invalid JSON at byte 3: unexpected character '2' after an array element; want , or ]"},
	{"[1,]",
		"/1: invalid JSON at byte 3: unexpected character ']' looking for the beginning of a value"},
	{"[1",
		": invalid JSON: unexpected end of document"},
	{"[}",
		": invalid JSON at byte 1: unexpected character '}' looking for the beginning of a value"},
	{"[x",
		"/0: invalid JSON at byte 1: unexpected character 'x' looking for the beginning of a value"},
	{`{"a" 1}`,
		"/a: invalid JSON at byte 5: unexpected character '1' after a member name; want :"},
	{`{"a":1 "b":2}`,
		`: invalid JSON at byte 7: unexpected character '"' after an object member; want , or }`},
	{`{"a":1,}`,
		": invalid JSON at byte 7: unexpected character '}' looking for a member name (a string)"},
	{"{,}",
		": invalid JSON at byte 1: unexpected character ',' looking for a member name (a string)"},
	{`{"a":[1,{"b":]}]}`,
		"/a/1/b: invalid JSON at byte 13: unexpected character ']' looking for the beginning of a value"},
	{"{} x",
		": invalid JSON: unexpected data after the filter at byte 3"},
	{"{}}",
		": invalid JSON: unexpected data after the filter at byte 2"},
	{"  ",
		": invalid JSON: unexpected end of document"},
	{`"\x"`,
		": invalid JSON at byte 2: unexpected character 'x' in a string escape"},
	{`"\ud800"`,
		`= "�"`},
	{"01",
		": invalid JSON: unexpected data after the filter at byte 1"},
	{`{"a":tru}`,
		"/a: invalid JSON at byte 8: unexpected character '}' in the literal true"},
	{`{"attr": "type", "in": ` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`,
		"/in" + strings.Repeat("/0", 63) + ": JSON nested more than 64 levels deep (filters nest at most 8 levels)"},
	{strings.Repeat(`{"a":`, 65) + "1" + strings.Repeat("}", 65),
		strings.Repeat("/a", 64) + ": JSON nested more than 64 levels deep (filters nest at most 8 levels)"},
	{strings.Repeat("[", 64) + strings.Repeat("]", 64),
		"= " + strings.Repeat("[", 64) + strings.Repeat("]", 64)},
}

func TestReadDocument(t *testing.T) {
	t.Parallel()
	for _, tc := range readCases {
		var got string
		if v, err := readDocument([]byte(tc.doc)); err != nil {
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("readDocument(%q): %T, want *Error", tc.doc, err)
			}
			got = fe.Path + ": " + fe.Message
		} else {
			got = "= " + dumpValue(v)
		}
		if got != tc.want {
			t.Errorf("readDocument(%q) gives\n %s\nwant\n %s", tc.doc, got, tc.want)
		}
	}
}

// dumpValue writes a jsonValue tree compactly: strings quoted as Go quotes
// them, numbers as their literal, members in document order.
func dumpValue(v *jsonValue) string {
	switch v.kind {
	case jsonNull:
		return "null"
	case jsonBool:
		return strconv.FormatBool(v.boolean)
	case jsonNumber:
		return v.str
	case jsonString:
		return strconv.Quote(v.str)
	}
	parts := make([]string, len(v.elems))
	for i, e := range v.elems {
		parts[i] = dumpValue(e)
		if v.kind == jsonObject {
			parts[i] = strconv.Quote(v.keys[i]) + ":" + parts[i]
		}
	}
	if v.kind == jsonObject {
		return "{" + strings.Join(parts, ",") + "}"
	}
	return "[" + strings.Join(parts, ",") + "]"
}
