package filter

import (
	"encoding/json"
	"testing"
)

// benchOrder is about 1 KB, a typical order.created payload (the one
// internal/schema benchmarks with).
const benchOrder = `{
  "order_id": "3b241101-e2bb-4255-8caf-4136c566a962",
  "status": "paid",
  "created_at": "2024-05-01T12:30:45.123Z",
  "customer": {"id": "cus_84d1e0a2", "email": "ana.popescu@example.md", "name": "Ana Popescu", "phone": "+37360000000"},
  "shipping": {"country": "MD", "city": "Chisinau", "line1": "Str. Stefan cel Mare 1", "postcode": "MD-2001"},
  "items": [
    {"sku": "BOOK-0001", "name": "Go Programming", "qty": 1, "unit_price": 39.90},
    {"sku": "MUG-0042", "name": "Gopher mug", "qty": 2, "unit_price": 12.50},
    {"sku": "STICKER-7", "name": "Sticker pack", "qty": 5, "unit_price": 1.99},
    {"sku": "TSHIRT-L", "name": "T-shirt, large", "qty": 1, "unit_price": 19.00},
    {"sku": "CABLE-USB-C", "name": "USB-C cable 1m", "qty": 3, "unit_price": 6.75}
  ],
  "totals": {"currency": "EUR", "net": 123.00, "vat": 24.60, "gross": 147.60},
  "tags": ["web", "promo-may", "first-order"]
}`

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
