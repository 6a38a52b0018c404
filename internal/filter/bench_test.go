package filter

import (
	"encoding/json"
	"testing"

	"github.com/heraldhq/herald/internal/jsoncheck/jsonchecktest"
)

// benchOrder is the benchmark order (see jsonchecktest.Order), the one
// internal/schema benchmarks with.
const benchOrder = jsonchecktest.Order

// benchFilter has six conditions: two on attributes and extensions, four on
// data, one of them under not, reading values early, late and in between.
const benchFilter = `{"and": [
  {"attr": "source", "prefix": "/shop/"},
  {"ext": "team", "in": ["alpha", "beta"]},
  {"data": "$.totals.gross", "gte": 100},
  {"data": "$.customer.email", "suffix": "@example.md"},
  {"or": [
    {"data": "$.shipping.country", "eq": "MD"},
    {"not": {"data": "$.tags[0]", "eq": "test"}}
  ]}
]}`

func benchEvent() *event {
	ev := newEvent()
	ev.data = []byte(benchOrder)
	return ev
}

func benchMatch(b *testing.B, doc string, ev *event, want bool) {
	f, err := Parse([]byte(doc))
	if err != nil {
		b.Fatal(err)
	}
	if f.Match(ev) != want {
		b.Fatalf("Match = %v, want %v", !want, want)
	}
	b.SetBytes(int64(len(ev.data)))
	b.ReportAllocs()
	for b.Loop() {
		f.Match(ev)
	}
}

// BenchmarkMatch measures Match on a ~1 KB order. "six-conditions" is the
// full cost (one walk of the data, six tests); the others show what the
// evaluation order saves when attributes decide.
func BenchmarkMatch(b *testing.B) {
	b.Run("six-conditions", func(b *testing.B) {
		benchMatch(b, benchFilter, benchEvent(), true)
	})
	b.Run("last-item-from-end", func(b *testing.B) {
		benchMatch(b, `{"and": [{"data": "$.items[-1].sku", "prefix": "CABLE-"}, {"data": "$.items[-1].qty", "gte": 3}]}`, benchEvent(), true)
	})
	b.Run("rejected-by-attr", func(b *testing.B) {
		ev := benchEvent()
		ev.attrs["source"] = "/crm/contacts"
		benchMatch(b, benchFilter, ev, false)
	})
	b.Run("attrs-only", func(b *testing.B) {
		benchMatch(b, `{"and": [{"attr": "source", "prefix": "/shop/"}, {"attr": "type", "suffix": ".created"}, {"ext": "priority", "gte": 3}]}`, benchEvent(), true)
	})
}

// BenchmarkDecodeBaseline is the alternative Match avoids: decoding the same
// order with encoding/json before looking anything up.
func BenchmarkDecodeBaseline(b *testing.B) {
	data := []byte(benchOrder)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	doc := []byte(benchFilter)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(doc); err != nil {
			b.Fatal(err)
		}
	}
}
