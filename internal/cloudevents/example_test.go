package cloudevents_test

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/heraldhq/herald/internal/cloudevents"
)

func ExampleParse() {
	body := `[
  {"specversion":"1.0","id":"a1","source":"/orders","type":"order.created","partitionkey":"c-7"},
  {"specversion":"1.0","id":"a2","source":"has space","type":"order.created","Bad":1}
]`
	r := httptest.NewRequest("POST", "/v1/events", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/cloudevents-batch+json; charset=utf-8")

	_, err := cloudevents.Parse(r, cloudevents.Limits{})
	var ve *cloudevents.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			fmt.Printf("%d %s %s %s: %s\n", p.Index, p.ID, p.Field, p.Rule, p.Detail)
		}
	}
	// Output:
	// 1 a2 source format: source "has space" is not a URI-reference (RFC 3986 §4.1): character ' ' at byte offset 3 is not allowed
	// 1 a2 extensions.Bad name: extension name "Bad" must be 1 to 20 characters, each a-z or 0-9
}

func ExampleEvent_MarshalStructured() {
	r := httptest.NewRequest("POST", "/v1/events", strings.NewReader(`{"n":1}`))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("ce-specversion", "1.0")
	r.Header.Set("ce-id", "a1")
	r.Header.Set("ce-source", "/orders")
	r.Header.Set("ce-type", "order.created")
	r.Header.Set("ce-subject", "caf%C3%A9")
	r.Header.Set("ce-partitionkey", "c-7")

	events, err := cloudevents.Parse(r, cloudevents.Limits{})
	if err != nil {
		fmt.Println(err)
		return
	}
	b, err := events[0].MarshalStructured()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(b))
	// Output:
	// {"specversion":"1.0","id":"a1","source":"/orders","type":"order.created","datacontenttype":"application/json","subject":"café","partitionkey":"c-7","data":{"n":1}}
}
