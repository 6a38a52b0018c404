package filter

import (
	"strings"
	"sync"
	"testing"
)

// event is a test Event; nil data means "no JSON data".
type event struct {
	attrs map[string]string
	exts  map[string]any
	data  []byte
	// dataCalls counts Data calls, to check that data is read at most once
	// and only when needed.
	dataCalls int
}

func (e *event) Attr(name string) (string, bool) {
	v, ok := e.attrs[name]
	return v, ok
}

func (e *event) Ext(name string) (any, bool) {
	v, ok := e.exts[name]
	return v, ok
}

func (e *event) Data() []byte {
	e.dataCalls++
	return e.data
}

// testData exercises paths: nesting, arrays, quoted names, escapes,
// duplicates, every JSON type and exact numbers.
const testData = `{
  "order": {"id": "o-1", "total": 149.90, "currency": "EUR", "paid": true, "coupon": null,
            "items": [{"sku": "BOOK-1", "qty": 1}, {"sku": "MUG-2", "qty": 2}]},
  "customer": {"vip": false, "name": "Ana", "email": "ana@example.md"},
  "country": "MD",
  "tags": ["web", "promo"],
  "odd key": {"a.b": 1, "it's": "quoted", "\"dq\"": 2, "": "empty name"},
  "big": 9007199254740993,
  "neg": -0.5,
  "zero": 0,
  "exp": 1.5e3,
  "empty": "",
  "dup": 1, "dup": 2,
  "nested": {"x": {"y": 1}}, "nested": {"z": 2},
  "esc\u0041": "key with escape",
  "unicode": "caf\u00e9",
  "quote": "say \"hi\"\\",
  "ünï": "non-ASCII key",
  "emptyobj": {}, "emptyarr": [],
  "deep": [[1, 2], [3, [4, 5]]],
  "numstr": "42"
}`

func newEvent() *event {
	return &event{
		attrs: map[string]string{
			"id":              "ev-1",
			"source":          "/shop/eu/orders",
			"type":            "com.shop.order.created",
			"specversion":     "1.0",
			"subject":         "invoices/2025/0042.pdf",
			"datacontenttype": "application/json",
			"time":            "2025-01-31T12:00:00Z",
		},
		exts: map[string]any{
			"team":     "alpha",
			"priority": int32(5),
			"level":    "10", // an integer as binary mode delivers it
			"sampled":  true,
			"weird":    1.5, // not a CloudEvents type
			"count":    int64(7),
		},
		data: []byte(testData),
	}
}

// with returns a copy of the base event changed by fn.
func with(fn func(e *event)) *event {
	e := newEvent()
	fn(e)
	return e
}

type matchCase struct {
	name   string
	filter string
	ev     *event // nil: newEvent()
	want   bool
}

