package filter_test

import (
	"fmt"

	"github.com/heraldhq/herald/internal/filter"
)

// order is a minimal filter.Event.
type order struct {
	source string
	team   any
	data   string
}

func (o order) Attr(name string) (string, bool) {
	if name == "source" {
		return o.source, true
	}
	return "", false
}

func (o order) Ext(name string) (any, bool) {
	if name == "team" && o.team != nil {
		return o.team, true
	}
	return nil, false
}

func (o order) Data() []byte { return []byte(o.data) }

func ExampleParse() {
	f, err := filter.Parse([]byte(`{"and": [
		{"attr": "source", "prefix": "/shop/"},
		{"ext": "team", "in": ["alpha", "beta"]},
		{"data": "$.order['total']", "gte": 100}
	]}`))
	if err != nil {
		panic(err)
	}
	fmt.Println(f.Match(order{"/shop/eu", "alpha", `{"order": {"total": 149.90}}`}))
	fmt.Println(f.Match(order{"/shop/eu", "alpha", `{"order": {"total": 99.99}}`}))
	fmt.Println(f.Match(order{"/shop/eu", nil, `{"order": {"total": 149.90}}`}))
	fmt.Println(f) // canonical form

	_, err = filter.Parse([]byte(`{"or": [{"attr": "type", "eq": "a"}, {"data": "$.items[*].sku", "eq": "b"}]}`))
	fmt.Println(err)
	// Output:
	// true
	// false
	// false
	// {"and":[{"attr":"source","prefix":"/shop/"},{"ext":"team","in":["alpha","beta"]},{"data":"$.order.total","gte":100}]}
	// filter at /or/1/data: invalid path "$.items[*].sku" at offset 8: wildcards ([*]) are not supported: a path must name exactly one value
}
