package cloudevents

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// parseCase is one request for Parse. Exactly one of want and problems is
// meaningful: valid cases set want, invalid ones set problems (details are
// not compared). The same tables seed FuzzParse.
type parseCase struct {
	name     string
	ct       string
	headers  []string
	body     string
	want     []*Event
	problems []Problem
}

// minimal is the smallest valid structured event.
const minimal = `{"specversion":"1.0","id":"e1","source":"/s","type":"t"}`

func minimalEvent() *Event {
	return &Event{ID: "e1", Source: "/s", SpecVersion: "1.0", Type: "t"}
}

// with returns minimal with extra members spliced in before the closing brace.
func with(members string) string {
	return strings.TrimSuffix(minimal, "}") + "," + members + "}"
}

// binHeaders are the required attributes in binary mode, plus extras.
func binHeaders(extra ...string) []string {
	return append([]string{"ce-id", "e1", "ce-source", "/s", "ce-specversion", "1.0", "ce-type", "t"}, extra...)
}

func validCases(t testing.TB) []parseCase {
	ev := func(mod func(e *Event)) *Event {
		e := minimalEvent()
		mod(e)
		return e
	}
	return []parseCase{
		{name: "structured minimal", ct: MediaTypeStructured, body: minimal, want: []*Event{minimalEvent()}},
		{
			name: "structured full fixture",
			ct:   "application/cloudevents+json; charset=UTF-8",
			body: string(readFixture(t, "structured_full.json")),
			want: []*Event{{
				ID: "A234-1234-1234", Source: "https://example.com/orders", SpecVersion: "1.0",
				Type: "com.example.order.created", DataContentType: "application/json; charset=utf-8",
				DataSchema: "https://example.com/schemas/order.json#v1", Subject: "order/42",
				Time: mustTime(t, "2018-04-05T17:31:00.123456789+02:00"),
				Extensions: map[string]any{
					"partitionkey": "customer-7", "comexampleextension1": "value",
					"comexampleothervalue": int32(5), "flag": true,
				},
				Data: json.RawMessage(`{"appinfoA": "abc", "appinfoB": 123, "appinfoC": true}`),
			}},
		},
		{name: "structured media type case and parameters", ct: " Application/CloudEvents+JSON ; charset=utf-8", body: minimal, want: []*Event{minimalEvent()}},
		{name: "structured null optional attributes are absent", ct: MediaTypeStructured,
			body: with(`"subject":null,"time":null,"dataschema":null,"datacontenttype":null,"ext":null,"data_base64":null`),
			want: []*Event{minimalEvent()}},
		{name: "structured JSON string data stays a JSON string", ct: MediaTypeStructured,
			body: with(`"datacontenttype":"application/json","data":"{\"a\":1}"`),
			want: []*Event{ev(func(e *Event) { e.DataContentType = "application/json"; e.Data = json.RawMessage(`"{\"a\":1}"`) })}},
		{name: "structured absent datacontenttype means JSON", ct: MediaTypeStructured,
			body: with(`"data":[1, 2]`),
			want: []*Event{ev(func(e *Event) { e.Data = json.RawMessage(`[1, 2]`) })}},
		{name: "structured +json subtype", ct: MediaTypeStructured,
			body: with(`"datacontenttype":"application/vnd.foo+JSON","data":{"a":null}`),
			want: []*Event{ev(func(e *Event) { e.DataContentType = "application/vnd.foo+JSON"; e.Data = json.RawMessage(`{"a":null}`) })}},
		{name: "structured explicit null data", ct: MediaTypeStructured,
			body: with(`"data":null`),
			want: []*Event{ev(func(e *Event) { e.Data = json.RawMessage(`null`) })}},
		{name: "structured text data", ct: MediaTypeStructured,
			body: with(`"datacontenttype":"text/plain","data":"line 1\nline \"2\""`),
			want: []*Event{ev(func(e *Event) { e.DataContentType = "text/plain"; e.Data = json.RawMessage(`"line 1\nline \"2\""`) })}},
		{name: "structured data_base64", ct: MediaTypeStructured,
			body: with(`"datacontenttype":"application/octet-stream","data_base64":"AAEC/w=="`),
			want: []*Event{ev(func(e *Event) { e.DataContentType = "application/octet-stream"; e.DataBase64 = []byte{0, 1, 2, 255} })}},
		{name: "structured data_base64 without padding", ct: MediaTypeStructured,
			body: with(`"data_base64":"AAEC/w"`),
			want: []*Event{ev(func(e *Event) { e.DataBase64 = []byte{0, 1, 2, 255} })}},
		{name: "structured data_base64 declared JSON is JSON data", ct: MediaTypeStructured,
			body: with(`"datacontenttype":"application/json","data_base64":"IHsib3JkZXIiOiJBLTEiLCJxdHkiOjJ9Cg=="`), // ` {"order":"A-1","qty":2}\n`
			want: []*Event{ev(func(e *Event) {
				e.DataContentType = "application/json"
				e.Data = json.RawMessage(`{"order":"A-1","qty":2}`)
			})}},
		{name: "structured data_base64 declared +json is JSON data", ct: MediaTypeStructured,
			body: with(`"datacontenttype":"application/vnd.acme+json; charset=utf-8","data_base64":"WzEsMl0="`), // [1,2]
			want: []*Event{ev(func(e *Event) {
				e.DataContentType = "application/vnd.acme+json; charset=utf-8"
				e.Data = json.RawMessage(`[1,2]`)
			})}},
		{name: "structured data_base64 without datacontenttype stays binary", ct: MediaTypeStructured,
			body: with(`"data_base64":"WzEsMl0="`),
			want: []*Event{ev(func(e *Event) { e.DataBase64 = []byte(`[1,2]`) })}},
		{name: "structured data_base64 of text stays binary", ct: MediaTypeStructured,
			body: with(`"datacontenttype":"text/plain","data_base64":"WzEsMl0="`),
			want: []*Event{ev(func(e *Event) { e.DataContentType = "text/plain"; e.DataBase64 = []byte(`[1,2]`) })}},
		{name: "structured empty data_base64", ct: MediaTypeStructured,
			body: with(`"data_base64":""`),
			want: []*Event{ev(func(e *Event) { e.DataBase64 = []byte{} })}},
		{name: "structured escaped member names and values", ct: MediaTypeStructured,
			body: `{"\u0069d":"caf\u00e9 \ud83d\ude00","source":"/s","specversion":"1.0","type":"t"}`,
			want: []*Event{ev(func(e *Event) { e.ID = "café 😀" })}},
		{name: "structured integral extension numbers", ct: MediaTypeStructured,
			body: with(`"a":1.0,"b":1e3,"c":-2147483648,"d":2147483647,"e":false`),
			want: []*Event{ev(func(e *Event) {
				e.Extensions = map[string]any{"a": int32(1), "b": int32(1000), "c": int32(-2147483648), "d": int32(2147483647), "e": false}
			})}},
		{name: "structured URI-reference sources", ct: MediaTypeStructured,
			body: `{"specversion":"1.0","id":"e1","source":"1-555-123-4567","type":"t"}`,
			want: []*Event{ev(func(e *Event) { e.Source = "1-555-123-4567" })}},
		{name: "structured percent-encoded source", ct: MediaTypeStructured,
			body: `{"specversion":"1.0","id":"e1","source":"urn:x:caf%C3%A9","type":"t"}`,
			want: []*Event{ev(func(e *Event) { e.Source = "urn:x:caf%C3%A9" })}},
		{name: "structured lowercase RFC 3339 timestamp", ct: MediaTypeStructured,
			body: with(`"time":"2020-02-03t04:05:06.5z"`),
			want: []*Event{ev(func(e *Event) { e.Time = mustTime(t, "2020-02-03T04:05:06.5Z") })}},
		{name: "structured ignores ce headers", ct: MediaTypeStructured, headers: []string{"ce-id", "other"},
			body: minimal, want: []*Event{minimalEvent()}},
		{
			name: "batch fixture with charset and odd case",
			ct:   "application/CloudEvents-Batch+JSON; charset=utf-8",
			body: string(readFixture(t, "batch_valid.json")),
			want: []*Event{
				{ID: "B234-1234-1234", Source: "/mycontext/4", SpecVersion: "1.0", Type: "com.example.someevent",
					Time:            mustTime(t, "2018-04-05T17:31:00Z"),
					Extensions:      map[string]any{"comexampleextension1": "value", "comexampleothervalue": int32(5)},
					DataContentType: "application/vnd.apache.thrift.binary", DataBase64: []byte{0, 1, 2, 255}},
				{ID: "C234-1234-1234", Source: "/mycontext/9", SpecVersion: "1.0", Type: "com.example.someotherevent",
					Time:            mustTime(t, "2018-04-05T17:31:05Z"),
					DataContentType: "application/xml", Data: json.RawMessage(`"<much wow=\"xml\"/>"`)},
			},
		},
		{name: "empty batch", ct: MediaTypeBatch, body: "[]", want: []*Event{}},
		{name: "empty batch with whitespace", ct: MediaTypeBatch, body: " \n[ ]\n", want: []*Event{}},
		{
			name: "binary with percent-encoded and quoted values",
			ct:   "application/json; charset=utf-8",
			headers: binHeaders(
				"ce-subject", "caf%C3%A9%20bar",
				"ce-comexampleextension1", `"quoted \"value\" here"`,
				"ce-quotedpct", `"caf%c3%a9"`,
				"ce-time", "2018-04-05T03:56:24Z",
				"ce-partitionkey", "p%2f1",
				"ce-dataschema", "https://example.com/s.json",
			),
			body: " {\"x\": 1}\n",
			want: []*Event{ev(func(e *Event) {
				e.Subject = "café bar"
				e.Time = mustTime(t, "2018-04-05T03:56:24Z")
				e.DataSchema = "https://example.com/s.json"
				e.DataContentType = "application/json; charset=utf-8"
				e.Extensions = map[string]any{"comexampleextension1": `quoted "value" here`, "quotedpct": "café", "partitionkey": "p/1"}
				e.Data = json.RawMessage(`{"x": 1}`)
			})},
		},
		{name: "binary header names are case-insensitive", ct: "application/json",
			headers: []string{"CE-ID", "e1", "Ce-Source", "/s", "cE-SpecVersion", "1.0", "ce-TYPE", "t", "CE-MyExt", "v"},
			body:    `{}`,
			want: []*Event{ev(func(e *Event) {
				e.DataContentType = "application/json"
				e.Data = json.RawMessage(`{}`)
				e.Extensions = map[string]any{"myext": "v"}
			})}},
		{name: "binary text body becomes string data", ct: "text/plain; charset=utf-8", headers: binHeaders(), body: "héllo\n\"world\"",
			want: []*Event{ev(func(e *Event) {
				e.DataContentType = "text/plain; charset=utf-8"
				e.Data = json.RawMessage(`"héllo\n\"world\""`)
			})}},
		{name: "binary xml body becomes string data", ct: "application/atom+xml", headers: binHeaders(), body: "<feed/>",
			want: []*Event{ev(func(e *Event) { e.DataContentType = "application/atom+xml"; e.Data = json.RawMessage(`"<feed/>"`) })}},
		{name: "binary octet-stream body is binary", ct: "application/octet-stream", headers: binHeaders(), body: "\x00\x01\xff",
			want: []*Event{ev(func(e *Event) { e.DataContentType = "application/octet-stream"; e.DataBase64 = []byte{0, 1, 0xff} })}},
		{name: "binary text body that is not UTF-8 is binary", ct: "text/plain", headers: binHeaders(), body: "caf\xe9",
			want: []*Event{ev(func(e *Event) { e.DataContentType = "text/plain"; e.DataBase64 = []byte("caf\xe9") })}},
		{name: "binary latin-1 text is binary", ct: "text/plain; charset=iso-8859-1", headers: binHeaders(), body: "abc",
			want: []*Event{ev(func(e *Event) { e.DataContentType = "text/plain; charset=iso-8859-1"; e.DataBase64 = []byte("abc") })}},
		{name: "binary without body or content type", headers: binHeaders(), want: []*Event{minimalEvent()}},
		{name: "binary JSON body without content type", headers: binHeaders(), body: `"just a string"`,
			want: []*Event{ev(func(e *Event) { e.Data = json.RawMessage(`"just a string"`) })}},
		{name: "binary non-cloudevents avro is just data", ct: "application/avro", headers: binHeaders(), body: "\x02ab",
			want: []*Event{ev(func(e *Event) { e.DataContentType = "application/avro"; e.DataBase64 = []byte("\x02ab") })}},
	}
}

