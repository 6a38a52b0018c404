package filter

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/jsoncheck"
	"github.com/heraldhq/herald/internal/jsoncheck/jsonchecktest"
)

// invalidDocs are seeds of the kinds TestParseErrors covers.
var invalidDocs = []string{
	`[]`, `{}`, `{"attr": "type"}`, `{"and": []}`, `{"not": [1]}`, `{"data": "$.a..b", "eq": 1}`,
	`{"data": "$['a\u0000']", "eq": 1}`, `{"attr": "type", "eq": "a", "ne": "b"}`, `{"a/b~": 1}`,
	`{"ext": "team", "in": [[[]]]}`, `{"attr": "type", "eq": }`, `{"attr": "type", "attr": "id"}`,
	`{"data": "$[-0]", "gt": "1"}`, `{"data": "$[ 'a' ]  ", "exists": true}`, "{\"data\": \"$['\xff']\", \"eq\": 1}",
	`{"":1e700}`,
}

// FuzzParse checks that Parse never panics, that its errors are *Error with
// a JSON Pointer that exists in the document (when it is valid JSON), and
// that accepted filters survive MarshalJSON and a second Parse unchanged.
func FuzzParse(f *testing.F) {
	for _, tc := range matchCases() {
		f.Add([]byte(tc.filter))
	}
	for _, doc := range invalidDocs {
		f.Add([]byte(doc))
	}
	for _, tc := range readCases {
		f.Add([]byte(tc.doc))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		flt, err := Parse(doc)
		if err != nil {
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is a %T, not an *Error", err, err)
			}
			if fe.Message == "" || fe.Path != "" && fe.Path[0] != '/' {
				t.Fatalf("malformed error %q %q", fe.Path, fe.Message)
			}
			if len(doc) <= MaxBytes && json.Valid(doc) && !pointerExists(t, doc, fe.Path) {
				t.Fatalf("error path %q (%s) does not exist in %s", fe.Path, fe.Message, doc)
			}
			return
		}
		b1, err := flt.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		again, err := Parse(b1)
		if err != nil {
			t.Fatalf("re-parsing %s (from %s): %v", b1, doc, err)
		}
		if b2, _ := again.MarshalJSON(); !bytes.Equal(b1, b2) {
			t.Fatalf("not a fixed point:\n%s\n%s", b1, b2)
		}
		if flt != nil {
			flt.Match(newEvent()) // must not panic
		}
	})
}

// pointerExists reports whether the RFC 6901 pointer ptr resolves in doc.
func pointerExists(t *testing.T, doc []byte, ptr string) bool {
	var v any
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber() // 1e700 is valid JSON but not a float64
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("json.Valid but Decode fails: %v", err)
	}
	if ptr == "" {
		return true
	}
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		switch c := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = c[tok]; !ok {
				return false
			}
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return false
			}
			v = c[i]
		default:
			return false
		}
	}
	return true
}

// FuzzMatch compares Match with refMatch, an obvious implementation that
// decodes the data with encoding/json and compares numbers with big.Rat,
// on valid JSON data; on any data, Match must not panic.
func FuzzMatch(f *testing.F) {
	datas := []string{testData, benchOrder, `[1, [2, {"a": "\ud800x"}], -1e-7]`, `{"a": {"a": [0]}, "a": 1}`, `"x"`, `{"\u00e9": 1, "é": 2}`, "{\"k\\u0000\": \"\xff\\\"\"}"}
	for i, tc := range matchCases() {
		f.Add(tc.filter, []byte(datas[i%len(datas)]))
	}
	f.Add(benchFilter, []byte(benchOrder))
	f.Add(`{"data": "$.a[-1][0]", "lt": 1e-1}`, []byte(`{"a": [[1], [0.09]]}`))
	f.Add(`{"data": "$['é']", "in": [1, 2]}`, []byte(`{"\u00e9": 1, "é": 2}`))
	f.Fuzz(func(t *testing.T, doc string, data []byte) {
		flt, err := Parse([]byte(doc))
		if err != nil || flt == nil {
			return
		}
		checkMatch(t, flt, data)
	})
}

// refPattern is the token-pattern rule written out independently of
// route.Match: "*" is any one token, a final ">" one or more tokens.
func refPattern(pat, subj []string) bool {
	for i, p := range pat {
		if p == ">" {
			return i == len(pat)-1 && len(subj) > i
		}
		if i >= len(subj) || p != "*" && p != subj[i] {
			return false
		}
	}
	return len(pat) == len(subj)
}

// FuzzMatchPath is FuzzMatch with the filter built from parts, so that the
// fuzzer spends its time on paths, operands and data rather than on
// producing a valid filter document.
func FuzzMatchPath(f *testing.F) {
	f.Add("$.order.items[-1].sku", uint8(opEq), `"MUG-2"`, []byte(testData))
	f.Add("$['odd key']['it\\'s']", uint8(opPrefix), `"quo"`, []byte(testData))
	f.Add("$.big", uint8(opGt), `9007199254740992`, []byte(testData))
	f.Add("$.nested.x.y", uint8(opExists), `false`, []byte(testData))
	f.Add("$.a[1][-1]", uint8(opIn), `[2, "2", null]`, []byte(`{"a": [[], [0, 1, 2]]}`))
	f.Add("$.k", uint8(opContains), `"\""`, []byte(`{"k": "a\\\"b"}`))
	f.Add("$['\\u00e9']", uint8(opNe), `true`, []byte(`{"\u00e9": true}`))
	f.Add("$[0]", uint8(opLte), `-1e-7`, []byte(`[-1E-7]`))
	f.Add("$.s", uint8(opPattern), `"PUBLIC.*.>"`, []byte(`{"s": "PUBLIC.forms.a.b"}`))
	f.Fuzz(func(t *testing.T, path string, op uint8, operand string, data []byte) {
		if op < uint8(opEq) || op > uint8(opPattern) {
			return
		}
		p, _ := json.Marshal(path)
		doc := `{"data": ` + string(p) + `, "` + opNames[op] + `": ` + operand + `}`
		flt, err := Parse([]byte(doc))
		if err != nil {
			return
		}
		checkMatch(t, flt, data)
	})
}

