package openapitest

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

const selfDoc = `openapi: 3.1.0
paths:
  /things:
    get:
      responses:
        200:
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/ThingList'
        '404':
          $ref: '#/components/responses/Missing'
    post:
      responses:
        '201':
          $ref: '#/components/responses/Created'
  /raw:
    get:
      responses:
        '200':
          content:
            application/yaml:
              schema: {type: string}
            application/cloudevents+json:
              schema: {type: object}
components:
  responses:
    Missing:
      content:
        application/problem+json:
          schema: {type: object}
    Created:
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/ThingCreated'
  schemas:
    ThingList:
      type: object
      required: [data]
      properties:
        data:
          type: array
          items:
            $ref: '#/components/schemas/Thing'
    Thing:
      type: object
      required: [id, count, tags, at]
      properties:
        id: {type: string, format: uuid}
        count: {type: integer}
        tags: {type: array, items: {type: string}}
        at: {type: string, format: date-time}
        note: {type: [string, 'null']}
        doc: {}
        password: {type: string, writeOnly: true}
    ThingCreated:
      allOf:
        - $ref: '#/components/schemas/Thing'
        - type: object
          required: [secret]
          properties:
            secret: {type: string}
`

type thing struct {
	ID    string          `json:"id"`
	Count int             `json:"count"`
	Tags  []string        `json:"tags"`
	At    time.Time       `json:"at"`
	Note  *string         `json:"note,omitempty"`
	Doc   json.RawMessage `json:"doc,omitempty"`
}

type thingCreated struct {
	thing
	Secret string `json:"secret"`
}

type thingList struct {
	Data []thing `json:"data"`
}

func TestSuccessBodies(t *testing.T) {
	t.Parallel()
	d, err := Parse([]byte(selfDoc))
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, b := range d.SuccessBodies() {
		keys = append(keys, b.Key())
	}
	want := []string{
		"GET /raw 200 application/cloudevents+json",
		"GET /things 200 application/json",
		"POST /things 201 application/json",
	}
	if !slices.Equal(keys, want) {
		t.Errorf("bodies = %q, want %q", keys, want)
	}
}

// TestCheckFields: a type that matches its schema passes, and each kind of
// difference is reported once, with its path, so a matching table cannot
// come from a checker that sees nothing.
func TestCheckFields(t *testing.T) {
	t.Parallel()
	d, err := Parse([]byte(selfDoc))
	if err != nil {
		t.Fatal(err)
	}
	list, _ := d.Schema("ThingList")
	created, _ := d.Schema("ThingCreated")
	thingSchema, _ := d.Schema("Thing")

	type wrongType struct {
		ID    string    `json:"id"`
		Count string    `json:"count"` // a string, documented as an integer
		Tags  []int     `json:"tags"`  // items documented as strings
		At    time.Time `json:"at"`
	}
	type missingAndExtra struct {
		ID    string    `json:"id"`
		Count int       `json:"count"`
		At    time.Time `json:"at"`
		Extra bool      `json:"extra"` // not documented
	} // tags, note and doc never encoded; password is writeOnly, so not missed
	type presence struct {
		ID    string    `json:"id,omitempty"` // required, but omitted when empty
		Count int       `json:"count"`
		Tags  []string  `json:"tags"`
		At    time.Time `json:"at"`
		Note  *string   `json:"note"` // always encoded, not required
		Doc   []byte    `json:"doc,omitempty"`
	}
	type secretShown struct {
		thing
		Password string `json:"password,omitempty"`
	}
	cases := []struct {
		name   string
		typ    any
		schema any
		want   []string // substrings, one per reported difference, in order
	}{
		{"list matches", thingList{}, list, nil},
		{"allOf and embedding match", thingCreated{}, created, nil},
		{"JSON types", wrongType{}, thingSchema, []string{
			"count: the Go type encodes string", "tags[]: the Go type encodes integer",
			"doc: the document declares it", "note: the document declares it"}},
		{"names both ways", missingAndExtra{}, map[string]any{"$ref": "#/components/schemas/Thing"}, []string{
			"doc: the document declares it", "extra: the Go type", "note: the document declares it",
			"tags: the document declares it"}},
		{"required, undeclared", struct {
			A int `json:"a"`
		}{}, map[string]any{"type": "object", "required": []any{"a", "b"}, "properties": map[string]any{"a": map[string]any{"type": "integer"}}},
			[]string{"b: the document requires it but declares no such property"}},
		{"required and omitempty", presence{}, map[string]any{"$ref": "#/components/schemas/Thing"}, []string{
			"id: the document requires it; the Go type", "note: the Go type", "always encodes it"}},
		{"writeOnly shown", secretShown{}, map[string]any{"$ref": "#/components/schemas/Thing"}, []string{
			"password: the document says it is writeOnly"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := d.CheckFields(reflect.TypeOf(tc.typ), tc.schema, "")
			if tc.want == nil {
				if len(got) > 0 {
					t.Errorf("differences: %q", got)
				}
				return
			}
			all := strings.Join(got, "\n")
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("no difference mentions %q; got:\n%s", w, all)
				}
			}
		})
	}
}

func TestCheckResponses(t *testing.T) {
	t.Parallel()
	d, err := Parse([]byte(selfDoc))
	if err != nil {
		t.Fatal(err)
	}
	all := func(string) bool { return true }
	ok := map[string]any{
		"GET /things 200 application/json":          thingList{},
		"POST /things 201 application/json":         thingCreated{},
		"GET /raw 200 application/cloudevents+json": Raw("stored bytes"),
	}
	if got := d.CheckResponses(ok, all); len(got) > 0 {
		t.Errorf("differences: %q", got)
	}
	bad := map[string]any{
		"GET /things 200 application/json":  thing{}, // the wrong type
		"PUT /things 200 application/json":  thing{}, // no such body
		"POST /things 201 application/json": Raw(""), // no reason
	} // GET /raw is missing
	got := strings.Join(d.CheckResponses(bad, all), "\n")
	for _, w := range []string{
		"GET /raw 200 application/cloudevents+json: the document lists this body",
		"GET /things 200 application/json: data: the document declares it",
		"PUT /things 200 application/json: in the response type table, but the document has no such",
		"POST /things 201 application/json: Raw, with no reason why",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("no difference says %q; got:\n%s", w, got)
		}
	}
	if got := d.CheckResponses(map[string]any{}, func(op string) bool { return op == "GET /things" }); len(got) != 1 {
		t.Errorf("with only GET /things ours: %q, want one missing body", got)
	}
}