func TestParseValid(t *testing.T) {
	t.Parallel()
	for _, tc := range validCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(newRequest(tc.ct, []byte(tc.body), tc.headers...), Limits{})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got == nil {
				t.Fatal("Parse returned a nil slice")
			}
			checkEvents(t, got, tc.want)
		})
	}
}

func invalidCases() []parseCase {
	st := MediaTypeStructured
	p := func(index int, id, field, rule string) Problem {
		return Problem{Index: index, ID: id, Field: field, Rule: rule}
	}
	one := func(field, rule string) []Problem { return []Problem{p(0, "e1", field, rule)} }
	return []parseCase{
		// Required attributes.
		{name: "missing everything", ct: st, body: `{}`, problems: []Problem{
			p(0, "", "id", RuleRequired), p(0, "", "source", RuleRequired), p(0, "", "specversion", RuleRequired), p(0, "", "type", RuleRequired)}},
		{name: "id null is missing", ct: st, body: `{"id":null,"source":"/s","specversion":"1.0","type":"t"}`, problems: []Problem{p(0, "", "id", RuleRequired)}},
		{name: "id empty", ct: st, body: `{"id":"","source":"/s","specversion":"1.0","type":"t"}`, problems: []Problem{p(0, "", "id", RuleEmpty)}},
		{name: "id number", ct: st, body: `{"id":7,"source":"/s","specversion":"1.0","type":"t"}`, problems: []Problem{p(0, "", "id", RuleType)}},
		{name: "id control character", ct: st, body: `{"id":"a\u0001","source":"/s","specversion":"1.0","type":"t"}`, problems: []Problem{p(0, "", "id", RuleChars)}},
		{name: "id C1 control character", ct: st, body: `{"id":"a\u0085","source":"/s","specversion":"1.0","type":"t"}`, problems: []Problem{p(0, "", "id", RuleChars)}},
		{name: "id noncharacter", ct: st, body: `{"id":"a\ufdd0","source":"/s","specversion":"1.0","type":"t"}`, problems: []Problem{p(0, "", "id", RuleChars)}},
		{name: "id lone surrogate", ct: st, body: `{"id":"a\ud800","source":"/s","specversion":"1.0","type":"t"}`, problems: []Problem{p(0, "", "id", RuleEncoding)}},
		{name: "source missing", ct: st, body: `{"id":"e1","specversion":"1.0","type":"t"}`, problems: one("source", RuleRequired)},
		{name: "source empty", ct: st, body: `{"id":"e1","source":"","specversion":"1.0","type":"t"}`, problems: one("source", RuleEmpty)},
		{name: "source with space", ct: st, body: `{"id":"e1","source":"/a b","specversion":"1.0","type":"t"}`, problems: one("source", RuleFormat)},
		{name: "source with tab", ct: st, body: `{"id":"e1","source":"/a\tb","specversion":"1.0","type":"t"}`, problems: one("source", RuleChars)},
		{name: "source non-ASCII", ct: st, body: `{"id":"e1","source":"/café","specversion":"1.0","type":"t"}`, problems: one("source", RuleFormat)},
		{name: "source bad percent-escape", ct: st, body: `{"id":"e1","source":"/a%zz","specversion":"1.0","type":"t"}`, problems: one("source", RuleFormat)},
		{name: "source colon in first segment", ct: st, body: `{"id":"e1","source":":nope","specversion":"1.0","type":"t"}`, problems: one("source", RuleFormat)},
		{name: "specversion 0.3", ct: st, body: `{"id":"e1","source":"/s","specversion":"0.3","type":"t"}`, problems: one("specversion", RuleVersion)},
		{name: "specversion number", ct: st, body: `{"id":"e1","source":"/s","specversion":1.0,"type":"t"}`, problems: one("specversion", RuleType)},
		{name: "type missing", ct: st, body: `{"id":"e1","source":"/s","specversion":"1.0"}`, problems: one("type", RuleRequired)},
		{name: "type empty", ct: st, body: `{"id":"e1","source":"/s","specversion":"1.0","type":""}`, problems: one("type", RuleEmpty)},
		// Optional attributes.
		{name: "datacontenttype not a media type", ct: st, body: with(`"datacontenttype":"not a media type"`), problems: one("datacontenttype", RuleFormat)},
		{name: "datacontenttype without subtype", ct: st, body: with(`"datacontenttype":"application"`), problems: one("datacontenttype", RuleFormat)},
		{name: "datacontenttype bool", ct: st, body: with(`"datacontenttype":true`), problems: one("datacontenttype", RuleType)},
		{name: "dataschema relative", ct: st, body: with(`"dataschema":"/schemas/a.json"`), problems: one("dataschema", RuleFormat)},
		{name: "dataschema empty", ct: st, body: with(`"dataschema":""`), problems: one("dataschema", RuleEmpty)},
		{name: "subject empty", ct: st, body: with(`"subject":""`), problems: one("subject", RuleEmpty)},
		{name: "subject object", ct: st, body: with(`"subject":{}`), problems: one("subject", RuleType)},
		{name: "time not a timestamp", ct: st, body: with(`"time":"yesterday"`), problems: one("time", RuleFormat)},
		{name: "time date only", ct: st, body: with(`"time":"2020-01-01"`), problems: one("time", RuleFormat)},
		{name: "time without offset", ct: st, body: with(`"time":"2020-01-01T00:00:00"`), problems: one("time", RuleFormat)},
		// Extensions.
		{name: "extension name uppercase", ct: st, body: with(`"Foo":"x"`), problems: one("extensions.Foo", RuleName)},
		{name: "extension name with dash", ct: st, body: with(`"my-ext":"x"`), problems: one("extensions.my-ext", RuleName)},
		{name: "extension name too long", ct: st, body: with(`"abcdefghijklmnopqrstu":"x"`), problems: one("extensions.abcdefghijklmnopqrstu", RuleName)},
		{name: "extension name empty", ct: st, body: with(`"":"x"`), problems: one("extensions.", RuleName)},
		{name: "extension object", ct: st, body: with(`"ext":{"a":1}`), problems: one("extensions.ext", RuleType)},
		{name: "extension array", ct: st, body: with(`"ext":[1]`), problems: one("extensions.ext", RuleType)},
		{name: "extension float", ct: st, body: with(`"ext":1.5`), problems: one("extensions.ext", RuleType)},
		{name: "extension over int32", ct: st, body: with(`"ext":2147483648`), problems: one("extensions.ext", RuleRange)},
		{name: "extension huge exponent", ct: st, body: with(`"ext":1e400`), problems: one("extensions.ext", RuleRange)},
		{name: "extension control character", ct: st, body: with(`"ext":"a\u007f"`), problems: one("extensions.ext", RuleChars)},
		{name: "partitionkey empty", ct: st, body: with(`"partitionkey":""`), problems: one("extensions.partitionkey", RuleEmpty)},
		{name: "partitionkey number", ct: st, body: with(`"partitionkey":5`), problems: one("extensions.partitionkey", RuleType)},
		// Data.
		{name: "data and data_base64", ct: st, body: with(`"data":{},"data_base64":"AA=="`), problems: one("data_base64", RuleExclusive)},
		{name: "data null and data_base64", ct: st, body: with(`"data":null,"data_base64":"AA=="`), problems: one("data_base64", RuleExclusive)},
		{name: "data_base64 invalid", ct: st, body: with(`"data_base64":"!!!!"`), problems: one("data_base64", RuleEncoding)},
		{name: "data_base64 number", ct: st, body: with(`"data_base64":12`), problems: one("data_base64", RuleType)},
		{name: "text data that is not a string", ct: st, body: with(`"datacontenttype":"text/plain","data":{"a":1}`), problems: one("data", RuleType)},
		{name: "text data null", ct: st, body: with(`"datacontenttype":"text/plain","data":null`), problems: one("data", RuleType)},
		// Structure.
		{name: "duplicate member", ct: st, body: with(`"id":"e2"`), problems: one("id", RuleDuplicateKey)},
		{name: "duplicate extension", ct: st, body: with(`"ext":"a","ext":"b"`), problems: one("extensions.ext", RuleDuplicateKey)},
		{name: "duplicate null extension", ct: st, body: with(`"ext":null,"ext":"b"`), problems: one("extensions.ext", RuleDuplicateKey)},
		{name: "duplicate data", ct: st, body: with(`"data":{"a":1},"data":{"a":2}`), problems: one("data", RuleDuplicateKey)},
		{name: "duplicate member in data", ct: st, body: with(`"data":{"order":"A-1","qty":2,"order":"A-2"}`),
			problems: one("data.order", RuleDuplicateKey)},
		{name: "duplicate member deep in data", ct: st, body: with(`"data":{"lines":[{"sku":"a"},{"sku":"b","odd key":1,"odd key":2}]}`),
			problems: one("data.lines[1]['odd key']", RuleDuplicateKey)},
		{name: "duplicate member spelled with escapes", ct: st, body: with(`"data":{"order":1,"\u006frder":2}`),
			problems: one("data.order", RuleDuplicateKey)},
		{name: "every duplicate member", ct: st, body: with(`"data":{"a":{"x":1,"x":2},"b":1,"b":2}`),
			problems: []Problem{p(0, "e1", "data.a.x", RuleDuplicateKey), p(0, "e1", "data.b", RuleDuplicateKey)}},
		{name: "batch duplicate members", ct: MediaTypeBatch,
			body: `[` + minimal + `,` + `{"specversion":"1.0","id":"e2","source":"/s","type":"t","data":{"n":1,"n":2}},` +
				`[{"a":1,"a":2}],` + with(`"subject":"x","subject":"y"`) + `]`,
			problems: []Problem{p(1, "e2", "data.n", RuleDuplicateKey), p(2, "", "", RuleType), p(2, "", "", RuleDuplicateKey),
				p(3, "e1", "subject", RuleDuplicateKey)}},
		{name: "data_base64 JSON with a duplicate member", ct: st,
			body:     with(`"datacontenttype":"application/json","data_base64":"eyJvcmRlciI6MSwib3JkZXIiOjJ9"`), // {"order":1,"order":2}
			problems: one("data.order", RuleDuplicateKey)},
		{name: "data_base64 declared JSON is not JSON", ct: st,
			body: with(`"datacontenttype":"application/json","data_base64":"bm90IGpzb24="`), problems: one("data_base64", RuleJSON)},
		{name: "data_base64 declared JSON is empty", ct: st,
			body: with(`"datacontenttype":"text/json","data_base64":""`), problems: one("data_base64", RuleJSON)},
		{name: "data_base64 declared JSON is not UTF-8", ct: st,
			body: with(`"datacontenttype":"application/json","data_base64":"Iv8i"`), problems: one("data_base64", RuleJSON)},
		{name: "malformed JSON", ct: st, body: `{"id":"e1",`, problems: []Problem{p(0, "", "", RuleJSON)}},
		{name: "trailing garbage", ct: st, body: minimal + ` {}`, problems: []Problem{p(0, "", "", RuleJSON)}},
		{name: "invalid UTF-8", ct: st, body: with("\"ext\":\"\xff\""), problems: []Problem{p(0, "", "", RuleJSON)}},
		{name: "empty structured body", ct: st, body: ``, problems: []Problem{p(0, "", "", RuleJSON)}},
		{name: "structured array", ct: st, body: `[` + minimal + `]`, problems: []Problem{p(0, "", "", RuleType)}},
		{name: "batch object", ct: MediaTypeBatch, body: minimal, problems: []Problem{p(-1, "", "", RuleType)}},
		{name: "batch malformed", ct: MediaTypeBatch, body: `[` + minimal, problems: []Problem{p(-1, "", "", RuleJSON)}},
		{name: "batch element not an object", ct: MediaTypeBatch, body: `[` + minimal + `,1,null]`,
			problems: []Problem{p(1, "", "", RuleType), p(2, "", "", RuleType)}},
		{name: "batch mixed specversion", ct: MediaTypeBatch,
			body:     `[` + minimal + `,{"id":"e2","source":"/s","specversion":"0.3","type":"t"}]`,
			problems: []Problem{p(1, "e2", "specversion", RuleVersion)}},
		// Binary mode.
		{name: "binary without attributes", ct: "application/json", body: `{}`, problems: []Problem{
			p(0, "", "id", RuleRequired), p(0, "", "source", RuleRequired), p(0, "", "specversion", RuleRequired), p(0, "", "type", RuleRequired)}},
		{name: "binary ce-datacontenttype", headers: binHeaders("ce-datacontenttype", "application/json"), problems: one("datacontenttype", RuleForbidden)},
		{name: "binary ce-data", headers: binHeaders("ce-data", "x"), problems: one("extensions.data", RuleName)},
		{name: "binary bad extension name", headers: binHeaders("ce-my_ext", "x"), problems: one("extensions.my_ext", RuleName)},
		{name: "binary bad percent-encoding", headers: binHeaders("ce-subject", "100%"), problems: one("subject", RuleEncoding)},
		{name: "binary bad percent hex", headers: binHeaders("ce-subject", "a%zzb"), problems: one("subject", RuleEncoding)},
		{name: "binary overlong UTF-8", headers: binHeaders("ce-subject", "%C0%A0"), problems: one("subject", RuleEncoding)},
		{name: "binary raw invalid UTF-8", headers: binHeaders("ce-subject", "caf\xe9"), problems: one("subject", RuleEncoding)},
		{name: "binary percent-encoded control", headers: binHeaders("ce-subject", "a%00b"), problems: one("subject", RuleChars)},
		{name: "binary unterminated quoted-string", headers: binHeaders("ce-subject", `"abc`), problems: one("subject", RuleEncoding)},
		{name: "binary quote inside quoted-string", headers: binHeaders("ce-subject", `"a"b"`), problems: one("subject", RuleEncoding)},
		{name: "binary duplicate header", headers: binHeaders("ce-subject", "a", "ce-subject", "b"), problems: one("subject", RuleDuplicate)},
		{name: "binary bad time", headers: binHeaders("ce-time", "2020-13-01T00:00:00Z"), problems: one("time", RuleFormat)},
		{name: "binary specversion", headers: []string{"ce-id", "e1", "ce-source", "/s", "ce-specversion", "0.3", "ce-type", "t"}, problems: one("specversion", RuleVersion)},
		{name: "binary empty partitionkey", headers: binHeaders("ce-partitionkey", ""), problems: one("extensions.partitionkey", RuleEmpty)},
		{name: "binary invalid JSON body", ct: "application/json", headers: binHeaders(), body: `{"a":`, problems: one("data", RuleJSON)},
		{name: "binary JSON body with a duplicate member", ct: "application/json", headers: binHeaders(),
			body: `{"a":{"b":1,"b":2}}`, problems: one("data.a.b", RuleDuplicateKey)},
		{name: "binary non-JSON body without content type", headers: binHeaders(), body: `hello`, problems: one("data", RuleJSON)},
		{name: "binary malformed content type", ct: "text/", headers: binHeaders(), body: `hello`, problems: one("datacontenttype", RuleFormat)},
	}
}