func matchCases() []matchCase {
	noData := with(func(e *event) { e.data = nil })
	numID := with(func(e *event) { e.attrs["id"] = "42" })
	// A CHEFS event: its subject names the stream, one form per stream.
	chefs := with(func(e *event) {
		e.attrs["subject"] = "PUBLIC.forms.submission.created.f-9"
		e.data = []byte(`{"stream": "PUBLIC.forms.submission.created.f-9"}`)
	})
	return []matchCase{
		// Core attributes.
		{"attr eq", `{"attr": "type", "eq": "com.shop.order.created"}`, nil, true},
		{"attr eq other", `{"attr": "type", "eq": "com.shop.order.paid"}`, nil, false},
		{"attr eq is case-sensitive", `{"attr": "type", "eq": "COM.shop.order.created"}`, nil, false},
		{"attr ne other", `{"attr": "type", "ne": "x"}`, nil, true},
		{"attr ne same", `{"attr": "type", "ne": "com.shop.order.created"}`, nil, false},
		{"attr ne missing is false", `{"attr": "dataschema", "ne": "x"}`, nil, false},
		{"attr not eq missing is true", `{"not": {"attr": "dataschema", "eq": "x"}}`, nil, true},
		{"attr in", `{"attr": "source", "in": ["/a", "/shop/eu/orders"]}`, nil, true},
		{"attr in none", `{"attr": "source", "in": ["/a", "/b"]}`, nil, false},
		{"attr exists", `{"attr": "subject", "exists": true}`, nil, true},
		{"attr exists missing", `{"attr": "dataschema", "exists": true}`, nil, false},
		{"attr not exists", `{"attr": "dataschema", "exists": false}`, nil, true},
		{"attr not exists present", `{"attr": "subject", "exists": false}`, nil, false},
		{"attr prefix", `{"attr": "source", "prefix": "/shop/"}`, nil, true},
		{"attr prefix no", `{"attr": "source", "prefix": "/shop/us"}`, nil, false},
		{"attr prefix longer than value", `{"attr": "id", "prefix": "ev-1-and-more"}`, nil, false},
		{"attr prefix empty", `{"attr": "id", "prefix": ""}`, nil, true},
		{"attr suffix", `{"attr": "subject", "suffix": ".pdf"}`, nil, true},
		{"attr suffix no", `{"attr": "subject", "suffix": ".PDF"}`, nil, false},
		{"attr contains", `{"attr": "type", "contains": ".order."}`, nil, true},
		{"attr contains no", `{"attr": "type", "contains": "invoice"}`, nil, false},
		{"attr contains whole", `{"attr": "id", "contains": "ev-1"}`, nil, true},
		{"attr prefix missing", `{"attr": "dataschema", "prefix": ""}`, nil, false},
		// Token patterns, as for event types.
		{"attr pattern tail", `{"attr": "subject", "pattern": "PUBLIC.forms.>"}`, chefs, true},
		{"attr pattern exact", `{"attr": "subject", "pattern": "PUBLIC.forms.submission.created.f-9"}`, chefs, true},
		{"attr pattern star", `{"attr": "subject", "pattern": "PUBLIC.*.submission.*.f-9"}`, chefs, true},
		{"attr pattern star is one token", `{"attr": "subject", "pattern": "PUBLIC.*.created.f-9"}`, chefs, false},
		{"attr pattern tail needs a token", `{"attr": "subject", "pattern": "PUBLIC.forms.submission.created.f-9.>"}`, chefs, false},
		{"attr pattern other stream", `{"attr": "subject", "pattern": "PRIVATE.forms.>"}`, chefs, false},
		{"attr pattern is case-sensitive", `{"attr": "subject", "pattern": "public.forms.>"}`, chefs, false},
		{"attr pattern is not a prefix", `{"attr": "subject", "pattern": "PUBLIC.form.>"}`, chefs, false},
		{"attr pattern on type", `{"attr": "type", "pattern": "com.shop.*.created"}`, nil, true},
		{"attr pattern missing", `{"attr": "dataschema", "pattern": ">"}`, nil, false},
		{"attr not pattern missing", `{"not": {"attr": "dataschema", "pattern": ">"}}`, nil, true},
		{"ext pattern", `{"ext": "team", "pattern": "*"}`, nil, true},
		{"ext pattern int", `{"ext": "priority", "pattern": "5"}`, nil, true},
		{"data pattern", `{"data": "$.stream", "pattern": "PUBLIC.>"}`, chefs, true},
		{"data pattern number", `{"data": "$.order.total", "pattern": ">"}`, nil, false},
		{"attr time prefix", `{"attr": "time", "prefix": "2025-01-"}`, nil, true},
		{"attr specversion", `{"attr": "specversion", "eq": "1.0"}`, nil, true},
		{"attr specversion as number", `{"attr": "specversion", "eq": 1}`, nil, true},
		{"attr not a number gt", `{"attr": "id", "gt": 0}`, nil, false},
		{"attr not a number ne number", `{"attr": "id", "ne": 0}`, nil, true},
		{"attr number gt", `{"attr": "id", "gt": 41.5}`, numID, true},
		{"attr number lte", `{"attr": "id", "lte": 42}`, numID, true},
		{"attr number lt", `{"attr": "id", "lt": 42}`, numID, false},
		{"attr number eq", `{"attr": "id", "eq": 42.0}`, numID, true},
		{"attr number eq string", `{"attr": "id", "eq": "42"}`, numID, true},
		{"attr number eq other string form", `{"attr": "id", "eq": "42.0"}`, numID, false},
		{"attr number in", `{"attr": "id", "in": [1, 4.2e1]}`, numID, true},
		{"attr string is not a boolean", `{"attr": "id", "eq": true}`, nil, false},
		{"attr missing gt", `{"attr": "dataschema", "gt": 0}`, nil, false},
		{"attr missing in", `{"attr": "dataschema", "in": ["x"]}`, nil, false},

		// Extensions.
		{"ext eq", `{"ext": "team", "eq": "alpha"}`, nil, true},
		{"ext in", `{"ext": "team", "in": ["alpha", "beta"]}`, nil, true},
		{"ext in none", `{"ext": "team", "in": ["beta", "gamma"]}`, nil, false},
		{"ext ne", `{"ext": "team", "ne": "beta"}`, nil, true},
		{"ext ne same", `{"ext": "team", "ne": "alpha"}`, nil, false},
		{"ext missing eq", `{"ext": "region", "eq": "eu"}`, nil, false},
		{"ext missing ne", `{"ext": "region", "ne": "eu"}`, nil, false},
		{"ext missing exists", `{"ext": "region", "exists": true}`, nil, false},
		{"ext missing not exists", `{"ext": "region", "exists": false}`, nil, true},
		{"ext exists", `{"ext": "team", "exists": true}`, nil, true},
		{"ext int eq number", `{"ext": "priority", "eq": 5}`, nil, true},
		{"ext int eq string", `{"ext": "priority", "eq": "5"}`, nil, true},
		{"ext int eq 5.0", `{"ext": "priority", "eq": 5.0}`, nil, true},
		{"ext int eq 50e-1", `{"ext": "priority", "eq": 50e-1}`, nil, true},
		{"ext int ne", `{"ext": "priority", "ne": 6}`, nil, true},
		{"ext int ne same", `{"ext": "priority", "ne": 5}`, nil, false},
		{"ext int gt", `{"ext": "priority", "gt": 4}`, nil, true},
		{"ext int gt equal", `{"ext": "priority", "gt": 5}`, nil, false},
		{"ext int gte", `{"ext": "priority", "gte": 5}`, nil, true},
		{"ext int lt", `{"ext": "priority", "lt": 5.001}`, nil, true},
		{"ext int lte", `{"ext": "priority", "lte": 4.999}`, nil, false},
		{"ext int in", `{"ext": "priority", "in": [1, 5]}`, nil, true},
		{"ext int in strings", `{"ext": "priority", "in": ["4", "5"]}`, nil, true},
		{"ext int prefix", `{"ext": "priority", "prefix": "5"}`, nil, true},
		{"ext int64 eq", `{"ext": "count", "eq": 7}`, nil, true},
		{"ext string number gt", `{"ext": "level", "gt": 9}`, nil, true},
		{"ext string number eq", `{"ext": "level", "eq": 10}`, nil, true},
		{"ext string number eq string", `{"ext": "level", "eq": "10"}`, nil, true},
		{"ext string number compares numerically", `{"ext": "level", "gt": 9.5}`, nil, true},
		{"ext string number lt", `{"ext": "level", "lt": 2}`, nil, false},
		{"ext bool eq", `{"ext": "sampled", "eq": true}`, nil, true},
		{"ext bool eq string", `{"ext": "sampled", "eq": "true"}`, nil, true},
		{"ext bool eq false", `{"ext": "sampled", "eq": false}`, nil, false},
		{"ext bool ne false", `{"ext": "sampled", "ne": false}`, nil, true},
		{"ext bool gt", `{"ext": "sampled", "gt": 0}`, nil, false},
		{"ext bool in", `{"ext": "sampled", "in": [false, true]}`, nil, true},
		{"ext string true eq bool", `{"ext": "flag", "eq": true}`, with(func(e *event) { e.exts["flag"] = "true" }), true},
		{"ext string not a number", `{"ext": "team", "gte": 0}`, nil, false},
		{"ext other type exists", `{"ext": "weird", "exists": true}`, nil, true},
		{"ext other type eq", `{"ext": "weird", "eq": 1.5}`, nil, false},
		{"ext other type ne", `{"ext": "weird", "ne": 1.5}`, nil, true},
		{"ext other type gt", `{"ext": "weird", "gt": 0}`, nil, false},

		// Data: numbers.
		{"data gte", `{"data": "$.order.total", "gte": 100}`, nil, true},
		{"data gt", `{"data": "$.order.total", "gt": 149.9}`, nil, false},
		{"data gte equal", `{"data": "$.order.total", "gte": 149.9}`, nil, true},
		{"data lt", `{"data": "$.order.total", "lt": 150}`, nil, true},
		{"data lte", `{"data": "$.order.total", "lte": 149.89}`, nil, false},
		{"data eq number", `{"data": "$.order.total", "eq": 149.9}`, nil, true},
		{"data eq number other form", `{"data": "$.order.total", "eq": 1.499e2}`, nil, true},
		{"data eq number as string", `{"data": "$.order.total", "eq": "149.90"}`, nil, false},
		{"data ne number as string", `{"data": "$.order.total", "ne": "149.90"}`, nil, true},
		{"data number prefix", `{"data": "$.order.total", "prefix": "149"}`, nil, false},
		{"data number in", `{"data": "$.order.items[1].qty", "in": [2, 3]}`, nil, true},
		{"data number in strings", `{"data": "$.order.items[1].qty", "in": ["2", "3"]}`, nil, false},
		{"data big eq exact", `{"data": "$.big", "eq": 9007199254740993}`, nil, true},
		{"data big ne neighbour", `{"data": "$.big", "eq": 9007199254740992}`, nil, false},
		{"data big gt neighbour", `{"data": "$.big", "gt": 9007199254740992}`, nil, true},
		{"data big lt next", `{"data": "$.big", "lt": 9007199254740993.0000001}`, nil, true},
		{"data negative", `{"data": "$.neg", "lt": 0}`, nil, true},
		{"data negative eq", `{"data": "$.neg", "eq": -5e-1}`, nil, true},
		{"data negative gt", `{"data": "$.neg", "gt": -0.50001}`, nil, true},
		{"data negative lt", `{"data": "$.neg", "lt": -0.6}`, nil, false},
		{"data zero eq -0", `{"data": "$.zero", "eq": -0}`, nil, true},
		{"data zero eq 0.0e5", `{"data": "$.zero", "eq": 0.0e5}`, nil, true},
		{"data zero gte", `{"data": "$.zero", "gte": 0}`, nil, true},
		{"data zero gt", `{"data": "$.zero", "gt": -1e-300}`, nil, true},
		{"data exponent", `{"data": "$.exp", "eq": 1500}`, nil, true},
		{"data exponent lt", `{"data": "$.exp", "lt": 15e2}`, nil, false},
		{"data huge operand", `{"data": "$.exp", "lt": 1e400}`, nil, true},
		{"data tiny operand", `{"data": "$.zero", "lt": 1e-400}`, nil, true},
		{"data string number is a string", `{"data": "$.numstr", "gt": 1}`, nil, false},
		{"data string number eq string", `{"data": "$.numstr", "eq": "42"}`, nil, true},
		{"data string number eq number", `{"data": "$.numstr", "eq": 42}`, nil, false},

		// Data: strings.
		{"data eq string", `{"data": "$.country", "eq": "MD"}`, nil, true},
		{"data eq string other", `{"data": "$.country", "eq": "RO"}`, nil, false},
		{"data ne string", `{"data": "$.country", "ne": "RO"}`, nil, true},
		{"data in strings", `{"data": "$.country", "in": ["RO", "MD"]}`, nil, true},
		{"data in many strings", `{"data": "$.country", "in": ["A", "B", "C", "D", "E", "F", "G", "H", "MD", 1, true]}`, nil, true},
		{"data in many strings none", `{"data": "$.country", "in": ["A", "B", "C", "D", "E", "F", "G", "H", "I", 1, true]}`, nil, false},
		{"data in many strings number", `{"data": "$.order.items[0].qty", "in": ["A", "B", "C", "D", "E", "F", "G", "H", 1]}`, nil, true},
		{"data prefix", `{"data": "$.customer.email", "prefix": "ana@"}`, nil, true},
		{"data suffix", `{"data": "$.customer.email", "suffix": "@example.md"}`, nil, true},
		{"data contains", `{"data": "$.customer.email", "contains": "example"}`, nil, true},
		{"data contains no", `{"data": "$.customer.email", "contains": "gmail"}`, nil, false},
		{"data string gt", `{"data": "$.country", "gt": 0}`, nil, false},
		{"data string eq bool", `{"data": "$.country", "eq": true}`, nil, false},
		{"data empty string eq", `{"data": "$.empty", "eq": ""}`, nil, true},
		{"data empty string exists", `{"data": "$.empty", "exists": true}`, nil, true},
		{"data empty string prefix", `{"data": "$.empty", "prefix": ""}`, nil, true},
		{"data empty string contains", `{"data": "$.empty", "contains": "x"}`, nil, false},
		{"data escaped value eq", `{"data": "$.unicode", "eq": "café"}`, nil, true},
		{"data escaped value eq escaped operand", `{"data": "$.unicode", "eq": "caf\u00e9"}`, nil, true},
		{"data escaped value suffix", `{"data": "$.unicode", "suffix": "é"}`, nil, true},
		{"data escaped value prefix", `{"data": "$.unicode", "prefix": "caf"}`, nil, true},
		{"data escaped quotes", `{"data": "$.quote", "eq": "say \"hi\"\\"}`, nil, true},
		{"data escaped quotes contains", `{"data": "$.quote", "contains": "\"hi\""}`, nil, true},

		// Data: booleans, null, objects, arrays.
		{"data bool eq", `{"data": "$.customer.vip", "eq": false}`, nil, true},
		{"data bool eq other", `{"data": "$.customer.vip", "eq": true}`, nil, false},
		{"data bool eq string", `{"data": "$.customer.vip", "eq": "false"}`, nil, false},
		{"data bool ne", `{"data": "$.customer.vip", "ne": true}`, nil, true},
		{"data bool in", `{"data": "$.order.paid", "in": [true]}`, nil, true},
		{"data bool eq null", `{"data": "$.customer.vip", "eq": null}`, nil, false},
		{"data bool exists", `{"data": "$.customer.vip", "exists": true}`, nil, true},
		{"data null eq", `{"data": "$.order.coupon", "eq": null}`, nil, true},
		{"data null exists", `{"data": "$.order.coupon", "exists": true}`, nil, true},
		{"data null ne", `{"data": "$.order.coupon", "ne": null}`, nil, false},
		{"data null ne string", `{"data": "$.order.coupon", "ne": "x"}`, nil, true},
		{"data null in", `{"data": "$.order.coupon", "in": ["x", null]}`, nil, true},
		{"data null eq false", `{"data": "$.order.coupon", "eq": false}`, nil, false},
		{"data null eq string", `{"data": "$.order.coupon", "eq": "null"}`, nil, false},
		{"data object exists", `{"data": "$.order", "exists": true}`, nil, true},
		{"data object eq", `{"data": "$.order", "eq": "x"}`, nil, false},
		{"data object ne", `{"data": "$.order", "ne": "x"}`, nil, true},
		{"data object prefix", `{"data": "$.order", "prefix": "{"}`, nil, false},
		{"data object gt", `{"data": "$.order", "gt": 0}`, nil, false},
		{"data array in", `{"data": "$.tags", "in": ["web"]}`, nil, false},
		{"data array contains", `{"data": "$.tags", "contains": "web"}`, nil, false},
		{"data root exists", `{"data": "$", "exists": true}`, nil, true},
		{"data root ne", `{"data": "$", "ne": 1}`, nil, true},

		// Data: paths.
		{"path index", `{"data": "$.tags[0]", "eq": "web"}`, nil, true},
		{"path index 1", `{"data": "$.tags[1]", "eq": "promo"}`, nil, true},
		{"path index past end", `{"data": "$.tags[2]", "exists": false}`, nil, true},
		{"path index -1", `{"data": "$.tags[-1]", "eq": "promo"}`, nil, true},
		{"path index -2", `{"data": "$.tags[-2]", "eq": "web"}`, nil, true},
		{"path index before start", `{"data": "$.tags[-3]", "exists": false}`, nil, true},
		{"path index in empty array", `{"data": "$.emptyarr[0]", "exists": false}`, nil, true},
		{"path index -1 in empty array", `{"data": "$.emptyarr[-1]", "exists": false}`, nil, true},
		{"path member of empty object", `{"data": "$.emptyobj.a", "exists": false}`, nil, true},
		{"path member in array", `{"data": "$.order.items[1].sku", "eq": "MUG-2"}`, nil, true},
		{"path member in last element", `{"data": "$.order.items[-1].qty", "eq": 2}`, nil, true},
		{"path nested arrays", `{"data": "$.deep[1][1][0]", "eq": 4}`, nil, true},
		{"path nested arrays from end", `{"data": "$.deep[-1][-1][-1]", "eq": 5}`, nil, true},
		{"path index into object", `{"data": "$.order[0]", "exists": false}`, nil, true},
		{"path member of array", `{"data": "$.tags.length", "exists": false}`, nil, true},
		{"path member of string", `{"data": "$.country.x", "exists": false}`, nil, true},
		{"path missing eq", `{"data": "$.nope", "eq": 1}`, nil, false},
		{"path missing ne", `{"data": "$.nope", "ne": 1}`, nil, false},
		{"path missing exists", `{"data": "$.nope", "exists": false}`, nil, true},
		{"path missing gt", `{"data": "$.order.nope", "gt": 0}`, nil, false},
		{"path missing deep", `{"data": "$.a.b.c[3].d", "exists": true}`, nil, false},
		{"path quoted", `{"data": "$['odd key']['a.b']", "eq": 1}`, nil, true},
		{"path double quoted", `{"data": "$[\"odd key\"][\"it's\"]", "eq": "quoted"}`, nil, true},
		{"path quoted escape", `{"data": "$['odd key']['it\\'s']", "eq": "quoted"}`, nil, true},
		{"path quoted quotes", `{"data": "$['odd key']['\"dq\"']", "eq": 2}`, nil, true},
		{"path quoted empty name", `{"data": "$['odd key']['']", "eq": "empty name"}`, nil, true},
		{"path quoted unicode escape", `{"data": "$['odd key']['a\\u002eb']", "eq": 1}`, nil, true},
		{"path quoted plain", `{"data": "$['country']", "eq": "MD"}`, nil, true},
		{"path blanks in brackets", `{"data": "$[ 'tags' ][ -1 ]", "eq": "promo"}`, nil, true},
		{"path escaped key in data", `{"data": "$.escA", "eq": "key with escape"}`, nil, true},
		{"path non-ASCII key", `{"data": "$.ünï", "eq": "non-ASCII key"}`, nil, true},
		{"path non-ASCII key quoted", `{"data": "$['\u00fcn\u00ef']", "eq": "non-ASCII key"}`, nil, true},
		{"path duplicate key last wins", `{"data": "$.dup", "eq": 2}`, nil, true},
		{"path duplicate key first loses", `{"data": "$.dup", "eq": 1}`, nil, false},
		{"path duplicate object forgets", `{"data": "$.nested.x.y", "exists": false}`, nil, true},
		{"path duplicate object last", `{"data": "$.nested.z", "eq": 2}`, nil, true},
		{"path same path twice", `{"and": [{"data": "$.country", "prefix": "M"}, {"data": "$.country", "suffix": "D"}]}`, nil, true},
		{"path prefix of another", `{"and": [{"data": "$.order", "exists": true}, {"data": "$.order.id", "eq": "o-1"}, {"data": "$.order.items[0].sku", "eq": "BOOK-1"}]}`, nil, true},

		// Events without data, or with odd data.
		{"no data exists", `{"data": "$", "exists": false}`, noData, true},
		{"no data member", `{"data": "$.order", "exists": true}`, noData, false},
		{"no data ne", `{"data": "$.order.total", "ne": 0}`, noData, false},
		{"no data not eq", `{"not": {"data": "$.country", "eq": "MD"}}`, noData, true},
		{"scalar data", `{"data": "$", "eq": "hello"}`, with(func(e *event) { e.data = []byte(` "hello" `) }), true},
		{"scalar data member", `{"data": "$.a", "exists": false}`, with(func(e *event) { e.data = []byte(`"hello"`) }), true},
		{"number data", `{"data": "$", "gte": 12}`, with(func(e *event) { e.data = []byte(`12`) }), true},
		{"null data", `{"data": "$", "eq": null}`, with(func(e *event) { e.data = []byte(`null`) }), true},
		{"array data", `{"data": "$[1]", "eq": 2}`, with(func(e *event) { e.data = []byte(`[1,2]`) }), true},
		{"whitespace data", `{"data": "$", "exists": false}`, with(func(e *event) { e.data = []byte(" \n") }), true},
		{"malformed data", `{"data": "$.a", "exists": false}`, with(func(e *event) { e.data = []byte(`{"a": 1`) }), true},
		{"malformed data trailing", `{"data": "$.a", "eq": 1}`, with(func(e *event) { e.data = []byte(`{"a": 1} x`) }), false},
		{"malformed literal", `{"data": "$.a", "eq": true}`, with(func(e *event) { e.data = []byte(`{"a": tru}`) }), false},
		{"malformed number", `{"data": "$.a", "gt": 0}`, with(func(e *event) { e.data = []byte(`{"a": 1.}`) }), false},

		// Combinators.
		{"and all", `{"and": [{"attr": "type", "prefix": "com."}, {"ext": "team", "eq": "alpha"}, {"data": "$.country", "eq": "MD"}]}`, nil, true},
		{"and one false", `{"and": [{"attr": "type", "prefix": "com."}, {"ext": "team", "eq": "beta"}]}`, nil, false},
		{"and single", `{"and": [{"attr": "type", "prefix": "com."}]}`, nil, true},
		{"or one", `{"or": [{"attr": "type", "eq": "x"}, {"data": "$.country", "eq": "MD"}]}`, nil, true},
		{"or none", `{"or": [{"attr": "type", "eq": "x"}, {"data": "$.country", "eq": "RO"}]}`, nil, false},
		{"not true", `{"not": {"attr": "type", "eq": "x"}}`, nil, true},
		{"not false", `{"not": {"attr": "type", "prefix": "com."}}`, nil, false},
		{"not not", `{"not": {"not": {"data": "$.tags[0]", "eq": "web"}}}`, nil, true},
		{"not exists", `{"not": {"data": "$.order.coupon", "exists": true}}`, nil, false},
		{"nested", `{"or": [{"and": [{"attr": "id", "eq": "x"}]}, {"and": [{"not": {"ext": "team", "eq": "beta"}}, {"or": [{"data": "$.zero", "gt": 0}, {"data": "$.neg", "lt": 0}]}]}]}`, nil, true},
		{"brief example", `{"and": [
			{"attr": "source", "prefix": "/shop/"},
			{"attr": "subject", "suffix": ".pdf"},
			{"ext": "team", "in": ["alpha", "beta"]},
			{"data": "$.order.total", "gte": 100},
			{"data": "$.customer.vip", "exists": true},
			{"or": [{"data": "$.country", "eq": "MD"}, {"not": {"data": "$.tags[0]", "eq": "test"}}]}
		]}`, nil, true},
		{"brief example, no vip", `{"and": [
			{"attr": "source", "prefix": "/shop/"},
			{"data": "$.customer.vip", "exists": true},
			{"or": [{"data": "$.country", "eq": "MD"}, {"not": {"data": "$.tags[0]", "eq": "test"}}]}
		]}`, with(func(e *event) { e.data = []byte(`{"customer": {}, "country": "MD"}`) }), false},
		{"brief example, test tag outside MD", `{"or": [{"data": "$.country", "eq": "MD"}, {"not": {"data": "$.tags[0]", "eq": "test"}}]}`,
			with(func(e *event) { e.data = []byte(`{"country": "RO", "tags": ["test"]}`) }), false},
		{"brief example, other tag outside MD", `{"or": [{"data": "$.country", "eq": "MD"}, {"not": {"data": "$.tags[0]", "eq": "test"}}]}`,
			with(func(e *event) { e.data = []byte(`{"country": "RO", "tags": ["prod"]}`) }), true},
	}
}

