// Package jsonchecktest holds what the tests of package jsoncheck and of
// its users share: references to hold them to, ways of reading JSON that
// share no code with jsoncheck so that a fault there cannot hide in the
// reference too, and the document their benchmarks read.
package jsonchecktest

import (
	"math/big"
	"regexp"
	"strings"
)

// NumberGrammar is the RFC 8259 number grammar as a regular expression.
var NumberGrammar = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// Rat is the exact value of the JSON number literal lit. It reports false
// for a literal NumberGrammar refuses, and for an exponent of more than
// three digits, whose big.Rat would be costly to build.
func Rat(lit string) (*big.Rat, bool) {
	if !NumberGrammar.MatchString(lit) {
		return nil, false
	}
	if i := strings.IndexAny(lit, "eE"); i >= 0 {
		e := strings.TrimLeft(lit[i+1:], "+-")
		if e = strings.TrimLeft(e, "0"); len(e) > 3 {
			return nil, false
		}
	}
	return new(big.Rat).SetString(lit)
}

// Order is about 1 KB, a typical order.created payload: the document the
// benchmarks of JSON reading (jsoncheck.Decode, filters, schemas) read.
const Order = `{
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