func TestParseInvalid(t *testing.T) {
	t.Parallel()
	for _, tc := range invalidCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			events, err := Parse(newRequest(tc.ct, []byte(tc.body), tc.headers...), Limits{})
			if events != nil {
				t.Errorf("got events %v alongside an error", events)
			}
			ve := asValidationError(t, err)
			if got := problemKeys(ve.Problems); !reflect.DeepEqual(got, tc.problems) {
				t.Errorf("problems:\n got  %+v\n want %+v\n(%v)", got, tc.problems, err)
			}
		})
	}
}

func TestParseBatchReportsEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := Parse(newRequest(MediaTypeBatch, readFixture(t, "batch_bad.json")), Limits{})
	ve := asValidationError(t, err)
	want := []Problem{
		{Index: 1, ID: "bad-1", Field: "time", Rule: RuleFormat},
		{Index: 1, ID: "bad-1", Field: "source", Rule: RuleRequired},
		{Index: 2, Field: "", Rule: RuleType},
		{Index: 3, ID: "bad-3", Field: "extensions.Bad-Name", Rule: RuleName},
		{Index: 4, ID: "bad-4", Field: "specversion", Rule: RuleVersion},
		{Index: 4, ID: "bad-4", Field: "source", Rule: RuleFormat},
		{Index: 4, ID: "bad-4", Field: "type", Rule: RuleEmpty},
	}
	if got := problemKeys(ve.Problems); !reflect.DeepEqual(got, want) {
		t.Errorf("problems:\n got  %+v\n want %+v", got, want)
	}
	if ve.Omitted != 0 {
		t.Errorf("Omitted = %d, want 0", ve.Omitted)
	}
	if !strings.Contains(ve.Error(), "6 more problems") {
		t.Errorf("Error() = %q, want a count of the other problems", ve.Error())
	}
}