func TestMatch(t *testing.T) {
	t.Parallel()
	for _, tc := range matchCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, err := Parse([]byte(tc.filter))
			if err != nil {
				t.Fatalf("Parse(%s): %v", tc.filter, err)
			}
			ev := tc.ev
			if ev == nil {
				ev = newEvent()
			} else {
				// Cases share events across parallel subtests; Data counts.
				cp := *ev
				ev = &cp
			}
			if got := f.Match(ev); got != tc.want {
				t.Errorf("Match = %v, want %v\nfilter: %s", got, tc.want, f)
			}
			if ev.dataCalls > 1 {
				t.Errorf("Data called %d times, want at most once", ev.dataCalls)
			}
		})
	}
}

func TestMatchNilFilter(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{"", "null", " null\n"} {
		f, err := Parse([]byte(doc))
		if f != nil || err != nil {
			t.Fatalf("Parse(%q) = %v, %v; want nil, nil", doc, f, err)
		}
		if !f.Match(newEvent()) {
			t.Errorf("nil filter from %q does not match", doc)
		}
		if b, _ := f.MarshalJSON(); string(b) != "null" {
			t.Errorf("nil filter marshals as %s, want null", b)
		}
	}
	if f, err := Parse(nil); f != nil || err != nil {
		t.Fatalf("Parse(nil) = %v, %v; want nil, nil", f, err)
	}
}

