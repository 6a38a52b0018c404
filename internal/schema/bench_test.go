package schema

import (
	"testing"

	"github.com/heraldhq/herald/internal/jsoncheck/jsonchecktest"
)

// benchSchema is a realistic event-type schema for an e-commerce order.
const benchSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["order_id", "status", "created_at", "customer", "items", "totals"],
  "additionalProperties": false,
  "properties": {
    "order_id": {"type": "string", "format": "uuid"},
    "status": {"enum": ["pending", "paid", "shipped", "cancelled"]},
    "created_at": {"type": "string", "format": "date-time"},
    "customer": {
      "type": "object",
      "required": ["id", "email"],
      "properties": {
        "id": {"type": "string", "minLength": 1, "maxLength": 64},
        "email": {"type": "string", "format": "email"},
        "name": {"type": "string"},
        "phone": {"type": "string", "pattern": "^\\+[0-9]{6,15}$"}
      }
    },
    "shipping": {"$ref": "#/$defs/address"},
    "items": {"type": "array", "minItems": 1, "maxItems": 100, "items": {"$ref": "#/$defs/item"}},
    "totals": {
      "type": "object",
      "required": ["currency", "net", "vat", "gross"],
      "properties": {
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "net": {"type": "number", "minimum": 0},
        "vat": {"type": "number", "minimum": 0},
        "gross": {"type": "number", "minimum": 0}
      }
    },
    "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": true}
  },
  "$defs": {
    "address": {
      "type": "object",
      "required": ["country", "city", "line1"],
      "properties": {
        "country": {"type": "string", "minLength": 2, "maxLength": 2},
        "city": {"type": "string"},
        "line1": {"type": "string"},
        "postcode": {"type": "string"}
      }
    },
    "item": {
      "type": "object",
      "required": ["sku", "qty", "unit_price"],
      "properties": {
        "sku": {"type": "string", "pattern": "^[A-Z0-9-]{3,32}$"},
        "name": {"type": "string"},
        "qty": {"type": "integer", "minimum": 1},
        "unit_price": {"type": "number", "exclusiveMinimum": 0}
      }
    }
  }
}`

// benchOrder is the benchmark order (see jsonchecktest.Order).
const benchOrder = jsonchecktest.Order

func BenchmarkValidate(b *testing.B) {
	s := mustCompile(b, benchSchema)
	doc := []byte(benchOrder)
	if vs := s.Validate(doc); vs != nil {
		b.Fatalf("benchmark document is invalid: %v", vs)
	}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if s.Validate(doc) != nil {
			b.Fatal("unexpected violations")
		}
	}
}

func BenchmarkValidateInvalid(b *testing.B) {
	s := mustCompile(b, benchSchema)
	// Three violations: status enum, qty minimum, currency pattern.
	doc := []byte(`{"order_id":"3b241101-e2bb-4255-8caf-4136c566a962","status":"lost","created_at":"2024-05-01T12:30:45Z",
	"customer":{"id":"c1","email":"a@b.md"},"items":[{"sku":"ABC","qty":0,"unit_price":1}],
	"totals":{"currency":"eur","net":1,"vat":0,"gross":1}}`)
	if n := len(s.Validate(doc)); n != 3 {
		b.Fatalf("got %d violations, want 3", n)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Validate(doc)
	}
}

func BenchmarkCacheGet(b *testing.B) {
	c := NewCache(nil)
	doc := []byte(benchSchema)
	if _, err := c.Get(b.Context(), "shop.order.created@1", doc, Dialect{}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Get(b.Context(), "shop.order.created@1", doc, Dialect{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkCompile(b *testing.B) {
	doc := []byte(benchSchema)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(doc, Dialect{}); err != nil {
			b.Fatal(err)
		}
	}
}