func TestParseProblemCap(t *testing.T) {
	t.Parallel()
	body := "[" + strings.Repeat("{},", 299) + "{}]" // 4 problems each
	_, err := Parse(newRequest(MediaTypeBatch, []byte(body)), Limits{MaxProblems: 10})
	ve := asValidationError(t, err)
	if len(ve.Problems) != 10 || ve.Omitted != 1190 {
		t.Errorf("got %d problems and %d omitted, want 10 and 1190", len(ve.Problems), ve.Omitted)
	}
}

func TestParseJSONErrorPosition(t *testing.T) {
	t.Parallel()
	body := "[\n  " + minimal + ",\n  {\"id\": tru}\n]"
	_, err := Parse(newRequest(MediaTypeBatch, []byte(body)), Limits{})
	ve := asValidationError(t, err)
	if d := ve.Problems[0].Detail; !strings.Contains(d, "line 3") {
		t.Errorf("detail %q does not locate the error on line 3", d)
	}
}

func TestParseUnsupportedMediaType(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, ct, encoding string }{
		{"structured avro", "application/cloudevents+avro", ""},
		{"batch avro", "application/cloudevents-batch+avro", ""},
		{"structured without format", "application/cloudevents", ""},
		{"batch without format", "Application/CloudEvents-Batch", ""},
		{"structured latin-1", "application/cloudevents+json; charset=iso-8859-1", ""},
		{"gzip body", MediaTypeStructured, "gzip"},
		{"gzip binary body", "application/json", "gzip"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRequest(tc.ct, []byte(minimal))
			if tc.encoding != "" {
				r.Header.Set("Content-Encoding", tc.encoding)
			}
			_, err := Parse(r, Limits{})
			if !errors.Is(err, ErrUnsupportedMediaType) {
				t.Fatalf("error = %v, want ErrUnsupportedMediaType", err)
			}
		})
	}
}

