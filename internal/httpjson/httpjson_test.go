package httpjson_test

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/cloudevents"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/httpjson"
)

func TestDecode(t *testing.T) {
	t.Parallel()
	type in struct {
		Name   string          `json:"name"`
		N      int             `json:"n"`
		Config json.RawMessage `json:"config"`
	}
	for _, c := range []struct {
		name, body  string
		optional    bool
		malformed   bool
		field, rule string // a ValidationError's first field and rule
		tooLarge    bool
		want        in
	}{
		{name: "ok", body: `{"name":"a","n":2}`, want: in{Name: "a", N: 2}},
		{name: "unknown field", body: `{"nmae":"a"}`, malformed: true},
		{name: "trailing data", body: `{"name":"a"} {}`, malformed: true},
		{name: "not JSON", body: `{`, malformed: true},
		{name: "empty body required", body: ``, malformed: true},
		{name: "empty body optional", body: ``, optional: true},
		{name: "optional given", body: `{"n":1}`, optional: true, want: in{N: 1}},
		{name: "wrong type", body: `{"n":"x"}`, field: "n", rule: "type"},
		{name: "repeated member", body: `{"config":{"a":1,"a":2}}`, field: "config.a", rule: "duplicate-key"},
		{name: "NUL in text", body: `{"name":"a\u0000"}`, field: "name", rule: "chars"},
		{name: "NUL kept as JSON", body: `{"config":{"k":"\u0000"}}`, want: in{Config: json.RawMessage(`{"k":"\u0000"}`)}},
		{name: "too large", body: `{"name":"` + strings.Repeat("a", httpjson.MaxBody) + `"}`, tooLarge: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("POST", "/", strings.NewReader(c.body))
			var got in
			decode := httpjson.Decode
			if c.optional {
				decode = httpjson.DecodeOptional
			}
			err := decode(httptest.NewRecorder(), r, &got)
			var ve *herald.ValidationError
			var tl *cloudevents.TooLargeError
			switch {
			case c.malformed:
				if !errors.Is(err, httpjson.ErrMalformed) {
					t.Errorf("err = %v, want ErrMalformed", err)
				}
			case c.field != "":
				if !errors.As(err, &ve) || ve.Errors[0].Field != c.field || ve.Errors[0].Rule != c.rule {
					t.Errorf("err = %v, want %s: %s", err, c.field, c.rule)
				}
			case c.tooLarge:
				if !errors.As(err, &tl) || tl.Limit != httpjson.MaxBody {
					t.Errorf("err = %v, want a TooLargeError at %d bytes", err, httpjson.MaxBody)
				}
			case err != nil:
				t.Errorf("err = %v", err)
			case got.Name != c.want.Name || got.N != c.want.N || string(got.Config) != string(c.want.Config):
				t.Errorf("decoded %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestListAndTime(t *testing.T) {
	t.Parallel()
	b, _ := json.Marshal(httpjson.ListOf([]int(nil), func(i int) int { return i }))
	if string(b) != `{"data":[]}` {
		t.Errorf("empty list = %s", b)
	}
	b, _ = json.Marshal(httpjson.ListOf([]int{1, 2}, func(i int) string { return strings.Repeat("x", i) }))
	if string(b) != `{"data":["x","xx"]}` {
		t.Errorf("list = %s", b)
	}
	if httpjson.Time(time.Time{}) != nil {
		t.Error("the zero time is not nil")
	}
	now := time.Now()
	if p := httpjson.Time(now); p == nil || !p.Equal(now) {
		t.Errorf("Time(now) = %v", p)
	}
}