// TestMatchReadsDataLazily checks that data is not read when attributes
// decide, whatever the document order, and read once for many conditions.
func TestMatchReadsDataLazily(t *testing.T) {
	t.Parallel()
	tests := []struct {
		filter    string
		want      bool
		wantCalls int
	}{
		{`{"attr": "type", "eq": "x"}`, false, 0},
		{`{"and": [{"data": "$.country", "eq": "MD"}, {"attr": "type", "eq": "x"}]}`, false, 0},
		{`{"or": [{"data": "$.country", "eq": "RO"}, {"ext": "team", "eq": "alpha"}]}`, true, 0},
		{`{"and": [{"attr": "type", "prefix": "com."}, {"data": "$.country", "eq": "MD"}, {"data": "$.tags[0]", "eq": "web"}, {"not": {"data": "$.order.total", "lt": 1}}]}`, true, 1},
		{`{"or": [{"data": "$.country", "eq": "RO"}, {"data": "$.tags[-1]", "eq": "x"}, {"data": "$.nope", "exists": true}]}`, false, 1},
	}
	for _, tt := range tests {
		f, err := Parse([]byte(tt.filter))
		if err != nil {
			t.Fatalf("Parse(%s): %v", tt.filter, err)
		}
		ev := newEvent()
		if got := f.Match(ev); got != tt.want {
			t.Errorf("%s: Match = %v, want %v", tt.filter, got, tt.want)
		}
		if ev.dataCalls != tt.wantCalls {
			t.Errorf("%s: Data called %d times, want %d", tt.filter, ev.dataCalls, tt.wantCalls)
		}
	}
}