func TestParseNonCanonicalHeaderKeys(t *testing.T) {
	t.Parallel()
	r := newRequest("", nil)
	// Go leaves some header names uncanonicalised; set them raw to be sure
	// matching does not rely on canonical form.
	r.Header["ce-id"] = []string{"e1"}
	r.Header["CE-SOURCE"] = []string{"/s"}
	r.Header["Ce-Specversion"] = []string{"1.0"}
	r.Header["ce-type"] = []string{"t"}
	got, err := Parse(r, Limits{})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	checkEvents(t, got, []*Event{minimalEvent()})

	r.Header["ce-Id"] = []string{"e2"}
	_, err = Parse(r, Limits{})
	ve := asValidationError(t, err)
	if want := []Problem{{Index: 0, ID: "", Field: "id", Rule: RuleDuplicate}}; !reflect.DeepEqual(problemKeys(ve.Problems), want) {
		t.Errorf("problems = %+v, want %+v", problemKeys(ve.Problems), want)
	}
}

func TestEventHelpers(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		ev       Event
		isJSON   bool
		bytes    string
		partKey  string
		bytesErr bool
	}{
		{name: "absent content type", ev: Event{Data: json.RawMessage(`{"a":1}`)}, isJSON: true, bytes: `{"a":1}`},
		{name: "json with parameters", ev: Event{DataContentType: "Application/JSON; charset=utf-8"}, isJSON: true},
		{name: "text/json", ev: Event{DataContentType: "text/json"}, isJSON: true},
		{name: "+json suffix", ev: Event{DataContentType: "application/cloudevents+json"}, isJSON: true},
		{name: "bare +json is not a suffix", ev: Event{DataContentType: "application/+json"}, isJSON: false},
		{name: "jsonl is not json", ev: Event{DataContentType: "application/jsonl"}, isJSON: false},
		{name: "text data", ev: Event{DataContentType: "text/plain", Data: json.RawMessage(`"a\nb"`)}, bytes: "a\nb"},
		{name: "binary data", ev: Event{DataContentType: "text/plain", DataBase64: []byte{1, 2}}, bytes: "\x01\x02"},
		{name: "text data that is not a string", ev: Event{DataContentType: "text/plain", Data: json.RawMessage(`1`)}, bytesErr: true},
		{name: "partition key", ev: Event{Extensions: map[string]any{"partitionkey": "k"}}, isJSON: true, partKey: "k"},
		{name: "partition key not a string", ev: Event{Extensions: map[string]any{"partitionkey": 1}}, isJSON: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.ev.DataIsJSON(); got != tc.isJSON {
				t.Errorf("DataIsJSON() = %t, want %t", got, tc.isJSON)
			}
			if got := tc.ev.PartitionKey(); got != tc.partKey {
				t.Errorf("PartitionKey() = %q, want %q", got, tc.partKey)
			}
			b, err := tc.ev.DataBytes()
			if (err != nil) != tc.bytesErr {
				t.Fatalf("DataBytes() error = %v, want error %t", err, tc.bytesErr)
			}
			if string(b) != tc.bytes {
				t.Errorf("DataBytes() = %q, want %q", b, tc.bytes)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	got, err := Parse(newRequest(MediaTypeBatch, []byte("[ "+minimal+" ,\n"+minimal+"]")), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for i, ev := range got {
		if ev.Size != len(minimal) {
			t.Errorf("event %d: Size = %d, want %d", i, ev.Size, len(minimal))
		}
	}
	got, err = Parse(newRequest("text/plain", []byte("hello"), binHeaders()...), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if want := len("hello") + len("e1/s1.0t"); got[0].Size != want {
		t.Errorf("binary Size = %d, want %d", got[0].Size, want)
	}
}

func TestParseTimeKeepsOffset(t *testing.T) {
	t.Parallel()
	got, err := Parse(newRequest(MediaTypeStructured, []byte(with(`"time":"2020-01-02T03:04:05.000000001-07:30"`))), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	tm := got[0].Time
	if _, off := tm.Zone(); off != -(7*3600 + 1800) {
		t.Errorf("offset = %d", off)
	}
	if !tm.Equal(time.Date(2020, 1, 2, 10, 34, 5, 1, time.UTC)) {
		t.Errorf("time = %v", tm)
	}
}