// checkMatch runs Match on the base event with data, and compares the
// result with the reference when data is valid JSON.
func checkMatch(t *testing.T, flt *Filter, data []byte) {
	ev := newEvent()
	ev.data = data
	got := flt.Match(ev)
	if !json.Valid(data) {
		return
	}
	var r ref
	var v any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	want := r.match(flt.root, ev, v, len(data) > 0)
	if r.undecided {
		return
	}
	if got != want {
		t.Fatalf("Match = %v, reference says %v\nfilter: %s\ndata: %s", got, want, flt, data)
	}
}

// ref is the reference evaluator for FuzzMatch.
type ref struct {
	// undecided is set when a number is too large for big.Rat to be cheap;
	// the result is then not compared.
	undecided bool
}

func (r *ref) match(n *node, e *event, data any, hasData bool) bool {
	switch n.op {
	case opAnd, opOr:
		all, some := true, false
		for _, k := range n.kids {
			m := r.match(k, e, data, hasData)
			all, some = all && m, some || m
		}
		if n.op == opAnd {
			return all
		}
		return some
	case opNot:
		return !r.match(n.kids[0], e, data, hasData)
	}
	var v any
	var ok bool
	switch n.target {
	case targetAttr:
		v, ok = e.attrs[n.name]
	case targetExt:
		v, ok = e.exts[n.name]
	case targetData:
		v, ok = resolve(data, hasData, n.segs)
	}
	if n.op == opExists {
		return ok == n.exists
	}
	if !ok {
		return false
	}
	if n.target != targetData {
		switch x := v.(type) {
		case string:
			return r.untyped(n, x)
		case bool:
			return r.untyped(n, strconv.FormatBool(x))
		case int32:
			return r.untyped(n, strconv.Itoa(int(x)))
		case int64:
			return r.untyped(n, strconv.FormatInt(x, 10))
		}
		return n.op == opNe
	}
	return r.typed(n, v)
}

func resolve(v any, ok bool, segs jsoncheck.Path) (any, bool) {
	for _, s := range segs {
		if !ok {
			return nil, false
		}
		switch c := v.(type) {
		case map[string]any:
			if s.IsIndex {
				return nil, false
			}
			v, ok = c[s.Name]
		case []any:
			i := s.Index
			if i < 0 {
				i += len(c)
			}
			if !s.IsIndex || i < 0 || i >= len(c) {
				return nil, false
			}
			v = c[i]
		default:
			return nil, false
		}
	}
	return v, ok
}

// cmpNumbers compares two number literals, or reports false.
func (r *ref) cmpNumbers(a, b string) (int, bool) {
	ra, ok1 := jsonchecktest.Rat(a)
	rb, ok2 := jsonchecktest.Rat(b)
	if jsonchecktest.NumberGrammar.MatchString(a) && jsonchecktest.NumberGrammar.MatchString(b) && (!ok1 || !ok2) {
		r.undecided = true
	}
	if !ok1 || !ok2 {
		return 0, false
	}
	return ra.Cmp(rb), true
}

// untyped applies n to an attribute or extension's string form.
func (r *ref) untyped(n *node, s string) bool {
	eq := func(op scalar) bool {
		if op.kind == jsonNumber {
			c, ok := r.cmpNumbers(s, op.str)
			return ok && c == 0
		}
		return s == op.str
	}
	return r.apply(n, eq, func() (string, bool) { return s, true }, func() (string, bool) { return s, true })
}

// typed applies n to a data value decoded by encoding/json.
func (r *ref) typed(n *node, v any) bool {
	eq := func(op scalar) bool {
		switch x := v.(type) {
		case string:
			return op.kind == jsonString && x == op.str
		case json.Number:
			c, ok := r.cmpNumbers(string(x), op.str)
			return op.kind == jsonNumber && ok && c == 0
		case bool:
			return op.kind == jsonBool && strconv.FormatBool(x) == op.str
		case nil:
			return op.kind == jsonNull
		}
		return false
	}
	str := func() (string, bool) { s, ok := v.(string); return s, ok }
	num := func() (string, bool) { x, ok := v.(json.Number); return string(x), ok }
	return r.apply(n, eq, str, num)
}

// apply evaluates an operator given equality with an operand, the value as
// a string for string operators and as a number literal for numeric ones.
func (r *ref) apply(n *node, eq func(scalar) bool, str, num func() (string, bool)) bool {
	switch n.op {
	case opEq:
		return eq(n.vals[0])
	case opNe:
		return !eq(n.vals[0])
	case opIn:
		for _, op := range n.vals {
			if eq(op) {
				return true
			}
		}
		return false
	case opPrefix, opSuffix, opContains:
		s, ok := str()
		if !ok {
			return false
		}
		switch n.op {
		case opPrefix:
			return strings.HasPrefix(s, n.vals[0].str)
		case opSuffix:
			return strings.HasSuffix(s, n.vals[0].str)
		}
		return strings.Contains(s, n.vals[0].str)
	case opPattern:
		s, ok := str()
		return ok && s != "" && refPattern(strings.Split(n.vals[0].str, "."), strings.Split(s, "."))
	}
	lit, ok := num()
	if !ok {
		return false
	}
	c, ok := r.cmpNumbers(lit, n.vals[0].str)
	return ok && numericOK(n.op, c)
}