// TestMatchConcurrent shares one Filter between goroutines; run with -race.
func TestMatchConcurrent(t *testing.T) {
	t.Parallel()
	f, err := Parse([]byte(`{"and": [{"data": "$.country", "eq": "MD"}, {"data": "$.unicode", "suffix": "é"}, {"ext": "priority", "gte": 5}]}`))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				if !f.Match(newEvent()) {
					t.Error("Match = false, want true")
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestMatchAllocs holds Match to its promise of not allocating, including
// for decoded strings and long numbers that fit the scratch space. It is not
// parallel: testing.AllocsPerRun refuses to run in parallel tests, whose
// allocations it would count.
func TestMatchAllocs(t *testing.T) {
	filters := []string{
		benchFilter,
		`{"and": [{"data": "$.unicode", "eq": "café"}, {"data": "$['odd key']['it\\'s']", "prefix": "q"}, {"data": "$.escA", "exists": true}]}`,
		`{"and": [{"data": "$.big", "gt": 1}, {"ext": "priority", "in": [1, 2, 3, 5]}, {"ext": "sampled", "eq": true}, {"data": "$.tags[-1]", "in": ["a", "b", "c", "d", "e", "f", "g", "h", "promo"]}]}`,
	}
	for _, doc := range filters {
		f, err := Parse([]byte(doc))
		if err != nil {
			t.Fatalf("Parse(%s): %v", doc, err)
		}
		ev := newEvent()
		ev.data = []byte(strings.Replace(testData, `"country"`, `"shipping": {"country": "MD"}, "totals": {"gross": 147.60}, "items": [{"sku": "CABLE-USB-C"}], "country"`, 1))
		if !f.Match(ev) {
			t.Fatalf("%s does not match", doc)
		}
		if n := testing.AllocsPerRun(100, func() { f.Match(ev) }); n != 0 {
			t.Errorf("%s: Match allocates %v times per call, want 0", doc, n)
		}
	}
}
